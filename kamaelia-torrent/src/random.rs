//! The crate's one pseudo-random generator: SplitMix64, small and fast, for the choices
//! that need only to look random (the choker's optimistic unchoke, the picker's ties, the
//! tracker's peer samples, peer ids and UDP transaction ids that need only to differ, test
//! data).
//!
//! **Not for secrets**: a few outputs give away the state and so every later output. Nothing
//! in BitTorrent here needs more.
//!
//! A given seed always gives the same sequence, on every platform, so seeded users (the
//! choker, the picker) are reproducible. [`Rng::from_clock`] seeds from the time, the
//! process id, a stack address and a per-process count, for when reproducibility is not
//! wanted.
//!
//! ```
//! use kamaelia_torrent::random::Rng;
//!
//! let mut a = Rng::new(42);
//! let mut b = Rng::new(42);
//! assert_eq!(a.next_u64(), b.next_u64()); // same seed, same sequence
//!
//! let die = a.below(6) + 1;
//! assert!((1..=6).contains(&die));
//!
//! let mut bytes = [0u8; 10];
//! a.fill(&mut bytes);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A seeded pseudo-random generator (SplitMix64). Every seed, zero included, gives a
/// sequence with a period of 2^64. Not for secrets.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator seeded from the time, the process id, the address of a local variable
    /// (which varies with address-space randomisation) and a count of the generators made
    /// this way in this process, so that two made at the same instant still differ.
    pub fn from_clock() -> Rng {
        static MADE: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let local = 0u8;
        let address = std::ptr::addr_of!(local) as usize as u64;
        let parts = [
            nanos,
            u64::from(std::process::id()),
            address,
            MADE.fetch_add(1, Ordering::Relaxed),
        ];
        // Mix each part in through one SplitMix64 step, so that every bit of every part
        // affects every bit of the seed.
        let seed = parts
            .iter()
            .fold(0, |seed, &part| Rng::new(seed ^ part).next_u64());
        Rng::new(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`, each equally likely; 0 when `n` is 0 (there is no number below
    /// it; callers are expected to ask with `n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's method: the high half of a 128-bit product, redrawn in the rare case
        // that would favour some values (less often than once in 2^64 / n draws).
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if product as u64 >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Fills `buf` with pseudo-random bytes: the little-endian bytes of successive
    /// [`next_u64`](Rng::next_u64) values (the last one cut short if need be), so the same
    /// seed gives the same bytes on every platform.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let n = rest.len();
            rest.copy_from_slice(&self.next_u64().to_le_bytes()[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn first(seed: u64, n: usize) -> Vec<u64> {
        let mut r = Rng::new(seed);
        (0..n).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        assert_eq!(first(77, 1000), first(77, 1000));
        let mut a = Rng::new(5);
        a.next_u64();
        let mut b = a.clone();
        assert_eq!(
            a.next_u64(),
            b.next_u64(),
            "a clone continues the same sequence"
        );
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        // Neighbouring seeds, where a weak seeding would show.
        let firsts: HashSet<u64> = (0..10_000).map(|s| first(s, 1)[0]).collect();
        assert_eq!(firsts.len(), 10_000);
        let (a, b) = (first(1, 1000), first(2, 1000));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert_eq!(same, 0);
    }

    #[test]
    fn a_zero_seed_does_not_get_stuck() {
        let values = first(0, 1000);
        assert!(values.iter().all(|&v| v != 0));
        assert_eq!(values.iter().collect::<HashSet<_>>().len(), 1000);
    }

    #[test]
    fn every_bit_is_set_about_half_the_time() {
        let mut r = Rng::new(3);
        let mut ones = [0u32; 64];
        for _ in 0..10_000 {
            let v = r.next_u64();
            for (bit, n) in ones.iter_mut().enumerate() {
                *n += (v >> bit) as u32 & 1;
            }
        }
        // Expected 5,000 each, standard deviation 50.
        assert!(
            ones.iter().all(|&n| (4_700..5_300).contains(&n)),
            "{ones:?}"
        );
    }

    #[test]
    fn below_stays_below_and_reaches_every_value() {
        let mut r = Rng::new(11);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            let v = r.below(7);
            assert!(v < 7);
            counts[v as usize] += 1;
        }
        // Expected 10,000 each, standard deviation about 93.
        assert!(
            counts.iter().all(|&n| (9_500..10_500).contains(&n)),
            "{counts:?}"
        );
        for n in [1, 2, 3, 1000, u64::MAX / 3 + 7, u64::MAX] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(1), 0);
        assert_eq!(r.below(0), 0, "no panic on an empty range");
        // Large bounds reach their upper half too.
        assert!((0..100).any(|_| r.below(u64::MAX) > u64::MAX / 2));
    }

    #[test]
    fn fill_gives_the_little_endian_bytes_of_the_sequence() {
        let mut r = Rng::new(9);
        let mut copy = r.clone();
        let mut buf = [0u8; 21];
        r.fill(&mut buf);
        let mut want = Vec::new();
        for _ in 0..3 {
            want.extend_from_slice(&copy.next_u64().to_le_bytes());
        }
        assert_eq!(&buf[..], &want[..21]);
        // Both continue from the same place: the cut-short value is used up.
        assert_eq!(r.next_u64(), copy.next_u64());
        let mut empty = [0u8; 0];
        r.fill(&mut empty);
    }

    #[test]
    fn clock_seeded_generators_differ() {
        let seqs: HashSet<Vec<u64>> = (0..100)
            .map(|_| {
                let mut r = Rng::from_clock();
                (0..4).map(|_| r.next_u64()).collect()
            })
            .collect();
        assert_eq!(seqs.len(), 100);
    }
}
