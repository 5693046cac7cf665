//! The state one scheduler owns: its components, their boxes, the linkages between them, and
//! the run, pause and wake bookkeeping. Only the scheduler's thread touches it.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::component::{BoxSpec, Start, Task};
use crate::error::{BoxKind, Error, NoSpaceInBox, NoSuchBox, SendError};
use crate::ids::ComponentId;
use crate::linkage::{Linkage, Passthrough};
use crate::message::Message;
use crate::ordered::{IdMap, OrderedMap, OrderedSet};
use crate::postbox::{AddSourceError, BoxId, Boxes, PostBox, Upstream};

/// Where a component is in its life (Kamaelia's ACTIVE, SLEEPING, GOINGTOSLEEP, plus the
/// states before activation and after the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Made, boxes exist, not yet activated.
    Created,
    /// Activation requested; it joins the run queue at the end of this cycle.
    Activating,
    /// In the run queue.
    Active,
    /// Asked to pause; leaves the run queue when next reached. Never stored: an `Active`
    /// component whose pause of the last cycle no wake cancelled reads as this (see
    /// [`Hot::state`]).
    GoingToSleep,
    /// Out of the run queue until woken.
    Sleeping,
    /// Finished; kept while linkages made by others still touch its boxes.
    Ended,
}

/// A component as its world holds it.
pub(crate) struct Comp {
    pub id: u64,
    pub label: Cow<'static, str>,
    /// Its inboxes in the order declared, then added, each with its spec: a server may add a
    /// few per connection and hold thousands, and finding or deleting one by its id does not
    /// look at the others.
    inboxes: OrderedMap<BoxId, BoxSpec>,
    /// Its outboxes, the same way.
    outboxes: OrderedMap<BoxId, BoxSpec>,
    /// Its children, in the order adopted (Kamaelia's `childComponents`).
    pub children: OrderedSet<ComponentId>,
    /// Woken when this component ends (Kamaelia's `_callOnCloseDown` of `addChildren`).
    pub wake_on_end: Vec<ComponentId>,
    /// Linkages this component made (its postoffice), in the order made.
    pub linkages: OrderedSet<u32>,
    /// Linkages, made by anyone, that touch this component's boxes.
    pub link_refs: u32,
    /// For a component that has added boxes while running (an adaptive one, or a server with
    /// a few per connection): its boxes by name, so that finding one does not look at every
    /// other. `None` while the declared boxes are all it has.
    by_name: Option<Box<Named>>,
}

/// The index of a component's boxes by name, per kind (inboxes, then outboxes).
struct Named {
    /// Its boxes by name. A name declared twice finds its first box, as a scan would.
    names: [HashMap<String, BoxId>; 2],
    /// Names declared more than once (the only way a name can be taken twice): deleting one
    /// of these looks for the next box of that name.
    twice: [Vec<String>; 2],
}

impl Comp {
    pub fn name(&self) -> String {
        format!("{}_{}", self.label, self.id)
    }

    pub fn component_name(&self) -> crate::ids::ComponentName {
        crate::ids::ComponentName::new(self.label.clone(), self.id)
    }

    /// Its boxes of `kind`, each with its spec.
    fn list(&self, kind: BoxKind) -> &OrderedMap<BoxId, BoxSpec> {
        match kind {
            BoxKind::Inbox => &self.inboxes,
            BoxKind::Outbox => &self.outboxes,
        }
    }

    /// Its boxes of `kind`, with their specs, in order.
    pub fn boxes(&self, kind: BoxKind) -> impl Iterator<Item = (&BoxSpec, BoxId)> + '_ {
        self.list(kind).iter().map(|(b, s)| (s, b))
    }

    fn find(&self, kind: BoxKind, name: &str) -> Option<BoxId> {
        if let Some(index) = &self.by_name {
            return index.names[kind_slot(kind)].get(name).copied();
        }
        self.boxes(kind)
            .find(|(s, _)| s.name == name)
            .map(|(_, b)| b)
    }

    /// Starts the index (see `by_name`) from the boxes the component has now.
    fn index_names(&mut self) {
        if self.by_name.is_some() {
            return;
        }
        let mut index = Named {
            names: Default::default(),
            twice: Default::default(),
        };
        for kind in [BoxKind::Inbox, BoxKind::Outbox] {
            let k = kind_slot(kind);
            index.names[k].reserve(self.list(kind).len());
            for (s, b) in self.boxes(kind) {
                match index.names[k].entry(s.name.to_string()) {
                    Entry::Occupied(taken) => {
                        if !index.twice[k].contains(taken.key()) {
                            index.twice[k].push(taken.key().clone());
                        }
                    }
                    Entry::Vacant(free) => {
                        free.insert(b);
                    }
                }
            }
        }
        self.by_name = Some(Box::new(index));
    }

    pub fn box_id(&self, kind: BoxKind, name: &str) -> Result<BoxId, NoSuchBox> {
        match self.find(kind, name) {
            Some(b) => Ok(b),
            None => Err(NoSuchBox {
                component: self.name(),
                kind,
                name: name.to_string(),
                existing: self.box_names(kind),
            }),
        }
    }

    pub fn box_names(&self, kind: BoxKind) -> Vec<String> {
        self.boxes(kind).map(|(s, _)| s.name.to_string()).collect()
    }

    pub fn box_name(&self, kind: BoxKind, b: BoxId) -> String {
        self.list(kind)
            .get(&b)
            .map(|s| s.name.to_string())
            .unwrap_or_else(|| "<deleted>".into())
    }

    /// Adds box `b` of `kind`, named `name`, after the others.
    fn add_box(&mut self, kind: BoxKind, b: BoxId, name: String) {
        self.index_names();
        let index = self.by_name.as_mut().expect("indexed just now");
        index.names[kind_slot(kind)].insert(name.clone(), b);
        let list = match kind {
            BoxKind::Inbox => &mut self.inboxes,
            BoxKind::Outbox => &mut self.outboxes,
        };
        list.push_new(b, BoxSpec::owned(name, ""));
    }

    /// Takes box `b` of `kind` out of this component's lists and index.
    fn forget_box(&mut self, kind: BoxKind, b: BoxId) {
        let list = match kind {
            BoxKind::Inbox => &mut self.inboxes,
            BoxKind::Outbox => &mut self.outboxes,
        };
        let spec = list.remove(&b).expect("box belongs to comp");
        let Some(index) = &mut self.by_name else {
            return;
        };
        let k = kind_slot(kind);
        let names = &mut index.names[k];
        if index.twice[k].iter().any(|n| *n == spec.name) {
            // A name declared twice: the index now finds the next box of that name, as the
            // scan would.
            let next = list
                .iter()
                .find(|(_, s)| s.name == spec.name)
                .map(|(x, _)| x);
            match next {
                Some(x) => names.insert(spec.name.to_string(), x),
                None => names.remove(&*spec.name),
            };
        } else {
            names.remove(&*spec.name);
        }
    }
}

/// Which of a component's two name indexes holds boxes of `kind`.
fn kind_slot(kind: BoxKind) -> usize {
    match kind {
        BoxKind::Inbox => 0,
        BoxKind::Outbox => 1,
    }
}

/// Per slot, what running, pausing and waking its component touch: one cache line each, in
/// a dense table apart from the [`Comp`]s (which lookups and graph changes read), so that a
/// hop of a message reads one line of the component it wakes, not three of its `Comp`.
#[repr(C, align(64))]
pub(crate) struct Hot {
    /// The generation of the slot's component; moves on when the slot is freed.
    gen: u32,
    /// True while the slot holds a component (its `Comp` is `Some`).
    used: bool,
    /// The stored state: `Created`, `Activating`, `Active`, `Sleeping` or `Ended`. Read it
    /// through [`Hot::state`], which also tells `GoingToSleep`.
    stored: State,
    /// The cycle (`World::cycle`) in which the component was last woken, 0 for never.
    woken_at: u32,
    /// The cycle in which it last asked to pause with no wake in that cycle, 0 for never.
    paused_at: u32,
    /// Where the component's paused body lives and how big it is (a hint for the processor's
    /// cache; may be stale, never dereferenced).
    pub body_at: usize,
    pub body_len: usize,
    /// The paused body, once started.
    pub task: Option<Task>,
    /// What makes the body, until it first runs.
    pub start: Option<Start>,
}

