//! Hashing for request ids. Ids are chosen by this process (consecutive
//! numbers from [`super::Pool::next_id`] or the caller's own), never by a
//! worker, so a multiplicative hash is enough, and it costs a fraction of
//! the default SipHash on the per-request path.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// An odd constant with well-mixed bits (from the golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Multiplies each word in: low bits follow low bits of the id (spread
/// over buckets), high bits mix all of them (hashbrown's tag bits).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(MIX);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
pub(crate) type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_ids_spread_over_buckets_and_tags() {
        let hash = |id: u64| {
            let mut h = IdHasher::default();
            h.write_u64(id);
            h.finish()
        };
        let low: HashSet<u64> = (0..1024).map(|id| hash(id) & 1023).collect();
        let tags: HashSet<u64> = (0..1024).map(|id| hash(id) >> 57).collect();
        assert_eq!(low.len(), 1024);
        assert!(tags.len() > 100, "{} tag values", tags.len());
    }
}
