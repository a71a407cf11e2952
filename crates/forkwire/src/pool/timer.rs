//! The pool's one timer thread: request deadlines, restart backoff and
//! kill-after-grace, all on one heap, sleeping until the earliest.

use super::error::ErrorCode;
use super::state::{Effects, Phase, Timer};
use super::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let mut st = shared.state.lock();
    loop {
        if st.phase == Phase::Closed && st.slots.iter().all(|s| s.live.is_none()) {
            break;
        }
        let now = Instant::now();
        let due = st.take_due(now);
        if due.is_empty() {
            let until = st
                .next_due()
                .map_or(now + IDLE_WAIT, |t| t.min(now + IDLE_WAIT));
            shared.timer_cv.wait_until(&mut st, until);
            continue;
        }
        let mut fx = Effects::default();
        let mut respawns = Vec::new();
        for timer in due {
            match timer {
                Timer::Deadline(id) => {
                    // Only if this deadline is still the request's own.
                    let current = st.request(id).and_then(|e| e.deadline);
                    if current.is_some_and(|d| d <= now) {
                        shared.cancel_ids(&mut st, [id], ErrorCode::Timeout, &mut fx);
                    }
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
        st = shared.state.lock();
    }
}
