//! The JavaScript objects a [`Value`] can hold ("receivers" in V8's terms):
//! plain objects, arrays, Map, Set, Date, RegExp, ArrayBuffer and its views,
//! boxed primitives, errors and Node's other host objects. Each sits behind
//! an `Arc` in [`Value`] so that one object reached twice stays one object,
//! and each has an optional [`Anchor`] that [`Value::Ref`] points at, which is
//! how cycles are written down. Dropping a deep value never recurses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::bigint::BigInt;
use super::error::Error;
use super::key::Key;
use super::string::JsString;
use super::value::Value;

/// The identity of an object, for [`Value::Ref`] to point at.
///
/// Cycles cannot be built from `Arc`s alone, so a value that contains itself
/// holds a `Value::Ref(anchor)` where the inner occurrence would be, and the
/// object carries `anchor: Some(anchor)`. The decoder creates anchors only for
/// objects that are referenced from inside themselves; every anchor is unique
/// in the process, so values from different messages never mix them up.
///
/// ```
/// use std::sync::Arc;
/// use forkwire::codec::v8::{encode, Anchor, Key, Object, Value};
/// // const o = {}; o.self = o;
/// let a = Anchor::new();
/// let o = Value::Object(Arc::new(Object {
///     anchor: Some(a),
///     properties: vec![(Key::from("self"), Value::Ref(a))],
/// }));
/// let bytes = encode(&o).unwrap();
/// assert_eq!(bytes, b"\xff\x0fo\"\x04self^\x00{\x01");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Anchor(u64);

impl Anchor {
    /// A new anchor, distinct from every other in this process.
    pub fn new() -> Anchor {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Anchor(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for Anchor {
    fn default() -> Self {
        Anchor::new()
    }
}

/// A plain object: `o`, key/value pairs, `{` count.
#[derive(Debug, Clone, Default)]
pub struct Object {
    /// Target of [`Value::Ref`]s to this object.
    pub anchor: Option<Anchor>,
    /// Own enumerable properties in wire order (V8 writes array indexes
    /// first, ascending, then names in creation order).
    pub properties: Vec<(Key, Value)>,
}

impl Object {
    /// An object with these properties, in this order.
    pub fn new(properties: Vec<(Key, Value)>) -> Object {
        Object {
            anchor: None,
            properties,
        }
    }

    /// An object built the way JavaScript builds one from named entries
    /// (`JSON.parse`, `Object.fromEntries`): array-index names become number
    /// keys and come first in ascending order, other names keep their order,
    /// and a repeated name keeps its first position and its last value. The
    /// result encodes exactly as Node encodes the same object.
    pub fn from_entries<S: AsRef<str>>(entries: impl IntoIterator<Item = (S, Value)>) -> Object {
        let mut indexed: Vec<(u32, Value)> = Vec::new();
        let mut named: Vec<(Key, Value)> = Vec::new();
        for (name, value) in entries {
            let key = Key::from_name(name.as_ref());
            match key.array_index() {
                Some(i) => match indexed.iter_mut().find(|(j, _)| *j == i) {
                    Some(slot) => slot.1 = value,
                    None => indexed.push((i, value)),
                },
                None => match named.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => named.push((key, value)),
                },
            }
        }
        indexed.sort_by_key(|(i, _)| *i);
        let mut properties: Vec<(Key, Value)> = indexed
            .into_iter()
            .map(|(i, v)| (Key::index(i), v))
            .collect();
        properties.append(&mut named);
        Object::new(properties)
    }

    /// The value of property `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        find_property(&self.properties, name)
    }
}

fn find_property<'a>(properties: &'a [(Key, Value)], name: &str) -> Option<&'a Value> {
    properties
        .iter()
        .rev()
        .find(|(k, _)| k.is(name))
        .map(|(_, v)| v)
}

