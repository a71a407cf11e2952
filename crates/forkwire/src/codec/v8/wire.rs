//! The reading that the decoder and the probe share: the header, property
//! keys, primitives, strings, BigInts, the bodies of leaf objects, Error
//! sub-tags and trailer counts, each read and checked once, as V8 reads
//! it, with the same [`Error`] at the same offset.
//!
//! What is read stays borrowed from the payload ([`WireString`],
//! [`Primitive`], ...): the decoder builds values from it, the probe only
//! looks at it, so it allocates nothing for what it skips.

use super::bigint::BigInt;
use super::error::Error;
use super::key::Key;
use super::reader::Reader;
use super::receiver::{self, ErrorKind, ViewKind, REGEXP_VALID_FLAGS};
use super::string::JsString;
use super::tag;
use super::value::Value;

/// Refuses a container opened at `offset` inside `depth` others when
/// that is as deep as `max_depth` allows or deeper.
pub(super) fn check_depth(depth: usize, max_depth: usize, offset: usize) -> Result<(), Error> {
    if depth >= max_depth {
        return Err(Error::TooDeep { offset, max_depth });
    }
    Ok(())
}

/// `ff` and a format version from the oldest read to the one written.
pub(super) fn header(r: &mut Reader<'_>) -> Result<(), Error> {
    if r.byte().ok() != Some(tag::HEADER) {
        return Err(Error::BadVersion {
            offset: 0,
            version: None,
        });
    }
    let version = r.varint()?;
    if !(tag::MIN_VERSION..=u64::from(tag::VERSION)).contains(&version) {
        return Err(Error::BadVersion {
            offset: 0,
            version: Some(version),
        });
    }
    Ok(())
}

/// A zigzag varint that V8 reads as an `int32`.
fn int32(r: &mut Reader<'_>) -> Result<i32, Error> {
    let v = r.varint_u32()?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// A string body as read: checked, not copied.
#[derive(Debug, Clone, Copy)]
pub(super) enum WireString<'p> {
    /// `"`: Latin-1 bytes.
    OneByte(&'p [u8]),
    /// `c`: UTF-16LE code units (an even number of bytes).
    TwoByte(&'p [u8]),
    /// `S`: UTF-8 text.
    Utf8(&'p str),
}

impl WireString<'_> {
    pub(super) fn to_js_string(self) -> JsString {
        match self {
            WireString::OneByte(bytes) => JsString::from_latin1(bytes),
            WireString::TwoByte(bytes) => JsString::from_two_byte_wire(
                bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            ),
            WireString::Utf8(text) => JsString::from_utf8_wire(text.to_owned()),
        }
    }
}

/// The body of a string whose tag `t` (one of the three string tags) was
/// at `at`.
fn string_body<'p>(r: &mut Reader<'p>, t: u8, at: usize) -> Result<WireString<'p>, Error> {
    let bytes = r.length_prefixed()?;
    Ok(match t {
        tag::ONE_BYTE_STRING => WireString::OneByte(bytes),
        tag::TWO_BYTE_STRING => {
            if bytes.len() % 2 == 1 {
                return Err(Error::OddTwoByteLength {
                    offset: at,
                    length: bytes.len() as u32,
                });
            }
            WireString::TwoByte(bytes)
        }
        _ => WireString::Utf8(
            std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { offset: at })?,
        ),
    })
}

/// A string where V8 requires one (RegExp source, Error message and stack,
/// String object).
pub(super) fn string<'p>(r: &mut Reader<'p>) -> Result<WireString<'p>, Error> {
    let (at, t) = r.tag()?;
    match t {
        tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => string_body(r, t, at),
        _ => Err(Error::ExpectedString { offset: at, tag: t }),
    }
}

/// A property key as read.
#[derive(Debug, Clone, Copy)]
pub(super) enum WireKey<'p> {
    String(WireString<'p>),
    Int32(i32),
    Uint32(u32),
    Double(f64),
}

impl WireKey<'_> {
    pub(super) fn to_key(self) -> Key {
        match self {
            WireKey::String(s) => Key::String(s.to_js_string()),
            WireKey::Int32(n) => Key::Int32(n),
            WireKey::Uint32(n) => Key::Uint32(n),
            WireKey::Double(x) => Key::Double(x),
        }
    }
}

/// A property key: a string or a number (`I`, `U`, `N`).
pub(super) fn key<'p>(r: &mut Reader<'p>) -> Result<WireKey<'p>, Error> {
    let (at, t) = r.tag()?;
    Ok(match t {
        tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
            WireKey::String(string_body(r, t, at)?)
        }
        tag::INT32 => WireKey::Int32(int32(r)?),
        tag::UINT32 => WireKey::Uint32(r.varint_u32()?),
        tag::DOUBLE => WireKey::Double(r.double()?),
        _ => return Err(Error::InvalidKey { offset: at, tag: t }),
    })
}

