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
//! string, and a cycle is a `Serialize` error (`null` in `to_json` and
//! `try_to_json`). Lone surrogates become U+FFFD, and object keys are
//! ordered as `serde_json::Map` orders them (sorted, unless serde_json's
//! `preserve_order` feature is on).
//!
//! JSON is a tree, so an object shared by several paths is written once per
//! path, and every hole of a sparse array is written. Each walk has an
//! expansion budget (see [`budget`](super::budget)): the size of the tree is
//! counted first, each shared object once, and a value past the budget is
//! refused before anything is built (`try_to_json` and `Serialize` fail with
//! [`Error::ExpansionLimit`], `to_json` gives `null`); the walk also charges
//! the budget as it writes, so it stays bounded on its own.

use std::collections::HashMap;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};

use super::budget::{bigint_decimal_cost, copy_cost, Budget};
use super::date::iso_string;
use super::embed;
use super::error::Error;
use super::number::MAX_SAFE_INTEGER;
use super::receiver::{Element, Object, Primitive, ViewKind};
use super::value::Value;

/// Longest sparse array expanded element by element (JSON writes every
/// index up to `length`; a payload of a few bytes can declare 2^32 - 1).
pub(super) const MAX_SPARSE_EXPANSION: u32 = 1 << 24;

/// Which walk: what it does with a cycle and with a sparse array too long to
/// expand.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `to_json`: `null` for both.
    ToJson,
    /// `try_to_json`: `null` for a cycle, [`Error::ExpansionLimit`] for the
    /// sparse array.
    TryToJson,
    /// `Serialize`: an error for both.
    Serialize,
}

/// The JSON view of a value.
struct Json<'a> {
    value: &'a Value,
    mode: Mode,
    /// Nodes left to write; shared by the whole walk.
    budget: &'a Budget,
}

impl<'a> Json<'a> {
    /// The view of a child. Its node was paid for by its container.
    fn child(&self, value: &'a Value) -> Json<'a> {
        Json {
            value,
            mode: self.mode,
            budget: self.budget,
        }
    }

    /// Spends `n` nodes, or fails with the budget's error as `S::Error`.
    fn charge<E: ser::Error>(&self, n: u64) -> Result<(), E> {
        self.budget
            .charge(n)
            .map_err(|e| ser::Error::custom(e.to_string()))
    }
}

/// A number as `JSON.stringify` writes it.
struct Number(f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        number(s, self.0)
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

/// Every node is paid for once, before anything is allocated for it: the
/// root by the caller, and each child (element, hole, property, typed-array
/// element, Buffer byte) by its container, all at once when the container is
/// reached, so that a long array fails before `serialize_seq` reserves room
/// for it. Strings and keys add their copy cost. [`json_size`] computes the
/// same sum up front, so a value past the budget is refused before the walk
/// starts; the charges here keep the walk bounded on their own.
impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Undefined | Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int32(i) => s.serialize_i32(*i),
            Value::Uint32(u) => s.serialize_u32(*u),
            Value::Double(x) => number(s, *x),
            Value::BigInt(b) => {
                self.charge(bigint_decimal_cost(b.digits().len()))?;
                s.collect_str(b)
            }
            Value::String(js) => {
                self.charge(copy_cost(js.storage_len()))?;
                s.serialize_str(&js.to_string_lossy())
            }
            Value::Object(o) => {
                self.charge(o.properties.len() as u64)?;
                let shown = o.properties.iter().filter(|(_, v)| !v.is_undefined());
                let mut map = s.serialize_map(None)?;
                for (k, v) in shown {
                    let name = k.name();
                    self.charge(copy_cost(name.len()))?;
                    map.serialize_entry(&name, &self.child(v))?;
                }
                map.end()
            }
            Value::Array(a) => {
                self.charge(a.elements.len() as u64)?;
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
                    if self.mode == Mode::ToJson {
                        return s.serialize_unit();
                    }
                    let cap = u64::from(MAX_SPARSE_EXPANSION);
                    let e = self.budget.fail(self.budget.limit().min(cap));
                    return Err(ser::Error::custom(e.to_string()));
                }
                self.charge(u64::from(a.length).saturating_add(a.properties.len() as u64))?;
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
                    self.charge(v.bytes.len() as u64)?;
                    let mut map = s.serialize_map(Some(2))?;
                    map.serialize_entry("type", "Buffer")?;
                    map.serialize_entry("data", &v.bytes)?;
                    map.end()
                }
                ViewKind::DataView => empty_object(s),
                _ => {
                    self.charge((v.bytes.len() / v.kind.element_size()) as u64)?;
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
                            Element::Float(x) => map.serialize_value(&Number(x))?,
                        }
                    }
                    map.end()
                }
            },
            Value::Boxed(b) => match &b.value {
                Primitive::Bool(v) => s.serialize_bool(*v),
                Primitive::Number(x) => number(s, *x),
                Primitive::String(js) => {
                    self.charge(copy_cost(js.storage_len()))?;
                    s.serialize_str(&js.to_string_lossy())
                }
                Primitive::BigInt(n) => {
                    self.charge(bigint_decimal_cost(n.digits().len()))?;
                    s.collect_str(n)
                }
            },
            Value::Host(h) => {
                self.charge(1)?;
                self.child(&h.value).serialize(s)
            }
            Value::Ref(_) if self.mode != Mode::Serialize => s.serialize_unit(),
            Value::Ref(_) => Err(ser::Error::custom("cannot write a cyclic value as JSON")),
        }
    }
}

