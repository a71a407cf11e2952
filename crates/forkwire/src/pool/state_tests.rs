//! The state's admission rules, without processes: slots that are
//! "coming back" (a restart pending) can serve but take nothing yet, so
//! every admitted request waits in the queue.

use super::error::ErrorCode;
use super::events::{Done, Outcome};
use super::state::{Admission, Effect, Effects, Entry, Phase, State, Timer};
use super::table::Tables;
use super::timer::Timers;
use super::Target;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A state with `size` slots and no process.
fn state(size: usize) -> State {
    State::new(Arc::new(Tables::new(size, 1)))
}

/// A state whose `size` slots will serve but have no process yet.
fn waiting_state(size: usize) -> State {
    let mut st = state(size);
    for slot in &mut st.slots {
        slot.restart_pending = true;
    }
    st
}

fn entry(target: Target, deadline: Option<Instant>) -> Entry {
    Entry {
        frame: Box::default(),
        target,
        deadline,
        done: Some(Done::Pool(0)),
        retries_left: 0,
        handle: None,
        submitted: 0,
    }
}

/// The codes of the failures settled in `fx`, in order.
fn failures(fx: &Effects) -> Vec<ErrorCode> {
    fx.items
        .iter()
        .filter_map(|e| match e {
            Effect::Settle(_, Outcome::Failed(err)) => Some(err.code),
            _ => None,
        })
        .collect()
}

fn admit(st: &mut State, id: u64, max_queue: usize, fx: &mut Effects) -> Admission {
    st.admit(id, entry(Target::Any, None), max_queue, fx)
}

const TAKEN: Admission = Admission::Taken;

#[test]
fn an_open_pool_with_a_worker_to_come_queues_the_request() {
    let mut st = waiting_state(1);
    let mut fx = Effects::default();
    assert_eq!(admit(&mut st, 1, 10, &mut fx), TAKEN);
    assert!(fx.items.is_empty());
    assert!(st.queued(1).is_some());
    assert_eq!(st.stats().queued, 1);
    assert_eq!(st.stats().in_flight, 0);
}

#[test]
fn a_closing_or_closed_pool_refuses_with_closed() {
    for phase in [Phase::Draining, Phase::Closed] {
        let mut st = waiting_state(1);
        st.set_phase(phase);
        let mut fx = Effects::default();
        assert_eq!(admit(&mut st, 1, 10, &mut fx), Admission::Refused);
        assert_eq!(failures(&fx), [ErrorCode::Closed]);
        assert!(!st.has_open_requests());
        assert_eq!(st.counters.rejected, 1);
        assert_eq!(st.stats().failed, 0, "a refusal is not a failure");
    }
}

#[test]
fn no_worker_left_to_serve_refuses_with_worker_exited() {
    let mut st = state(2);
    let mut fx = Effects::default();
    assert_eq!(admit(&mut st, 1, 10, &mut fx), Admission::Refused);
    // A slot that will serve is enough for any target but another slot.
    st.slots[1].restart_pending = true;
    assert_eq!(admit(&mut st, 2, 10, &mut fx), TAKEN);
    let to_slot_0 = entry(Target::Worker(0), None);
    assert_eq!(st.admit(3, to_slot_0, 10, &mut fx), Admission::Refused);
    assert_eq!(
        failures(&fx),
        [ErrorCode::WorkerExited, ErrorCode::WorkerExited]
    );
}

#[test]
fn a_duplicate_id_is_refused_and_the_first_request_kept() {
    let mut st = waiting_state(1);
    let mut fx = Effects::default();
    assert_eq!(admit(&mut st, 7, 10, &mut fx), TAKEN);
    assert_eq!(admit(&mut st, 7, 10, &mut fx), Admission::Refused);
    assert_eq!(failures(&fx), [ErrorCode::Serialize]);
    assert!(st.queued(7).is_some());
    assert_eq!(st.stats().queued, 1);
    // An id below the newest is looked for, and taken if not open.
    assert_eq!(admit(&mut st, 5, 10, &mut fx), TAKEN);
    assert_eq!(admit(&mut st, 5, 10, &mut fx), Admission::Refused);
    assert_eq!(failures(&fx), [ErrorCode::Serialize, ErrorCode::Serialize]);
    assert_eq!(st.stats().queued, 2);
}

