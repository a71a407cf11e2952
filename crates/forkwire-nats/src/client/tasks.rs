//! The remote pool's tasks: connect, then publish, receive and keep time
//! until the pool closes.

use super::pending::Entry;
use super::{Connection, Out, RemoteEvent, Shared};
use crate::protocol::{self, Answer};
use async_nats::{HeaderMap, Message, StatusCode};
use bytes::Bytes;
use forkwire::pool::{ErrorCode, Outcome, Payload, RequestError};
use futures_util::StreamExt;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the clock looks at deadlines and resends.
const TICK: Duration = Duration::from_millis(5);
/// How long a busy sidecar's request waits before it is sent again, the
/// first time; each busy answer in a row doubles it, up to the max.
const BUSY_BACKOFF: Duration = Duration::from_millis(10);
const BUSY_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Why a request is sent again.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Again {
    /// Its first send, held back until connected.
    First,
    /// A busy sidecar gave it back unstarted.
    Busy,
    /// Its sidecar or connection was lost: a retry is spent.
    Retry,
}

impl Again {
    fn connected(spend_retry: bool) -> Again {
        if spend_retry {
            Again::Retry
        } else {
            Again::First
        }
    }
}

/// Connects, then runs the pool until it closes.
pub(super) async fn run(shared: Arc<Shared>, out: mpsc::UnboundedReceiver<Out>) {
    let weak = Arc::downgrade(&shared);
    let connected = shared
        .options
        .nats
        .connect(move |event| on_event(&weak, event))
        .await;
    let client = match connected {
        Ok(client) => client,
        Err(e) => return fail_to_connect(&shared, e.0),
    };
    let inbox = client.new_inbox();
    let answers = match client.subscribe(format!("{inbox}.*")).await {
        Ok(sub) => sub,
        Err(e) => return fail_to_connect(&shared, format!("cannot subscribe to the inbox: {e}")),
    };
    let _ = shared.inbox.set(inbox);
    let _ = shared.client.set(client.clone());
    let server = server_url(&client);
    let unsent = {
        let mut st = shared.state.lock();
        if st.connection == Connection::Closed {
            None
        } else {
            st.connection = Connection::Up(server.clone());
            Some(std::mem::take(&mut st.unsent))
        }
    };
    let Some(unsent) = unsent else {
        // Closed while connecting: nothing more to do here.
        let _ = tokio::time::timeout(Duration::from_secs(1), client.drain()).await;
        return;
    };
    shared.ready.send_replace(Some(Ok(())));
    (shared.events)(RemoteEvent::Connected(server));
    for (id, spend_retry) in unsent {
        shared.send_again(id, Again::connected(spend_retry));
    }
    let mut stop = shared.stop.subscribe();
    tokio::select! {
        _ = publish(&shared, &client, out) => {}
        _ = receive(&shared, answers) => {}
        _ = clock(&shared) => {}
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
}

fn server_url(client: &async_nats::Client) -> String {
    let info = client.server_info();
    format!("nats://{}:{}", info.host, info.port)
}

fn fail_to_connect(shared: &Shared, message: String) {
    let taken = {
        let mut st = shared.state.lock();
        st.connection = Connection::Failed(message.clone());
        st.pending.take_all()
    };
    for (id, entry) in taken {
        shared.finish(id, entry, failed(ErrorCode::Connection, &message));
    }
    shared.ready.send_replace(Some(Err(message.clone())));
    (shared.events)(RemoteEvent::Failed(message));
}

fn failed(code: ErrorCode, message: &str) -> Outcome {
    Outcome::Failed(RequestError::new(code, message))
}

/// A connection event: requests in flight on a lost connection settle (or
/// wait to be resent, with retries left); a regained one resends them.
fn on_event(shared: &Weak<Shared>, event: async_nats::Event) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    match event {
        async_nats::Event::Disconnected => {
            let lost = {
                let mut st = shared.state.lock();
                if !matches!(st.connection, Connection::Up(_)) {
                    return;
                }
                st.connection = Connection::Down;
                st.stats.disconnects += 1;
                let mut lost = Vec::new();
                for id in st.pending.ids() {
                    if st.unsent.iter().any(|&(u, _)| u == id) {
                        continue;
                    }
                    if st.pending.get(id).is_some_and(|e| e.retries > 0) {
                        st.unsent.push((id, true));
                    } else if let Some(entry) = st.pending.take(id) {
                        lost.push((id, entry));
                    }
                }
                lost
            };
            for (id, entry) in lost {
                shared.finish(
                    id,
                    entry,
                    failed(
                        ErrorCode::Connection,
                        "the connection to NATS was lost with the request on it",
                    ),
                );
            }
            (shared.events)(RemoteEvent::Disconnected);
        }
        async_nats::Event::Connected => {
            let resend = {
                let mut st = shared.state.lock();
                if st.connection != Connection::Down {
                    return;
                }
                let server = shared.client.get().map(server_url).unwrap_or_default();
                st.connection = Connection::Up(server);
                std::mem::take(&mut st.unsent)
            };
            for (id, spend_retry) in resend {
                shared.send_again(id, Again::connected(spend_retry));
            }
            let server = shared.client.get().map(server_url).unwrap_or_default();
            (shared.events)(RemoteEvent::Connected(server));
        }
        async_nats::Event::ServerError(e) => {
            (shared.events)(RemoteEvent::Error(format!("NATS server: {e}")))
        }
        // While the connection is down, every failed reconnect attempt is
        // a client error: `Disconnected` said it already.
        async_nats::Event::ClientError(e) => {
            if matches!(shared.state.lock().connection, Connection::Up(_)) {
                (shared.events)(RemoteEvent::Error(format!("NATS client: {e}")));
            }
        }
        async_nats::Event::SlowConsumer(_) => (shared.events)(RemoteEvent::Error(
            "NATS: the pool reads answers too slowly (slow consumer): some were dropped".into(),
        )),
        _ => {}
    }
}

