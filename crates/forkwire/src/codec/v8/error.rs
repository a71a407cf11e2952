//! The one error type of the advanced (V8 serializer) codec. Decoding errors
//! carry the byte offset into the payload (counted from the `ff` of the
//! header, i.e. after Node's 4-byte length prefix) where the problem was found;
//! encoding errors carry the offset in the payload being written.

use std::fmt;

/// Why a V8 payload could not be decoded, or a value could not be encoded.
///
/// Every variant names the problem; those about bytes also carry `offset`, the
/// position in the payload (0 = the `ff` version tag). The decoder never
/// panics and never allocates more than a small multiple of its input, so
/// every malformed input ends in one of these.
///
/// ```
/// use forkwire::codec::v8::{decode, Error};
/// assert!(matches!(decode(&[0xff, 0x0f, 0x6f]), Err(Error::Truncated { offset: 3 })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended in the middle of a value.
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// The header is missing (no `ff`) or names a format version this codec
    /// does not read (it reads 13 to 15; Node 20 writes 15).
    BadVersion {
        /// Offset of the header.
        offset: usize,
        /// The version found, if there was one.
        version: Option<u64>,
    },
    /// A byte where a value was expected is not a V8 tag.
    UnknownTag {
        /// Offset of the tag.
        offset: usize,
        /// The byte.
        tag: u8,
    },
    /// A V8 tag that Node's channel never carries: transferred or shared
    /// memory, WebAssembly, shared objects, or a V8-native ArrayBufferView
    /// (`V`; Node frames views as host objects instead).
    UnsupportedTag {
        /// Offset of the tag.
        offset: usize,
        /// The byte.
        tag: u8,
    },
    /// A length field is larger than what is left of the input.
    LengthPastEnd {
        /// Offset of the length field.
        offset: usize,
        /// The declared length.
        length: u64,
    },
    /// A varint runs over 10 bytes or does not fit the field it encodes.
    BadVarint {
        /// Offset of the varint.
        offset: usize,
    },
    /// An object reference (`^`) names an object that does not exist yet, or
    /// one that V8 would not have registered at that point (an Error or host
    /// object that is still being read).
    BadReference {
        /// Offset of the reference tag.
        offset: usize,
        /// The object id.
        id: u32,
    },
    /// Nesting deeper than [`Limits::max_depth`](super::Limits::max_depth).
    TooDeep {
        /// Offset of the container that went over the limit.
        offset: usize,
        /// The limit in force.
        max_depth: usize,
    },
    /// A UTF-8 string (`S`) that is not valid UTF-8.
    InvalidUtf8 {
        /// Offset of the string's tag.
        offset: usize,
    },
    /// A two-byte string whose byte length is odd.
    OddTwoByteLength {
        /// Offset of the string's tag.
        offset: usize,
        /// The byte length.
        length: u32,
    },
    /// A property key that is not a string or a number.
    InvalidKey {
        /// Offset of the key.
        offset: usize,
        /// Its tag.
        tag: u8,
    },
    /// A string was required (RegExp source, Error message or stack, String
    /// object) and something else was found.
    ExpectedString {
        /// Offset of the value.
        offset: usize,
        /// Its tag.
        tag: u8,
    },
    /// The count or length written after an object, array, Map or Set does
    /// not match what was read.
    CountMismatch {
        /// Offset of the count.
        offset: usize,
        /// What the trailer says.
        declared: u32,
        /// What was read.
        actual: u64,
    },
    /// The same property twice in one object or array (V8 rejects this, so
    /// Node would fail on it).
    DuplicateKey {
        /// Offset of the container (decoding) or of the output so far.
        offset: usize,
        /// The property name, lossily converted.
        key: String,
    },
    /// RegExp flags with bits V8 rejects.
    InvalidRegExpFlags {
        /// Offset of the RegExp tag.
        offset: usize,
        /// The raw flags.
        flags: u32,
    },
    /// An unknown or repeated sub-tag inside an Error (`r`).
    BadErrorTag {
        /// Offset of the sub-tag.
        offset: usize,
        /// The sub-tag.
        tag: u64,
    },
    /// A host object (`\`) that is not in Node's framing: the sub-tag is not
    /// 0 or 1, the view type index is unknown, or the `1` form does not hold
    /// an object.
    BadHostObject {
        /// Offset of the host object.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A BigInt that V8 rejects (negative sign with no digits).
    BadBigInt {
        /// Offset of the BigInt.
        offset: usize,
    },
    /// Bytes left over after the value.
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
    },
    /// Expanding a value into a tree (JSON, or a serde type through
    /// [`from_slice`](super::from_slice) or [`from_value`](super::from_value))
    /// would produce more than `limit` nodes. Decoding keeps an object that
    /// the payload references again (`^`) as one shared object, and a sparse
    /// array as the elements it has; a tree repeats the object once per path
    /// and writes every hole, so a payload of a few hundred bytes can stand
    /// for 2^40 nodes. The walk stops here instead. See
    /// [`Limits::max_expansion`](super::Limits::max_expansion).
    ExpansionLimit {
        /// The budget in force, in nodes.
        limit: u64,
    },
    /// A value that cannot be written so that Node reads it back: a
    /// [`Value::Ref`](super::Value::Ref) with no target, a length over
    /// `u32::MAX`, a serde type with no V8 counterpart, and the like.
    Unsupported(String),
    /// A message from a `Serialize` or `Deserialize` implementation, or a
    /// type mismatch found while converting a [`Value`](super::Value) with
    /// serde.
    Message(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { offset } => write!(f, "v8 payload truncated at byte {offset}"),
            Error::BadVersion {
                offset,
                version: Some(v),
            } => {
                write!(
                    f,
                    "unsupported v8 serialization version {v} at byte {offset}"
                )
            }
            Error::BadVersion {
                offset,
                version: None,
            } => {
                write!(f, "missing v8 serialization header at byte {offset}")
            }
            Error::UnknownTag { offset, tag } => {
                write!(f, "unknown v8 tag 0x{tag:02x} at byte {offset}")
            }
            Error::UnsupportedTag { offset, tag } => write!(
                f,
                "v8 tag {:?} at byte {offset} is not carried by Node's channel",
                char::from(*tag)
            ),
            Error::LengthPastEnd { offset, length } => {
                write!(
                    f,
                    "length {length} at byte {offset} runs past the end of the payload"
                )
            }
            Error::BadVarint { offset } => write!(f, "malformed varint at byte {offset}"),
            Error::BadReference { offset, id } => {
                write!(
                    f,
                    "reference at byte {offset} to object {id}, which does not exist yet"
                )
            }
            Error::TooDeep { offset, max_depth } => {
                write!(f, "nesting deeper than {max_depth} at byte {offset}")
            }
            Error::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 string at byte {offset}"),
            Error::OddTwoByteLength { offset, length } => {
                write!(
                    f,
                    "two-byte string at byte {offset} has odd byte length {length}"
                )
            }
            Error::InvalidKey { offset, tag } => write!(
                f,
                "property key at byte {offset} is not a string or number (tag 0x{tag:02x})"
            ),
            Error::ExpectedString { offset, tag } => {
                write!(
                    f,
                    "expected a string at byte {offset}, found tag 0x{tag:02x}"
                )
            }
            Error::CountMismatch {
                offset,
                declared,
                actual,
            } => write!(
                f,
                "count {declared} at byte {offset} does not match the {actual} entries read"
            ),
            Error::DuplicateKey { offset, key } => {
                write!(f, "duplicate property {key:?} at byte {offset}")
            }
            Error::InvalidRegExpFlags { offset, flags } => {
                write!(f, "invalid RegExp flags 0x{flags:x} at byte {offset}")
            }
            Error::BadErrorTag { offset, tag } => {
                write!(
                    f,
                    "unknown or repeated Error sub-tag {tag} at byte {offset}"
                )
            }
            Error::BadHostObject { offset, reason } => {
                write!(f, "bad host object at byte {offset}: {reason}")
            }
            Error::BadBigInt { offset } => {
                write!(f, "invalid BigInt (negative zero) at byte {offset}")
            }
            Error::TrailingBytes { offset } => {
                write!(f, "unexpected bytes after the value at byte {offset}")
            }
            Error::ExpansionLimit { limit } => write!(
                f,
                "value expands past {limit} nodes (shared references or sparse arrays)"
            ),
            Error::Unsupported(what) => write!(f, "cannot encode for Node: {what}"),
            Error::Message(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_problem_and_offset() {
        let e = Error::UnknownTag {
            offset: 7,
            tag: 0x01,
        };
        assert_eq!(e.to_string(), "unknown v8 tag 0x01 at byte 7");
        let e = Error::TooDeep {
            offset: 3,
            max_depth: 10,
        };
        assert!(e.to_string().contains("deeper than 10"));
        let e = Error::ExpansionLimit { limit: 70 };
        assert_eq!(
            e.to_string(),
            "value expands past 70 nodes (shared references or sparse arrays)"
        );
    }

    #[test]
    fn is_send_sync_static() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<Error>();
    }
}