/// A dense array: `A` length, the elements (`-` for a hole), then any other
/// properties, `$` count length.
///
/// V8 writes arrays with holes as [`SparseArray`]s; holes here only come
/// from arrays that changed while V8 was writing them, or from other writers.
#[derive(Debug, Clone, Default)]
pub struct Array {
    /// Target of [`Value::Ref`]s to this array.
    pub anchor: Option<Anchor>,
    /// The elements; `None` is a hole.
    pub elements: Vec<Option<Value>>,
    /// Properties other than the elements (e.g. `a.x = 1`).
    pub properties: Vec<(Key, Value)>,
}

impl Array {
    /// An array with these elements and no holes or extra properties.
    pub fn new(elements: impl IntoIterator<Item = Value>) -> Array {
        Array {
            anchor: None,
            elements: elements.into_iter().map(Some).collect(),
            properties: Vec::new(),
        }
    }

    /// Element `i`; `None` past the end or at a hole.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.elements.get(i).and_then(Option::as_ref)
    }
}

/// A sparse array: `a` length, index and other properties as key/value
/// pairs, `@` count length. V8 uses it for every array with holes.
#[derive(Debug, Clone, Default)]
pub struct SparseArray {
    /// Target of [`Value::Ref`]s to this array.
    pub anchor: Option<Anchor>,
    /// The array's `length`.
    pub length: u32,
    /// The elements that exist (number keys) and other properties.
    pub properties: Vec<(Key, Value)>,
}

impl SparseArray {
    /// Every index below `length` in order: the element, or `None` for a
    /// hole.
    pub fn elements(&self) -> impl Iterator<Item = Option<&Value>> {
        let present: std::collections::HashMap<u32, &Value> = self
            .properties
            .iter()
            .filter_map(|(k, v)| Some((k.array_index()?, v)))
            .collect();
        (0..self.length).map(move |i| present.get(&i).copied())
    }

    /// Element `i`, if present.
    pub fn get(&self, i: u32) -> Option<&Value> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k.array_index() == Some(i))
            .map(|(_, v)| v)
    }
}

/// A `Date`: `D` then milliseconds since the epoch (NaN for an invalid date).
#[derive(Debug, Clone, Default)]
pub struct Date {
    /// Target of [`Value::Ref`]s to this date.
    pub anchor: Option<Anchor>,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub time: f64,
}

/// A `RegExp`: `R`, the source string, the flags as a varint bit set.
#[derive(Debug, Clone)]
pub struct RegExp {
    /// Target of [`Value::Ref`]s to this RegExp.
    pub anchor: Option<Anchor>,
    /// The pattern text (`re.source`).
    pub source: JsString,
    /// V8's flag bits: g=1 i=2 m=4 y=8 u=16 s=32 d=128 v=256.
    pub flags: u32,
}

/// The flag letters in V8's bit order (bit 6, `l`, is V8's experimental
/// linear engine, which Node rejects).
const REGEXP_FLAGS: [(char, u32); 8] = [
    ('d', 128),
    ('g', 1),
    ('i', 2),
    ('m', 4),
    ('s', 32),
    ('u', 16),
    ('v', 256),
    ('y', 8),
];

/// Flag bits Node 20 accepts.
pub(super) const REGEXP_VALID_FLAGS: u32 = 1 | 2 | 4 | 8 | 16 | 32 | 128 | 256;

impl RegExp {
    /// A RegExp from its source and flag letters, e.g. `RegExp::new("ab+c", "gi")`.
    ///
    /// The source is not checked: a pattern that does not compile makes
    /// Node's deserializer throw.
    pub fn new(source: impl Into<JsString>, flags: &str) -> Result<RegExp, Error> {
        let mut bits = 0;
        for c in flags.chars() {
            match REGEXP_FLAGS.iter().find(|(f, _)| *f == c) {
                Some((_, bit)) if bits & bit == 0 => bits |= bit,
                _ => return Err(Error::Unsupported(format!("RegExp flags {flags:?}"))),
            }
        }
        Ok(RegExp {
            anchor: None,
            source: source.into(),
            flags: bits,
        })
    }

    /// The flag letters, as `re.flags` gives them.
    pub fn flags_string(&self) -> String {
        REGEXP_FLAGS
            .iter()
            .filter(|(_, bit)| self.flags & bit != 0)
            .map(|(c, _)| *c)
            .collect()
    }
}

