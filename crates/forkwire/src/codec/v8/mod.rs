//! The advanced-serialization codec: Node's `serialization: 'advanced'`
//! channel format, which is V8's `ValueSerializer` format (version 15 on
//! Node 20) with Node's framing of Buffers and typed arrays as host objects.
//! Pure: bytes in, values out, no I/O.
//!
//! A frame on the channel is a 4-byte big-endian length followed by a
//! payload; the functions here take and produce the payload (starting with
//! the `ff 0f` header). [`decode`] and [`encode`] convert between payloads and
//! [`Value`], a lossless model of everything the channel carries (undefined,
//! int32 versus double, BigInt, lone surrogates, Date, RegExp, Map, Set,
//! ArrayBuffer and views, boxed primitives, errors, shared references and
//! cycles), so that `encode(&decode(p)?)? == p` for what Node writes.
//! [`to_vec`] and [`from_slice`] go straight between payloads and serde types.
//!
//! ```
//! use forkwire::codec::v8::{decode, encode, from_slice, to_vec, Value};
//!
//! // What Node writes for `process.send({id: 1, ok: true})`, after the length.
//! let payload = b"\xff\x0fo\"\x02idI\x02\"\x02okT{\x02";
//! let value = decode(payload)?;
//! assert_eq!(value.get("id").and_then(Value::as_f64), Some(1.0));
//! assert_eq!(encode(&value)?, payload);
//!
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Reply { id: u32, ok: bool }
//! assert_eq!(from_slice::<Reply>(payload)?, Reply { id: 1, ok: true });
//! assert_eq!(to_vec(&Reply { id: 1, ok: true })?, payload);
//! # Ok::<(), forkwire::codec::v8::Error>(())
//! ```
//!
//! Decoding bad input never panics, never recurses on the thread's stack and
//! never allocates more than a small multiple of the input: it ends in an
//! [`Error`] that names the problem and the byte offset. Encoding refuses
//! values that Node's deserializer would reject, since a frame Node cannot
//! read throws inside Node's channel code and kills the Node process.
//!
//! A decoded [`Value`] keeps an object that the payload references again as
//! one shared object, so decoding stays cheap; but a tree made from it
//! (JSON, or a serde type) repeats the object once per path, and writes every
//! hole of a sparse array. A 287-byte payload (`x = [x, x]` forty times)
//! stands for 2^41 - 1 nodes. Every such expansion ([`from_slice`],
//! [`from_value`], [`Value::to_json`], the `Deserializer` for `&Value`,
//! `Serialize` for `Value`) therefore counts the nodes it makes and stops
//! with [`Error::ExpansionLimit`] past a budget: proportional to the payload
//! for [`from_slice`] (see [`Limits::max_expansion`]), and
//! [`DEFAULT_MAX_EXPANSION`] where there is no payload.

mod bigint;
mod budget;
mod date;
mod de;
mod decode;
mod embed;
mod encode;
mod eq;
mod error;
mod json;
mod key;
mod number;
mod probe;
mod reader;
mod receiver;
mod ser;
mod sink;
mod string;
mod tag;
mod value;
mod walk;
mod wire;

pub use bigint::BigInt;
pub use date::iso_string;
pub use error::Error;
pub use key::Key;
pub(crate) use probe::leading_member;
pub use probe::{probe, probe_with, Field, Member, Probe, Shape};
pub use receiver::{
    Anchor, Array, ArrayBuffer, ArrayBufferView, Boxed, Date, ErrorKind, HostObject, JsError,
    JsMap, JsSet, Object, Primitive, RegExp, SparseArray, ViewKind,
};
pub use string::{CodeUnits, JsString, StringForm};
pub use value::Value;

/// The default nesting limit, in containers (objects, arrays, Maps, Sets,
/// errors, host objects). Node 20 itself reads about 1900 nested objects
/// before its stack runs out, so values within this limit are safe to send.
pub const DEFAULT_MAX_DEPTH: usize = 1000;

/// The expansion budget, in nodes, of the walks that have no payload to
/// measure: [`from_value`], [`Value::to_json`], [`Value::try_to_json`], and
/// `Serialize for Value` or the `Deserializer` for `&Value` used directly.
/// 2^24 nodes, the longest sparse array any walk expands. As a
/// `serde_json::Value` that is about 0.5 GiB for a flat array of numbers and
/// up to about 2.5 GiB for nested small arrays, so pass a smaller budget to
/// [`from_value_with_budget`] or [`Value::try_to_json_with`] where that
/// matters. [`Value::to_json`] and [`Value::try_to_json`] count the size of
/// the tree before building it and refuse at once, without building part of
/// it. See [`Limits::max_expansion`] for what counts as a node.
pub const DEFAULT_MAX_EXPANSION: u64 = 1 << 24;

