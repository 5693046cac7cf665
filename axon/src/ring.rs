//! The storage of a postbox: a first-in, first-out ring of messages.
//!
//! Every message crossing a linkage is pushed once and popped once, so this is the innermost
//! loop of the whole framework. `VecDeque` pays for arbitrary capacities with a wrap-around
//! compare on every push and pop; here the capacity is a power of two and the position is a
//! mask of a running counter, which is all a box needs. A ring that grew for a burst gives its
//! memory back once it is drained, so an idle box stays small.

use std::mem::MaybeUninit;

use crate::message::Message;

/// Rings drained empty with more slots than this give them back.
const KEEP_WHEN_EMPTY: usize = 1024;

/// The most messages a ring holds. Positions are 32-bit (so that a postbox's storage, fill
/// limit and owner share one cache line); a box without a size limit refuses a send, as if
/// full, once it holds this many (see `PostBox::set_limit`).
pub(crate) const MAX_LEN: usize = 1 << 31;

/// A first-in, first-out ring of messages.
///
/// Invariant (what the `unsafe` blocks rely on): `slots.len()` is 0 or a power of two,
/// `len <= slots.len()`, and exactly the `len` slots at running indexes `head..head + len`
/// (masked) hold a message; every other slot is uninitialised.
#[derive(Default)]
pub(crate) struct Ring {
    slots: Box<[MaybeUninit<Message>]>,
    /// Running index of the oldest item; its slot is `head & (slots.len() - 1)`.
    head: u32,
    len: u32,
}

impl Drop for Ring {
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

impl Ring {
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn push_back(&mut self, m: Message) {
        if self.len as usize == self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let i = self.head.wrapping_add(self.len) as usize & mask;
        // SAFETY: `slots.len()` is a nonzero power of two (grown above if it was full), so
        // `i < slots.len()`; the slot is outside `head..head + len`, so it holds nothing
        // that this write would leak.
        unsafe { self.slots.get_unchecked_mut(i) }.write(m);
        self.len += 1;
    }

    #[inline(always)]
    pub fn pop_front(&mut self) -> Option<Message> {
        if self.len == 0 {
            return None;
        }
        let i = self.head as usize & (self.slots.len() - 1);
        // SAFETY: `len > 0`, so `slots.len()` is a nonzero power of two and `i` is in range;
        // the slot at `head` holds the oldest message, which is moved out here and no longer
        // counted (head advances, len drops), so it is read exactly once.
        let m = unsafe { self.slots.get_unchecked(i).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        self.len -= 1;
        if self.len == 0 {
            self.head = 0;
            if self.slots.len() > KEEP_WHEN_EMPTY {
                self.release();
            }
        }
        Some(m)
    }

    /// Doubles the capacity (from 0 to 4), keeping the order. A ring never grows past
    /// [`MAX_LEN`] slots: boxes refuse sends before that (an attempt aborts the process).
    ///
    /// `grow` and `release` are `extern "C"`, which cannot unwind: a message held by the
    /// caller around a call that might unwind must be kept in memory for the unwinding path,
    /// and these two sit inside the push and the pop. Neither can panic in practice (an
    /// allocation failure aborts anyway; a capacity overflow would need more than 2^59
    /// messages); if one ever did, the process would abort instead of unwinding.
    #[cold]
    #[inline(never)]
    extern "C" fn grow(&mut self) {
        let new_cap = (self.slots.len() * 2).max(4);
        assert!(new_cap <= MAX_LEN, "a box holds at most {MAX_LEN} messages");
        let mut slots: Vec<MaybeUninit<Message>> = Vec::with_capacity(new_cap);
        let len = self.len;
        while let Some(m) = self.pop_front_keep() {
            slots.push(MaybeUninit::new(m));
        }
        slots.resize_with(new_cap, MaybeUninit::uninit);
        self.slots = slots.into_boxed_slice();
        self.head = 0;
        self.len = len;
    }

    /// `pop_front` without giving memory back (used while growing).
    fn pop_front_keep(&mut self) -> Option<Message> {
        if self.len == 0 {
            return None;
        }
        let i = self.head as usize & (self.slots.len() - 1);
        self.head = self.head.wrapping_add(1);
        self.len -= 1;
        // SAFETY: as in `pop_front`.
        Some(unsafe { self.slots.get_unchecked(i).assume_init_read() })
    }

    #[cold]
    #[inline(never)]
    extern "C" fn release(&mut self) {
        self.slots = Box::default();
    }

    /// Appends every message of `other`, oldest first, leaving it empty.
    pub fn append(&mut self, other: &mut Ring) {
        while let Some(m) = other.pop_front() {
            self.push_back(m);
        }
    }

    /// Takes every message out, oldest first.
    pub fn drain_to_vec(&mut self) -> Vec<Message> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(m) = self.pop_front() {
            out.push(m);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(r: &mut Ring) -> Vec<u32> {
        r.drain_to_vec()
            .into_iter()
            .map(|m| m.downcast::<u32>().unwrap())
            .collect()
    }

    #[test]
    fn keeps_order_across_growth_and_wrap() {
        let mut r = Ring::default();
        let mut expect = std::collections::VecDeque::new();
        let mut next = 0u32;
        // Interleave pushes and pops so that the head wraps at several capacities.
        for round in 0..200u32 {
            for _ in 0..(round % 7 + 1) {
                r.push_back(Message::new(next));
                expect.push_back(next);
                next += 1;
            }
            for _ in 0..(round % 5) {
                let got = r.pop_front().map(|m| m.downcast::<u32>().unwrap());
                assert_eq!(got, expect.pop_front());
            }
            assert_eq!(r.len(), expect.len());
        }
        assert_eq!(ints(&mut r), Vec::from(expect));
        assert!(r.is_empty());
        assert!(r.pop_front().is_none());
    }

    #[test]
    fn a_drained_big_ring_gives_its_memory_back() {
        let mut r = Ring::default();
        for i in 0..5000u32 {
            r.push_back(Message::new(i));
        }
        assert!(r.slots.len() >= 5000);
        for _ in 0..5000 {
            r.pop_front().unwrap();
        }
        assert_eq!(r.slots.len(), 0);
        r.push_back(Message::new(7u32));
        assert_eq!(ints(&mut r), vec![7]);
    }

    #[test]
    fn append_moves_everything_in_order() {
        let mut a = Ring::default();
        let mut b = Ring::default();
        a.push_back(Message::new(1u32));
        for i in 2..10u32 {
            b.push_back(Message::new(i));
        }
        b.pop_front();
        a.append(&mut b);
        assert!(b.is_empty());
        assert_eq!(ints(&mut a), vec![1, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn dropping_a_ring_drops_what_it_holds() {
        let token = std::sync::Arc::new(());
        let mut r = Ring::default();
        for _ in 0..6 {
            r.push_back(Message::new(token.clone()));
        }
        r.pop_front();
        assert_eq!(std::sync::Arc::strong_count(&token), 6);
        drop(r);
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
    }
}