/// The sign and digits of a BigInt, checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct WireBigInt<'p> {
    negative: bool,
    digits: &'p [u8],
}

impl WireBigInt<'_> {
    pub(super) fn to_bigint(self) -> BigInt {
        BigInt::from_digits(self.negative, self.digits.to_vec())
    }
}

/// The sign-and-length bitfield and digits of a BigInt whose tag was at
/// `at`.
fn bigint<'p>(r: &mut Reader<'p>, at: usize) -> Result<WireBigInt<'p>, Error> {
    let length_at = r.pos();
    let bitfield = r.varint_u32()?;
    // V8 keeps the byte length in bits 1 to 30; bit 31 would be dropped.
    if bitfield >> 31 != 0 {
        return Err(Error::BadBigInt { offset: at });
    }
    let digits = r.bytes(u64::from(bitfield >> 1), length_at)?;
    let negative = bitfield & 1 == 1;
    if digits.is_empty() && negative {
        return Err(Error::BadBigInt { offset: at });
    }
    Ok(WireBigInt { negative, digits })
}

/// A primitive as read.
#[derive(Debug, Clone)]
pub(super) enum Primitive<'p> {
    /// `undefined`, `null`, a boolean or a number: a [`Value`] that holds
    /// no memory.
    Small(Value),
    BigInt(WireBigInt<'p>),
    String(WireString<'p>),
}

impl Primitive<'_> {
    pub(super) fn into_value(self) -> Value {
        match self {
            Primitive::Small(v) => v,
            Primitive::BigInt(b) => Value::BigInt(b.to_bigint()),
            Primitive::String(s) => Value::String(s.to_js_string()),
        }
    }
}

/// The primitive that tag `t` at `at` starts, read; `None` when `t` does
/// not start a primitive (nothing more is read then).
#[inline]
pub(super) fn primitive<'p>(
    r: &mut Reader<'p>,
    t: u8,
    at: usize,
) -> Result<Option<Primitive<'p>>, Error> {
    let small = match t {
        tag::UNDEFINED => Value::Undefined,
        tag::NULL => Value::Null,
        tag::TRUE => Value::Bool(true),
        tag::FALSE => Value::Bool(false),
        tag::INT32 => Value::Int32(int32(r)?),
        tag::UINT32 => Value::Uint32(r.varint_u32()?),
        tag::DOUBLE => Value::Double(r.double()?),
        tag::BIGINT => return Ok(Some(Primitive::BigInt(bigint(r, at)?))),
        tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
            return Ok(Some(Primitive::String(string_body(r, t, at)?)))
        }
        _ => return Ok(None),
    };
    Ok(Some(Primitive::Small(small)))
}

/// The length of a dense array (after `A`). Every element takes at least
/// a byte, and the `promised` elements that enclosing dense arrays still
/// expect take others, so it may be at most the bytes left minus those.
pub(super) fn dense_length(r: &mut Reader<'_>, promised: usize) -> Result<u32, Error> {
    let length_at = r.pos();
    let length = r.varint_u32()?;
    if length as usize > r.remaining().saturating_sub(promised) {
        return Err(Error::LengthPastEnd {
            offset: length_at,
            length: u64::from(length),
        });
    }
    Ok(length)
}

/// A boxed primitive's value (after `y`, `x`, `n`, `z` or `s`, the tag `t`
/// at `at`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Boxed<'p> {
    Bool(bool),
    Number(f64),
    BigInt(WireBigInt<'p>),
    String(WireString<'p>),
}

impl Boxed<'_> {
    pub(super) fn to_primitive(self) -> receiver::Primitive {
        match self {
            Boxed::Bool(b) => receiver::Primitive::Bool(b),
            Boxed::Number(x) => receiver::Primitive::Number(x),
            Boxed::BigInt(b) => receiver::Primitive::BigInt(b.to_bigint()),
            Boxed::String(s) => receiver::Primitive::String(s.to_js_string()),
        }
    }
}

pub(super) fn boxed<'p>(r: &mut Reader<'p>, t: u8, at: usize) -> Result<Boxed<'p>, Error> {
    Ok(match t {
        tag::TRUE_OBJECT => Boxed::Bool(true),
        tag::FALSE_OBJECT => Boxed::Bool(false),
        tag::NUMBER_OBJECT => Boxed::Number(r.double()?),
        tag::BIGINT_OBJECT => Boxed::BigInt(bigint(r, at)?),
        _ => Boxed::String(string(r)?),
    })
}

