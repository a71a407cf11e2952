//! The requests a remote pool has sent and not yet settled, with their
//! deadlines, their resends and when a sidecar last claimed them. Taking
//! an entry out is the one way a request settles, so each settles once.

use bytes::Bytes;
use forkwire::pool::Outcome;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who hears a request's outcome.
pub(crate) enum Done {
    /// The pool's handler, with the request's id.
    Pool,
    /// The request's own callback.
    Once(Box<dyn FnOnce(Outcome) + Send>),
}

/// One open request.
pub(crate) struct Entry {
    pub done: Done,
    pub kind: Option<Arc<str>>,
    /// The payload, kept for resends.
    pub data: Bytes,
    pub deadline: Option<Instant>,
    pub submitted: Instant,
    /// When it was last sent or claimed by a sidecar.
    pub heard: Instant,
    /// Resends left if its sidecar is lost.
    pub retries: u32,
    /// When a busy sidecar's answer has it sent again.
    pub resend_at: Option<Instant>,
    /// Busy answers it got in a row, for the backoff.
    pub busy: u32,
}

impl Entry {
    /// Milliseconds left before the deadline, for the sidecar.
    pub fn budget_ms(&self, now: Instant) -> Option<u64> {
        self.deadline
            .map(|d| d.saturating_duration_since(now).as_millis().max(1) as u64)
    }
}

/// The table.
#[derive(Default)]
pub(crate) struct Pending {
    entries: HashMap<u64, Entry>,
    deadlines: BTreeSet<(Instant, u64)>,
    /// Requests a busy sidecar gave back, to send again at a time.
    resends: BTreeSet<(Instant, u64)>,
}

impl Pending {
    /// Adds a request; gives it back if its id is open already.
    pub fn insert(&mut self, id: u64, entry: Entry) -> Result<(), Box<Entry>> {
        if self.entries.contains_key(&id) {
            return Err(Box::new(entry));
        }
        if let Some(deadline) = entry.deadline {
            self.deadlines.insert((deadline, id));
        }
        self.entries.insert(id, entry);
        Ok(())
    }

    /// Takes a request out: it settles now.
    pub fn take(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(deadline) = entry.deadline {
            self.deadlines.remove(&(deadline, id));
        }
        if let Some(at) = entry.resend_at {
            self.resends.remove(&(at, id));
        }
        Some(entry)
    }

    pub fn get(&self, id: u64) -> Option<&Entry> {
        self.entries.get(&id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A sidecar holds these: they are not lost.
    pub fn heard(&mut self, ids: impl IntoIterator<Item = u64>, now: Instant) {
        for id in ids {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.heard = now;
            }
        }
    }

    /// Sends `id` again at `at` (a busy sidecar gave it back).
    pub fn resend_at(&mut self, id: u64, at: Instant) {
        if let Some(entry) = self.entries.get_mut(&id) {
            if let Some(before) = entry.resend_at.replace(at) {
                self.resends.remove(&(before, id));
            }
            self.resends.insert((at, id));
        }
    }

    /// A sidecar answered `id` busy: it is sent again after a backoff
    /// that doubles with each busy answer in a row, from `first` to `max`.
    pub fn busy(&mut self, id: u64, now: Instant, first: Duration, max: Duration) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let delay = first.saturating_mul(1 << entry.busy.min(16)).min(max);
        entry.busy += 1;
        self.resend_at(id, now + delay);
    }

