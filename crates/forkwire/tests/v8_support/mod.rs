//! Helpers shared by the `v8_*` integration tests: hex, the captured Node
//! vectors, value builders that spell out wire forms, payloads built to
//! stress the decoder (reference bombs, deep nesting), and the malformed
//! payloads and corruptions that `decode` and `probe` must both reject.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use forkwire::codec::v8::{
    Anchor, Array, BigInt, Error, ErrorKind, JsError, JsString, Key, Object, SparseArray,
    StringForm, Value, ViewKind,
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

// Payloads built for the tests of `decode` and of `probe`.

/// The body of `x = [x, x]` repeated `levels` times (`levels` < 127), whose
/// arrays get object ids `first_id`, `first_id + 1`, ... from the outside
/// in, as V8 numbers them: each level's second element is a `^`
/// back-reference to the array that is its first element.
pub fn bomb_body(levels: u8, first_id: u8) -> Vec<u8> {
    let mut p = Vec::new();
    for _ in 0..levels {
        p.extend(b"A\x02");
    }
    p.extend(b"A\x00$\x00\x00");
    for level in (0..levels).rev() {
        p.extend([b'^', first_id + level + 1]);
        p.extend(b"$\x00\x02");
    }
    p
}

/// `let x = []; for (...levels) x = [x, x]; v8.serialize(x)`.
pub fn bomb(levels: u8) -> Vec<u8> {
    let mut p = vec![0xff, 0x0f];
    p.extend(bomb_body(levels, 0));
    p
}

/// `v8.serialize({id: 1, result: x})`.
pub fn bomb_member(levels: u8) -> Vec<u8> {
    let mut p = b"\xff\x0fo\"\x02idI\x02\"\x06result".to_vec();
    p.extend(bomb_body(levels, 1));
    p.extend(b"{\x02");
    p
}

/// `n` nested containers opened by `open` and never closed.
pub fn deep(open: &str, n: usize) -> Vec<u8> {
    let mut p = vec![0xff, 0x0f];
    let unit = hex(open);
    for _ in 0..n {
        p.extend_from_slice(&unit);
    }
    p.push(b'0');
    p
}

// Malformed payloads, shared by the tests of `decode` and of `probe`.

/// A check of the error a payload gives.
pub type ErrorCheck = fn(&Error) -> bool;

