//! [`Value`] and JSON: `Value::to_json` and `impl Serialize for Value` give
//! what `JSON.stringify` would produce for the value, and
//! `From<serde_json::Value>` / `impl Deserialize for Value` build the value
//! `JSON.parse` would (numbers in V8's form, index keys first).
//!
//! `JSON.stringify` rules applied: `undefined` properties are dropped and
//! `undefined` or holes in arrays become `null`; NaN and ±Infinity become
//! `null` and -0 becomes `0`; a `Date` becomes its ISO string (`null` when
//! invalid); a `Buffer` becomes `{"type":"Buffer","data":[...]}` and other
//! typed arrays index-keyed objects; `Map`, `Set`, `RegExp`, `Error`,
//! `ArrayBuffer` and `DataView` become `{}`; boxed primitives unwrap. Where
//! `JSON.stringify` would throw, this differs: a BigInt becomes its decimal
//! string, and a cycle is a `Serialize` error (`null` in `to_json`). Lone
//! surrogates become U+FFFD, and object keys are ordered as
//! `serde_json::Map` orders them (sorted, unless serde_json's
//! `preserve_order` feature is on).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};

use super::date::iso_string;
use super::embed;
use super::number::MAX_SAFE_INTEGER;
use super::receiver::{Element, Object, Primitive, ViewKind};
use super::value::Value;

/// Longest sparse array expanded element by element (JSON writes every
/// index up to `length`; a payload of a few bytes can declare 2^32 - 1).
pub(super) const MAX_SPARSE_EXPANSION: u32 = 1 << 24;

/// The JSON view of a value.
struct Json<'a> {
    value: &'a Value,
    /// Write `null` for a cycle instead of failing.
    lossy: bool,
}

impl<'a> Json<'a> {
    fn child(&self, value: &'a Value) -> Json<'a> {
        Json {
            value,
            lossy: self.lossy,
        }
    }
}

fn number<S: Serializer>(s: S, x: f64) -> Result<S::Ok, S::Error> {
    if !x.is_finite() {
        s.serialize_unit()
    } else if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64 {
        s.serialize_i64(x as i64)
    } else {
        s.serialize_f64(x)
    }
}

fn empty_object<S: Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_map(Some(0))?.end()
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Undefined | Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int32(i) => s.serialize_i32(*i),
            Value::Uint32(u) => s.serialize_u32(*u),
            Value::Double(x) => number(s, *x),
            Value::BigInt(b) => s.collect_str(b),
            Value::String(js) => s.serialize_str(&js.to_string_lossy()),
            Value::Object(o) => {
                let shown = o.properties.iter().filter(|(_, v)| !v.is_undefined());
                let mut map = s.serialize_map(None)?;
                for (k, v) in shown {
                    map.serialize_entry(&k.name(), &self.child(v))?;
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.elements.len()))?;
                for element in &a.elements {
                    match element {
                        Some(v) => seq.serialize_element(&self.child(v))?,
                        None => seq.serialize_element(&())?,
                    }
                }
                seq.end()
            }
            Value::SparseArray(a) => {
                if a.length > MAX_SPARSE_EXPANSION {
                    return if self.lossy {
                        s.serialize_unit()
                    } else {
                        Err(ser::Error::custom(format!(
                            "sparse array of length {} is too long for JSON",
                            a.length
                        )))
                    };
                }
                let mut seq = s.serialize_seq(Some(a.length as usize))?;
                for element in a.elements() {
                    match element {
                        Some(v) => seq.serialize_element(&self.child(v))?,
                        None => seq.serialize_element(&())?,
                    }
                }
                seq.end()
            }
            Value::Date(d) => match iso_string(d.time) {
                Some(text) => s.serialize_str(&text),
                None => s.serialize_unit(),
            },
            Value::RegExp(_)
            | Value::Map(_)
            | Value::Set(_)
            | Value::Error(_)
            | Value::ArrayBuffer(_) => empty_object(s),
            Value::View(v) => match v.kind {
                ViewKind::Buffer => {
                    let mut map = s.serialize_map(Some(2))?;
                    map.serialize_entry("type", "Buffer")?;
                    map.serialize_entry("data", &v.bytes)?;
                    map.end()
                }
                ViewKind::DataView => empty_object(s),
                _ => {
                    let mut map = s.serialize_map(None)?;
                    for (i, e) in v.elements().enumerate() {
                        map.serialize_key(&i.to_string())?;
                        match e {
                            Element::Int(n) if v.kind == ViewKind::BigInt64Array => {
                                map.serialize_value(&n.to_string())?
                            }
                            Element::Uint(n) if v.kind == ViewKind::BigUint64Array => {
                                map.serialize_value(&n.to_string())?
                            }
                            Element::Int(n) => map.serialize_value(&n)?,
                            Element::Uint(n) => map.serialize_value(&n)?,
                            Element::Float(x) => {
                                map.serialize_value(&Value::number(x).to_json())?
                            }
                        }
                    }
                    map.end()
                }
            },
            Value::Boxed(b) => match &b.value {
                Primitive::Bool(v) => s.serialize_bool(*v),
                Primitive::Number(x) => number(s, *x),
                Primitive::String(js) => s.serialize_str(&js.to_string_lossy()),
                Primitive::BigInt(n) => s.collect_str(n),
            },
            Value::Host(h) => self.child(&h.value).serialize(s),
            Value::Ref(_) if self.lossy => s.serialize_unit(),
            Value::Ref(_) => Err(ser::Error::custom("cannot write a cyclic value as JSON")),
        }
    }
}