/// A `Map`: `;`, key, value, ..., `:` then twice the entry count.
#[derive(Debug, Clone, Default)]
pub struct JsMap {
    /// Target of [`Value::Ref`]s to this Map.
    pub anchor: Option<Anchor>,
    /// Entries in insertion order.
    pub entries: Vec<(Value, Value)>,
}

/// A `Set`: `'`, values, `,` count.
#[derive(Debug, Clone, Default)]
pub struct JsSet {
    /// Target of [`Value::Ref`]s to this Set.
    pub anchor: Option<Anchor>,
    /// Values in insertion order.
    pub values: Vec<Value>,
}

/// An `ArrayBuffer`: `B` length bytes, or for a resizable one `~` length
/// max-length bytes.
#[derive(Debug, Clone, Default)]
pub struct ArrayBuffer {
    /// Target of [`Value::Ref`]s to this buffer.
    pub anchor: Option<Anchor>,
    /// The contents.
    pub bytes: Vec<u8>,
    /// `Some(maxByteLength)` for a resizable buffer.
    pub max_byte_length: Option<u32>,
}

/// Which constructor an [`ArrayBufferView`] has: Node's type index on the
/// wire (`\ 00 index length bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    /// `Int8Array` (index 0).
    Int8Array,
    /// `Uint8Array` (1).
    Uint8Array,
    /// `Uint8ClampedArray` (2).
    Uint8ClampedArray,
    /// `Int16Array` (3).
    Int16Array,
    /// `Uint16Array` (4).
    Uint16Array,
    /// `Int32Array` (5).
    Int32Array,
    /// `Uint32Array` (6).
    Uint32Array,
    /// `Float32Array` (7).
    Float32Array,
    /// `Float64Array` (8).
    Float64Array,
    /// `DataView` (9).
    DataView,
    /// Node's `Buffer` (10).
    Buffer,
    /// `BigInt64Array` (11).
    BigInt64Array,
    /// `BigUint64Array` (12).
    BigUint64Array,
}

const VIEW_KINDS: [ViewKind; 13] = [
    ViewKind::Int8Array,
    ViewKind::Uint8Array,
    ViewKind::Uint8ClampedArray,
    ViewKind::Int16Array,
    ViewKind::Uint16Array,
    ViewKind::Int32Array,
    ViewKind::Uint32Array,
    ViewKind::Float32Array,
    ViewKind::Float64Array,
    ViewKind::DataView,
    ViewKind::Buffer,
    ViewKind::BigInt64Array,
    ViewKind::BigUint64Array,
];

impl ViewKind {
    /// Node's type index for this kind.
    pub fn index(self) -> u32 {
        VIEW_KINDS
            .iter()
            .position(|k| *k == self)
            .map_or(0, |i| i as u32)
    }

    /// The kind with Node's type index `i` (Node 20 knows 0 to 12).
    pub fn from_index(i: u64) -> Option<ViewKind> {
        usize::try_from(i)
            .ok()
            .and_then(|i| VIEW_KINDS.get(i))
            .copied()
    }

    /// `BYTES_PER_ELEMENT` (1 for `DataView` and `Buffer`).
    pub fn element_size(self) -> usize {
        match self {
            ViewKind::Int16Array | ViewKind::Uint16Array => 2,
            ViewKind::Int32Array | ViewKind::Uint32Array | ViewKind::Float32Array => 4,
            ViewKind::Float64Array | ViewKind::BigInt64Array | ViewKind::BigUint64Array => 8,
            _ => 1,
        }
    }

    /// The constructor's name.
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Int8Array => "Int8Array",
            ViewKind::Uint8Array => "Uint8Array",
            ViewKind::Uint8ClampedArray => "Uint8ClampedArray",
            ViewKind::Int16Array => "Int16Array",
            ViewKind::Uint16Array => "Uint16Array",
            ViewKind::Int32Array => "Int32Array",
            ViewKind::Uint32Array => "Uint32Array",
            ViewKind::Float32Array => "Float32Array",
            ViewKind::Float64Array => "Float64Array",
            ViewKind::DataView => "DataView",
            ViewKind::Buffer => "Buffer",
            ViewKind::BigInt64Array => "BigInt64Array",
            ViewKind::BigUint64Array => "BigUint64Array",
        }
    }
}