/// The nodes the JSON walk charges below `v` (its own node is charged by its
/// container): the same sum as the walk, computed without expanding shared
/// objects, which are counted once and remembered by address. The sum
/// saturates.
fn json_size(v: &Value, memo: &mut HashMap<usize, u64>) -> u64 {
    let key = (v.has_children() && v.is_shared())
        .then(|| v.object_address())
        .flatten();
    if let Some(n) = key.and_then(|k| memo.get(&k)) {
        return *n;
    }
    let n = match v {
        Value::BigInt(b) => bigint_decimal_cost(b.digits().len()),
        Value::String(js) => copy_cost(js.storage_len()),
        Value::Object(o) => o.properties.iter().filter(|(_, v)| !v.is_undefined()).fold(
            o.properties.len() as u64,
            |n, (k, v)| {
                n.saturating_add(copy_cost(k.name().len()))
                    .saturating_add(json_size(v, memo))
            },
        ),
        Value::Array(a) => a
            .elements
            .iter()
            .flatten()
            .fold(a.elements.len() as u64, |n, v| {
                n.saturating_add(json_size(v, memo))
            }),
        Value::SparseArray(a) if a.length > MAX_SPARSE_EXPANSION => 0,
        Value::SparseArray(a) => {
            // The elements `SparseArray::elements` yields: the last property
            // for each index below the length.
            let present: HashMap<u32, &Value> = a
                .properties
                .iter()
                .filter_map(|(k, v)| Some((k.array_index()?, v)))
                .filter(|(i, _)| *i < a.length)
                .collect();
            let own = u64::from(a.length) + a.properties.len() as u64;
            present
                .values()
                .fold(own, |n, v| n.saturating_add(json_size(v, memo)))
        }
        Value::View(v) => match v.kind {
            ViewKind::Buffer => v.bytes.len() as u64,
            ViewKind::DataView => 0,
            kind => (v.bytes.len() / kind.element_size()) as u64,
        },
        Value::Boxed(b) => match &b.value {
            Primitive::String(js) => copy_cost(js.storage_len()),
            Primitive::BigInt(n) => bigint_decimal_cost(n.digits().len()),
            Primitive::Bool(_) | Primitive::Number(_) => 0,
        },
        Value::Host(h) => json_size(&h.value, memo).saturating_add(1),
        _ => 0,
    };
    if let Some(k) = key {
        memo.insert(k, n);
    }
    n
}

/// Fails unless the JSON walk of `v` fits `budget`: a value that cannot fit
/// is refused before anything is written.
fn check_size(v: &Value, budget: &Budget) -> Result<(), Error> {
    let size = json_size(v, &mut HashMap::new()).saturating_add(1);
    if size > budget.limit() {
        return Err(budget.error());
    }
    Ok(())
}

/// The JSON view of a whole value: refused at once if it cannot fit its
/// budget. (Only serializers other than this codec's get here; this codec's
/// takes the lent value and writes it without expanding anything.)
struct Checked<'a>(Json<'a>);

impl Serialize for Checked<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Json { value, budget, .. } = self.0;
        check_size(value, budget).map_err(|e| ser::Error::custom(e.to_string()))?;
        budget
            .charge(1)
            .map_err(|e| ser::Error::custom(e.to_string()))?;
        self.0.serialize(s)
    }
}

