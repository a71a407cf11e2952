//! The sidecar: a host's forked workers, run by forkwire's own pool (with
//! its supervision: restarts, heartbeats, recycling), served to NATS as a
//! micro service in a queue group.
//!
//! One task does everything that touches the sidecar's state: it takes
//! requests, answers them as the pool settles them, forwards cancels,
//! claims what it holds for each client, answers the discovery verbs, and
//! drains on shutdown. The pool's own threads only hand outcomes over.

pub mod args;
mod held;

use crate::connect::NatsOptions;
use crate::micro::{self, Verb};
use crate::protocol::{self, STATUS_BUSY};
use async_nats::{HeaderMap, Message, Subject};
use bytes::Bytes;
use forkwire::pool::{
    Body, CloseOptions, ErrorCode, Outcome, Payload, Pool, PoolEvent, PoolOptions, Request, Target,
};
use futures_util::{stream, FutureExt, StreamExt};
use held::Held;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// How long a publish may wait for room in the client's queue.
const PUBLISH_WAIT: Duration = Duration::from_secs(1);
/// Request ids per keepalive message.
const CLAIMS_PER_MESSAGE: usize = 4096;

/// How a sidecar is set up.
pub struct SidecarOptions {
    /// The NATS servers and credentials.
    pub nats: NatsOptions,
    /// The service name (letters, digits, `-`, `_`).
    pub service: String,
    /// The version reported to discovery.
    pub version: String,
    /// What the service does, for `$SRV.INFO`.
    pub description: String,
    /// The local pool: the worker command, size, concurrency, timeouts,
    /// supervision.
    pub pool: PoolOptions,
    /// Requests held at most; past it, requests are answered busy (status
    /// 503, never started) and the client sends them elsewhere.
    pub max_in_flight: usize,
    /// How long a drain may take before what is left is cancelled.
    pub drain_timeout: Duration,
}

/// What a sidecar did, when it stops.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests answered with a result.
    pub completed: u64,
    /// Requests answered with an error.
    pub failed: u64,
    /// Requests answered busy.
    pub busy: u64,
}

