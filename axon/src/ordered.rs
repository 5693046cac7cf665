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

/// Distinct keys, each with a value, in the order they were added (removing one keeps the
/// order of the rest).
///
/// A short map is a plain vector. A longer one also knows where each key is: a removed entry
/// leaves a hole, and the holes are squeezed out once they are more than half the vector, so
/// that adding, finding and removing cost the same (amortised) however long the map.
#[derive(Clone, Debug)]
pub(crate) struct OrderedMap<K, V> {
    /// The entries in the order added; `None` where one was removed (only while indexed).
    items: Vec<Option<(K, V)>>,
    /// Once the map is longer than [`SHORT`]: where each key is in `items`. Empty for a short
    /// map, and never empty for a long one (a long map whose entries all went is squeezed back
    /// to a short one).
    at: IdMap<K, u32>,
}

impl<K, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        OrderedMap {
            items: Vec::new(),
            at: IdMap::default(),
        }
    }
}

impl<K: Copy + Eq + Hash, V> OrderedMap<K, V> {
    fn indexed(&self) -> bool {
        !self.at.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        if self.indexed() {
            self.at.len()
        } else {
            self.items.len()
        }
    }

    /// How many `None`s `items` holds (a short map has none).
    fn holes(&self) -> usize {
        self.items.len() - self.len()
    }

    /// Where `k` is in `items`.
    fn place(&self, k: &K) -> Option<usize> {
        if self.indexed() {
            self.at.get(k).map(|&at| at as usize)
        } else {
            // A short map has no holes.
            self.items
                .iter()
                .position(|i| i.as_ref().is_some_and(|(x, _)| x == k))
        }
    }

    pub fn contains_key(&self, k: &K) -> bool {
        self.place(k).is_some()
    }

    /// The value of `k`, if it is there.
    pub fn get(&self, k: &K) -> Option<&V> {
        let at = self.place(k)?;
        self.items[at].as_ref().map(|(_, v)| v)
    }

    /// Adds `k`, which is not in the map, with `v`, at the end.
    pub fn push_new(&mut self, k: K, v: V) {
        debug_assert!(!self.contains_key(&k));
        let at = self.items.len();
        self.items.push(Some((k, v)));
        if self.indexed() {
            self.at.insert(k, at as u32);
        } else if self.items.len() > SHORT {
            self.reindex();
        }
    }

    /// Takes `k` out, with its value; `None` if it was not there.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        if !self.indexed() {
            let at = self.place(k)?;
            return self.items.remove(at).map(|(_, v)| v);
        }
        let at = self.at.remove(k)?;
        let (_, v) = self.items[at as usize]
            .take()
            .expect("an indexed key has its entry");
        if self.holes() * 2 > self.items.len() {
            self.items.retain(Option::is_some);
            self.reindex();
        }
        Some(v)
    }

    /// Rebuilds `at` for `items`, which has no holes: or drops it, for a short map.
    fn reindex(&mut self) {
        debug_assert!(self.items.iter().all(Option::is_some));
        self.at.clear();
        if self.items.len() > SHORT {
            self.at.reserve(self.items.len());
            for (i, x) in self.items.iter().enumerate() {
                self.at.insert(x.as_ref().expect("no holes").0, i as u32);
            }
        } else {
            // A short map again: give back the index's memory.
            self.at = IdMap::default();
        }
    }

    /// The entries, in the order added.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (K, &V)> + '_ {
        self.items.iter().flatten().map(|(k, v)| (*k, v))
    }

    /// The keys, in the order added.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = K> + '_ {
        self.items.iter().flatten().map(|(k, _)| *k)
    }

    /// The entries, in the order added, leaving the map empty.
    pub fn take(&mut self) -> impl Iterator<Item = (K, V)> {
        let items = std::mem::take(&mut self.items);
        self.at = IdMap::default();
        items.into_iter().flatten()
    }

    /// Checks what the map keeps about itself against its entries: the holes counted and
    /// squeezed out in time, the index there exactly while the map is long, and every key at
    /// the place its index gives.
    #[cfg(test)]
    pub fn assert_consistent(&self)
    where
        K: std::fmt::Debug,
    {
        let holes = self.items.iter().filter(|i| i.is_none()).count();
        assert_eq!(self.holes(), holes, "holes counted");
        assert!(holes * 2 <= self.items.len(), "holes are squeezed out");
        assert_eq!(
            self.indexed(),
            self.items.len() > SHORT,
            "indexed while long"
        );
        if self.indexed() {
            assert_eq!(self.at.len(), self.len());
            for (k, &at) in &self.at {
                let found = self.items[at as usize].as_ref().map(|(x, _)| x);
                assert_eq!(found, Some(k), "the place noted for {k:?}");
            }
        } else {
            assert_eq!(holes, 0, "a short map has no holes");
        }
    }
}

impl<K: Copy + Eq + Hash, V> FromIterator<(K, V)> for OrderedMap<K, V> {
    /// A map of these entries, whose keys are distinct, in this order.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = OrderedMap {
            items: entries.into_iter().map(Some).collect(),
            at: IdMap::default(),
        };
        if map.items.len() > SHORT {
            map.reindex();
            debug_assert_eq!(map.at.len(), map.items.len(), "distinct keys");
        }
        map
    }
}

/// Distinct items in the order they were added (removing one keeps the order of the rest):
/// an [`OrderedMap`] with nothing beside its keys.
#[derive(Clone, Debug)]
pub(crate) struct OrderedSet<T>(OrderedMap<T, ()>);

