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
//!
//! // At most so many addresses of one host (loopback aside): a tracker that names a thousand
//! // ports of one machine cannot turn us into a thousand connections against it.
//! let mut book = AddressBook::new(100, Duration::from_secs(60)).per_host(2);
//! let host = |port| std::net::SocketAddr::from(([192, 0, 2, 7], port));
//! assert!(book.learn(host(1)) && book.learn(host(2)));
//! assert!(!book.learn(host(3)), "a third port of the same host");
//! assert!(book.learn("192.0.2.8:3".parse().unwrap()), "another host");
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
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
    /// How many known addresses each host has, and how many it may have.
    per_host: HostCounts,
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
            per_host: HostCounts::new(usize::MAX),
        }
    }

    /// The same book, holding at most `max` addresses of one host (an IPv4 address, or an
    /// IPv6 /64 network; loopback addresses are not limited): a further port of a host that
    /// has that many is not taken.
    pub fn per_host(mut self, max: usize) -> AddressBook {
        self.per_host.max = max;
        self
    }

    /// Remembers `addr`. True if it was new. When the book is full, the known address that
    /// failed longest ago is forgotten to make room (a fresh address from a tracker is worth
    /// more than one that did not work); if none has failed, the new one is not taken.
    pub fn learn(&mut self, addr: SocketAddr) -> bool {
        if self.known.contains(&addr) {
            return false;
        }
        if self.per_host.is_full(addr.ip()) {
            return false;
        }
        if self.known.len() >= self.max {
            let Some((_, old)) = self.evictable.pop_first() else {
                return false;
            };
            // Its failure stays on record (for at most the redial time, see `due`): if a
            // tracker names it again, it still waits out the redial time.
            self.forget(old);
        }
        if let Some(&at) = self.failed.get(&addr) {
            self.evictable.insert((at, addr));
        }
        self.per_host.add(addr.ip());
        self.known.insert(addr)
    }

    /// Takes a known address out of `known` and its host's count.
    fn forget(&mut self, addr: SocketAddr) {
        if self.known.remove(&addr) {
            self.per_host.remove(addr.ip());
        }
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

/// What a peer's address counts under when its connections are limited per host: an IPv4
/// address (also when it comes as `::ffff:a.b.c.d` on a dual-stack socket), or an IPv6
/// address's /64 network, which one host commonly holds whole.
fn host_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) if !v6.is_loopback() => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        other => other,
    }
}

/// How many entries (addresses, connections, tracker entries) each host has, with a cap per
/// host. A host is what [`host_key`] makes of an address; loopback addresses (also
/// `::ffff:127.0.0.1`) are not counted and never at the cap, as tests and demos run whole
/// swarms on them. A host whose count falls to zero is forgotten, so the memory held follows
/// the entries counted.
#[derive(Debug)]
pub(crate) struct HostCounts {
    /// Entries per host; a host with none is not in it.
    counts: HashMap<IpAddr, usize>,
    /// The cap per host.
    max: usize,
}

impl HostCounts {
    /// No entries yet; at most `max` for one host.
    pub(crate) fn new(max: usize) -> HostCounts {
        HostCounts {
            counts: HashMap::new(),
            max,
        }
    }

    /// The host `ip` counts under; `None` for loopback.
    fn host(ip: IpAddr) -> Option<IpAddr> {
        Some(host_key(ip)).filter(|host| !host.is_loopback())
    }

    /// How many entries `host` (a key from [`HostCounts::host`]) has.
    fn of(&self, host: IpAddr) -> usize {
        self.counts.get(&host).copied().unwrap_or(0)
    }

    /// How many entries the host of `ip` has (0 for loopback).
    #[cfg(test)]
    pub(crate) fn count(&self, ip: IpAddr) -> usize {
        HostCounts::host(ip).map_or(0, |host| self.of(host))
    }

    /// True if the host of `ip` has its `max` entries: another is not to be taken. Never
    /// for loopback.
    pub(crate) fn is_full(&self, ip: IpAddr) -> bool {
        HostCounts::host(ip).is_some_and(|host| self.of(host) >= self.max)
    }

    /// Counts one more entry of the host of `ip` (whether it is full is the caller's test).
    pub(crate) fn add(&mut self, ip: IpAddr) {
        if let Some(host) = HostCounts::host(ip) {
            *self.counts.entry(host).or_insert(0) += 1;
        }
    }

