//! Property tests with a small seeded xorshift generator (no dependency):
//! arbitrary values round-trip (`decode(encode(v)) == v`, including shared
//! objects and cycles), arbitrary bytes never make the decoder panic, and
//! whatever decodes re-encodes to something that decodes the same. Set
//! `V8_PROPS_CASES` to run more cases.

mod v8_support;

use std::collections::HashSet;
use std::sync::Arc;

use forkwire::codec::v8::{
    decode, encode, from_slice, to_vec, Anchor, Array, ArrayBuffer, ArrayBufferView, BigInt, Boxed,
    Date, ErrorKind, HostObject, JsError, JsMap, JsSet, JsString, Key, Object, Primitive, RegExp,
    SparseArray, StringForm, Value, ViewKind,
};
use v8_support::*;

/// xorshift64*: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn cases(default: usize) -> usize {
    std::env::var("V8_PROPS_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Builds random values of every kind, reusing finished objects (shared
/// references) and pointing back at open containers (cycles).
struct Gen {
    rng: Rng,
    pool: Vec<Value>,
    open: Vec<Anchor>,
    budget: usize,
    /// How many shared references and cycles were made.
    shared: usize,
    cycles: usize,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng(seed | 1),
            pool: Vec::new(),
            open: Vec::new(),
            budget: 200,
            shared: 0,
            cycles: 0,
        }
    }

    fn string(&mut self) -> JsString {
        let r = &mut self.rng;
        let n = r.below(12);
        match r.below(6) {
            0 => JsString::from(
                (0..n)
                    .map(|_| char::from(b'a' + r.below(26) as u8))
                    .collect::<String>(),
            ),
            1 => JsString::from(
                (0..n)
                    .map(|_| char::from(r.next() as u8))
                    .collect::<String>(),
            ),
            2 => JsString::from(
                (0..n)
                    .map(|_| char::from_u32(0x100 + r.below(0xd000) as u32).unwrap_or('x'))
                    .collect::<String>(),
            ),
            3 => JsString::from_utf16(&(0..n).map(|_| r.next() as u16).collect::<Vec<_>>()),
            4 => JsString::from("abc")
                .with_form(StringForm::TwoByte)
                .expect("two-byte"),
            _ => JsString::from("h\u{e9}\u{20ac}")
                .with_form(StringForm::Utf8)
                .expect("utf-8"),
        }
    }

    fn bigint(&mut self) -> BigInt {
        let negative = self.rng.chance(50);
        let digits = self.rng.bytes(24);
        if self.rng.chance(50) {
            BigInt::from_magnitude(negative, &digits)
        } else {
            BigInt::from_digits(negative, digits)
        }
    }

    fn double(&mut self) -> f64 {
        match self.rng.below(6) {
            0 => f64::from_bits(self.rng.next()),
            1 => -0.0,
            2 => f64::NAN,
            3 => f64::INFINITY,
            _ => (self.rng.next() as i64 as f64) / 1024.0,
        }
    }

    fn primitive(&mut self) -> Value {
        match self.rng.below(9) {
            0 => Value::Undefined,
            1 => Value::Null,
            2 => Value::Bool(self.rng.chance(50)),
            3 => Value::Int32(self.rng.next() as i32),
            4 => Value::Uint32(self.rng.next() as u32),
            5 => Value::Double(self.double()),
            6 => Value::BigInt(self.bigint()),
            _ => Value::String(self.string()),
        }
    }

    /// Unique property keys (by property identity), avoiding `skip`.
    fn keys(&mut self, n: usize, names_only: bool) -> Vec<Key> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        while out.len() < n {
            let key = match self.rng.below(if names_only { 2 } else { 6 }) {
                0 => Key::from(format!("k{}", self.rng.below(40))),
                1 => Key::from(if self.rng.chance(50) { "\u{20ac}" } else { "" }),
                2 => Key::Int32(self.rng.below(64) as i32),
                3 => Key::Double(if self.rng.chance(50) {
                    1.5
                } else {
                    4294967294.0
                }),
                4 => Key::Uint32(self.rng.next() as u32),
                _ => Key::Int32(-(self.rng.below(5) as i32) - 1),
            };
            let name = key.name().into_owned();
            if name != "length" && seen.insert(name) {
                out.push(key);
            }
        }
        out
    }

    fn children(&mut self, depth: usize) -> Vec<Value> {
        let n = self.rng.below(7);
        (0..n).map(|_| self.value(depth + 1)).collect()
    }

    fn value(&mut self, depth: usize) -> Value {
        if self.budget == 0 || depth > 6 {
            return self.primitive();
        }
        self.budget -= 1;
        let choice = self.rng.below(22);
        let v = match choice {
            0..=5 => return self.primitive(),
            6 if !self.pool.is_empty() => {
                self.shared += 1;
                return self.pool[self.rng.below(self.pool.len())].clone();
            }
            7 if !self.open.is_empty() => {
                self.cycles += 1;
                return Value::Ref(self.open[self.rng.below(self.open.len())]);
            }
            8 => Value::from(Date {
                anchor: None,
                time: self.double(),
            }),
            9 => {
                let flags = [1u32, 2, 4, 8, 16, 32, 128, 256]
                    .iter()
                    .filter(|_| self.rng.chance(30))
                    .sum();
                Value::from(RegExp {
                    anchor: None,
                    source: self.string(),
                    flags,
                })
            }
            10 => {
                let bytes = self.rng.bytes(16);
                let max = self
                    .rng
                    .chance(30)
                    .then(|| bytes.len() as u32 + self.rng.below(8) as u32);
                Value::from(ArrayBuffer {
                    anchor: None,
                    bytes,
                    max_byte_length: max,
                })
            }
            11 => {
                // Node's type indexes 0..=12 name every view kind.
                let kind =
                    ViewKind::from_index(self.rng.below(13) as u64).expect("a view kind index");
                Value::from(ArrayBufferView::new(kind, self.rng.bytes(24)))
            }
            12 => {
                let p = match self.rng.below(4) {
                    0 => Primitive::Bool(self.rng.chance(50)),
                    1 => Primitive::Number(self.double()),
                    2 => Primitive::String(self.string()),
                    _ => Primitive::BigInt(self.bigint()),
                };
                Value::from(Boxed {
                    anchor: None,
                    value: p,
                })
            }
            13 => {
                let mut e = JsError::new(
                    ErrorKind::ALL[self.rng.below(ErrorKind::ALL.len())],
                    self.string(),
                );
                if self.rng.chance(30) {
                    e.message = None;
                }
                e.stack = self.rng.chance(60).then(|| self.string());
                if self.rng.chance(50) {
                    e.cause = Some(self.value(depth + 1));
                }
                e.cause_before_stack = self.rng.chance(50);
                Value::from(e)
            }
            14 => {
                let inner = self.container(depth + 1, 0);
                Value::from(HostObject {
                    anchor: None,
                    value: inner,
                })
            }
            c => self.container(depth, c % 5),
        };
        self.pool.push(v.clone());
        v
    }

    /// An object, array, sparse array, Map or Set, which may contain itself.
    fn container(&mut self, depth: usize, which: usize) -> Value {
        let a = Anchor::new();
        self.open.push(a);
        let v = match which {
            0 => {
                let values = self.children(depth);
                let keys = self.keys(values.len(), false);
                let mut o = Object::new(keys.into_iter().zip(values).collect());
                o.anchor = Some(a);
                Value::Object(Arc::new(o))
            }
            1 => {
                let elements = self
                    .children(depth)
                    .into_iter()
                    .map(|v| (!v.is_undefined()).then_some(v))
                    .collect();
                let values = if self.rng.chance(30) {
                    self.children(depth)
                } else {
                    Vec::new()
                };
                let keys = self.keys(values.len(), true);
                Value::from(Array {
                    anchor: Some(a),
                    elements,
                    properties: keys.into_iter().zip(values).collect(),
                })
            }
            2 => {
                let values = self.children(depth);
                let keys = self.keys(values.len(), false);
                let length = self.rng.next() as u32;
                Value::from(SparseArray {
                    anchor: Some(a),
                    length,
                    properties: keys.into_iter().zip(values).collect(),
                })
            }
            3 => {
                let entries = (0..self.rng.below(4))
                    .map(|_| (self.value(depth + 1), self.value(depth + 1)))
                    .collect();
                Value::from(JsMap {
                    anchor: Some(a),
                    entries,
                })
            }
            _ => Value::from(JsSet {
                anchor: Some(a),
                values: self.children(depth),
            }),
        };
        self.open.pop();
        v
    }
}

