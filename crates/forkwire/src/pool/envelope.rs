//! The request/response envelope: `{id, type?, data}` out,
//! `{id, result}` / `{id, error}` / `{id, progress}` back, anything else is
//! an event.
//!
//! Replies are only probed, not decoded: in json mode the `id` is read and
//! the `result` or `error` member is cut out as raw JSON text, which goes to
//! the caller untouched.

use super::events::Payload;
use crate::codec::{self, json, v8, Mode};
use crate::vocabulary;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What a frame from a worker is.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// Carries an `id` this pool may be waiting for.
    Reply {
        id: u64,
        kind: ReplyKind,
        payload: Payload,
        /// JSON text of the `version` member, if there was one.
        version: Option<String>,
    },
    /// `{type: 'heartbeat', ...}`: the answer to a heartbeat request.
    Heartbeat(Payload),
    /// `{type: 'health-status', ...}`: the answer to a health check.
    HealthStatus(Payload),
    /// Anything else.
    Event(Payload),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    Result,
    Error,
    Progress,
}

/// The members of a reply, as raw JSON. A member that is present holds
/// `Some` even when its value is `null` (`{id, result: null}` resolves to
/// `null`, not `undefined`).
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    progress: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    version: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Classifies one frame's payload. An error is a frame that is not valid
/// in the pool's mode.
pub(crate) fn parse(mode: Mode, frame: &[u8]) -> Result<Incoming, String> {
    match mode {
        Mode::Json => parse_json(frame),
        Mode::Advanced => parse_advanced(frame),
    }
}

/// advanced mode: the frame is probed for the envelope's members (walked
/// and checked whole, as `v8::decode` would, without building the values
/// it holds); the caller gets the whole payload and picks the member after
/// its own decode (V8 back-references make cutting a member out unsafe).
fn parse_advanced(frame: &[u8]) -> Result<Incoming, String> {
    let probe = v8::probe(
        frame,
        &["id", "type", "error", "result", "progress", "version"],
    )
    .map_err(|e| e.to_string())?;
    let whole = || Payload::Frame(frame.to_vec());
    // `undefined` members count as missing, as in JavaScript.
    let get = |name: &str| {
        Some(probe.get(name))
            .filter(|m| m.is_present() && !m.value().is_some_and(v8::Value::is_undefined))
    };
    let id = get("id")
        .and_then(v8::Member::value)
        .and_then(v8::Value::as_f64)
        .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= 9007199254740991.0);
    let Some(id) = id else {
        return Ok(unsolicited(
            get("type").and_then(v8::Member::as_str),
            whole(),
        ));
    };
    let kind = if get("error").is_some_and(is_truthy_v8) {
        ReplyKind::Error
    } else if get("result").is_none() && get("progress").is_some() {
        ReplyKind::Progress
    } else {
        ReplyKind::Result
    };
    Ok(Incoming::Reply {
        id: id as u64,
        kind,
        payload: whole(),
        version: get("version").map(version_text),
    })
}

/// The JSON text a `version` member is compared by. Versions are strings
/// or numbers; an object never matches one, and is neither built nor
/// converted (a value of shared references could expand without bound).
fn version_text(v: &v8::Member) -> String {
    match v.value() {
        Some(v) => v.to_json().to_string(),
        None => "<object>".to_owned(),
    }
}

/// JavaScript truthiness of a probed member, as `if (error)` sees it:
/// every object is truthy.
fn is_truthy_v8(v: &v8::Member) -> bool {
    let Some(v) = v.value() else {
        return v.is_object();
    };
    if v.is_nullish() {
        return false;
    }
    if let Some(b) = v.as_bool() {
        return b;
    }
    if let Some(f) = v.as_f64() {
        return f != 0.0 && !f.is_nan();
    }
    if let Some(s) = v.as_js_string() {
        return !s.is_empty();
    }
    if let Some(b) = v.as_bigint() {
        return !b.is_zero();
    }
    true
}

fn parse_json(frame: &[u8]) -> Result<Incoming, String> {
    match probe_json(frame) {
        Some(incoming) => Ok(incoming),
        None => {
            // Lone surrogates (which Node writes as escapes) make the fast
            // path fail; repair them, or report why the frame is bad.
            let repaired = json::replace_lone_surrogates(frame);
            if let Some(fixed) = repaired.as_deref() {
                if let Some(incoming) = probe_json(fixed) {
                    return Ok(incoming);
                }
            }
            json::decode::<serde::de::IgnoredAny>(frame).map_err(|e| e.to_string())?;
            // Valid JSON that is not an object: an event.
            Ok(Incoming::Event(Payload::Json(Some(text(
                repaired.as_deref().unwrap_or(frame),
            )))))
        }
    }
}

fn probe_json(frame: &[u8]) -> Option<Incoming> {
    if frame.first() != Some(&b'{') {
        return None;
    }
    probe_result(frame).or_else(|| probe_members(frame))
}

