//! Reply handling: what a worker's reader hands over (replies, progress,
//! heartbeats, events, bad frames), settled under one lock per read.

use super::state::{Effects, Phase, State};
use super::{envelope, timer, ErrorCode, Outcome, PoolEvent, RequestError, Shared};
use std::time::Instant;

impl Shared {
    /// Frames from worker `slot` (process generation `gen`), handled under
    /// one lock.
    pub(super) fn on_incoming(&self, slot: usize, gen: u64, batch: &mut Vec<envelope::Incoming>) {
        let mut fx = Effects::default();
        {
            let mut st = self.state.lock();
            // One clock reading for the batch: the replies came together.
            let now = timer::monotonic_ns();
            let current = st.slots[slot].live.as_ref().is_some_and(|l| l.gen == gen);
            let mut replies = false;
            for incoming in batch.drain(..) {
                replies |= self.on_one(&mut st, slot, current, incoming, now, &mut fx);
            }
            if replies {
                st.pump();
                if st.phase == Phase::Draining {
                    self.idle_cv.notify_all();
                }
            }
        }
        self.fire(fx);
    }

    /// One frame; true if it settled a request.
    pub(super) fn on_one(
        &self,
        st: &mut State,
        slot: usize,
        current: bool,
        incoming: envelope::Incoming,
        now: u64,
        fx: &mut Effects,
    ) -> bool {
        match incoming {
            envelope::Incoming::Reply {
                id,
                kind,
                payload,
                version,
            } => {
                let ours = current && st.request(id).is_some_and(|e| e.worker == Some(slot));
                if !ours {
                    // A reply to a request that already settled (timed
                    // out, aborted) is dropped, never delivered twice.
                    st.counters.late_replies += 1;
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
                    st.settle_at(id, outcome, now, fx);
                    self.after_reply(st, slot);
                    return true;
                }
            }
            envelope::Incoming::Heartbeat(payload) => match st.slots[slot].live.as_mut() {
                Some(live) if current && self.options.heartbeat.is_some() => {
                    live.last_heartbeat = Instant::now();
                }
                _ => fx.event(PoolEvent::Message {
                    worker: slot,
                    payload,
                }),
            },
            envelope::Incoming::HealthStatus(payload) => {
                if current {
                    let gen = st.slots[slot].live.as_ref().map_or(0, |l| l.gen);
                    self.probes.answer(slot, gen, &payload);
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
        false
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