/// A malformed payload, in hex, and a check of the error `decode` gives.
pub type BadPayload = (&'static str, ErrorCheck);

/// Headers that are missing, cut short or of a version not read.
pub const BAD_HEADERS: &[BadPayload] = &[
    ("", |e| matches!(e, Error::BadVersion { version: None, .. })),
    ("fe0f 4902", |e| {
        matches!(e, Error::BadVersion { version: None, .. })
    }),
    ("ff10 4902", |e| {
        matches!(
            e,
            Error::BadVersion {
                version: Some(16),
                ..
            }
        )
    }),
    ("ff0c 4902", |e| {
        matches!(
            e,
            Error::BadVersion {
                version: Some(12),
                ..
            }
        )
    }),
    ("ff", |e| *e == Error::Truncated { offset: 1 }),
];

/// Tags V8 does not know there, and valid ones Node's channel never
/// carries, with the error each gives.
pub fn bad_tags() -> Vec<(Vec<u8>, Error)> {
    let unknown = [
        0x01u8, b'-', b'{', b'$', b'@', b':', b',', b'.', b'M', 0x80, 0xfe,
    ]
    .map(|t| (vec![0xff, 0x0f, t], Error::UnknownTag { offset: 2, tag: t }));
    let unsupported = b"Vtupwm".map(|t| {
        (
            vec![0xff, 0x0f, t, 0],
            Error::UnsupportedTag { offset: 2, tag: t },
        )
    });
    // A V8 ArrayBufferView after an ArrayBuffer: Node never writes this form.
    let views = [
        (hex("ff0f 41 01 42 02 0000 56 42 00 02 00 240001"), 8),
        (hex("ff0f 42 02 0000 00 56 42 00 02 00"), 7),
    ]
    .map(|(p, offset)| {
        let e = Error::UnsupportedTag { offset, tag: b'V' };
        (p, e)
    });
    unknown
        .into_iter()
        .chain(unsupported)
        .chain(views)
        .collect()
}

/// Lengths far past the end of the payload (or a sparse array's, which
/// needs no memory), none of which may drive an allocation.
pub const HUGE_LENGTHS: &[BadPayload] = &[
    ("ff0f 22 ffffffff0f 61", |e| {
        matches!(
            e,
            Error::LengthPastEnd {
                offset: 3,
                length: 4294967295
            }
        )
    }),
    ("ff0f 63 ffffffff0f 6100", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
    ("ff0f 53 ffffffff0f 61", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
    ("ff0f 41 ffffffff0f 30", |e| {
        matches!(e, Error::LengthPastEnd { offset: 3, .. })
    }),
    ("ff0f 61 ffffffff0f", |e| {
        matches!(e, Error::Truncated { .. })
    }),
    ("ff0f 61 ffffffff0f 40 00 ffffffff0f 00", |e| {
        matches!(e, Error::TrailingBytes { .. })
    }),
    ("ff0f 3b 3a ffffffff0f", |e| {
        matches!(
            e,
            Error::CountMismatch {
                declared: 4294967295,
                actual: 0,
                ..
            }
        )
    }),
    ("ff0f 27 2c ffffffff0f", |e| {
        matches!(
            e,
            Error::CountMismatch {
                declared: 4294967295,
                ..
            }
        )
    }),
    ("ff0f 6f 7b ffffffff0f", |e| {
        matches!(e, Error::CountMismatch { .. })
    }),
    ("ff0f 42 ffffffff0f 00", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
    ("ff0f 7e ffffffff0f ffffffff0f 00", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
    ("ff0f 5a feffffff07 00", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
    ("ff0f 5c 00 0a ffffffff0f 00", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
    ("ff0f 52 22 ffffffff0f", |e| {
        matches!(e, Error::LengthPastEnd { .. })
    }),
];

/// References to objects that do not exist or are not complete.
pub const BAD_REFERENCES: &[BadPayload] = &[
    ("ff0f 5e 00", |e| {
        *e == Error::BadReference { offset: 2, id: 0 }
    }),
    ("ff0f 41 02 6f7b00 5e 05 240002", |e| {
        matches!(e, Error::BadReference { id: 5, .. })
    }),
    // An Error or host object is registered only once complete (Node 20).
    ("ff0f 72 63 5e00 2e", |e| {
        matches!(e, Error::BadReference { id: 0, .. })
    }),
    ("ff0f 5c 01 5e00", |e| {
        matches!(e, Error::BadReference { id: 0, .. })
    }),
    ("ff0f 5e ffffffff0f", |e| {
        matches!(e, Error::BadReference { id: u32::MAX, .. })
    }),
];

/// Varints too long, or too large for what V8 reads.
pub const BAD_VARINTS: &[BadPayload] = &[
    ("ff0f 49 80808080808080808080 01", |e| {
        *e == Error::BadVarint { offset: 3 }
    }),
    // Fits a u64 but not the u32 V8 reads.
    ("ff0f 49 8080808010", |e| {
        *e == Error::BadVarint { offset: 3 }
    }),
    ("ff0f 22 ffffffffffffffffff01", |e| {
        matches!(e, Error::BadVarint { .. })
    }),
];

/// What V8 rejects: repeated keys, bad keys, counts, strings, flags, Error
/// sub-tags, host objects, trailing bytes.
pub const V8_REJECTIONS: &[BadPayload] = &[
    ("ff0f 6f 220161 4902 220161 4904 7b02", |e| {
        matches!(e, Error::DuplicateKey { .. })
    }),
    ("ff0f 6f 4902 4902 220131 4904 7b02", |e| {
        matches!(e, Error::DuplicateKey { .. })
    }),
    ("ff0f 6f 4e0000000000000080 4902 220130 4904 7b02", |e| {
        matches!(e, Error::DuplicateKey { .. })
    }),
    ("ff0f 41 01 4902 4900 4904 2401 01", |e| {
        matches!(e, Error::DuplicateKey { .. })
    }),
    ("ff0f 61 00 2206 6c656e677468 4900 4001 00", |e| {
        matches!(e, Error::DuplicateKey { .. })
    }),
    ("ff0f 6f 54 4902 7b01", |e| {
        matches!(e, Error::InvalidKey { tag: b'T', .. })
    }),
    ("ff0f 6f 6f7b00 4902 7b01", |e| {
        matches!(e, Error::InvalidKey { tag: b'o', .. })
    }),
    ("ff0f 6f 220161 4902 7b02", |e| {
        matches!(
            e,
            Error::CountMismatch {
                declared: 2,
                actual: 1,
                ..
            }
        )
    }),
    ("ff0f 41 01 4902 2400", |e| {
        matches!(e, Error::Truncated { .. })
    }),
    ("ff0f 41 01 4902 2400 02", |e| {
        matches!(e, Error::CountMismatch { .. })
    }),
    ("ff0f 61 02 4002 02", |e| {
        matches!(e, Error::CountMismatch { .. })
    }),
    ("ff0f 3b 4902 3a02", |e| {
        matches!(e, Error::UnknownTag { tag: b':', .. })
    }),
    ("ff0f 63 03 616263", |e| {
        matches!(e, Error::OddTwoByteLength { length: 3, .. })
    }),
    ("ff0f 53 02 c328", |e| {
        matches!(e, Error::InvalidUtf8 { .. })
    }),
    ("ff0f 5a 01", |e| matches!(e, Error::BadBigInt { .. })),
    ("ff0f 52 220161 40", |e| {
        matches!(e, Error::InvalidRegExpFlags { flags: 64, .. })
    }),
    ("ff0f 52 220161 8004", |e| {
        matches!(e, Error::InvalidRegExpFlags { .. })
    }),
    ("ff0f 52 4902 00", |e| {
        matches!(e, Error::ExpectedString { tag: b'I', .. })
    }),
    ("ff0f 73 6f7b00", |e| {
        matches!(e, Error::ExpectedString { .. })
    }),
    ("ff0f 72 51 2e", |e| {
        matches!(e, Error::BadErrorTag { tag: 0x51, .. })
    }),
    ("ff0f 72 54 52 2e", |e| {
        matches!(e, Error::BadErrorTag { .. })
    }),
    ("ff0f 72 6d 220161 6d 220162 2e", |e| {
        matches!(e, Error::BadErrorTag { .. })
    }),
    ("ff0f 72 6d 4902 2e", |e| {
        matches!(e, Error::ExpectedString { .. })
    }),
    ("ff0f 5c 02", |e| matches!(e, Error::BadHostObject { .. })),
    ("ff0f 5c 00 0d 00", |e| {
        matches!(e, Error::BadHostObject { .. })
    }),
    ("ff0f 5c 01 4902", |e| {
        matches!(e, Error::BadHostObject { .. })
    }),
    ("ff0f 7e 04 02 01020304", |e| {
        matches!(e, Error::CountMismatch { .. })
    }),
    ("ff0f 49 02 00", |e| {
        matches!(e, Error::TrailingBytes { offset: 4 })
    }),
    ("ff0f 49 02 49 02", |e| {
        matches!(e, Error::TrailingBytes { offset: 4 })
    }),
];

/// Every malformed payload above.
pub fn bad_payloads() -> Vec<Vec<u8>> {
    let tables = [
        BAD_HEADERS,
        HUGE_LENGTHS,
        BAD_REFERENCES,
        BAD_VARINTS,
        V8_REJECTIONS,
    ];
    let hexes = tables.into_iter().flatten().map(|(h, _)| hex(h));
    hexes
        .chain(bad_tags().into_iter().map(|(p, _)| p))
        .collect()
}

/// The bytes each byte of a payload is replaced by in turn in
/// [`each_single_byte_corruption`], besides itself with bit 6 flipped.
const CORRUPTIONS: [u8; 11] = [
    0x00, 0x01, 0x7f, 0x80, 0xff, b'^', b'o', b'A', b'{', b'$', b'-',
];

/// Calls `f(vector, at, byte, payload)` for every captured payload of at
/// most 512 bytes with the byte at `at` replaced by `byte`: in turn each
/// of a few interesting values, and the byte with bit 6 flipped.
pub fn each_single_byte_corruption(mut f: impl FnMut(&Vector, usize, u8, &[u8])) {
    for v in all_advanced().iter().filter(|v| v.payload().len() <= 512) {
        let mut q = v.payload().to_vec();
        for at in 0..q.len() {
            let was = q[at];
            for b in CORRUPTIONS.into_iter().chain([was ^ 0x40]) {
                q[at] = b;
                f(v, at, b, &q);
            }
            q[at] = was;
        }
    }
}