/// A typed array, `DataView` or `Buffer`, carried as Node carries it: its
/// own bytes only (not the whole underlying `ArrayBuffer`).
///
/// Node reads `bytes.len() / element_size` elements and ignores a partial
/// last element.
#[derive(Debug, Clone)]
pub struct ArrayBufferView {
    /// Target of [`Value::Ref`]s to this view.
    pub anchor: Option<Anchor>,
    /// The constructor.
    pub kind: ViewKind,
    /// The bytes the view covers, in memory order (little-endian elements).
    pub bytes: Vec<u8>,
}

/// One element of a typed array, widened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Element {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl ArrayBufferView {
    /// A view of `kind` over `bytes`.
    pub fn new(kind: ViewKind, bytes: Vec<u8>) -> ArrayBufferView {
        ArrayBufferView {
            anchor: None,
            kind,
            bytes,
        }
    }

    /// The elements as Node would see them (`DataView` and `Buffer` as bytes).
    pub(super) fn elements(&self) -> impl Iterator<Item = Element> + '_ {
        let kind = self.kind;
        self.bytes.chunks_exact(kind.element_size()).map(move |c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            let raw = u64::from_le_bytes(b);
            match kind {
                ViewKind::Int8Array => Element::Int(i64::from(c[0] as i8)),
                ViewKind::Int16Array => Element::Int(i64::from(raw as u16 as i16)),
                ViewKind::Int32Array => Element::Int(i64::from(raw as u32 as i32)),
                ViewKind::BigInt64Array => Element::Int(raw as i64),
                ViewKind::Float32Array => Element::Float(f64::from(f32::from_bits(raw as u32))),
                ViewKind::Float64Array => Element::Float(f64::from_bits(raw)),
                _ => Element::Uint(raw),
            }
        })
    }
}

/// The primitive inside a boxed primitive object.
#[derive(Debug, Clone)]
pub enum Primitive {
    /// `new Boolean(b)`: `y` (true) or `x` (false).
    Bool(bool),
    /// `new Number(x)`: `n` then a double.
    Number(f64),
    /// `new String(s)`: `s` then a string.
    String(JsString),
    /// `Object(1n)`: `z` then BigInt digits.
    BigInt(BigInt),
}

/// A boxed primitive (`new Number(3)`, `new String("s")`, ...).
#[derive(Debug, Clone)]
pub struct Boxed {
    /// Target of [`Value::Ref`]s to this object.
    pub anchor: Option<Anchor>,
    /// The wrapped primitive.
    pub value: Primitive,
}

/// The prototype of an [`JsError`]: V8 keeps the six standard subclasses and
/// turns every other name (custom classes) into plain `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ErrorKind {
    /// `Error` (and any class V8 does not know).
    #[default]
    Error,
    /// `EvalError`.
    EvalError,
    /// `RangeError`.
    RangeError,
    /// `ReferenceError`.
    ReferenceError,
    /// `SyntaxError`.
    SyntaxError,
    /// `TypeError`.
    TypeError,
    /// `URIError`.
    UriError,
}

impl ErrorKind {
    /// The constructor's name (`"URIError"` for [`ErrorKind::UriError`]).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Error => "Error",
            ErrorKind::EvalError => "EvalError",
            ErrorKind::RangeError => "RangeError",
            ErrorKind::ReferenceError => "ReferenceError",
            ErrorKind::SyntaxError => "SyntaxError",
            ErrorKind::TypeError => "TypeError",
            ErrorKind::UriError => "URIError",
        }
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Error,
        ErrorKind::EvalError,
        ErrorKind::RangeError,
        ErrorKind::ReferenceError,
        ErrorKind::SyntaxError,
        ErrorKind::TypeError,
        ErrorKind::UriError,
    ];

    /// The kind V8 writes for an error whose `name` is `name`.
    pub fn from_name(name: &str) -> ErrorKind {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .unwrap_or(ErrorKind::Error)
    }
}