// One line per slot, as the layout above intends.
const _: () = assert!(std::mem::size_of::<Hot>() == 64);

impl Hot {
    /// Where the component is in its life, in cycle `cycle`. Pauses and wakes are stamped
    /// with their cycle instead of being settled one by one at its end. A wake cancels a
    /// pause of the same cycle, whatever their order (Kamaelia's A4.2): a wake clears a
    /// pause stamped in its cycle, and a pause in a cycle that has seen a wake is not
    /// stamped. So a pause stamped with the last cycle took effect: the component is going
    /// to sleep.
    pub fn state(&self, cycle: u32) -> State {
        if self.stored == State::Active && self.paused_at == cycle.wrapping_sub(1) {
            State::GoingToSleep
        } else {
            self.stored
        }
    }

    fn vacant() -> Hot {
        Hot {
            gen: 0,
            used: false,
            stored: State::Ended,
            woken_at: 0,
            paused_at: 0,
            body_at: 0,
            body_len: 0,
            task: None,
            start: None,
        }
    }
}

pub(crate) struct LinkData {
    pub owner: ComponentId,
    pub source: ComponentId,
    pub source_box: BoxId,
    pub sink: ComponentId,
    pub sink_box: BoxId,
    pub passthrough: Passthrough,
}

/// A component that ended badly, as the scheduler reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The component's name.
    pub component: String,
    /// The error it returned, or the panic message.
    pub error: String,
}

pub(crate) struct World {
    pub sched: u32,
    /// Per slot: the component, `None` once freed.
    slots: Vec<Option<Comp>>,
    /// Per slot: its run, pause and wake state (see [`Hot`]); as long as `slots`.
    hot: Vec<Hot>,
    free_slots: Vec<u32>,
    pub boxes: Boxes,
    links: Vec<(u32, Option<LinkData>)>,
    free_links: Vec<u32>,
    /// The linkages touching each box (as source or sink), in the order made, so that
    /// deleting a box or removing a child finds its linkages without looking at every other
    /// (and a box that thousands of linkages touch lets go of one without looking at the rest).
    box_links: IdMap<BoxId, OrderedSet<u32>>,
    /// Components to run in the coming cycle.
    pub run_next: Vec<ComponentId>,
    /// Components woken this cycle that are not in the run queue (asleep, or not yet
    /// started): they join it when the cycle settles. A woken component that is in the queue
    /// needs nothing more than its `woken_at` stamp.
    pub wakes: Vec<ComponentId>,
    /// The number of the cycle under way, for the pause and wake stamps in `Hot`; moves on
    /// when a cycle has settled (`end_cycle`). Never 0 or 1: a stamp of 0 means never, and
    /// `cycle - 1` must be a real cycle.
    cycle: u32,
    /// Stamps collections: a box queues wakes for its upstream owners on its first collection
    /// under a stamp (`PostBox::woke_at`). Moves on when a cycle settles and before any chain
    /// changes; never 0, the stamp of a box that has not queued any.
    pop_stamp: u32,
    pub live: usize,
    pub stop_requested: bool,
    pub current: Option<ComponentId>,
    pub timers: BinaryHeap<Reverse<(Instant, u64, ComponentId)>>,
    timer_seq: u64,
    pub time: Instant,
    pub failures: Vec<Failure>,
    pub ended: usize,
    /// Components to wake when the graph changes (introspectors).
    pub topology_watchers: Vec<ComponentId>,
    pub topology_version: u64,
}

impl World {
    pub fn new(sched: u32) -> World {
        World {
            sched,
            slots: Vec::new(),
            hot: Vec::new(),
            free_slots: Vec::new(),
            boxes: Boxes::default(),
            links: Vec::new(),
            free_links: Vec::new(),
            box_links: IdMap::default(),
            run_next: Vec::new(),
            wakes: Vec::new(),
            cycle: 2,
            pop_stamp: 1,
            live: 0,
            stop_requested: false,
            current: None,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            time: Instant::now(),
            failures: Vec::new(),
            ended: 0,
            topology_watchers: Vec::new(),
            topology_version: 0,
        }
    }

    // ----- components -------------------------------------------------------------------

    pub fn comp(&self, c: ComponentId) -> Option<&Comp> {
        self.hot(c)?;
        self.slots[c.index as usize].as_ref()
    }

    pub fn comp_mut(&mut self, c: ComponentId) -> Option<&mut Comp> {
        self.hot(c)?;
        self.slots[c.index as usize].as_mut()
    }

    /// The run state of component `c`, if it is one of this world's and not freed.
    #[inline]
    pub fn hot(&self, c: ComponentId) -> Option<&Hot> {
        if c.sched != self.sched {
            return None;
        }
        let h = self.hot.get(c.index as usize)?;
        (h.used && h.gen == c.gen).then_some(h)
    }

    /// [`hot`](World::hot), to change.
    #[inline]
    pub fn hot_mut(&mut self, c: ComponentId) -> Option<&mut Hot> {
        if c.sched != self.sched {
            return None;
        }
        let h = self.hot.get_mut(c.index as usize)?;
        (h.used && h.gen == c.gen).then_some(h)
    }

    /// Where component `c` is in its life, if it is one of this world's and not freed.
    pub fn state(&self, c: ComponentId) -> Option<State> {
        self.hot(c).map(|h| h.state(self.cycle))
    }

    pub fn live_comp(&self, c: ComponentId) -> Result<&Comp, Error> {
        self.comp(c)
            .ok_or_else(|| Error::NoSuchComponent(c.to_string()))
    }

    pub fn name_of(&self, c: ComponentId) -> String {
        self.comp(c)
            .map(Comp::name)
            .unwrap_or_else(|| c.to_string())
    }

