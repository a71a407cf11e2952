//! `impl Deserializer for &Value`: reading any serde type out of a decoded
//! [`Value`]. JSON-shaped values map as in serde_json; the JavaScript types
//! JSON lacks map to the nearest serde shape (see
//! [`from_value`](super::from_value)), and a field of type `Value` gets the
//! value itself (see [`embed`](super::embed)).
//!
//! Every walk counts the nodes it hands out (see [`budget`](super::budget)):
//! the access types below pay one node for each element, property value, Map
//! key and value, or typed-array element they give to the visitor, whether
//! or not the visitor looks at it, and strings, keys and bytes pay for their
//! copy. `&Value` has no room for a budget, so the walk's budget is the
//! thread's current one: [`from_slice`](super::from_slice) and
//! [`from_value`](super::from_value) install it, and a direct
//! `T::deserialize(&value)` gets the default one. An ignored field
//! (`deserialize_ignored_any`) is not walked at all.

use std::borrow::Cow;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::bigint::BigInt;
use super::budget::{self, copy_cost};
use super::date::iso_string;
use super::embed;
use super::error::Error;
use super::json::MAX_SPARSE_EXPANSION;
use super::key::Key;
use super::number::MAX_SAFE_INTEGER;
use super::receiver::{Element, JsError, Primitive};
use super::string::JsString;
use super::value::Value;

static UNDEFINED: Value = Value::Undefined;

/// A number: integers (within the safe range) as integers, so that integer
/// targets accept doubles such as `2**31`; everything else as `f64`.
fn visit_number<'de, V: Visitor<'de>>(x: f64, visitor: V) -> Result<V::Value, Error> {
    let integral = x.fract() == 0.0
        && x.abs() <= MAX_SAFE_INTEGER as f64
        && !(x == 0.0 && x.is_sign_negative());
    match (integral, x >= 0.0) {
        (true, true) => visitor.visit_u64(x as u64),
        (true, false) => visitor.visit_i64(x as i64),
        (false, _) => visitor.visit_f64(x),
    }
}

fn visit_bigint<'de, V: Visitor<'de>>(b: &BigInt, visitor: V) -> Result<V::Value, Error> {
    if let Some(v) = b.to_u64() {
        visitor.visit_u64(v)
    } else if let Some(v) = b.to_i64() {
        visitor.visit_i64(v)
    } else if let Some(v) = b.to_u128() {
        visitor.visit_u128(v)
    } else if let Some(v) = b.to_i128() {
        visitor.visit_i128(v)
    } else {
        // Beyond 128 bits the decimal form can be long and slow to make.
        Err(Error::Message(format!(
            "BigInt of {} bytes does not fit 128 bits",
            b.digits().len()
        )))
    }
}

fn visit_js_str<'de, V: Visitor<'de>>(s: &'de JsString, visitor: V) -> Result<V::Value, Error> {
    budget::charge(copy_cost(s.storage_len()))?;
    match s.as_str() {
        Some(text) => visitor.visit_borrowed_str(text),
        None => visitor.visit_string(s.to_string_lossy().into_owned()),
    }
}

impl<'de> de::Deserializer<'de> for &'de Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        budget::within(|| walk(self, visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Undefined | Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == embed::TOKEN {
            return embed::lend(self, || visitor.visit_newtype_struct(self));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        budget::within(|| walk_enum(self, name, visitor))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let bytes = match self {
            Value::View(v) => &v.bytes,
            Value::ArrayBuffer(b) => &b.bytes,
            _ => return self.deserialize_any(visitor),
        };
        budget::within(|| {
            budget::charge(copy_cost(bytes.len()))?;
            visitor.visit_borrowed_bytes(bytes)
        })
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    /// Not walked: whatever the value holds, skipping it costs nothing more
    /// than the node its container already paid for.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Date(d) => visit_number(d.time, visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 u8 u16 u32 char str string unit unit_struct seq tuple
        tuple_struct map struct identifier
    }
}

