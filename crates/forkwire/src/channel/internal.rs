//! Node's internal messages: objects whose `cmd` starts with `NODE_`.
//!
//! Node routes them to `'internalMessage'`, never to `'message'`, and so
//! does forkwire. The ones that matter here are handle passing
//! (`NODE_HANDLE`, whose sender holds back every later message until the
//! receiver answers `NODE_HANDLE_ACK` or `NODE_HANDLE_NACK`) and the socket
//! lists a `net.Server` keeps of connections it handed to a child
//! (`NODE_SOCKET_NOTIFY_CLOSE`, `NODE_SOCKET_GET_COUNT`).

use super::handle::HandleKind;
use crate::codec::{self, Mode};
use serde_json::Value;

/// An internal message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Internal {
    /// `NODE_HANDLE`: a descriptor came with this frame.
    Handle(HandleMeta),
    /// `NODE_HANDLE_ACK`: the peer took the handle we sent.
    Ack,
    /// `NODE_HANDLE_NACK`: the peer could not take it.
    Nack,
    /// `NODE_SOCKET_NOTIFY_CLOSE`: answer once every socket received with
    /// this key is closed.
    SocketNotifyClose(String),
    /// `NODE_SOCKET_GET_COUNT`: how many sockets received with this key
    /// are still open.
    SocketGetCount(String),
    /// Any other `NODE_*` command; nothing to do.
    Other,
}

/// What a `NODE_HANDLE` frame says about its handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandleMeta {
    /// Its `type`, if Node has that type.
    pub kind: Option<HandleKind>,
    /// Its `key`: a `net.Socket` accepted by a `net.Server` of the sender.
    pub key: Option<String>,
    /// Its `msg` is itself internal (Node emits it as `'internalMessage'`).
    pub internal_msg: bool,
}

/// The members classification reads, from either mode's value.
struct Members {
    cmd: String,
    kind: Option<String>,
    key: Option<String>,
    msg_cmd: Option<String>,
}

/// Classifies a received frame; `None` for a user message.
pub(crate) fn classify(mode: Mode, frame: &[u8]) -> Option<Internal> {
    // Cheap pre-check: an internal message names its command in the clear
    // in both modes (a one-byte string in advanced mode).
    memchr::memmem::find(frame, b"NODE_")?;
    let m = match mode {
        Mode::Json => {
            let value: Value = codec::json::decode(frame).ok()?;
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            Members {
                cmd: text(value.as_object()?.get("cmd"))?,
                kind: text(value.get("type")),
                key: text(value.get("key")),
                msg_cmd: text(value.get("msg").and_then(|m| m.get("cmd"))),
            }
        }
        Mode::Advanced => {
            let value = codec::v8::decode(frame).ok()?;
            let text = |v: Option<&codec::v8::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
            Members {
                cmd: text(value.get("cmd"))?,
                kind: text(value.get("type")),
                key: text(value.get("key")),
                msg_cmd: text(value.get("msg").and_then(|m| m.get("cmd"))),
            }
        }
    };
    if !m.cmd.starts_with("NODE_") {
        return None;
    }
    Some(match m.cmd.as_str() {
        "NODE_HANDLE" => Internal::Handle(HandleMeta {
            kind: m.kind.as_deref().and_then(HandleKind::parse),
            key: m.key,
            internal_msg: m.msg_cmd.is_some_and(|c| c.starts_with("NODE_")),
        }),
        "NODE_HANDLE_ACK" => Internal::Ack,
        "NODE_HANDLE_NACK" => Internal::Nack,
        "NODE_SOCKET_NOTIFY_CLOSE" => match m.key {
            Some(key) => Internal::SocketNotifyClose(key),
            None => Internal::Other,
        },
        "NODE_SOCKET_GET_COUNT" => match m.key {
            Some(key) => Internal::SocketGetCount(key),
            None => Internal::Other,
        },
        _ => Internal::Other,
    })
}

