//! The peer addresses a torrent's session knows: which it may dial, which failed and when they
//! are due to be dialled again. Pure bookkeeping (no I/O, time passed in), bounded in size.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use kamaelia_torrent::engine::addresses::AddressBook;
//!
//! let mut book = AddressBook::new(2, Duration::from_secs(60));
//! let (a, b, c) = (
//!     "127.0.0.1:6881".parse().unwrap(),
//!     "127.0.0.1:6882".parse().unwrap(),
//!     "127.0.0.1:6883".parse().unwrap(),
//! );
//! let t0 = Instant::now();
//! assert!(book.learn(a) && book.learn(b));
//! assert!(!book.learn(a), "already known");
//! // Full, and no address has failed: a new one is not taken.
//! assert!(!book.learn(c));
//! // Once one has failed, a fresh address from the tracker takes its place.
//! book.failed(a, t0);
//! assert!(book.learn(c));
//! assert!(!book.is_known(a) && book.is_known(c));
//! // A failed address is due again after the redial time.
//! book.failed(b, t0);
//! assert!(book.due(t0 + Duration::from_secs(30)).is_empty());
//! assert_eq!(book.due(t0 + Duration::from_secs(61)), vec![b]);
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The addresses a session may dial, at most `max` of them, and those whose dial (or whose
/// connection) failed, with when.
#[derive(Debug)]
pub struct AddressBook {
    known: HashSet<SocketAddr>,
    failed: HashMap<SocketAddr, Instant>,
    /// The known addresses that failed, oldest failure first: the ones a full book forgets
    /// first. Kept in step with `known` and `failed`, so that making room costs a lookup,
    /// not a scan (a hostile tracker may name hundreds of thousands of peers at once).
    evictable: BTreeSet<(Instant, SocketAddr)>,
    max: usize,
    redial_after: Duration,
}

impl AddressBook {
    /// An empty book holding at most `max` addresses; a failed one is due again after
    /// `redial_after`.
    pub fn new(max: usize, redial_after: Duration) -> AddressBook {
        AddressBook {
            known: HashSet::new(),
            failed: HashMap::new(),
            evictable: BTreeSet::new(),
            max,
            redial_after,
        }
    }

    /// Remembers `addr`. True if it was new. When the book is full, the known address that
    /// failed longest ago is forgotten to make room (a fresh address from a tracker is worth
    /// more than one that did not work); if none has failed, the new one is not taken.
    pub fn learn(&mut self, addr: SocketAddr) -> bool {
        if self.known.contains(&addr) {
            return false;
        }
        if self.known.len() >= self.max {
            let Some((_, old)) = self.evictable.pop_first() else {
                return false;
            };
            // Its failure stays on record (for at most the redial time, see `due`): if a
            // tracker names it again, it still waits out the redial time.
            self.known.remove(&old);
        }
        if let Some(&at) = self.failed.get(&addr) {
            self.evictable.insert((at, addr));
        }
        self.known.insert(addr)
    }

    /// True if `addr` is in the book (an address to dial again, not the passing port of a
    /// peer that dialled us).
    pub fn is_known(&self, addr: SocketAddr) -> bool {
        self.known.contains(&addr)
    }

    /// Records that dialling `addr`, or a connection to it, failed at `now`.
    pub fn failed(&mut self, addr: SocketAddr, now: Instant) {
        if let Some(before) = self.failed.insert(addr, now) {
            self.evictable.remove(&(before, addr));
        }
        if self.known.contains(&addr) {
            self.evictable.insert((now, addr));
        }
    }

    /// True if `addr` failed and is not yet due again.
    pub fn has_failed(&self, addr: SocketAddr) -> bool {
        self.failed.contains_key(&addr)
    }

    /// The known addresses whose failure is at least `redial_after` old, taken off the failed
    /// list: they may be dialled again.
    pub fn due(&mut self, now: Instant) -> Vec<SocketAddr> {
        let mut again = Vec::new();
        self.failed.retain(|addr, at| {
            let keep = now.duration_since(*at) < self.redial_after;
            if !keep && self.evictable.remove(&(*at, *addr)) {
                again.push(*addr);
            }
            keep
        });
        again.sort();
        again
    }

    /// How many addresses the book holds.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// True if the book holds no address.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_full_book_forgets_the_address_that_failed_longest_ago() {
        let t0 = Instant::now();
        let mut book = AddressBook::new(3, Duration::from_secs(60));
        for p in 1..=3 {
            assert!(book.learn(addr(p)));
        }
        book.failed(addr(2), t0 + Duration::from_secs(5));
        book.failed(addr(3), t0);
        assert!(book.learn(addr(4)));
        assert!(!book.is_known(addr(3)));
        // Named again at once, it is known again but still waits out its redial time.
        assert!(book.has_failed(addr(3)));
        assert!(book.learn(addr(5)));
        assert!(!book.is_known(addr(2)));
        // Nothing failed any more: the book stays full and takes nothing.
        assert!(!book.learn(addr(6)));
        assert_eq!(book.len(), 3);
        assert!([1, 4, 5].iter().all(|&p| book.is_known(addr(p))));
    }

    #[test]
    fn it_never_holds_more_than_its_bound() {
        let t0 = Instant::now();
        let mut book = AddressBook::new(50, Duration::from_secs(60));
        for p in 0..10_000u16 {
            book.learn(addr(p));
            if p % 3 == 0 {
                book.failed(addr(p), t0 + Duration::from_millis(p as u64));
            }
            assert!(book.len() <= 50);
        }
    }

    #[test]
    fn a_failure_recorded_again_keeps_one_place_in_the_eviction_order() {
        let t0 = Instant::now();
        let mut book = AddressBook::new(2, Duration::from_secs(60));
        book.learn(addr(1));
        book.learn(addr(2));
        book.failed(addr(1), t0);
        book.failed(addr(2), t0 + Duration::from_secs(1));
        // Address 1 fails again, later than 2: 2 is now the oldest failure.
        book.failed(addr(1), t0 + Duration::from_secs(2));
        assert!(book.learn(addr(3)));
        assert!(book.is_known(addr(1)) && !book.is_known(addr(2)));
        assert!(book.learn(addr(4)));
        assert!(!book.is_known(addr(1)));
        // Nothing left to forget: a flood of new addresses is refused, each at once.
        assert!((5..50_000).all(|p| !book.learn(addr(p))));
        assert_eq!(book.len(), 2);
        // Failures past the redial time come due only for addresses still known.
        book.failed(addr(3), t0);
        assert_eq!(book.due(t0 + Duration::from_secs(120)), vec![addr(3)]);
    }

    #[test]
    fn only_known_addresses_come_due_and_each_once() {
        let t0 = Instant::now();
        let mut book = AddressBook::new(10, Duration::from_secs(60));
        book.learn(addr(1));
        book.failed(addr(1), t0);
        // A peer that dialled us from a passing port: its failure is no address to dial.
        book.failed(addr(40_000), t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(book.due(later), vec![addr(1)]);
        assert!(book.due(later).is_empty());
        assert!(!book.has_failed(addr(1)) && !book.has_failed(addr(40_000)));
        assert!(book.is_known(addr(1)));
    }
}
