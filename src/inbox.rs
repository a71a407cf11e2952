//! Where pool threads leave settled requests and events for the JS thread.
//!
//! Items pile up under a mutex; the first item after a drain wakes JS with
//! one threadsafe-function call, and JS takes a batch with `drain()`: all
//! that waits, or the oldest [`CHUNK`] of it (JS is woken again for the
//! rest), so no batch comes near V8's longest string. The batch crosses as one JSON array text of
//! `[kind, id, payload, worker, ...]` quadruples (worker -1 where none), which JS parses in one
//! `JSON.parse`; reply payloads are already JSON text and are pasted in
//! as they came from the worker. Advanced-mode frames travel beside it as
//! Buffers, referenced by index.
//!
//! The batch that carries the `Closed` item is the last: once JS has taken
//! it, the wake-up is released (see `src/wake.rs`), so a closed pool holds
//! nothing open in the event loop.

use crate::wake::Wake;
use forkwire::pool::{Outcome, Payload, PoolEvent, RequestError};
use forkwire::process::signal_name;
use parking_lot::{Condvar, Mutex};
use serde_json::json;
use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Added to an item's kind when its payload was absent (`undefined`).
const FLAG_UNDEFINED: u8 = 16;
/// Added to an item's kind when its payload is an index into `frames`.
const FLAG_FRAME: u8 = 32;

/// Kinds of batch items, as `lib/pool.js` reads them.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Kind {
    Result = 0,
    RemoteError = 1,
    Failed = 2,
    Message = 3,
    Progress = 4,
    Exit = 5,
    ProtocolError = 6,
    Error = 7,
    Spawn = 8,
    Closed = 9,
    Unresponsive = 10,
    /// A remote pool's connection event: `{state, server?, message?}`.
    Connection = 11,
    /// A remote pool's `health()` answer (id: the call's token).
    Health = 12,
}

#[derive(Default)]
struct Batch {
    json: String,
    /// Advanced-mode payloads back to back, each after its length (4
    /// bytes, big-endian); `json` gives the offset of that length.
    frames: Vec<u8>,
    /// It holds the `Closed` item: nothing comes after it.
    closed: bool,
}

impl Batch {
    fn bytes(&self) -> usize {
        self.json.len() + self.frames.len()
    }
}

/// A batch is closed to new items once it holds this many bytes; JS takes
/// one batch per `drain()`.
const CHUNK: usize = 8 << 20;

pub struct Inbox {
    /// What waits for JS: batches, oldest first.
    batch: Mutex<VecDeque<Batch>>,
    /// Signalled when JS takes the batch (or nobody will any more).
    room: Condvar,
    /// Bytes past which readers wait.
    limit: usize,
    /// The bytes of every batch waiting; changed under the lock, read
    /// without it.
    waiting_bytes: AtomicUsize,
    /// Set when JS will never drain again: readers stop waiting.
    abandoned: AtomicBool,
    scheduled: AtomicBool,
    wake: Wake,
}

/// How long a reader waits at a time before looking again (a wake-up
/// lost to a JS thread tearing down must not park it for good).
const ROOM_POLL: Duration = Duration::from_millis(100);

impl Inbox {
    pub fn new(wake: Wake, limit: usize) -> Inbox {
        Inbox {
            batch: Mutex::new(VecDeque::new()),
            room: Condvar::new(),
            limit,
            waiting_bytes: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            wake,
        }
    }

    /// Blocks a reader thread while more than `limit` bytes wait for JS.
    /// Called before every frame a reader takes: the common case (room)
    /// is one atomic load, without the lock.
    pub fn wait_for_room(&self) {
        if self.waiting_bytes.load(Ordering::Relaxed) <= self.limit {
            return;
        }
        let mut b = self.batch.lock();
        while self.waiting_bytes.load(Ordering::Relaxed) > self.limit
            && !self.abandoned.load(Ordering::Acquire)
        {
            self.room.wait_for(&mut b, ROOM_POLL);
        }
    }

    /// Whether the wake-up keeps the event loop alive (JS thread only).
    pub fn set_ref(&self, env: napi::sys::napi_env, referenced: bool) -> napi::Result<()> {
        self.wake.set_ref(env, referenced)
    }