/// `deserialize_any`, inside the walk's budget.
fn walk<'de, V: Visitor<'de>>(value: &'de Value, visitor: V) -> Result<V::Value, Error> {
    match value {
        Value::Undefined | Value::Null => visitor.visit_unit(),
        Value::Bool(b) => visitor.visit_bool(*b),
        Value::Int32(i) => visitor.visit_i32(*i),
        Value::Uint32(u) => visitor.visit_u32(*u),
        Value::Double(x) => visit_number(*x, visitor),
        Value::BigInt(b) => visit_bigint(b, visitor),
        Value::String(s) => visit_js_str(s, visitor),
        Value::Object(o) => visitor.visit_map(Properties {
            iter: o.properties.iter(),
            value: None,
        }),
        Value::Array(a) => {
            let items = a.elements.iter().map(|e| e.as_ref().unwrap_or(&UNDEFINED));
            visitor.visit_seq(Items(items))
        }
        Value::SparseArray(a) => {
            if a.length > MAX_SPARSE_EXPANSION {
                let limit = budget::limit().min(u64::from(MAX_SPARSE_EXPANSION));
                return Err(Error::ExpansionLimit { limit });
            }
            // Finding the elements looks at every property.
            budget::charge(a.properties.len() as u64)?;
            let items = a.elements().map(|e| e.unwrap_or(&UNDEFINED));
            visitor.visit_seq(Items(items))
        }
        Value::Date(d) => match iso_string(d.time) {
            Some(text) => visitor.visit_string(text),
            None => visitor.visit_unit(),
        },
        Value::RegExp(r) => {
            budget::charge(copy_cost(r.source.storage_len()))?;
            visitor.visit_string(format!("/{}/{}", r.source, r.flags_string()))
        }
        Value::Map(m) => visitor.visit_map(Entries {
            iter: m.entries.iter(),
            value: None,
        }),
        Value::Set(s) => visitor.visit_seq(Items(s.values.iter())),
        Value::ArrayBuffer(b) => visitor.visit_seq(Elements(
            b.bytes.iter().map(|&x| Element::Uint(u64::from(x))),
        )),
        Value::View(v) => visitor.visit_seq(Elements(v.elements())),
        Value::Boxed(b) => match &b.value {
            Primitive::Bool(v) => visitor.visit_bool(*v),
            Primitive::Number(x) => visit_number(*x, visitor),
            Primitive::String(s) => visit_js_str(s, visitor),
            Primitive::BigInt(n) => visit_bigint(n, visitor),
        },
        Value::Error(e) => visitor.visit_map(ErrorFields::new(e)),
        Value::Host(h) => walk(&h.value, visitor),
        Value::Ref(_) => Err(Error::Message("cannot deserialize a cyclic value".into())),
    }
}

/// `deserialize_enum`, inside the walk's budget.
fn walk_enum<'de, V: Visitor<'de>>(
    value: &'de Value,
    name: &'static str,
    visitor: V,
) -> Result<V::Value, Error> {
    match value {
        Value::String(s) => {
            budget::charge(copy_cost(s.storage_len()))?;
            match s.as_str() {
                Some(text) => visitor.visit_enum(BorrowedStrDeserializer::<Error>::new(text)),
                None => visitor.visit_enum(StringDeserializer::<Error>::new(
                    s.to_string_lossy().into_owned(),
                )),
            }
        }
        Value::Object(o) if o.properties.len() == 1 => {
            let (key, value) = &o.properties[0];
            budget::charge(1)?;
            visitor.visit_enum(Variant { key, value })
        }
        Value::Host(h) => walk_enum(&h.value, name, visitor),
        other => Err(Error::Message(format!(
            "expected a string or an object with one property for enum {name}, found {}",
            other.type_name()
        ))),
    }
}

/// Values of a sequence (array elements, Set values).
struct Items<I>(I);

impl<'de, I: Iterator<Item = &'de Value>> de::SeqAccess<'de> for Items<I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(v) => {
                budget::charge(1)?;
                seed.deserialize(v).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The exact length, unless it is more than the budget allows (so that
    /// a visitor that reserves room for the hint cannot be made to reserve
    /// room for a sparse array's holes).
    fn size_hint(&self) -> Option<usize> {
        match self.0.size_hint() {
            (lo, Some(hi)) if lo == hi && lo as u64 <= budget::left() => Some(lo),
            _ => None,
        }
    }
}

