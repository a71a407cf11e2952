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
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

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
#[derive(Default)]
struct Members {
    cmd: Option<String>,
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
        // Only objects can be internal; their members are read in one pass
        // that keeps the few strings it needs and skips the rest.
        Mode::Json if frame.first() == Some(&b'{') => {
            serde_json::from_slice::<JsonMembers>(frame).ok()?.0
        }
        Mode::Json => return None,
        // Probed, not decoded: the frame is checked whole, but only these
        // members are built.
        Mode::Advanced => {
            use codec::v8::{probe_with, Field, Limits, Member};
            const FIELDS: &[Field<'static>] = &[
                Field::new("cmd"),
                Field::new("type"),
                Field::new("key"),
                Field::nested("msg", &["cmd"]),
            ];
            let p = probe_with(frame, FIELDS, &Limits::default()).ok()?;
            let text = |m: &Member| m.as_str().map(str::to_owned);
            Members {
                cmd: text(p.get("cmd")),
                kind: text(p.get("type")),
                key: text(p.get("key")),
                msg_cmd: text(p.get("msg").get("cmd")),
            }
        }
    };
    let cmd = m.cmd?;
    if !cmd.starts_with("NODE_") {
        return None;
    }
    Some(match cmd.as_str() {
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

/// Visitor methods that take a scalar or an array, skip it, and return
/// `$none`.
macro_rules! skip_other_values {
    ($none:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($none)
        }
    };
}

/// A json object's `cmd`, `type`, `key` and `msg.cmd` members, read
/// without building the rest: other members are skipped as the parser
/// passes them (no allocation), so a large frame costs a scan, not a copy.
struct JsonMembers(Members);

/// A member kept if it is a string, skipped otherwise.
struct Text(Option<String>);

/// A `msg` member: its `cmd`, if it is an object with a string one.
struct MsgCmd(Option<String>);

impl<'de> Deserialize<'de> for JsonMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonMembers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonMembers, A::Error> {
                let mut m = Members::default();
                // A repeated member keeps its last value, as in JSON.parse.
                while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                    match &*name {
                        "cmd" => m.cmd = map.next_value::<Text>()?.0,
                        "type" => m.kind = map.next_value::<Text>()?.0,
                        "key" => m.key = map.next_value::<Text>()?.0,
                        "msg" => m.msg_cmd = map.next_value::<MsgCmd>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(JsonMembers(m))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            skip_other_values!(Text(None));
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for MsgCmd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MsgCmd;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MsgCmd, A::Error> {
                let mut cmd = None;
                while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                    if name == "cmd" {
                        cmd = map.next_value::<Text>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(MsgCmd(cmd))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<MsgCmd, E> {
                Ok(MsgCmd(None))
            }
            skip_other_values!(MsgCmd(None));
        }
        d.deserialize_any(V)
    }
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
        // Members of other types are skipped, not fatal.
        assert_eq!(
            classify(
                Mode::Json,
                br#"{"type":5,"cmd":"NODE_HANDLE_ACK","msg":[1,"NODE_"],"key":{"a":[]}}"#
            ),
            Some(Internal::Ack)
        );
        assert_eq!(
            classify(
                Mode::Json,
                br#"{"cmd":"NODE_HANDLE","type":"net.Socket","msg":{"x":[{"cmd":1}],"cmd":"NODE_C"}}"#
            ),
            Some(Internal::Handle(HandleMeta {
                kind: Some(HandleKind::NetSocket),
                key: None,
                internal_msg: true
            }))
        );
        // The last of a repeated member counts, as in JSON.parse.
        assert_eq!(
            classify(Mode::Json, br#"{"cmd":"NODE_HANDLE_ACK","cmd":"user"}"#),
            None
        );
        assert_eq!(classify(Mode::Json, br#"{"cmd":"NODE_HANDLE_ACK""#), None);
    }

    #[test]
    fn members_after_a_large_one_are_found() {
        // 4 MB of array elements behind a user object: classification
        // reads it through without building a value of it.
        let mut frame = br#"{"data":["NODE_""#.to_vec();
        for _ in 0..1_000_000 {
            frame.extend_from_slice(b",0,0");
        }
        frame.extend_from_slice(br#"],"cmd":"NODE_HANDLE_NACK"}"#);
        assert_eq!(classify(Mode::Json, &frame), Some(Internal::Nack));
        frame[1] = b'x';
        assert_eq!(classify(Mode::Json, &frame[..20]), None);
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