    pub fn insert(
        &mut self,
        label: Cow<'static, str>,
        inbox_specs: Cow<'static, [BoxSpec]>,
        outbox_specs: Cow<'static, [BoxSpec]>,
        start: Option<Start>,
    ) -> ComponentId {
        let index = match self.free_slots.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.hot.push(Hot::vacant());
                (self.slots.len() - 1) as u32
            }
        };
        let gen = self.hot[index as usize].gen;
        let cid = ComponentId {
            sched: self.sched,
            index,
            gen,
        };
        let inboxes = self.declare_boxes(cid, BoxKind::Inbox, inbox_specs);
        let outboxes = self.declare_boxes(cid, BoxKind::Outbox, outbox_specs);
        self.slots[index as usize] = Some(Comp {
            id: crate::ids::next_id(),
            label,
            inboxes,
            outboxes,
            children: OrderedSet::default(),
            wake_on_end: Vec::new(),
            linkages: OrderedSet::default(),
            link_refs: 0,
            by_name: None,
        });
        let hot = &mut self.hot[index as usize];
        hot.used = true;
        hot.stored = State::Created;
        hot.woken_at = 0;
        hot.paused_at = 0;
        hot.body_at = 0;
        hot.body_len = 0;
        hot.task = None;
        hot.start = start;
        self.topology_changed();
        cid
    }

    /// Makes the boxes of `kind` that `c` declares, one per spec, in order.
    fn declare_boxes(
        &mut self,
        c: ComponentId,
        kind: BoxKind,
        specs: Cow<'static, [BoxSpec]>,
    ) -> OrderedMap<BoxId, BoxSpec> {
        match specs {
            // A static table (the usual case): its specs are copied, not their text.
            Cow::Borrowed(specs) => specs
                .iter()
                .map(|s| (self.boxes.insert(c, kind), s.clone()))
                .collect(),
            Cow::Owned(specs) => specs
                .into_iter()
                .map(|s| (self.boxes.insert(c, kind), s))
                .collect(),
        }
    }

    /// Frees an ended component that nothing links to any more.
    fn free_if_unreferenced(&mut self, c: ComponentId) {
        let Some(comp) = self.comp(c) else { return };
        if self.state(c) != Some(State::Ended) || comp.link_refs != 0 {
            return;
        }
        let comp = self.slots[c.index as usize].take().expect("checked above");
        let hot = &mut self.hot[c.index as usize];
        hot.used = false;
        hot.gen = hot.gen.wrapping_add(1);
        self.free_slots.push(c.index);
        let name = comp.name();
        for (kind, what) in [(BoxKind::Inbox, "inbox"), (BoxKind::Outbox, "outbox")] {
            for (_, b) in comp.boxes(kind) {
                let left = self.boxes.remove(b);
                if !left.is_empty() {
                    log::debug!(
                        "{name} ended with {} message(s) never collected from an {what}",
                        left.len()
                    );
                }
            }
        }
    }

    // ----- run, pause and wake -------------------------------------------------------------

    /// Wakes `c` at the end of this cycle. Waking a component that is running or already
    /// awake is harmless: it cancels a pause requested in the same cycle, so no wake is
    /// ever lost.
    #[inline]
    pub fn wake(&mut self, c: ComponentId) {
        wake_in(&mut self.hot, &mut self.wakes, self.sched, self.cycle, c);
    }

    /// Records that `c` asked to pause in this cycle; it takes effect when the cycle settles,
    /// unless a wake in the same cycle cancels it (see [`Hot::state`]).
    pub fn pause(&mut self, c: ComponentId) {
        let cycle = self.cycle;
        if let Some(h) = self.hot_mut(c) {
            // Woken already in this cycle: the wake cancels the pause. Going to sleep
            // already (a pause of the last cycle): it stays so.
            if h.state(cycle) == State::Active && h.woken_at != cycle {
                h.paused_at = cycle;
            }
        }
    }

    pub fn activate(&mut self, c: ComponentId) -> Result<(), Error> {
        let comp = self
            .hot_mut(c)
            .ok_or_else(|| Error::NoSuchComponent(c.to_string()))?;
        if comp.stored == State::Created {
            comp.stored = State::Activating;
            self.live += 1;
            self.wake(c);
            self.topology_changed();
        }
        Ok(())
    }

    /// End of a cycle: the components woken out of the run queue join it. (Pauses need
    /// nothing here: a component that paused is still in the queue, and its stamps say, when
    /// it is next reached, whether a wake of the same cycle cancelled the pause: Kamaelia's
    /// A4.2, pause requests before wakes.)
    fn settle(&mut self) {
        self.next_pop_stamp();
        let wakes = std::mem::take(&mut self.wakes);
        for c in wakes.iter().copied() {
            let Some(h) = self.hot_mut(c) else {
                continue;
            };
            if matches!(h.stored, State::Sleeping | State::Activating) {
                h.stored = State::Active;
                self.run_next.push(c);
            }
        }
        self.wakes = wakes;
        self.wakes.clear();
    }

    /// Closes the cycle: settles it, fires the timers due at `now` and settles their wakes,
    /// then moves on to the next cycle. Also used for the wakes that come while the scheduler
    /// waits between cycles, so that they count as a cycle of their own and do not cancel a
    /// pause in the cycle they start. Returns the next timer's deadline.
    pub fn close_cycle(&mut self, now: Instant) -> Option<Instant> {
        self.settle();
        let next = self.fire_timers(now);
        self.settle();
        self.end_cycle();
        next
    }

    /// Moves on to the next cycle, once the last has settled.
    fn end_cycle(&mut self) {
        let last = self.cycle;
        self.cycle = last.wrapping_add(1);
        if self.cycle == 0 {
            // Once in 2^32 cycles: old stamps could now come back. Stamps of the cycle just
            // ended are kept (as cycle 1, now the last); every older one is forgotten.
            for h in &mut self.hot {
                h.woken_at = if h.woken_at == last { 1 } else { 0 };
                h.paused_at = if h.paused_at == last { 1 } else { 0 };
            }
            self.cycle = 2;
        }
    }

    /// `c` is reached in the run queue: if it runs now, hands over its body (paused, or
    /// what makes it) and marks it the current component. `None` if it does not run: it is
    /// not active, or it went to sleep (its pause of the last cycle was not cancelled; a
    /// wake earlier in this cycle then puts it back in the queue when the cycle settles, as
    /// for any sleeping component).
    pub fn start_turn(&mut self, c: ComponentId) -> Option<(Option<Task>, Option<Start>)> {
        let cycle = self.cycle;
        let h = self.hot_mut(c)?;
        match h.state(cycle) {
            State::Active => {
                let body = (h.task.take(), h.start.take());
                self.current = Some(c);
                Some(body)
            }
            State::GoingToSleep => {
                h.stored = State::Sleeping;
                if h.woken_at == cycle {
                    self.wakes.push(c);
                }
                None
            }
            _ => None,
        }
    }

    /// Starts a new collection stamp: the next collection from any box queues wakes for its
    /// upstream owners again. Done when a cycle settles, and before any change to the chains,
    /// so that a collection after the change wakes the owners of the chain as it is then.
    pub fn next_pop_stamp(&mut self) {
        self.pop_stamp = self.pop_stamp.wrapping_add(1);
        if self.pop_stamp == 0 {
            // Once in 2^32 stamps: old stamps could now come back, so every box forgets its.
            self.boxes.clear_pop_stamps();
            self.pop_stamp = 1;
        }
    }

    /// Finds the live component in slot `index` whose generation ends in `gen16`.
    pub fn resolve(&self, index: u32, gen16: u16) -> Option<ComponentId> {
        let h = self.hot.get(index as usize)?;
        if h.used && h.gen as u16 == gen16 {
            Some(ComponentId {
                sched: self.sched,
                index,
                gen: h.gen,
            })
        } else {
            None
        }
    }

    /// Marks every activated component ended and hands back their bodies, to be dropped
    /// outside the world's borrow (a body's drop may use its context).
    pub fn take_all_bodies(&mut self) -> Vec<(Option<Task>, Option<Start>)> {
        let mut bodies = Vec::new();
        for h in self.hot.iter_mut() {
            h.woken_at = 0;
            h.paused_at = 0;
            if !h.used {
                continue;
            }
            if h.task.is_some() || h.start.is_some() {
                bodies.push((h.task.take(), h.start.take()));
            }
            if !matches!(h.stored, State::Created | State::Ended) {
                h.stored = State::Ended;
                self.ended += 1;
            }
        }
        self.live = 0;
        self.run_next.clear();
        self.wakes.clear();
        self.timers.clear();
        bodies
    }

    pub fn add_timer(&mut self, at: Instant, c: ComponentId) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, c)));
    }

    /// Drops the timers of components that have ended; returns the next deadline left.
    pub fn prune_timers(&mut self) -> Option<Instant> {
        let timers = std::mem::take(&mut self.timers);
        self.timers = timers
            .into_iter()
            .filter(|Reverse((_, _, c))| self.state(*c).is_some_and(|state| state != State::Ended))
            .collect();
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Wakes every component whose timer is due; returns the next deadline.
    pub fn fire_timers(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, _, c))) = self.timers.peek().copied() {
            if at > now {
                return Some(at);
            }
            self.timers.pop();
            self.wake(c);
        }
        None
    }

    /// The component has finished: wake those waiting on its end, undo the linkages it made.
    pub fn end(&mut self, c: ComponentId, failure: Option<String>) {
        let Some(hot) = self.hot_mut(c) else { return };
        let was_live = !matches!(hot.stored, State::Created | State::Ended);
        hot.stored = State::Ended;
        hot.task = None;
        hot.start = None;
        let comp = self.comp_mut(c).expect("a slot in use holds its component");
        let wake_on_end = std::mem::take(&mut comp.wake_on_end);
        let linkages: Vec<u32> = comp.linkages.take().collect();
        if was_live {
            self.live -= 1;
        }
        self.ended += 1;
        if let Some(error) = failure {
            let name = self.name_of(c);
            log::error!("component {name} failed: {error}");
            self.failures.push(Failure {
                component: name,
                error,
            });
        }
        for p in wake_on_end {
            self.wake(p);
        }
        self.topology_watchers.retain(|&w| w != c);
        for l in linkages {
            self.unlink_index(l);
        }
        self.topology_changed();
        self.free_if_unreferenced(c);
    }

    pub fn topology_changed(&mut self) {
        self.topology_version += 1;
        for i in 0..self.topology_watchers.len() {
            let w = self.topology_watchers[i];
            self.wake(w);
        }
    }

    // ----- boxes --------------------------------------------------------------------------

    /// Appends to `sink`, a final box, and wakes its owner; hands the message back if the box
    /// is an outbox or full ([`refuse`](World::refuse) says which, and what to do).
    #[inline(always)]
    pub fn try_deliver(&mut self, sink: BoxId, msg: Message) -> Result<(), Message> {
        let at = self.boxes.ptr(sink);
        // SAFETY: the address of a box of this world, just taken.
        unsafe { self.try_deliver_at(at, msg) }
    }

    /// [`try_deliver`](World::try_deliver) to a final box known by its address.
    ///
    /// # Safety
    ///
    /// `sink` is [`Boxes::ptr`] of a live box of this world, taken at the current box epoch
    /// (so the slab has not moved since), and no reference to that box is alive.
    #[inline(always)]
    pub unsafe fn try_deliver_at(
        &mut self,
        sink: *mut PostBox,
        msg: Message,
    ) -> Result<(), Message> {
        // SAFETY: the caller's promise; the box lives in the slab's heap storage, apart from
        // the fields of `self` used below.
        let pb = unsafe { &mut *sink };
        if pb.storage.len() >= pb.cap as usize {
            return Err(msg);
        }
        pb.storage.push_back(msg);
        let owner = pb.owner;
        // A box's owner is always a component of this world: no scheduler check needed, and
        // its slot is in range of `hot`, which grows with the slots and never shrinks.
        debug_assert!((owner.index as usize) < self.hot.len());
        // SAFETY: as just said, `owner.index < hot.len()`.
        let hot = unsafe { self.hot.get_unchecked_mut(owner.index as usize) };
        if stamp_wake(hot, &mut self.wakes, self.cycle, owner) {
            // The owner will run soon: ask for its paused body now, so that fetching it from
            // memory overlaps the rest of this cycle instead of stalling its next run.
            prefetch(hot.body_at, hot.body_len);
        }
        Ok(())
    }

    /// [`try_deliver`](World::try_deliver), with the error for a refused message.
    #[inline(always)]
    pub fn deliver_to_sink(&mut self, sink: BoxId, msg: Message) -> Result<(), SendError> {
        match self.try_deliver(sink, msg) {
            Ok(()) => Ok(()),
            Err(m) => self.refuse(sink, m),
        }
    }

    /// The slow path of a delivery: the chain ends at an outbox (drop, as Kamaelia does), or
    /// the final inbox is full (hand the message back).
    #[cold]
    #[inline(never)]
    pub fn refuse(&mut self, sink: BoxId, msg: Message) -> Result<(), SendError> {
        let pb = self.boxes.get(sink);
        let owner = pb.owner;
        if pb.kind == BoxKind::Outbox {
            log::debug!(
                "{}: a {} sent to an unlinked outbox was dropped",
                self.name_of(owner),
                msg.type_name()
            );
            return Ok(());
        }
        Err(SendError::NoSpaceInBox(NoSpaceInBox {
            component: self.name_of(owner),
            inbox: self
                .comp(owner)
                .map(|c| c.box_name(BoxKind::Inbox, sink))
                .unwrap_or_default(),
            size: pb.cap as usize,
            message: msg,
        }))
    }

    /// Pops from a final box known by its address, and queues wakes for the owners of every
    /// outbox upstream (once per collection stamp: several items collected in one cycle wake
    /// them once).
    ///
    /// # Safety
    ///
    /// As for [`try_deliver_at`](World::try_deliver_at).
    #[inline(always)]
    pub unsafe fn collect_at(&mut self, sink: *mut PostBox) -> Option<Message> {
        // SAFETY: the caller's promise, as in `try_deliver_at`.
        let pb = unsafe { &mut *sink };
        if pb.storage.is_empty() {
            return None;
        }
        // The bookkeeping comes before the pop, so that no call that could unwind happens
        // while the message is held (which would keep it in memory for the unwinding path).
        if pb.woke_at != self.pop_stamp {
            self.queue_upstream_wakes(pb);
        }
        pb.storage.pop_front()
    }

    /// The first collection from `pb` under this stamp: queues wakes for the owners of every
    /// outbox upstream of it. Out of line, so that the collections after it, in the same
    /// cycle, stay short.
    #[inline(never)]
    fn queue_upstream_wakes(&mut self, pb: &mut PostBox) {
        pb.woke_at = self.pop_stamp;
        match pb.upstream {
            Upstream::None => {}
            // The usual case, kept apart so that the box's second line is not read.
            Upstream::One => wake_in(
                &mut self.hot,
                &mut self.wakes,
                self.sched,
                self.cycle,
                pb.first_upstream,
            ),
            Upstream::Many => {
                for o in pb.upstream_owners() {
                    wake_in(&mut self.hot, &mut self.wakes, self.sched, self.cycle, o);
                }
            }
        }
    }

    pub fn box_of(&self, c: ComponentId, kind: BoxKind, name: &str) -> Result<BoxId, Error> {
        Ok(self.live_comp(c)?.box_id(kind, name)?)
    }

    // ----- linkages -----------------------------------------------------------------------

    pub fn link(
        &mut self,
        owner: ComponentId,
        source: (ComponentId, &str),
        sink: (ComponentId, &str),
        passthrough: Passthrough,
        pipewidth: Option<usize>,
    ) -> Result<Linkage, Error> {
        let (src_kind, dst_kind) = passthrough.box_kinds();
        self.next_pop_stamp();
        let sb = self.box_of(source.0, src_kind, source.1)?;
        let db = self.box_of(sink.0, dst_kind, sink.1)?;
        match self.boxes.add_source(db, sb) {
            Ok(moved) => {
                if let Some(s) = moved {
                    let o = self.boxes.get(s).owner;
                    self.wake(o);
                }
            }
            Err(AddSourceError::AlreadyLinked { existing }) => {
                return Err(Error::BoxAlreadyLinkedToDestination {
                    source: format!("{}.{}", self.name_of(source.0), source.1),
                    existing: self.describe_box(existing),
                    requested: format!("{}.{}", self.name_of(sink.0), sink.1),
                })
            }
            Err(AddSourceError::Cycle) => {
                return Err(Error::BoxAlreadyLinkedToDestination {
                    source: format!("{}.{}", self.name_of(source.0), source.1),
                    existing: "a chain that leads back to it (a linkage cycle)".into(),
                    requested: format!("{}.{}", self.name_of(sink.0), sink.1),
                })
            }
        }
        if let Some(w) = pipewidth {
            // Kamaelia sets the size of the linkage's own sink box (A5.7); it limits sends only
            // while that box is the end of its chain (A5.6).
            self.boxes.get_mut(db).set_limit(Some(w));
        }
        let data = LinkData {
            owner,
            source: source.0,
            source_box: sb,
            sink: sink.0,
            sink_box: db,
            passthrough,
        };
        let index = match self.free_links.pop() {
            Some(i) => i,
            None => {
                self.links.push((0, None));
                (self.links.len() - 1) as u32
            }
        };
        let gen = self.links[index as usize].0;
        self.links[index as usize].1 = Some(data);
        self.box_links.entry(sb).or_default().push_new(index);
        if db != sb {
            self.box_links.entry(db).or_default().push_new(index);
        }
        for c in [source.0, sink.0] {
            if let Some(comp) = self.comp_mut(c) {
                comp.link_refs += 1;
            }
        }
        if let Some(o) = self.comp_mut(owner) {
            o.linkages.push_new(index);
        }
        self.topology_changed();
        Ok(Linkage {
            sched: self.sched,
            index,
            gen,
            source: source.0,
            source_box: source.1.to_string(),
            sink: sink.0,
            sink_box: sink.1.to_string(),
            passthrough,
            source_name: self.name_of(source.0),
            sink_name: self.name_of(sink.0),
        })
    }

    fn describe_box(&self, b: BoxId) -> String {
        let pb = self.boxes.get(b);
        let name = self
            .comp(pb.owner)
            .map(|c| c.box_name(pb.kind, b))
            .unwrap_or_default();
        format!("{}.{}", self.name_of(pb.owner), name)
    }

    /// True if the linkage is still in place.
    pub fn is_linked(&self, l: &Linkage) -> bool {
        l.sched == self.sched
            && matches!(self.links.get(l.index as usize), Some((g, Some(_))) if *g == l.gen)
    }

    /// Removes a linkage that `by` made (Kamaelia's `unlink(thelinkage=L)` through `by`'s
    /// postoffice). Returns false, changing nothing, if it is gone or someone else made it.
    pub fn unlink(&mut self, by: ComponentId, l: &Linkage) -> bool {
        if !self.is_linked(l) {
            return false;
        }
        let owner = self.links[l.index as usize].1.as_ref().map(|d| d.owner);
        if owner != Some(by) {
            return false;
        }
        if let Some(o) = self.comp_mut(by) {
            o.linkages.remove(&l.index);
        }
        self.unlink_index(l.index);
        true
    }

    /// Removes every linkage `owner` made that has `c` as source or sink.
    pub fn unlink_component(&mut self, owner: ComponentId, c: ComponentId) {
        let Some(comp) = self.comp(c) else { return };
        let made_by = |i: u32| {
            self.links[i as usize]
                .1
                .as_ref()
                .filter(|d| d.owner == owner)
        };
        // Found from the smaller side: through `c`'s own boxes (a server that made thousands
        // of linkages pays for the few of this child, not for all of its own), or through the
        // linkages `owner` made, all in its list (a child linked to a server with thousands
        // of boxes and linkages pays for its own few).
        let through_c = comp.inboxes.len() + comp.outboxes.len() + comp.link_refs as usize;
        let mut mine: Vec<u32> = match self.comp(owner) {
            Some(o) if o.linkages.len() < through_c => o
                .linkages
                .iter()
                .filter(|&i| made_by(i).is_some_and(|d| d.source == c || d.sink == c))
                .collect(),
            _ => comp
                .boxes(BoxKind::Inbox)
                .chain(comp.boxes(BoxKind::Outbox))
                .filter_map(|(_, b)| self.box_links.get(&b))
                .flat_map(OrderedSet::iter)
                .filter(|&i| made_by(i).is_some())
                .collect(),
        };
        mine.sort_unstable();
        mine.dedup();
        self.unlink_indices(&mine);
    }

    /// Removes every linkage that touches box `b` of component `c`, whoever made it.
    pub fn unlink_box(&mut self, b: BoxId) {
        let touching = self
            .box_links
            .get(&b)
            .map(OrderedSet::to_vec)
            .unwrap_or_default();
        self.unlink_indices(&touching);
    }

    /// Removes these linkages, each from its maker's list too.
    fn unlink_indices(&mut self, indices: &[u32]) {
        for &i in indices {
            let Some(owner) = self.links[i as usize].1.as_ref().map(|d| d.owner) else {
                continue;
            };
            if let Some(o) = self.comp_mut(owner) {
                o.linkages.remove(&i);
            }
            self.unlink_index(i);
        }
    }

    fn unlink_index(&mut self, index: u32) {
        self.next_pop_stamp();
        let entry = &mut self.links[index as usize];
        let Some(d) = entry.1.take() else { return };
        entry.0 = entry.0.wrapping_add(1);
        self.free_links.push(index);
        for b in [d.source_box, d.sink_box] {
            if let Some(list) = self.box_links.get_mut(&b) {
                list.remove(&index);
                if list.is_empty() {
                    self.box_links.remove(&b);
                }
            }
        }
        self.boxes.remove_source(d.sink_box, d.source_box);
        for c in [d.source, d.sink] {
            if let Some(comp) = self.comp_mut(c) {
                comp.link_refs -= 1;
            }
        }
        self.topology_changed();
        self.free_if_unreferenced(d.source);
        if d.sink != d.source {
            self.free_if_unreferenced(d.sink);
        }
    }

    pub fn linkages_made_by(&self, c: ComponentId) -> Vec<Linkage> {
        let Some(comp) = self.comp(c) else {
            return vec![];
        };
        comp.linkages
            .iter()
            .filter_map(|i| self.linkage_at(i))
            .collect()
    }

    pub fn all_linkages(&self) -> Vec<Linkage> {
        (0..self.links.len() as u32)
            .filter_map(|i| self.linkage_at(i))
            .collect()
    }

    fn linkage_at(&self, i: u32) -> Option<Linkage> {
        let (gen, d) = &self.links[i as usize];
        let d = d.as_ref()?;
        let (sk, dk) = d.passthrough.box_kinds();
        let src = self.comp(d.source)?;
        let dst = self.comp(d.sink)?;
        Some(Linkage {
            sched: self.sched,
            index: i,
            gen: *gen,
            source: d.source,
            source_box: src.box_name(sk, d.source_box),
            sink: d.sink,
            sink_box: dst.box_name(dk, d.sink_box),
            passthrough: d.passthrough,
            source_name: src.name(),
            sink_name: dst.name(),
        })
    }

    /// Every component that is not freed, in slot order.
    pub fn components(&self) -> impl Iterator<Item = (ComponentId, &Comp, State)> + '_ {
        let sched = self.sched;
        let cycle = self.cycle;
        self.slots
            .iter()
            .zip(&self.hot)
            .enumerate()
            .filter_map(move |(i, (s, h))| {
                s.as_ref().map(|c| {
                    (
                        ComponentId {
                            sched,
                            index: i as u32,
                            gen: h.gen,
                        },
                        c,
                        h.state(cycle),
                    )
                })
            })
    }

    /// Deletes a dynamic box: unlinks whatever touches it and returns what it held.
    pub fn delete_box(
        &mut self,
        c: ComponentId,
        kind: BoxKind,
        name: &str,
    ) -> Result<Vec<Message>, Error> {
        let b = self.box_of(c, kind, name)?;
        self.next_pop_stamp();
        self.unlink_box(b);
        self.comp_mut(c)
            .expect("checked by box_of")
            .forget_box(kind, b);
        self.topology_changed();
        Ok(self.boxes.remove(b))
    }

    /// Adds a box named `base`, or `base<n>` with a fresh number if `base` is taken.
    pub fn add_box(&mut self, c: ComponentId, kind: BoxKind, base: &str) -> Result<String, Error> {
        let comp = self.live_comp(c)?;
        let mut name = base.to_string();
        while comp.find(kind, &name).is_some() {
            name = format!("{base}{}", crate::ids::next_id());
        }
        let b = self.boxes.insert(c, kind);
        self.comp_mut(c)
            .expect("checked above")
            .add_box(kind, b, name.clone());
        self.topology_changed();
        Ok(name)
    }
}

