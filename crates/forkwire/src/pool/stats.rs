//! Counters a pool keeps, as `pool.stats()` returns them.

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
    /// Requests that failed for any reason (remote error, timeout, ...).
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
