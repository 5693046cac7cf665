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
use crate::ring::Ring;

/// Index of a postbox in the [`Boxes`] slab.
pub(crate) type BoxId = u32;

pub(crate) struct PostBox {
    /// This box's own index in the slab.
    pub id: BoxId,
    pub owner: ComponentId,
    pub kind: BoxKind,
    pub storage: Ring,
    /// The size limit, `usize::MAX` for none (a word, not an `Option`, so that a postbox
    /// fills exactly two cache lines).
    limit: usize,
    /// How many items a send may find here before it takes the slow path: the limit, or
    /// `usize::MAX` without one, or 0 for an outbox (a send ending at an outbox is dropped).
    pub cap: usize,
    pub target: Option<BoxId>,
    pub sink: BoxId,
    pub sources: Vec<BoxId>,
    /// For a final box: the owners of every outbox upstream, woken when an item is collected.
    pub wake_on_pop: Vec<ComponentId>,
    /// An item was collected this cycle; `wake_on_pop` is woken when the cycle settles.
    pub popped: bool,
    /// False once the box is freed (its slot waits for reuse).
    pub live: bool,
}

impl PostBox {
    /// The size limit, if any.
    pub fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }

    /// Sets the size limit (`None`: unlimited).
    pub fn set_limit(&mut self, limit: Option<usize>) {
        self.limit = limit.unwrap_or(usize::MAX);
        self.cap = match self.kind {
            BoxKind::Outbox => 0,
            BoxKind::Inbox => limit.unwrap_or(usize::MAX),
        };
    }
}

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
        }
    }
}

impl Boxes {
    /// Moves the epoch on (skipping 0).
    fn bump_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1).max(1);
    }

    pub fn insert(&mut self, owner: ComponentId, kind: BoxKind) -> BoxId {
        let id = self.free.pop().unwrap_or(self.slots.len() as BoxId);
        let b = PostBox {
            id,
            owner,
            kind,
            storage: Ring::default(),
            limit: usize::MAX,
            cap: if kind == BoxKind::Outbox {
                0
            } else {
                usize::MAX
            },
            target: None,
            sink: id,
            sources: Vec::new(),
            wake_on_pop: Vec::new(),
            popped: false,
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
        debug_assert!(b.target.is_none() && b.sources.is_empty());
        b.live = false;
        b.popped = false;
        b.set_limit(None);
        b.wake_on_pop = Vec::new();
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

    /// True if `id` names a box that has not been freed.
    pub fn is_live(&self, id: BoxId) -> bool {
        (id as usize) < self.slots.len() && self.get_unchecked_live(id)
    }

    fn get_unchecked_live(&self, id: BoxId) -> bool {
        // SAFETY: callers check `id < slots.len()`.
        unsafe { (*self.base.add(id as usize)).live }
    }

    /// The address of box `id`, valid (for reads and for writes through `&mut World`) until
    /// the epoch moves. See [`Boxes`].
    #[inline(always)]
    pub fn ptr(&self, id: BoxId) -> *mut PostBox {
        debug_assert!((id as usize) < self.slots.len(), "box {id} was never made");
        self.base.wrapping_add(id as usize)
    }

    /// Kamaelia's `addsource`: `src` now leads to `dst`. Items waiting in `src` move to the new
    /// final box. Returns the new final box if items moved (its owner must be woken).
    pub fn add_source(&mut self, dst: BoxId, src: BoxId) -> Result<Option<BoxId>, AddSourceError> {
        if let Some(existing) = self.get(src).target {
            return Err(AddSourceError::AlreadyLinked { existing });
        }
        // Refuse a chain that would lead back into itself.
        let mut walk = Some(dst);
        while let Some(b) = walk {
            if b == src {
                return Err(AddSourceError::Cycle);
            }
            walk = self.get(b).target;
        }
        let new_sink = self.get(dst).sink;
        self.bump_epoch();
        self.get_mut(src).target = Some(dst);
        self.get_mut(dst).sources.push(src);
        self.retarget(src, new_sink);
        self.get_mut(src).wake_on_pop.clear();
        let mut waiting = std::mem::take(&mut self.get_mut(src).storage);
        let moved = !waiting.is_empty();
        self.get_mut(new_sink).storage.append(&mut waiting);
        self.recompute_wakes(new_sink);
        Ok(moved.then_some(new_sink))
    }

    /// Kamaelia's `removesource`: `src` no longer leads to `dst`; it and everything upstream of
    /// it become their own chain again. Items already delivered stay where they are.
    pub fn remove_source(&mut self, dst: BoxId, src: BoxId) {
        let old_sink = self.get(dst).sink;
        self.bump_epoch();
        self.get_mut(dst).sources.retain(|&s| s != src);
        self.get_mut(src).target = None;
        self.retarget(src, src);
        self.recompute_wakes(old_sink);
        self.recompute_wakes(src);
    }

    /// Sets the sink of `root` and everything upstream of it.
    fn retarget(&mut self, root: BoxId, sink: BoxId) {
        let mut stack = vec![root];
        while let Some(b) = stack.pop() {
            let pb = self.get_mut(b);
            pb.sink = sink;
            stack.extend_from_slice(&pb.sources);
        }
    }

    /// The owners of every outbox whose chain ends at `sink`.
    fn recompute_wakes(&mut self, sink: BoxId) {
        let mut owners: Vec<ComponentId> = Vec::new();
        let mut stack = self.get(sink).sources.clone();
        while let Some(b) = stack.pop() {
            let pb = self.get(b);
            if pb.kind == BoxKind::Outbox && !owners.contains(&pb.owner) {
                owners.push(pb.owner);
            }
            stack.extend_from_slice(&pb.sources);
        }
        self.get_mut(sink).wake_on_pop = owners;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postbox_fills_two_cache_lines() {
        assert_eq!(std::mem::size_of::<PostBox>(), 128);
    }
}
