//! Postboxes and linkage chains (Kamaelia's `Box.py`): where a message is stored and whom its
//! arrival and its collection wake.
//!
//! Every inbox and outbox is a postbox. A postbox has its own storage (always empty for an
//! outbox, whose storage is Kamaelia's "null sink"), at most one `target` (the next box of a
//! linkage chain), any number of `sources`, and a `sink`: the final box of its chain. Linking
//! resolves the chain at once, so a send is one push into the sink's storage however many
//! linkages the message crosses.

use crate::error::BoxKind;
use crate::ids::ComponentId;
use crate::message::Message;
use crate::ordered::{IdMap, OrderedSet};
use crate::ring::{Ring, MAX_LEN};

/// Index of a postbox in the [`Boxes`] slab.
pub(crate) type BoxId = u32;

/// `PostBox::target` of a box that leads nowhere.
const NO_TARGET: BoxId = BoxId::MAX;

/// Who is woken when an item is collected from a final box (Kamaelia's rule A3.15: the
/// owners of every outbox upstream).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Upstream {
    /// Nobody: no outbox leads here.
    None,
    /// One owner, `PostBox::first_upstream`.
    One,
    /// `first_upstream` and the owners in `PostBox::more_upstream`. (Kept here rather than
    /// read from `more_upstream`'s length, which lives in the box's second cache line.)
    Many,
}

/// One inbox or outbox.
///
/// The fields a delivery and a collection touch (the storage, the fill limit, the owner, the
/// collection stamp and the first upstream owner) come first and fill the first of the box's
/// two cache lines; the box is aligned to a line, so that a send or a receive reads one line
/// of a box that is not in the cache, not two or three.
#[repr(C, align(64))]
pub(crate) struct PostBox {
    pub storage: Ring,
    /// How many items a send may find here before it takes the slow path: the limit, or
    /// [`MAX_LEN`] without one, or 0 for an outbox (a send ending at an outbox is dropped).
    pub cap: u32,
    /// The collection stamp (`World::pop_stamp`) when the upstream owners were last queued
    /// for waking: they are queued once per stamp, however many items are collected.
    pub woke_at: u32,
    pub owner: ComponentId,
    /// This box's own index in the slab.
    pub id: BoxId,
    /// For a final box: the first owner of an outbox upstream (see `upstream`).
    pub first_upstream: ComponentId,
    pub upstream: Upstream,
    pub kind: BoxKind,
    /// False once the box is freed (its slot waits for reuse).
    pub live: bool,
    // ----- second line: linkage structure, read when chains change ------------------------
    /// The size limit, `usize::MAX` for none (a word, not an `Option`).
    limit: usize,
    /// The next box of the chain, [`NO_TARGET`] for none (a `u32`, not an `Option`).
    target: BoxId,
    pub sink: BoxId,
    /// The upstream owners after the first, when there are several.
    more_upstream: Vec<ComponentId>,
}

impl PostBox {
    /// The next box of this box's chain, if it is linked onwards.
    pub fn target(&self) -> Option<BoxId> {
        (self.target != NO_TARGET).then_some(self.target)
    }

