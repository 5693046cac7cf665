//! Driving components from ordinary code: a scheduler on a background thread
//! ([`Background`], Kamaelia's `background`) and a [`Handle`] that puts messages into a
//! component's inboxes and gets them from its outboxes (Kamaelia's `Handle`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::{
    BoxKind, ComponentResult, Error, NoSpaceInBox, NoSuchBox, RecvError, SendError,
};
use crate::ids::{ComponentId, ComponentName};
use crate::message::Message;
use crate::remote::{ExternalHold, Remote};
use crate::scheduler::{RunReport, Scheduler, StopHandle};

/// How many messages a handle holds for the caller per outbox before it stops collecting
/// (the rest wait in the component's boxes), and how many puts it holds before the component
/// has room for them (more is [`NoSpaceInBox`](crate::NoSpaceInBox), see [`Handle::put`]).
pub const HANDLE_QUEUE: usize = 1000;

/// A scheduler running on its own thread, kept alive until [`finish`](Background::finish)
/// or [`stop`](Background::stop) (Kamaelia's `background().start()`).
///
/// Unlike Kamaelia's, any number may run at once.
///
/// ```
/// use axon::{component, Background};
/// use std::time::Duration;
///
/// let bg = Background::start();
/// let reverser = bg
///     .handle(component("Reverser", |ctx| async move {
///         loop {
///             while let Ok(m) = ctx.recv("inbox") {
///                 let s: String = m.downcast()?;
///                 ctx.send(s.chars().rev().collect::<String>(), "outbox")?;
///             }
///             if ctx.data_ready("control") > 0 {
///                 return Ok(());
///             }
///             ctx.pause();
///             ctx.yield_now().await;
///         }
///     }))
///     .unwrap();
/// reverser.put(String::from("hello"), "inbox").unwrap();
/// let back = reverser.get_timeout("outbox", Duration::from_secs(5)).unwrap();
/// assert_eq!(back.downcast::<String>().unwrap(), "olleh");
/// reverser.put(axon::ipc::ShutdownMicroprocess::default(), "control").unwrap();
/// drop(reverser);
/// let report = bg.finish();
/// assert!(report.is_clean(), "{report:?}");
/// ```
pub struct Background {
    remote: Arc<Remote>,
    stop: StopHandle,
    thread: Option<JoinHandle<RunReport>>,
    keep_alive: bool,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Background")
    }
}

impl Background {
    /// Starts a scheduler on a new thread. It waits for work until finished or stopped.
    pub fn start() -> Background {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("axon-background".into())
            .spawn(move || {
                let sched = Scheduler::new();
                let remote = sched.remote();
                remote.keep_alive.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send((remote, sched.stop_handle()));
                sched.run()
            })
            .expect("could not start the background scheduler's thread");
        let (remote, stop) = rx.recv().expect("background scheduler started");
        Background {
            remote,
            stop,
            thread: Some(thread),
            keep_alive: true,
        }
    }

    /// Runs `f` on the background scheduler's thread with the root context, and returns its
    /// result.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Ctx) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let ok = self.remote.call(move |core| {
            let root = core.ctx(core.root);
            let _ = tx.send(f(&root));
        });
        if !ok {
            return Err(Error::SchedulerGone);
        }
        rx.recv().map_err(|_| Error::SchedulerGone)
    }

    /// Makes and activates `c` in the background scheduler, and returns a handle to it. The
    /// handle reaches every box except private ones (names starting with `_`).
    pub fn handle<C: Component>(&self, c: C) -> Result<Handle, Error> {
        let (in_tx, in_rx) = crossbeam_channel::bounded::<(String, Message)>(HANDLE_QUEUE);
        let hold = self.remote.hold();
        let finished = Arc::new(AtomicBool::new(false));
        let fin = finished.clone();
        let (proxy, name, inboxes, outputs) = self.call(move |root| {
            let child = root.create(c);
            let child_ctx = root.core().ctx(child);
            // Boxes whose names start with "_" are the component's own business (Kamaelia's
            // convention): the handle neither feeds nor reads them.
            let public = |names: Vec<String>| -> Vec<String> {
                names.into_iter().filter(|n| !n.starts_with('_')).collect()
            };
            let inboxes = public(child_ctx.inboxes());
            let outboxes = public(child_ctx.outboxes());
            let mut out_txs = BTreeMap::new();
            let mut out_rxs = BTreeMap::new();
            for name in &outboxes {
                let (tx, rx) = crossbeam_channel::bounded(HANDLE_QUEUE);
                out_txs.insert(name.clone(), tx);
                out_rxs.insert(name.clone(), rx);
            }
            let proxy = root.create(HandleProxy {
                child,
                label: format!("Handle[{}]", child_ctx.name()),
                inboxes: outboxes
                    .iter()
                    .map(|n| BoxSpec::owned(n.clone(), ""))
                    .collect(),
                outboxes: inboxes
                    .iter()
                    .map(|n| BoxSpec::owned(n.clone(), ""))
                    .collect(),
                input: in_rx,
                outputs: out_txs,
                finished: fin,
            });
            let pctx = root.core().ctx(proxy);
            for name in &inboxes {
                pctx.link((proxy, name), (child, name))?;
            }
            for name in &outboxes {
                pctx.link((child, name), (proxy, name))?;
            }
            pctx.add_children(&[child])?;
            root.activate(child)?;
            root.activate(proxy)?;
            Ok::<_, Error>((proxy, child_ctx.component_name(), inboxes, out_rxs))
        })??;
        Ok(Handle {
            remote: self.remote.clone(),
            proxy,
            name,
            inboxes,
            input: in_tx,
            outputs,
            finished,
            _hold: hold,
        })
    }

    /// Lets the scheduler end once its components have, waits for that, and returns its
    /// report.
    pub fn finish(mut self) -> RunReport {
        self.release();
        self.join()
    }

    /// Stops the scheduler at once (components are dropped) and returns its report.
    pub fn stop(mut self) -> RunReport {
        self.release();
        self.stop.stop();
        self.join()
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.keep_alive) {
            self.remote.keep_alive.fetch_sub(1, Ordering::SeqCst);
            self.remote.nudge();
        }
    }

    fn join(&mut self) -> RunReport {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(report)) => report,
            Some(Err(_)) => RunReport {
                failures: vec![crate::Failure {
                    component: "background scheduler".into(),
                    error: "its thread panicked".into(),
                }],
                ..RunReport::default()
            },
            None => RunReport::default(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.release();
            self.stop.stop();
            let _ = self.join();
        }
    }
}