#[test]
fn arbitrary_values_round_trip() {
    let (mut shared, mut cycles, mut bytes_total) = (0, 0, 0);
    for seed in 0..cases(3000) as u64 {
        let mut g = Gen::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let v = if seed % 10 == 0 {
            g.value(0)
        } else {
            g.container(0, seed as usize % 5)
        };
        shared += g.shared;
        cycles += g.cycles;
        let bytes = encode(&v).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{v:?}"));
        let back =
            decode(&bytes).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", to_hex(&bytes)));
        assert!(back == v, "seed {seed}:\n{v:?}\n{back:?}");
        assert_eq!(encode(&back).expect("re-encodes"), bytes, "seed {seed}");
        // The JSON view never panics, cycles included.
        let _ = back.to_json();
        bytes_total += bytes.len();
    }
    eprintln!("{shared} shared references, {cycles} cycles, {bytes_total} bytes");
    assert!(
        shared > 1000 && cycles > 1000 && bytes_total > 1_000_000,
        "{shared} {cycles} {bytes_total}"
    );
}

/// Random bytes after a valid header, biased toward real tags.
fn soup(r: &mut Rng) -> Vec<u8> {
    const TAGS: &[u8] = b"_0TFINZ\"cS^o{aA$@D yxnzsR;:',B~r\\-?V\x00";
    let mut p = vec![0xff, 0x0f];
    for _ in 0..r.below(40) {
        match r.below(3) {
            0 => p.push(TAGS[r.below(TAGS.len())]),
            1 => p.push(r.below(8) as u8),
            _ => p.push(r.next() as u8),
        }
    }
    p
}

