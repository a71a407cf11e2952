//! What settled where: completions, failures by code, timeouts, aborts,
//! late replies and latencies. Each worker's table keeps a tally of the
//! requests that settled on it, the pool one of those that settled while
//! waiting in its queue (and of its refusals); [`super::Pool::stats`] adds
//! them up.

use super::error::ErrorCode;
use super::events::Outcome;
use super::histogram::LatencyHistogram;

/// Settlement counters. Only grow.
#[derive(Default, Clone)]
pub(crate) struct Tally {
    pub completed: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    /// Replies to requests that had settled already.
    pub late_replies: u64,
    /// Failures, settled or refused, by code (`Remote` for `{id, error}`).
    pub by_code: [u64; ErrorCode::ALL.len()],
    /// Submission-to-settlement times.
    pub latency: LatencyHistogram,
}

impl Tally {
    /// Counts a request that settled with `outcome`, `latency_ns` after
    /// the pool took it.
    pub fn settled(&mut self, outcome: &Outcome, latency_ns: u64) {
        self.latency.record_nanos(latency_ns);
        match outcome {
            Outcome::Result { .. } => self.completed += 1,
            Outcome::RemoteError { .. } => {
                self.failed += 1;
                self.by_code[ErrorCode::Remote.index()] += 1;
            }
            Outcome::Failed(e) => {
                self.failed += 1;
                self.by_code[e.code.index()] += 1;
                match e.code {
                    ErrorCode::Timeout => self.timed_out += 1,
                    ErrorCode::Aborted => self.aborted += 1,
                    _ => {}
                }
            }
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Tally) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.aborted += other.aborted;
        self.late_replies += other.late_replies;
        for (mine, theirs) in self.by_code.iter_mut().zip(other.by_code) {
            *mine += theirs;
        }
        self.latency.merge(&other.latency);
    }
}
