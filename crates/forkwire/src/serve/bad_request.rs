//! Requests that do not decode: what is left to read of them, so that they
//! can still be answered `{id, error}` instead of leaving the parent
//! waiting. See [`request_id`].

use super::ServeError;
use crate::codec::v8;
use crate::codec::Mode;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// The code of the error a request that does not decode is answered with.
pub(super) const CODE: &str = "ERR_BAD_REQUEST";

/// The `id` of a request that does not decode, as a value of the channel's
/// mode (see [`request_id`]).
#[derive(Debug, Clone, PartialEq)]
pub enum RequestId {
    /// In json mode.
    Json(serde_json::Value),
    /// In advanced mode, as it came.
    V8(v8::Value),
}

/// The `id` of the request in `frame`, a frame that does not decode in
/// `mode`, so that the request can still be answered `{id, error}`
/// instead of leaving the parent waiting for it; `None` when no id can be
/// read, and for a cancel message (`{type: 'cancel', id}`), which gets no
/// answer.
///
/// - json: the text is read as an object as far as it goes; an `id` met
///   before it goes wrong (not JSON, not UTF-8) is kept.
/// - advanced: a payload that decodes but does not convert to JSON (a
///   `Map` with number keys, a cycle, ...) gives its top-level object's
///   `id` as it came; one that does not decode at all (nested deeper than
///   the decoder goes, say) gives it when it is the object's first
///   property and a number or a string, as in every request the pool or
///   `child.send({id, ...})` writes.
///
/// [`serve`](super::serve) answers such requests with code
/// `ERR_BAD_REQUEST`; a worker that reads its channel itself can do the
/// same:
///
/// ```
/// use forkwire::serve::{request_id, RequestId};
/// use forkwire::Mode;
///
/// let id = request_id(Mode::Json, br#"{"id":7,"data":[1,"#);
/// assert_eq!(id, Some(RequestId::Json(7.into())));
/// assert_eq!(request_id(Mode::Json, br#"{"type":"cancel","id":7,"#), None);
/// ```
pub fn request_id(mode: Mode, frame: &[u8]) -> Option<RequestId> {
    match mode {
        Mode::Json => json_id(frame).map(RequestId::Json),
        Mode::Advanced => v8_id(frame).map(RequestId::V8),
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
                    self.0.borrow_mut().cancel = kind == crate::vocabulary::CANCEL;
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
        return v8::leading_member(frame, "id");
    };
    if !matches!(value, v8::Value::Object(_))
        || value.get("type").and_then(v8::Value::as_str) == Some(crate::vocabulary::CANCEL)
    {
        return None;
    }
    value.get("id").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(frame: &[u8]) -> Option<serde_json::Value> {
        match request_id(Mode::Json, frame) {
            Some(RequestId::Json(id)) => Some(id),
            None => None,
            other => panic!("{other:?}"),
        }
    }

    fn advanced(frame: &[u8]) -> Option<v8::Value> {
        match request_id(Mode::Advanced, frame) {
            Some(RequestId::V8(id)) => Some(id),
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
