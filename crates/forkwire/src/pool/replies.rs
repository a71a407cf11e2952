//! Reply handling: what a worker's reader hands over (replies, progress,
//! heartbeats, events, bad frames). Replies settle under the worker's own
//! table lock; the pool's lock is taken only when requests wait in the
//! queue, the pool is closing, or a heartbeat came.

use super::state::{Effects, Phase};
use super::table::Table;
use super::{envelope, timer, ErrorCode, Outcome, Payload, PoolEvent, RequestError, Shared};
use std::time::Instant;

/// What a batch of frames did: the callbacks to run, and what it asks of
/// the pool beyond the worker's table.
#[derive(Default)]
struct Heard {
    fx: Effects,
    /// A request settled: what waited may go now.
    settled: bool,
    /// A heartbeat came from the current process.
    heartbeat: bool,
    /// Health statuses from the current process, for the `health()`
    /// calls waiting (answered once the table is released: a thread
    /// holding a table's lock takes no other).
    health: Vec<Payload>,
}

impl Shared {
    /// Frames from worker `slot` (process generation `gen`), handled under
    /// its table's lock.
    pub(super) fn on_incoming(&self, slot: usize, gen: u64, batch: &mut Vec<envelope::Incoming>) {
        let mut heard = Heard::default();
        {
            let mut table = self.tables.lock(slot);
            // One clock reading for the batch: the replies came together.
            let now = timer::monotonic_ns();
            let current = table.gen == gen;
            for incoming in batch.drain(..) {
                self.on_one(&mut table, slot, current, incoming, now, &mut heard);
            }
        }
        for payload in &heard.health {
            self.probes.answer(slot, gen, payload);
        }
        if heard.heartbeat {
            let mut st = self.state.lock();
            if let Some(live) = st.slots[slot].live.as_mut().filter(|l| l.gen == gen) {
                live.last_heartbeat = Instant::now();
            }
        }
        if heard.settled && (self.tables.waiting() > 0 || !self.tables.open()) {
            let mut st = self.state.lock();
            st.pump();
            if st.phase() == Phase::Draining {
                self.idle_cv.notify_all();
            }
        }
        self.fire(heard.fx);
    }

    /// One frame.
    fn on_one(
        &self,
        table: &mut Table,
        slot: usize,
        current: bool,
        incoming: envelope::Incoming,
        now: u64,
        heard: &mut Heard,
    ) {
        let fx = &mut heard.fx;
        match incoming {
            envelope::Incoming::Reply {
                id,
                kind,
                payload,
                version,
            } => {
                if !(current && table.holds(id)) {
                    // A reply to a request that already settled (timed
                    // out, aborted) is dropped, never delivered twice.
                    table.tally.late_replies += 1;
                } else if kind == envelope::ReplyKind::Progress {
                    fx.event(PoolEvent::Progress { id, payload });
                } else {
                    let expected = self.options.protocol_version.as_deref();
                    let outcome = match (expected, version.as_deref()) {
                        (Some(want), Some(got)) if want != got => Outcome::Failed(
                            RequestError::new(
                                ErrorCode::Version,
                                format!(
                                    "worker {slot} speaks protocol version {got}, the pool {want}"
                                ),
                            )
                            .on_worker(slot),
                        ),
                        _ if kind == envelope::ReplyKind::Error => Outcome::RemoteError {
                            error: payload,
                            worker: slot,
                        },
                        _ => Outcome::Result {
                            result: payload,
                            worker: slot,
                        },
                    };
                    table.settle(id, outcome, now, fx);
                    table.after_reply(self.options.max_tasks_per_worker);
                    heard.settled = true;
                }
            }
            envelope::Incoming::Heartbeat(payload) => {
                if current && self.options.heartbeat.is_some() {
                    heard.heartbeat = true;
                } else {
                    fx.event(PoolEvent::Message {
                        worker: slot,
                        payload,
                    });
                }
            }
            envelope::Incoming::HealthStatus(payload) => {
                if current {
                    heard.health.push(payload.clone());
                }
                // JS pools ask and listen for themselves.
                fx.event(PoolEvent::Message {
                    worker: slot,
                    payload,
                });
            }
            envelope::Incoming::Event(payload) => fx.event(PoolEvent::Message {
                worker: slot,
                payload,
            }),
        }
    }

    /// `count` bad frames from worker `slot`, reported as one event.
    pub(super) fn on_protocol_error(
        &self,
        slot: usize,
        gen: u64,
        count: usize,
        message: String,
        frame: &[u8],
    ) {
        {
            let mut st = self.state.lock();
            st.counters.protocol_errors += count as u64;
            let limit = self.options.max_protocol_errors;
            if let Some(live) = st.slots[slot].live.as_mut().filter(|l| l.gen == gen) {
                live.protocol_errors += count;
                if limit.is_some_and(|max| live.protocol_errors > max) {
                    self.recycle(&mut st, slot);
                }
            }
        }
        const SHOWN: usize = 120;
        let sample = String::from_utf8_lossy(&frame[..frame.len().min(SHOWN)]);
        let message = if frame.is_empty() {
            format!("worker {slot}: {message}")
        } else {
            format!("worker {slot}: {message} (frame starts {sample:?})")
        };
        (self.on_event)(PoolEvent::ProtocolError {
            worker: slot,
            message,
        });
    }
}
