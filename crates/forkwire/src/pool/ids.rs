//! Hashing for request ids. Ids are chosen by this process (consecutive
//! numbers from [`super::Pool::next_id`] or the caller's own), never by a
//! worker, so a keyless hash is enough: a multiply and a short finalizer,
//! a fraction of the default SipHash on the per-request path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An odd constant with well-mixed bits (from the golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
/// MurmurHash3's first finalizer constant.
const FOLD: u64 = 0xff51_afd7_ed55_8ccd;

/// Multiplies each word in; `finish` mixes the product so that the low
/// bits (hashbrown's bucket index) and the top ones (its tags) depend on
/// every bit of the id: ids that differ only in high bits (a stride of
/// 1024, a shard number in the top half) still spread.
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
        // The last steps of MurmurHash3's 64-bit finalizer: every output
        // bit depends on every input bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(FOLD);
        h ^ (h >> 33)
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn hash(id: u64) -> u64 {
        let mut h = IdHasher::default();
        h.write_u64(id);
        h.finish()
    }

    /// Distinct bucket indexes (low 10 bits) and tags (top 7 bits) of
    /// 1024 ids `first + i * stride`.
    fn spread(first: u64, stride: u64) -> (usize, usize) {
        let ids = (0..1024).map(|i| first + i * stride);
        let low: HashSet<u64> = ids.clone().map(|id| hash(id) & 1023).collect();
        let tags: HashSet<u64> = ids.map(|id| hash(id) >> 57).collect();
        (low.len(), tags.len())
    }

    #[test]
    fn consecutive_and_strided_ids_spread_over_buckets_and_tags() {
        for (first, stride) in [
            (1, 1),
            (0, 1024),
            (7, 1 << 20),
            (0, 1 << 32),
            (1 << 40, 1 << 45),
        ] {
            let (low, tags) = spread(first, stride);
            // 1024 random hashes fill about 647 of 1024 buckets.
            assert!(low > 550, "stride {stride}: {low} buckets");
            assert!(tags > 100, "stride {stride}: {tags} tags");
        }
    }
}