/// Puts messages into a component's inboxes and gets them from its outboxes, from any thread
/// (Kamaelia's `Handle`). Made by [`Background::handle`].
pub struct Handle {
    remote: Arc<Remote>,
    proxy: ComponentId,
    /// The handled component's name.
    name: ComponentName,
    inboxes: Vec<String>,
    input: Sender<(String, Message)>,
    outputs: BTreeMap<String, Receiver<Message>>,
    finished: Arc<AtomicBool>,
    _hold: ExternalHold,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handle({:?})", self.proxy)
    }
}

impl Handle {
    /// Puts `msg` into the component's `inbox`. Never blocks.
    ///
    /// Messages put wait in the handle, in order, until the component's inbox has room (an
    /// inbox without a size limit always has). When [`HANDLE_QUEUE`] of them wait, `put` is
    /// [`SendError::NoSpaceInBox`] and hands the message back, so that a caller faster than
    /// the component cannot fill memory; [`put_timeout`](Handle::put_timeout) waits for room
    /// instead. (Kamaelia's `Handle.put` queues without limit.)
    ///
    /// ```
    /// use axon::{component, Background, SendError, HANDLE_QUEUE};
    ///
    /// let bg = Background::start();
    /// // A component that never reads its inbox, which holds one message.
    /// let stuck = bg
    ///     .handle(component("Stuck", |ctx| async move {
    ///         ctx.set_inbox_size("inbox", Some(1))?;
    ///         while ctx.data_ready("control") == 0 {
    ///             ctx.pause();
    ///             ctx.yield_now().await;
    ///         }
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    /// // The inbox's one place, the message the proxy holds for it, and the handle's queue.
    /// let mut refused = None;
    /// for i in 0..=HANDLE_QUEUE + 2 {
    ///     if let Err(e) = stuck.put(i, "inbox") {
    ///         refused = Some(e);
    ///         break;
    ///     }
    /// }
    /// match refused {
    ///     Some(SendError::NoSpaceInBox(full)) => {
    ///         assert_eq!(full.size, HANDLE_QUEUE);
    ///         assert!(full.into_message().downcast::<usize>().is_ok());
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// // A shutdown put to "control" would wait behind the puts to "inbox": stop instead.
    /// drop(stuck);
    /// bg.stop();
    /// ```
    pub fn put<T: Send + 'static>(&self, msg: T, inbox: &str) -> Result<(), SendError> {
        let m = self.checked(Message::new(msg), inbox)?;
        let sent = self.input.try_send((inbox.to_string(), m));
        self.after_put(
            inbox,
            sent.map_err(|e| match e {
                TrySendError::Full(x) => (true, x.1),
                TrySendError::Disconnected(x) => (false, x.1),
            }),
        )
    }

    /// [`put`](Handle::put), waiting up to `timeout` for room when [`HANDLE_QUEUE`] messages
    /// already wait; still [`SendError::NoSpaceInBox`] (with the message) after that.
    ///
    /// Waits on the background scheduler's progress: called from that scheduler's own thread
    /// (inside [`Background::call`] or a component of it), it always waits the whole
    /// `timeout` when the queue is full, since the component cannot run meanwhile.
    pub fn put_timeout<T: Send + 'static>(
        &self,
        msg: T,
        inbox: &str,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let m = self.checked(Message::new(msg), inbox)?;
        let sent = self.input.send_timeout((inbox.to_string(), m), timeout);
        self.after_put(
            inbox,
            sent.map_err(|e| match e {
                SendTimeoutError::Timeout(x) => (true, x.1),
                SendTimeoutError::Disconnected(x) => (false, x.1),
            }),
        )
    }

    /// `m` back in the error if `inbox` is not one of the component's public inboxes.
    fn checked(&self, m: Message, inbox: &str) -> Result<Message, SendError> {
        if self.inboxes.iter().any(|n| n == inbox) {
            return Ok(m);
        }
        Err(SendError::NoSuchBox(
            NoSuchBox {
                component: self.name.to_string(),
                kind: BoxKind::Inbox,
                name: inbox.to_string(),
                existing: self.inboxes.clone(),
            },
            m,
        ))
    }

    /// Wakes the proxy after a put, or makes the error of a refused one: `(true, m)` for a
    /// full queue, `(false, m)` for a component that has ended.
    fn after_put(&self, inbox: &str, sent: Result<(), (bool, Message)>) -> Result<(), SendError> {
        match sent {
            Ok(()) => {
                self.remote.wake(self.proxy);
                Ok(())
            }
            Err((true, message)) => Err(SendError::NoSpaceInBox(NoSpaceInBox {
                component: self.name.to_string(),
                inbox: inbox.to_string(),
                size: HANDLE_QUEUE,
                message,
            })),
            Err((false, message)) => Err(SendError::NoSuchBox(
                NoSuchBox {
                    component: format!("{} (ended)", self.name),
                    kind: BoxKind::Inbox,
                    name: inbox.to_string(),
                    existing: Vec::new(),
                },
                message,
            )),
        }
    }

    fn output(&self, outbox: &str) -> Result<&Receiver<Message>, RecvError> {
        self.outputs.get(outbox).ok_or_else(|| {
            RecvError::NoSuchBox(NoSuchBox {
                component: self.name.to_string(),
                kind: BoxKind::Outbox,
                name: outbox.to_string(),
                existing: self.outputs.keys().cloned().collect(),
            })
        })
    }

    fn empty(&self, outbox: &str) -> RecvError {
        RecvError::Empty {
            component: self.name.clone(),
            inbox: crate::ctx::box_name_cow(BoxKind::Outbox, outbox),
        }
    }

    /// Gets the oldest message the component sent on `outbox`, without waiting.
    pub fn get(&self, outbox: &str) -> Result<Message, RecvError> {
        let m = self
            .output(outbox)?
            .try_recv()
            .map_err(|_| self.empty(outbox))?;
        self.remote.wake(self.proxy);
        Ok(m)
    }

    /// Gets the oldest message the component sent on `outbox`, waiting at most `timeout`.
    pub fn get_timeout(&self, outbox: &str, timeout: Duration) -> Result<Message, RecvError> {
        let m = self
            .output(outbox)?
            .recv_timeout(timeout)
            .map_err(|_| self.empty(outbox))?;
        self.remote.wake(self.proxy);
        Ok(m)
    }

    /// True once the component has ended and everything it sent has been handed over.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

