//! `NativePool`: the engine's `Pool` as a JS class. It only translates;
//! `lib/pool.js` builds the public `WorkerPool` on it.

use crate::error;
use crate::inbox::Inbox;
use crate::options::{bytes, millis, NativePoolOptions, NativeRequestOptions};
use crate::wake::Wake;
use forkwire::pool::{
    BatchOptions, Body, CloseOptions, ErrorCode, Pool, PoolMetrics, PoolStats, ReadGate, Request,
    Target,
};
use napi::bindgen_prelude::{Buffer, Function, Object};
use napi::{Env, JsValue};
use napi_derive::napi;
use std::sync::Arc;

/// One batch of settled requests and events; see `src/inbox.rs`.
#[napi(object)]
pub struct NativeBatch {
    /// `[kind, id, payload, worker, ...]` as JSON text.
    pub json: String,
    /// Advanced-mode payloads, each after its 4-byte big-endian length;
    /// `json` gives where that length starts. Absent if there are none.
    pub frames: Option<Buffer>,
}

/// The native side of a `WorkerPool`.
#[napi]
pub struct NativePool {
    pool: Arc<Pool>,
    inbox: Arc<Inbox>,
}

fn target(options: &mut NativeRequestOptions) -> Target {
    match (options.worker, options.role.take(), options.key.take()) {
        (Some(w), _, _) => Target::Worker(w as usize),
        (_, Some(role), _) => Target::Role(role),
        (_, _, Some(key)) => Target::Key(key),
        _ => Target::Any,
    }
}

