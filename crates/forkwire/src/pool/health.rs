//! [`Pool::health`]: every live worker is asked `{type: 'health-check'}`
//! and its `{type: 'health-status', healthy, metrics}` collected, with
//! what the parent sees of it, as the JS pool's `health()` does.
//!
//! Each call waits on its own [`Probe`], which keeps at most one answer
//! per worker it asked: a worker that answers endlessly costs nothing
//! more, and concurrent calls each hear every answer.

use super::events::Payload;
use super::{envelope, Pool, Shared};
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What [`Pool::health`] found out about one worker.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerHealth {
    /// The worker's slot id.
    pub worker: usize,
    /// Its process id when asked.
    pub pid: u32,
    /// It answered, and did not say `healthy: false`.
    pub healthy: bool,
    /// Why it is not healthy when it did not say so itself: `"timeout"`
    /// (no answer in time) or `"exited"` (its process ended meanwhile).
    pub reason: Option<&'static str>,
    /// The `metrics` member of its answer, if any.
    pub metrics: Option<serde_json::Value>,
    /// From the question to its answer.
    pub latency: Option<Duration>,
    /// Its resident set size, read from `/proc` by the parent.
    pub rss_bytes: Option<u64>,
}

/// The health-checks in progress.
#[derive(Default)]
pub(crate) struct Probes {
    waiting: Mutex<Vec<Arc<Probe>>>,
}

/// A worker's health-status and how long it took, once it came.
type Answer = Option<(Payload, Duration)>;

/// One `health()` call: who was asked, and what came back.
struct Probe {
    asked: Instant,
    /// `(slot, generation, answer)` per worker asked.
    answers: Mutex<Vec<(usize, u64, Answer)>>,
    done: Condvar,
}

impl Probes {
    /// A `health-status` from worker `slot` (process `gen`): the answer
    /// of every probe that asked it and has none from it yet.
    pub fn answer(&self, slot: usize, gen: u64, payload: &Payload) {
        for probe in self.waiting.lock().iter() {
            let mut answers = probe.answers.lock();
            let open = answers
                .iter_mut()
                .find(|(s, g, answer)| *s == slot && *g == gen && answer.is_none());
            if let Some((_, _, answer)) = open {
                *answer = Some((payload.clone(), probe.asked.elapsed()));
                if answers.iter().all(|(_, _, a)| a.is_some()) {
                    probe.done.notify_all();
                }
            }
        }
    }
}

impl Pool {
    /// Asks every live worker `{type: 'health-check'}` and waits up to
    /// `timeout` for each one's `{type: 'health-status', healthy,
    /// metrics}` (`forkwire::serve` answers for you). One entry per
    /// worker asked, in slot order; a worker that does not answer in time
    /// is reported unhealthy with reason `"timeout"`, one whose process
    /// ended meanwhile with `"exited"`. Blocks the calling thread.
    ///
    /// ```no_run
    /// use forkwire::pool::{Pool, PoolOptions};
    /// use forkwire::process::Command;
    /// use std::time::Duration;
    ///
    /// let mut options = PoolOptions::new(Command::new("./worker"));
    /// options.size = 4;
    /// let pool = Pool::new(options)?;
    /// for worker in pool.health(Duration::from_millis(500)) {
    ///     if !worker.healthy {
    ///         eprintln!("worker {} (pid {}): {:?}", worker.worker, worker.pid, worker.reason);
    ///     }
    /// }
    /// # Ok::<(), forkwire::pool::RequestError>(())
    /// ```
    pub fn health(&self, timeout: Duration) -> Vec<WorkerHealth> {
        let shared = &self.shared;
        let probe = Arc::new(Probe {
            asked: Instant::now(),
            answers: Mutex::new(Vec::new()),
            done: Condvar::new(),
        });
        let mut pids = Vec::new();
        shared.probes.waiting.lock().push(Arc::clone(&probe));
        {
            let st = shared.state.lock();
            let question = envelope::health_check(shared.mode);
            let mut answers = probe.answers.lock();
            for (slot, s) in st.slots.iter().enumerate() {
                let Some(live) = s.live.as_ref() else {
                    continue;
                };
                if question
                    .as_ref()
                    .is_some_and(|q| shared.tables.lock(slot).write(q.clone().into()))
                {
                    answers.push((slot, live.gen, None));
                    pids.push(live.pid);
                }
            }
        }
        let deadline = probe.asked + timeout;
        {
            let mut answers = probe.answers.lock();
            while answers.iter().any(|(_, _, a)| a.is_none()) {
                if probe.done.wait_until(&mut answers, deadline).timed_out() {
                    break;
                }
            }
        }
        shared
            .probes
            .waiting
            .lock()
            .retain(|p| !Arc::ptr_eq(p, &probe));
        let answers = std::mem::take(&mut *probe.answers.lock());
        answers
            .into_iter()
            .zip(pids)
            .map(|((slot, gen, answer), pid)| shared.worker_health(slot, gen, pid, answer))
            .collect()
    }
}

impl Shared {
    fn worker_health(&self, slot: usize, gen: u64, pid: u32, answer: Answer) -> WorkerHealth {
        let mut health = WorkerHealth {
            worker: slot,
            pid,
            healthy: false,
            reason: None,
            metrics: None,
            latency: None,
            rss_bytes: crate::process::rss_bytes(pid),
        };
        match answer {
            Some((payload, latency)) => {
                let status = payload.value(self.mode).unwrap_or_default();
                health.healthy = status.get("healthy") != Some(&serde_json::Value::Bool(false));
                health.metrics = status.get("metrics").cloned();
                health.latency = Some(latency);
            }
            None => {
                let alive = self.state.lock().slots[slot]
                    .live
                    .as_ref()
                    .is_some_and(|l| l.gen == gen);
                health.reason = Some(if alive { "timeout" } else { "exited" });
            }
        }
        health
    }
}
