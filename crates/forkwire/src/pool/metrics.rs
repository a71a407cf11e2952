//! A pool's figures in the Prometheus text exposition format; see
//! [`PoolMetrics`].

use super::error::ErrorCode;
use super::histogram::{LatencyHistogram, PROMETHEUS_BOUNDS};
use super::stats::PoolStats;
use std::fmt::{self, Write};

/// The `Content-Type` of the text [`PoolMetrics`] displays as.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A snapshot of a pool for monitoring ([`super::Pool::metrics`]). Its
/// `Display` writes the Prometheus text exposition format, version 0.0.4
/// (serve it as [`PROMETHEUS_CONTENT_TYPE`]); it is what `pool.metrics()`
/// returns in Node:
///
/// | metric | type | what |
/// |---|---|---|
/// | `forkwire_requests_total{outcome}` | counter | requests by how they ended: `completed`, `remote_error` (the worker answered `{id, error}`), `timed_out`, `aborted`, `worker_exited`, `closed`, `queue_full`, `protocol_error`, `version_mismatch`, `handle_refused`, `serialize_error`, `spawn_error` (every one written, zeros too) |
/// | `forkwire_requests_rejected_total` | counter | of those, refused at submission (never queued) |
/// | `forkwire_requests_in_flight` | gauge | sent to a worker, not answered |
/// | `forkwire_queue_depth` | gauge | waiting for a worker |
/// | `forkwire_workers{state}` | gauge | worker slots `idle`, `busy`, or `down` (no process running) |
/// | `forkwire_worker_restarts_total{worker}` | counter | processes started to replace one that ended |
/// | `forkwire_worker_resident_memory_bytes{worker}` | gauge | RSS of each running worker, from `/proc` |
/// | `forkwire_worker_unresponsive_total` | counter | workers killed for missing heartbeats |
/// | `forkwire_requests_retried_total` | counter | requests resent after their worker died |
/// | `forkwire_late_replies_total` | counter | replies that came after their request settled |
/// | `forkwire_protocol_errors_total` | counter | frames from workers that could not be read |
/// | `forkwire_request_duration_seconds` | histogram | submission to settlement of every request the pool took |
///
/// The histogram's `_count` is `completed + failed` of the same snapshot;
/// `forkwire_requests_total` summed over `outcome` is `completed + failed +
/// rejected`.
#[derive(Clone, Debug)]
pub struct PoolMetrics {
    /// The counters and workers, as [`super::Pool::stats`].
    pub stats: PoolStats,
    /// Failures (settled or refused) by code, indexed by
    /// [`ErrorCode::index`]; [`ErrorCode::Remote`] counts `{id, error}`
    /// replies.
    pub failures: [u64; ErrorCode::ALL.len()],
    /// Submission-to-settlement times.
    pub latency: LatencyHistogram,
    /// `(worker slot, resident bytes)` of each running worker whose
    /// `/proc` entry could be read.
    pub resident_memory: Vec<(usize, u64)>,
    /// Labels added to every sample, e.g. `[("pool", "images")]`. Names
    /// must match `[a-zA-Z_][a-zA-Z0-9_]*` (not checked here); values are
    /// escaped.
    pub labels: Vec<(String, String)>,
}

/// Failure codes in the order their `outcome` samples are written: the
/// worker's own errors first, then the pool's, most common first.
const OUTCOME_ORDER: [ErrorCode; ErrorCode::ALL.len()] = [
    ErrorCode::Remote,
    ErrorCode::Timeout,
    ErrorCode::Aborted,
    ErrorCode::WorkerExited,
    ErrorCode::Closed,
    ErrorCode::QueueFull,
    ErrorCode::Protocol,
    ErrorCode::Version,
    ErrorCode::HandleRefused,
    ErrorCode::Serialize,
    ErrorCode::Spawn,
    ErrorCode::NoWorkers,
    ErrorCode::Connection,
];

/// The `outcome` label of a failure code.
fn outcome(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Timeout => "timed_out",
        ErrorCode::Aborted => "aborted",
        ErrorCode::QueueFull => "queue_full",
        ErrorCode::Closed => "closed",
        ErrorCode::WorkerExited => "worker_exited",
        ErrorCode::Protocol => "protocol_error",
        ErrorCode::Serialize => "serialize_error",
        ErrorCode::Version => "version_mismatch",
        ErrorCode::Spawn => "spawn_error",
        ErrorCode::Remote => "remote_error",
        ErrorCode::HandleRefused => "handle_refused",
        ErrorCode::NoWorkers => "no_workers",
        ErrorCode::Connection => "connection_error",
    }
}

impl PoolMetrics {
    /// A snapshot of `stats`, `failures` and `latency`, with the resident
    /// memory of the workers `stats` lists as running.
    pub fn new(
        stats: PoolStats,
        failures: [u64; ErrorCode::ALL.len()],
        latency: LatencyHistogram,
    ) -> PoolMetrics {
        let resident_memory = stats
            .workers
            .iter()
            .filter_map(|w| Some((w.id, crate::process::rss_bytes(w.pid?)?)))
            .collect();
        PoolMetrics {
            stats,
            failures,
            latency,
            resident_memory,
            labels: Vec::new(),
        }
    }

