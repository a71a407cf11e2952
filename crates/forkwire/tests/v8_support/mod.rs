//! Helpers shared by the `v8_*` integration tests: hex, the captured Node
//! vectors, and value builders that spell out wire forms.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use forkwire::codec::v8::{
    Anchor, Array, BigInt, ErrorKind, JsError, JsString, Key, Object, SparseArray, StringForm,
    Value, ViewKind,
};

/// Bytes from hex (whitespace ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|pair| {
            u8::from_str_radix(std::str::from_utf8(pair).expect("ascii hex"), 16)
                .expect("hex digit")
        })
        .collect()
}

/// Hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One captured frame.
pub struct Vector {
    pub name: String,
    pub js: String,
    pub frame: Vec<u8>,
}

impl Vector {
    /// The V8 payload (after the 4-byte length).
    pub fn payload(&self) -> &[u8] {
        &self.frame[4..]
    }
}

/// Path of a file under `tests/vectors/`.
pub fn vectors_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
        .join(file)
}

/// The vectors of one capture file, checked for a consistent length prefix.
pub fn load(file: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(vectors_path(file)).expect("vector file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("vector JSON");
    doc["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .map(|v| {
            let frame = hex(v["frame"].as_str().expect("frame"));
            Vector {
                name: v["name"].as_str().expect("name").to_owned(),
                js: v["js"].as_str().expect("js").to_owned(),
                frame,
            }
        })
        .collect()
}

/// Every payload of both advanced-mode files.
pub fn all_advanced() -> Vec<Vector> {
    let mut all = load("node20-advanced.json");
    all.extend(load("node20-advanced-extended.json"));
    all
}

// Builders. Numbers and strings are spelled in their wire form.

pub fn i(v: i32) -> Value {
    Value::Int32(v)
}
pub fn d(v: f64) -> Value {
    Value::Double(v)
}
pub fn s(t: &str) -> Value {
    Value::from(t)
}
pub fn two_byte(t: &str) -> Value {
    Value::String(
        JsString::from(t)
            .with_form(StringForm::TwoByte)
            .expect("two-byte holds any text"),
    )
}
pub fn utf16(units: &[u16]) -> Value {
    Value::String(JsString::from_utf16(units))
}
pub fn k(name: &str) -> Key {
    Key::from(name)
}
/// An object with string keys.
pub fn o(props: Vec<(&str, Value)>) -> Value {
    Value::from(Object::new(
        props.into_iter().map(|(n, v)| (k(n), v)).collect(),
    ))
}
/// An object with any keys.
pub fn ok(props: Vec<(Key, Value)>) -> Value {
    Value::from(Object::new(props))
}
pub fn arr(items: Vec<Value>) -> Value {
    Value::array(items)
}
pub fn arr_with(items: Vec<Option<Value>>, properties: Vec<(Key, Value)>) -> Value {
    Value::from(Array {
        anchor: None,
        elements: items,
        properties,
    })
}
pub fn sparse(length: u32, properties: Vec<(Key, Value)>) -> Value {
    Value::from(SparseArray {
        anchor: None,
        length,
        properties,
    })
}
pub fn big(v: i128) -> Value {
    Value::BigInt(BigInt::from(v))
}
/// `sign * 2^exp`, or `2^exp - 1` when `minus_one`.
pub fn big_pow2(exp: usize, negative: bool, minus_one: bool) -> Value {
    let mut m = vec![0u8; exp / 8 + 1];
    if minus_one {
        m = vec![0xff; exp / 8];
    } else {
        m[exp / 8] = 1 << (exp % 8);
    }
    Value::BigInt(BigInt::from_magnitude(negative, &m))
}
pub fn view(kind: ViewKind, bytes: &[u8]) -> Value {
    Value::typed_array(kind, bytes.to_vec())
}
pub fn error(kind: ErrorKind, message: Option<&str>, stack: Option<&str>) -> JsError {
    let mut e = JsError::new(kind, "");
    e.message = message.map(JsString::from);
    e.stack = stack.map(JsString::from);
    e
}
pub fn with_cause(mut e: JsError, cause: Value, cause_before_stack: bool) -> JsError {
    e.cause = Some(cause);
    e.cause_before_stack = cause_before_stack;
    e
}
/// Wraps `depth` containers made by `wrap` around `leaf`, innermost first
/// (`i` counts from 0 at the innermost, as the JS loops in cases.js do).
pub fn nest(depth: usize, leaf: Value, wrap: impl Fn(usize, Value) -> Value) -> Value {
    (0..depth).fold(leaf, |v, i| wrap(i, v))
}
/// A container whose anchor is `a`, for building cycles.
pub fn anchored_object(a: Anchor, props: Vec<(&str, Value)>) -> Value {
    let mut obj = Object::new(props.into_iter().map(|(n, v)| (k(n), v)).collect());
    obj.anchor = Some(a);
    Value::Object(Arc::new(obj))
}
