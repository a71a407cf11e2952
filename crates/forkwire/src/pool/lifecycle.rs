//! Starting, replacing and stopping workers: the restart policy, what a
//! disconnect or an exit does to requests in flight, and `close()`.

use super::error::{ErrorCode, RequestError};
use super::events::PoolEvent;
use super::state::{Effects, Phase, State, Timer};
use super::timer::after;
use super::worker;
use super::Shared;
use crate::process::{ChildProcess, ExitStatus, SpawnError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When a worker that ended is replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Replace workers at all. Default true.
    pub enabled: bool,
    /// Most restarts of one slot within `window`; past it the pool reports
    /// an error and leaves the slot empty. Default 5.
    pub max_restarts: usize,
    /// The window for `max_restarts`. Default 10 s.
    pub window: Duration,
    /// Delay before a restart, doubled for each recent restart of the slot.
    /// Default 100 ms.
    pub backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            enabled: true,
            max_restarts: 5,
            window: Duration::from_secs(10),
            backoff: Duration::from_millis(100),
        }
    }
}

/// How to close a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseOptions {
    /// Finish queued and in-flight requests first (new ones are refused).
    /// Without it they fail with [`ErrorCode::Closed`]. Default false.
    pub drain: bool,
    /// How long to wait (for the drain, then for workers to exit after
    /// their channel closes) before killing what is left. Default 5 s.
    pub timeout: Duration,
}

