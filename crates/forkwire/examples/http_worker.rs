//! A Rust HTTP worker behind a Node front end: the front end accepts
//! connections and hands each one over with
//! `pool.request({}, { handle: socket })` (see `examples/http-frontend.js`
//! in the npm package); this worker then owns the connection and answers
//! every request on it with a fixed tiny response, until the client
//! closes it. The request settles as soon as the connection is taken.
//!
//! Build: `cargo build --release -p forkwire --example http_worker`.

use forkwire::channel::Handle;
use forkwire::serve::{Request, ServeError, Worker};
use serde_json::{json, Value};
use std::io::{Read, Write};

const BODY: &str = "hello world\n";

fn main() -> Result<(), forkwire::ChannelError> {
    Worker::from_env()?
        .concurrency(2)
        .serve(|mut req: Request| -> Result<Value, ServeError> {
            match req.take_handle() {
                Some(Handle::TcpStream(conn)) => hand_off(conn),
                Some(Handle::UnixStream(conn)) => hand_off(conn),
                Some(_) => Err(ServeError::new("not a connection").code("E_NOT_A_CONNECTION")),
                None => {
                    Err(ServeError::new("no connection came with the request").code("E_NO_HANDLE"))
                }
            }
        })
}

/// A stream socket the front end gave away: blocking mode is ours to set.
trait Connection: Read + Write + Send + 'static {
    fn set_blocking(&self) -> std::io::Result<()>;
}

impl Connection for std::net::TcpStream {
    fn set_blocking(&self) -> std::io::Result<()> {
        self.set_nodelay(true)?;
        self.set_nonblocking(false)
    }
}

impl Connection for std::os::unix::net::UnixStream {
    fn set_blocking(&self) -> std::io::Result<()> {
        self.set_nonblocking(false)
    }
}

fn hand_off(conn: impl Connection) -> Result<Value, ServeError> {
    conn.set_blocking()
        .map_err(|e| ServeError::new(format!("cannot use the connection: {e}")))?;
    std::thread::Builder::new()
        .name("http-conn".into())
        .spawn(move || serve_connection(conn))
        .map_err(|e| ServeError::new(format!("cannot start a thread: {e}")))?;
    Ok(json!(true))
}

/// Answers HTTP/1.1 requests (pipelined or not) until the client closes
/// the connection or asks to.
fn serve_connection(mut conn: impl Connection) {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    let mut replies = Vec::new();
    loop {
        let mut close = false;
        while let Some(head) = find(&buf, b"\r\n\r\n") {
            let request = parse_head(&buf[..head]);
            let whole = head + 4 + request.content_length;
            if buf.len() < whole {
                break;
            }
            buf.drain(..whole);
            replies.extend_from_slice(response.as_bytes());
            if request.close {
                close = true;
                break;
            }
        }
        if !replies.is_empty() {
            if conn.write_all(&replies).is_err() {
                return;
            }
            replies.clear();
        }
        if close {
            return;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 20 {
            // Not HTTP this worker can answer.
            return;
        }
    }
}

struct Head {
    content_length: usize,
    close: bool,
}

fn parse_head(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let http10 = lines.next().is_some_and(|l| l.ends_with("HTTP/1.0"));
    let mut parsed = Head {
        content_length: 0,
        close: http10,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            parsed.content_length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("connection") {
            parsed.close = value.eq_ignore_ascii_case("close");
        }
    }
    parsed
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