/// Asks the processor to bring the `len` bytes at `at` into its caches (a hint: no fault).
#[inline(always)]
fn prefetch(at: usize, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let mut a = at & !63;
        // At most eight lines: a body bigger than that is fetched in part.
        let end = at.wrapping_add(len.min(512));
        while a < end {
            // SAFETY: a prefetch is a hint; it never faults, whatever the address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    a as *const i8,
                )
            };
            a += 64;
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = (at, len);
}

/// Wakes `c` in cycle `cycle`, unless it was woken in it already: stamps it, and lists it
/// for the end of the cycle if it is not in the run queue (split out so that callers holding
/// a borrow of a box can still wake).
#[inline(always)]
fn wake_in(hot: &mut [Hot], wakes: &mut Vec<ComponentId>, sched: u32, cycle: u32, c: ComponentId) {
    if c.sched != sched {
        return;
    }
    if let Some(h) = hot.get_mut(c.index as usize) {
        // A wake for a component that has ended and whose slot was reused is not the
        // newcomer's.
        if h.used && h.gen == c.gen {
            stamp_wake(h, wakes, cycle, c);
        }
    }
}

/// Stamps a wake of `c`, whose entry is `h`, in cycle `cycle`: cancels a pause of the same
/// cycle, and lists `c` for the end of the cycle if it is not in the run queue. False if it
/// was woken in this cycle already (nothing to do).
#[inline(always)]
fn stamp_wake(h: &mut Hot, wakes: &mut Vec<ComponentId>, cycle: u32, c: ComponentId) -> bool {
    if h.woken_at == cycle {
        return false;
    }
    h.woken_at = cycle;
    if h.paused_at == cycle {
        h.paused_at = 0;
    }
    if h.stored != State::Active {
        wakes.push(c);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{DEFAULT_INBOXES, DEFAULT_OUTBOXES};

    fn component(w: &mut World, label: &'static str) -> ComponentId {
        w.insert(
            label.into(),
            DEFAULT_INBOXES.into(),
            DEFAULT_OUTBOXES.into(),
            None,
        )
    }

    /// Links `from`'s outbox to `to`'s inbox and fills that inbox with `n` messages; the wakes
    /// of the deliveries are settled, so that only collections queue wakes afterwards.
    fn feed(w: &mut World, from: ComponentId, to: ComponentId, n: usize) -> (Linkage, BoxId) {
        let l = w
            .link(
                from,
                (from, "outbox"),
                (to, "inbox"),
                Passthrough::Normal,
                None,
            )
            .unwrap();
        let inbox = w.box_of(to, BoxKind::Inbox, "inbox").unwrap();
        for i in 0..n {
            assert!(w.try_deliver(inbox, Message::new(i)).is_ok());
        }
        next_cycle(w);
        (l, inbox)
    }

    fn collect(w: &mut World, inbox: BoxId) -> Option<Message> {
        let at = w.boxes.ptr(inbox);
        // SAFETY: the address was taken just now, with no change to the boxes since.
        unsafe { w.collect_at(at) }
    }

    /// What the scheduler does between two cycles.
    fn next_cycle(w: &mut World) {
        w.settle();
        w.end_cycle();
    }

    /// A component made, activated and in the run queue.
    fn active(w: &mut World, label: &'static str) -> ComponentId {
        let c = component(w, label);
        w.activate(c).unwrap();
        next_cycle(w);
        assert_eq!(w.state(c), Some(State::Active));
        assert_eq!(w.run_next, [c]);
        w.run_next.clear();
        c
    }

    fn queued(w: &World, c: ComponentId) -> usize {
        w.wakes.iter().filter(|&&x| x == c).count()
    }

    #[test]
    fn collecting_queues_the_producer_once_and_again_after_the_cycle() {
        let mut w = World::new(u32::MAX - 1);
        let (a, b) = (component(&mut w, "A"), component(&mut w, "B"));
        let (_, inbox) = feed(&mut w, a, b, 3);
        assert!(collect(&mut w, inbox).is_some());
        assert!(collect(&mut w, inbox).is_some());
        assert_eq!((queued(&w, a), queued(&w, b)), (1, 0));
        next_cycle(&mut w);
        assert_eq!(queued(&w, a), 0);
        assert!(collect(&mut w, inbox).is_some());
        assert_eq!(
            queued(&w, a),
            1,
            "a collection in a later cycle wakes again"
        );
        assert!(collect(&mut w, inbox).is_none());
    }

    #[test]
    fn a_collection_after_a_relink_in_the_same_cycle_queues_the_new_producer() {
        let mut w = World::new(u32::MAX - 2);
        let (a, b, c) = (
            component(&mut w, "A"),
            component(&mut w, "B"),
            component(&mut w, "C"),
        );
        let (l, inbox) = feed(&mut w, a, b, 2);
        assert!(collect(&mut w, inbox).is_some());
        assert!(w.unlink(a, &l));
        w.link(c, (c, "outbox"), (b, "inbox"), Passthrough::Normal, None)
            .unwrap();
        assert!(collect(&mut w, inbox).is_some());
        assert_eq!((queued(&w, a), queued(&w, c)), (1, 1));
    }

    #[test]
    fn stamps_that_come_round_again_do_not_swallow_a_wake() {
        let mut w = World::new(u32::MAX - 3);
        let (a, b) = (component(&mut w, "A"), component(&mut w, "B"));
        let (_, inbox) = feed(&mut w, a, b, 1);
        // The box queued its wakes under stamp 1, 2^32 - 1 stamps ago.
        w.boxes.get_mut(inbox).woke_at = 1;
        w.pop_stamp = u32::MAX;
        w.settle();
        assert_eq!(w.pop_stamp, 1);
        assert!(collect(&mut w, inbox).is_some());
        assert_eq!(queued(&w, a), 1);
    }

    #[test]
    fn a_pause_takes_effect_at_the_end_of_its_cycle_unless_a_wake_of_that_cycle_cancels_it() {
        let mut w = World::new(u32::MAX - 4);
        let c = active(&mut w, "C");
        // Paused, then woken, in one cycle: it stays awake.
        w.pause(c);
        w.wake(c);
        next_cycle(&mut w);
        assert_eq!(w.state(c), Some(State::Active));
        assert!(w.start_turn(c).is_some());
        // Woken, then paused: the same.
        w.wake(c);
        w.pause(c);
        next_cycle(&mut w);
        assert!(w.start_turn(c).is_some());
        // Paused alone: going to sleep, and asleep when next reached.
        w.pause(c);
        assert_eq!(w.state(c), Some(State::Active), "not before the cycle ends");
        next_cycle(&mut w);
        assert_eq!(w.state(c), Some(State::GoingToSleep));
        assert!(w.start_turn(c).is_none());
        assert_eq!(w.state(c), Some(State::Sleeping));
        assert_eq!(queued(&w, c), 0);
        // A wake brings it back into the run queue when the cycle settles.
        w.wake(c);
        assert_eq!(queued(&w, c), 1);
        next_cycle(&mut w);
        assert_eq!(w.run_next, [c]);
        assert_eq!(w.state(c), Some(State::Active));
    }

    #[test]
    fn a_wake_before_a_sleeper_is_reached_brings_it_back_next_cycle() {
        let mut w = World::new(u32::MAX - 5);
        let c = active(&mut w, "C");
        w.pause(c);
        next_cycle(&mut w);
        // Woken in the next cycle before the queue reaches it: it goes to sleep, is listed,
        // and joins the queue when this cycle settles.
        w.wake(c);
        assert_eq!(queued(&w, c), 0, "in the queue: no listing needed yet");
        assert!(w.start_turn(c).is_none());
        assert_eq!(queued(&w, c), 1);
        next_cycle(&mut w);
        assert_eq!(w.run_next, [c]);
        assert!(w.start_turn(c).is_some());
    }

    #[test]
    fn cycles_that_come_round_again_keep_the_last_cycles_stamps_and_forget_older_ones() {
        let mut w = World::new(u32::MAX - 6);
        let (c, d) = (active(&mut w, "C"), active(&mut w, "D"));
        w.cycle = u32::MAX - 1;
        w.pause(d);
        w.wake(d);
        w.end_cycle();
        assert_eq!(w.cycle, u32::MAX);
        w.pause(c);
        w.end_cycle();
        assert_eq!(w.cycle, 2);
        // C's pause was in the cycle just ended: it is going to sleep.
        assert_eq!(w.state(c), Some(State::GoingToSleep));
        // D's stamps were older: forgotten, so that no later cycle takes them for its own.
        assert_eq!(
            (
                w.hot[d.index as usize].woken_at,
                w.hot[d.index as usize].paused_at
            ),
            (0, 0)
        );
        assert_eq!(w.state(d), Some(State::Active));
    }

    #[test]
    fn a_pause_cancelled_in_its_cycle_stays_cancelled_after_a_wake_in_the_next() {
        let mut w = World::new(u32::MAX - 7);
        let c = active(&mut w, "C");
        // A producer ahead of it in the queue wakes it every cycle, and it pauses every
        // cycle after taking what came: it must never go to sleep.
        for _ in 0..3 {
            w.wake(c);
            assert!(w.start_turn(c).is_some());
            w.pause(c);
            next_cycle(&mut w);
        }
        assert_eq!(w.state(c), Some(State::Active));
    }

    /// The index of linkages by box agrees with the linkages themselves.
    fn assert_box_links_consistent(w: &World) {
        let mut by_scan: HashMap<BoxId, Vec<u32>> = HashMap::new();
        for (i, (_, d)) in w.links.iter().enumerate() {
            if let Some(d) = d {
                for b in [d.source_box, d.sink_box] {
                    by_scan.entry(b).or_default().push(i as u32);
                }
            }
        }
        let mut kept: HashMap<BoxId, Vec<u32>> = w
            .box_links
            .iter()
            .map(|(&b, list)| (b, list.to_vec()))
            .collect();
        for list in kept.values_mut().chain(by_scan.values_mut()) {
            list.sort_unstable();
        }
        assert_eq!(kept, by_scan);
    }

    #[test]
    fn removing_a_child_or_a_box_takes_exactly_its_linkages() {
        // A server's shape: one parent, many children, each linked both ways through boxes
        // the parent adds per child; children and boxes then go in a shuffled order.
        let mut w = World::new(1);
        let parent = component(&mut w, "Server");
        let other = component(&mut w, "Other");
        let mut kids = Vec::new();
        for n in 0..200 {
            let kid = component(&mut w, "Conn");
            let out = w.add_box(parent, BoxKind::Outbox, "toConn").unwrap();
            w.link(
                parent,
                (parent, &out),
                (kid, "control"),
                Passthrough::Normal,
                None,
            )
            .unwrap();
            w.link(
                parent,
                (kid, "signal"),
                (parent, "control"),
                Passthrough::Normal,
                None,
            )
            .unwrap();
            // A linkage to the child that someone else made stays when the parent lets go.
            if n % 10 == 0 {
                w.link(
                    other,
                    (kid, "outbox"),
                    (other, "inbox"),
                    Passthrough::Normal,
                    None,
                )
                .unwrap();
            }
            kids.push((kid, out));
        }
        assert_box_links_consistent(&w);
        let before = w.all_linkages().len();
        assert_eq!(before, 200 * 2 + 20);
        for (n, (kid, out)) in kids.iter().enumerate().rev() {
            if n % 2 == 0 {
                w.unlink_component(parent, *kid);
                assert!(w.delete_box(parent, BoxKind::Outbox, out).is_ok());
            } else {
                assert!(w.delete_box(parent, BoxKind::Outbox, out).is_ok());
                w.unlink_component(parent, *kid);
            }
            assert_box_links_consistent(&w);
        }
        let left = w.all_linkages();
        assert_eq!(left.len(), 20);
        assert!(left.iter().all(|l| l.sink == other));
        assert_eq!(w.linkages_made_by(parent).len(), 0);
    }

    /// A component's index of boxes agrees with its lists: every box is found by its name and
    /// by its place, holes are counted and squeezed out in time.
    fn assert_named_consistent(comp: &Comp) {
        for kind in [BoxKind::Inbox, BoxKind::Outbox] {
            let list = comp.list(kind);
            list.assert_consistent();
            let mut first = HashMap::new();
            for (b, s) in list.iter() {
                assert_eq!(comp.box_name(kind, b), s.name);
                first.entry(s.name.to_string()).or_insert(b);
            }
            let Some(index) = &comp.by_name else {
                continue;
            };
            // The first box of a name is the one found by it.
            assert_eq!(index.names[kind_slot(kind)], first);
        }
    }

    #[test]
    fn unlinking_from_a_hub_takes_exactly_the_linkages_its_maker_made_whichever_side_is_walked() {
        // A hub with many boxes and linkages, and children each linked to it by itself and by
        // the hub: removing a child's linkages to the hub walks the child's own few, and
        // removing the hub's to a child walks the child's boxes; both take exactly those.
        let mut w = World::new(1);
        let hub = component(&mut w, "Hub");
        let other = component(&mut w, "Other");
        // A maker that is not one of this world's components: found only through the boxes.
        let foreign = ComponentId {
            sched: 2,
            index: 0,
            gen: 0,
        };
        let mut kids = Vec::new();
        for n in 0..60 {
            let kid = component(&mut w, "Kid");
            let out = w.add_box(hub, BoxKind::Outbox, "toKid").unwrap();
            let link = |w: &mut World, by, from: (ComponentId, &str), to| {
                w.link(by, from, to, Passthrough::Normal, None).unwrap()
            };
            let hubs = link(&mut w, hub, (hub, &out), (kid, "control"));
            let own = link(&mut w, kid, (kid, "signal"), (hub, "control"));
            let aside = link(&mut w, kid, (kid, "outbox"), (other, "inbox"));
            if n % 3 == 0 {
                let out = w.add_box(hub, BoxKind::Outbox, "fromAfar").unwrap();
                link(&mut w, foreign, (hub, &out), (kid, "inbox"));
            }
            kids.push((kid, hubs, own, aside));
        }
        assert_box_links_consistent(&w);
        let mut left = w.all_linkages().len();
        let mut next = crate::test_rng(0x6a09_e667_f3bc_c909);
        while !kids.is_empty() {
            let (kid, hubs, own, aside) = kids.swap_remove(next(kids.len()));
            // The kid made 2 linkages; the hub has dozens of boxes and linkages.
            w.unlink_component(kid, hub);
            left -= 1;
            assert!(!w.is_linked(&own));
            assert!(w.is_linked(&hubs) && w.is_linked(&aside));
            assert_eq!(w.linkages_made_by(kid), std::slice::from_ref(&aside));
            w.unlink_component(hub, kid);
            left -= 1;
            assert!(!w.is_linked(&hubs) && w.is_linked(&aside));
            assert_eq!(w.all_linkages().len(), left);
            assert_box_links_consistent(&w);
        }
        // The foreign maker's linkage from the hub's outbox is found through the hub's boxes.
        assert!(w.all_linkages().iter().any(|l| l.source == hub));
        w.unlink_component(foreign, hub);
        assert!(w.all_linkages().iter().all(|l| l.sink == other));
        assert_eq!(w.all_linkages().len(), 60);
        assert_box_links_consistent(&w);
    }

    #[test]
    fn a_servers_boxes_and_linkages_agree_with_a_model_through_random_connections() {
        // A server's life, at random: connections come (a child, an outbox the server adds
        // for it, linkages both ways, some made by a bystander or by the child itself) and
        // go (by removing the child's linkages, deleting the boxes, ending the child, or
        // undoing one linkage), in any order. After every step the server's boxes and the
        // linkages each makes are checked, in order, against a model, and every index
        // against a scan of the linkages and boxes themselves.
        struct Conn {
            kid: ComponentId,
            out: String,
            inb: Option<String>,
        }
        let mut w = World::new(1);
        let server = component(&mut w, "Server");
        let other = component(&mut w, "Other");
        let mut next = crate::test_rng(0x853c_49e6_748f_ea9bu64);
        let mut conns: Vec<Conn> = Vec::new();
        // The linkages each component made, in the order made, as the model has them.
        let mut made: HashMap<ComponentId, Vec<Linkage>> = HashMap::new();
        // The server's added boxes, in the order added.
        let mut outs: Vec<String> = Vec::new();
        let mut ins: Vec<String> = Vec::new();
        let touches = |l: &Linkage, c: ComponentId, b: Option<&str>| {
            (l.source == c && b.is_none_or(|b| l.source_box == b))
                || (l.sink == c && b.is_none_or(|b| l.sink_box == b))
        };
        let (mut most, mut ended) = (0, 0);
        for step in 0..2_400 {
            // Turns of mostly connecting and of mostly closing.
            let connect = next(10) < if (step / 600) % 2 == 0 { 7 } else { 3 };
            if connect || conns.is_empty() {
                let kid = component(&mut w, "Conn");
                let out = w.add_box(server, BoxKind::Outbox, "toConn").unwrap();
                outs.push(out.clone());
                let mut link = |w: &mut World, by, from: (ComponentId, &str), to, pt| {
                    let l = w.link(by, from, to, pt, None).unwrap();
                    made.entry(by).or_default().push(l);
                };
                link(
                    &mut w,
                    server,
                    (server, &out),
                    (kid, "control"),
                    Passthrough::Normal,
                );
                link(
                    &mut w,
                    server,
                    (kid, "signal"),
                    (server, "control"),
                    Passthrough::Normal,
                );
                let mut inb = None;
                match next(4) {
                    0 => link(
                        &mut w,
                        other,
                        (kid, "outbox"),
                        (other, "inbox"),
                        Passthrough::Normal,
                    ),
                    1 => link(
                        &mut w,
                        kid,
                        (kid, "outbox"),
                        (other, "control"),
                        Passthrough::Normal,
                    ),
                    2 => {
                        let name = w.add_box(server, BoxKind::Inbox, "fromConn").unwrap();
                        ins.push(name.clone());
                        // An inbox of the server's passed on to the child's (passthrough 1).
                        link(
                            &mut w,
                            server,
                            (server, &name),
                            (kid, "inbox"),
                            Passthrough::Inbound,
                        );
                        inb = Some(name);
                    }
                    _ => {}
                }
                conns.push(Conn { kid, out, inb });
            } else {
                let conn = conns.swap_remove(next(conns.len()));
                // Each way of closing, or several, in a random order.
                let mut ways = [0, 1, 2, 3];
                for i in (1..ways.len()).rev() {
                    ways.swap(i, next(i + 1));
                }
                for way in ways.into_iter().take(1 + next(4)) {
                    match way {
                        0 => {
                            w.unlink_component(server, conn.kid);
                            made.get_mut(&server)
                                .unwrap()
                                .retain(|l| !touches(l, conn.kid, None));
                        }
                        1 => {
                            assert!(w.delete_box(server, BoxKind::Outbox, &conn.out).is_ok());
                            outs.retain(|n| *n != conn.out);
                            if let Some(name) = &conn.inb {
                                assert!(w.delete_box(server, BoxKind::Inbox, name).is_ok());
                                ins.retain(|n| n != name);
                            }
                            for list in made.values_mut() {
                                list.retain(|l| {
                                    !touches(l, server, Some(&conn.out))
                                        && !conn
                                            .inb
                                            .as_deref()
                                            .is_some_and(|n| touches(l, server, Some(n)))
                                });
                            }
                        }
                        2 => {
                            if w.state(conn.kid).is_some_and(|s| s != State::Ended) {
                                w.end(conn.kid, None);
                                made.remove(&conn.kid);
                                ended += 1;
                            }
                        }
                        _ => {
                            // One of the server's linkages to this child, undone alone.
                            let mine = made.get_mut(&server).unwrap();
                            if let Some(i) = mine.iter().position(|l| touches(l, conn.kid, None)) {
                                let l = mine.remove(i);
                                assert!(w.unlink(server, &l));
                                assert!(!w.unlink(server, &l), "undone twice");
                            }
                        }
                    }
                }
                // Whatever is left of this connection goes now, as a server's close does.
                w.unlink_component(server, conn.kid);
                made.get_mut(&server)
                    .unwrap()
                    .retain(|l| !touches(l, conn.kid, None));
                for (kind, name, names) in [
                    (BoxKind::Outbox, Some(&conn.out), &mut outs),
                    (BoxKind::Inbox, conn.inb.as_ref(), &mut ins),
                ] {
                    if let Some(name) = name.filter(|n| names.contains(n)) {
                        assert!(w.delete_box(server, kind, name).is_ok());
                        names.retain(|n| n != name);
                    }
                }
                if w.state(conn.kid).is_some_and(|s| s != State::Ended) {
                    w.end(conn.kid, None);
                    made.remove(&conn.kid);
                }
                // Other's linkage keeps the ended child until Other lets go of it.
                if next(2) == 0 {
                    w.unlink_component(other, conn.kid);
                    if let Some(list) = made.get_mut(&other) {
                        list.retain(|l| !touches(l, conn.kid, None));
                    }
                }
            }
            most = most.max(conns.len());
            for c in [server, other] {
                let expected = made.get(&c).cloned().unwrap_or_default();
                assert_eq!(w.linkages_made_by(c), expected, "step {step}");
            }
            let comp = w.comp(server).unwrap();
            let declared = |d: &[BoxSpec]| d.iter().map(|s| s.name.to_string()).collect();
            let mut want: Vec<String> = declared(DEFAULT_OUTBOXES);
            want.extend(outs.iter().cloned());
            assert_eq!(comp.box_names(BoxKind::Outbox), want, "step {step}");
            let mut want: Vec<String> = declared(DEFAULT_INBOXES);
            want.extend(ins.iter().cloned());
            assert_eq!(comp.box_names(BoxKind::Inbox), want, "step {step}");
            assert_named_consistent(comp);
            assert_box_links_consistent(&w);
            let all = w.all_linkages().len();
            assert_eq!(
                all,
                made.values().map(Vec::len).sum::<usize>(),
                "step {step}"
            );
        }
        assert!(most > 100, "at most {most} connections at once");
        assert!(ended > 50, "{ended} children ended first");
        // Everything goes: no linkage is left, nor any child, nor any box index.
        for conn in conns.drain(..) {
            w.unlink_component(server, conn.kid);
            w.end(conn.kid, None);
        }
        for l in made.remove(&other).unwrap_or_default() {
            assert!(w.unlink(other, &l));
        }
        for name in outs.drain(..) {
            assert!(w.delete_box(server, BoxKind::Outbox, &name).is_ok());
        }
        for name in ins.drain(..) {
            assert!(w.delete_box(server, BoxKind::Inbox, &name).is_ok());
        }
        assert!(w.all_linkages().is_empty());
        assert!(w.box_links.is_empty());
        let comp = w.comp(server).unwrap();
        assert_named_consistent(comp);
        assert_eq!(comp.box_names(BoxKind::Outbox), ["outbox", "signal"]);
        assert_eq!(w.components().count(), 2, "every child was freed");
    }

    #[test]
    fn boxes_added_and_deleted_while_running_are_found_by_name() {
        let mut w = World::new(1);
        let c = component(&mut w, "Adaptive");
        let declared = w.box_of(c, BoxKind::Inbox, "inbox").unwrap();
        let names: Vec<String> = (0..100)
            .map(|_| w.add_box(c, BoxKind::Inbox, "inbox").unwrap())
            .collect();
        // The declared box keeps its name; each added one got a fresh one.
        assert_eq!(w.box_of(c, BoxKind::Inbox, "inbox").unwrap(), declared);
        assert!(names.iter().all(|n| n != "inbox" && n.starts_with("inbox")));
        for n in names.iter().step_by(2) {
            assert!(w.delete_box(c, BoxKind::Inbox, n).is_ok());
        }
        for (i, n) in names.iter().enumerate() {
            let found = w.box_of(c, BoxKind::Inbox, n);
            assert_eq!(found.is_ok(), i % 2 == 1, "{n}");
            if let Ok(b) = found {
                assert_eq!(w.comp(c).unwrap().box_name(BoxKind::Inbox, b), *n);
            }
        }
        // An outbox of an inbox's name is another box; the declared outboxes are still there.
        let out = w.add_box(c, BoxKind::Outbox, &names[1]).unwrap();
        assert_eq!(out, names[1]);
        assert!(w.box_of(c, BoxKind::Outbox, "outbox").is_ok());
        assert_ne!(
            w.box_of(c, BoxKind::Outbox, &out).unwrap(),
            w.box_of(c, BoxKind::Inbox, &names[1]).unwrap()
        );
    }

    #[test]
    fn a_name_declared_twice_finds_the_other_box_once_one_is_deleted() {
        static TWICE: &[BoxSpec] = &[BoxSpec::new("a", ""), BoxSpec::new("a", "")];
        let mut w = World::new(1);
        let c = w.insert("D".into(), TWICE.into(), DEFAULT_OUTBOXES.into(), None);
        let (first, second) = {
            let comp = w.comp(c).unwrap();
            let ids: Vec<BoxId> = comp.inboxes.keys().collect();
            (ids[0], ids[1])
        };
        assert_eq!(w.box_of(c, BoxKind::Inbox, "a").unwrap(), first);
        // Adding a box starts the index by name; deleting "a" deletes the first one.
        w.add_box(c, BoxKind::Inbox, "b").unwrap();
        w.delete_box(c, BoxKind::Inbox, "a").unwrap();
        assert_eq!(w.box_of(c, BoxKind::Inbox, "a").unwrap(), second);
        w.delete_box(c, BoxKind::Inbox, "a").unwrap();
        assert!(w.box_of(c, BoxKind::Inbox, "a").is_err());
    }
}
