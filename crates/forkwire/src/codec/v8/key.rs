//! [`Key`]: a property key as written on the wire (a string or a number), the
//! JavaScript property name it denotes, and the duplicate check V8 applies
//! when it reads an object (`{1: x, "1": y}` names one property twice, and
//! Node's deserializer rejects it).

use std::borrow::Cow;
use std::collections::HashSet;

use super::number::{f64_array_index, js_number_to_string, parse_array_index, MAX_ARRAY_INDEX};
use super::string::JsString;

/// A property key of an object or array, in its wire form.
///
/// V8 writes array-index keys (0 to 2^32 - 2) as numbers (`I` or, above
/// int32, `N`) and every other key as a string; it reads any string or number
/// and converts it to a property name. Equality is of the wire form (doubles
/// by bits); [`name`](Self::name) gives the JavaScript property name.
///
/// ```
/// use forkwire::codec::v8::Key;
/// assert_eq!(Key::from(1.5).name(), "1.5");
/// assert_eq!(Key::from_name("7"), Key::Int32(7));
/// assert_eq!(Key::from_name("07"), Key::from("07"));
/// ```
#[derive(Debug, Clone)]
pub enum Key {
    /// A string key (`"`, `c` or `S`).
    String(JsString),
    /// An int32 key (`I`).
    Int32(i32),
    /// A uint32 key (`U`; V8 reads but no longer writes it).
    Uint32(u32),
    /// A double key (`N`).
    Double(f64),
}

/// Property identity: two keys are the same property when these are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum PropId<'a> {
    Index(u32),
    Name(Cow<'a, str>),
    Units(Vec<u16>),
}

impl PropId<'_> {
    /// The same identity, owning its text.
    pub(super) fn into_owned(self) -> PropId<'static> {
        match self {
            PropId::Index(i) => PropId::Index(i),
            PropId::Name(n) => PropId::Name(Cow::Owned(n.into_owned())),
            PropId::Units(u) => PropId::Units(u),
        }
    }
}

impl Key {
    /// The key V8 writes for array index `i`: `I` up to 2^31 - 1, `N` above.
    pub fn index(i: u32) -> Key {
        match i32::try_from(i) {
            Ok(v) => Key::Int32(v),
            Err(_) => Key::Double(f64::from(i)),
        }
    }

    /// The key V8 writes for property `name`: a number key when the name is
    /// an array index, a string key otherwise.
    pub fn from_name(name: &str) -> Key {
        match parse_array_index(name) {
            Some(i) => Key::index(i),
            None => Key::String(JsString::from(name)),
        }
    }

    /// The JavaScript property name (lone surrogates become U+FFFD).
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Key::String(s) => s.to_string_lossy(),
            Key::Int32(v) => Cow::Owned(v.to_string()),
            Key::Uint32(v) => Cow::Owned(v.to_string()),
            Key::Double(x) => Cow::Owned(js_number_to_string(*x)),
        }
    }

    /// The array index this key denotes, if any.
    pub fn array_index(&self) -> Option<u32> {
        match self.prop_id() {
            PropId::Index(i) => Some(i),
            _ => None,
        }
    }

    /// Whether this key names the property `name`.
    pub fn is(&self, name: &str) -> bool {
        match self {
            Key::String(s) => s == name,
            _ => self.name() == name,
        }
    }

    pub(super) fn prop_id(&self) -> PropId<'_> {
        match self {
            Key::String(s) => match s.as_str() {
                Some(text) => match parse_array_index(text) {
                    Some(i) => PropId::Index(i),
                    None => PropId::Name(Cow::Borrowed(text)),
                },
                None => PropId::Units(s.code_units().collect()),
            },
            Key::Int32(v) => match u32::try_from(*v) {
                Ok(i) => PropId::Index(i),
                Err(_) => PropId::Name(Cow::Owned(v.to_string())),
            },
            Key::Uint32(v) if *v <= MAX_ARRAY_INDEX => PropId::Index(*v),
            Key::Uint32(v) => PropId::Name(Cow::Owned(v.to_string())),
            Key::Double(x) => match f64_array_index(*x) {
                Some(i) => PropId::Index(i),
                None => PropId::Name(Cow::Owned(js_number_to_string(*x))),
            },
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::String(a), Key::String(b)) => a == b,
            (Key::Int32(a), Key::Int32(b)) => a == b,
            (Key::Uint32(a), Key::Uint32(b)) => a == b,
            (Key::Double(a), Key::Double(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::String(JsString::from(s))
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::String(JsString::from(s))
    }
}

impl From<JsString> for Key {
    fn from(s: JsString) -> Self {
        Key::String(s)
    }
}