/// An `Error` object: `r`, then sub-tags for the prototype, `message`,
/// `stack` and `cause`, then `.`.
///
/// V8 sends nothing else: `name` comes from the prototype, and own
/// properties such as `code` are dropped.
///
/// Like the other object types it takes itself apart on drop (so deep values
/// never overflow the stack), which rules out `..Default::default()` in a
/// struct literal: build it with [`JsError::new`] and set fields.
#[derive(Debug, Clone, Default)]
pub struct JsError {
    /// Target of [`Value::Ref`]s to this error.
    pub anchor: Option<Anchor>,
    /// The prototype.
    pub kind: ErrorKind,
    /// `message`, when the error has one of its own.
    pub message: Option<JsString>,
    /// `stack`, when it is a string.
    pub stack: Option<JsString>,
    /// `cause`, when the error has one (it may be `undefined`).
    pub cause: Option<Value>,
    /// Node 20 (V8 11.3) writes `cause` before `stack`; later V8 writes
    /// `stack` first and reads only that order, while Node 20 reads both.
    /// Decoding keeps what was read; new errors use `false`.
    pub cause_before_stack: bool,
}

impl JsError {
    /// An error of `kind` with `message` and no stack.
    pub fn new(kind: ErrorKind, message: impl Into<JsString>) -> JsError {
        JsError {
            anchor: None,
            kind,
            message: Some(message.into()),
            stack: None,
            cause: None,
            cause_before_stack: false,
        }
    }

    /// Whether `stack` goes after `cause` on the wire (only matters when
    /// both are present).
    pub(super) fn stack_after_cause(&self) -> bool {
        self.cause_before_stack && self.cause.is_some() && self.stack.is_some()
    }
}

/// A host object other than an ArrayBufferView (`\ 01 value`): Node sends
/// the object's own enumerable properties (`{ ...object }`) and the receiver
/// gets that plain object.
///
/// It takes two object ids, one for the host object and one for the object
/// inside, which is why it is kept apart from the [`Object`] it holds.
#[derive(Debug, Clone)]
pub struct HostObject {
    /// Target of [`Value::Ref`]s to the host object.
    pub anchor: Option<Anchor>,
    /// What Node's receiver gets: an object (never a primitive).
    pub value: Value,
}

/// Moves the values of `slot` that can hold further values onto `out`, so
/// they are taken apart by [`dismantle`] instead of by recursive drops.
fn take(value: Value, out: &mut Vec<Value>) {
    if value.has_children() {
        out.push(value);
    }
}

/// Drops a work list of values without recursion: a container whose last
/// reference this is gives up its children to the list before it goes.
fn dismantle(mut stack: Vec<Value>) {
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(rc) => {
                if let Some(mut o) = Arc::into_inner(rc) {
                    o.properties
                        .drain(..)
                        .for_each(|(_, v)| take(v, &mut stack));
                }
            }
            Value::Array(rc) => {
                if let Some(mut a) = Arc::into_inner(rc) {
                    a.elements
                        .drain(..)
                        .flatten()
                        .for_each(|v| take(v, &mut stack));
                    a.properties
                        .drain(..)
                        .for_each(|(_, v)| take(v, &mut stack));
                }
            }
            Value::SparseArray(rc) => {
                if let Some(mut a) = Arc::into_inner(rc) {
                    a.properties
                        .drain(..)
                        .for_each(|(_, v)| take(v, &mut stack));
                }
            }
            Value::Map(rc) => {
                if let Some(mut m) = Arc::into_inner(rc) {
                    for (k, v) in m.entries.drain(..) {
                        take(k, &mut stack);
                        take(v, &mut stack);
                    }
                }
            }
            Value::Set(rc) => {
                if let Some(mut s) = Arc::into_inner(rc) {
                    s.values.drain(..).for_each(|v| take(v, &mut stack));
                }
            }
            Value::Error(rc) => {
                if let Some(mut e) = Arc::into_inner(rc) {
                    if let Some(v) = e.cause.take() {
                        take(v, &mut stack);
                    }
                }
            }
            Value::Host(rc) => {
                if let Some(mut h) = Arc::into_inner(rc) {
                    take(std::mem::take(&mut h.value), &mut stack);
                }
            }
            _ => {}
        }
    }
}