/// Elements of a typed array or bytes of an ArrayBuffer.
struct Elements<I>(I);

impl<'de, I: Iterator<Item = Element>> de::SeqAccess<'de> for Elements<I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(e) = self.0.next() else {
            return Ok(None);
        };
        budget::charge(1)?;
        match e {
            Element::Int(v) => seed.deserialize(v.into_deserializer()),
            Element::Uint(v) => seed.deserialize(v.into_deserializer()),
            Element::Float(v) => seed.deserialize(v.into_deserializer()),
        }
        .map(Some)
    }
}

/// An object's properties, keyed by property name.
struct Properties<'de, I> {
    iter: I,
    value: Option<&'de Value>,
}

impl<'de, I: Iterator<Item = &'de (Key, Value)>> de::MapAccess<'de> for Properties<'de, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                budget::charge(1)?;
                seed.deserialize(KeyName(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.value.take().unwrap_or(&UNDEFINED))
    }
}

/// A `Map`'s entries, keys deserialized as values.
struct Entries<'de, I> {
    iter: I,
    value: Option<&'de Value>,
}

impl<'de, I: Iterator<Item = &'de (Value, Value)>> de::MapAccess<'de> for Entries<'de, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                budget::charge(2)?;
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.value.take().unwrap_or(&UNDEFINED))
    }
}

/// A property key as a map key: its name, or the integer it spells for
/// integer-keyed maps.
struct KeyName<'de>(&'de Key);