impl From<i32> for Key {
    fn from(v: i32) -> Self {
        Key::Int32(v)
    }
}

impl From<u32> for Key {
    fn from(v: u32) -> Self {
        match i32::try_from(v) {
            Ok(i) => Key::Int32(i),
            Err(_) => Key::Double(f64::from(v)),
        }
    }
}

impl From<f64> for Key {
    fn from(x: f64) -> Self {
        Key::Double(x)
    }
}

/// What a container already has besides the keys being checked: arrays own
/// `length`, and a dense array owns the indexes of its non-hole elements.
pub(super) enum Occupied<'a, T> {
    Object,
    SparseArray,
    DenseArray(&'a [Option<T>]),
}

/// The name of the first key that repeats a property (or collides with one
/// the container owns), as V8's reader would reject it.
pub(super) fn duplicate_key<'a, T>(
    keys: impl ExactSizeIterator<Item = &'a Key>,
    occupied: Occupied<'_, T>,
) -> Option<String> {
    let n = keys.len();
    let is_array = !matches!(occupied, Occupied::Object);
    let taken = |id: &PropId<'_>| match (id, &occupied) {
        (PropId::Name(name), _) => is_array && name == "length",
        (PropId::Index(i), Occupied::DenseArray(elements)) => usize::try_from(*i)
            .ok()
            .and_then(|i| elements.get(i))
            .is_some_and(Option::is_some),
        _ => false,
    };
    let describe = |key: &Key| key.name().into_owned();
    if n <= 8 {
        let mut seen: Vec<PropId<'a>> = Vec::with_capacity(n);
        for key in keys {
            let id = key.prop_id();
            if taken(&id) || seen.contains(&id) {
                return Some(describe(key));
            }
            seen.push(id);
        }
    } else {
        let mut seen: HashSet<PropId<'a>> = HashSet::with_capacity(n);
        for key in keys {
            let id = key.prop_id();
            if taken(&id) || !seen.insert(id) {
                return Some(describe(key));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(keys: &[Key]) -> Option<String> {
        duplicate_key::<()>(keys.iter(), Occupied::Object)
    }

    #[test]
    fn same_property_in_other_forms() {
        assert_eq!(dup(&[Key::Int32(1), Key::from("1")]), Some("1".into()));
        assert_eq!(dup(&[Key::Double(-0.0), Key::from("0")]), Some("0".into()));
        assert_eq!(
            dup(&[Key::Double(1.5), Key::from("1.5")]),
            Some("1.5".into())
        );
        assert_eq!(
            dup(&[Key::Uint32(4294967295), Key::from("4294967295")]),
            Some("4294967295".into())
        );
        let two_byte = JsString::from("a").with_form(super::super::StringForm::TwoByte);
        let two_byte = Key::String(two_byte.expect("two-byte form holds any text"));
        assert_eq!(dup(&[Key::from("a"), two_byte]), Some("a".into()));
        assert_eq!(dup(&[Key::from("01"), Key::Int32(1)]), None);
        assert_eq!(dup(&[Key::Int32(-1), Key::from("-1")]), Some("-1".into()));
    }

    #[test]
    fn many_keys_use_the_hashed_path() {
        let mut keys: Vec<Key> = (0..20).map(|i| Key::from(format!("k{i}"))).collect();
        assert_eq!(dup(&keys), None);
        keys.push(Key::from("k3"));
        assert_eq!(dup(&keys), Some("k3".into()));
    }

    #[test]
    fn arrays_own_length_and_elements() {
        let length = [Key::from("length")];
        assert!(duplicate_key::<()>(length.iter(), Occupied::SparseArray).is_some());
        assert!(duplicate_key::<()>(length.iter(), Occupied::Object).is_none());
        let elements = [Some(()), None];
        let k0 = [Key::Int32(0)];
        let k1 = [Key::Int32(1)];
        let k2 = [Key::Int32(2)];
        assert!(duplicate_key(k0.iter(), Occupied::DenseArray(&elements)).is_some());
        assert!(duplicate_key(k1.iter(), Occupied::DenseArray(&elements)).is_none());
        assert!(duplicate_key(k2.iter(), Occupied::DenseArray(&elements)).is_none());
    }

    #[test]
    fn names() {
        assert_eq!(Key::Double(4294967294.0).name(), "4294967294");
        assert_eq!(Key::Double(4294967294.0).array_index(), Some(4294967294));
        assert_eq!(Key::index(2147483648), Key::Double(2147483648.0));
        assert!(Key::Int32(5).is("5"));
        assert!(Key::Double(0.5).is("0.5"));
        assert!(!Key::from("5").is("05"));
    }
}
