//! The requests a sidecar holds: the pool's id, the client's reply
//! subject and when it was taken.

use crate::protocol;
use async_nats::Subject;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct Held {
    by_id: HashMap<u64, (Subject, Instant)>,
    by_reply: HashMap<String, u64>,
}

impl Held {
    pub fn insert(&mut self, id: u64, reply: Subject) {
        self.by_reply.insert(reply.to_string(), id);
        self.by_id.insert(id, (reply, Instant::now()));
    }

    /// Forgets request `id`: its reply subject and when it was taken.
    pub fn remove(&mut self, id: u64) -> Option<(Subject, Instant)> {
        let (reply, taken) = self.by_id.remove(&id)?;
        if self.by_reply.get(reply.as_str()) == Some(&id) {
            self.by_reply.remove(reply.as_str());
        }
        Some((reply, taken))
    }

    /// The pool's id of the request answered at `reply`.
    pub fn id_of(&self, reply: &str) -> Option<u64> {
        self.by_reply.get(reply).copied()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// For each client inbox, the keepalive subject and the client's ids of
    /// the requests held here for at least `min_age`. Replies that are not
    /// `<inbox>.<number>` (a client other than forkwire's) get none.
    pub fn claims(&self, min_age: Duration) -> Vec<(Subject, Vec<u64>)> {
        let mut by_inbox: HashMap<&str, Vec<u64>> = HashMap::new();
        for (reply, taken) in self.by_id.values() {
            if taken.elapsed() < min_age {
                continue;
            }
            let Some((inbox, id)) = reply.rsplit_once('.') else {
                continue;
            };
            if let Ok(id) = id.parse::<u64>() {
                by_inbox.entry(inbox).or_default().push(id);
            }
        }
        by_inbox
            .into_iter()
            .map(|(inbox, ids)| {
                (
                    Subject::from(format!("{inbox}.{}", protocol::KEEPALIVE_TOKEN)),
                    ids,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_group_ids_by_client_inbox() {
        let mut held = Held::default();
        held.insert(1, "_INBOX.a.7".into());
        held.insert(2, "_INBOX.a.8".into());
        held.insert(3, "_INBOX.b.1".into());
        held.insert(4, "reply-of-someone-else".into());
        let mut claims = held.claims(Duration::ZERO);
        claims.sort_by(|x, y| x.0.cmp(&y.0));
        for (_, ids) in &mut claims {
            ids.sort_unstable();
        }
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0].0.as_str(), "_INBOX.a.held");
        assert_eq!(claims[0].1, [7, 8]);
        assert_eq!(claims[1].1, [1]);
        assert!(held.claims(Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn a_request_is_found_by_its_reply_until_removed() {
        let mut held = Held::default();
        held.insert(5, "_INBOX.a.1".into());
        assert_eq!(held.id_of("_INBOX.a.1"), Some(5));
        assert!(held.remove(5).is_some());
        assert_eq!(held.id_of("_INBOX.a.1"), None);
        assert!(held.remove(5).is_none());
        assert!(held.is_empty());
    }
}