/// An internal reply with only a command.
fn reply(cmd: &str) -> Value {
    serde_json::json!({ "cmd": cmd })
}

/// The reply that takes a passed handle.
pub(crate) fn handle_ack() -> Value {
    reply("NODE_HANDLE_ACK")
}

/// The reply that refuses a passed handle.
pub(crate) fn handle_nack() -> Value {
    reply("NODE_HANDLE_NACK")
}

/// The answer to `NODE_SOCKET_GET_COUNT`.
pub(crate) fn socket_count(key: &str, count: usize) -> Value {
    serde_json::json!({ "cmd": "NODE_SOCKET_COUNT", "key": key, "count": count })
}

/// The answer to `NODE_SOCKET_NOTIFY_CLOSE`, once the sockets are closed.
pub(crate) fn sockets_closed(key: &str) -> Value {
    serde_json::json!({ "cmd": "NODE_SOCKET_ALL_CLOSED", "key": key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_node_commands_only() {
        let handle = br#"{"cmd":"NODE_HANDLE","type":"net.Server","msg":{"h":1}}"#;
        assert_eq!(
            classify(Mode::Json, handle),
            Some(Internal::Handle(HandleMeta {
                kind: Some(HandleKind::NetServer),
                key: None,
                internal_msg: false
            }))
        );
        let socket =
            br#"{"cmd":"NODE_HANDLE","type":"net.Socket","msg":{"k":"sock"},"key":"6::::0"}"#;
        assert_eq!(
            classify(Mode::Json, socket),
            Some(Internal::Handle(HandleMeta {
                kind: Some(HandleKind::NetSocket),
                key: Some("6::::0".into()),
                internal_msg: false
            }))
        );
        let odd = br#"{"cmd":"NODE_HANDLE","type":"net.Pipe","msg":{"cmd":"NODE_CLUSTER"}}"#;
        assert_eq!(
            classify(Mode::Json, odd),
            Some(Internal::Handle(HandleMeta {
                kind: None,
                key: None,
                internal_msg: true
            }))
        );
        assert_eq!(
            classify(Mode::Json, br#"{"cmd":"NODE_HANDLE_ACK"}"#),
            Some(Internal::Ack)
        );
        assert_eq!(
            classify(Mode::Json, br#"{"cmd":"NODE_HANDLE_NACK"}"#),
            Some(Internal::Nack)
        );
        assert_eq!(
            classify(
                Mode::Json,
                br#"{"cmd":"NODE_SOCKET_NOTIFY_CLOSE","key":"6::::0"}"#
            ),
            Some(Internal::SocketNotifyClose("6::::0".into()))
        );
        assert_eq!(
            classify(Mode::Json, br#"{"cmd":"NODE_SOCKET_GET_COUNT","key":"k"}"#),
            Some(Internal::SocketGetCount("k".into()))
        );
        assert_eq!(
            classify(Mode::Json, br#"{"cmd":"NODE_CLUSTER","x":1}"#),
            Some(Internal::Other)
        );
        assert_eq!(classify(Mode::Json, br#"{"cmd":"start"}"#), None);
        assert_eq!(classify(Mode::Json, br#"{"text":"NODE_HANDLE"}"#), None);
        assert_eq!(classify(Mode::Json, br#"["NODE_X"]"#), None);
    }

    #[test]
    fn classifies_advanced_frames() {
        let mut frame = Vec::new();
        codec::encode_frame(
            Mode::Advanced,
            &serde_json::json!({ "cmd": "NODE_HANDLE", "type": "net.Socket", "msg": 1, "key": "k" }),
            &mut frame,
        )
        .unwrap();
        assert_eq!(
            classify(Mode::Advanced, &frame[4..]),
            Some(Internal::Handle(HandleMeta {
                kind: Some(HandleKind::NetSocket),
                key: Some("k".into()),
                internal_msg: false
            }))
        );
    }
}