macro_rules! drop_without_recursion {
    ($ty:ty, |$this:ident, $out:ident| $body:block) => {
        impl Drop for $ty {
            fn drop(&mut self) {
                let $this = self;
                let mut $out = Vec::new();
                $body
                dismantle($out);
            }
        }
    };
}

drop_without_recursion!(Object, |o, out| {
    o.properties.drain(..).for_each(|(_, v)| take(v, &mut out));
});
drop_without_recursion!(Array, |a, out| {
    a.elements
        .drain(..)
        .flatten()
        .for_each(|v| take(v, &mut out));
    a.properties.drain(..).for_each(|(_, v)| take(v, &mut out));
});
drop_without_recursion!(SparseArray, |a, out| {
    a.properties.drain(..).for_each(|(_, v)| take(v, &mut out));
});
drop_without_recursion!(JsMap, |m, out| {
    for (k, v) in m.entries.drain(..) {
        take(k, &mut out);
        take(v, &mut out);
    }
});
drop_without_recursion!(JsSet, |s, out| {
    s.values.drain(..).for_each(|v| take(v, &mut out));
});
drop_without_recursion!(JsError, |e, out| {
    if let Some(v) = e.cause.take() {
        take(v, &mut out);
    }
});
drop_without_recursion!(HostObject, |h, out| {
    take(std::mem::take(&mut h.value), &mut out);
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_entries_orders_like_js() {
        let o = Object::from_entries([
            ("b", Value::from(1)),
            ("2", Value::from(2)),
            ("a", Value::from(3)),
            ("1", Value::from(4)),
            ("b", Value::from(5)),
            ("01", Value::from(6)),
        ]);
        let names: Vec<_> = o
            .properties
            .iter()
            .map(|(k, _)| k.name().into_owned())
            .collect();
        assert_eq!(names, ["1", "2", "b", "a", "01"]);
        assert_eq!(o.get("b").and_then(Value::as_f64), Some(5.0));
        assert_eq!(o.properties[0].0, Key::Int32(1));
    }

    #[test]
    fn regexp_flags() {
        let re = RegExp::new("a", "gimsuyd").unwrap();
        assert_eq!(re.flags, 0xbf);
        assert_eq!(re.flags_string(), "dgimsuy");
        assert!(RegExp::new("a", "gg").is_err());
        assert!(RegExp::new("a", "l").is_err());
    }

    #[test]
    fn view_kinds() {
        for i in 0..13 {
            let k = ViewKind::from_index(i).unwrap();
            assert_eq!(u64::from(k.index()), i);
        }
        assert_eq!(ViewKind::from_index(13), None);
        let v = ArrayBufferView::new(ViewKind::Int16Array, vec![0xfe, 0xff, 0x2c, 0x01, 9]);
        let e: Vec<_> = v.elements().collect();
        assert_eq!(e, [Element::Int(-2), Element::Int(300)]);
    }

    #[test]
    fn error_kinds() {
        assert_eq!(ErrorKind::from_name("URIError"), ErrorKind::UriError);
        assert_eq!(ErrorKind::from_name("MyError"), ErrorKind::Error);
    }

    #[test]
    fn deep_values_drop_without_overflow() {
        // A million nested arrays would overflow any stack if dropped
        // recursively; run on a small stack to prove it is not.
        let handle = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let mut v = Value::Null;
                for _ in 0..1_000_000 {
                    v = Value::Array(Arc::new(Array::new([v])));
                }
                let mut m = Value::Null;
                for _ in 0..100_000 {
                    m = Value::Map(Arc::new(JsMap {
                        anchor: None,
                        entries: vec![(m.clone(), m)],
                    }));
                }
                drop(v);
                drop(m);
            })
            .unwrap();
        handle.join().unwrap();
    }
}
