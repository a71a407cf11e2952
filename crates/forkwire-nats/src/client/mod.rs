//! The remote pool: requests to a service's sidecars through NATS, with
//! the local pool's promises. Every request settles exactly once, with its
//! result, its worker's error, a timeout, an abort, a lost sidecar, a lost
//! connection, or the pool closing.
//!
//! Three tasks on a tokio runtime do the work: the publisher sends what
//! the pool hands it, the receiver reads answers and keepalives on the
//! pool's inbox, the clock settles requests past their deadline or
//! unclaimed past `lost_after` (resending those with retries left).

mod health;
mod pending;
mod tasks;

pub use health::SidecarHealth;

use crate::connect::NatsOptions;
use crate::protocol;
use bytes::Bytes;
use forkwire::pool::{
    ErrorCode, LatencyHistogram, Outcome, Payload, PoolMetrics, PoolStats, RequestError, Settled,
};
use parking_lot::Mutex;
use pending::{Done, Entry, Pending};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How a remote pool is set up.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// The NATS servers and credentials.
    pub nats: NatsOptions,
    /// The service the sidecars serve (`forkwire-sidecar --service`).
    pub service: String,
    /// The timeout of requests that give none; `None`: no timeout.
    pub timeout: Option<Duration>,
    /// Resends of a request whose sidecar was lost (or whose connection
    /// was), for requests that give none. NATS delivers at most once, so
    /// only work that may run twice (idempotent) should have any.
    pub retries: u32,
    /// A request that no sidecar has claimed for this long (sidecars claim
    /// what they hold every [`protocol::KEEPALIVE_EVERY`]) was lost: it is
    /// resent or settles with `ERR_FORKWIRE_WORKER_EXITED`. Zero: never.
    pub lost_after: Duration,
    /// Open requests at most; more are refused with
    /// `ERR_FORKWIRE_QUEUE_FULL`.
    pub max_pending: usize,
}

impl RemoteOptions {
    /// Options for `service` on the servers of `nats`.
    pub fn new(nats: NatsOptions, service: impl Into<String>) -> RemoteOptions {
        RemoteOptions {
            nats,
            service: service.into(),
            timeout: None,
            retries: 0,
            lost_after: Duration::from_secs(3),
            max_pending: 1 << 20,
        }
    }
}

/// One request.
#[derive(Clone, Debug, Default)]
pub struct RemoteRequest {
    /// Its id, unique among the pool's open requests ([`RemotePool::next_id`]).
    pub id: u64,
    /// The JSON text of `data` (`None`: no data).
    pub data: Option<String>,
    /// Its `type`.
    pub kind: Option<String>,
    /// `None`: the pool's timeout; `Some(Duration::ZERO)`: none.
    pub timeout: Option<Duration>,
    /// `None`: the pool's retries.
    pub retries: Option<u32>,
}

/// Something that happened to the pool's connection.
#[derive(Clone, Debug, PartialEq)]
pub enum RemoteEvent {
    /// Connected (first or again) to the server at this URL.
    Connected(String),
    /// The connection was lost; the client reconnects on its own.
    Disconnected,
    /// The first connection could not be made; every request fails.
    Failed(String),
    /// A server or client error (a permission violation, a slow consumer).
    Error(String),
}

/// Called with each [`RemoteEvent`], on a runtime thread.
pub type RemoteEvents = Arc<dyn Fn(RemoteEvent) + Send + Sync>;

/// What `stats()` shows of a remote pool: the local pool's fields (with
/// no workers of its own) and the connection's.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStats {
    /// Counters and latency, as a local pool's.
    #[serde(flatten)]
    pub pool: PoolStats,
    /// The service called.
    pub service: String,
    /// Whether the connection is up.
    pub connected: bool,
    /// The server connected to, if any.
    pub server: Option<String>,
    /// Times the connection was lost.
    pub disconnects: u64,
    /// Requests a busy sidecar gave back, sent again.
    pub busy_resends: u64,
    /// Requests no sidecar claimed in time.
    pub lost: u64,
}

#[derive(Clone, Debug, PartialEq)]
enum Connection {
    Connecting,
    Up(String),
    Down,
    Failed(String),
    Closed,
}

struct State {
    pending: Pending,
    connection: Connection,
    stats: RemoteStats,
    latency: LatencyHistogram,
    /// Failures by code (`ErrorCode::index`), for `metrics()`.
    failures: [u64; ErrorCode::ALL.len()],
    /// Requests to send once connected: made before the first connection
    /// or while it was down (`false`), or in flight with a retry left when
    /// it went (`true`: the resend spends it).
    unsent: Vec<(u64, bool)>,
}