    /// The metrics of a pool with `size` slots that never ran (all zero).
    pub fn empty(size: usize) -> PoolMetrics {
        PoolMetrics {
            stats: PoolStats {
                size,
                ..PoolStats::default()
            },
            failures: [0; ErrorCode::ALL.len()],
            latency: LatencyHistogram::new(),
            resident_memory: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Adds `labels` to every sample.
    pub fn with_labels(mut self, labels: Vec<(String, String)>) -> PoolMetrics {
        self.labels = labels;
        self
    }
}

/// Writes one metric family: its HELP and TYPE lines, then its samples.
struct Writer<'a, 'f> {
    out: &'a mut fmt::Formatter<'f>,
    /// `k="v",` for each constant label, escaped.
    constant: String,
}

impl Writer<'_, '_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> fmt::Result {
        writeln!(self.out, "# HELP {name} {help}")?;
        writeln!(self.out, "# TYPE {name} {kind}")
    }

    /// `name{constant labels, labels} value`.
    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl fmt::Display,
    ) -> fmt::Result {
        self.out.write_str(name)?;
        if !self.constant.is_empty() || !labels.is_empty() {
            let mut inner = self.constant.clone();
            for (k, v) in labels {
                push_label(&mut inner, k, v);
            }
            inner.pop();
            write!(self.out, "{{{inner}}}")?;
        }
        writeln!(self.out, " {value}")
    }
}

/// Appends `name="value",` with the value escaped as the format requires
/// (backslash, double quote, line feed).
fn push_label(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "{name}=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\",");
}

impl fmt::Display for PoolMetrics {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut constant = String::new();
        for (k, v) in &self.labels {
            push_label(&mut constant, k, v);
        }
        let mut w = Writer { out, constant };
        let s = &self.stats;

        w.family(
            "forkwire_requests_total",
            "counter",
            "Requests the pool ended, by outcome (rejected ones included).",
        )?;
        w.sample(
            "forkwire_requests_total",
            &[("outcome", "completed")],
            s.completed,
        )?;
        for code in OUTCOME_ORDER {
            let n = self.failures[code.index()];
            w.sample("forkwire_requests_total", &[("outcome", outcome(code))], n)?;
        }
        w.family(
            "forkwire_requests_rejected_total",
            "counter",
            "Requests refused when submitted (queue full, pool closed, no worker left), never queued.",
        )?;
        w.sample("forkwire_requests_rejected_total", &[], s.rejected)?;
        w.family(
            "forkwire_requests_in_flight",
            "gauge",
            "Requests sent to a worker and not answered yet.",
        )?;
        w.sample("forkwire_requests_in_flight", &[], s.in_flight)?;
        w.family(
            "forkwire_queue_depth",
            "gauge",
            "Requests waiting for a worker.",
        )?;
        w.sample("forkwire_queue_depth", &[], s.queued)?;
        w.family(
            "forkwire_workers",
            "gauge",
            "Worker slots by state: idle, busy (requests in flight), down (no process running).",
        )?;
        let down = s.size.saturating_sub(s.idle + s.busy);
        for (state, n) in [("idle", s.idle), ("busy", s.busy), ("down", down)] {
            w.sample("forkwire_workers", &[("state", state)], n)?;
        }
        w.family(
            "forkwire_worker_restarts_total",
            "counter",
            "Worker processes started to replace one that ended, by worker slot.",
        )?;
        for worker in &s.workers {
            let id = worker.id.to_string();
            w.sample(
                "forkwire_worker_restarts_total",
                &[("worker", &id)],
                worker.restarts,
            )?;
        }
        w.family(
            "forkwire_worker_resident_memory_bytes",
            "gauge",
            "Resident memory of each running worker process, from /proc.",
        )?;
        for (slot, bytes) in &self.resident_memory {
            let id = slot.to_string();
            w.sample(
                "forkwire_worker_resident_memory_bytes",
                &[("worker", &id)],
                bytes,
            )?;
        }
        w.family(
            "forkwire_worker_unresponsive_total",
            "counter",
            "Workers killed for missing their heartbeats.",
        )?;
        w.sample("forkwire_worker_unresponsive_total", &[], s.unresponsive)?;
        w.family(
            "forkwire_requests_retried_total",
            "counter",
            "Requests resent to another worker after theirs ended.",
        )?;
        w.sample("forkwire_requests_retried_total", &[], s.retried)?;
        w.family(
            "forkwire_late_replies_total",
            "counter",
            "Replies that came after their request had settled (dropped).",
        )?;
        w.sample("forkwire_late_replies_total", &[], s.late_replies)?;
        w.family(
            "forkwire_protocol_errors_total",
            "counter",
            "Frames from workers that could not be read.",
        )?;
        w.sample("forkwire_protocol_errors_total", &[], s.protocol_errors)?;