/// A RegExp's source and flags (after `R` at `at`).
pub(super) fn regexp<'p>(r: &mut Reader<'p>, at: usize) -> Result<(WireString<'p>, u32), Error> {
    let source = string(r)?;
    let flags = r.varint_u32()?;
    if flags & !REGEXP_VALID_FLAGS != 0 {
        return Err(Error::InvalidRegExpFlags { offset: at, flags });
    }
    Ok((source, flags))
}

/// An ArrayBuffer's bytes and, when the tag `t` is the resizable one, its
/// maximum length.
pub(super) fn array_buffer<'p>(
    r: &mut Reader<'p>,
    t: u8,
) -> Result<(&'p [u8], Option<u32>), Error> {
    let length_at = r.pos();
    let length = r.varint_u32()?;
    let max_byte_length = if t == tag::RESIZABLE_ARRAY_BUFFER {
        let max = r.varint_u32()?;
        if length > max {
            return Err(Error::CountMismatch {
                offset: length_at,
                declared: max,
                actual: u64::from(length),
            });
        }
        Some(max)
    } else {
        None
    };
    let bytes = r.bytes(u64::from(length), length_at)?;
    // V8 reads a `V` right after a buffer as a view onto it; Node frames
    // views as host objects and never writes it.
    if let Some(offset) = r.upcoming(tag::ARRAY_BUFFER_VIEW) {
        return Err(Error::UnsupportedTag {
            offset,
            tag: tag::ARRAY_BUFFER_VIEW,
        });
    }
    Ok((bytes, max_byte_length))
}

/// What follows a host object's tag `\`.
pub(super) enum Host<'p> {
    /// An ArrayBufferView, whole: its kind and bytes.
    View(ViewKind, &'p [u8]),
    /// Any other host object: the value it carries follows.
    Other,
}

pub(super) fn host<'p>(r: &mut Reader<'p>) -> Result<Host<'p>, Error> {
    let sub_at = r.pos();
    match r.varint()? {
        tag::host::VIEW => {
            let index = r.varint()?;
            let kind = ViewKind::from_index(index).ok_or(Error::BadHostObject {
                offset: sub_at,
                reason: "unknown ArrayBufferView type index",
            })?;
            Ok(Host::View(kind, r.length_prefixed()?))
        }
        tag::host::OTHER => Ok(Host::Other),
        _ => Err(Error::BadHostObject {
            offset: sub_at,
            reason: "sub-tag is neither 0 nor 1",
        }),
    }
}

/// One Error sub-tag and what it carries.
pub(super) enum ErrorPart<'p> {
    Kind(ErrorKind),
    Message(WireString<'p>),
    Stack(WireString<'p>),
    /// The cause: its value follows.
    Cause,
    End,
}

/// The sub-tags an Error has had so far. Node 20 reads them in any order;
/// each may appear once.
#[derive(Default)]
pub(super) struct ErrorTags {
    kind: bool,
    message: bool,
    stack: bool,
    cause: bool,
}

impl ErrorTags {
    /// The next sub-tag, refused if the Error had it already.
    pub(super) fn next<'p>(&mut self, r: &mut Reader<'p>) -> Result<ErrorPart<'p>, Error> {
        let at = r.pos();
        let sub = r.varint()?;
        let first = |seen: &mut bool| {
            if std::mem::replace(seen, true) {
                Err(Error::BadErrorTag {
                    offset: at,
                    tag: sub,
                })
            } else {
                Ok(())
            }
        };
        let kind = match u8::try_from(sub).unwrap_or(0) {
            tag::error::EVAL => ErrorKind::EvalError,
            tag::error::RANGE => ErrorKind::RangeError,
            tag::error::REFERENCE => ErrorKind::ReferenceError,
            tag::error::SYNTAX => ErrorKind::SyntaxError,
            tag::error::TYPE => ErrorKind::TypeError,
            tag::error::URI => ErrorKind::UriError,
            tag::error::MESSAGE => {
                first(&mut self.message)?;
                return Ok(ErrorPart::Message(string(r)?));
            }
            tag::error::STACK => {
                first(&mut self.stack)?;
                return Ok(ErrorPart::Stack(string(r)?));
            }
            tag::error::CAUSE => {
                first(&mut self.cause)?;
                return Ok(ErrorPart::Cause);
            }
            tag::error::END => return Ok(ErrorPart::End),
            _ => {
                return Err(Error::BadErrorTag {
                    offset: at,
                    tag: sub,
                })
            }
        };
        first(&mut self.kind)?;
        Ok(ErrorPart::Kind(kind))
    }
}

/// A count or length from a container's trailer, checked against `actual`.
pub(super) fn count(r: &mut Reader<'_>, actual: u64) -> Result<(), Error> {
    let at = r.pos();
    let declared = r.varint_u32()?;
    if u64::from(declared) != actual {
        return Err(Error::CountMismatch {
            offset: at,
            declared,
            actual,
        });
    }
    Ok(())
}
