//! The sockets a Node `net.Server` handed to this process, by the server's
//! `key`, as a Node child keeps them: the parent's `server.close()` waits
//! for `NODE_SOCKET_ALL_CLOSED` from every child it gave connections to,
//! and `server.getConnections()` asks for `NODE_SOCKET_COUNT`.
//!
//! A socket counts as open while any descriptor of this process refers to
//! it (found by inode in `/proc/self/fd`), so closing, moving or
//! duplicating the std value works as the user expects. While the parent
//! waits for a key, a short-lived thread re-checks every 20 ms and ends
//! once it has answered, or the channel closes.

use super::{internal, socket, Sender};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::time::Duration;

/// How often the sockets of a key the parent waits for are re-checked.
const POLL: Duration = Duration::from_millis(20);

/// The socket lists of one channel. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct SocketLists {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    lists: Mutex<Lists>,
    sender: Sender,
}

#[derive(Debug, Default)]
struct Lists {
    /// Socket inodes received with each key.
    open: HashMap<String, Vec<u64>>,
    /// Keys whose parent waits for `NODE_SOCKET_ALL_CLOSED`.
    waiting: BTreeSet<String>,
    /// A watcher thread runs.
    watching: bool,
}

impl SocketLists {
    pub(crate) fn new(sender: Sender) -> SocketLists {
        SocketLists {
            shared: Arc::new(Shared {
                lists: Mutex::new(Lists::default()),
                sender,
            }),
        }
    }

    /// Records a socket received with `key`.
    pub(crate) fn add(&self, key: String, fd: BorrowedFd<'_>) {
        if let Ok(ino) = socket::inode(fd.as_raw_fd()) {
            self.shared
                .lists
                .lock()
                .open
                .entry(key)
                .or_default()
                .push(ino);
        }
    }

    /// `NODE_SOCKET_GET_COUNT`. A key never seen (its socket was refused,
    /// say) counts none: a Node child would not answer at all, and leave
    /// the parent's `getConnections()` waiting.
    pub(crate) fn get_count(&self, key: &str) {
        let live = live_sockets();
        let count = {
            let mut lists = self.shared.lists.lock();
            lists.open.get_mut(key).map_or(0, |list| {
                list.retain(|ino| live.contains(ino));
                list.len()
            })
        };
        let _ = self.shared.sender.send(&internal::socket_count(key, count));
    }

    /// `NODE_SOCKET_NOTIFY_CLOSE`: answers now if every socket of `key` is
    /// closed (or none came), else once they are. A Node child that never
    /// got a socket of `key` stays silent and the parent's `server.close()`
    /// never completes; answering is the truth and lets it finish.
    pub(crate) fn notify_close(&self, key: &str) {
        let live = live_sockets();
        let closed = {
            let mut lists = self.shared.lists.lock();
            let list = lists.open.entry(key.to_owned()).or_default();
            list.retain(|ino| live.contains(ino));
            if list.is_empty() {
                true
            } else {
                lists.waiting.insert(key.to_owned());
                if !lists.watching {
                    let shared = Arc::clone(&self.shared);
                    let spawned = std::thread::Builder::new()
                        .name("forkwire-socket-list".into())
                        .spawn(move || watch(&shared));
                    lists.watching = spawned.is_ok();
                }
                false
            }
        };
        if closed {
            let _ = self.shared.sender.send(&internal::sockets_closed(key));
        }
    }
}

/// Re-checks the keys the parent waits for until none is left or the
/// channel closes.
fn watch(shared: &Shared) {
    loop {
        std::thread::sleep(POLL);
        if !shared.sender.is_connected() {
            let mut lists = shared.lists.lock();
            lists.waiting.clear();
            lists.watching = false;
            return;
        }
        let live = live_sockets();
        let (closed, last) = {
            let mut lists = shared.lists.lock();
            let Lists { open, waiting, .. } = &mut *lists;
            let mut closed = Vec::new();
            waiting.retain(|key| {
                let list = open.entry(key.clone()).or_default();
                list.retain(|ino| live.contains(ino));
                if list.is_empty() {
                    closed.push(key.clone());
                    false
                } else {
                    true
                }
            });
            let last = lists.waiting.is_empty();
            if last {
                lists.watching = false;
            }
            (closed, last)
        };
        for key in closed {
            let _ = shared.sender.send(&internal::sockets_closed(&key));
        }
        if last {
            return;
        }
    }
}

/// The sockets this process has open. If `/proc` cannot be read, none:
/// better to let the parent's `close()` finish than to hang it.
fn live_sockets() -> HashSet<u64> {
    socket::open_socket_inodes().unwrap_or_default()
}
