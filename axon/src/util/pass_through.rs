//! `PassThrough`: passes `inbox` to `outbox` and `control` to `signal` (Kamaelia's
//! `Kamaelia.Util.PassThrough.PassThrough`).
//!
//! Also home of the stop rule shared by every component of [`util`](crate::util), so that they
//! all read `control` the same way.
//!
//! # The uniform stop rule
//!
//! Kamaelia's helpers disagree about which control messages stop them (spec (f)5). Every
//! component in [`util`](crate::util) follows one rule instead:
//!
//! - [`ProducerFinished`](crate::ipc::ProducerFinished) on `control`: finish the work already
//!   held (the messages waiting in `inbox`), then stop;
//! - [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) or
//!   [`Shutdown`](crate::ipc::Shutdown): stop at once, leaving waiting work undone;
//! - on stopping, send the message received out of `signal`, so that a chain wired
//!   signal-to-control shuts down from one end to the other.
//!
//! When `control` holds both kinds, "stop now" wins and is the one passed on.
//!
//! # Differences from Kamaelia
//!
//! - Kamaelia's `PassThrough` handles `inbox` before `control`, so even a
//!   `shutdownMicroprocess` lets waiting data through. Here `ShutdownMicroprocess` and
//!   `Shutdown` stop it at once; `ProducerFinished` lets the waiting data through first.
//! - Kamaelia's `shutdownOn` constructor argument (which messages stop it) is left out: the
//!   uniform rule decides.
//! - It uses the component protocol rather than Kamaelia's legacy `mainBody`.

use crate::component::Component;
use crate::ctx::Ctx;
use crate::error::{ComponentError, ComponentResult};
use crate::ipc::{stop_kind, StopKind};
use crate::message::Message;
use crate::threaded::ThreadCtx;

/// Passes everything on `inbox` out of `outbox` and everything on `control` out of `signal`,
/// unchanged and in order (Kamaelia's `PassThrough`).
///
/// It stops by the [uniform rule](self#the-uniform-stop-rule): on
/// [`ProducerFinished`](crate::ipc::ProducerFinished) after passing on the data waiting in
/// `inbox`, on [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) or
/// [`Shutdown`](crate::ipc::Shutdown) at once; either way the message goes out of `signal`.
/// Other control messages are passed on to `signal` too, and do not stop it.
///
/// When the destination's inbox is full it keeps the refused message, takes nothing more,
/// and sends it when the destination collects: it is the echo protocol of a `ServerCore`,
/// whose connections limit their inboxes, as in Kamaelia's echo servers.
///
/// Boxes: Kamaelia's defaults, `inbox` ("Messages to be passed through"), `control`
/// ("Shutdown signalling"), `outbox` ("Passed through messages"), `signal` ("Shutdown
/// signalling").
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::pass_through::PassThrough;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let pt = root.spawn(PassThrough);
/// root.link((root.id(), "outbox"), (pt, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (pt, "control")).unwrap();
/// root.link((pt, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((pt, "signal"), (root.id(), "control")).unwrap();
///
/// root.send("apples", "outbox").unwrap();
/// root.send("pears", "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(root.recv_as::<&str>("inbox").unwrap(), "apples");
/// assert_eq!(root.recv_as::<&str>("inbox").unwrap(), "pears");
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassThrough;

const INBOXES: &[crate::BoxSpec] = &[
    crate::BoxSpec::new("inbox", "Messages to be passed through"),
    crate::BoxSpec::new("control", "Shutdown signalling"),
];

