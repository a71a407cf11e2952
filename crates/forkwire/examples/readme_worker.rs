// A Rust worker that a Node parent starts with fork().
// Cargo.toml: forkwire = "0.1", serde_json = "1"
use forkwire::Channel;
use serde_json::{json, Value};

fn main() -> Result<(), forkwire::ChannelError> {
    let mut channel = Channel::from_env()?; // NODE_CHANNEL_FD, as fork() sets it
    while let Some(msg) = channel.recv::<Value>()? {
        // None: the parent disconnected
        let n = msg["data"]["n"].as_f64().unwrap_or(0.0);
        channel.send(&json!({ "id": msg["id"], "result": n * 2.0 }))?;
    }
    Ok(())
}
