//! A transfer-rate meter: how many bytes per second flowed over a sliding window.
//!
//! [`RateMeter`] keeps a fixed ring of one-second buckets, one per second of the window, so
//! its memory never grows and [`RateMeter::add`] is O(1). It never reads the clock: every
//! call is given the current [`Instant`], which keeps it pure and easy to test. The rate
//! covers the last `window` seconds, or the time since the first sample while the meter is
//! younger than its window, so a new connection is not reported as slow.
//!
//! ```
//! use kamaelia_torrent::engine::rate::RateMeter;
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! let mut meter = RateMeter::new(Duration::from_secs(20));
//! for s in 0..10 {
//!     meter.add(16_384, start + Duration::from_secs(s));
//! }
//! assert_eq!(meter.total(), 163_840);
//! assert_eq!(meter.rate(start + Duration::from_secs(9)), 16_384.0);
//! // Long after the last sample nothing is flowing any more.
//! assert_eq!(meter.rate(start + Duration::from_secs(60)), 0.0);
//! ```

use std::time::{Duration, Instant};

/// The window used by [`RateMeter::default`].
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(20);

/// One second of the ring: which second (counted from the meter's first sample) it holds,
/// and how many bytes were added during it.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    second: u64,
    bytes: u64,
}

/// Measures bytes per second over a sliding window of whole seconds.
#[derive(Clone, Debug)]
pub struct RateMeter {
    /// One bucket per second of the window; second `s` lives at `s % buckets.len()`.
    buckets: Box<[Bucket]>,
    /// The time of the first sample; seconds are counted from here.
    epoch: Option<Instant>,
    /// All bytes ever added.
    total: u64,
}

impl RateMeter {
    /// A meter averaging over `window`, rounded up to whole seconds (at least one second).
    pub fn new(window: Duration) -> RateMeter {
        let mut secs = window.as_secs();
        if window.subsec_nanos() > 0 || secs == 0 {
            secs += 1;
        }
        // More than a day of one-second buckets is never meant; keep memory bounded.
        let secs = secs.min(86_400) as usize;
        RateMeter {
            buckets: vec![Bucket::default(); secs].into_boxed_slice(),
            epoch: None,
            total: 0,
        }
    }

    /// Records `bytes` moved at `now`.
    ///
    /// Samples older than the window (relative to newer samples already recorded) count
    /// towards [`total`](RateMeter::total) but not towards the rate.
    pub fn add(&mut self, bytes: u64, now: Instant) {
        self.total = self.total.saturating_add(bytes);
        let epoch = *self.epoch.get_or_insert(now);
        let second = now.saturating_duration_since(epoch).as_secs();
        let len = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(second % len) as usize];
        if bucket.second < second || bucket.bytes == 0 {
            *bucket = Bucket { second, bytes };
        } else if bucket.second == second {
            bucket.bytes = bucket.bytes.saturating_add(bytes);
        }
        // else: the bucket already holds a newer second, so this sample is outside the window.
    }

    /// Bytes per second over the last window, or since the first sample if the meter is
    /// younger than its window; 0.0 with no samples. Always finite and non-negative.
    pub fn rate(&self, now: Instant) -> f64 {
        let Some(epoch) = self.epoch else {
            return 0.0;
        };
        let current = now.saturating_duration_since(epoch).as_secs();
        let len = self.buckets.len() as u64;
        // The window is the current second plus the `len - 1` before it.
        let oldest = current.saturating_sub(len - 1);
        let bytes: u64 = self
            .buckets
            .iter()
            .filter(|b| b.bytes > 0 && b.second >= oldest && b.second <= current)
            .fold(0u64, |sum, b| sum.saturating_add(b.bytes));
        let span = (current + 1).min(len);
        bytes as f64 / span as f64
    }

    /// All bytes ever added.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The window length in whole seconds.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.buckets.len() as u64)
    }
}

impl Default for RateMeter {
    /// A meter with a [`DEFAULT_WINDOW`] (20 s) window.
    fn default() -> RateMeter {
        RateMeter::new(DEFAULT_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn empty_meter_is_zero() {
        let m = RateMeter::default();
        assert_eq!(m.rate(Instant::now()), 0.0);
        assert_eq!(m.total(), 0);
        assert_eq!(m.window(), secs(20));
    }

    #[test]
    fn one_sample_is_finite() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.add(1000, t0);
        for now in [
            t0,
            t0 + Duration::from_millis(1),
            t0 + secs(5),
            t0 + secs(100),
        ] {
            let r = m.rate(now);
            assert!(r.is_finite() && r >= 0.0, "rate {r}");
        }
        assert_eq!(m.rate(t0), 1000.0);
        assert_eq!(m.rate(t0 + secs(4)), 200.0);
    }

    #[test]
    fn steady_rate_over_window() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(20));
        for s in 0..40 {
            // Four 250-byte blocks spread over each second.
            for q in 0..4 {
                m.add(250, t0 + secs(s) + Duration::from_millis(q * 250));
            }
        }
        assert_eq!(m.rate(t0 + secs(39)), 1000.0);
        assert_eq!(m.rate(t0 + secs(39) + Duration::from_millis(900)), 1000.0);
        assert_eq!(m.total(), 40_000);
    }

    #[test]
    fn young_meter_averages_since_first_sample() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(20));
        for s in 0..5 {
            m.add(2000, t0 + secs(s));
        }
        assert_eq!(m.rate(t0 + secs(4)), 2000.0);
    }

    #[test]
    fn rate_decays_after_window_expires() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(10));
        for s in 0..10 {
            m.add(500, t0 + secs(s));
        }
        assert_eq!(m.rate(t0 + secs(9)), 500.0);
        // Five seconds later half the window is empty.
        assert_eq!(m.rate(t0 + secs(14)), 250.0);
        assert_eq!(m.rate(t0 + secs(19)), 0.0);
        assert_eq!(m.rate(t0 + secs(1000)), 0.0);
        assert_eq!(m.total(), 5000);
        // A new burst after a long pause is measured over the full window.
        m.add(1000, t0 + secs(1000));
        assert_eq!(m.rate(t0 + secs(1000)), 100.0);
    }

    #[test]
    fn stale_out_of_order_sample_only_counts_in_total() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(5));
        m.add(100, t0);
        m.add(100, t0 + secs(10));
        m.add(100, t0 + secs(5)); // same bucket as second 10, but older: outside the window
        assert_eq!(m.rate(t0 + secs(10)), 20.0);
        assert_eq!(m.total(), 300);
    }

    #[test]
    fn memory_is_constant() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(20));
        let before = m.buckets.len();
        for s in 0..100_000u64 {
            m.add(16_384, t0 + secs(s));
        }
        assert_eq!(m.buckets.len(), before);
        assert_eq!(m.total(), 100_000 * 16_384);
        assert_eq!(m.rate(t0 + secs(99_999)), 16_384.0);
    }

    #[test]
    fn window_rounds_up_to_whole_seconds() {
        assert_eq!(RateMeter::new(Duration::ZERO).window(), secs(1));
        assert_eq!(
            RateMeter::new(Duration::from_millis(1500)).window(),
            secs(2)
        );
    }
}
