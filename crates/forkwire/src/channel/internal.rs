//! Node's internal messages: objects whose `cmd` starts with `NODE_`.
//!
//! Node routes them to `'internalMessage'`, never to `'message'`, and so
//! does forkwire. The one that needs an answer is `NODE_HANDLE`: its sender
//! holds back every later message until the receiver acknowledges, so the
//! receiver must always reply (`NODE_HANDLE_NACK` until handles are taken).

use crate::codec::{self, Mode};
use serde_json::Value;

/// An internal message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Internal {
    /// `NODE_HANDLE`: a descriptor came with this frame.
    Handle,
    /// Any other `NODE_*` command; nothing to do.
    Other,
}

/// Classifies a received frame; `None` for a user message.
pub(crate) fn classify(mode: Mode, frame: &[u8]) -> Option<Internal> {
    // Cheap pre-check: an internal message names its command in the clear
    // in both modes (a one-byte string in advanced mode).
    if !contains(frame, b"NODE_") {
        return None;
    }
    let cmd = match mode {
        Mode::Json => {
            let value: Value = codec::json::decode(frame).ok()?;
            value.as_object()?.get("cmd")?.as_str()?.to_owned()
        }
        Mode::Advanced => codec::v8::decode(frame)
            .ok()?
            .get("cmd")?
            .as_str()?
            .to_owned(),
    };
    if !cmd.starts_with("NODE_") {
        return None;
    }
    Some(if cmd == "NODE_HANDLE" {
        Internal::Handle
    } else {
        Internal::Other
    })
}

/// The reply that refuses a passed handle.
pub(crate) fn handle_nack() -> Value {
    serde_json::json!({ "cmd": "NODE_HANDLE_NACK" })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_node_commands_only() {
        let handle = br#"{"cmd":"NODE_HANDLE","type":"net.Server","msg":{"h":1}}"#;
        assert_eq!(classify(Mode::Json, handle), Some(Internal::Handle));
        assert_eq!(
            classify(Mode::Json, br#"{"cmd":"NODE_CLUSTER","x":1}"#),
            Some(Internal::Other)
        );
        assert_eq!(classify(Mode::Json, br#"{"cmd":"start"}"#), None);
        assert_eq!(classify(Mode::Json, br#"{"text":"NODE_HANDLE"}"#), None);
        assert_eq!(classify(Mode::Json, br#"["NODE_X"]"#), None);
    }
}