    /// Counts one entry of the host of `ip` less (none if it has none).
    pub(crate) fn remove(&mut self, ip: IpAddr) {
        let Some(host) = HostCounts::host(ip) else {
            return;
        };
        if let Some(n) = self.counts.get_mut(&host) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&host);
            }
        }
    }

    /// True if no host has an entry counted.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.is_empty()
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
    fn a_host_has_at_most_its_share_and_a_forgotten_address_frees_a_place() {
        let t0 = Instant::now();
        let host = |port| SocketAddr::from(([203, 0, 113, 9], port));
        let mut book = AddressBook::new(4, Duration::from_secs(60)).per_host(2);
        assert!(book.learn(host(1)) && book.learn(host(2)));
        assert!(!book.learn(host(3)));
        // The same host as IPv4-mapped IPv6 counts as itself; one IPv6 /64 counts once.
        let mapped: SocketAddr = "[::ffff:203.0.113.9]:4".parse().unwrap();
        assert!(!book.learn(mapped));
        let v6 = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(book.learn(v6("[2001:db8::1]:1")));
        assert!(book.learn(v6("[2001:db8::2:1]:1")));
        assert!(!book.learn(v6("[2001:db8::ffff]:1")), "the same /64");
        // Loopback is never limited per host (local swarms share 127.0.0.1).
        let mut local = AddressBook::new(100, Duration::from_secs(60)).per_host(2);
        assert!((1..=50).all(|p| local.learn(addr(p))));
        // The book is full (4): when host(1) fails it is the one forgotten for a new
        // address, and its host gets that place back.
        book.failed(host(1), t0);
        let other = SocketAddr::from(([198, 51, 100, 1], 1));
        assert!(book.learn(other));
        assert!(!book.is_known(host(1)));
        book.failed(other, t0);
        assert!(book.learn(host(3)));
        assert!(!book.is_known(other) && book.is_known(host(3)));
        assert!(!book.learn(host(5)), "the host holds its two again");
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

    #[test]
    fn host_counts_count_each_host_once_up_to_its_cap() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut counts = HostCounts::new(2);
        counts.add(ip("192.0.2.1"));
        assert!(!counts.is_full(ip("192.0.2.1")));
        // The same IPv4 host, as a dual-stack socket names it.
        counts.add(ip("::ffff:192.0.2.1"));
        assert_eq!(counts.count(ip("192.0.2.1")), 2);
        assert!(counts.is_full(ip("192.0.2.1")) && counts.is_full(ip("::ffff:192.0.2.1")));
        assert!(!counts.is_full(ip("192.0.2.2")), "another host");
        // An IPv6 /64 is one host; the next /64 is another.
        counts.add(ip("2001:db8:0:1::1"));
        counts.add(ip("2001:db8:0:1:ffff:ffff:ffff:ffff"));
        assert!(counts.is_full(ip("2001:db8:0:1:1234::")));
        assert_eq!(counts.count(ip("2001:db8:0:2::1")), 0);
        // Removing counts down, and a host at zero is forgotten.
        counts.remove(ip("::ffff:192.0.2.1"));
        assert_eq!(counts.count(ip("192.0.2.1")), 1);
        counts.remove(ip("192.0.2.1"));
        counts.remove(ip("192.0.2.1"));
        assert_eq!(counts.count(ip("192.0.2.1")), 0);
        counts.remove(ip("2001:db8:0:1::5"));
        counts.remove(ip("2001:db8:0:1::6"));
        assert!(counts.is_empty());
    }

    #[test]
    fn host_counts_leave_loopback_uncounted() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut counts = HostCounts::new(1);
        for local in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            for _ in 0..5 {
                counts.add(ip(local));
            }
            assert!(!counts.is_full(ip(local)), "{local}");
            assert_eq!(counts.count(ip(local)), 0, "{local}");
            counts.remove(ip(local));
        }
        assert!(counts.is_empty());
        // A cap of none: every counted host is full at once, loopback still is not.
        let none = HostCounts::new(0);
        assert!(none.is_full(ip("192.0.2.1")) && !none.is_full(ip("::1")));
    }
}
