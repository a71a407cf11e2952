//! Echoes every message back with nothing lost, for `serialization:
//! 'advanced'` (undefined, NaN, -0, BigInt, Date, RegExp, Map, Set,
//! Buffers and typed arrays, sparse arrays, shared and circular references,
//! Errors). A request `{id, data}` is answered `{id, result: data}`;
//! anything else comes back as it was.

use forkwire::codec::v8::Value;
use forkwire::Channel;

fn main() {
    let mut channel = match Channel::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("advanced_echo: {e}");
            std::process::exit(2);
        }
    };
    loop {
        let msg = match channel.recv::<Value>() {
            Ok(Some(msg)) => msg,
            Ok(None) => break,
            Err(e) => {
                eprintln!("advanced_echo: {e}");
                continue;
            }
        };
        let reply = match (msg.get("id"), msg.get("data")) {
            (Some(id), Some(data)) => Value::object([("id", id.clone()), ("result", data.clone())]),
            _ => msg,
        };
        if let Err(e) = channel.send(&reply) {
            eprintln!("advanced_echo: {e}");
        }
    }
}