    /// The owners of every outbox upstream of this final box, woken when an item is collected.
    pub fn upstream_owners(&self) -> impl Iterator<Item = ComponentId> + '_ {
        let first = (self.upstream != Upstream::None).then_some(self.first_upstream);
        let more = match self.upstream {
            Upstream::Many => &self.more_upstream[..],
            _ => &[],
        };
        first.into_iter().chain(more.iter().copied())
    }

    /// Nobody is woken any more when an item is collected from this box.
    pub fn clear_upstream_owners(&mut self) {
        self.upstream = Upstream::None;
        self.more_upstream = Vec::new();
    }

    /// Adds `owner` to those woken when an item is collected (it is not among them yet).
    /// Returns its place: [`FIRST`] or its index in `more_upstream`.
    fn add_upstream_owner(&mut self, owner: ComponentId) -> u32 {
        match self.upstream {
            Upstream::None => {
                self.first_upstream = owner;
                self.upstream = Upstream::One;
                return FIRST;
            }
            Upstream::One => self.upstream = Upstream::Many,
            Upstream::Many => {}
        }
        self.more_upstream.push(owner);
        (self.more_upstream.len() - 1) as u32
    }

    /// Takes `owner`, at place `at` (as [`add_upstream_owner`](PostBox::add_upstream_owner)
    /// said, or as a later move said), out of those woken when an item is collected. The order
    /// of the others may change (they are all woken together): returns the owner that moved,
    /// if one did, and its new place.
    fn remove_upstream_owner(&mut self, owner: ComponentId, at: u32) -> Option<(ComponentId, u32)> {
        if self.upstream == Upstream::None {
            return None;
        }
        let mut moved = None;
        if at == FIRST {
            debug_assert!(self.first_upstream == owner);
            match self.more_upstream.pop() {
                Some(next) => {
                    self.first_upstream = next;
                    moved = Some((next, FIRST));
                }
                None => self.upstream = Upstream::None,
            }
        } else {
            let at = at as usize;
            debug_assert!(self.more_upstream[at] == owner);
            self.more_upstream.swap_remove(at);
            if let Some(&last) = self.more_upstream.get(at) {
                moved = Some((last, at as u32));
            }
        }
        if self.upstream == Upstream::Many && self.more_upstream.is_empty() {
            self.upstream = Upstream::One;
            self.more_upstream = Vec::new();
        }
        moved
    }

    /// The size limit, if any.
    pub fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }

    /// Sets the size limit (`None`: unlimited).
    pub fn set_limit(&mut self, limit: Option<usize>) {
        self.limit = limit.unwrap_or(usize::MAX);
        self.cap = match self.kind {
            BoxKind::Outbox => 0,
            // At most `MAX_LEN`, which fits 32 bits.
            BoxKind::Inbox => limit.unwrap_or(MAX_LEN).min(MAX_LEN) as u32,
        };
    }
}

/// The place of `PostBox::first_upstream` among a box's upstream owners (the others are at
/// their index in `more_upstream`).
const FIRST: u32 = u32::MAX;

/// Why a link could not be made.
pub(crate) enum AddSourceError {
    /// The source already leads somewhere: one to many is not allowed.
    AlreadyLinked { existing: BoxId },
    /// The destination's chain leads back into the source.
    Cycle,
}

/// The slab of every postbox of one scheduler. It never shrinks: a freed box's slot is reused
/// by the next box made, so a `BoxId` is always an index in range.
///
/// Every access to a slot goes through `base`, a raw pointer to the slab's first slot taken
/// with `Vec::as_mut_ptr` whenever the slab reallocates (which also moves the epoch on). No
/// reference to the slab as a whole is ever made, so a pointer to a slot handed out at one
/// epoch ([`Boxes::ptr`]) stays valid, for reads and writes, while the epoch stays the same:
/// that is what lets `Ctx` remember the boxes it uses by address.
pub(crate) struct Boxes {
    slots: Vec<PostBox>,
    base: *mut PostBox,
    free: Vec<BoxId>,
    /// Counts removals and chain changes: a box id and its sink remembered at one epoch are
    /// still right while the epoch has not moved (see the lookup cache in `Ctx`). Never 0,
    /// which marks an empty cache entry; 64 bits, so that it never comes round again.
    pub epoch: u64,
    /// For each final box with outboxes upstream, and each owner of one of those outboxes:
    /// how many of those outboxes the owner has (it is woken once however many of them lead
    /// to the box), and the owner's place among the box's upstream owners (see [`FIRST`]).
    /// Kept as links come and go, so that a link or an unlink costs the size of the chain it
    /// moves, not of everything already leading to the same box: a server whose every
    /// connection reports to one inbox would otherwise pay for all the others at each
    /// connection. One map for all the boxes, so that a box with one link costs one entry.
    upstream_counts: IdMap<(BoxId, ComponentId), (u32, u32)>,
    /// For each box that others lead to: those boxes, in the order linked. (Here rather than
    /// in the box, whose second line has no room for a list that finds any of its items.)
    sources: IdMap<BoxId, OrderedSet<BoxId>>,
}

