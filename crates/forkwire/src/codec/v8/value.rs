//! [`Value`]: everything Node's advanced channel can carry, without loss.
//! Primitives are held inline and keep their wire form (int32 versus double,
//! one-byte versus two-byte strings); objects sit behind `Arc`s so that an
//! object reached twice is one object, and [`Value::Ref`] closes cycles.
//! This file holds the enum, its constructors, conversions and accessors.

use std::sync::Arc;

use super::bigint::BigInt;
use super::error::Error;
use super::key::Key;
use super::number::{Numeric, MAX_SAFE_INTEGER};
use super::receiver::{
    Anchor, Array, ArrayBuffer, ArrayBufferView, Boxed, Date, ErrorKind, HostObject, JsError,
    JsMap, JsSet, Object, RegExp, SparseArray, ViewKind,
};
use super::string::JsString;

/// A JavaScript value as carried by a V8 payload.
///
/// Decoding then encoding gives the same bytes, so a `Value` can be relayed
/// or stored without changing what Node will see: `undefined` and `null`
/// stay apart, numbers keep their wire form ([`Value::Int32`] for V8's small
/// integers, [`Value::Double`] otherwise, so `-0`, NaN and `2.0` written as a
/// double survive), strings keep lone surrogates, and objects keep their
/// identity: the same `Arc` reached twice is written as a back-reference, as
/// V8 does, and [`Value::Ref`] points back at an enclosing object to form a
/// cycle.
///
/// Cloning a `Value` clones a reference, like assigning an object in
/// JavaScript: both copies are the same object when encoded together. Use
/// `Arc::make_mut` on a variant's `Arc` to change an object (which makes a
/// copy first if it is shared).
///
/// `==` is structural and exact: doubles compare by bits, strings by code
/// units and wire form, and objects by the shape of the reference graph (as
/// if comparing their encodings).
///
/// ```
/// use forkwire::codec::v8::{decode, encode, Value};
/// let v = Value::object([("id", Value::from(1)), ("ok", Value::from(true))]);
/// let bytes = encode(&v).unwrap();
/// let back = decode(&bytes).unwrap();
/// assert_eq!(back, v);
/// assert_eq!(back.get("id").and_then(Value::as_f64), Some(1.0));
/// ```
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `undefined` (`_`).
    #[default]
    Undefined,
    /// `null` (`0`).
    Null,
    /// `true` / `false` (`T` / `F`).
    Bool(bool),
    /// A number V8 held as a small integer (`I`, zigzag varint).
    Int32(i32),
    /// A number written as an unsigned varint (`U`; V8 reads but no longer
    /// writes it).
    Uint32(u32),
    /// A number V8 held as a double (`N`), including `-0`, NaN, infinities
    /// and integers that happened to be stored as doubles.
    Double(f64),
    /// A BigInt (`Z`).
    BigInt(BigInt),
    /// A string (`"`, `c` or `S`).
    String(JsString),
    /// A plain object.
    Object(Arc<Object>),
    /// A dense array.
    Array(Arc<Array>),
    /// A sparse array (V8's form for every array with holes).
    SparseArray(Arc<SparseArray>),
    /// A `Date`.
    Date(Arc<Date>),
    /// A `RegExp`.
    RegExp(Arc<RegExp>),
    /// A `Map`.
    Map(Arc<JsMap>),
    /// A `Set`.
    Set(Arc<JsSet>),
    /// An `ArrayBuffer`.
    ArrayBuffer(Arc<ArrayBuffer>),
    /// A typed array, `DataView` or `Buffer`.
    View(Arc<ArrayBufferView>),
    /// A boxed primitive (`new Number(1)`, ...).
    Boxed(Arc<Boxed>),
    /// An `Error` or one of its standard subclasses.
    Error(Arc<JsError>),
    /// A host object other than a view (`\ 01`).
    Host(Arc<HostObject>),
    /// A back-reference to the enclosing object whose `anchor` is this one;
    /// see [`Anchor`].
    Ref(Anchor),
}

impl Value {
    /// A JS number in the form V8 would write it: [`Value::Int32`] for an
    /// integer in int32 range (except `-0`), [`Value::Double`] otherwise.
    pub fn number(x: f64) -> Value {
        Value::from_numeric(Numeric::from_f64(x))
    }

    pub(super) fn from_numeric(n: Numeric) -> Value {
        match n {
            Numeric::Int32(i) => Value::Int32(i),
            Numeric::Double(x) => Value::Double(x),
            Numeric::BigInt(b) => Value::BigInt(b),
        }
    }

