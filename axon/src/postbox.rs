//! Postboxes and linkage chains (Kamaelia's `Box.py`): where a message is stored and whom its
//! arrival and its collection wake.
//!
//! Every inbox and outbox is a postbox. A postbox has its own storage (always empty for an
//! outbox, whose storage is Kamaelia's "null sink"), at most one `target` (the next box of a
//! linkage chain), any number of `sources`, and a `sink`: the final box of its chain. Linking
//! resolves the chain at once, so a send is one push into the sink's storage however many
//! linkages the message crosses.

use std::collections::VecDeque;

use crate::error::BoxKind;
use crate::ids::ComponentId;
use crate::message::Message;

/// Index of a postbox in the [`Boxes`] slab.
pub(crate) type BoxId = u32;

pub(crate) struct PostBox {
    pub owner: ComponentId,
    pub kind: BoxKind,
    pub storage: VecDeque<Message>,
    pub limit: Option<usize>,
    pub target: Option<BoxId>,
    pub sink: BoxId,
    pub sources: Vec<BoxId>,
    /// For a final box: the owners of every outbox upstream, woken when an item is collected.
    pub wake_on_pop: Vec<ComponentId>,
}

/// Why a link could not be made.
pub(crate) enum AddSourceError {
    /// The source already leads somewhere: one to many is not allowed.
    AlreadyLinked { existing: BoxId },
    /// The destination's chain leads back into the source.
    Cycle,
}

#[derive(Default)]
pub(crate) struct Boxes {
    slots: Vec<Option<PostBox>>,
    free: Vec<BoxId>,
    /// Counts removals: a box id remembered at one epoch is still the same box while the
    /// epoch has not moved (see the lookup cache in `Ctx`).
    pub epoch: u32,
}

impl Boxes {
    pub fn insert(&mut self, owner: ComponentId, kind: BoxKind) -> BoxId {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as BoxId
            }
        };
        self.slots[id as usize] = Some(PostBox {
            owner,
            kind,
            storage: VecDeque::new(),
            limit: None,
            target: None,
            sink: id,
            sources: Vec::new(),
            wake_on_pop: Vec::new(),
        });
        id
    }

    /// Frees a box that no linkage touches any more; returns what was left in it.
    pub fn remove(&mut self, id: BoxId) -> VecDeque<Message> {
        let b = self.slots[id as usize].take().expect("live box");
        self.epoch = self.epoch.wrapping_add(1);
        debug_assert!(b.target.is_none() && b.sources.is_empty());
        self.free.push(id);
        b.storage
    }

    #[inline]
    pub fn get(&self, id: BoxId) -> &PostBox {
        self.slots[id as usize].as_ref().expect("live box")
    }

    #[inline]
    pub fn get_mut(&mut self, id: BoxId) -> &mut PostBox {
        self.slots[id as usize].as_mut().expect("live box")
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
        self.get_mut(src).target = Some(dst);
        self.get_mut(dst).sources.push(src);
        self.retarget(src, new_sink);
        self.get_mut(src).wake_on_pop.clear();
        let waiting = std::mem::take(&mut self.get_mut(src).storage);
        let moved = !waiting.is_empty();
        self.get_mut(new_sink).storage.extend(waiting);
        self.recompute_wakes(new_sink);
        Ok(moved.then_some(new_sink))
    }

    /// Kamaelia's `removesource`: `src` no longer leads to `dst`; it and everything upstream of
    /// it become their own chain again. Items already delivered stay where they are.
    pub fn remove_source(&mut self, dst: BoxId, src: BoxId) {
        let old_sink = self.get(dst).sink;
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
