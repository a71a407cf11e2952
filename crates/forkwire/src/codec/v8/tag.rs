//! The bytes of the V8 ValueSerializer format as Node 20 (V8 11.3, format
//! version 15) writes them, plus Node's own host-object sub-tags. One name
//! per byte, shared by the decoder, the encoder and the serde serializer.

/// Format version written in the header.
pub(super) const VERSION: u8 = 15;
/// Oldest format version read: 13 introduced the explicit host-object tag;
/// 13 to 15 differ only in tags Node's channel never carries.
pub(super) const MIN_VERSION: u64 = 13;

pub(super) const HEADER: u8 = 0xff;
pub(super) const PADDING: u8 = 0x00;
pub(super) const VERIFY_OBJECT_COUNT: u8 = b'?';
pub(super) const HOLE: u8 = b'-';
pub(super) const UNDEFINED: u8 = b'_';
pub(super) const NULL: u8 = b'0';
pub(super) const TRUE: u8 = b'T';
pub(super) const FALSE: u8 = b'F';
pub(super) const INT32: u8 = b'I';
pub(super) const UINT32: u8 = b'U';
pub(super) const DOUBLE: u8 = b'N';
pub(super) const BIGINT: u8 = b'Z';
pub(super) const UTF8_STRING: u8 = b'S';
pub(super) const ONE_BYTE_STRING: u8 = b'"';
pub(super) const TWO_BYTE_STRING: u8 = b'c';
pub(super) const OBJECT_REFERENCE: u8 = b'^';
pub(super) const BEGIN_OBJECT: u8 = b'o';
pub(super) const END_OBJECT: u8 = b'{';
pub(super) const BEGIN_SPARSE_ARRAY: u8 = b'a';
pub(super) const END_SPARSE_ARRAY: u8 = b'@';
pub(super) const BEGIN_DENSE_ARRAY: u8 = b'A';
pub(super) const END_DENSE_ARRAY: u8 = b'$';
pub(super) const DATE: u8 = b'D';
pub(super) const TRUE_OBJECT: u8 = b'y';
pub(super) const FALSE_OBJECT: u8 = b'x';
pub(super) const NUMBER_OBJECT: u8 = b'n';
pub(super) const BIGINT_OBJECT: u8 = b'z';
pub(super) const STRING_OBJECT: u8 = b's';
pub(super) const REGEXP: u8 = b'R';
pub(super) const BEGIN_MAP: u8 = b';';
pub(super) const END_MAP: u8 = b':';
pub(super) const BEGIN_SET: u8 = b'\'';
pub(super) const END_SET: u8 = b',';
pub(super) const ARRAY_BUFFER: u8 = b'B';
pub(super) const RESIZABLE_ARRAY_BUFFER: u8 = b'~';
pub(super) const ERROR: u8 = b'r';
pub(super) const HOST_OBJECT: u8 = b'\\';
/// V8's own view framing (after an ArrayBuffer); Node never writes it.
pub(super) const ARRAY_BUFFER_VIEW: u8 = b'V';

/// Valid V8 tags that need state outside the payload (transfer lists, shared
/// memory, WebAssembly) or are V8's own ArrayBufferView framing, which Node
/// replaces with host objects.
pub(super) const UNSUPPORTED: &[u8] = b"Vtupwm";

/// Sub-tags inside an Error (`r`), each written as a one-byte varint.
pub(super) mod error {
    pub(in super::super) const EVAL: u8 = b'E';
    pub(in super::super) const RANGE: u8 = b'R';
    pub(in super::super) const REFERENCE: u8 = b'F';
    pub(in super::super) const SYNTAX: u8 = b'S';
    pub(in super::super) const TYPE: u8 = b'T';
    pub(in super::super) const URI: u8 = b'U';
    pub(in super::super) const MESSAGE: u8 = b'm';
    pub(in super::super) const CAUSE: u8 = b'c';
    pub(in super::super) const STACK: u8 = b's';
    pub(in super::super) const END: u8 = b'.';
}

/// Node's varint after `\`: what kind of host object follows.
pub(super) mod host {
    /// An ArrayBufferView: type index, byte length, bytes.
    pub(in super::super) const VIEW: u64 = 0;
    /// Any other host object: a value (Node writes `{ ...object }`).
    pub(in super::super) const OTHER: u64 = 1;
}
