//! One request as a handler sees it, and the handle for sending events.

use crate::channel::{Handle, Sender};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A request from the parent: `{id, type?, data}`.
#[derive(Debug)]
pub struct Request {
    pub(crate) id: Value,
    pub(crate) kind: Option<String>,
    pub(crate) data: Value,
    pub(crate) cancelled: Arc<AtomicBool>,
    pub(crate) out: Sender,
    pub(crate) handle: Option<Handle>,
}

impl Request {
    /// The request's `type`, if it has one.
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// The request's `data`, as JSON.
    pub fn raw(&self) -> &Value {
        &self.data
    }

    /// The request's `data`, decoded as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }

    /// The handle sent with the request (`pool.request(data, { handle })`
    /// in Node), taken out of the request: a connection or server that is
    /// now this worker's. Left in the request, it is closed when the
    /// handler returns. See [`Handle`] on blocking mode.
    pub fn take_handle(&mut self) -> Option<Handle> {
        self.handle.take()
    }

    /// Whether the parent cancelled this request (timeout or abort); the
    /// answer will be dropped, so a long handler may stop early.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Sends `{id, progress}` before the final answer.
    pub fn progress<T: Serialize + ?Sized>(&self, progress: &T) -> Result<(), crate::ChannelError> {
        self.out
            .send(&json!({ "id": self.id, "progress": progress }))
    }

    /// A handle for sending events (messages that are not replies).
    pub fn events(&self) -> Events {
        Events(self.out.clone())
    }
}

/// Sends events to the parent at any time (the pool emits them as
/// `'message'`). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Events(pub(crate) Sender);

impl Events {
    /// Sends one event.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &T) -> Result<(), crate::ChannelError> {
        self.0.send(event)
    }
}