    /// A string value.
    pub fn string(s: impl Into<JsString>) -> Value {
        Value::String(s.into())
    }

    /// A plain object with these properties, in this order.
    ///
    /// ```
    /// use forkwire::codec::v8::Value;
    /// let v = Value::object([("a", 1), ("b", 2)]);
    /// assert_eq!(v.get("b").and_then(Value::as_f64), Some(2.0));
    /// ```
    pub fn object<K: Into<Key>, V: Into<Value>>(
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> Value {
        let properties = properties
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Value::Object(Arc::new(Object::new(properties)))
    }

    /// A dense array of these elements.
    pub fn array<V: Into<Value>>(elements: impl IntoIterator<Item = V>) -> Value {
        Value::Array(Arc::new(Array::new(elements.into_iter().map(Into::into))))
    }

    /// A `Map` with these entries.
    pub fn map<K: Into<Value>, V: Into<Value>>(entries: impl IntoIterator<Item = (K, V)>) -> Value {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Value::Map(Arc::new(JsMap {
            anchor: None,
            entries,
        }))
    }

    /// A `Set` with these values.
    pub fn set<V: Into<Value>>(values: impl IntoIterator<Item = V>) -> Value {
        Value::Set(Arc::new(JsSet {
            anchor: None,
            values: values.into_iter().map(Into::into).collect(),
        }))
    }

    /// A `Date` at `time` milliseconds since the epoch.
    pub fn date(time: f64) -> Value {
        Value::Date(Arc::new(Date { anchor: None, time }))
    }

    /// A `RegExp`, e.g. `Value::regexp("ab+c", "gi")`; fails on unknown or
    /// repeated flags.
    pub fn regexp(source: impl Into<JsString>, flags: &str) -> Result<Value, Error> {
        Ok(Value::RegExp(Arc::new(RegExp::new(source, flags)?)))
    }

    /// A Node `Buffer` holding `bytes`.
    pub fn buffer(bytes: impl Into<Vec<u8>>) -> Value {
        Value::typed_array(ViewKind::Buffer, bytes)
    }

    /// A typed array (or `DataView`/`Buffer`) of `kind` over `bytes`.
    pub fn typed_array(kind: ViewKind, bytes: impl Into<Vec<u8>>) -> Value {
        Value::View(Arc::new(ArrayBufferView::new(kind, bytes.into())))
    }

    /// An `ArrayBuffer` holding `bytes`.
    pub fn array_buffer(bytes: impl Into<Vec<u8>>) -> Value {
        Value::ArrayBuffer(Arc::new(ArrayBuffer {
            anchor: None,
            bytes: bytes.into(),
            max_byte_length: None,
        }))
    }

    /// An error of `kind` with `message` (no stack, no cause).
    pub fn error(kind: ErrorKind, message: impl Into<JsString>) -> Value {
        Value::Error(Arc::new(JsError::new(kind, message)))
    }

    /// Whether this is `undefined`.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this is `null` or `undefined`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Null | Value::Undefined)
    }

    /// Whether this is an object (anything but a primitive).
    pub fn is_object(&self) -> bool {
        !matches!(
            self,
            Value::Undefined
                | Value::Null
                | Value::Bool(_)
                | Value::Int32(_)
                | Value::Uint32(_)
                | Value::Double(_)
                | Value::BigInt(_)
                | Value::String(_)
        )
    }

    /// Whether this object can hold other values (so dropping or walking it
    /// may go deep).
    pub(super) fn has_children(&self) -> bool {
        matches!(
            self,
            Value::Object(_)
                | Value::Array(_)
                | Value::SparseArray(_)
                | Value::Map(_)
                | Value::Set(_)
                | Value::Error(_)
                | Value::Host(_)
        )
    }

