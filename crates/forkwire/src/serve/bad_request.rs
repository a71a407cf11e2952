//! Requests that do not decode: what is left to read of them, so that they
//! can still be answered `{id, error}` instead of leaving the parent
//! waiting.
//!
//! A json frame is read as far as it goes: an `id` met before the text
//! goes wrong (not JSON, not UTF-8) is kept. An advanced-mode frame that
//! decodes but does not convert to JSON (a `Map` with number keys, a
//! cycle, ...) gives its `id` as it came; one that does not decode at all
//! (nested deeper than the decoder goes, say) gives it when it is the
//! object's first property, as in every request the pool sends.

use super::ServeError;
use crate::codec::v8;
use crate::codec::Mode;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// The code of the error a request that does not decode is answered with.
pub(super) const CODE: &str = "ERR_BAD_REQUEST";

/// The id of a request that does not decode, in the channel's mode.
#[derive(Debug)]
pub(super) enum Id {
    Json(serde_json::Value),
    V8(v8::Value),
}

impl Id {
    /// The id of the request in `frame`, if one can be read and the frame
    /// is not a cancel message (which gets no answer).
    pub(super) fn find(mode: Mode, frame: &[u8]) -> Option<Id> {
        match mode {
            Mode::Json => json_id(frame).map(Id::Json),
            Mode::Advanced => v8_id(frame).map(Id::V8),
        }
    }
}

/// The error a request that does not decode is answered with.
pub(super) fn error(cause: &dyn fmt::Display) -> ServeError {
    ServeError::new(format!("the request cannot be decoded: {cause}"))
        .name("TypeError")
        .code(CODE)
}

/// The members of a json request read before its text went wrong.
#[derive(Default)]
struct Seen {
    id: Option<serde_json::Value>,
    cancel: bool,
}

fn json_id(frame: &[u8]) -> Option<serde_json::Value> {
    let seen = RefCell::new(Seen::default());
    let mut de = serde_json::Deserializer::from_slice(frame);
    // The error is what made the frame undecodable; what was seen before
    // it is all that is wanted here.
    let _ = (&mut de).deserialize_map(Members(&seen));
    let seen = seen.into_inner();
    seen.id.filter(|_| !seen.cancel)
}

/// Reads an object's members, noting `id` and `type` as they go by.
struct Members<'a>(&'a RefCell<Seen>);

impl<'de> Visitor<'de> for Members<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            match &*name {
                "id" => self.0.borrow_mut().id = Some(map.next_value()?),
                "type" => {
                    let kind = map.next_value::<serde_json::Value>()?;
                    self.0.borrow_mut().cancel = kind == "cancel";
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

fn v8_id(frame: &[u8]) -> Option<v8::Value> {
    let Ok(value) = v8::decode(frame) else {
        return leading_v8_id(frame);
    };
    if !matches!(value, v8::Value::Object(_))
        || value.get("type").and_then(v8::Value::as_str) == Some("cancel")
    {
        return None;
    }
    value.get("id").cloned()
}

/// The `id` of a payload that does not decode, when it is the first
/// property of the top-level object and a number or a one-byte string.
fn leading_v8_id(frame: &[u8]) -> Option<v8::Value> {
    let mut r = Bytes(frame);
    if r.byte()? != 0xFF {
        return None;
    }
    r.varint()?; // the format version
    if r.tag()? != b'o' {
        return None;
    }
    let key_ok = match r.tag()? {
        b'"' => r.varint()? == 2 && r.take(2)? == b"id",
        b'c' => r.varint()? == 4 && r.take(4)? == b"i\0d\0",
        _ => false,
    };
    if !key_ok {
        return None;
    }
    Some(match r.tag()? {
        b'I' => {
            let n = r.varint()?;
            let signed = (n >> 1) as i64 ^ -((n & 1) as i64);
            v8::Value::Int32(i32::try_from(signed).ok()?)
        }
        b'U' => v8::Value::Uint32(u32::try_from(r.varint()?).ok()?),
        b'N' => v8::Value::Double(f64::from_le_bytes(r.take(8)?.try_into().ok()?)),
        b'"' => {
            let len = usize::try_from(r.varint()?).ok()?;
            let text: String = r.take(len)?.iter().map(|&b| char::from(b)).collect();
            v8::Value::from(text)
        }
        _ => return None,
    })
}

/// A cursor over a payload.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// The next tag, past V8's padding bytes.
    fn tag(&mut self) -> Option<u8> {
        loop {
            match self.byte()? {
                0 => continue,
                b => return Some(b),
            }
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A base-128 varint of up to 64 bits.
    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(frame: &[u8]) -> Option<serde_json::Value> {
        match Id::find(Mode::Json, frame) {
            Some(Id::Json(id)) => Some(id),
            None => None,
            other => panic!("{other:?}"),
        }
    }

    fn advanced(frame: &[u8]) -> Option<v8::Value> {
        match Id::find(Mode::Advanced, frame) {
            Some(Id::V8(id)) => Some(id),
            None => None,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_ids_read_before_the_text_goes_wrong() {
        assert_eq!(json(br#"{"id":7,"data":[1,"#), Some(7.into()));
        assert_eq!(json(b"{\"id\":\"a\",\"data\":\"\xff\"}"), Some("a".into()));
        assert_eq!(json(br#"{"id":1,"id":2,"data":}"#), Some(2.into()));
        assert_eq!(json(br#"{"data":x,"id":7}"#), None);
        assert_eq!(json(br#"{"type":"cancel","id":7,"x":}"#), None);
        assert_eq!(json(br#"[{"id":7}, x]"#), None);
        assert_eq!(json(b"\"id\""), None);
        assert_eq!(json(b""), None);
    }

    #[test]
    fn advanced_ids() {
        let frame = |v: &v8::Value| v8::encode(v).unwrap();
        // Decodes, but does not convert: the id as it came.
        let bad = v8::Value::map([(v8::Value::from(1), v8::Value::from("a"))]);
        let msg = v8::Value::object([("data", bad.clone()), ("id", v8::Value::from(-3))]);
        assert_eq!(advanced(&frame(&msg)), Some(v8::Value::from(-3)));
        let cancel = v8::Value::object([
            ("type", v8::Value::from("cancel")),
            ("id", v8::Value::from(1)),
        ]);
        assert_eq!(advanced(&frame(&cancel)), None);
        assert_eq!(advanced(&frame(&bad)), None);
        // Does not decode: the leading id, of each form.
        for id in [
            v8::Value::from(5),
            v8::Value::Int32(-70000),
            v8::Value::Double(2.5),
            v8::Value::Uint32(9),
            v8::Value::from("r\u{e9}q"),
        ] {
            let mut bytes = frame(&v8::Value::object([("id", id.clone())]));
            bytes.truncate(bytes.len() - 2);
            bytes.push(b'?');
            assert!(v8::decode(&bytes).is_err());
            assert_eq!(advanced(&bytes), Some(id));
        }
        // Nothing to find: not first, not an object, cut short, garbage.
        let mut later = frame(&v8::Value::object([("x", 1), ("id", 2)]));
        later.truncate(later.len() - 2);
        assert_eq!(advanced(&later), None);
        assert_eq!(advanced(b"\xff\x0fA\x01I\x02"), None);
        assert_eq!(advanced(b"\xff\x0fo\"\x02idN\x00"), None);
        assert_eq!(
            advanced(b"\xff\x0fo\"\x02idI\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
            None
        );
        assert_eq!(advanced(b""), None);
        assert_eq!(advanced(b"{\"id\":1}"), None);
    }
}
