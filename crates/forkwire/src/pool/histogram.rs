//! The pool's request-latency histogram; see [`LatencyHistogram`].

use std::time::Duration;

/// Sub-buckets in each decade.
const PER_DECADE: u64 = 90;
/// The first bucketed decade starts at 10^3 ns (1 µs)...
const FIRST_DECADE: u32 = 3;
/// ...and the last ends at 10^11 ns (100 s).
const LAST_DECADE: u32 = 10;
/// Below the first boundary: `(0, 1 µs]` (and zero).
const UNDER: usize = 0;
/// Past the last boundary: `(100 s, ∞)`.
const OVER: usize = BUCKETS - 1;
/// The smallest boundary, in ns.
const MIN_NS: u64 = 1_000;
/// The largest boundary, in ns.
const MAX_NS: u64 = 100_000_000_000;

/// Number of buckets: 8 decades of 90, and one each side.
pub const BUCKETS: usize = ((LAST_DECADE - FIRST_DECADE + 1) as u64 * PER_DECADE) as usize + 2;

/// The `le` boundaries `forkwire_request_duration_seconds` is exported
/// with, as written in the exposition and in nanoseconds: 25 µs to 60 s.
/// Each is a bucket boundary of the layout above.
pub const PROMETHEUS_BOUNDS: [(&str, u64); 20] = [
    ("0.000025", 25_000),
    ("0.00005", 50_000),
    ("0.0001", 100_000),
    ("0.00025", 250_000),
    ("0.0005", 500_000),
    ("0.001", 1_000_000),
    ("0.0025", 2_500_000),
    ("0.005", 5_000_000),
    ("0.01", 10_000_000),
    ("0.025", 25_000_000),
    ("0.05", 50_000_000),
    ("0.1", 100_000_000),
    ("0.25", 250_000_000),
    ("0.5", 500_000_000),
    ("1", 1_000_000_000),
    ("2.5", 2_500_000_000),
    ("5", 5_000_000_000),
    ("10", 10_000_000_000),
    ("30", 30_000_000_000),
    ("60", 60_000_000_000),
];

/// 10^n for n in 0..=11.
const POW10: [u64; 12] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
];

/// The pool's request latencies: the time from a request's submission
/// (when the pool took it) to its settlement, whatever the outcome,
/// counted in fixed buckets. [`super::Pool::metrics`] exports it as the
/// Prometheus histogram `forkwire_request_duration_seconds`, and
/// [`super::PoolStats::latency_ms`] holds its percentiles.
///
/// # Layout
///
/// Fixed log-linear buckets over nanoseconds, 90 to a decade: from 1 µs to
/// 100 s each decade `[10^k, 10^(k+1))` ns is cut at every `d · 10^(k-1)`
/// for `d` in 10..=100, so the boundaries read 1.0, 1.1, 1.2, ... 9.9 µs,
/// 10, 11, ... 99 µs, 100, 110, ... and so on up to 99 s. Below them one
/// bucket holds everything up to 1 µs, above them one holds everything past
/// 100 s: [`LATENCY_BUCKETS`](super::LATENCY_BUCKETS) (722) counters in
/// all, 5.8 KB.
///
/// A bucket is `(lower, upper]` (an observation equal to a boundary counts
/// in the bucket it closes), as Prometheus' `le` reads: every boundary of
/// [`LATENCY_BOUNDS`](super::LATENCY_BOUNDS) is one of these, so the
/// exported cumulative counts are exact, not interpolated.
///
/// # Error
///
/// A bucket that starts at `d · 10^(k-1)` is `10^(k-1)` wide: at most a
/// tenth of its lower bound (at 1.0-1.1 µs, 10-11 ms, ...) and about a
/// hundredth near the top of a decade (9.9-10 ms). A percentile is placed by
/// linear interpolation inside the bucket that holds it, so it is off by
/// less than that bucket's width: **under 10 % of the true value** in the
/// worst case, about 1 % at the top of a decade. Below 1 µs the error is
/// under 1 µs; past 100 s the estimate is the largest value seen. No
/// estimate is ever above the largest value seen.
///
/// Recording is a handful of integer operations (an `ilog10` and a division
/// among them, about 6 ns), done under the pool's lock where the request
/// settles anyway.
#[derive(Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count)
            .field("sum", &self.sum())
            .field("max", &self.max())
            .finish_non_exhaustive()
    }
}

/// The bucket of `ns`: buckets are `(lower, upper]`.
fn index(ns: u64) -> usize {
    if ns <= MIN_NS {
        return UNDER;
    }
    if ns > MAX_NS {
        return OVER;
    }
    // `v` in [10^3, 10^11): its decade k and two leading digits d.
    let v = ns - 1;
    let k = v.ilog10();
    let d = v / POW10[(k - 1) as usize];
    1 + ((k - FIRST_DECADE) as u64 * PER_DECADE + (d - 10)) as usize
}