impl Default for Boxes {
    fn default() -> Boxes {
        let mut slots = Vec::new();
        let base = slots.as_mut_ptr();
        Boxes {
            slots,
            base,
            free: Vec::new(),
            epoch: 1,
            upstream_counts: IdMap::default(),
            sources: IdMap::default(),
        }
    }
}

impl Boxes {
    /// Moves the epoch on (skipping 0).
    fn bump_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1).max(1);
    }

    /// Forgets every box's collection stamp (when the stamps come round again), so that no
    /// box seems to have queued its wakes under a stamp that is only now beginning.
    pub fn clear_pop_stamps(&mut self) {
        for i in 0..self.slots.len() {
            // SAFETY: in range; see `Boxes` for why slots are reached through `base`.
            unsafe { (*self.base.add(i)).woke_at = 0 };
        }
    }

    pub fn insert(&mut self, owner: ComponentId, kind: BoxKind) -> BoxId {
        let id = self.free.pop().unwrap_or_else(|| {
            assert!(
                self.slots.len() < NO_TARGET as usize,
                "a scheduler holds at most {NO_TARGET} boxes"
            );
            self.slots.len() as BoxId
        });
        let b = PostBox {
            id,
            owner,
            kind,
            storage: Ring::default(),
            limit: usize::MAX,
            cap: if kind == BoxKind::Outbox {
                0
            } else {
                MAX_LEN as u32
            },
            woke_at: 0,
            target: NO_TARGET,
            sink: id,
            first_upstream: owner,
            more_upstream: Vec::new(),
            upstream: Upstream::None,
            live: true,
        };
        if id as usize == self.slots.len() {
            let moves = self.slots.len() == self.slots.capacity();
            self.slots.push(b);
            if moves {
                // The slab moved: pointers to its slots from before are stale.
                self.base = self.slots.as_mut_ptr();
                self.bump_epoch();
            }
        } else {
            // SAFETY: `id` came from `free`, so it is below `slots.len()`; the old box in
            // that slot is dropped in place and replaced.
            unsafe { *self.base.add(id as usize) = b };
        }
        id
    }

    /// Frees a box that no linkage touches any more; returns what was left in it.
    pub fn remove(&mut self, id: BoxId) -> Vec<Message> {
        assert!((id as usize) < self.slots.len(), "box {id} was never made");
        // SAFETY: in range (just checked); see `Boxes` for why slots are reached through `base`.
        let b = unsafe { &mut *self.base.add(id as usize) };
        assert!(b.live, "box {id} freed twice");
        debug_assert!(b.target().is_none() && !self.sources.contains_key(&id));
        // Nothing leads here, so no outbox is upstream: there are no counts to drop.
        debug_assert!(b.upstream == Upstream::None);
        // Dropped all the same (free when the invariant holds): a slot made again must not
        // inherit counts, or its first producer would never be woken.
        self.forget_upstream_owners(id);
        // SAFETY: as above; `forget_upstream_owners` moved no slot.
        let b = unsafe { &mut *self.base.add(id as usize) };
        b.live = false;
        b.set_limit(None);
        let left = b.storage.drain_to_vec();
        self.bump_epoch();
        self.free.push(id);
        left
    }

    #[inline(always)]
    pub fn get(&self, id: BoxId) -> &PostBox {
        debug_assert!((id as usize) < self.slots.len(), "box {id} was never made");
        // SAFETY: every `BoxId` was returned by `insert`, and the slab never shrinks (freed
        // slots wait in `free` for reuse), so any id ever made is in range; `base` points at
        // the slab's current storage.
        let b = unsafe { &*self.base.add(id as usize) };
        debug_assert!(b.live, "box {id} used after it was freed");
        b
    }

    #[inline(always)]
    pub fn get_mut(&mut self, id: BoxId) -> &mut PostBox {
        debug_assert!((id as usize) < self.slots.len(), "box {id} was never made");
        // SAFETY: as in `get`.
        let b = unsafe { &mut *self.base.add(id as usize) };
        debug_assert!(b.live, "box {id} used after it was freed");
        b
    }

    /// The address of box `id`, valid (for reads and for writes through `&mut World`) until
    /// the epoch moves. See [`Boxes`].
    #[inline(always)]
    pub fn ptr(&self, id: BoxId) -> *mut PostBox {
        debug_assert!((id as usize) < self.slots.len(), "box {id} was never made");
        self.base.wrapping_add(id as usize)
    }

    /// Kamaelia's `addsource`: `src` now leads to `dst`. Items waiting in `src` move to the new
    /// final box (whatever its limit, as in Kamaelia; past 2^31 items in one box, the most a
    /// ring holds, the process aborts, as for an allocation failure). Returns the new final
    /// box if items moved (its owner must be woken).
    pub fn add_source(&mut self, dst: BoxId, src: BoxId) -> Result<Option<BoxId>, AddSourceError> {
        if let Some(existing) = self.get(src).target() {
            return Err(AddSourceError::AlreadyLinked { existing });
        }
        // Refuse a chain that would lead back into itself.
        let mut walk = Some(dst);
        while let Some(b) = walk {
            if b == src {
                return Err(AddSourceError::Cycle);
            }
            walk = self.get(b).target();
        }
        let new_sink = self.get(dst).sink;
        self.bump_epoch();
        self.get_mut(src).target = dst;
        self.sources.entry(dst).or_default().push_new(src);
        let owners = self.retarget(src, new_sink);
        // `src` was a final box; what led to it now leads on to `new_sink`, with `src` itself.
        self.forget_upstream_owners(src);
        self.count_owners(new_sink, &owners, true);
        let mut waiting = std::mem::take(&mut self.get_mut(src).storage);
        let moved = !waiting.is_empty();
        self.get_mut(new_sink).storage.append(&mut waiting);
        Ok(moved.then_some(new_sink))
    }

    /// Kamaelia's `removesource`: `src` no longer leads to `dst`; it and everything upstream of
    /// it become their own chain again. Items already delivered stay where they are.
    pub fn remove_source(&mut self, dst: BoxId, src: BoxId) {
        let old_sink = self.get(dst).sink;
        self.bump_epoch();
        if let Some(sources) = self.sources.get_mut(&dst) {
            let found = sources.remove(&src);
            debug_assert!(found, "box {src} leads to box {dst}");
            if sources.is_empty() {
                self.sources.remove(&dst);
            }
        }
        self.get_mut(src).target = NO_TARGET;
        let owners = self.retarget(src, src);
        self.count_owners(old_sink, &owners, false);
        // `src` is a final box again, collected from on behalf of the outboxes before it
        // (not of itself, which `retarget` put first).
        let itself = usize::from(self.get(src).kind == BoxKind::Outbox);
        self.count_owners(src, &owners[itself..], true);
    }

    /// The boxes that lead to `b`, in the order linked.
    pub fn sources(&self, b: BoxId) -> impl Iterator<Item = BoxId> + '_ {
        self.sources.get(&b).into_iter().flat_map(OrderedSet::iter)
    }

    /// Nobody is woken any more when an item is collected from `b`: its upstream owners and
    /// their counts go.
    fn forget_upstream_owners(&mut self, b: BoxId) {
        let pb = self.get_mut(b);
        if pb.upstream == Upstream::None {
            return;
        }
        let owners: Vec<ComponentId> = pb.upstream_owners().collect();
        pb.clear_upstream_owners();
        for owner in owners {
            self.upstream_counts.remove(&(b, owner));
        }
    }

    /// Sets the sink of `root` and of everything upstream of it, and returns the owners of the
    /// outboxes among them, once per outbox, `root`'s first (the boxes are walked depth first,
    /// the last linked first).
    fn retarget(&mut self, root: BoxId, sink: BoxId) -> Vec<ComponentId> {
        let mut owners = Vec::new();
        // No allocation for the usual box, which nothing leads to.
        let mut stack = Vec::new();
        let mut next = Some(root);
        while let Some(b) = next {
            let pb = self.get_mut(b);
            pb.sink = sink;
            if pb.kind == BoxKind::Outbox {
                owners.push(pb.owner);
            }
            stack.extend(self.sources(b));
            next = stack.pop();
        }
        owners
    }

    /// Counts `owners` (one per outbox) in or out of those upstream of the final box `sink`,
    /// adding an owner to its wakes when its first outbox arrives and taking it out when its
    /// last one leaves.
    fn count_owners(&mut self, sink: BoxId, owners: &[ComponentId], add: bool) {
        for &owner in owners {
            if add {
                if let Some((n, _)) = self.upstream_counts.get_mut(&(sink, owner)) {
                    *n += 1;
                } else {
                    let at = self.get_mut(sink).add_upstream_owner(owner);
                    self.upstream_counts.insert((sink, owner), (1, at));
                }
            } else if let Some((n, at)) = self.upstream_counts.get_mut(&(sink, owner)) {
                *n -= 1;
                if *n == 0 {
                    let at = *at;
                    self.upstream_counts.remove(&(sink, owner));
                    if let Some((moved, to)) = self.get_mut(sink).remove_upstream_owner(owner, at) {
                        self.upstream_counts
                            .get_mut(&(sink, moved))
                            .expect("an upstream owner is counted")
                            .1 = to;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ordered::SHORT;
    use std::collections::HashMap;

    #[test]
    fn a_postbox_fills_two_cache_lines() {
        assert_eq!(std::mem::size_of::<PostBox>(), 128);
        assert_eq!(std::mem::align_of::<PostBox>(), 64);
    }

    fn id(index: u32) -> ComponentId {
        ComponentId {
            sched: 1,
            index,
            gen: 0,
        }
    }

    #[test]
    fn upstream_owners_round_trip_for_none_one_and_many() {
        let mut boxes = Boxes::default();
        let b = boxes.insert(id(0), BoxKind::Inbox);
        let pb = boxes.get_mut(b);
        assert_eq!(pb.upstream_owners().count(), 0);
        let sorted = |pb: &PostBox| {
            let mut v: Vec<u32> = pb.upstream_owners().map(|o| o.index).collect();
            v.sort_unstable();
            v
        };
        // The places handed out, kept up to date as owners move, as `count_owners` does.
        let mut places = HashMap::new();
        let remove = |pb: &mut PostBox, places: &mut HashMap<ComponentId, u32>, o| {
            let at = places.remove(&o).unwrap();
            if let Some((moved, to)) = pb.remove_upstream_owner(o, at) {
                places.insert(moved, to);
            }
        };
        assert_eq!(pb.add_upstream_owner(id(1)), FIRST);
        places.insert(id(1), FIRST);
        assert_eq!(pb.upstream_owners().collect::<Vec<_>>(), vec![id(1)]);
        for n in 2..=5 {
            places.insert(id(n), pb.add_upstream_owner(id(n)));
        }
        assert_eq!(sorted(pb), vec![1, 2, 3, 4, 5]);
        // Taking out the first, one in the middle, and the last.
        remove(pb, &mut places, id(1));
        assert_eq!(sorted(pb), vec![2, 3, 4, 5]);
        remove(pb, &mut places, id(3));
        assert_eq!(sorted(pb), vec![2, 4, 5]);
        for (&o, &at) in &places {
            let found = if at == FIRST {
                pb.first_upstream
            } else {
                pb.more_upstream[at as usize]
            };
            assert_eq!(found, o, "the place noted for {o:?}");
        }
        for o in [5, 2] {
            remove(pb, &mut places, id(o));
        }
        assert_eq!(pb.upstream_owners().collect::<Vec<_>>(), vec![id(4)]);
        remove(pb, &mut places, id(4));
        assert_eq!(pb.upstream_owners().count(), 0);
        assert!(places.is_empty());
        pb.add_upstream_owner(id(6));
        pb.add_upstream_owner(id(7));
        pb.clear_upstream_owners();
        assert_eq!(pb.upstream_owners().count(), 0);
    }

    #[test]
    fn an_inbox_without_a_limit_refuses_at_the_most_a_ring_holds() {
        let mut boxes = Boxes::default();
        let b = boxes.insert(id(0), BoxKind::Inbox);
        assert_eq!(boxes.get(b).cap as usize, MAX_LEN);
        boxes.get_mut(b).set_limit(Some(usize::MAX - 1));
        assert_eq!(boxes.get(b).cap as usize, MAX_LEN);
        boxes.get_mut(b).set_limit(Some(3));
        assert_eq!((boxes.get(b).cap, boxes.get(b).limit()), (3, Some(3)));
        let o = boxes.insert(id(0), BoxKind::Outbox);
        assert_eq!(boxes.get(o).cap, 0);
    }

    #[test]
    fn what_a_send_and_a_receive_touch_is_in_the_first_line() {
        use std::mem::{offset_of, size_of};
        let ends = [
            offset_of!(PostBox, storage) + size_of::<Ring>(),
            offset_of!(PostBox, cap) + size_of::<u32>(),
            offset_of!(PostBox, woke_at) + size_of::<u32>(),
            offset_of!(PostBox, owner) + size_of::<ComponentId>(),
            offset_of!(PostBox, id) + size_of::<BoxId>(),
            offset_of!(PostBox, upstream) + 1,
            offset_of!(PostBox, first_upstream) + size_of::<ComponentId>(),
            offset_of!(PostBox, kind) + 1,
        ];
        assert!(ends.iter().all(|&e| e <= 64), "{ends:?}");
    }

    /// Every final box's wakes, worked out from scratch: the owners of all outboxes upstream.
    fn wakes_from_scratch(boxes: &Boxes, b: BoxId) -> Vec<ComponentId> {
        let mut owners = Vec::new();
        let mut stack: Vec<BoxId> = boxes.sources(b).collect();
        while let Some(s) = stack.pop() {
            let pb = boxes.get(s);
            if pb.kind == BoxKind::Outbox {
                owners.push(pb.owner);
            }
            stack.extend(boxes.sources(s));
        }
        owners.sort_by_key(|o| o.index);
        owners.dedup();
        owners
    }

    /// Checks everything `Boxes` keeps up to date as links come and go against the links
    /// themselves: each final box's wakes against a count from scratch, each box's sources
    /// (in the order linked) against `model`, and the places noted for long source lists and
    /// for upstream owners against where they are.
    fn assert_consistent(boxes: &Boxes, all: &[BoxId], model: &HashMap<BoxId, Vec<BoxId>>) {
        let mut counted = 0;
        for &b in all {
            let pb = boxes.get(b);
            let mut kept: Vec<ComponentId> = pb.upstream_owners().collect();
            kept.sort_by_key(|o| o.index);
            if pb.target().is_some() {
                assert!(kept.is_empty(), "box {b} leads on, yet has wakes {kept:?}");
            } else {
                assert_eq!(kept, wakes_from_scratch(boxes, b), "box {b}");
            }
            let sources: Vec<BoxId> = boxes.sources(b).collect();
            assert_eq!(
                sources,
                model.get(&b).cloned().unwrap_or_default(),
                "box {b}"
            );
            match boxes.sources.get(&b) {
                Some(list) => {
                    assert!(!list.is_empty(), "box {b} keeps an empty list");
                    list.assert_consistent();
                }
                None => assert!(sources.is_empty()),
            }
            let counts: Vec<_> = boxes
                .upstream_counts
                .iter()
                .filter(|((sink, _), _)| *sink == b)
                .collect();
            assert_eq!(counts.len(), pb.upstream_owners().count(), "box {b}");
            for (&(_, o), &(n, at)) in counts {
                assert!(n > 0);
                let found = if at == FIRST {
                    pb.first_upstream
                } else {
                    pb.more_upstream[at as usize]
                };
                assert_eq!(found, o, "the place noted for {o:?} in box {b}");
                counted += 1;
            }
        }
        assert_eq!(
            boxes.upstream_counts.len(),
            counted,
            "counts kept for boxes that are not final"
        );
        let linked = all.iter().filter(|&&b| boxes.get(b).target().is_some());
        assert_eq!(
            boxes.sources.values().map(OrderedSet::len).sum::<usize>(),
            linked.count(),
            "sources listed for boxes that lead nowhere"
        );
    }

    /// Random links and unlinks among `n` boxes of `owners` owners (one in three an inbox),
    /// `to_hub` in ten of them to box 0, checked after every step by `assert_consistent`.
    /// Returns the number of links made and the most sources box 0 had at once.
    fn random_walk(n: u32, owners: u32, to_hub: usize, steps: usize) -> (usize, usize) {
        let mut boxes = Boxes::default();
        let all: Vec<BoxId> = (0..n)
            .map(|n| {
                let kind = if n % 3 == 0 {
                    BoxKind::Inbox
                } else {
                    BoxKind::Outbox
                };
                boxes.insert(id(n % owners), kind)
            })
            .collect();
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1du64);
        let mut model: HashMap<BoxId, Vec<BoxId>> = HashMap::new();
        let (mut links, mut widest) = (0, 0);
        for _ in 0..steps {
            let src = all[next(all.len())];
            let dst = if next(10) < to_hub {
                all[0]
            } else {
                all[next(all.len())]
            };
            match boxes.get(src).target() {
                Some(t) => {
                    boxes.remove_source(t, src);
                    model.get_mut(&t).unwrap().retain(|&s| s != src);
                }
                None => {
                    if src != dst && boxes.add_source(dst, src).is_ok() {
                        links += 1;
                        model.entry(dst).or_default().push(src);
                    }
                }
            }
            widest = widest.max(model.get(&all[0]).map_or(0, Vec::len));
            assert_consistent(&boxes, &all, &model);
        }
        (links, widest)
    }

    #[test]
    fn wakes_kept_as_links_come_and_go_match_a_fresh_count() {
        // 40 boxes of 6 owners (two outboxes and an inbox each, and more).
        let (links, _) = random_walk(40, 6, 0, 5_000);
        assert!(links > 1_000, "the walk made only {links} links");
    }

    #[test]
    fn a_box_many_lead_to_keeps_their_order_and_places_through_random_links() {
        // A hub most links go to, its list of sources growing long and short again.
        let (links, widest) = random_walk(90, 30, 6, 20_000);
        assert!(links > 5_000, "the walk made only {links} links");
        assert!(widest > 3 * SHORT, "the hub had at most {widest} sources");
    }

    #[test]
    fn a_busy_box_keeps_one_count_per_owner_and_drops_them_with_the_links() {
        // A server's shape: thousands of connections' outboxes into one inbox. The counts
        // kept per owner are exactly the links, and leave with them.
        let mut boxes = Boxes::default();
        let sink = boxes.insert(id(0), BoxKind::Inbox);
        let outs: Vec<BoxId> = (1..=5_000u32)
            .map(|n| {
                let o = boxes.insert(id(n), BoxKind::Outbox);
                assert!(boxes.add_source(sink, o).is_ok());
                o
            })
            .collect();
        assert_eq!(boxes.get(sink).upstream_owners().count(), 5_000);
        assert_eq!(boxes.upstream_counts.len(), 5_000);
        assert!(boxes.upstream_counts.keys().all(|&(b, _)| b == sink));
        for o in outs {
            boxes.remove_source(sink, o);
        }
        assert_eq!(boxes.get(sink).upstream_owners().count(), 0);
        assert!(boxes.upstream_counts.is_empty());
    }
}
