//! Counters a pool keeps, as `pool.stats()` returns them. This struct is
//! the one list of the fields: the Node binding serializes it for
//! `pool.stats()` (and for the stats of a pool that could not start).

use serde::Serialize;

/// A snapshot of the pool. Field names are JavaScript's (camelCase).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    /// Worker slots.
    pub size: usize,
    /// Live workers with nothing in flight.
    pub idle: usize,
    /// Live workers with at least one request in flight.
    pub busy: usize,
    /// Requests waiting for a worker.
    pub queued: usize,
    /// Requests sent and not yet answered.
    pub in_flight: usize,
    /// Requests that got `{id, result}`.
    pub completed: u64,
    /// Requests that failed for any reason (remote error, timeout, ...)
    /// after the pool took them.
    pub failed: u64,
    /// Of the failed: by timeout.
    pub timed_out: u64,
    /// Of the failed: aborted by the caller.
    pub aborted: u64,
    /// Replies that came after their request had settled (dropped).
    pub late_replies: u64,
    /// Workers started to replace one that ended.
    pub restarts: u64,
    /// Requests resent to another worker after theirs ended.
    pub retried: u64,
    /// Workers killed for missing heartbeats.
    pub unresponsive: u64,
    /// Bad frames received from workers.
    pub protocol_errors: u64,
    /// Requests refused when submitted, never queued: the queue was full,
    /// the pool closed, no worker left to run them, a duplicate id. Not
    /// counted in `failed`.
    pub rejected: u64,
    /// Percentiles of the time from submission to settlement of the
    /// requests counted in `completed` and `failed`, in milliseconds (see
    /// [`super::LatencyHistogram`] for the buckets and their error).
    pub latency_ms: LatencyPercentiles,
    /// Per worker.
    pub workers: Vec<WorkerStats>,
}

/// One worker slot.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStats {
    /// The slot id (stable across restarts).
    pub id: usize,
    /// The current process id, if a process is running.
    pub pid: Option<u32>,
    /// Whether its channel is open.
    pub connected: bool,
    /// Roles assigned to this slot.
    pub roles: Vec<String>,
    /// Requests in flight on it.
    pub in_flight: usize,
    /// Requests it completed (all processes of this slot).
    pub completed: u64,
    /// Requests that failed on it.
    pub failed: u64,
    /// How many times this slot's process was replaced.
    pub restarts: u64,
}

/// Latency percentiles in milliseconds; `None` (`null` in JSON) before the
/// first request settles.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct LatencyPercentiles {
    /// The median.
    pub p50: Option<f64>,
    /// The 90th percentile.
    pub p90: Option<f64>,
    /// The 99th percentile.
    pub p99: Option<f64>,
}

impl LatencyPercentiles {
    /// The percentiles of `histogram`.
    pub fn of(histogram: &super::LatencyHistogram) -> LatencyPercentiles {
        match histogram.quantiles([0.5, 0.9, 0.99]) {
            Some([p50, p90, p99]) => {
                let ms = |d: std::time::Duration| Some(d.as_secs_f64() * 1e3);
                LatencyPercentiles {
                    p50: ms(p50),
                    p90: ms(p90),
                    p99: ms(p99),
                }
            }
            None => LatencyPercentiles::default(),
        }
    }
}
