//! What crosses NATS between a remote pool and its sidecars: subjects,
//! headers and the meaning of a reply. Both sides use these definitions
//! and nothing else.
//!
//! A request is one NATS message to [`request_subject`], published with a
//! reply subject of the client's (`<inbox>.<id>`): its payload is the JSON
//! text of the envelope's `data` (empty for none), its headers the
//! request's [`TYPE`] and the milliseconds the client still waits
//! ([`TIMEOUT`]). Sidecars subscribe in the queue group [`QUEUE_GROUP`], so
//! NATS gives each request to one of them.
//!
//! The answer goes to the reply subject: the JSON text of `result` (empty
//! for none), or an error in the micro service headers
//! (`Nats-Service-Error`, `Nats-Service-Error-Code`) with the forkwire
//! code in [`ERROR_CODE`] and, for a worker's own error, its JSON in
//! [`WORKER_ERROR`]. Status [`STATUS_BUSY`] means the sidecar did not start
//! the work (it was full or draining), so the client may send it again.
//!
//! While a sidecar holds requests of a client, it tells the client so
//! every [`KEEPALIVE_EVERY`]: one message to `<inbox>.`[`KEEPALIVE_TOKEN`]
//! listing their ids. A request nobody claims for long enough was lost
//! with its sidecar (or never reached one) and the client settles it.

use async_nats::HeaderMap;
use forkwire::pool::ErrorCode;
use std::time::Duration;

/// The request's `type`.
pub const TYPE: &str = "Forkwire-Type";
/// Milliseconds the client still waits for the answer.
pub const TIMEOUT: &str = "Forkwire-Timeout";
/// The forkwire code of an error answer (`ERR_FORKWIRE_...`).
pub const ERROR_CODE: &str = "Forkwire-Error-Code";
/// A worker's own error (`{id, error}`): the JSON text of `error`.
pub const WORKER_ERROR: &str = "Forkwire-Worker-Error";
/// The micro service protocol's error description header.
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// The micro service protocol's error code header.
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";

/// The queue group every sidecar of a service joins (the micro default).
pub const QUEUE_GROUP: &str = "q";
/// The last token of a keepalive's subject.
pub const KEEPALIVE_TOKEN: &str = "held";
/// How often a sidecar lists the requests it holds for each client.
pub const KEEPALIVE_EVERY: Duration = Duration::from_millis(500);

/// Error status: the request was malformed.
pub const STATUS_BAD_REQUEST: u16 = 400;
/// Error status: the work failed (the worker's error, its exit, ...).
pub const STATUS_FAILED: u16 = 500;
/// Error status: the sidecar did not start the work; send it elsewhere.
pub const STATUS_BUSY: u16 = 503;
/// Error status: the request's deadline passed in the sidecar.
pub const STATUS_TIMEOUT: u16 = 504;

/// The subject a service's sidecars take requests on.
pub fn request_subject(service: &str) -> String {
    format!("forkwire.{service}")
}

/// The subject a client announces cancelled requests on; every sidecar of
/// the service hears it, the one that holds the request acts.
pub fn cancel_subject(service: &str) -> String {
    format!("forkwire.{service}.cancel")
}

/// Checks a service name as the micro protocol takes it: letters, digits,
/// `-` and `_`.
pub fn check_service_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "service name {name:?} must be letters, digits, '-' and '_'"
        ))
    }
}

/// The error status a failure with `code` is answered with. Only a
/// refusal before the work started is [`STATUS_BUSY`] (the client sends it
/// again without spending a retry): a pool closing under a running request
/// is a failure like its worker's exit.
pub fn status_of(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::QueueFull => STATUS_BUSY,
        ErrorCode::Timeout => STATUS_TIMEOUT,
        ErrorCode::Serialize => STATUS_BAD_REQUEST,
        _ => STATUS_FAILED,
    }
}

/// The headers of an error answer.
pub fn error_headers(status: u16, code: ErrorCode, message: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(SERVICE_ERROR, header_text(message).as_str());
    headers.insert(SERVICE_ERROR_CODE, status.to_string().as_str());
    headers.insert(ERROR_CODE, code.as_str());
    headers
}