    /// Takes the requests whose deadline has passed.
    pub fn expired(&mut self, now: Instant) -> Vec<(u64, Entry)> {
        let due: Vec<u64> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|&(_, id)| id)
            .collect();
        due.into_iter()
            .filter_map(|id| self.take(id).map(|e| (id, e)))
            .collect()
    }

    /// The requests due to be sent again now.
    pub fn due_resends(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.resends.first() {
            if at > now {
                break;
            }
            self.resends.pop_first();
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.resend_at = None;
            }
            due.push(id);
        }
        due
    }

    /// The requests no sidecar has claimed for `silence` (none waiting to
    /// be resent), oldest first.
    pub fn silent(&self, now: Instant, silence: Duration) -> Vec<u64> {
        let mut lost: Vec<(Instant, u64)> = self
            .entries
            .iter()
            .filter(|(_, e)| now.duration_since(e.heard) >= silence && e.resend_at.is_none())
            .map(|(&id, e)| (e.heard, id))
            .collect();
        lost.sort_unstable();
        lost.into_iter().map(|(_, id)| id).collect()
    }

    /// Marks `id` sent again now, one retry spent.
    pub fn resent(&mut self, id: u64, now: Instant, spend_retry: bool) -> Option<&Entry> {
        let entry = self.entries.get_mut(&id)?;
        entry.heard = now;
        if spend_retry {
            entry.retries = entry.retries.saturating_sub(1);
        }
        Some(entry)
    }

    /// Takes every request.
    pub fn take_all(&mut self) -> Vec<(u64, Entry)> {
        self.deadlines.clear();
        self.resends.clear();
        self.entries.drain().collect()
    }

    /// The ids of every request.
    pub fn ids(&self) -> Vec<u64> {
        self.entries.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(now: Instant, deadline: Option<Duration>) -> Entry {
        Entry {
            done: Done::Pool,
            kind: None,
            data: Bytes::new(),
            deadline: deadline.map(|d| now + d),
            submitted: now,
            heard: now,
            retries: 1,
            resend_at: None,
            busy: 0,
        }
    }

    #[test]
    fn an_id_is_open_once() {
        let now = Instant::now();
        let mut pending = Pending::default();
        assert!(pending.insert(1, entry(now, None)).is_ok());
        assert!(pending.insert(1, entry(now, None)).is_err());
        assert!(pending.take(1).is_some());
        assert!(pending.take(1).is_none());
        assert!(pending.insert(1, entry(now, None)).is_ok());
    }

    #[test]
    fn deadlines_expire_in_order_and_only_once() {
        let now = Instant::now();
        let mut pending = Pending::default();
        pending
            .insert(1, entry(now, Some(Duration::from_millis(20))))
            .ok();
        pending
            .insert(2, entry(now, Some(Duration::from_millis(10))))
            .ok();
        pending.insert(3, entry(now, None)).ok();
        assert!(pending.expired(now).is_empty());
        let ids: Vec<u64> = pending
            .expired(now + Duration::from_millis(30))
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, [2, 1]);
        assert!(pending.expired(now + Duration::from_secs(9)).is_empty());
        assert_eq!(pending.len(), 1);
    }

    #[test]
    fn a_claimed_request_is_not_silent() {
        let now = Instant::now();
        let mut pending = Pending::default();
        pending.insert(1, entry(now, None)).ok();
        pending.insert(2, entry(now, None)).ok();
        let later = now + Duration::from_secs(2);
        pending.heard([2, 99], later);
        assert_eq!(pending.silent(later, Duration::from_secs(1)), [1]);
        pending.resend_at(1, later);
        assert!(pending.silent(later, Duration::from_secs(1)).is_empty());
        assert_eq!(pending.due_resends(later), [1]);
        assert!(pending.due_resends(later).is_empty());
    }

    #[test]
    fn busy_answers_back_off() {
        let now = Instant::now();
        let mut pending = Pending::default();
        pending.insert(1, entry(now, None)).ok();
        let (first, max) = (Duration::from_millis(10), Duration::from_millis(50));
        let mut waits = Vec::new();
        for _ in 0..5 {
            pending.busy(1, now, first, max);
            let at = pending.get(1).and_then(|e| e.resend_at).unwrap();
            waits.push(at - now);
            pending.due_resends(at);
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [10, 20, 40, 50, 50]);
    }

    #[test]
    fn taking_a_request_forgets_its_resend() {
        let now = Instant::now();
        let mut pending = Pending::default();
        pending
            .insert(1, entry(now, Some(Duration::from_secs(1))))
            .ok();
        pending.resend_at(1, now);
        pending.take(1);
        assert!(pending.due_resends(now).is_empty());
        assert!(pending.expired(now + Duration::from_secs(5)).is_empty());
    }
}