#[napi]
impl NativePool {
    /// Starts the workers. `wake` is called (with no arguments) whenever a
    /// batch is ready for `drain()`. `resource` is what `async_hooks` is
    /// told the wake-up belongs to (the `WorkerPool`, whose `hasRef()`
    /// answers for it); the wake-up starts referenced (see `setRef`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        options: NativePoolOptions,
        wake: Function<'_, (), ()>,
        resource: Object<'_>,
    ) -> crate::error::Result<NativePool> {
        let backlog = bytes(options.max_backlog_bytes);
        let mut engine = options.into_engine().map_err(error::from_napi)?;
        let wake = Wake::new(env.raw(), wake.raw(), resource.raw()).map_err(error::from_napi)?;
        let inbox = Arc::new(Inbox::new(wake, backlog));
        let gate = Arc::clone(&inbox);
        engine.read_gate = Some(ReadGate::new(move || gate.wait_for_room()));
        let (events, settled) = (Arc::clone(&inbox), Arc::clone(&inbox));
        let pool = Pool::with_settled(
            engine,
            Arc::new(move |e| events.event(e)),
            Box::new(move |id, outcome| settled.settled(id, outcome)),
        )
        .map_err(error::from_request)?;
        Ok(NativePool {
            pool: Arc::new(pool),
            inbox,
        })
    }

    /// A request as JS describes it, settled into the inbox.
    fn build(&self, id: i64, body: Body, options: Option<NativeRequestOptions>) -> Request {
        let mut options = options.unwrap_or_default();
        let inbox = Arc::clone(&self.inbox);
        let id = id as u64;
        Request {
            id,
            body,
            // Absent: the pool's; 0: none (`Duration::ZERO`).
            timeout: options.timeout.map(millis),
            target: target(&mut options),
            retries: options.retries,
            done: Box::new(move |outcome| inbox.settled(id, outcome)),
        }
    }

    /// Submits a json-mode request: `data` is `JSON.stringify(data)`.
    #[napi(catch_unwind)]
    pub fn request(&self, id: i64, data: Option<String>, options: Option<NativeRequestOptions>) {
        let kind = options.as_ref().and_then(|o| o.kind.clone());
        self.pool
            .submit(self.build(id, Body::Json { data, kind }, options));
    }

    /// Submits many json-mode requests with ids `first_id..`, any worker,
    /// each with type `kind` (none if absent) and timeout `timeout_ms`
    /// (the pool's if absent or negative). `items` is `JSON.stringify` of
    /// the array of their `data`; it is split here, under one lock for all.
    #[napi(catch_unwind)]
    pub fn request_many(
        &self,
        first_id: i64,
        items: String,
        kind: Option<String>,
        timeout_ms: Option<f64>,
    ) -> crate::error::Result<u32> {
        let parts = json_items(&items)?;
        let options = BatchOptions {
            kind,
            // Absent or negative: the pool's; 0: none (`Duration::ZERO`).
            timeout: timeout_ms.filter(|ms| *ms >= 0.0).map(millis),
            retries: None,
        };
        // The pool was built with a handler (the inbox), so this takes it.
        if !self.pool.submit_json_batch_with(
            first_id as u64,
            parts.iter().map(|p| p.get()),
            &options,
        ) {
            return Err(no_batches());
        }
        Ok(parts.len() as u32)
    }

    /// Submits an advanced-mode request: a whole frame (length prefix and
    /// V8 payload) whose envelope carries `id`.
    #[napi(catch_unwind)]
    pub fn request_frame(&self, id: i64, frame: Buffer, options: Option<NativeRequestOptions>) {
        self.pool
            .submit(self.build(id, Body::Frame(frame.to_vec()), options));
    }

    /// Submits many advanced-mode requests with ids `first_id..`, any
    /// worker, each with timeout `timeout_ms` (the pool's if absent or
    /// negative): `frames` holds their whole frames back to back (each
    /// envelope already carries its id and type), split here and queued
    /// under one lock. Returns how many there were.
    #[napi(catch_unwind)]
    pub fn request_frames(
        &self,
        first_id: i64,
        frames: Buffer,
        timeout_ms: Option<f64>,
    ) -> crate::error::Result<u32> {
        let frames = advanced_frames(&frames)?;
        let options = BatchOptions {
            timeout: timeout_ms.filter(|ms| *ms >= 0.0).map(millis),
            ..BatchOptions::default()
        };
        if !self
            .pool
            .submit_frame_batch_with(first_id as u64, frames.iter().copied(), &options)
        {
            return Err(no_batches());
        }
        Ok(frames.len() as u32)
    }

    /// Submits a request that carries a handle: as `request` (json mode,
    /// `data`; the engine wraps the envelope in the `NODE_HANDLE` frame) or
    /// `requestFrame` (advanced mode, `frame` is the whole `NODE_HANDLE`
    /// frame), plus the handle's descriptor and Node type name. The
    /// descriptor is duplicated before this returns.
    #[napi(catch_unwind)]
    pub fn request_with_handle(
        &self,
        id: i64,
        data: Option<String>,
        frame: Option<Buffer>,
        options: Option<NativeRequestOptions>,
        fd: i32,
        handle_type: String,
    ) -> napi::Result<()> {
        let (handle, handle_kind) = crate::handle::take(fd, &handle_type)?;
        let body = match frame {
            Some(frame) => Body::Frame(frame.to_vec()),
            None => Body::Json {
                data,
                kind: options.as_ref().and_then(|o| o.kind.clone()),
            },
        };
        let request = self.build(id, body, options);
        self.pool.submit_with_handle(request, handle, handle_kind);
        Ok(())
    }

    /// Sends a complete `NODE_HANDLE` frame with a handle to one worker.
    /// The descriptor is duplicated before this returns.
    #[napi(catch_unwind)]
    pub fn send_with_handle(
        &self,
        worker: u32,
        frame: Buffer,
        fd: i32,
        handle_type: String,
    ) -> napi::Result<bool> {
        let (handle, kind) = crate::handle::take(fd, &handle_type)?;
        Ok(self
            .pool
            .send_frame_with_handle(worker as usize, frame.to_vec(), handle, kind))
    }

    /// Aborts request `id`; true if it was still open.
    #[napi(catch_unwind)]
    pub fn abort(&self, id: i64) -> bool {
        self.pool.cancel(id as u64, ErrorCode::Aborted)
    }

    /// Aborts every request with an id in `first..end` that is still open,
    /// under one lock; returns how many were.
    #[napi(catch_unwind)]
    pub fn abort_range(&self, first: i64, end: i64) -> u32 {
        self.pool
            .cancel_many(id_range(first, end), ErrorCode::Aborted) as u32
    }

    /// Whether the pool keeps the event loop alive (until it has closed;
    /// after that nothing does).
    #[napi(catch_unwind)]
    pub fn set_ref(&self, env: Env, referenced: bool) -> napi::Result<()> {
        self.inbox.set_ref(env.raw(), referenced)
    }

    /// Sends a complete frame to one worker.
    #[napi(catch_unwind)]
    pub fn send(&self, worker: u32, frame: Buffer) -> bool {
        self.pool.send_frame(worker as usize, frame.to_vec())
    }

    /// Sends a complete frame to every worker, or those with `role`.
    #[napi(catch_unwind)]
    pub fn broadcast(&self, frame: Buffer, role: Option<String>) -> u32 {
        self.pool.broadcast_frame(frame.to_vec(), role.as_deref()) as u32
    }

    #[napi(catch_unwind)]
    pub fn assign_role(&self, worker: u32, role: String) -> bool {
        self.pool.assign_role(worker as usize, &role)
    }

    #[napi(catch_unwind)]
    pub fn remove_role(&self, worker: u32, role: String) -> bool {
        self.pool.remove_role(worker as usize, &role)
    }

    /// The pool's stats as JSON text.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> String {
        stats_json(&self.pool.stats())
    }

    /// The pool's metrics in the Prometheus text format, with `labels`
    /// (`[name, value, name, value, ...]`, names already checked) on every
    /// sample.
    #[napi(catch_unwind)]
    pub fn metrics(&self, labels: Option<Vec<String>>) -> String {
        self.pool.metrics().with_labels(pairs(labels)).to_string()
    }

    /// Takes the pending batch.
    #[napi(catch_unwind)]
    pub fn drain(&self) -> NativeBatch {
        batch(self.inbox.take())
    }

    /// Closes the pool on a background thread; a `Closed` item arrives
    /// when every worker and thread has ended.
    #[napi(catch_unwind)]
    pub fn close(&self, drain: bool, timeout_ms: f64) {
        let pool = Arc::clone(&self.pool);
        let inbox = Arc::clone(&self.inbox);
        let options = CloseOptions {
            drain,
            timeout: millis(timeout_ms),
        };
        let spawned = std::thread::Builder::new()
            .name("forkwire-close".into())
            .spawn(move || {
                pool.close(options);
                inbox.closed();
            });
        if spawned.is_err() {
            self.pool.close(options);
            self.inbox.closed();
        }
    }
}