/// Any object: its members read as raw JSON.
fn probe_members(frame: &[u8]) -> Option<Incoming> {
    let probe: Probe<'_> = serde_json::from_slice(frame).ok()?;
    let whole = || Payload::Json(Some(text(frame)));
    let Some(id) = probe.id.and_then(|raw| raw.get().parse::<u64>().ok()) else {
        return Some(unsolicited(probe.kind.as_deref(), whole()));
    };
    let raw = |v: Option<&RawValue>| Payload::Json(v.map(|r| r.get().to_owned()));
    let (kind, payload) = if probe.error.is_some_and(|e| is_truthy(e.get())) {
        (ReplyKind::Error, raw(probe.error))
    } else if probe.result.is_none() && probe.progress.is_some() {
        (ReplyKind::Progress, raw(probe.progress))
    } else {
        (ReplyKind::Result, raw(probe.result))
    };
    Some(Incoming::Reply {
        id,
        kind,
        payload,
        version: probe.version.map(|v| v.get().to_owned()),
    })
}

/// The common reply, `{"id":N,"result":R}` as `process.send` and this
/// crate's workers write it, cut without the general probe (a fraction of
/// its instructions): `N` a plain integer, `R` one JSON value with nothing
/// after it. `None` for anything else, which [`probe_members`] reads.
fn probe_result(frame: &[u8]) -> Option<Incoming> {
    let rest = frame.strip_prefix(b"{\"id\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    // JSON has no leading zeros; ids stay below 2^53 in JavaScript.
    if digits == 0 || digits > 15 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let id = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let result = rest[digits..]
        .strip_prefix(b",\"result\":")?
        .strip_suffix(b"}")?;
    // Exactly one value: a member after `result` leaves text behind it.
    let raw: &RawValue = serde_json::from_slice(result).ok()?;
    Some(Incoming::Reply {
        id,
        kind: ReplyKind::Result,
        payload: Payload::Json(Some(raw.get().to_owned())),
        version: None,
    })
}

/// JavaScript truthiness of a JSON value, as `if (error)` sees it.
fn is_truthy(json: &str) -> bool {
    !matches!(json, "null" | "false" | "0" | "\"\"" | "-0")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds the frame of a request: `{"id":N,"type":T,"version":V,"data":DATA}`
/// plus framing. `data_json` must be JSON text (as `JSON.stringify` writes
/// it); `None` leaves `data` out, as `undefined` would be. `version_json`
/// is JSON text too.
pub(crate) fn json_request(
    id: u64,
    kind: Option<&str>,
    version_json: Option<&str>,
    data_json: Option<&str>,
) -> Vec<u8> {
    // The exact size (unless `kind` needs escapes), so that the pool
    // keeps the frame as it is without reallocating.
    let size = 8
        + decimal_len(id)
        + kind.map_or(0, |k| 10 + k.len())
        + version_json.map_or(0, |v| 11 + v.len())
        + data_json.map_or(0, |d| 8 + d.len());
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"id\":");
    push_decimal(&mut out, id);
    if let Some(kind) = kind {
        out.extend_from_slice(b",\"type\":");
        // Writing a &str cannot fail.
        let _ = serde_json::to_writer(&mut out, kind);
    }
    if let Some(version) = version_json {
        out.extend_from_slice(b",\"version\":");
        out.extend_from_slice(version.as_bytes());
    }
    if let Some(data) = data_json {
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(data.as_bytes());
    }
    out.extend_from_slice(b"}\n");
    out
}

/// How many decimal digits `n` has.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Appends `n` in decimal (no allocation, unlike `to_string`).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The frame telling a worker to stop working on request `id`.
pub(crate) fn cancel_frame(mode: Mode, id: u64) -> Option<Vec<u8>> {
    control_frame(
        mode,
        &serde_json::json!({ "type": vocabulary::CANCEL, "id": id }),
    )
}

/// A message without an id, by its `type`.
fn unsolicited(kind: Option<&str>, whole: Payload) -> Incoming {
    match kind {
        Some(vocabulary::HEARTBEAT) => Incoming::Heartbeat(whole),
        Some(vocabulary::HEALTH_STATUS) => Incoming::HealthStatus(whole),
        _ => Incoming::Event(whole),
    }
}

/// The frame asking a worker for `{type: 'health-status'}`.
pub(crate) fn health_check(mode: Mode) -> Option<Vec<u8>> {
    control_frame(
        mode,
        &serde_json::json!({ "type": vocabulary::HEALTH_CHECK }),
    )
}

/// The frame asking a worker for `{type: 'heartbeat'}`.
pub(crate) fn heartbeat_request(mode: Mode) -> Option<Vec<u8>> {
    control_frame(
        mode,
        &serde_json::json!({ "type": vocabulary::HEARTBEAT_REQUEST }),
    )
}

fn control_frame(mode: Mode, message: &serde_json::Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    codec::encode_frame(mode, message, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Incoming {
        parse(Mode::Json, s.as_bytes()).unwrap()
    }

    fn p(s: &str) -> Payload {
        Payload::Json(Some(s.to_owned()))
    }

    #[test]
    fn replies_and_events() {
        assert!(matches!(json(r#"{"id":7,"result":{"a":[1,2]}}"#),
            Incoming::Reply { id: 7, kind: ReplyKind::Result, payload, .. } if payload == p(r#"{"a":[1,2]}"#)));
        assert!(matches!(json(r#"{"error":"bad","id":8}"#),
            Incoming::Reply { id: 8, kind: ReplyKind::Error, payload, .. } if payload == p(r#""bad""#)));
        assert!(matches!(
            json(r#"{"id":9,"error":null,"result":1}"#),
            Incoming::Reply {
                id: 9,
                kind: ReplyKind::Result,
                ..
            }
        ));
        assert!(matches!(
            json(r#"{"id":9,"progress":0.5}"#),
            Incoming::Reply {
                kind: ReplyKind::Progress,
                ..
            }
        ));
        assert!(matches!(
            json(r#"{"id":10}"#),
            Incoming::Reply {
                id: 10,
                kind: ReplyKind::Result,
                payload: Payload::Json(None),
                ..
            }
        ));
        assert_eq!(
            json(r#"{"type":"heartbeat","timestamp":1}"#),
            Incoming::Heartbeat(p(r#"{"type":"heartbeat","timestamp":1}"#))
        );
        assert_eq!(
            json(r#"{"type":"health-status"}"#),
            Incoming::HealthStatus(p(r#"{"type":"health-status"}"#))
        );
        assert!(matches!(json(r#"{"id":2,"result":1,"version":"1.0"}"#),
            Incoming::Reply { version: Some(v), .. } if v == r#""1.0""#));
        assert_eq!(json(r#"{"id":"x"}"#), Incoming::Event(p(r#"{"id":"x"}"#)));
        assert_eq!(json("42"), Incoming::Event(p("42")));
        // Raw members pass through untouched: JavaScript reads the lone
        // surrogate escape back as the same lone surrogate.
        assert!(matches!(
            json(r#"{"id":1,"result":"\ud800"}"#),
            Incoming::Reply { payload, .. } if payload == p(r#""\ud800""#)
        ));
    }

    #[test]
    fn the_common_reply_reads_as_the_general_probe_reads_it() {
        let frames = [
            r#"{"id":7,"result":246}"#,
            r#"{"id":0,"result":null}"#,
            r#"{"id":123456789012345,"result":{"a":"}","b":[1,{"c":"\"}"}]}}"#,
            r#"{"id":8,"result":"\ud800 lone"}"#,
            r#"{"id":9,"result":[]}"#,
            r#"{"id":10,"result":-0.5e3}"#,
            r#"{"id":11,"result": 1 }"#,
            r#"{"id":12,"result":1,"version":"1.0"}"#,
            r#"{"id":13,"result":1,"error":"x"}"#,
            r#"{"id":14,"result":{"a":1}"#,
            r#"{"id":15,"result":1}}"#,
            r#"{"id":016,"result":1}"#,
            r#"{"id":-17,"result":1}"#,
            r#"{"id":1e2,"result":1}"#,
            r#"{"id":99999999999999999999,"result":1}"#,
            r#"{"id":18,"result":}"#,
            r#"{"id":19,"results":1}"#,
        ];
        for frame in frames {
            let general = probe_members(frame.as_bytes());
            if let Some(fast) = probe_result(frame.as_bytes()) {
                assert_eq!(Some(fast), general, "{frame}");
            }
        }
        // The common shapes do take the fast path.
        for frame in &frames[..7] {
            assert!(probe_result(frame.as_bytes()).is_some(), "{frame}");
        }
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 99, 12345, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn a_null_result_is_present() {
        assert!(matches!(
            json(r#"{"id":11,"result":null}"#),
            Incoming::Reply { id: 11, kind: ReplyKind::Result, payload, .. } if payload == p("null")
        ));
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(parse(Mode::Json, b"{nope").is_err());
        assert!(parse(Mode::Json, b"\xff").is_err());
    }

    #[test]
    fn request_frames() {
        assert_eq!(
            json_request(3, Some("add\""), None, Some("[1,2]")),
            b"{\"id\":3,\"type\":\"add\\\"\",\"data\":[1,2]}\n"
        );
        assert_eq!(
            json_request(4, None, Some("\"1.0\""), None),
            b"{\"id\":4,\"version\":\"1.0\"}\n"
        );
        assert_eq!(
            cancel_frame(Mode::Json, 5).unwrap(),
            b"{\"type\":\"cancel\",\"id\":5}\n"
        );
    }

    #[test]
    fn request_frames_are_built_at_their_size() {
        for (id, kind, version, data) in [
            (0, None, None, None),
            (9, Some("add"), None, Some("{\"n\":1}")),
            (10, None, Some("\"2\""), Some("[]")),
            (u64::MAX, Some("t"), Some("1"), Some("null")),
        ] {
            let frame = json_request(id, kind, version, data);
            assert_eq!(frame.capacity(), frame.len(), "id {id}");
        }
    }
}