/// The bounds `(lower, upper]` of bucket `i` in ns; `upper` is `None` for
/// the last.
fn bounds(i: usize) -> (u64, Option<u64>) {
    match i {
        UNDER => (0, Some(MIN_NS)),
        OVER => (MAX_NS, None),
        _ => {
            let j = (i - 1) as u64;
            let k = FIRST_DECADE + (j / PER_DECADE) as u32;
            let d = 10 + j % PER_DECADE;
            let unit = POW10[(k - 1) as usize];
            (d * unit, Some((d + 1) * unit))
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        LatencyHistogram::default()
    }

    /// Counts one latency.
    #[inline]
    pub fn record(&mut self, latency: Duration) {
        self.record_nanos(nanos(latency));
    }

    /// Counts one latency of `ns` nanoseconds.
    #[inline]
    pub fn record_nanos(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds every latency counted in `other` (the histograms of several
    /// workers, taken together).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// How many latencies were counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their sum.
    pub fn sum(&self) -> Duration {
        let secs = u64::try_from(self.sum_ns / 1_000_000_000).unwrap_or(u64::MAX);
        Duration::new(secs, (self.sum_ns % 1_000_000_000) as u32)
    }

    /// Their sum in seconds, as Prometheus' `_sum` reads.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_ns as f64 / 1e9
    }

    /// The largest, or `None` before the first.
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.max_ns))
    }

    /// How many latencies were at most `bound`: exact when `bound` is a
    /// bucket boundary (every one of [`PROMETHEUS_BOUNDS`] is), otherwise
    /// the count up to the nearest boundary below it.
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let ns = nanos(bound);
        self.counts
            .iter()
            .enumerate()
            .take_while(|&(i, _)| bounds(i).1.is_some_and(|upper| upper <= ns))
            .map(|(_, n)| n)
            .sum()
    }

    /// The `q`-quantile (`q` in [0, 1], e.g. 0.99), or `None` before the
    /// first latency: the value of rank `ceil(q · count)` placed by linear
    /// interpolation in its bucket (see [`LatencyHistogram`] for the
    /// error).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        self.quantiles([q]).map(|[d]| d)
    }

    /// Several quantiles in one pass over the buckets; `qs` in any order.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[Duration; N]> {
        if self.count == 0 {
            return None;
        }
        let ranks = qs.map(|q| {
            let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
            ((q * self.count as f64).ceil() as u64).clamp(1, self.count)
        });
        let mut out = [Duration::ZERO; N];
        let mut below = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let (lower, upper) = bounds(i);
            for (slot, &rank) in ranks.iter().enumerate() {
                if rank > below && rank <= below + n {
                    let ns = match upper {
                        Some(upper) => {
                            let within = (rank - below) as f64 / n as f64;
                            lower + ((upper - lower) as f64 * within) as u64
                        }
                        None => self.max_ns,
                    };
                    out[slot] = Duration::from_nanos(ns.min(self.max_ns));
                }
            }
            below += n;
        }
        Some(out)
    }

    /// The cumulative counts at each of [`PROMETHEUS_BOUNDS`], in order.
    pub fn prometheus_buckets(&self) -> [u64; PROMETHEUS_BOUNDS.len()] {
        let mut out = [0; PROMETHEUS_BOUNDS.len()];
        let mut below = 0u64;
        let mut b = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            let Some(upper) = bounds(i).1 else { break };
            while b < out.len() && PROMETHEUS_BOUNDS[b].1 < upper {
                out[b] = below;
                b += 1;
            }
            below += n;
            if b < out.len() && PROMETHEUS_BOUNDS[b].1 == upper {
                out[b] = below;
                b += 1;
            }
        }
        for slot in out.iter_mut().skip(b) {
            *slot = below;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    #[test]
    fn buckets_are_contiguous_and_closed_above() {
        // Every bucket starts where the one before ends, and its bounds
        // map back to it: an upper bound to itself, one past it to the next.
        let mut previous_upper = 0;
        for i in 0..BUCKETS {
            let (lower, upper) = bounds(i);
            assert_eq!(lower, previous_upper, "bucket {i}");
            if let Some(upper) = upper {
                assert!(upper > lower);
                assert_eq!(index(upper), i, "upper of {i}");
                assert_eq!(index(upper + 1), i + 1, "past {i}");
                previous_upper = upper;
            }
        }
        assert_eq!(index(0), UNDER);
        assert_eq!(index(1_000), UNDER);
        assert_eq!(index(1_001), 1);
        assert_eq!(bounds(1), (1_000, Some(1_100)));
        assert_eq!(index(MAX_NS), OVER - 1);
        assert_eq!(index(MAX_NS + 1), OVER);
        assert_eq!(index(u64::MAX), OVER);
        assert_eq!(BUCKETS, 722);
    }

    #[test]
    fn merged_histograms_count_as_one() {
        let (mut a, mut b, mut both) = (
            LatencyHistogram::new(),
            LatencyHistogram::new(),
            LatencyHistogram::new(),
        );
        for n in [2_000, 50_000, 3_000_000] {
            a.record(ns(n));
            both.record(ns(n));
        }
        for n in [7_000, 90_000_000] {
            b.record(ns(n));
            both.record(ns(n));
        }
        a.merge(&b);
        assert_eq!(a, both);
        assert_eq!(a.count(), 5);
        assert_eq!(a.max(), Some(ns(90_000_000)));
    }

    #[test]
    fn no_bucket_is_wider_than_a_tenth_of_its_lower_bound() {
        for i in 1..OVER {
            let (lower, upper) = bounds(i);
            let width = upper.unwrap() - lower;
            assert!(width * 10 <= lower, "bucket {i}: ({lower}, {upper:?}]");
        }
    }

    #[test]
    fn prometheus_bounds_are_boundaries_and_counts_are_exact() {
        for (text, bound) in PROMETHEUS_BOUNDS {
            assert!((0..BUCKETS).any(|i| bounds(i).1 == Some(bound)), "{text}");
            let seconds: f64 = text.parse().unwrap();
            assert!((seconds * 1e9 - bound as f64).abs() < 1e-3, "{text}");
        }
        let mut h = LatencyHistogram::new();
        // On a boundary, just past it, and far past every one.
        for n in [25_000, 25_001, 1_000_000, 1_000_001, 200_000_000_000] {
            h.record(ns(n));
        }
        let cumulative = h.prometheus_buckets();
        assert_eq!(cumulative[0], 1, "le=25us counts the 25 us one");
        assert_eq!(cumulative[1], 2);
        assert_eq!(cumulative[5], 3, "le=1ms");
        assert_eq!(cumulative[6], 4);
        assert_eq!(cumulative[19], 4, "le=60s: 200 s is only in +Inf");
        for (b, (_, bound)) in PROMETHEUS_BOUNDS.iter().enumerate() {
            assert_eq!(cumulative[b], h.count_at_most(ns(*bound)));
        }
        assert!(cumulative.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn an_empty_histogram_has_no_quantiles() {
        let h = LatencyHistogram::new();
        assert_eq!(h.quantile(0.5), None);
        assert_eq!(h.max(), None);
        assert_eq!(h.prometheus_buckets(), [0; 20]);
        assert_eq!(h.sum(), Duration::ZERO);
    }

    #[test]
    fn quantiles_of_uniform_latencies_are_within_the_stated_error() {
        // 1..=100_000 us: the true q-quantile is q * 100_000 us.
        let mut h = LatencyHistogram::new();
        for us in 1..=100_000u64 {
            h.record(Duration::from_micros(us));
        }
        for q in [0.001, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let truth = q * 100_000.0 * 1_000.0;
            let got = h.quantile(q).unwrap().as_nanos() as f64;
            assert!(
                (got - truth).abs() <= truth * 0.10,
                "q={q}: {got} ns for {truth}"
            );
        }
        assert_eq!(h.quantile(1.0), h.max());
        assert_eq!(h.max(), Some(Duration::from_millis(100)));
        assert_eq!(h.sum(), Duration::from_micros(100_000 * 100_001 / 2));
        let [p50, p90, p99] = h.quantiles([0.5, 0.9, 0.99]).unwrap();
        assert!(p50 <= p90 && p90 <= p99);
    }

    #[test]
    fn quantiles_of_spread_latencies_are_within_the_stated_error() {
        // Values spread over six decades, at the worst place of a decade
        // (just above 10^k) and at the best (just below 10^(k+1)).
        let mut values: Vec<u64> = Vec::new();
        for k in 3..10 {
            for step in 0..200u64 {
                values.push(POW10[k] + step * POW10[k] / 2_000);
                values.push(POW10[k + 1] - 1 - step * POW10[k] / 2_000);
            }
        }
        values.sort_unstable();
        let mut h = LatencyHistogram::new();
        for &v in &values {
            h.record(ns(v));
        }
        for q in [0.05, 0.2, 0.33, 0.5, 0.66, 0.9, 0.99] {
            let rank = (q * values.len() as f64).ceil() as usize;
            let truth = values[rank - 1] as f64;
            let got = h.quantile(q).unwrap().as_nanos() as f64;
            assert!(
                (got - truth).abs() <= truth * 0.10,
                "q={q}: {got} for {truth}"
            );
        }
    }

    #[test]
    fn the_ends_are_bounded_by_what_was_seen() {
        let mut h = LatencyHistogram::new();
        h.record(ns(10));
        h.record(Duration::from_secs(500));
        h.record(Duration::MAX);
        // The lowest bucket is (0, 1 us]: its estimate is under 1 us off.
        assert_eq!(h.quantile(0.0), Some(ns(1_000)));
        assert_eq!(h.quantile(1.0), h.max());
        assert_eq!(h.max(), Some(ns(u64::MAX)));
        let mut one = LatencyHistogram::new();
        one.record(Duration::from_micros(1_234));
        // A single value: every quantile is within its bucket and never
        // above it.
        for q in [0.0, 0.5, 1.0] {
            let got = one.quantile(q).unwrap();
            assert!(got <= Duration::from_micros(1_234));
            assert!(got > Duration::from_micros(1_230));
        }
    }
}