/// `text` as one line: control characters become spaces (in JSON text
/// they can only be whitespace between tokens, so JSON stays JSON).
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` as a header value for people: one line, at most 1 KiB.
pub fn header_text(text: &str) -> String {
    let line = one_line(text);
    match line.char_indices().nth(1024) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line,
    }
}

/// What an answer says, as a client reads it.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// The result's JSON text (`None`: no result, `undefined`).
    Result(Option<String>),
    /// The worker's own error, as JSON text.
    WorkerError(String),
    /// The sidecar or its pool failed the request.
    Failed {
        /// Its stable code.
        code: ErrorCode,
        /// The sidecar's description.
        message: String,
    },
    /// The sidecar did not start the work (full or draining).
    Busy(String),
}

/// Reads an answer: its headers and payload. A payload or worker error
/// that is not JSON is a protocol error, so whatever a sidecar sends, the
/// client passes on only JSON.
pub fn read_answer(headers: Option<&HeaderMap>, payload: &[u8]) -> Answer {
    let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
    let Some(status) = header(SERVICE_ERROR_CODE) else {
        return match json_text(payload) {
            Ok(text) => Answer::Result(text),
            Err(message) => protocol(format!("a result that is not JSON: {message}")),
        };
    };
    let message = header(SERVICE_ERROR).unwrap_or("").to_string();
    if let Some(error) = header(WORKER_ERROR) {
        return match json_text(error.as_bytes()) {
            Ok(Some(text)) => Answer::WorkerError(text),
            _ => protocol("a worker error that is not JSON".into()),
        };
    }
    let code = header(ERROR_CODE)
        .and_then(|c| c.parse().ok())
        .unwrap_or(ErrorCode::Remote);
    if status == STATUS_BUSY.to_string() {
        return Answer::Busy(message);
    }
    Answer::Failed { code, message }
}

fn protocol(message: String) -> Answer {
    Answer::Failed {
        code: ErrorCode::Protocol,
        message: format!("a sidecar sent {message}"),
    }
}

/// `bytes` as JSON text: `None` when empty, an error when not one JSON
/// value. Text with line breaks (legal between JSON tokens) is written
/// again compactly, since forkwire's json mode is one message per line.
pub fn json_text(bytes: &[u8]) -> Result<Option<String>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let raw: &serde_json::value::RawValue =
        serde_json::from_str(text).map_err(|e| e.to_string())?;
    if raw.get().contains(['\n', '\r']) {
        let value: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        return Ok(Some(value.to_string()));
    }
    Ok(Some(raw.get().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_back_as_written() {
        assert_eq!(
            read_answer(None, b"{\"a\":1}"),
            Answer::Result(Some("{\"a\":1}".into()))
        );
        assert_eq!(read_answer(None, b""), Answer::Result(None));
        let headers = error_headers(STATUS_TIMEOUT, ErrorCode::Timeout, "too slow\nreally");
        assert_eq!(
            read_answer(Some(&headers), b""),
            Answer::Failed {
                code: ErrorCode::Timeout,
                message: "too slow really".into()
            }
        );
        assert_eq!(status_of(ErrorCode::QueueFull), STATUS_BUSY);
        assert_eq!(
            status_of(ErrorCode::Closed),
            STATUS_FAILED,
            "a closing pool may have started it"
        );
        let busy = error_headers(STATUS_BUSY, ErrorCode::QueueFull, "full");
        assert_eq!(read_answer(Some(&busy), b""), Answer::Busy("full".into()));
        let mut worker = error_headers(STATUS_FAILED, ErrorCode::Remote, "boom");
        worker.insert(WORKER_ERROR, "{\"message\":\"boom\"}");
        assert_eq!(
            read_answer(Some(&worker), b""),
            Answer::WorkerError("{\"message\":\"boom\"}".into())
        );
    }

    #[test]
    fn what_is_not_json_is_a_protocol_error() {
        for payload in [&b"{"[..], b"\xff", b"1 2", b"undefined"] {
            match read_answer(None, payload) {
                Answer::Failed { code, .. } => assert_eq!(code, ErrorCode::Protocol),
                other => panic!("{payload:?} read as {other:?}"),
            }
        }
        let mut worker = error_headers(STATUS_FAILED, ErrorCode::Remote, "boom");
        worker.insert(WORKER_ERROR, "{nope");
        assert!(matches!(
            read_answer(Some(&worker), b""),
            Answer::Failed {
                code: ErrorCode::Protocol,
                ..
            }
        ));
    }

    #[test]
    fn json_with_line_breaks_is_made_one_line() {
        assert_eq!(json_text(b"[1,\n 2]").unwrap(), Some("[1,2]".into()));
        assert_eq!(json_text(b" 7 ").unwrap(), Some("7".into()));
    }

    #[test]
    fn service_names_are_checked() {
        assert!(check_service_name("resize-v2_x").is_ok());
        for bad in ["", "a.b", "a b", "a*", "é"] {
            assert!(check_service_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_text_is_one_bounded_line() {
        let long = "x".repeat(5000);
        assert_eq!(header_text(&long).len(), 1027);
        assert_eq!(header_text("a\r\nb"), "a  b");
        assert_eq!(one_line("{\"a\":\r\n1}"), "{\"a\":  1}");
    }
}