impl Shared {
    /// Settles request `id` (if still open) with a failure.
    fn fail(&self, id: u64, code: ErrorCode, message: &str) {
        let entry = self.state.lock().pending.take(id);
        if let Some(entry) = entry {
            self.finish(id, entry, failed(code, message));
        }
    }

    /// Sends request `id` (again), if it is still open: once connected,
    /// after a busy answer, after its sidecar or connection was lost. While
    /// the connection is down it waits in `unsent` instead.
    pub(super) fn send_again(&self, id: u64, why: Again) {
        let now = Instant::now();
        let out = {
            let mut st = self.state.lock();
            if st.pending.get(id).is_none() {
                return;
            }
            if !matches!(st.connection, Connection::Up(_)) {
                st.unsent.push((id, why == Again::Retry));
                return;
            }
            match why {
                Again::Retry => st.stats.pool.retried += 1,
                Again::Busy => st.stats.busy_resends += 1,
                Again::First => {}
            }
            st.pending
                .resent(id, now, why == Again::Retry)
                .map(|e| Out::Request {
                    id,
                    kind: e.kind.clone(),
                    data: e.data.clone(),
                    budget_ms: e.budget_ms(now),
                })
        };
        if let Some(out) = out {
            let _ = self.out.send(out);
        }
    }

    /// Tells the sidecars that request `id` is cancelled, if connected (a
    /// request on a lost connection is lost to them anyway).
    pub(super) fn tell_cancel(&self, id: u64) {
        if matches!(self.state.lock().connection, Connection::Up(_)) {
            let _ = self.out.send(Out::Cancel(id));
        }
    }
}

async fn publish(
    shared: &Shared,
    client: &async_nats::Client,
    mut out: mpsc::UnboundedReceiver<Out>,
) {
    let inbox = shared.inbox.get().cloned().unwrap_or_default();
    let max_payload = client.server_info().max_payload;
    let mut batch = Vec::with_capacity(256);
    while out.recv_many(&mut batch, 256).await > 0 {
        for item in batch.drain(..) {
            match item {
                Out::Request {
                    id,
                    kind,
                    data,
                    budget_ms,
                } => {
                    if shared.state.lock().pending.get(id).is_none() {
                        // Settled while it waited here (a timeout during an
                        // outage): its caller has given up on it.
                        continue;
                    }
                    if data.len() > max_payload {
                        let message = format!(
                            "the request's data ({} bytes) is larger than the server's max_payload ({max_payload})",
                            data.len()
                        );
                        shared.fail(id, ErrorCode::Serialize, &message);
                        continue;
                    }
                    let reply = format!("{inbox}.{id}");
                    let sent = if kind.is_none() && budget_ms.is_none() {
                        client
                            .publish_with_reply(shared.subject.clone(), reply, data)
                            .await
                    } else {
                        let mut headers = HeaderMap::new();
                        if let Some(kind) = &kind {
                            headers.insert(protocol::TYPE, protocol::header_text(kind).as_str());
                        }
                        if let Some(ms) = budget_ms {
                            headers.insert(protocol::TIMEOUT, ms.to_string().as_str());
                        }
                        client
                            .publish_with_reply_and_headers(
                                shared.subject.clone(),
                                reply,
                                headers,
                                data,
                            )
                            .await
                    };
                    if let Err(e) = sent {
                        shared.fail(id, ErrorCode::Connection, &format!("cannot publish: {e}"));
                    }
                }
                Out::Cancel(id) => {
                    let reply = Bytes::from(format!("{inbox}.{id}"));
                    let _ = client.publish(shared.cancel_subject.clone(), reply).await;
                }
            }
        }
    }
}

