//! Lists that keep the order things were added in and still find and remove any of them
//! without looking at the others: a server's children and the linkages it made run into the
//! thousands, one or several per connection, and every connection that closes takes its own
//! out of them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A hasher for the scheduler's own numbers (slot indexes, box and linkage ids, generations):
/// small integers that no peer chooses, so a multiply is enough to spread them.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A `HashMap` keyed by the scheduler's own numbers (see [`IdHasher`]).
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Up to this many, a list is only a vector: looking through it costs less than hashing.
pub(crate) const SHORT: usize = 8;

/// Distinct items in the order they were added (removing one keeps the order of the rest).
///
/// A short list is a plain vector. A longer one also knows where each item is: a removed item
/// leaves a hole, and the holes are squeezed out once they are more than half the vector, so
/// that adding, finding and removing cost the same (amortised) however long the list.
#[derive(Clone, Debug)]
pub(crate) struct OrderedSet<T> {
    /// The items in the order added; `None` where one was removed (only while indexed).
    items: Vec<Option<T>>,
    /// Once the list is longer than [`SHORT`]: where each item is in `items`. Empty for a short
    /// list, and never empty for a long one (a long list whose items all went is squeezed back
    /// to a short one).
    at: IdMap<T, u32>,
    /// How many `None`s `items` holds.
    holes: usize,
}

impl<T> Default for OrderedSet<T> {
    fn default() -> Self {
        OrderedSet {
            items: Vec::new(),
            at: IdMap::default(),
            holes: 0,
        }
    }
}

impl<T: Copy + Eq + Hash> OrderedSet<T> {
    fn indexed(&self) -> bool {
        !self.at.is_empty()
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.items.len() - self.holes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, x: &T) -> bool {
        if self.indexed() {
            self.at.contains_key(x)
        } else {
            self.items.contains(&Some(*x))
        }
    }

    /// Adds `x`, which is not in the list, at the end.
    pub fn push_new(&mut self, x: T) {
        debug_assert!(!self.contains(&x));
        let at = self.items.len();
        self.items.push(Some(x));
        if self.indexed() {
            self.at.insert(x, at as u32);
        } else if self.items.len() > SHORT {
            self.reindex();
        }
    }

    /// Takes `x` out; false if it was not there.
    pub fn remove(&mut self, x: &T) -> bool {
        if !self.indexed() {
            return match self.items.iter().position(|i| i.as_ref() == Some(x)) {
                Some(at) => {
                    self.items.remove(at);
                    true
                }
                None => false,
            };
        }
        let Some(at) = self.at.remove(x) else {
            return false;
        };
        self.items[at as usize] = None;
        self.holes += 1;
        if self.holes * 2 > self.items.len() {
            self.items.retain(Option::is_some);
            self.holes = 0;
            self.reindex();
        }
        true
    }

    /// Rebuilds `at` for `items`, which has no holes: or drops it, for a short list.
    fn reindex(&mut self) {
        debug_assert_eq!(self.holes, 0);
        self.at.clear();
        if self.items.len() > SHORT {
            self.at.reserve(self.items.len());
            for (i, x) in self.items.iter().enumerate() {
                self.at.insert(x.expect("no holes"), i as u32);
            }
        } else {
            // A short list again: give back the index's memory.
            self.at = IdMap::default();
        }
    }

    /// The items, in the order added.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = T> + '_ {
        self.items.iter().flatten().copied()
    }

    /// The items, in the order added, leaving the list empty.
    pub fn take(&mut self) -> impl Iterator<Item = T> {
        let items = std::mem::take(&mut self.items);
        self.at = IdMap::default();
        self.holes = 0;
        items.into_iter().flatten()
    }

    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small random walk of adds and removes, each step checked against a plain vector.
    #[test]
    fn an_ordered_set_agrees_with_a_vector_through_random_adds_and_removes() {
        let mut next = crate::test_rng(0x9e37_79b9_7f4a_7c15);
        let mut set = OrderedSet::default();
        let mut model: Vec<u32> = Vec::new();
        let mut grew_long = 0;
        for step in 0..40_000 {
            // Phases that mostly add and phases that mostly remove, so that the list goes from
            // short to long and back, many times.
            let adding = (step / 500) % 2 == 0;
            let x = next(300) as u32;
            if next(10) < if adding { 7 } else { 3 } {
                assert_eq!(set.contains(&x), model.contains(&x), "contains {x}");
                if !model.contains(&x) {
                    set.push_new(x);
                    model.push(x);
                }
            } else {
                // Mostly remove something that is there, sometimes something that is not.
                let x = if !model.is_empty() && next(4) > 0 {
                    model[next(model.len())]
                } else {
                    x
                };
                let had = model.contains(&x);
                assert_eq!(set.remove(&x), had, "remove {x}");
                model.retain(|&m| m != x);
            }
            assert_eq!(set.to_vec(), model, "step {step}");
            assert_eq!(set.len(), model.len());
            assert_eq!(set.indexed(), set.items.len() > SHORT);
            assert!(set.holes * 2 <= set.items.len(), "holes are squeezed out");
            if set.indexed() {
                grew_long += 1;
                assert_eq!(set.at.len(), model.len());
                for (&x, &at) in &set.at {
                    assert_eq!(set.items[at as usize], Some(x));
                }
            }
            for probe in [x, x + 1] {
                assert_eq!(set.contains(&probe), model.contains(&probe));
            }
        }
        assert!(grew_long > 10_000, "the walk stayed short: {grew_long}");
        let taken: Vec<u32> = set.take().collect();
        assert_eq!(taken, model);
        assert!(set.is_empty() && !set.indexed());
    }

    #[test]
    fn a_long_list_keeps_its_order_while_removing_from_the_middle() {
        let mut set = OrderedSet::default();
        for x in 0..1_000u32 {
            set.push_new(x);
        }
        for x in (0..1_000).filter(|x| x % 3 != 0) {
            assert!(set.remove(&x));
        }
        assert!(!set.remove(&1));
        assert_eq!(set.to_vec(), (0..1_000).step_by(3).collect::<Vec<_>>());
        assert_eq!(set.iter().next_back(), Some(999), "the last is still last");
        // Back to short: the index is gone.
        for x in (0..1_000).step_by(3).skip(4) {
            assert!(set.remove(&x));
        }
        assert_eq!(set.to_vec(), [0, 3, 6, 9]);
        assert!(!set.indexed());
    }
}
