//! The pool's one timer thread: request deadlines, restart backoff and
//! kill-after-grace, all on one heap (under a lock of its own, so that a
//! submission can arm a deadline without the pool's), sleeping until the
//! earliest.

use super::state::{Effects, Phase, Timer};
use super::Shared;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timers by due time, earliest first.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    /// Arms `timer` for `at`; true if it is now the first one due.
    pub fn schedule(&mut self, at: Instant, timer: Timer) -> bool {
        let earliest = self.heap.peek().is_none_or(|t| at < t.0 .0);
        self.heap.push(Reverse((at, timer)));
        earliest
    }

    /// Takes the timers due at `now`, earliest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        while let Some(Reverse((at, timer))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            due.push(timer);
        }
        due
    }

    /// When the next timer is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.0 .0)
    }
}

impl Shared {
    /// Arms `timer` for `at`, waking the timer thread if it is now the
    /// first one due.
    pub(super) fn schedule(&self, at: Instant, timer: Timer) {
        if self.timers.lock().schedule(at, timer) {
            self.timer_cv.notify_one();
        }
    }
}

/// Longest sleep with nothing scheduled; the thread re-checks the phase.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// The instant `after` from now, saturating far in the future instead of
/// overflowing for huge durations (a timeout of `Infinity` ms).
pub(crate) fn after(after: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(after.min(FAR)).unwrap_or(now)
}

/// The monotonic clock `Instant` reads (`CLOCK_MONOTONIC`), as nanoseconds
/// in one integer: what request latencies are measured with, so that an
/// elapsed time is one subtraction.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always
    // exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

pub(crate) fn run(shared: &Arc<Shared>) {
    loop {
        {
            let st = shared.state.lock();
            if st.phase() == Phase::Closed && st.slots.iter().all(|s| s.live.is_none()) {
                break;
            }
        }
        let due = {
            let mut timers = shared.timers.lock();
            let now = Instant::now();
            let due = timers.take_due(now);
            if due.is_empty() {
                let until = timers
                    .next_due()
                    .map_or(now + IDLE_WAIT, |t| t.min(now + IDLE_WAIT));
                shared.timer_cv.wait_until(&mut timers, until);
                continue;
            }
            due
        };
        let now = Instant::now();
        let mut fx = Effects::default();
        let mut respawns = Vec::new();
        let mut st = shared.state.lock();
        for timer in due {
            match timer {
                Timer::Deadline(id) => {
                    // Only if this deadline is still the request's own.
                    shared.cancel_due(&mut st, id, now, &mut fx);
                }
                Timer::Respawn(slot) => respawns.push(slot),
                Timer::Heartbeat => shared.heartbeat_tick(&mut st, &mut fx),
                Timer::MemoryCheck => shared.memory_tick(&mut st),
                Timer::Kill(slot, gen) => {
                    if let Some(live) = st.slots[slot].live.as_ref().filter(|l| l.gen == gen) {
                        let _ = live.reaper.kill(libc::SIGKILL);
                    }
                }
            }
        }
        drop(st);
        shared.fire(fx);
        for slot in respawns {
            shared.respawn(slot);
        }
    }
}
