// A Rust parent with a Node child: `node worker.js`, set up as fork() does.
// Run it in the folder of worker.js (the crate's examples/): cargo run --example readme_parent
use forkwire::process::Command;
use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut child = Command::node("worker.js").spawn()?; // fd 3 + NODE_CHANNEL_FD, like fork()
    let request = json!({ "id": 1, "data": { "n": 21 } });
    child.channel().send(&request)?;
    let reply: Option<Value> = child.channel().recv()?; // None: the child disconnected first
    println!("{}", reply.unwrap_or_default()); // {"id":1,"result":42}
    child.channel().disconnect(); // the child sees 'disconnect', and exits
    let status = child.wait()?; // as Node's 'exit' event: code or signal
    println!("{:?} {:?}", status.code, status.signal); // Some(0) None
    Ok(())
}
