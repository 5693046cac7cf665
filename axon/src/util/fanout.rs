//! `Fanout`: copies each item to several outboxes (Kamaelia's `Kamaelia.Util.Fanout.Fanout`),
//! and [`Cloner`], how messages are copied for it and for the
//! [`Backplane`](crate::util::backplane::Backplane).
//!
//! # Copying messages
//!
//! A Kamaelia message is any Python object, and fanning one out sends the *same* object to
//! every destination. A Rust [`Message`](crate::Message) is moved, never shared, so each destination needs a
//! copy of its own. A [`Cloner`] knows how to copy the message types it was told about: the
//! common ones (strings, byte vectors, numbers, `Arc`s of text and bytes, Axon's IPC messages,
//! ...; see [`Cloner::new`]) plus any `T: Clone` added with [`Cloner::with`] (or the
//! components' `cloning::<T>()`). For big payloads, send an `Arc<T>`: its copies share the
//! data, as Kamaelia's do.
//!
//! A component that fans out refuses an item its cloner cannot copy, whatever the number of
//! destinations at that moment: the component fails with an error naming the type and the
//! fix. (Failing only once a second destination appears would hide the mistake until then.)
//!
//! # Differences from Kamaelia's `Fanout`
//!
//! - Kamaelia copies each item to every outbox it has, **including `signal`** (spec (f)11).
//!   Here data never goes to `signal`, which carries only shutdown signalling; it still goes
//!   to `outbox` as in Kamaelia (whose box description says "NOT USED").
//! - Items are copied with a [`Cloner`] (see above), not shared.
//! - It stops by the [uniform rule](crate::util::pass_through#the-uniform-stop-rule):
//!   Kamaelia's stops at once on `producerFinished` or `shutdownMicroprocess` (after fanning
//!   out what is waiting, since it reads `inbox` first) and ignores `shutdown`. Here
//!   `ProducerFinished` fans out what is waiting first, and `ShutdownMicroprocess` or
//!   `Shutdown` stop at once. Other control messages are ignored, as in Kamaelia.

use std::borrow::Cow;

pub use crate::cloner::Cloner;
use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::util::pass_through::{read_control, Control};

/// Copies each item on `inbox` to `outbox` and to every outbox it is given (Kamaelia's
/// `Fanout(boxnames)`).
///
/// Items are copied with a [`Cloner`]; add your own types with
/// [`cloning`](Fanout::cloning). An item of a type the cloner does not know makes the
/// component fail, naming the type. Data never goes to `signal` (Kamaelia's did; see the
/// [module documentation](self)). It stops by the
/// [uniform rule](crate::util::pass_through#the-uniform-stop-rule).
///
/// Boxes: `inbox` ("Data to be fanned out"), `control` ("Shutdown signalling"), `outbox`
/// and each named box ("Copy of data received at 'inbox' inbox"), `signal` ("Shutdown
/// signalling"). Names repeated, and the names `outbox` and `signal`, add no box.
///
/// ```
/// use axon::ipc::ShutdownMicroprocess;
/// use axon::util::fanout::Fanout;
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let fan = root.spawn(Fanout::new(["left", "right"]));
/// // Two sinks that never run; the test reads their inboxes.
/// let left = root.create(component("Left", |_| async { Ok(()) }));
/// let right = root.create(component("Right", |_| async { Ok(()) }));
/// root.link((root.id(), "outbox"), (fan, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (fan, "control")).unwrap();
/// root.link((fan, "left"), (left, "inbox")).unwrap();
/// root.link((fan, "right"), (right, "inbox")).unwrap();
/// root.link((fan, "outbox"), (root.id(), "inbox")).unwrap();
///
/// root.send(String::from("news"), "outbox").unwrap();
/// sched.run(); // it fans out, then waits for more
/// assert_eq!(sched.ctx(left).recv_as::<String>("inbox").unwrap(), "news");
/// assert_eq!(sched.ctx(right).recv_as::<String>("inbox").unwrap(), "news");
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "news");
///
/// root.send(ShutdownMicroprocess::default(), "signal").unwrap();
/// assert_eq!(sched.run().failures.len(), 0);
/// assert_eq!(sched.live(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Fanout {
    boxnames: Vec<String>,
    cloner: Cloner,
}

impl Fanout {
    /// A fanout to `outbox` and the outboxes named, copying with [`Cloner::new`].
    pub fn new<I, S>(boxnames: I) -> Fanout
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: Vec<String> = Vec::new();
        for n in boxnames {
            let n = n.into();
            if n != "outbox" && n != "signal" && !names.contains(&n) {
                names.push(n);
            }
        }
        Fanout {
            boxnames: names,
            cloner: Cloner::new(),
        }
    }

    /// Also copies items of type `T`.
    pub fn cloning<T: Clone + Send + 'static>(mut self) -> Fanout {
        self.cloner.add::<T>();
        self
    }

    /// Copies with `cloner` instead.
    pub fn with_cloner(mut self, cloner: Cloner) -> Fanout {
        self.cloner = cloner;
        self
    }

    /// The outboxes each item goes to, in order: `outbox`, then the named ones.
    pub fn destinations(&self) -> Vec<&str> {
        std::iter::once("outbox")
            .chain(self.boxnames.iter().map(String::as_str))
            .collect()
    }
}

const FANOUT_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Data to be fanned out"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const COPY: &str = "Copy of data received at 'inbox' inbox";

impl Component for Fanout {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        FANOUT_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        let mut boxes = vec![
            BoxSpec::new("outbox", COPY),
            BoxSpec::new("signal", "Shutdown signalling"),
        ];
        boxes.extend(
            self.boxnames
                .iter()
                .map(|n| BoxSpec::owned(n.clone(), COPY)),
        );
        boxes.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let destinations = self.destinations();
        loop {
            let control = read_control(&ctx, |_| Ok(()))?;
            if let Control::Now(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            while let Ok(item) = ctx.recv("inbox") {
                let copies = self
                    .cloner
                    .copies(item, destinations.len())
                    .map_err(|m| Cloner::refusal(&m, "Fanout", "Fanout::cloning::<T>()"))?;
                for (m, outbox) in copies.into_iter().zip(&destinations) {
                    ctx.send(m, outbox)?;
                }
            }
            if let Control::Finish(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
