//! A transfer-rate meter: how many bytes per second flowed over a sliding window.
//!
//! [`RateMeter`] keeps a fixed ring of one-second buckets, one per second of the window, so
//! its memory never grows and [`RateMeter::add`] is O(1). It never reads the clock: every
//! call is given the current [`Instant`], which keeps it pure and easy to test. The rate
//! covers the last `window` seconds (the current one as far as it has gone), or the time since
//! the first sample while the meter is younger than its window (at least a second), so a new
//! connection is not reported as slow.
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
//! // Ten blocks in the ten seconds since the first: the first came at the start.
//! assert_eq!(meter.rate(start + Duration::from_secs(10)), 16_384.0);
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
        let elapsed = now.saturating_duration_since(epoch);
        let current = elapsed.as_secs();
        let len = self.buckets.len() as u64;
        // The window is the current second (so far) plus the `len - 1` before it.
        let oldest = current.saturating_sub(len - 1);
        let bytes: u64 = self
            .buckets
            .iter()
            .filter(|b| b.bytes > 0 && b.second >= oldest && b.second <= current)
            .fold(0u64, |sum, b| sum.saturating_add(b.bytes));
        // The time those bytes took: since the first sample while the meter is younger than
        // its window (but at least a second, so that the first few samples do not read as a
        // burst of any speed), else the whole seconds before the current one plus as much of
        // it as has passed. Dividing by whole seconds instead understated the rate, by up to
        // half just after a second began.
        let span = if current < len {
            elapsed.as_secs_f64().max(1.0)
        } else {
            // (At least a second here too: a one-second window is all current second.)
            ((len - 1) as f64 + f64::from(elapsed.subsec_nanos()) / 1e9).max(1.0)
        };
        bytes as f64 / span
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

    /// Adds an even flow of `per_second` bytes from `from` up to (not including) `to`, in
    /// samples 10 ms apart: how a transfer of many small blocks looks to the meter.
    fn flow(m: &mut RateMeter, t0: Instant, from: Duration, to: Duration, per_second: u64) {
        let mut t = from;
        while t < to {
            m.add(per_second / 100, t0 + t);
            t += Duration::from_millis(10);
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn close(rate: f64, want: f64) -> bool {
        (rate - want).abs() <= want * 0.01
    }

    #[test]
    fn one_sample_is_finite() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.add(1000, t0);
        for now in [t0, t0 + ms(1), t0 + secs(5), t0 + secs(100)] {
            let r = m.rate(now);
            assert!(r.is_finite() && r >= 0.0, "rate {r}");
        }
        // Within its first second a meter counts a whole second, not a burst of any speed.
        assert_eq!(m.rate(t0), 1000.0);
        assert_eq!(m.rate(t0 + ms(1)), 1000.0);
        assert_eq!(m.rate(t0 + secs(4)), 250.0);
    }

    #[test]
    fn steady_rate_over_window_at_any_point_of_a_second() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(20));
        let mut done = Duration::ZERO;
        // Checked just after a second begins, in its middle and at its end: the current
        // second counts for as much of it as has passed.
        for now in [ms(39_010), ms(39_500), ms(39_990), ms(45_050)] {
            flow(&mut m, t0, done, now, 1000);
            done = now;
            let r = m.rate(t0 + now);
            assert!(close(r, 1000.0), "{r} at {now:?}");
        }
    }

    #[test]
    fn young_meter_averages_since_first_sample() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(20));
        let mut done = Duration::ZERO;
        // 1.1 s in, whole seconds would have said 2,200 bytes in 2 s: 1,100 a second.
        for now in [ms(1_100), ms(2_050), ms(4_500)] {
            flow(&mut m, t0, done, now, 2000);
            done = now;
            let r = m.rate(t0 + now);
            assert!(close(r, 2000.0), "{r} at {now:?}");
        }
    }

    #[test]
    fn rate_decays_after_window_expires() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(10));
        flow(&mut m, t0, Duration::ZERO, secs(10), 500);
        assert!(close(m.rate(t0 + secs(10)), 500.0));
        // At 15 s the window is [6 s, 15 s]: 4 s of flow in its 9 s.
        assert!(close(m.rate(t0 + secs(15)), 2000.0 / 9.0));
        assert_eq!(m.rate(t0 + secs(20)), 0.0);
        assert_eq!(m.rate(t0 + secs(1000)), 0.0);
        assert_eq!(m.total(), 5000);
        // A new burst after a long pause is measured over the full window.
        m.add(1000, t0 + secs(1000) + ms(500));
        assert!(close(m.rate(t0 + secs(1000) + ms(500)), 1000.0 / 9.5));
    }

    #[test]
    fn stale_out_of_order_sample_only_counts_in_total() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(secs(5));
        m.add(100, t0);
        m.add(100, t0 + secs(10));
        m.add(100, t0 + secs(5)); // same bucket as second 10, but older: outside the window
                                  // The window at 10 s is [6 s, 10 s].
        assert_eq!(m.rate(t0 + secs(10)), 25.0);
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
        // Twenty samples of the window's twenty seconds, the last just before it ends.
        assert!(close(m.rate(t0 + secs(99_999) + ms(999)), 16_384.0));
    }

    #[test]
    fn a_one_second_window_is_finite_at_every_point_of_a_second() {
        let t0 = Instant::now();
        for window in [Duration::ZERO, secs(1)] {
            let mut m = RateMeter::new(window);
            m.add(1000, t0 + secs(5));
            for now in [secs(5), secs(5) + ms(1), secs(5) + ms(999), secs(6)] {
                let r = m.rate(t0 + now);
                assert!(r.is_finite() && r <= 1000.0, "{r} at {now:?}");
            }
        }
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