async fn receive(shared: &Shared, mut answers: async_nats::Subscriber) {
    while let Some(message) = answers.next().await {
        let token = message.subject.rsplit('.').next().unwrap_or("");
        if token == protocol::KEEPALIVE_TOKEN {
            if let Ok(ids) = serde_json::from_slice::<Vec<u64>>(&message.payload) {
                shared.state.lock().pending.heard(ids, Instant::now());
            }
            continue;
        }
        let Ok(id) = token.parse::<u64>() else {
            continue;
        };
        answer(shared, id, &message);
    }
}

/// Settles request `id` with an answer, or sends it again if the sidecar
/// was busy.
fn answer(shared: &Shared, id: u64, message: &Message) {
    let outcome = if message.status == Some(StatusCode::NO_RESPONDERS) {
        failed(
            ErrorCode::NoWorkers,
            &format!(
                "no sidecar serves '{}' (no responders on {})",
                shared.options.service, shared.subject
            ),
        )
    } else {
        match protocol::read_answer(message.headers.as_ref(), &message.payload) {
            Answer::Result(text) => Outcome::Result {
                result: Payload::Json(text),
                worker: super::NO_WORKER,
            },
            Answer::WorkerError(text) => Outcome::RemoteError {
                error: Payload::Json(Some(text)),
                worker: super::NO_WORKER,
            },
            Answer::Failed { code, message } => failed(code, &message),
            Answer::Busy(_) => {
                shared.state.lock().pending.busy(
                    id,
                    Instant::now(),
                    BUSY_BACKOFF,
                    BUSY_BACKOFF_MAX,
                );
                return;
            }
        }
    };
    let entry = shared.state.lock().pending.take(id);
    match entry {
        Some(entry) => shared.finish(id, entry, outcome),
        None => shared.state.lock().stats.pool.late_replies += 1,
    }
}

async fn clock(shared: &Shared) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_lost_check = Instant::now();
    loop {
        if shared.state.lock().pending.is_empty() {
            // Idle: no timer wakes the process until a request opens.
            shared.work.notified().await;
            tick.reset();
        }
        tick.tick().await;
        let now = Instant::now();
        let (expired, resends) = {
            let mut st = shared.state.lock();
            (st.pending.expired(now), st.pending.due_resends(now))
        };
        for (id, entry) in expired {
            shared.tell_cancel(id);
            shared.finish(
                id,
                entry,
                failed(
                    ErrorCode::Timeout,
                    ErrorCode::Timeout.cancellation_message(),
                ),
            );
        }
        for id in resends {
            shared.send_again(id, Again::Busy);
        }
        let lost_after = shared.options.lost_after;
        if !lost_after.is_zero()
            && now.duration_since(last_lost_check) >= Duration::from_millis(100)
        {
            last_lost_check = now;
            settle_lost(shared, now, lost_after);
        }
    }
}

/// Requests no sidecar has claimed for `lost_after`: resent with a retry
/// left, failed otherwise.
fn settle_lost(shared: &Shared, now: Instant, lost_after: Duration) {
    let (retry, lost, connected): (Vec<u64>, Vec<(u64, Entry)>, bool) = {
        let mut st = shared.state.lock();
        let connected = matches!(st.connection, Connection::Up(_));
        let silent = st.pending.silent(now, lost_after);
        let mut retry = Vec::new();
        let mut lost = Vec::new();
        for id in silent {
            if connected && st.pending.get(id).is_some_and(|e| e.retries > 0) {
                retry.push(id);
            } else if let Some(entry) = st.pending.take(id) {
                lost.push((id, entry));
            }
        }
        st.stats.lost += lost.len() as u64;
        (retry, lost, connected)
    };
    for id in retry {
        shared.send_again(id, Again::Retry);
    }
    let (code, message) = if connected {
        (
            ErrorCode::WorkerExited,
            format!(
                "no sidecar claimed the request for {} ms: it was lost with its sidecar",
                lost_after.as_millis()
            ),
        )
    } else {
        (ErrorCode::Connection, "not connected to NATS".to_string())
    };
    for (id, entry) in lost {
        shared.tell_cancel(id);
        shared.finish(id, entry, failed(code, &message));
    }
}
