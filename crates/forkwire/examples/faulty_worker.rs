//! A worker that misbehaves on request, for fault tests: it echoes
//! `{id, data}` as `{id, result: data}` unless `data` asks for a fault.
//!
//! - `{garbage: "text"}`: writes `text` and a newline raw, then replies.
//! - `{hugeLine: n}`: writes `n` MiB without a newline, then a newline,
//!   then replies.
//! - `{halfThenExit: code}`: writes half a frame and exits with `code`.
//! - `{flood: n}`: sends `n` unsolicited `{type: 'flood', i}` events, then
//!   replies.
//! - `{wrongId: true}`: replies with an id nobody asked for, then with the
//!   right one.
//! - `{version: v}`: replies with `version: v` in the envelope.

use forkwire::Channel;
use serde_json::{json, Value};

fn main() {
    let mut channel = match Channel::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("faulty_worker: {e}");
            std::process::exit(2);
        }
    };
    let out = channel.sender();
    for msg in channel.incoming::<Value>() {
        let Ok(msg) = msg else { continue };
        let (Some(id), data) = (
            msg.get("id"),
            msg.get("data").cloned().unwrap_or(Value::Null),
        ) else {
            continue;
        };
        if msg.get("type").and_then(Value::as_str) == Some("cancel") {
            continue;
        }
        let field = |k: &str| data.get(k).cloned();
        if let Some(text) = field("garbage").and_then(|v| v.as_str().map(str::to_owned)) {
            let _ = out.send_frames(format!("{text}\n").as_bytes());
        }
        if let Some(mib) = field("hugeLine").and_then(|v| v.as_u64()) {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..mib {
                let _ = out.send_frames(&chunk);
            }
            let _ = out.send_frames(b"\n");
        }
        if let Some(code) = field("halfThenExit").and_then(|v| v.as_i64()) {
            let _ = out.send_frames(format!("{{\"id\":{id},\"res").as_bytes());
            std::process::exit(code as i32);
        }
        if let Some(n) = field("flood").and_then(|v| v.as_u64()) {
            for i in 0..n {
                let _ = out.send(&json!({ "type": "flood", "i": i }));
            }
        }
        if field("wrongId").is_some() {
            let _ = out.send(&json!({ "id": 987_654_321u64, "result": "stray" }));
        }
        let mut reply = json!({ "id": id, "result": data });
        if let Some(v) = field("version") {
            reply["version"] = v;
        }
        let _ = out.send(&reply);
    }
}
