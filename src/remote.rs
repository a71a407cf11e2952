//! `NativeRemotePool`: forkwire-nats's `RemotePool` as a JS class with the
//! methods of `NativePool` that a remote pool has, delivering through the
//! same inbox, so `lib/pool.js` drives either engine. The NATS client runs
//! on one tokio runtime for the whole addon, started with the first
//! remote pool.

use crate::inbox::Inbox;
use crate::options::{millis, NativeRequestOptions};
use crate::wake::Wake;
use forkwire::pool::{ErrorCode, Outcome};
use forkwire_nats::{NatsOptions, RemoteEvent, RemoteOptions, RemotePool, RemoteRequest};
use napi::bindgen_prelude::{Function, Object};
use napi::{Env, JsValue};
use napi_derive::napi;
use serde_json::json;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Options of a remote pool, as `lib/options.js` checked them. Times are
/// milliseconds.
#[napi(object)]
pub struct NativeRemoteOptions {
    pub servers: Vec<String>,
    pub service: String,
    /// The connection's name on the server.
    pub name: Option<String>,
    pub credentials: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub tls_ca: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Default request timeout; 0 for none.
    pub timeout: f64,
    pub retries: u32,
    /// Silence after which a request counts as lost; 0 for never.
    pub lost_after: f64,
    pub max_pending: f64,
    pub connect_timeout: f64,
}

impl NativeRemoteOptions {
    fn into_remote(self) -> RemoteOptions {
        let nats = NatsOptions {
            servers: self.servers,
            name: self.name,
            credentials: self.credentials.map(Into::into),
            user: self.user.zip(self.password),
            token: self.token,
            tls_ca: self.tls_ca.into_iter().map(Into::into).collect(),
            tls_client: self
                .tls_cert
                .map(Into::into)
                .zip(self.tls_key.map(Into::into)),
            // `Infinity` (wait as long as it takes) is a day.
            connect_timeout: (self.connect_timeout > 0.0)
                .then(|| millis(self.connect_timeout).min(Duration::from_secs(86_400))),
            ..NatsOptions::default()
        };
        let mut options = RemoteOptions::new(nats, self.service);
        options.timeout = (self.timeout > 0.0).then(|| millis(self.timeout));
        options.retries = self.retries;
        options.lost_after = millis(self.lost_after);
        options.max_pending = crate::options::bytes(self.max_pending).max(1);
        options
    }
}

/// The addon's tokio runtime (one thread), made on first use.
fn runtime() -> napi::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("forkwire-nats")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| napi::Error::from_reason(format!("cannot start the NATS runtime: {e}")))
}

/// The native side of a `WorkerPool` with a `nats` option.
#[napi]
pub struct NativeRemotePool {
    pool: Arc<RemotePool>,
    inbox: Arc<Inbox>,
    runtime: &'static tokio::runtime::Runtime,
}

fn event_json(event: RemoteEvent) -> serde_json::Value {
    match event {
        RemoteEvent::Connected(server) => json!({ "state": "connected", "server": server }),
        RemoteEvent::Disconnected => json!({ "state": "disconnected" }),
        RemoteEvent::Failed(message) => json!({ "state": "failed", "message": message }),
        RemoteEvent::Error(message) => json!({ "state": "error", "message": message }),
    }
}