/// A captured vector with a few random edits.
fn mutated(r: &mut Rng, vectors: &[Vector]) -> Vec<u8> {
    let mut p = vectors[r.below(vectors.len())].payload().to_vec();
    for _ in 0..=r.below(3) {
        let at = r.below(p.len() + 1);
        match r.below(4) {
            0 if at < p.len() => p[at] = r.next() as u8,
            1 if at < p.len() => {
                p.remove(at);
            }
            2 => p.insert(at, r.next() as u8),
            _ => p.truncate(at),
        }
    }
    p
}

#[test]
fn arbitrary_bytes_never_panic_and_what_decodes_round_trips() {
    let vectors: Vec<Vector> = all_advanced()
        .into_iter()
        .filter(|v| v.payload().len() < 2048)
        .collect();
    let mut r = Rng(0x5eed);
    let mut decoded = 0;
    for n in 0..cases(60_000) {
        let input = match n % 3 {
            0 => r.bytes(48),
            1 => soup(&mut r),
            _ => mutated(&mut r, &vectors),
        };
        if let Ok(v) = decode(&input) {
            decoded += 1;
            let bytes = encode(&v)
                .unwrap_or_else(|e| panic!("{}: decoded but does not encode: {e}", to_hex(&input)));
            let again = decode(&bytes).expect("re-decodes");
            assert!(again == v, "{}", to_hex(&input));
        }
    }
    assert!(decoded > 100, "only {decoded} inputs decoded");
}

/// A random JSON document with exact numbers (integers, or floats with a
/// fraction, which survive any round trip unchanged).
fn json(r: &mut Rng, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    match r.below(if depth > 4 { 4 } else { 7 }) {
        0 => J::Null,
        1 => J::Bool(r.chance(50)),
        2 => match r.below(3) {
            0 => J::from(r.next() as i64),
            1 => J::from(r.next()),
            _ => J::from((r.next() % 1_000_000) as f64 + 0.25),
        },
        3 => J::String(
            (0..r.below(6))
                .map(|_| ['a', '\u{e9}', '\u{20ac}', '\u{1f600}'][r.below(4)])
                .collect(),
        ),
        4 | 5 => J::Array((0..r.below(5)).map(|_| json(r, depth + 1)).collect()),
        _ => J::Object(
            (0..r.below(5))
                .map(|_| (format!("{}", r.below(20)), json(r, depth + 1)))
                .collect(),
        ),
    }
}

#[test]
fn serde_round_trips() {
    let mut r = Rng(0xfeed);
    for _ in 0..cases(2000) {
        let doc = json(&mut r, 0);
        let bytes = to_vec(&doc).expect("serializes");
        let back: serde_json::Value = from_slice(&bytes).expect("deserializes");
        assert_eq!(back, doc, "{}", to_hex(&bytes));
        // Node's wire form of the same data decodes to a value whose JSON
        // view is the document again.
        assert_eq!(
            decode(&bytes).expect("decodes").to_json(),
            normalize_big(&doc)
        );
    }
}

/// `to_json` writes BigInts (integers beyond ±(2^53 - 1)) as strings.
fn normalize_big(doc: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match doc {
        J::Number(n)
            if n.as_i64()
                .map_or(n.is_u64(), |i| i.unsigned_abs() > (1 << 53) - 1) =>
        {
            J::String(n.to_string())
        }
        J::Array(a) => J::Array(a.iter().map(normalize_big).collect()),
        J::Object(o) => J::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), normalize_big(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