impl Drop for NativePool {
    /// The JS object is gone: nothing will drain the inbox again, so the
    /// readers must not wait for room; the pool itself closes when its
    /// last reference goes.
    fn drop(&mut self) {
        self.inbox.abandon();
    }
}

fn stats_json(stats: &PoolStats) -> String {
    serde_json::to_string(stats).unwrap_or_else(|_| "{}".into())
}

/// `requestMany`'s items: `JSON.stringify` of an array, split into the
/// JSON text of each element.
pub(crate) fn json_items(items: &str) -> crate::error::Result<Vec<&serde_json::value::RawValue>> {
    serde_json::from_str(items).map_err(|e| error::error(ErrorCode::Serialize, e.to_string()))
}

/// Whole advanced-mode frames laid back to back (a 4-byte big-endian
/// length, then that many bytes), each with its prefix.
fn advanced_frames(bytes: &[u8]) -> crate::error::Result<Vec<&[u8]>> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = rest
            .first_chunk::<4>()
            .map(|prefix| u32::from_be_bytes(*prefix) as usize + 4)
            .filter(|len| *len <= rest.len())
            .ok_or_else(|| {
                error::error(
                    ErrorCode::Serialize,
                    "a truncated frame in a batch of frames",
                )
            })?;
        let (frame, tail) = rest.split_at(len);
        frames.push(frame);
        rest = tail;
    }
    Ok(frames)
}

/// A pool built without a batch handler was asked for a batch (a bug
/// of the binding, never a user's doing).
fn no_batches() -> napi::Error<crate::error::Code> {
    error::error(ErrorCode::Serialize, "the pool takes no batches")
}

/// The ids `first..end` of an `abortRange` call (negatives are 0).
pub(crate) fn id_range(first: i64, end: i64) -> std::ops::Range<u64> {
    (first.max(0) as u64)..(end.max(0) as u64)
}

/// What `Inbox::take` returns, as JS takes it.
pub(crate) fn batch((json, frames): (String, Vec<u8>)) -> NativeBatch {
    NativeBatch {
        json,
        frames: (!frames.is_empty()).then(|| Buffer::from(frames)),
    }
}

/// `[name, value, ...]` as pairs (an odd last name is dropped).
pub(crate) fn pairs(labels: Option<Vec<String>>) -> Vec<(String, String)> {
    let mut flat = labels.unwrap_or_default().into_iter();
    std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
}

/// The stats of a pool of `size` slots that could not start, as JSON text:
/// the same fields as `NativePool.stats()`, all zero.
#[napi(catch_unwind)]
pub fn empty_stats(size: u32) -> String {
    stats_json(&PoolStats {
        size: size as usize,
        ..PoolStats::default()
    })
}

/// The metrics of a pool of `size` slots that could not start, as
/// `NativePool.metrics()` writes them.
#[napi(catch_unwind)]
pub fn empty_metrics(size: u32, labels: Option<Vec<String>>) -> String {
    PoolMetrics::empty(size as usize)
        .with_labels(pairs(labels))
        .to_string()
}