        let name = "forkwire_request_duration_seconds";
        w.family(
            name,
            "histogram",
            "Time from submission to settlement of the requests the pool took, whatever their outcome.",
        )?;
        let bucket = format!("{name}_bucket");
        let cumulative = self.latency.prometheus_buckets();
        for ((le, _), n) in PROMETHEUS_BOUNDS.iter().zip(cumulative) {
            w.sample(&bucket, &[("le", le)], n)?;
        }
        w.sample(&bucket, &[("le", "+Inf")], self.latency.count())?;
        w.sample(&format!("{name}_sum"), &[], self.latency.sum_seconds())?;
        w.sample(&format!("{name}_count"), &[], self.latency.count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::WorkerStats;
    use std::time::Duration;

    fn snapshot() -> PoolMetrics {
        let mut latency = LatencyHistogram::new();
        latency.record(Duration::from_micros(300));
        latency.record(Duration::from_millis(7));
        latency.record(Duration::from_secs(90));
        let mut failures = [0; ErrorCode::ALL.len()];
        failures[ErrorCode::Timeout.index()] = 1;
        failures[ErrorCode::QueueFull.index()] = 4;
        PoolMetrics {
            stats: PoolStats {
                size: 3,
                idle: 1,
                busy: 1,
                completed: 2,
                failed: 1,
                timed_out: 1,
                rejected: 4,
                workers: vec![
                    WorkerStats {
                        id: 0,
                        restarts: 2,
                        ..WorkerStats::default()
                    },
                    WorkerStats {
                        id: 1,
                        ..WorkerStats::default()
                    },
                ],
                ..PoolStats::default()
            },
            failures,
            latency,
            resident_memory: vec![(1, 4096)],
            labels: Vec::new(),
        }
    }

    #[test]
    fn every_family_is_announced_before_its_samples() {
        let text = snapshot().to_string();
        assert!(text.ends_with('\n'));
        let mut declared: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                declared.push((name.into(), kind.into()));
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            let (family, kind) = declared.last().expect(line);
            let base = match kind.as_str() {
                "histogram" => name
                    .strip_suffix("_bucket")
                    .or_else(|| name.strip_suffix("_sum"))
                    .or_else(|| name.strip_suffix("_count"))
                    .unwrap_or(name),
                _ => name,
            };
            assert_eq!(base, family, "{line}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        for (name, kind) in &declared {
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{name}");
            }
        }
    }

    #[test]
    fn every_code_has_one_outcome() {
        let mut seen: Vec<_> = OUTCOME_ORDER.iter().map(|c| c.index()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..ErrorCode::ALL.len()).collect::<Vec<_>>());
        let mut labels: Vec<_> = ErrorCode::ALL.iter().map(|&c| outcome(c)).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn counts_add_up() {
        let text = snapshot().to_string();
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(has("forkwire_requests_total{outcome=\"completed\"} 2"));
        assert!(has("forkwire_requests_total{outcome=\"timed_out\"} 1"));
        assert!(has("forkwire_requests_total{outcome=\"queue_full\"} 4"));
        assert!(has("forkwire_requests_rejected_total 4"));
        assert!(has("forkwire_workers{state=\"down\"} 1"));
        assert!(has("forkwire_worker_restarts_total{worker=\"0\"} 2"));
        assert!(has(
            "forkwire_worker_resident_memory_bytes{worker=\"1\"} 4096"
        ));
        assert!(has(
            "forkwire_request_duration_seconds_bucket{le=\"0.00025\"} 0"
        ));
        assert!(has(
            "forkwire_request_duration_seconds_bucket{le=\"0.0005\"} 1"
        ));
        assert!(has(
            "forkwire_request_duration_seconds_bucket{le=\"0.01\"} 2"
        ));
        assert!(has("forkwire_request_duration_seconds_bucket{le=\"60\"} 2"));
        assert!(has(
            "forkwire_request_duration_seconds_bucket{le=\"+Inf\"} 3"
        ));
        assert!(has("forkwire_request_duration_seconds_count 3"));
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix("forkwire_request_duration_seconds_sum "))
            .unwrap();
        assert!(
            (sum.parse::<f64>().unwrap() - 90.0073).abs() < 1e-9,
            "{sum}"
        );
    }

    #[test]
    fn constant_labels_go_first_and_values_are_escaped() {
        let text = snapshot()
            .with_labels(vec![("pool".into(), "a \"b\"\\\nc".into())])
            .to_string();
        assert!(text
            .lines()
            .any(|l| l == "forkwire_queue_depth{pool=\"a \\\"b\\\"\\\\\\nc\"} 0"));
        assert!(text.lines().any(|l| l
            == "forkwire_requests_total{pool=\"a \\\"b\\\"\\\\\\nc\",outcome=\"completed\"} 2"));
        assert!(PoolMetrics::empty(2)
            .to_string()
            .contains("forkwire_workers{state=\"down\"} 2\n"));
    }
}