    /// A short name for the kind of value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int32(_) | Value::Uint32(_) | Value::Double(_) => "number",
            Value::BigInt(_) => "bigint",
            Value::String(_) => "string",
            Value::Object(_) => "object",
            Value::Array(_) | Value::SparseArray(_) => "array",
            Value::Date(_) => "Date",
            Value::RegExp(_) => "RegExp",
            Value::Map(_) => "Map",
            Value::Set(_) => "Set",
            Value::ArrayBuffer(_) => "ArrayBuffer",
            Value::View(v) => v.kind.name(),
            Value::Boxed(_) => "boxed primitive",
            Value::Error(e) => e.kind.name(),
            Value::Host(_) => "host object",
            Value::Ref(_) => "reference",
        }
    }

    /// The property `name` of an object or array (array elements by their
    /// index name, e.g. `"0"`); a host object answers for the object it
    /// carries.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(o) => o.get(name),
            Value::Array(a) => {
                let element = super::number::parse_array_index(name)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| a.get(i));
                element.or_else(|| {
                    a.properties
                        .iter()
                        .rev()
                        .find(|(k, _)| k.is(name))
                        .map(|(_, v)| v)
                })
            }
            Value::SparseArray(a) => a
                .properties
                .iter()
                .rev()
                .find(|(k, _)| k.is(name))
                .map(|(_, v)| v),
            Value::Host(h) => h.value.get(name),
            _ => None,
        }
    }

    /// Element `i` of an array (dense or sparse); `None` for a hole.
    pub fn get_index(&self, i: usize) -> Option<&Value> {
        match self {
            Value::Array(a) => a.get(i),
            Value::SparseArray(a) => u32::try_from(i).ok().and_then(|i| a.get(i)),
            Value::Host(h) => h.value.get_index(i),
            _ => None,
        }
    }

    /// The text of a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => s.as_str(),
            _ => None,
        }
    }

    /// The string, whatever it holds.
    pub fn as_js_string(&self) -> Option<&JsString> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, in any of its wire forms.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int32(i) => Some(f64::from(*i)),
            Value::Uint32(u) => Some(f64::from(*u)),
            Value::Double(x) => Some(*x),
            _ => None,
        }
    }

    /// The value as an `i128`: a number that is a safe integer, or a BigInt
    /// that fits.
    fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Int32(i) => Some(i128::from(*i)),
            Value::Uint32(u) => Some(i128::from(*u)),
            Value::Double(x) if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64 => {
                Some(*x as i128)
            }
            Value::BigInt(b) => b.to_i128(),
            _ => None,
        }
    }

    /// A number that is an integer within ±(2^53 - 1), or a BigInt, that
    /// fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// A number that is a non-negative integer up to 2^53 - 1, or a BigInt,
    /// that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::BigInt(b) => b.to_u64(),
            _ => self.as_i128().and_then(|v| u64::try_from(v).ok()),
        }
    }

    /// The BigInt.
    pub fn as_bigint(&self) -> Option<&BigInt> {
        match self {
            Value::BigInt(b) => Some(b),
            _ => None,
        }
    }

    /// The bytes of a `Buffer`, typed array, `DataView` or `ArrayBuffer`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::View(v) => Some(&v.bytes),
            Value::ArrayBuffer(b) => Some(&b.bytes),
            _ => None,
        }
    }

    /// The plain object (or the one a host object carries).
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            Value::Host(h) => h.value.as_object(),
            _ => None,
        }
    }

    /// The dense array.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The `Map`.
    pub fn as_map(&self) -> Option<&JsMap> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The `Set`.
    pub fn as_set(&self) -> Option<&JsSet> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// A `Date`'s milliseconds since the epoch.
    pub fn as_date(&self) -> Option<f64> {
        match self {
            Value::Date(d) => Some(d.time),
            _ => None,
        }
    }

    /// The error.
    pub fn as_error(&self) -> Option<&JsError> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The address of the object, for identity; `None` for primitives and
    /// references.
    pub(super) fn object_address(&self) -> Option<usize> {
        fn addr<T>(rc: &Arc<T>) -> Option<usize> {
            Some(Arc::as_ptr(rc) as usize)
        }
        match self {
            Value::Object(rc) => addr(rc),
            Value::Array(rc) => addr(rc),
            Value::SparseArray(rc) => addr(rc),
            Value::Date(rc) => addr(rc),
            Value::RegExp(rc) => addr(rc),
            Value::Map(rc) => addr(rc),
            Value::Set(rc) => addr(rc),
            Value::ArrayBuffer(rc) => addr(rc),
            Value::View(rc) => addr(rc),
            Value::Boxed(rc) => addr(rc),
            Value::Error(rc) => addr(rc),
            Value::Host(rc) => addr(rc),
            _ => None,
        }
    }

    /// The anchor of an object, if it has one.
    pub fn anchor(&self) -> Option<Anchor> {
        match self {
            Value::Object(rc) => rc.anchor,
            Value::Array(rc) => rc.anchor,
            Value::SparseArray(rc) => rc.anchor,
            Value::Date(rc) => rc.anchor,
            Value::RegExp(rc) => rc.anchor,
            Value::Map(rc) => rc.anchor,
            Value::Set(rc) => rc.anchor,
            Value::ArrayBuffer(rc) => rc.anchor,
            Value::View(rc) => rc.anchor,
            Value::Boxed(rc) => rc.anchor,
            Value::Error(rc) => rc.anchor,
            Value::Host(rc) => rc.anchor,
            _ => None,
        }
    }

    /// Whether more than one `Value` holds this object, so it may be met
    /// again while walking.
    pub(super) fn is_shared(&self) -> bool {
        fn shared<T>(rc: &Arc<T>) -> bool {
            Arc::strong_count(rc) > 1
        }
        match self {
            Value::Object(rc) => shared(rc),
            Value::Array(rc) => shared(rc),
            Value::SparseArray(rc) => shared(rc),
            Value::Date(rc) => shared(rc),
            Value::RegExp(rc) => shared(rc),
            Value::Map(rc) => shared(rc),
            Value::Set(rc) => shared(rc),
            Value::ArrayBuffer(rc) => shared(rc),
            Value::View(rc) => shared(rc),
            Value::Boxed(rc) => shared(rc),
            Value::Error(rc) => shared(rc),
            Value::Host(rc) => shared(rc),
            _ => false,
        }
    }

    /// Whether both are the same object (not merely equal ones).
    pub fn same_object(&self, other: &Value) -> bool {
        match (self.object_address(), other.object_address()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

macro_rules! from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int32(i32::from(v))
            }
        }
    )*};
}
from_small_int!(i8, i16, i32, u8, u16);