impl Default for CloseOptions {
    fn default() -> Self {
        CloseOptions {
            drain: false,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Grace between SIGTERM and SIGKILL for a worker that disconnected.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Longest a retiring worker with requests in flight is given before it is
/// killed, whatever the pool's timeout (which may be "never").
const MAX_RETIRE_WAIT: Duration = Duration::from_secs(60);

/// How often `max_memory` is checked.
const MEMORY_CHECK: Duration = Duration::from_secs(1);

impl Shared {
    /// Starts a process in `slot`. On failure reports it and returns it.
    /// Spawns with the lock held: for the first workers only, before any
    /// request can wait for it; replacements go through [`Shared::respawn`].
    pub(super) fn start_worker(
        self: &Arc<Self>,
        st: &mut State,
        slot: usize,
        fx: &mut Effects,
    ) -> Result<(), RequestError> {
        let gen = st.slots[slot].gen + 1;
        st.slots[slot].gen = gen;
        let spawned = self.options.command.spawn();
        self.install(st, slot, gen, spawned, fx)
    }

    /// Puts a spawned process (generation `gen`) in `slot` and starts its
    /// threads, or reports why it could not be spawned.
    fn install(
        self: &Arc<Self>,
        st: &mut State,
        slot: usize,
        gen: u64,
        spawned: Result<ChildProcess, SpawnError>,
        fx: &mut Effects,
    ) -> Result<(), RequestError> {
        match spawned {
            Ok(child) => {
                let (live, threads) = worker::attach(self, child, slot, gen);
                fx.event(PoolEvent::Spawn {
                    worker: slot,
                    pid: live.pid,
                });
                st.threads += threads.len();
                st.handles.retain(|h| !h.is_finished());
                st.handles.extend(threads);
                st.slots[slot].live = Some(live);
                st.pump();
                Ok(())
            }
            Err(e) => {
                let err = RequestError::new(
                    ErrorCode::Spawn,
                    format!("worker {slot} could not be started: {e}"),
                )
                .on_worker(slot);
                fx.event(PoolEvent::Error(err.clone()));
                Err(err)
            }
        }
    }

    /// The worker's channel closed (it disconnected, or crashed).
    pub(super) fn on_disconnect(&self, slot: usize, gen: u64) {
        let mut st = self.state.lock();
        let closing = st.phase() == Phase::Closed;
        let Some(live) = st.slots[slot].live.as_ref().filter(|l| l.gen == gen) else {
            return;
        };
        {
            let mut table = self.tables.lock(slot);
            if table.gen == gen {
                table.connected = false;
            }
        }
        if !closing {
            // A worker without a channel can do nothing more for us:
            // end it, and let its exit bring a replacement.
            let _ = live.reaper.kill(libc::SIGTERM);
            self.schedule(after(KILL_GRACE), Timer::Kill(slot, gen));
        }
        // Requests in flight fail when the exit comes (with its code
        // and signal), which the kill above guarantees.
        st.unbind_keys(slot);
        st.pump();
        self.idle_cv.notify_all();
    }

    /// The worker process ended.
    pub(super) fn on_exit(self: &Arc<Self>, slot: usize, gen: u64, status: ExitStatus) {
        let mut fx = Effects::default();
        let sender = {
            let mut st = self.state.lock();
            let Some(live) = st.slots[slot].live.as_ref().filter(|l| l.gen == gen) else {
                return;
            };
            let pid = live.pid;
            let planned = self.tables.lock(slot).retiring;
            let mut err = RequestError::new(
                ErrorCode::WorkerExited,
                match status.signal_name() {
                    Some(sig) => format!("worker {slot} (pid {pid}) was killed by {sig}"),
                    None => format!(
                        "worker {slot} (pid {pid}) exited with code {}",
                        status.code.unwrap_or(-1)
                    ),
                },
            );
            err.exit = Some(status);
            let sender = st.evict(slot, &err, &mut fx);
            st.slots[slot].live = None;
            st.unbind_keys(slot);
            fx.event(PoolEvent::Exit {
                worker: slot,
                pid,
                status,
            });
            if st.phase() != Phase::Closed {
                st.slots[slot].restart_pending = false;
                if planned {
                    // Recycling is not a crash: replace at once, uncounted.
                    st.slots[slot].restart_pending = true;
                    self.schedule(Instant::now(), Timer::Respawn(slot));
                } else {
                    self.schedule_restart(&mut st, slot, &mut fx);
                }
                st.fail_stranded(&mut fx);
            }
            st.pump();
            self.idle_cv.notify_all();
            sender
        };
        // The process is gone, but a child of its own may hold the other
        // end of the socket open: stop reading and writing it now (without
        // the lock: handles still waiting for an answer settle here).
        if let Some(sender) = sender {
            sender.close_now();
        }
        self.fire(fx);
    }

    fn schedule_restart(&self, st: &mut State, slot: usize, fx: &mut Effects) {
        let policy = self.options.restart;
        if !policy.enabled {
            return;
        }
        let now = Instant::now();
        let s = &mut st.slots[slot];
        while s
            .recent_restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            s.recent_restarts.pop_front();
        }
        if s.recent_restarts.len() >= policy.max_restarts {
            s.given_up = true;
            fx.event(PoolEvent::Error(
                RequestError::new(
                    ErrorCode::Spawn,
                    format!(
                        "worker {slot} ended {} times within {:?}: not restarting it",
                        policy.max_restarts + 1,
                        policy.window
                    ),
                )
                .on_worker(slot),
            ));
            return;
        }
        let delay = policy
            .backoff
            .checked_mul(2u32.saturating_pow(s.recent_restarts.len() as u32))
            .unwrap_or(Duration::MAX);
        s.recent_restarts.push_back(now);
        s.restart_pending = true;
        self.schedule(after(delay), Timer::Respawn(slot));
    }

    /// A restart timer fired for `slot`. Called without the lock: the
    /// process is spawned (fork, exec, a Node start-up) while requests,
    /// replies and timers go on, then installed under the lock.
    pub(super) fn respawn(self: &Arc<Self>, slot: usize) {
        let mut fx = Effects::default();
        let gen = {
            let mut st = self.state.lock();
            if st.phase() == Phase::Closed || st.slots[slot].live.is_some() {
                st.slots[slot].restart_pending = false;
                return;
            }
            // `restart_pending` stays set while spawning: the slot still
            // counts as serving for requests that wait for it.
            st.slots[slot].restarts += 1;
            st.counters.restarts += 1;
            st.slots[slot].gen += 1;
            st.slots[slot].gen
        };
        let spawned = self.options.command.spawn();
        let mut st = self.state.lock();
        st.slots[slot].restart_pending = false;
        if st.phase() == Phase::Closed || st.slots[slot].gen != gen {
            drop(st);
            if let Ok(child) = spawned {
                let (_channel, reaper) = child.into_parts();
                let _ = reaper.kill(libc::SIGKILL);
                let _ = reaper.wait();
            }
            return;
        }
        // A process installed has been given the queue (`install` pumps).
        if self.install(&mut st, slot, gen, spawned, &mut fx).is_err() {
            self.schedule_restart(&mut st, slot, &mut fx);
            st.fail_stranded(&mut fx);
        }
        self.idle_cv.notify_all();
        drop(st);
        self.fire(fx);
    }

    /// Retires the worker in `slot` now (it takes no new requests and is
    /// disconnected once idle) and kills it if it is still there after a
    /// grace period.
    pub(super) fn recycle(&self, st: &mut State, slot: usize) {
        let Some(gen) = st.slots[slot].live.as_ref().map(|l| l.gen) else {
            return;
        };
        let grace = {
            let mut table = self.tables.lock(slot);
            if table.retiring {
                return;
            }
            table.retiring = true;
            if table.in_flight() == 0 {
                table.disconnect();
                KILL_GRACE
            } else {
                KILL_GRACE
                    + self
                        .options
                        .timeout
                        .unwrap_or(KILL_GRACE)
                        .min(MAX_RETIRE_WAIT)
            }
        };
        self.schedule(after(grace), Timer::Kill(slot, gen));
    }

    /// Heartbeat timer: kill workers silent for too long, ask the others.
    pub(super) fn heartbeat_tick(&self, st: &mut State, fx: &mut Effects) {
        let Some(hb) = self.options.heartbeat else {
            return;
        };
        let now = Instant::now();
        let request = super::envelope::heartbeat_request(self.mode);
        let mut silent = Vec::new();
        for (slot, s) in st.slots.iter().enumerate() {
            let Some(live) = s.live.as_ref() else {
                continue;
            };
            let mut table = self.tables.lock(slot);
            if !table.connected {
                continue;
            }
            if now.duration_since(live.last_heartbeat) > hb.timeout {
                let _ = live.reaper.kill(libc::SIGKILL);
                silent.push((slot, live.pid));
            } else if let Some(frame) = &request {
                table.write(frame.clone().into());
            }
        }
        for (slot, pid) in silent {
            st.counters.unresponsive += 1;
            fx.event(PoolEvent::Unresponsive { worker: slot, pid });
        }
        self.schedule(after(hb.interval), Timer::Heartbeat);
    }

    /// Memory timer: retire workers over `max_memory`.
    pub(super) fn memory_tick(&self, st: &mut State) {
        let Some(limit) = self.options.max_memory else {
            return;
        };
        let over: Vec<usize> = st
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| {
                let live = s.live.as_ref()?;
                let retiring = self.tables.lock(slot).retiring;
                (!retiring && crate::process::rss_bytes(live.pid)? > limit).then_some(slot)
            })
            .collect();
        for slot in over {
            self.recycle(st, slot);
        }
        self.schedule(after(MEMORY_CHECK), Timer::MemoryCheck);
    }

    /// See [`super::Pool::close`].
    pub(super) fn close(&self, options: CloseOptions) {
        let deadline = after(options.timeout);
        let mut fx = Effects::default();
        {
            let mut st = self.state.lock();
            if st.phase() == Phase::Open && options.drain {
                st.set_phase(Phase::Draining);
                while st.has_open_requests() && Instant::now() < deadline {
                    self.idle_cv.wait_until(&mut st, deadline);
                }
            }
            if st.phase() != Phase::Closed {
                let err = RequestError::new(ErrorCode::Closed, "the pool was closed");
                st.close(&err, &mut fx);
                self.timer_cv.notify_all();
            }
        }
        self.fire(fx);
        let mut st = self.state.lock();
        let all_exited = |st: &State| st.slots.iter().all(|s| s.live.is_none());
        while !all_exited(&st) && Instant::now() < deadline {
            self.idle_cv.wait_until(&mut st, deadline);
        }
        if !all_exited(&st) {
            for slot in &st.slots {
                if let Some(live) = &slot.live {
                    let _ = live.reaper.kill(libc::SIGKILL);
                }
            }
        }
        // Every thread ends once its process is gone: reapers on exit,
        // readers on EOF, writers when their queue closes.
        let last = Instant::now() + Duration::from_secs(5);
        for slot in 0..self.tables.len() {
            self.tables.lock(slot).disconnect();
        }
        while st.threads > 0 && Instant::now() < last {
            self.timer_cv.notify_all();
            self.idle_cv
                .wait_until(&mut st, Instant::now() + Duration::from_millis(50));
        }
        // Every thread has said it is done; join them so none outlives
        // close(). Called from one of them (a drop on a pool thread), skip
        // that one.
        let handles = std::mem::take(&mut st.handles);
        drop(st);
        let me = std::thread::current().id();
        for handle in handles {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}
