//! json mode: one `JSON.stringify(message)` text per line, UTF-8.
//!
//! Decoding is `serde_json` with one addition: Node writes a string holding
//! a lone UTF-16 surrogate as the escape `"\ud800"`, which is not valid
//! Unicode and which `serde_json` refuses. forkwire reads each such escape as
//! U+FFFD (the replacement character), the same thing
//! `String::from_utf16_lossy` does, so a message with one never fails.
//!
//! Encoding writes numbers as JavaScript does ([`JsFormatter`]), so frames
//! from Rust are byte-identical to Node's for the same value.

use super::js_number::write_js_number;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::io;

/// A json frame that could not be read or a value that could not be written.
#[derive(Debug)]
pub enum JsonError {
    /// The frame is not valid UTF-8.
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The frame is not JSON, or does not fit the requested type.
    Parse(serde_json::Error),
    /// The value cannot be written as JSON (for example a map with
    /// non-string keys).
    Serialize(serde_json::Error),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::InvalidUtf8 { offset } => {
                write!(f, "frame is not valid UTF-8 (at byte {offset})")
            }
            JsonError::Parse(e) => write!(f, "frame is not valid JSON: {e}"),
            JsonError::Serialize(e) => write!(f, "value cannot be written as JSON: {e}"),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonError::Parse(e) | JsonError::Serialize(e) => Some(e),
            JsonError::InvalidUtf8 { .. } => None,
        }
    }
}

/// Decodes one frame (a line without its newline) into `T`.
///
/// ```
/// let v: serde_json::Value = forkwire::codec::json::decode(br#"{"s":"\ud800x"}"#).unwrap();
/// assert_eq!(v["s"], "\u{fffd}x");
/// ```
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<T, JsonError> {
    match serde_json::from_slice(frame) {
        Ok(v) => Ok(v),
        Err(err) => retry_decode(frame, err),
    }
}

/// The slow path after a failed parse: explain invalid UTF-8, or repair
/// lone surrogate escapes and parse again.
pub(crate) fn retry_decode<T: DeserializeOwned>(
    frame: &[u8],
    err: serde_json::Error,
) -> Result<T, JsonError> {
    if let Err(e) = std::str::from_utf8(frame) {
        return Err(JsonError::InvalidUtf8 {
            offset: e.valid_up_to(),
        });
    }
    match replace_lone_surrogates(frame) {
        Some(fixed) => serde_json::from_slice(&fixed).map_err(JsonError::Parse),
        None => Err(JsonError::Parse(err)),
    }
}

/// Appends `value` as one frame: its JSON text and a newline.
///
/// ```
/// let mut out = Vec::new();
/// forkwire::codec::json::encode(&serde_json::json!({"n": 2147483648.0}), &mut out).unwrap();
/// assert_eq!(out, b"{\"n\":2147483648}\n");
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let start = out.len();
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, JsFormatter);
    if let Err(e) = value.serialize(&mut ser) {
        out.truncate(start);
        return Err(JsonError::Serialize(e));
    }
    out.push(b'\n');
    Ok(())
}

/// A `serde_json` formatter that writes floats as `JSON.stringify` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsFormatter;

impl serde_json::ser::Formatter for JsFormatter {
    fn write_f64<W: io::Write + ?Sized>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut buf = Vec::with_capacity(24);
        write_js_number(value, &mut buf);
        writer.write_all(&buf)
    }

    fn write_f32<W: io::Write + ?Sized>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Rewrites every `\uXXXX` escape of an unpaired surrogate to `\ufffd`.
/// Returns `None` when there is none, so the caller keeps its first error.
pub(crate) fn replace_lone_surrogates(frame: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(frame.len());
    let mut changed = false;
    let mut i = 0;
    while i < frame.len() {
        if frame[i] != b'\\' {
            out.push(frame[i]);
            i += 1;
            continue;
        }
        match unit_at(frame, i) {
            Some(0xD800..=0xDBFF) => {
                if matches!(unit_at(frame, i + 6), Some(0xDC00..=0xDFFF)) {
                    out.extend_from_slice(&frame[i..i + 12]);
                    i += 12;
                } else {
                    out.extend_from_slice(b"\\ufffd");
                    changed = true;
                    i += 6;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.extend_from_slice(b"\\ufffd");
                changed = true;
                i += 6;
            }
            _ => {
                // Any other escape: copy the backslash and the escaped byte
                // together so `\\u` is not mistaken for a `\u` escape.
                let end = (i + 2).min(frame.len());
                out.extend_from_slice(&frame[i..end]);
                i = end;
            }
        }
    }
    changed.then_some(out)
}

/// The code unit of a `\uXXXX` escape starting at `at`, if there is one.
fn unit_at(frame: &[u8], at: usize) -> Option<u16> {
    let esc = frame.get(at..at + 6)?;
    if esc[0] != b'\\' || esc[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&esc[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let v: Value = decode(br#"["\ud800","\udc00a","\ud83d\ude00","\\ud800"]"#).unwrap();
        assert_eq!(v, json!(["\u{fffd}", "\u{fffd}a", "\u{1f600}", "\\ud800"]));
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let err = decode::<Value>(b"\"ab\xff\"").unwrap_err();
        assert!(matches!(err, JsonError::InvalidUtf8 { offset: 3 }), "{err}");
    }

    #[test]
    fn not_json_is_a_parse_error() {
        let err = decode::<Value>(b"{nope").unwrap_err();
        assert!(matches!(err, JsonError::Parse(_)));
        assert!(err.to_string().contains("not valid JSON"));
    }

    #[test]
    fn encode_matches_json_stringify() {
        let mut out = Vec::new();
        encode(&json!({"a": [1.0, 0.5, 1e21, "\u{2028}\n"]}), &mut out).unwrap();
        assert_eq!(out, "{\"a\":[1,0.5,1e+21,\"\u{2028}\\n\"]}\n".as_bytes());
    }

    #[test]
    fn failed_encode_leaves_buffer_untouched() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let mut out = b"x".to_vec();
        assert!(encode(&map, &mut out).is_err());
        assert_eq!(out, b"x");
    }
}