#[napi]
impl NativeRemotePool {
    /// Starts connecting; connection events arrive through the inbox.
    /// `wake` and `resource` as for `NativePool`.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        options: NativeRemoteOptions,
        wake: Function<'_, (), ()>,
        resource: Object<'_>,
    ) -> crate::error::Result<NativeRemotePool> {
        let runtime = runtime().map_err(crate::error::from_napi)?;
        let wake =
            Wake::new(env.raw(), wake.raw(), resource.raw()).map_err(crate::error::from_napi)?;
        // Answers are bounded by max_pending and the server's max_payload.
        let inbox = Arc::new(Inbox::new(wake, usize::MAX));
        let (settled, events) = (Arc::clone(&inbox), Arc::clone(&inbox));
        let pool = RemotePool::start(
            runtime.handle(),
            options.into_remote(),
            Some(Box::new(move |id, outcome: Outcome| {
                settled.settled(id, outcome)
            })),
            Arc::new(move |event| events.connection(event_json(event))),
        )
        .map_err(crate::error::from_request)?;
        Ok(NativeRemotePool {
            pool: Arc::new(pool),
            inbox,
            runtime,
        })
    }

    /// Submits a request: `data` is `JSON.stringify(data)`. A worker,
    /// role or key is refused by `lib/` before it gets here.
    #[napi(catch_unwind)]
    pub fn request(&self, id: i64, data: Option<String>, options: Option<NativeRequestOptions>) {
        let options = options.unwrap_or_default();
        self.pool.submit(RemoteRequest {
            id: id as u64,
            data,
            kind: options.kind,
            timeout: options.timeout.map(millis),
            retries: options.retries,
        });
    }

    /// Submits many requests with ids `first_id..`: `items` is
    /// `JSON.stringify` of the array of their `data`.
    #[napi(catch_unwind)]
    pub fn request_many(
        &self,
        first_id: i64,
        items: String,
        kind: Option<String>,
        timeout_ms: Option<f64>,
    ) -> crate::error::Result<u32> {
        let parts = crate::pool::json_items(&items)?;
        for (i, part) in parts.iter().enumerate() {
            self.pool.submit(RemoteRequest {
                id: first_id as u64 + i as u64,
                data: Some(part.get().to_string()),
                kind: kind.clone(),
                timeout: timeout_ms.filter(|ms| *ms >= 0.0).map(millis),
                retries: None,
            });
        }
        Ok(parts.len() as u32)
    }

    /// Aborts request `id`; true if it was still open.
    #[napi(catch_unwind)]
    pub fn abort(&self, id: i64) -> bool {
        self.pool.cancel(id as u64, ErrorCode::Aborted)
    }

    /// Aborts every open request with an id in `first..end`.
    #[napi(catch_unwind)]
    pub fn abort_range(&self, first: i64, end: i64) -> u32 {
        self.pool
            .cancel_many(crate::pool::id_range(first, end), ErrorCode::Aborted) as u32
    }

    /// Whether the pool keeps the event loop alive.
    #[napi(catch_unwind)]
    pub fn set_ref(&self, env: Env, referenced: bool) -> napi::Result<()> {
        self.inbox.set_ref(env.raw(), referenced)
    }

    /// The pool's stats as JSON text.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> String {
        serde_json::to_string(&self.pool.stats()).unwrap_or_else(|_| "{}".into())
    }

    /// The pool's metrics in the Prometheus text format.
    #[napi(catch_unwind)]
    pub fn metrics(&self, labels: Option<Vec<String>>) -> String {
        self.pool
            .metrics()
            .with_labels(crate::pool::pairs(labels))
            .to_string()
    }

    /// Asks the sidecars for their stats for `timeout_ms`; the answer
    /// arrives through the inbox as a health item with id `token`.
    #[napi(catch_unwind)]
    pub fn health(&self, token: u32, timeout_ms: f64) {
        let (pool, inbox) = (Arc::clone(&self.pool), Arc::clone(&self.inbox));
        self.runtime.spawn(async move {
            let answer = match pool.health(millis(timeout_ms)).await {
                Ok(sidecars) => json!({ "sidecars": sidecars }),
                Err(e) => json!({ "error": { "code": e.code.as_str(), "message": e.message } }),
            };
            inbox.health(token, answer);
        });
    }

    /// Takes the pending batch.
    #[napi(catch_unwind)]
    pub fn drain(&self) -> crate::pool::NativeBatch {
        crate::pool::batch(self.inbox.take())
    }

    /// Closes the pool (with `drain`, after the open requests settle or
    /// `timeout_ms` passes); a `Closed` item follows.
    #[napi(catch_unwind)]
    pub fn close(&self, drain: bool, timeout_ms: f64) {
        let (pool, inbox) = (Arc::clone(&self.pool), Arc::clone(&self.inbox));
        let wait = if drain {
            millis(timeout_ms)
        } else {
            Duration::ZERO
        };
        self.runtime.spawn(async move {
            pool.close_draining(wait).await;
            inbox.closed();
        });
    }
}

impl Drop for NativeRemotePool {
    fn drop(&mut self) {
        self.inbox.abandon();
    }
}