macro_rules! parse_key {
    ($($method:ident => $visit:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let name = self.0.name();
            match name.parse::<$t>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(Error::Message(format!("property {name:?} is not a {}", stringify!($t)))),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KeyName<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Key::String(s) => visit_js_str(s, visitor),
            other => visitor.visit_string(other.name().into_owned()),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(StringDeserializer::<Error>::new(self.0.name().into_owned()))
    }

    parse_key!(
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16, deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64, deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16, deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64, deserialize_u128 => visit_u128: u128
    );

    forward_to_deserialize_any! {
        bool f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// An Error's fields as a map: `name`, then `message`, `stack`, `cause` when
/// present.
struct ErrorFields<'de> {
    fields: std::vec::IntoIter<(&'static str, Field<'de>)>,
    value: Option<Field<'de>>,
}

#[derive(Clone, Copy)]
enum Field<'de> {
    Name(&'static str),
    Text(&'de JsString),
    Value(&'de Value),
}

impl<'de> ErrorFields<'de> {
    fn new(e: &'de JsError) -> Self {
        let mut fields = vec![("name", Field::Name(e.kind.name()))];
        fields.extend(e.message.as_ref().map(|m| ("message", Field::Text(m))));
        fields.extend(e.stack.as_ref().map(|s| ("stack", Field::Text(s))));
        fields.extend(e.cause.as_ref().map(|c| ("cause", Field::Value(c))));
        ErrorFields {
            fields: fields.into_iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for ErrorFields<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.fields.next() {
            Some((name, field)) => {
                self.value = Some(field);
                budget::charge(1)?;
                seed.deserialize(BorrowedStrDeserializer::<Error>::new(name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        match self.value.take() {
            Some(Field::Name(n)) => seed.deserialize(Text(Cow::Borrowed(n))),
            Some(Field::Text(s)) => {
                budget::charge(copy_cost(s.storage_len()))?;
                seed.deserialize(Text(s.to_string_lossy()))
            }
            Some(Field::Value(v)) => seed.deserialize(v),
            None => seed.deserialize(&UNDEFINED),
        }
    }
}

/// A string field that may be read as an `Option`.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserializer<'de> for Text<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// `{variant: value}` read as an enum.
struct Variant<'de> {
    key: &'de Key,
    value: &'de Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = &'de Value;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, &'de Value), Error> {
        Ok((seed.deserialize(KeyName(self.key))?, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for &'de Value {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self {
            Value::Undefined | Value::Null => Ok(()),
            other => Err(Error::Message(format!(
                "expected no data for a unit variant, found {}",
                other.type_name()
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        decode, from_value, from_value_with_budget, Error, ErrorKind, JsError, Key, SparseArray,
        Value, ViewKind, DEFAULT_MAX_EXPANSION,
    };
    use serde::Deserialize;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Deserialize, Debug, PartialEq)]
    struct Request {
        id: u64,
        #[serde(rename = "type")]
        kind: Option<String>,
        data: Value,
    }

    #[test]
    fn struct_with_a_value_field() {
        let shared = Value::object([("n", 21)]);
        let v = Value::object([
            ("id", Value::from(1)),
            ("data", Value::array([shared.clone(), shared])),
        ]);
        let r: Request = from_value(v.clone()).unwrap();
        assert_eq!(r.id, 1);
        assert_eq!(r.kind, None);
        assert_eq!(Some(&r.data), v.get("data"));
        let items = r.data.as_array().unwrap();
        assert!(items.elements[0]
            .as_ref()
            .unwrap()
            .same_object(items.elements[1].as_ref().unwrap()));
    }

    #[test]
    fn javascript_types() {
        let m: HashMap<i32, String> = from_value(Value::map([(1, "a"), (2, "b")])).unwrap();
        assert_eq!(m[&2], "b");
        let s: Vec<f64> = from_value(Value::set([1.5, 2.0])).unwrap();
        assert_eq!(s, [1.5, 2.0]);
        let b: Vec<i16> =
            from_value(Value::typed_array(ViewKind::Int16Array, vec![0xfe, 0xff])).unwrap();
        assert_eq!(b, [-2]);
        let n: u64 = from_value(Value::from(u64::MAX)).unwrap();
        assert_eq!(n, u64::MAX);
        let d: String = from_value(Value::date(0.0)).unwrap();
        assert_eq!(d, "1970-01-01T00:00:00.000Z");
        let ms: f64 = from_value(Value::date(5.0)).unwrap();
        assert_eq!(ms, 5.0);
        let big: u32 = from_value(Value::Double(2147483648.0)).unwrap();
        assert_eq!(big, 1 << 31);
        let keyed: BTreeMap<u32, bool> =
            from_value(Value::object([(Key::Int32(3), true)])).unwrap();
        assert!(keyed[&3]);
    }

    #[test]
    fn errors_as_structs() {
        #[derive(Deserialize)]
        struct ErrInfo {
            name: String,
            message: String,
            stack: Option<String>,
        }
        let mut e = JsError::new(ErrorKind::RangeError, "r");
        e.stack = Some("S".into());
        let info: ErrInfo = from_value(Value::from(e)).unwrap();
        assert_eq!(
            (
                info.name.as_str(),
                info.message.as_str(),
                info.stack.as_deref()
            ),
            ("RangeError", "r", Some("S"))
        );
    }

    #[test]
    fn enums_like_serde_json() {
        #[derive(Deserialize, Debug, PartialEq)]
        enum E {
            A,
            B(u8),
            C { x: i32 },
        }
        assert_eq!(from_value::<E>(Value::from("A")).unwrap(), E::A);
        assert_eq!(from_value::<E>(Value::object([("B", 7)])).unwrap(), E::B(7));
        assert_eq!(
            from_value::<E>(Value::object([("C", Value::object([("x", -1)]))])).unwrap(),
            E::C { x: -1 }
        );
    }

    #[test]
    fn cycles_are_errors() {
        let v = decode(b"\xff\x0fo\"\x01a^\x00{\x01").unwrap();
        assert!(from_value::<serde_json::Value>(v).is_err());
    }

    /// `x = [x, x]`, `levels` times: 2^(levels + 1) - 1 nodes as a tree.
    fn bomb(levels: u32) -> Value {
        let mut x = Value::array(Vec::<Value>::new());
        for _ in 0..levels {
            x = Value::array([x.clone(), x]);
        }
        x
    }

    #[test]
    fn every_path_to_a_shared_object_counts() {
        let shared = Value::array([1, 2, 3]);
        let v = Value::array([shared.clone(), shared]);
        // 2 elements, then 3 in each of them.
        assert!(from_value_with_budget::<Vec<Vec<u8>>>(v.clone(), 8).is_ok());
        assert_eq!(
            from_value_with_budget::<Vec<Vec<u8>>>(v, 7),
            Err(Error::ExpansionLimit { limit: 7 })
        );
        let started = std::time::Instant::now();
        assert_eq!(
            from_value_with_budget::<serde_json::Value>(bomb(40), 100_000),
            Err(Error::ExpansionLimit { limit: 100_000 })
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Long strings count their copies.
        let s = Value::from("x".repeat(3200));
        let v = Value::array([s.clone(), s]);
        assert!(from_value_with_budget::<Vec<String>>(v.clone(), 202).is_ok());
        assert!(from_value_with_budget::<Vec<String>>(v, 201).is_err());
    }

    #[test]
    fn ignored_members_are_not_walked() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Reply {
            id: u64,
        }
        let v = Value::object([("id", Value::from(1)), ("result", bomb(60))]);
        // Two properties: two nodes.
        assert_eq!(
            from_value_with_budget::<Reply>(v.clone(), 2),
            Ok(Reply { id: 1 })
        );
        assert_eq!(from_value::<Reply>(v.clone()), Ok(Reply { id: 1 }));
        // A `Value` field gets the value without expanding it.
        let r: Request = from_value_with_budget(
            Value::object([("id", Value::from(1)), ("data", bomb(60))]),
            3,
        )
        .unwrap();
        assert!(r.data.as_array().is_some());
    }

    #[test]
    fn sparse_arrays_count_their_holes() {
        let sparse = |length| {
            Value::from(SparseArray {
                anchor: None,
                length,
                properties: vec![(Key::Int32(1), Value::from(5))],
            })
        };
        // One property looked at, then three elements.
        let v: Vec<Option<u8>> = from_value_with_budget(sparse(3), 4).unwrap();
        assert_eq!(v, [None, Some(5), None]);
        assert_eq!(
            from_value_with_budget::<Vec<Option<u8>>>(sparse(3), 3),
            Err(Error::ExpansionLimit { limit: 3 })
        );
        let started = std::time::Instant::now();
        assert_eq!(
            from_value::<serde_json::Value>(sparse(u32::MAX)),
            Err(Error::ExpansionLimit {
                limit: DEFAULT_MAX_EXPANSION
            })
        );
        assert_eq!(
            from_value_with_budget::<Vec<Option<u8>>>(sparse(1 << 24), 1000),
            Err(Error::ExpansionLimit { limit: 1000 })
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn direct_deserialize_gets_the_default_budget() {
        use serde::de::{Deserializer, Visitor};
        /// Records the budget left when it is visited.
        struct Left(u64);
        impl<'de> Deserialize<'de> for Left {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Left, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Left;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("anything")
                    }
                    fn visit_i32<E>(self, _: i32) -> Result<Left, E> {
                        Ok(Left(super::budget::left()))
                    }
                }
                d.deserialize_any(V)
            }
        }
        let v = Value::array([1]);
        let direct: Vec<Left> = Vec::deserialize(&v).unwrap();
        assert_eq!(direct[0].0, DEFAULT_MAX_EXPANSION - 1);
        let bounded: Vec<Left> = from_value_with_budget(v, 10).unwrap();
        assert_eq!(bounded[0].0, 9);
        // Outside a walk there is no budget.
        assert_eq!(super::budget::left(), u64::MAX);
    }

    #[test]
    fn huge_bigint_errors_do_not_print_it() {
        let big = Value::from(super::BigInt::from_digits(false, vec![0xff; 1 << 16]));
        let started = std::time::Instant::now();
        let e = from_value::<u64>(big).unwrap_err();
        assert_eq!(
            e,
            Error::Message("BigInt of 65536 bytes does not fit 128 bits".into())
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