/// The component behind a [`Handle`]: mirrors the child's boxes and moves messages between
/// them and the handle's channels.
struct HandleProxy {
    child: ComponentId,
    label: String,
    inboxes: Vec<BoxSpec>,
    outboxes: Vec<BoxSpec>,
    input: Receiver<(String, Message)>,
    outputs: BTreeMap<String, Sender<Message>>,
    finished: Arc<AtomicBool>,
}

impl Component for HandleProxy {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Owned(self.inboxes.clone())
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Owned(self.outboxes.clone())
    }
    fn label(&self) -> Cow<'static, str> {
        Cow::Owned(self.label.clone())
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        // A put the child's inbox had no room for. The next ones stay in the handle's
        // bounded queue meanwhile (in order), so a caller faster than the child fills that
        // queue, not memory.
        let mut pending: Option<(String, Message)> = None;
        loop {
            while let Some((name, m)) = pending.take().or_else(|| self.input.try_recv().ok()) {
                if let Err(e) = ctx.send(m, &name) {
                    if e.is_full() {
                        pending = Some((name, e.into_message()));
                        break;
                    }
                    return Err(e.into());
                }
            }
            let mut all_out = true;
            for (name, tx) in &self.outputs {
                while ctx.data_ready(name) > 0 {
                    if tx.is_full() {
                        all_out = false;
                        break;
                    }
                    let m = ctx.recv(name)?;
                    let _ = tx.try_send(m);
                }
            }
            if ctx.is_stopped(self.child) && all_out {
                self.finished.store(true, Ordering::Release);
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