impl Value {
    /// The JSON walk into a `serde_json::Value` with `budget`, paying for
    /// the root node first.
    fn json_with(&self, mode: Mode, budget: &Budget) -> Result<serde_json::Value, Error> {
        check_size(self, budget)?;
        budget.charge(1)?;
        let view = Json {
            value: self,
            mode,
            budget,
        };
        serde_json::to_value(view).map_err(|e| {
            if budget.exhausted() {
                budget.error()
            } else {
                Error::Message(e.to_string())
            }
        })
    }

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
    /// A value whose JSON tree would have more than
    /// [`DEFAULT_MAX_EXPANSION`](super::DEFAULT_MAX_EXPANSION) nodes (an
    /// object reached through many paths of shared references, or long
    /// sparse arrays; see [`Limits::max_expansion`](super::Limits::max_expansion)
    /// for what counts) gives `null` as a whole, rather than a tree silently
    /// cut short. Such a value is recognised before anything is built, by
    /// counting each shared object once. [`try_to_json`](Value::try_to_json)
    /// tells this apart from a value that is `null`. A single sparse array
    /// longer than 2^24 becomes `null` in place, as before.
    ///
    /// ```
    /// use forkwire::codec::v8::Value;
    /// let v = Value::object([("a", Value::Undefined), ("b", Value::Double(f64::NAN)), ("c", Value::date(0.0))]);
    /// assert_eq!(v.to_json(), serde_json::json!({"b": null, "c": "1970-01-01T00:00:00.000Z"}));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        let budget = Budget::new(super::DEFAULT_MAX_EXPANSION);
        self.json_with(Mode::ToJson, &budget)
            .unwrap_or(serde_json::Value::Null)
    }

    /// [`to_json`](Value::to_json), but a value that expands past
    /// [`DEFAULT_MAX_EXPANSION`](super::DEFAULT_MAX_EXPANSION) nodes, or
    /// holds a sparse array longer than 2^24, is an [`Error::ExpansionLimit`]
    /// (cycles still become `null`).
    ///
    /// ```
    /// use forkwire::codec::v8::{Error, Value};
    /// let mut x = Value::array(Vec::<Value>::new());
    /// for _ in 0..40 {
    ///     x = Value::array([x.clone(), x]); // 2^41 - 1 nodes as a tree
    /// }
    /// assert!(matches!(x.try_to_json(), Err(Error::ExpansionLimit { .. })));
    /// assert_eq!(x.to_json(), serde_json::Value::Null);
    /// ```
    pub fn try_to_json(&self) -> Result<serde_json::Value, Error> {
        self.try_to_json_with(super::DEFAULT_MAX_EXPANSION)
    }

    /// [`try_to_json`](Value::try_to_json) with a budget of `max_nodes`
    /// nodes (see [`Limits::max_expansion`](super::Limits::max_expansion)
    /// for what counts).
    ///
    /// ```
    /// use forkwire::codec::v8::{Error, Value};
    /// let v = Value::array([1, 2, 3]);
    /// assert_eq!(v.try_to_json_with(4).unwrap(), serde_json::json!([1, 2, 3]));
    /// assert_eq!(v.try_to_json_with(3), Err(Error::ExpansionLimit { limit: 3 }));
    /// ```
    pub fn try_to_json_with(&self, max_nodes: u64) -> Result<serde_json::Value, Error> {
        self.json_with(Mode::TryToJson, &Budget::new(max_nodes))
    }
}