impl<T> Default for OrderedSet<T> {
    fn default() -> Self {
        OrderedSet(OrderedMap::default())
    }
}

impl<T: Copy + Eq + Hash> OrderedSet<T> {
    /// The number of items.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, x: &T) -> bool {
        self.0.contains_key(x)
    }

    /// Adds `x`, which is not in the list, at the end.
    pub fn push_new(&mut self, x: T) {
        self.0.push_new(x, ());
    }

    /// Takes `x` out; false if it was not there.
    pub fn remove(&mut self, x: &T) -> bool {
        self.0.remove(x).is_some()
    }

    /// The items, in the order added.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = T> + '_ {
        self.0.keys()
    }

    /// The items, in the order added, leaving the list empty.
    pub fn take(&mut self) -> impl Iterator<Item = T> {
        self.0.take().map(|(x, ())| x)
    }

    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// See [`OrderedMap::assert_consistent`].
    #[cfg(test)]
    pub fn assert_consistent(&self)
    where
        T: std::fmt::Debug,
    {
        self.0.assert_consistent();
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
            set.assert_consistent();
            assert_eq!(set.0.indexed(), set.0.items.len() > SHORT);
            assert!(
                set.0.holes() * 2 <= set.0.items.len(),
                "holes are squeezed out"
            );
            if set.0.indexed() {
                grew_long += 1;
                assert_eq!(set.0.at.len(), model.len());
                for (&x, &at) in &set.0.at {
                    assert_eq!(set.0.items[at as usize], Some((x, ())));
                }
            }
            for probe in [x, x + 1] {
                assert_eq!(set.contains(&probe), model.contains(&probe));
            }
        }
        assert!(grew_long > 10_000, "the walk stayed short: {grew_long}");
        let taken: Vec<u32> = set.take().collect();
        assert_eq!(taken, model);
        assert!(set.is_empty() && !set.0.indexed());
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
        assert!(!set.0.indexed());
    }

    /// An ordered map, through random adds and removes, against a plain vector of pairs: its
    /// entries in order, each key's value, and the value handed back by a removal.
    #[test]
    fn an_ordered_map_agrees_with_a_vector_of_pairs_through_random_adds_and_removes() {
        let mut next = crate::test_rng(0xd1b5_4a32_d192_ed03);
        let mut map: OrderedMap<u32, String> = OrderedMap::default();
        let mut model: Vec<(u32, String)> = Vec::new();
        let (mut grew_long, mut squeezed) = (0, 0);
        for step in 0..20_000 {
            let adding = (step / 400) % 2 == 0;
            let k = next(200) as u32;
            let had = model.iter().position(|(x, _)| *x == k);
            if next(10) < if adding { 7 } else { 3 } {
                if had.is_none() {
                    let v = format!("{k}@{step}");
                    map.push_new(k, v.clone());
                    model.push((k, v));
                }
            } else {
                let k = if !model.is_empty() && next(4) > 0 {
                    model[next(model.len())].0
                } else {
                    k
                };
                let had = model.iter().position(|(x, _)| *x == k);
                let holes = map.holes();
                let removed = map.remove(&k);
                assert_eq!(removed, had.map(|at| model.remove(at).1), "remove {k}");
                if holes > 0 && map.holes() == 0 {
                    squeezed += 1;
                }
            }
            map.assert_consistent();
            assert_eq!(map.len(), model.len());
            let entries: Vec<(u32, String)> = map.iter().map(|(k, v)| (k, v.clone())).collect();
            assert_eq!(entries, model, "step {step}");
            assert!(map.keys().eq(model.iter().map(|(k, _)| *k)));
            for probe in [k, k + 1] {
                let want = model.iter().find(|(x, _)| *x == probe).map(|(_, v)| v);
                assert_eq!(map.get(&probe), want, "get {probe}");
                assert_eq!(map.contains_key(&probe), want.is_some());
            }
            if map.indexed() {
                grew_long += 1;
            }
        }
        assert!(grew_long > 5_000, "the walk stayed short: {grew_long}");
        assert!(
            squeezed > 50,
            "holes were squeezed out only {squeezed} times"
        );
        let taken: Vec<(u32, String)> = map.take().collect();
        assert_eq!(taken, model);
        assert!(map.len() == 0 && !map.indexed());
        map.assert_consistent();
    }

    #[test]
    fn an_ordered_map_collects_in_order_and_finds_by_key_long_or_short() {
        let short: OrderedMap<u32, char> = [(7, 'a'), (3, 'b'), (5, 'c')].into_iter().collect();
        assert!(!short.indexed());
        assert_eq!(
            short.iter().collect::<Vec<_>>(),
            [(7, &'a'), (3, &'b'), (5, &'c')]
        );
        assert_eq!((short.get(&3), short.get(&4)), (Some(&'b'), None));
        let mut long: OrderedMap<u32, u32> = (0..100u32).rev().map(|k| (k, k * 10)).collect();
        assert!(long.indexed());
        long.assert_consistent();
        assert_eq!(long.keys().next(), Some(99), "first added, first listed");
        assert_eq!(long.remove(&50), Some(500));
        assert_eq!(long.remove(&50), None);
        assert_eq!(long.get(&49), Some(&490));
        assert_eq!(long.iter().next_back(), Some((0, &0)));
        long.assert_consistent();
    }
}