/// What the publisher task is asked to send.
enum Out {
    Request {
        id: u64,
        kind: Option<Arc<str>>,
        data: Bytes,
        budget_ms: Option<u64>,
    },
    Cancel(u64),
}

struct Shared {
    options: RemoteOptions,
    subject: String,
    cancel_subject: String,
    /// `_INBOX.<unique>`, set once connected.
    inbox: OnceLock<String>,
    state: Mutex<State>,
    out: mpsc::UnboundedSender<Out>,
    settled: Option<Settled>,
    events: RemoteEvents,
    next_id: AtomicU64,
    /// Closed: the tasks end.
    stop: watch::Sender<bool>,
    /// Wakes the clock when the first request opens.
    work: tokio::sync::Notify,
    /// The first connection's fate.
    ready: watch::Sender<Option<Result<(), String>>>,
    client: OnceLock<async_nats::Client>,
}

/// A pool of remote workers: every sidecar serving `service`.
pub struct RemotePool {
    shared: Arc<Shared>,
}

impl RemotePool {
    /// Connects on the current tokio runtime and waits for the first
    /// connection: an error if no server could be reached or it refused
    /// the credentials.
    pub async fn connect(options: RemoteOptions) -> Result<RemotePool, RequestError> {
        let pool = RemotePool::start(
            &tokio::runtime::Handle::current(),
            options,
            None,
            Arc::new(|_| {}),
        )?;
        pool.ready().await?;
        Ok(pool)
    }