    /// JS will not drain again (the pool object is gone): readers go on.
    pub fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
        self.room.notify_all();
    }

    /// Wakes JS to drain, unless a wake-up is already on its way.
    fn schedule(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.wake.call();
        }
    }

    fn push(
        &self,
        kind: Kind,
        id: i64,
        payload: Option<Payload>,
        extra: Option<serde_json::Value>,
        worker: i64,
    ) {
        {
            let mut batches = self.batch.lock();
            let b = match batches.back_mut() {
                Some(b) if b.bytes() < CHUNK => b,
                _ => {
                    batches.push_back(Batch::default());
                    batches.back_mut().expect("a batch was just pushed")
                }
            };
            let before = b.bytes();
            b.closed |= matches!(kind, Kind::Closed);
            let Batch { json, frames, .. } = b;
            json.push(if json.is_empty() { '[' } else { ',' });
            // Numbers go straight into the text: no String per item.
            let flags = match &payload {
                Some(Payload::Json(None)) => FLAG_UNDEFINED,
                Some(Payload::Frame(_)) => FLAG_FRAME,
                _ => 0,
            };
            let _ = write!(json, "{},{},", kind as u8 | flags, id);
            match (payload, extra) {
                (Some(Payload::Json(Some(text))), _) => json.push_str(&text),
                (Some(Payload::Frame(bytes)), _) => {
                    let _ = write!(json, "{}", frames.len());
                    // A payload is at most a frame, and frames are far
                    // below 4 GiB (the channel's frame limit).
                    frames.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                    frames.extend_from_slice(&bytes);
                }
                (None, Some(value)) => {
                    let _ = write!(json, "{value}");
                }
                (Some(Payload::Json(None)), _) | (None, None) => json.push_str("null"),
            }
            let _ = write!(json, ",{worker}");
            self.waiting_bytes
                .fetch_add(b.bytes() - before, Ordering::Relaxed);
        }
        self.schedule();
    }

    /// Takes the oldest batch: the JSON text (with its closing bracket
    /// added) and the frames' bytes. If more wait, JS is woken again for
    /// them. After the batch with the `Closed` item the wake-up is
    /// released.
    pub fn take(&self) -> (String, Vec<u8>) {
        self.scheduled.store(false, Ordering::Release);
        let mut batches = self.batch.lock();
        let batch = batches.pop_front().unwrap_or_default();
        self.waiting_bytes
            .fetch_sub(batch.bytes(), Ordering::Relaxed);
        let more = !batches.is_empty();
        drop(batches);
        self.room.notify_all();
        if more {
            self.schedule();
        }
        if batch.closed {
            // Calls already queued still run; nothing is pushed after
            // `Closed` (every pool thread has ended).
            self.wake.release();
        }
        let Batch {
            mut json, frames, ..
        } = batch;
        if json.is_empty() {
            json.push('[');
        }
        json.push(']');
        (json, frames)
    }

    pub fn settled(&self, id: u64, outcome: Outcome) {
        match outcome {
            Outcome::Result { result, worker } => {
                self.push(Kind::Result, id as i64, Some(result), None, worker as i64)
            }
            Outcome::RemoteError { error, worker } => self.push(
                Kind::RemoteError,
                id as i64,
                Some(error),
                None,
                worker as i64,
            ),
            Outcome::Failed(e) => {
                self.push(Kind::Failed, id as i64, None, Some(error_json(&e)), -1)
            }
        }
    }

    /// A remote pool's connection event (see `src/remote.rs`).
    pub fn connection(&self, event: serde_json::Value) {
        self.push(Kind::Connection, -1, None, Some(event), -1)
    }

    /// The answer to `health()` call `token` of a remote pool.
    pub fn health(&self, token: u32, answer: serde_json::Value) {
        self.push(Kind::Health, i64::from(token), None, Some(answer), -1)
    }

    pub fn event(&self, event: PoolEvent) {
        match event {
            PoolEvent::Message { worker, payload } => self.push(Kind::Message, worker as i64, Some(payload), None, -1),
            PoolEvent::Progress { id, payload } => self.push(Kind::Progress, id as i64, Some(payload), None, -1),
            PoolEvent::Spawn { worker, pid } => self.push(Kind::Spawn, worker as i64, None, Some(json!({ "pid": pid })), -1),
            PoolEvent::Exit { worker, pid, status } => self.push(
                Kind::Exit,
                worker as i64,
                None,
                Some(json!({ "pid": pid, "code": status.code, "signal": status.signal.map(signal_name) })),
                -1,
            ),
            PoolEvent::ProtocolError { worker, message } => {
                self.push(Kind::ProtocolError, worker as i64, None, Some(json!({ "message": message })), -1)
            }
            PoolEvent::Unresponsive { worker, pid } => {
                self.push(Kind::Unresponsive, worker as i64, None, Some(json!({ "pid": pid })), -1)
            }
            PoolEvent::Error(e) => self.push(Kind::Error, -1, None, Some(error_json(&e)), -1),
        }
    }

    pub fn closed(&self) {
        self.push(Kind::Closed, -1, None, None, -1);
    }
}

fn error_json(e: &RequestError) -> serde_json::Value {
    json!({
        "code": e.code.as_str(),
        "message": e.message,
        "worker": e.worker,
        "exitCode": e.exit.and_then(|s| s.code),
        "signal": e.exit.and_then(|s| s.signal).map(signal_name),
    })
}
