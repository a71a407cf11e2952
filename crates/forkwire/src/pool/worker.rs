//! One worker process and the three threads that serve it: a writer that
//! takes over what its [`Lane`] cannot write at once, a reader that cuts
//! and probes replies, and a reaper that waits for the exit status.

use super::envelope;
use super::lane::Lane;
use super::Shared;
use crate::channel::{ChannelError, Receiver};
use crate::codec::Mode;
use crate::process::{ChildProcess, Reaper};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A running worker process, as the pool state holds it (its requests in
/// flight and its way out are in its slot's table).
pub(crate) struct Live {
    pub pid: u32,
    pub gen: u64,
    pub reaper: Reaper,
    /// The last sign of life that heartbeats count: start or heartbeat.
    pub last_heartbeat: std::time::Instant,
    /// Bad frames received from this process.
    pub protocol_errors: usize,
}

/// Starts the threads of a worker process spawned for slot `slot`, its
/// way out installed in the slot's table first. Called with the state
/// lock held; the threads take it only after this returns, so they always
/// find the `Live` it returns installed.
pub(crate) fn attach(
    shared: &Arc<Shared>,
    child: ChildProcess,
    slot: usize,
    gen: u64,
) -> (Live, Vec<JoinHandle<()>>) {
    let pid = child.id();
    let (channel, reaper) = child.into_parts();
    let mode = channel.mode();
    let (sender, mut receiver) = channel.split();
    let on_answer = super::handle::hook_up(shared, &sender, slot, gen);
    let (lane, write_loop) = Lane::new(sender);
    shared.tables.lock(slot).install(gen, lane, on_answer);

    let name = |what: &str| format!("forkwire-{what}-{slot}");
    let spawned = [
        spawn_thread(name("writer"), shared, move |_| write_loop()),
        spawn_thread(name("reader"), shared, move |shared| {
            let read =
                std::panic::AssertUnwindSafe(|| read_loop(shared, &mut receiver, mode, slot, gen));
            if std::panic::catch_unwind(read).is_err() {
                shared.on_protocol_error(slot, gen, 1, "the reader failed".into(), &[]);
            }
            shared.on_disconnect(slot, gen);
        }),
        {
            let reaper = reaper.clone();
            spawn_thread(name("reaper"), shared, move |shared| {
                if let Ok(status) = reaper.wait() {
                    shared.on_exit(slot, gen, status);
                }
            })
        },
    ];
    let threads = spawned.into_iter().flatten().collect();
    (
        Live {
            pid,
            gen,
            reaper,
            last_heartbeat: std::time::Instant::now(),
            protocol_errors: 0,
        },
        threads,
    )
}

/// Spawns a named thread that holds a count in the pool for as long as it
/// runs, so `close()` can wait for every thread to end. A panic in `body`
/// (a bug, never a peer's doing) ends the thread but still gives its count
/// back, so `close()` cannot wait for it forever.
pub(crate) fn spawn_thread<F>(name: String, shared: &Arc<Shared>, body: F) -> Option<JoinHandle<()>>
where
    F: FnOnce(&Arc<Shared>) + Send + 'static,
{
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| body(&shared));
            let _ = std::panic::catch_unwind(run);
            shared.thread_done();
        })
        .ok()
}

/// Frames handled under one lock at most.
const READ_BATCH: usize = 256;

/// Bad frames reported one by one per read from the socket; past it they
/// are counted, and summed up in one report before the reader next waits.
/// A worker writing millions of bad lines costs a few events per read.
const REPORTED_PER_READ: usize = 16;

/// The bad frames of the current read.
#[derive(Default)]
struct BadFrames {
    reported: usize,
    unreported: usize,
}

impl BadFrames {
    fn add(&mut self, shared: &Shared, slot: usize, gen: u64, message: String, frame: &[u8]) {
        if self.reported < REPORTED_PER_READ {
            self.reported += 1;
            shared.on_protocol_error(slot, gen, 1, message, frame);
        } else {
            self.unreported += 1;
        }
    }

    /// Reports what was only counted; call before reading again.
    fn flush(&mut self, shared: &Shared, slot: usize, gen: u64) {
        if self.unreported > 0 {
            let n = self.unreported;
            let message = format!("{n} more bad frames in the same read, not reported one by one");
            shared.on_protocol_error(slot, gen, n, message, &[]);
        }
        *self = BadFrames::default();
    }
}

/// Reads frames until the channel closes, handing them to the pool in
/// batches: whatever is already buffered, up to [`READ_BATCH`].
fn read_loop(shared: &Arc<Shared>, receiver: &mut Receiver, mode: Mode, slot: usize, gen: u64) {
    let mut batch = Vec::new();
    let mut bad = BadFrames::default();
    loop {
        // Whoever consumes what the pool delivers may ask the readers to
        // wait (a bounded backlog): nothing more is read until it has room.
        if let Some(gate) = &shared.options.read_gate {
            gate.wait();
        }
        let frame = match receiver.try_recv_frame() {
            Some(frame) if batch.len() < READ_BATCH => frame,
            next => {
                if !batch.is_empty() {
                    shared.on_incoming(slot, gen, &mut batch);
                }
                match next {
                    Some(frame) => frame,
                    None => {
                        bad.flush(shared, slot, gen);
                        match receiver.recv_frame() {
                            Ok(Some(frame)) => Ok(frame),
                            Ok(None) => return,
                            Err(e) => Err(e),
                        }
                    }
                }
            }
        };
        match frame {
            Ok(frame) => match envelope::parse(mode, frame) {
                Ok(incoming) => batch.push(incoming),
                Err(message) => bad.add(shared, slot, gen, message, frame),
            },
            Err(e) if e.is_recoverable() => bad.add(shared, slot, gen, e.to_string(), &[]),
            Err(e) => {
                if !batch.is_empty() {
                    shared.on_incoming(slot, gen, &mut batch);
                }
                bad.flush(shared, slot, gen);
                if let ChannelError::Frame(e) = e {
                    shared.on_protocol_error(slot, gen, 1, e.to_string(), &[]);
                }
                return;
            }
        }
    }
}