macro_rules! from_wide_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            /// A number when it is a safe integer, a BigInt beyond that.
            fn from(v: $t) -> Self {
                Value::from_numeric(Numeric::from_i128(v as i128))
            }
        }
    )*};
}
from_wide_int!(u32, i64, isize);

macro_rules! from_unsigned_wide {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            /// A number when it is a safe integer, a BigInt beyond that.
            fn from(v: $t) -> Self {
                Value::from_numeric(Numeric::from_u128(v as u128))
            }
        }
    )*};
}
from_unsigned_wide!(u64, usize, u128);

impl From<i128> for Value {
    /// A number when it is a safe integer, a BigInt beyond that.
    fn from(v: i128) -> Self {
        Value::from_numeric(Numeric::from_i128(v))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::number(x)
    }
}

impl From<f32> for Value {
    fn from(x: f32) -> Self {
        Value::number(f64::from(x))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(JsString::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(JsString::from(s))
    }
}

impl From<char> for Value {
    fn from(c: char) -> Self {
        Value::String(JsString::from(c))
    }
}

impl From<JsString> for Value {
    fn from(s: JsString) -> Self {
        Value::String(s)
    }
}

impl From<BigInt> for Value {
    fn from(b: BigInt) -> Self {
        Value::BigInt(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is `null`.
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    /// A dense array.
    fn from(v: Vec<T>) -> Self {
        Value::array(v)
    }
}

macro_rules! from_receiver {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(Arc::new(v))
            }
        }
    )*};
}
from_receiver!(
    Object => Object, Array => Array, SparseArray => SparseArray, Date => Date, RegExp => RegExp,
    JsMap => Map, JsSet => Set, ArrayBuffer => ArrayBuffer, ArrayBufferView => View,
    Boxed => Boxed, JsError => Error, HostObject => Host
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_pick_the_js_form() {
        assert!(matches!(Value::from(5u64), Value::Int32(5)));
        assert!(matches!(Value::from(1u64 << 40), Value::Double(_)));
        assert!(matches!(Value::from(u64::MAX), Value::BigInt(_)));
        assert!(matches!(Value::from(-(1i64 << 53)), Value::BigInt(_)));
        assert!(matches!(Value::from(2.0), Value::Int32(2)));
        assert!(matches!(Value::from(-0.0), Value::Double(_)));
    }

    #[test]
    fn accessors() {
        let v = Value::object([("n", Value::from(1u64 << 40)), ("s", Value::from("x"))]);
        assert_eq!(v.get("n").and_then(Value::as_u64), Some(1 << 40));
        assert_eq!(v.get("s").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("missing"), None);
        assert_eq!(Value::Double(1.5).as_i64(), None);
        assert_eq!(Value::from(u64::MAX).as_u64(), Some(u64::MAX));
        let a = Value::array([10, 20]);
        assert_eq!(a.get("1").and_then(Value::as_f64), Some(20.0));
        assert_eq!(a.get_index(0).and_then(Value::as_f64), Some(10.0));
        assert_eq!(Value::buffer(vec![1, 2]).as_bytes(), Some(&[1u8, 2][..]));
    }

    #[test]
    fn identity() {
        let o = Value::object([("x", 1)]);
        let same = o.clone();
        let other = Value::object([("x", 1)]);
        assert!(o.same_object(&same));
        assert!(!o.same_object(&other));
        assert_eq!(o, other);
    }

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
        check::<Value>();
    }
}