impl Serialize for Value {
    /// Any serde format sees what `JSON.stringify` would write (a cycle is
    /// an error); this codec's own serializer ([`to_vec`](super::to_vec))
    /// writes the value unchanged instead.
    ///
    /// The JSON view is bounded like [`try_to_json`](Value::try_to_json):
    /// past [`DEFAULT_MAX_EXPANSION`](super::DEFAULT_MAX_EXPANSION) nodes it
    /// fails, before writing anything, with the message of
    /// [`Error::ExpansionLimit`].
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let budget = Budget::new(super::DEFAULT_MAX_EXPANSION);
        let view = Json {
            value: self,
            mode: Mode::Serialize,
            budget: &budget,
        };
        embed::lend(self, || {
            s.serialize_newtype_struct(embed::TOKEN, &Checked(view))
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

    /// `x = [x, x]`, `levels` times: 2^(levels + 1) - 1 nodes as a tree.
    fn bomb(levels: u32) -> Value {
        let mut x = Value::array(Vec::<Value>::new());
        for _ in 0..levels {
            x = Value::array([x.clone(), x]);
        }
        x
    }

    fn sparse(length: u32, properties: Vec<(super::super::Key, Value)>) -> Value {
        Value::from(super::super::SparseArray {
            anchor: None,
            length,
            properties,
        })
    }

    #[test]
    fn size_counted_up_front_is_what_the_walk_charges() {
        use super::super::{BigInt, HostObject, Key};
        let shared = Value::object([
            ("s", Value::from("x".repeat(100))),
            ("u", Value::Undefined),
            ("k".repeat(70).as_str(), Value::from(1)),
        ]);
        let mut holes = super::super::Array::new([Value::from(1), Value::from(2)]);
        holes.elements.push(None);
        let values = [
            Value::from(1),
            Value::from("short"),
            bomb(5),
            Value::array([shared.clone(), shared.clone(), shared]),
            Value::from(holes),
            sparse(
                10,
                vec![
                    (Key::Int32(3), Value::from("a")),
                    (Key::from("p"), Value::from(true)),
                    (Key::Int32(40), Value::from(1)),
                ],
            ),
            Value::buffer(vec![1; 40]),
            Value::typed_array(ViewKind::Float64Array, vec![0; 24]),
            Value::typed_array(ViewKind::DataView, vec![0; 24]),
            Value::from(HostObject {
                anchor: None,
                value: Value::object([("h", 1)]),
            }),
            Value::from(BigInt::from_digits(false, vec![7; 100])),
            Value::object([("big", sparse(u32::MAX, vec![]))]),
        ];
        for v in &values {
            let size = json_size(v, &mut HashMap::new()) + 1;
            let budget = Budget::new(1 << 20);
            v.json_with(Mode::ToJson, &budget).unwrap();
            assert_eq!((1 << 20) - budget.left(), size, "{v:?}");
            // (The long sparse array is an error in try_to_json anyway.)
            if v.get("big").is_none() {
                assert!(v.try_to_json_with(size).is_ok(), "{v:?}");
                assert_eq!(
                    v.try_to_json_with(size - 1),
                    Err(Error::ExpansionLimit { limit: size - 1 })
                );
            }
        }
        // 63 nodes: each level's array and its two elements.
        assert_eq!(json_size(&bomb(5), &mut HashMap::new()) + 1, 63);
    }

    #[test]
    fn shared_references_are_refused_before_expanding() {
        let x = bomb(40);
        let started = std::time::Instant::now();
        assert_eq!(
            x.try_to_json(),
            Err(Error::ExpansionLimit {
                limit: super::super::DEFAULT_MAX_EXPANSION
            })
        );
        assert_eq!(x.to_json(), json!(null));
        let e = serde_json::to_string(&x).unwrap_err();
        assert!(e.to_string().contains("expands past 16777216 nodes"), "{e}");
        // Inside another value, the whole value is null.
        assert_eq!(Value::object([("x", x)]).to_json(), json!(null));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Sixteen levels (2^17 - 1 nodes) are within the default budget.
        let j = bomb(16).to_json();
        let mut leaf = &j;
        for _ in 0..16 {
            assert_eq!(leaf.as_array().map(Vec::len), Some(2));
            leaf = &leaf[1];
        }
        assert_eq!(leaf, &json!([]));
    }

    #[test]
    fn long_sparse_arrays() {
        let v = Value::object([("a", sparse(u32::MAX, vec![])), ("b", Value::from(1))]);
        assert_eq!(v.to_json(), json!({"a": null, "b": 1}));
        assert_eq!(
            v.try_to_json(),
            Err(Error::ExpansionLimit {
                limit: u64::from(MAX_SPARSE_EXPANSION)
            })
        );
        assert_eq!(
            v.try_to_json_with(100),
            Err(Error::ExpansionLimit { limit: 100 })
        );
        assert!(serde_json::to_string(&v)
            .unwrap_err()
            .to_string()
            .contains("expands past"));
        // Within the cap the holes count, and are refused before any room
        // is reserved for them.
        let v = sparse(1 << 24, vec![]);
        assert_eq!(
            v.try_to_json_with(1 << 20),
            Err(Error::ExpansionLimit { limit: 1 << 20 })
        );
        assert_eq!(sparse(3, vec![]).to_json(), json!([null, null, null]));
    }
}