#[test]
fn past_max_queue_a_request_that_would_wait_is_refused() {
    let mut st = waiting_state(1);
    let mut fx = Effects::default();
    assert_eq!(admit(&mut st, 1, 2, &mut fx), TAKEN);
    assert_eq!(admit(&mut st, 2, 2, &mut fx), TAKEN);
    assert_eq!(admit(&mut st, 3, 2, &mut fx), Admission::Refused);
    assert_eq!(failures(&fx), [ErrorCode::QueueFull]);
    assert!(st.queued(3).is_none());
    assert_eq!(st.stats().queued, 2);
    // Room again once one settles.
    st.settle_queued(1, Outcome::Failed(super::state::no_worker_left()), &mut fx);
    assert_eq!(admit(&mut st, 3, 2, &mut fx), TAKEN);
}

#[test]
fn timers_fire_earliest_first_and_the_earliest_is_reported() {
    let mut timers = Timers::default();
    let now = Instant::now();
    let at = |s| now + Duration::from_secs(s);
    assert!(timers.schedule(at(10), Timer::Deadline(1)));
    assert!(timers.schedule(at(5), Timer::Deadline(2)));
    assert!(!timers.schedule(at(20), Timer::Deadline(3)));
    assert_eq!(timers.next_due(), Some(at(5)));
    assert!(timers.take_due(now).is_empty());
    assert_eq!(
        timers.take_due(at(15)),
        [Timer::Deadline(2), Timer::Deadline(1)]
    );
    assert_eq!(timers.next_due(), Some(at(20)));
}

#[test]
fn a_closed_pool_settles_what_waits_and_refuses_more() {
    let mut st = waiting_state(1);
    let mut fx = Effects::default();
    admit(&mut st, 1, 10, &mut fx);
    admit(&mut st, 2, 10, &mut fx);
    let closed = super::RequestError::new(ErrorCode::Closed, "the pool was closed");
    st.close(&closed, &mut fx);
    assert_eq!(st.phase(), Phase::Closed);
    assert_eq!(failures(&fx), [ErrorCode::Closed, ErrorCode::Closed]);
    assert!(!st.has_open_requests());
    assert_eq!(admit(&mut st, 3, 10, &mut fx), Admission::Refused);
    assert_eq!(st.stats().failed, 2);
    assert_eq!(st.counters.rejected, 1);
}

#[test]
fn a_request_settles_once() {
    let mut st = waiting_state(1);
    let mut fx = Effects::default();
    admit(&mut st, 1, 10, &mut fx);
    let timeout = || Outcome::Failed(super::RequestError::new(ErrorCode::Timeout, "timed out"));
    assert!(st.settle_queued(1, timeout(), &mut fx));
    assert!(!st.settle_queued(1, timeout(), &mut fx));
    assert_eq!(failures(&fx), [ErrorCode::Timeout]);
    assert_eq!(st.stats().timed_out, 1);
    assert_eq!(st.stats().queued, 0);
    assert!(!st.has_open_requests());
}

#[test]
fn queued_requests_no_worker_can_serve_fail_as_stranded() {
    let mut st = waiting_state(2);
    let mut fx = Effects::default();
    admit(&mut st, 1, 10, &mut fx);
    st.admit(2, entry(Target::Worker(1), None), 10, &mut fx);
    // Slot 1 gives up: only the request bound to it is stranded.
    st.slots[1].restart_pending = false;
    st.fail_stranded(&mut fx);
    assert_eq!(failures(&fx), [ErrorCode::WorkerExited]);
    assert!(st.queued(1).is_some());
    assert!(st.queued(2).is_none());
}
