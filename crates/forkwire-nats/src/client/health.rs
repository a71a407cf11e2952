//! `health()` of a remote pool: the `$SRV.STATS` answers of every sidecar.

use crate::micro::{SidecarData, StatsResponse};
use forkwire::pool::{ErrorCode, RequestError};
use futures_util::StreamExt;
use serde::Serialize;
use std::time::Duration;

/// One sidecar, as it describes itself.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarHealth {
    /// The service instance id (unique per sidecar process).
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The version it reports.
    pub version: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Requests it answered.
    pub requests: u64,
    /// Of those, answered with an error.
    pub errors: u64,
    /// Mean time from taking a request to answering it, in milliseconds.
    pub average_latency_ms: f64,
    /// Requests it holds now, and at most.
    pub in_flight: usize,
    /// The most it holds before it answers busy.
    pub max_in_flight: usize,
    /// Whether it is draining (taking no new requests).
    pub draining: bool,
    /// At least one of its workers is running.
    pub healthy: bool,
    /// Its local pool's stats (`PoolStats`: counters, latency, workers).
    pub pool: serde_json::Value,
}

/// Publishes `$SRV.STATS.<service>` and gathers the answers that come
/// within `timeout`.
pub(super) async fn gather(
    client: &async_nats::Client,
    service: &str,
    timeout: Duration,
) -> Result<Vec<SidecarHealth>, RequestError> {
    let connection =
        |e: &dyn std::fmt::Display| RequestError::new(ErrorCode::Connection, e.to_string());
    // Answers are gathered for the whole window (how many sidecars there
    // are is what is asked): an endless one is an hour.
    let timeout = timeout.min(Duration::from_secs(3600));
    let inbox = client.new_inbox();
    let mut answers = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| connection(&e))?;
    client
        .publish_with_reply(format!("$SRV.STATS.{service}"), inbox, "".into())
        .await
        .map_err(|e| connection(&e))?;
    // A flush waits for the connection: bounded by the call's own time.
    match tokio::time::timeout(timeout, client.flush()).await {
        Ok(flushed) => flushed.map_err(|e| connection(&e))?,
        Err(_) => {
            return Err(RequestError::new(
                ErrorCode::Connection,
                "not connected to NATS",
            ))
        }
    }
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, answers.next()).await {
        if let Some(health) = read(&message.payload) {
            found.push(health);
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// A stats answer as [`SidecarHealth`]; `None` for one that is not a
/// forkwire sidecar's.
fn read(payload: &[u8]) -> Option<SidecarHealth> {
    let stats: StatsResponse = serde_json::from_slice(payload).ok()?;
    let endpoint = stats.endpoints.into_iter().next()?;
    let data: SidecarData = serde_json::from_value(endpoint.data?).ok()?;
    let healthy = data.pool["workers"]
        .as_array()
        .is_some_and(|w| w.iter().any(|w| w["connected"] == true));
    Some(SidecarHealth {
        id: stats.id,
        host: data.host,
        pid: data.pid,
        version: stats.version,
        started: stats.started,
        requests: endpoint.num_requests,
        errors: endpoint.num_errors,
        average_latency_ms: endpoint.average_processing_time as f64 / 1e6,
        in_flight: data.in_flight,
        max_in_flight: data.max_in_flight,
        draining: data.draining,
        healthy,
        pool: data.pool,
    })
}