impl Value {
    /// What `JSON.stringify` would make of this value, as a
    /// `serde_json::Value`.
    ///
    /// `undefined` properties are dropped and `undefined` or holes in arrays
    /// become `null`; NaN and ±Infinity become `null` and -0 becomes `0`; a
    /// `Date` becomes its ISO string (`null` when invalid); a `Buffer`
    /// becomes `{"type":"Buffer","data":[...]}` and other typed arrays
    /// index-keyed objects; `Map`, `Set`, `RegExp`, `Error`, `ArrayBuffer`
    /// and `DataView` become `{}`; boxed primitives unwrap. Where
    /// `JSON.stringify` would throw this does not: a BigInt becomes its
    /// decimal string and a cycle `null`. Lone surrogates become U+FFFD, and
    /// keys are ordered as `serde_json::Map` orders them (sorted, unless
    /// serde_json's `preserve_order` feature is on). The `Serialize` impl
    /// gives the same JSON, but fails on a cycle.
    ///
    /// ```
    /// use forkwire::codec::v8::Value;
    /// let v = Value::object([("a", Value::Undefined), ("b", Value::Double(f64::NAN)), ("c", Value::date(0.0))]);
    /// assert_eq!(v.to_json(), serde_json::json!({"b": null, "c": "1970-01-01T00:00:00.000Z"}));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Json {
            value: self,
            lossy: true,
        })
        .unwrap_or(serde_json::Value::Null)
    }
}

impl Serialize for Value {
    /// Any serde format sees what `JSON.stringify` would write (a cycle is
    /// an error); this codec's own serializer ([`to_vec`](super::to_vec))
    /// writes the value unchanged instead.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        embed::lend(self, || {
            s.serialize_newtype_struct(
                embed::TOKEN,
                &Json {
                    value: self,
                    lossy: false,
                },
            )
        })
    }
}

impl From<serde_json::Value> for Value {
    /// The value `JSON.parse` would build: numbers are doubles (int32 form
    /// when V8 would use it), objects order index keys first.
    fn from(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::from(s),
            serde_json::Value::Array(items) => Value::array(items),
            serde_json::Value::Object(map) => Value::from(Object::from_entries(
                map.into_iter().map(|(k, v)| (k, Value::from(v))),
            )),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::buffer(v))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::buffer(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match embed::take() {
            Some(v) => Ok(v),
            None => d.deserialize_any(ValueVisitor),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            entries.push((k, v));
        }
        Ok(Value::from(Object::from_entries(entries)))
    }
}

impl<'de> Deserialize<'de> for Value {
    /// From this codec ([`from_value`](super::from_value),
    /// [`from_slice`](super::from_slice)) the value arrives unchanged; from
    /// other formats it is built as `JSON.parse` would, except that integers
    /// beyond ±(2^53 - 1) become BigInts and bytes become a `Buffer`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_newtype_struct(embed::TOKEN, ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stringify_rules() {
        let v = Value::object([
            ("u", Value::Undefined),
            ("z", Value::Double(-0.0)),
            ("i", Value::Double(3.0)),
            ("x", Value::Double(1.5)),
            ("big", Value::from(u64::MAX)),
            (
                "arr",
                Value::array([Value::Undefined, Value::Double(f64::INFINITY)]),
            ),
            ("buf", Value::buffer(vec![1, 2])),
            (
                "ta",
                Value::typed_array(ViewKind::Int16Array, vec![0xff, 0xff]),
            ),
            ("m", Value::map([(1, 2)])),
            ("e", Value::error(super::super::ErrorKind::TypeError, "t")),
        ]);
        assert_eq!(
            v.to_json(),
            json!({
                "z": 0, "i": 3, "x": 1.5, "big": "18446744073709551615", "arr": [null, null],
                "buf": {"type": "Buffer", "data": [1, 2]}, "ta": {"0": -1}, "m": {}, "e": {}
            })
        );
    }

    #[test]
    fn from_json_is_json_parse() {
        let v = Value::from(
            json!({"b": 1, "a": [1.0, 2.5, 1e300], "2": null, "big": 12345678901234567890u64}),
        );
        assert_eq!(
            v.get("a")
                .and_then(|a| a.get_index(0))
                .map(|x| matches!(x, Value::Int32(1))),
            Some(true)
        );
        assert!(matches!(v.get("big"), Some(Value::Double(_))));
        let o = v.as_object().unwrap();
        assert_eq!(o.properties[0].0, super::super::Key::Int32(2));
        let back = v.to_json();
        assert_eq!(back["a"], json!([1, 2.5, 1e300]));
    }

    #[test]
    fn serialize_refuses_cycles() {
        let a = super::super::Anchor::new();
        let mut o = Object::new(vec![("me".into(), Value::Ref(a))]);
        o.anchor = Some(a);
        let v = Value::from(o);
        assert!(serde_json::to_string(&v).is_err());
        assert_eq!(v.to_json(), json!({"me": null}));
    }

    #[test]
    fn deserialize_from_json_text() {
        let v: Value =
            serde_json::from_str(r#"{"x": [1, "two", null], "n": 9007199254740993}"#).unwrap();
        assert!(matches!(v.get("n"), Some(Value::BigInt(_))));
        assert_eq!(
            v.get("x")
                .and_then(|x| x.get_index(1))
                .and_then(Value::as_str),
            Some("two")
        );
    }
}