/// Runs a sidecar until `shutdown` resolves, then drains: it stops taking
/// requests (NATS delivers what it had routed here already), finishes what
/// it holds, closes the pool and returns.
pub async fn run(
    options: SidecarOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<Report, String> {
    protocol::check_service_name(&options.service)?;
    let pool = Pool::with_events(options.pool, Arc::new(log_pool_event))
        .map_err(|e| format!("cannot start the workers: {e}"))?;
    let client = options
        .nats
        .connect(|event| eprintln!("forkwire-sidecar: NATS {event}"))
        .await
        .map_err(|e| e.0)?;
    let id = nuid::next().to_string();
    let subject = protocol::request_subject(&options.service);
    let subscribe_error = |e: async_nats::SubscribeError| format!("cannot subscribe: {e}");
    let requests = client
        .queue_subscribe(subject.clone(), protocol::QUEUE_GROUP.into())
        .await
        .map_err(subscribe_error)?;
    let cancels = client
        .subscribe(protocol::cancel_subject(&options.service))
        .await
        .map_err(subscribe_error)?;
    let mut discovery = Vec::new();
    for s in micro::subjects(&options.service, &id) {
        discovery.push(client.subscribe(s).await.map_err(subscribe_error)?);
    }
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let max_payload = client.server_info().max_payload;
    let mut sidecar = Sidecar {
        client,
        pool: Arc::new(pool),
        id,
        subject,
        started: SystemTime::now(),
        service: options.service,
        version: options.version,
        description: options.description,
        max_in_flight: options.max_in_flight.max(1),
        max_payload,
        held: Held::default(),
        done_tx,
        counters: Counters::default(),
        report: Report::default(),
        draining: false,
    };
    eprintln!(
        "forkwire-sidecar: serving '{}' on {} as {} ({} workers)",
        sidecar.service,
        sidecar.subject,
        sidecar.id,
        sidecar.pool.stats().size
    );
    sidecar
        .serve(
            requests,
            cancels,
            stream::select_all(discovery),
            done_rx,
            shutdown,
            options.drain_timeout,
        )
        .await;
    Ok(sidecar.report)
}

fn log_pool_event(event: PoolEvent) {
    match event {
        PoolEvent::Exit {
            worker,
            pid,
            status,
        } => {
            eprintln!("forkwire-sidecar: worker {worker} (pid {pid}) exited: {status:?}")
        }
        PoolEvent::Error(e) => eprintln!("forkwire-sidecar: {e}"),
        PoolEvent::ProtocolError { worker, message } => {
            eprintln!("forkwire-sidecar: worker {worker}: {message}")
        }
        PoolEvent::Unresponsive { worker, pid } => {
            eprintln!("forkwire-sidecar: worker {worker} (pid {pid}) unresponsive, replaced")
        }
        _ => {}
    }
}

/// The micro endpoint counters.
#[derive(Default)]
struct Counters {
    requests: u64,
    errors: u64,
    processing: Duration,
    last_error: String,
}

struct Sidecar {
    client: async_nats::Client,
    pool: Arc<Pool>,
    id: String,
    subject: String,
    started: SystemTime,
    service: String,
    version: String,
    description: String,
    max_in_flight: usize,
    /// The server's largest message, read once at connection (as the
    /// remote pool's publisher does): answers past it are refused here.
    max_payload: usize,
    held: Held,
    done_tx: mpsc::UnboundedSender<(u64, Outcome)>,
    counters: Counters,
    report: Report,
    draining: bool,
}

impl Sidecar {
    async fn serve(
        &mut self,
        mut requests: async_nats::Subscriber,
        mut cancels: async_nats::Subscriber,
        mut discovery: stream::SelectAll<async_nats::Subscriber>,
        mut done: mpsc::UnboundedReceiver<(u64, Outcome)>,
        shutdown: impl Future<Output = ()>,
        drain_timeout: Duration,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut keepalive = tokio::time::interval(protocol::KEEPALIVE_EVERY);
        let mut requests_open = true;
        let mut drain_deadline = None;
        loop {
            if self.draining && !requests_open && self.held.is_empty() {
                break;
            }
            let until_deadline = async {
                match drain_deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                Some((id, outcome)) = done.recv() => self.answer(id, outcome).await,
                message = requests.next(), if requests_open => match message {
                    Some(message) => self.take(message).await,
                    None => requests_open = false,
                },
                Some(message) = cancels.next() => self.cancel(&message),
                Some(message) = discovery.next() => self.discover(&message).await,
                _ = keepalive.tick() => self.claim().await,
                _ = &mut shutdown, if !self.draining => {
                    eprintln!("forkwire-sidecar: draining ({} held)", self.held.len());
                    self.draining = true;
                    // Unsubscribes, then delivers what the server had sent
                    // before it heard so; the stream ends after that.
                    let _ = requests.drain().await;
                    drain_deadline = Some(tokio::time::Instant::now() + drain_timeout);
                }
                _ = until_deadline => {
                    eprintln!("forkwire-sidecar: drain timed out with {} held", self.held.len());
                    break;
                }
            }
        }
        // What the drained subscription still holds was never started:
        // answered busy, the clients send it to another sidecar.
        while requests_open {
            match requests.next().now_or_never() {
                Some(Some(message)) => {
                    if let Some(reply) = message.reply {
                        self.report.busy += 1;
                        self.publish_error(
                            reply,
                            STATUS_BUSY,
                            ErrorCode::QueueFull,
                            "the sidecar is stopping",
                        )
                        .await;
                    }
                }
                _ => requests_open = false,
            }
        }
        self.close(done, drain_timeout).await;
    }

    /// Closes the pool (what is still held settles as closed) and answers
    /// everything that settles.
    async fn close(
        &mut self,
        mut done: mpsc::UnboundedReceiver<(u64, Outcome)>,
        timeout: Duration,
    ) {
        let pool = Arc::clone(&self.pool);
        let closing = tokio::task::spawn_blocking(move || {
            pool.close(CloseOptions {
                drain: false,
                timeout,
            })
        });
        let _ = closing.await;
        while let Ok((id, outcome)) = done.try_recv() {
            self.answer(id, outcome).await;
        }
        // Bounded: a sidecar told to stop during an outage still stops.
        let _ = tokio::time::timeout(PUBLISH_WAIT, self.client.flush()).await;
        eprintln!(
            "forkwire-sidecar: stopped ({} completed, {} failed, {} busy)",
            self.report.completed, self.report.failed, self.report.busy
        );
    }

    /// A request from a client: into the pool, or answered busy.
    async fn take(&mut self, message: Message) {
        let Some(reply) = message.reply.clone() else {
            return;
        };
        if self.held.len() >= self.max_in_flight {
            self.report.busy += 1;
            let message = format!(
                "the sidecar holds {} requests (--max-in-flight)",
                self.held.len()
            );
            self.publish_error(reply, STATUS_BUSY, ErrorCode::QueueFull, &message)
                .await;
            return;
        }
        let data = match protocol::json_text(&message.payload) {
            Ok(data) => data,
            Err(e) => {
                let message = format!("the request's data is not JSON: {e}");
                self.count(true, Duration::ZERO, &message);
                self.report.failed += 1;
                self.publish_error(
                    reply,
                    protocol::STATUS_BAD_REQUEST,
                    ErrorCode::Serialize,
                    &message,
                )
                .await;
                return;
            }
        };
        let header = |name: &str| {
            message
                .headers
                .as_ref()?
                .get(name)
                .map(|v| v.as_str().to_string())
        };
        let kind = header(protocol::TYPE);
        let budget = header(protocol::TIMEOUT)
            .and_then(|ms| ms.parse::<u64>().ok())
            .map(Duration::from_millis);
        let id = self.pool.next_id();
        self.held.insert(id, reply);
        let tx = self.done_tx.clone();
        self.pool.submit(Request {
            id,
            body: Body::Json { data, kind },
            timeout: budget,
            target: Target::Any,
            retries: None,
            done: Box::new(move |outcome| {
                let _ = tx.send((id, outcome));
            }),
        });
    }

    /// A request settled in the pool: its answer to the client.
    async fn answer(&mut self, id: u64, outcome: Outcome) {
        let Some((reply, taken)) = self.held.remove(id) else {
            return;
        };
        let elapsed = taken.elapsed();
        match outcome {
            Outcome::Result {
                result: Payload::Json(text),
                ..
            } => {
                self.count(false, elapsed, "");
                self.report.completed += 1;
                let payload = Bytes::from(text.unwrap_or_default());
                if payload.len() > self.max_payload {
                    let message = format!(
                        "the result ({} bytes) is larger than the server's max_payload ({})",
                        payload.len(),
                        self.max_payload
                    );
                    self.publish_error(
                        reply,
                        protocol::STATUS_FAILED,
                        ErrorCode::Protocol,
                        &message,
                    )
                    .await;
                    return;
                }
                self.publish(reply, None, payload).await;
            }
            Outcome::RemoteError {
                error: Payload::Json(text),
                ..
            } => {
                let text = text.unwrap_or_else(|| "null".into());
                let message = error_message(&text);
                self.count(true, elapsed, &message);
                self.report.failed += 1;
                let mut headers =
                    protocol::error_headers(protocol::STATUS_FAILED, ErrorCode::Remote, &message);
                // A worker's error larger than a header can reasonably be
                // goes as its message alone.
                let error = if text.len() <= self.max_payload / 2 {
                    protocol::one_line(&text)
                } else {
                    serde_json::json!({ "message": message }).to_string()
                };
                headers.insert(protocol::WORKER_ERROR, error.as_str());
                self.publish(reply, Some(headers), Bytes::new()).await;
            }
            Outcome::Failed(e) => {
                self.count(true, elapsed, &e.message);
                self.report.failed += 1;
                self.publish_error(reply, protocol::status_of(e.code), e.code, &e.message)
                    .await;
            }
            _ => {
                let message = "a worker answered in advanced mode; sidecars run json-mode workers";
                self.count(true, elapsed, message);
                self.report.failed += 1;
                self.publish_error(reply, protocol::STATUS_FAILED, ErrorCode::Protocol, message)
                    .await;
            }
        }
    }

    fn count(&mut self, error: bool, elapsed: Duration, message: &str) {
        let c = &mut self.counters;
        c.requests += 1;
        c.processing += elapsed;
        if error {
            c.errors += 1;
            c.last_error = protocol::header_text(message);
        }
    }

    async fn publish_error(&self, reply: Subject, status: u16, code: ErrorCode, message: &str) {
        let headers: HeaderMap = protocol::error_headers(status, code, message);
        self.publish(reply, Some(headers), Bytes::new()).await;
    }

    /// Publishes, waiting at most [`PUBLISH_WAIT`] for room in the client's
    /// queue: during an outage the loop goes on (cancels, drain deadline)
    /// and what could not be queued is lost, as NATS core may lose it
    /// anyway (the client's keepalive check settles its request).
    async fn publish(&self, subject: Subject, headers: Option<HeaderMap>, payload: Bytes) {
        let send = async {
            match headers {
                Some(headers) => {
                    self.client
                        .publish_with_headers(subject, headers, payload)
                        .await
                }
                None => self.client.publish(subject, payload).await,
            }
        };
        let _ = tokio::time::timeout(PUBLISH_WAIT, send).await;
    }

    /// A client cancelled a request: if it is held here, the pool cancels
    /// it (and tells its worker).
    fn cancel(&mut self, message: &Message) {
        let Ok(reply) = std::str::from_utf8(&message.payload) else {
            return;
        };
        if let Some(id) = self.held.id_of(reply) {
            self.pool.cancel(id, ErrorCode::Aborted);
        }
    }

    /// Tells each client which of its requests are held here.
    async fn claim(&mut self) {
        for (subject, ids) in self.held.claims(protocol::KEEPALIVE_EVERY / 2) {
            // At most 20 bytes an id: a few hundred KiB a message, within
            // the smallest max_payload a server would be given.
            for chunk in ids.chunks(CLAIMS_PER_MESSAGE) {
                let payload = serde_json::to_vec(chunk).unwrap_or_default();
                self.publish(subject.clone(), None, payload.into()).await;
            }
        }
    }

    /// A discovery request.
    async fn discover(&self, message: &Message) {
        let (Some(reply), Some(verb)) = (message.reply.clone(), micro::verb(&message.subject))
        else {
            return;
        };
        let metadata = HashMap::from([("forkwire".to_string(), forkwire_version().to_string())]);
        let json = match verb {
            Verb::Ping => serde_json::to_vec(&micro::PingResponse {
                kind: micro::PING_TYPE.into(),
                name: self.service.clone(),
                id: self.id.clone(),
                version: self.version.clone(),
                metadata,
            }),
            Verb::Info => serde_json::to_vec(&micro::InfoResponse {
                kind: micro::INFO_TYPE.into(),
                name: self.service.clone(),
                id: self.id.clone(),
                description: self.description.clone(),
                version: self.version.clone(),
                metadata,
                endpoints: vec![micro::EndpointInfo {
                    name: "request".into(),
                    subject: self.subject.clone(),
                    queue_group: protocol::QUEUE_GROUP.into(),
                    metadata: HashMap::new(),
                }],
            }),
            Verb::Stats => serde_json::to_vec(&self.stats()),
        };
        if let Ok(json) = json {
            self.publish(reply, None, json.into()).await;
        }
    }

    fn stats(&self) -> micro::StatsResponse {
        let c = &self.counters;
        let processing = c.processing.as_nanos() as u64;
        let data = micro::SidecarData {
            host: host_name(),
            pid: std::process::id(),
            in_flight: self.held.len(),
            max_in_flight: self.max_in_flight,
            draining: self.draining,
            pool: serde_json::to_value(self.pool.stats()).unwrap_or_default(),
        };
        micro::StatsResponse {
            kind: micro::STATS_TYPE.into(),
            name: self.service.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            started: micro::rfc3339(self.started),
            endpoints: vec![micro::EndpointStats {
                name: "request".into(),
                subject: self.subject.clone(),
                queue_group: protocol::QUEUE_GROUP.into(),
                num_requests: c.requests,
                num_errors: c.errors,
                processing_time: processing,
                average_processing_time: processing.checked_div(c.requests).unwrap_or(0),
                last_error: c.last_error.clone(),
                data: serde_json::to_value(data).ok(),
            }],
        }
    }
}

/// The message of a worker's error (its `message`, or the text itself).
fn error_message(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(value) => value
            .get("message")
            .and_then(|m| m.as_str())
            .map_or_else(|| value.to_string(), str::to_owned),
        Err(_) => json.to_string(),
    }
}

fn forkwire_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