/// Bounds applied while decoding and encoding.
///
/// Decoding needs no memory bound: every length in a payload is checked
/// against the bytes left before anything is allocated for it, so a decoded
/// value takes at most a small constant times the payload's size. Expanding
/// the decoded value into a tree (a serde type in [`from_slice_with`]) is
/// bounded by [`max_expansion`](Limits::max_expansion).
///
/// ```
/// use forkwire::codec::v8::{decode_with, Error, Limits};
/// let limits = Limits { max_depth: 2 };
/// let three_deep = b"\xff\x0fA\x01A\x01A\x00$\x00\x00$\x00\x01$\x00\x01";
/// assert!(matches!(decode_with(three_deep, &limits), Err(Error::TooDeep { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How many containers may be nested inside each other.
    pub max_depth: usize,
}

impl Limits {
    /// Nodes of expansion allowed per payload byte in [`from_slice`]: see
    /// [`max_expansion`](Limits::max_expansion).
    pub const EXPANSION_PER_BYTE: u64 = 16;

    /// Nodes of expansion allowed on top of the per-byte allowance, so that
    /// small payloads with some sharing pass.
    pub const EXPANSION_BASE: u64 = 65_536;

    /// How many nodes [`from_slice`] and [`from_slice_with`] may make while
    /// turning a payload of `payload_len` bytes into a serde type:
    /// `payload_len *` [`EXPANSION_PER_BYTE`](Limits::EXPANSION_PER_BYTE) `+`
    /// [`EXPANSION_BASE`](Limits::EXPANSION_BASE). Past it the call fails with
    /// [`Error::ExpansionLimit`].
    ///
    /// A node is every value the walk reaches, each time it reaches it (an
    /// object referenced from two places counts its whole subtree twice),
    /// including properties it skips (`undefined` ones in JSON) and holes
    /// made `null`/`None`; every element of a typed array or byte of a
    /// `Buffer` read as a number; and one more per 32 bytes of text or bytes
    /// copied (a BigInt written in decimal, as JSON does, counts in
    /// proportion to the square of its length, since that is its cost).
    /// Without shared references each node costs at least one payload byte,
    /// so legitimate data stays far below the bound, and moderate sharing
    /// (an object referenced a few times) passes too; a payload whose
    /// references or sparse arrays stand for exponentially many nodes fails
    /// quickly, having allocated in proportion to the payload only. Fields
    /// the target type ignores are not expanded and cost one node.
    ///
    /// ```
    /// use forkwire::codec::v8::Limits;
    /// assert_eq!(Limits::default().max_expansion(287), 287 * 16 + 65_536);
    /// ```
    pub fn max_expansion(&self, payload_len: usize) -> u64 {
        (payload_len as u64)
            .saturating_mul(Self::EXPANSION_PER_BYTE)
            .saturating_add(Self::EXPANSION_BASE)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Decodes a payload (the bytes after Node's 4-byte length prefix) with the
/// default [`Limits`].
///
/// ```
/// use forkwire::codec::v8::{decode, Value};
/// assert!(matches!(decode(b"\xff\x0fI\x02"), Ok(Value::Int32(1))));
/// ```
pub fn decode(payload: &[u8]) -> Result<Value, Error> {
    decode_with(payload, &Limits::default())
}

/// Decodes a payload with the given limits.
pub fn decode_with(payload: &[u8], limits: &Limits) -> Result<Value, Error> {
    decode::decode_payload(payload, limits.max_depth)
}

/// Encodes a value as a payload: header and body, no length prefix.
///
/// ```
/// use forkwire::codec::v8::{encode, Value};
/// assert_eq!(encode(&Value::from(1)).unwrap(), b"\xff\x0fI\x02");
/// ```
pub fn encode(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the payload for `value` to `out` (so a caller can reserve the
/// 4-byte length first and patch it afterwards). On error `out` is left as
/// it was.
///
/// ```
/// use forkwire::codec::v8::{encode_into, Value};
/// let mut frame = vec![0; 4];
/// encode_into(&Value::from("hi"), &mut frame).unwrap();
/// let len = (frame.len() - 4) as u32;
/// frame[..4].copy_from_slice(&len.to_be_bytes());
/// assert_eq!(frame, b"\x00\x00\x00\x06\xff\x0f\"\x02hi");
/// ```
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    encode::encode_payload(value, out, Limits::default().max_depth)
}

/// Encodes with the given limits (nesting past `max_depth` is refused).
pub fn encode_with(value: &Value, limits: &Limits) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode::encode_payload(value, &mut out, limits.max_depth)?;
    Ok(out)
}

/// Serializes any `Serialize` type straight to a payload.
///
/// Structs and maps with string keys become objects, sequences and tuples
/// dense arrays, `None` and `()` `null`, integers numbers (`I` when they fit
/// int32, as V8 writes them; a BigInt beyond ±(2^53 - 1)), bytes a `Buffer`,
/// enums as serde_json lays them out; a map whose first key is not a string
/// or integer becomes a `Map`. A [`Value`] inside is written losslessly.
///
/// ```
/// use forkwire::codec::v8::to_vec;
/// assert_eq!(to_vec(&(1, "a")).unwrap(), b"\xff\x0fA\x02I\x02\"\x01a$\x00\x02");
/// ```
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    to_vec_into(value, &mut out)?;
    Ok(out)
}

/// [`to_vec`] appending to `out`; on error `out` is left as it was.
pub fn to_vec_into<T: serde::Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    ser::serialize_payload(value, out, Limits::default().max_depth)
}

/// Deserializes a payload into any `DeserializeOwned` type (decoding to a
/// [`Value`] first); see [`from_value`] for how values map. The default
/// [`Limits`] apply: a value that would expand past
/// [`Limits::max_expansion`] nodes (through shared references or sparse
/// arrays) fails with [`Error::ExpansionLimit`].
///
/// ```
/// use forkwire::codec::v8::{from_slice, Error};
/// // let a = []; a.length = 2 ** 32 - 1
/// let sparse = b"\xff\x0fa\xff\xff\xff\xff\x0f@\x00\xff\xff\xff\xff\x0f";
/// let r = from_slice::<serde_json::Value>(sparse);
/// assert!(matches!(r, Err(Error::ExpansionLimit { .. })));
/// ```
pub fn from_slice<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Error> {
    from_slice_with(payload, &Limits::default())
}

/// [`from_slice`] with the given limits: nesting up to `limits.max_depth`,
/// and expansion up to `limits.max_expansion(payload.len())` nodes.
pub fn from_slice_with<T: serde::de::DeserializeOwned>(
    payload: &[u8],
    limits: &Limits,
) -> Result<T, Error> {
    let value = decode_with(payload, limits)?;
    from_value_with_budget(value, limits.max_expansion(payload.len()))
}

/// Converts a [`Value`] into any `DeserializeOwned` type.
///
/// Numbers, strings, booleans, objects, arrays, `null`/`undefined` map as in
/// serde_json; in addition a BigInt fills any integer it fits, a `Map` fills a
/// map (any key type), a `Set` a sequence, a `Buffer` or typed array bytes or
/// a sequence of its elements, a `Date` a string (ISO 8601) or a number
/// (milliseconds), an `Error` a struct or map with `name`, `message`, `stack`
/// and `cause`. A field of type [`Value`] receives the value unchanged. A
/// cycle is an error, and so is expanding past [`DEFAULT_MAX_EXPANSION`]
/// nodes ([`Error::ExpansionLimit`]; see [`Limits::max_expansion`] for what
/// counts).
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    from_value_with_budget(value, DEFAULT_MAX_EXPANSION)
}

/// [`from_value`] allowing `max_nodes` nodes of expansion (e.g.
/// `Limits::default().max_expansion(payload.len())` for a value decoded
/// from `payload`).
///
/// ```
/// use forkwire::codec::v8::{from_value_with_budget, Error, Value};
/// let shared = Value::array([1, 2, 3]);
/// let v = Value::array([shared.clone(), shared]);
/// assert!(from_value_with_budget::<Vec<Vec<u8>>>(v.clone(), 8).is_ok());
/// assert_eq!(
///     from_value_with_budget::<Vec<Vec<u8>>>(v, 7),
///     Err(Error::ExpansionLimit { limit: 7 })
/// );
/// ```
pub fn from_value_with_budget<T: serde::de::DeserializeOwned>(
    value: Value,
    max_nodes: u64,
) -> Result<T, Error> {
    budget::scope(max_nodes, || T::deserialize(&value))
}