const OUTBOXES: &[crate::BoxSpec] = &[
    crate::BoxSpec::new("outbox", "Passed through messages"),
    crate::BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for PassThrough {
    fn inboxes(&self) -> std::borrow::Cow<'static, [crate::BoxSpec]> {
        INBOXES.into()
    }

    fn outboxes(&self) -> std::borrow::Cow<'static, [crate::BoxSpec]> {
        OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        // A message the destination refused (its inbox was full): kept, and tried again when
        // the destination collects (which wakes us); nothing more is taken meanwhile, so a
        // slow reader slows the writer instead of growing memory.
        let mut held: Option<Message> = None;
        let mut finish: Option<Message> = None;
        loop {
            match read_control(&ctx, |other| Ok(ctx.send(other, "signal")?))? {
                Control::Now(stop) => {
                    ctx.send(stop, "signal")?;
                    return Ok(());
                }
                Control::Finish(stop) => {
                    finish.get_or_insert(stop);
                }
                Control::Carry => {}
            }
            loop {
                let m = match held.take() {
                    Some(m) => m,
                    None => match ctx.recv("inbox") {
                        Ok(m) => m,
                        Err(_) => break,
                    },
                };
                if let Err(e) = ctx.send(m, "outbox") {
                    if !e.is_full() {
                        return Err(e.into());
                    }
                    held = Some(e.into_message());
                    break;
                }
            }
            if held.is_none() && ctx.data_ready("inbox") == 0 {
                if let Some(stop) = finish.take() {
                    ctx.send(stop, "signal")?;
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

// ----- the uniform stop rule, shared by the util components -------------------------------

/// What a component's `control` inbox asks of it.
pub(crate) enum Control {
    /// No stop message: carry on.
    Carry,
    /// A `ProducerFinished`: finish the work held, then stop, passing this message on.
    Finish(Message),
    /// A `ShutdownMicroprocess` or `Shutdown`: stop at once, passing this message on.
    Now(Message),
}

/// Takes messages from `next` until it runs dry or yields a "stop now" message. Messages that
/// are not stop messages go to `other`. A `ProducerFinished` is kept (later ones are dropped)
/// while the rest is read, so that a "stop now" behind it still wins.
pub(crate) fn classify(
    mut next: impl FnMut() -> Option<Message>,
    mut other: impl FnMut(Message) -> ComponentResult,
) -> Result<Control, ComponentError> {
    let mut finish = None;
    while let Some(m) = next() {
        match stop_kind(&m) {
            Some(StopKind::Now) => return Ok(Control::Now(m)),
            Some(StopKind::Finish) => {
                finish.get_or_insert(m);
            }
            None => other(m)?,
        }
    }
    Ok(finish.map_or(Control::Carry, Control::Finish))
}

/// [`classify`] over a component's `control` inbox.
pub(crate) fn read_control(
    ctx: &Ctx,
    other: impl FnMut(Message) -> ComponentResult,
) -> Result<Control, ComponentError> {
    classify(|| ctx.recv("control").ok(), other)
}

/// The body shared by the threaded util components that work item by item: each message on
/// `inbox` goes to `work`, and `control` is read before every item by the uniform stop rule.
/// On `ProducerFinished` it first works through what is waiting, including what the proxy
/// still holds for it beyond the thread's queue.
pub(crate) fn thread_loop(
    ctx: &ThreadCtx,
    mut work: impl FnMut(&ThreadCtx, Message) -> ComponentResult,
) -> ComponentResult {
    let mut finishing: Option<Message> = None;
    loop {
        match classify(|| ctx.recv("control").ok(), |_| Ok(()))? {
            Control::Now(stop) => return Ok(ctx.send_waiting(stop, "signal")?),
            Control::Finish(stop) => {
                finishing.get_or_insert(stop);
            }
            Control::Carry => {}
        }
        if let Ok(item) = ctx.recv("inbox") {
            work(ctx, item)?;
            continue;
        }
        if let Some(stop) = finishing.take() {
            // A round trip lets the proxy move in what did not fit in the queue.
            if ctx.sync().is_ok() && ctx.data_ready("inbox") > 0 {
                finishing = Some(stop);
                continue;
            }
            return Ok(ctx.send_waiting(stop, "signal")?);
        }
        if ctx.should_stop() {
            return Ok(());
        }
        ctx.pause(None);
    }
}