    /// Starts connecting on `runtime` and returns at once. Requests made
    /// meanwhile wait for the connection. `settled` hears every request
    /// submitted without its own callback; `events` the connection's
    /// events.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        options: RemoteOptions,
        settled: Option<Settled>,
        events: RemoteEvents,
    ) -> Result<RemotePool, RequestError> {
        protocol::check_service_name(&options.service)
            .map_err(|m| RequestError::new(ErrorCode::Spawn, m))?;
        let (out, out_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            subject: protocol::request_subject(&options.service),
            cancel_subject: protocol::cancel_subject(&options.service),
            inbox: OnceLock::new(),
            state: Mutex::new(State {
                pending: Pending::default(),
                connection: Connection::Connecting,
                stats: RemoteStats {
                    service: options.service.clone(),
                    ..RemoteStats::default()
                },
                latency: LatencyHistogram::new(),
                failures: [0; ErrorCode::ALL.len()],
                unsent: Vec::new(),
            }),
            options,
            out,
            settled,
            events,
            next_id: AtomicU64::new(1),
            work: tokio::sync::Notify::new(),
            stop: watch::channel(false).0,
            ready: watch::channel(None).0,
            client: OnceLock::new(),
        });
        runtime.spawn(tasks::run(Arc::clone(&shared), out_rx));
        Ok(RemotePool { shared })
    }

    /// Resolves once connected; an error if the first connection failed.
    pub async fn ready(&self) -> Result<(), RequestError> {
        let mut ready = self.shared.ready.subscribe();
        let result = ready
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone().unwrap_or(Ok(())))
            .unwrap_or(Ok(()));
        result.map_err(|m| RequestError::new(ErrorCode::Connection, m))
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Ids `n` in a row, the first returned.
    pub fn reserve_ids(&self, n: u64) -> u64 {
        self.shared.next_id.fetch_add(n, Ordering::Relaxed)
    }

    /// Submits a request whose outcome goes to the pool's `settled`
    /// handler (none: it is dropped).
    pub fn submit(&self, request: RemoteRequest) {
        self.shared.submit(request, Done::Pool);
    }

    /// Submits a request; `done` is called once with its outcome.
    pub fn submit_with(&self, request: RemoteRequest, done: impl FnOnce(Outcome) + Send + 'static) {
        self.shared.submit(request, Done::Once(Box::new(done)));
    }

    /// Sends `data` (as JSON) with `kind` and waits for the result.
    pub async fn call<T, R>(&self, kind: Option<&str>, data: &T) -> Result<R, RequestError>
    where
        T: Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        let data = serde_json::to_string(data)
            .map_err(|e| RequestError::new(ErrorCode::Serialize, e.to_string()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let request = RemoteRequest {
            id: self.next_id(),
            data: Some(data),
            kind: kind.map(str::to_owned),
            ..RemoteRequest::default()
        };
        self.submit_with(request, move |outcome| {
            let _ = tx.send(outcome);
        });
        let outcome = rx
            .await
            .map_err(|_| RequestError::new(ErrorCode::Closed, "the pool dropped the request"))?;
        decode(outcome)
    }

    /// Cancels request `id` if it is still open: it settles with `code`
    /// and its sidecar is told (it forwards `{type: 'cancel', id}` to the
    /// worker). True if it was open.
    pub fn cancel(&self, id: u64, code: ErrorCode) -> bool {
        self.cancel_many([id], code) == 1
    }

    /// [`RemotePool::cancel`] of each of `ids`; how many were open.
    pub fn cancel_many(&self, ids: impl IntoIterator<Item = u64>, code: ErrorCode) -> usize {
        let message = code.cancellation_message();
        let taken: Vec<(u64, Entry)> = {
            let mut st = self.shared.state.lock();
            ids.into_iter()
                .filter_map(|id| st.pending.take(id).map(|e| (id, e)))
                .collect()
        };
        let n = taken.len();
        for (id, entry) in taken {
            self.shared.tell_cancel(id);
            self.shared
                .finish(id, entry, Outcome::Failed(RequestError::new(code, message)));
        }
        n
    }

    /// Counters, latency and the connection's state.
    pub fn stats(&self) -> RemoteStats {
        let st = self.shared.state.lock();
        let mut stats = st.stats.clone();
        stats.pool.in_flight = st.pending.len();
        stats.pool.latency_ms = forkwire::pool::LatencyPercentiles::of(&st.latency);
        if let Connection::Up(server) = &st.connection {
            stats.connected = true;
            stats.server = Some(server.clone());
        }
        stats
    }

    /// The pool's metrics in the Prometheus text format (as a local
    /// pool's, with no workers of its own).
    pub fn metrics(&self) -> PoolMetrics {
        let stats = self.stats().pool;
        let st = self.shared.state.lock();
        PoolMetrics::new(stats, st.failures, st.latency.clone())
    }

    /// Asks every sidecar of the service for its stats (`$SRV.STATS`) and
    /// gathers the answers that come within `timeout`.
    pub async fn health(&self, timeout: Duration) -> Result<Vec<SidecarHealth>, RequestError> {
        self.ready().await?;
        let client = self
            .shared
            .client
            .get()
            .ok_or_else(|| RequestError::new(ErrorCode::Connection, "not connected"))?;
        health::gather(client, &self.shared.options.service, timeout).await
    }

    /// Waits (up to `timeout`) for the open requests to settle, then
    /// closes the pool.
    pub async fn close_draining(&self, timeout: Duration) {
        let until = Instant::now() + timeout;
        while !self.shared.state.lock().pending.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.close().await;
    }

    /// Closes the pool: every open request settles with
    /// `ERR_FORKWIRE_CLOSED` (their sidecars are told to cancel them), and
    /// the connection is flushed and dropped.
    pub async fn close(&self) {
        let (taken, up) = {
            let mut st = self.shared.state.lock();
            let up = matches!(st.connection, Connection::Up(_));
            st.connection = Connection::Closed;
            st.unsent.clear();
            (st.pending.take_all(), up)
        };
        self.shared.ready.send_if_modified(|ready| {
            let first = ready.is_none();
            if first {
                *ready = Some(Err("the pool was closed before it connected".into()));
            }
            first
        });
        let ids: Vec<u64> = taken.iter().map(|(id, _)| *id).collect();
        for (id, entry) in taken {
            self.shared.finish(
                id,
                entry,
                Outcome::Failed(RequestError::new(ErrorCode::Closed, "the pool was closed")),
            );
        }
        if let (Some(client), Some(inbox)) = (self.shared.client.get(), self.shared.inbox.get()) {
            // Cancels straight to the connection (the publisher stops now),
            // then drain it: the connection closes and stops reconnecting.
            // Bounded: a dead connection does not hold close() up.
            let bye = async {
                if up {
                    for id in ids {
                        let reply = Bytes::from(format!("{inbox}.{id}"));
                        let _ = client
                            .publish(self.shared.cancel_subject.clone(), reply)
                            .await;
                    }
                }
                let _ = client.drain().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
        }
        self.shared.stop.send_replace(true);
    }
}

impl Drop for RemotePool {
    fn drop(&mut self) {
        self.shared.stop.send_replace(true);
    }
}

impl Shared {
    fn submit(&self, request: RemoteRequest, done: Done) {
        let now = Instant::now();
        let timeout = match request.timeout {
            None => self.options.timeout,
            Some(Duration::ZERO) => None,
            Some(t) => Some(t),
        };
        let kind: Option<Arc<str>> = request.kind.map(Into::into);
        let data = Bytes::from(request.data.unwrap_or_default());
        let entry = Entry {
            done,
            kind: kind.clone(),
            data: data.clone(),
            // A timeout too large to add is none (`Infinity` from JS).
            deadline: timeout.and_then(|t| now.checked_add(t)),
            submitted: now,
            heard: now,
            retries: request.retries.unwrap_or(self.options.retries),
            resend_at: None,
            busy: 0,
        };
        let budget_ms = entry.budget_ms(now);
        let mut up = false;
        let refused = {
            let mut st = self.state.lock();
            let refusal = match &st.connection {
                Connection::Failed(m) => Some((ErrorCode::Connection, m.clone())),
                Connection::Closed => Some((ErrorCode::Closed, "the pool is closed".into())),
                _ if st.pending.len() >= self.options.max_pending => Some((
                    ErrorCode::QueueFull,
                    format!(
                        "{} requests are open already (max_pending)",
                        self.options.max_pending
                    ),
                )),
                _ => None,
            };
            match refusal {
                Some(r) => Some((r, entry)),
                None => match st.pending.insert(request.id, entry) {
                    Ok(()) => {
                        if st.pending.len() == 1 {
                            // The clock sleeps while nothing is open.
                            self.work.notify_one();
                        }
                        up = matches!(st.connection, Connection::Up(_));
                        if !up {
                            // Sent once connected; until then it takes no
                            // room in the publisher's queue.
                            st.unsent.push((request.id, false));
                        }
                        None
                    }
                    Err(entry) => Some((
                        (
                            ErrorCode::Protocol,
                            format!("request id {} is open already", request.id),
                        ),
                        *entry,
                    )),
                },
            }
        };
        if let Some(((code, message), entry)) = refused {
            self.state.lock().stats.pool.rejected += 1;
            self.deliver(
                request.id,
                entry.done,
                Outcome::Failed(RequestError::new(code, message)),
            );
            return;
        }
        if !up {
            return;
        }
        let _ = self.out.send(Out::Request {
            id: request.id,
            kind,
            data,
            budget_ms,
        });
    }

    /// Counts a settled request and tells whoever waits for it.
    fn finish(&self, id: u64, entry: Entry, outcome: Outcome) {
        {
            let mut st = self.state.lock();
            let st = &mut *st;
            let stats = &mut st.stats.pool;
            match &outcome {
                Outcome::Result { .. } => stats.completed += 1,
                Outcome::RemoteError { .. } => {
                    stats.failed += 1;
                    st.failures[ErrorCode::Remote.index()] += 1;
                }
                Outcome::Failed(e) => {
                    stats.failed += 1;
                    st.failures[e.code.index()] += 1;
                    match e.code {
                        ErrorCode::Timeout => stats.timed_out += 1,
                        ErrorCode::Aborted => stats.aborted += 1,
                        _ => {}
                    }
                }
            }
            st.latency.record(entry.submitted.elapsed());
        }
        self.deliver(id, entry.done, outcome);
    }

    fn deliver(&self, id: u64, done: Done, outcome: Outcome) {
        match done {
            Done::Once(done) => done(outcome),
            Done::Pool => {
                if let Some(settled) = &self.settled {
                    settled(id, outcome);
                }
            }
        }
    }
}

/// A remote answer has no worker slot of this process.
pub const NO_WORKER: usize = usize::MAX;

/// The value of a settled request, as [`RemotePool::call`] returns it.
fn decode<R: serde::de::DeserializeOwned>(outcome: Outcome) -> Result<R, RequestError> {
    let protocol = |e: serde_json::Error| RequestError::new(ErrorCode::Protocol, e.to_string());
    match outcome {
        Outcome::Result {
            result: Payload::Json(text),
            ..
        } => serde_json::from_str(text.as_deref().unwrap_or("null")).map_err(protocol),
        Outcome::RemoteError {
            error: Payload::Json(text),
            ..
        } => {
            let value: serde_json::Value =
                serde_json::from_str(text.as_deref().unwrap_or("null")).map_err(protocol)?;
            let message = value
                .as_str()
                .map(str::to_owned)
                .or_else(|| {
                    value
                        .get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| value.to_string());
            Err(RequestError::new(ErrorCode::Remote, message))
        }
        Outcome::Failed(e) => Err(e),
        _ => Err(RequestError::new(
            ErrorCode::Protocol,
            "an answer that is not JSON",
        )),
    }
}
