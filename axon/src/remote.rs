//! The one door into a scheduler from other threads: wake a component, or run a closure on the
//! scheduler's thread. Threads, wakers, handles and foreign futures all come through it. A
//! scheduler with every component paused blocks (never spins): on the door itself, or, once
//! the scheduler has a selector, in the selector's `epoll_wait`, and then a message through
//! the door also rouses the selector (see [`Remote::send`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::task::{RawWaker, RawWakerVTable, Waker};

use crossbeam_channel::{Receiver, Sender};

use crate::ids::ComponentId;
use crate::scheduler::Core;

#[cfg(not(target_pointer_width = "64"))]
compile_error!("axon packs component ids into waker pointers and needs a 64-bit target");

/// Work sent to run on a scheduler's thread.
pub(crate) type RemoteCall = Box<dyn FnOnce(&std::rc::Rc<Core>) + Send>;

/// Something sent to a scheduler from outside its thread.
pub(crate) enum RemoteMsg {
    /// Wake the component with this slot index whose generation ends in these 16 bits.
    Wake { index: u32, gen16: u16 },
    /// Run this on the scheduler's thread.
    Call(RemoteCall),
}

/// A scheduler's remote door. Cloneable across threads as an `Arc`.
pub(crate) struct Remote {
    pub tx: Sender<RemoteMsg>,
    pub rx: Receiver<RemoteMsg>,
    /// How many things outside the scheduler's thread may still wake it: live threads of
    /// threaded components, handles, wakers held by foreign futures, I/O registrations.
    /// While this is zero and no timer is set, a scheduler with every component paused
    /// returns instead of blocking for ever.
    pub external: AtomicUsize,
    /// How many parties may still hand this scheduler new components ([`Background`]): while
    /// non-zero, a scheduler with no component left waits instead of returning.
    ///
    /// [`Background`]: crate::Background
    pub keep_alive: AtomicUsize,
    pub stop: AtomicBool,
    pub slot: u16,
    /// The scheduler's selector, once it has one: the scheduler then sleeps in its poll, and
    /// a message through the door must rouse it.
    pub selector: OnceLock<Arc<crate::internet::selector::Poller>>,
}

static TABLE: RwLock<Vec<Option<Weak<Remote>>>> = RwLock::new(Vec::new());

impl Remote {
    pub fn new() -> Arc<Remote> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut table = TABLE.write().unwrap_or_else(|e| e.into_inner());
        let slot = match table
            .iter()
            .position(|w| w.as_ref().is_none_or(|w| w.strong_count() == 0))
        {
            Some(i) => i,
            None => {
                table.push(None);
                table.len() - 1
            }
        };
        assert!(slot < u16::MAX as usize, "more than 65535 live schedulers");
        let remote = Arc::new(Remote {
            tx,
            rx,
            external: AtomicUsize::new(0),
            keep_alive: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            slot: slot as u16,
            selector: OnceLock::new(),
        });
        table[slot] = Some(Arc::downgrade(&remote));
        remote
    }

    /// Puts `msg` through the door. If the scheduler sleeps in its selector's poll, rouses it
    /// (only the first sender after it fell asleep pays for that; see `Poller::rouse`).
    pub fn send(&self, msg: RemoteMsg) -> bool {
        let sent = self.tx.send(msg).is_ok();
        if let Some(selector) = self.selector.get() {
            selector.rouse();
        }
        sent
    }

    /// Wakes component `c` from any thread.
    pub fn wake(&self, c: ComponentId) {
        self.send(RemoteMsg::Wake {
            index: c.index,
            gen16: c.gen as u16,
        });
    }

    /// Makes a waiting scheduler look again at its counters.
    pub fn nudge(&self) {
        self.send(RemoteMsg::Wake {
            index: u32::MAX,
            gen16: 0,
        });
    }

    /// Runs `f` on the scheduler's thread at its next cycle.
    pub fn call(&self, f: impl FnOnce(&std::rc::Rc<Core>) + Send + 'static) -> bool {
        self.send(RemoteMsg::Call(Box::new(f)))
    }

    /// Counts one more outside party that may wake the scheduler; dropping the guard
    /// uncounts it and nudges the scheduler so that it can notice.
    pub fn hold(self: &Arc<Remote>) -> ExternalHold {
        self.external.fetch_add(1, Ordering::SeqCst);
        ExternalHold(self.clone())
    }
}

/// Keeps a scheduler from concluding that nothing can wake it. See [`Remote::hold`].
pub(crate) struct ExternalHold(pub Arc<Remote>);

impl Drop for ExternalHold {
    fn drop(&mut self) {
        self.0.external.fetch_sub(1, Ordering::SeqCst);
        self.0.nudge();
    }
}

// ----- wakers --------------------------------------------------------------------------
//
// The waker handed to a component's future packs (scheduler slot, component index, low 16
// bits of the generation) into its data pointer, so making one per poll costs nothing. Only
// a foreign future that clones it (to wake us later from elsewhere) reaches the table.

fn pack(slot: u16, c: ComponentId) -> *const () {
    (((slot as usize) << 48) | ((c.index as usize) << 16) | (c.gen as u16 as usize)) as *const ()
}

fn unpack(p: *const ()) -> (u16, u32, u16) {
    let v = p as usize;
    ((v >> 48) as u16, (v >> 16) as u32, v as u16)
}

fn lookup(slot: u16) -> Option<Arc<Remote>> {
    let table = TABLE.read().unwrap_or_else(|e| e.into_inner());
    table.get(slot as usize)?.as_ref()?.upgrade()
}

static VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_waker, wake_by_ref_waker, drop_waker);

unsafe fn clone_waker(p: *const ()) -> RawWaker {
    // A clone may be kept by a foreign future to wake us later: count it as an outside party.
    if let Some(r) = lookup(unpack(p).0) {
        r.external.fetch_add(1, Ordering::SeqCst);
    }
    RawWaker::new(p, &VTABLE)
}

unsafe fn wake_waker(p: *const ()) {
    wake_by_ref_waker(p);
    drop_waker(p);
}

unsafe fn wake_by_ref_waker(p: *const ()) {
    let (slot, index, gen16) = unpack(p);
    if let Some(r) = lookup(slot) {
        r.send(RemoteMsg::Wake { index, gen16 });
    }
}

unsafe fn drop_waker(p: *const ()) {
    if let Some(r) = lookup(unpack(p).0) {
        r.external.fetch_sub(1, Ordering::SeqCst);
        r.nudge();
    }
}

/// The waker for component `c` of the scheduler in table slot `slot`. It must be used by
/// reference only (see [`poll_waker`]); clones of it are counted.
pub(crate) fn poll_waker(slot: u16, c: ComponentId) -> std::mem::ManuallyDrop<Waker> {
    // SAFETY: the vtable functions above uphold the RawWaker contract: the data pointer is a
    // plain integer, never dereferenced, and clone/drop keep the outside-party count balanced.
    // The returned waker is never dropped (ManuallyDrop), matching that it was never counted.
    std::mem::ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(pack(slot, c), &VTABLE)) })
}
