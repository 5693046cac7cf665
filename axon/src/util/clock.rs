//! `Clock`: a tick every interval (Kamaelia's `Kamaelia.Util.Clock.CheapAndCheerfulClock`).
//!
//! # Differences from Kamaelia
//!
//! - Kamaelia's clock is a threaded component that calls `time.sleep(interval)` between
//!   ticks. This one runs in the scheduler and waits with [`Ctx::sleep`], so it costs no
//!   thread, and it never busy-waits.
//! - Ticks keep to a schedule (the n-th tick is due `n` intervals after the first) instead of
//!   drifting by the time each send takes. A clock that falls more than an interval behind
//!   (a busy scheduler) ticks once and starts a new schedule from then, rather than sending a
//!   burst of late ticks.
//! - Kamaelia's clock cannot be stopped. This one follows the
//!   [uniform rule](crate::util::pass_through#the-uniform-stop-rule): a `ProducerFinished`,
//!   `ShutdownMicroprocess` or `Shutdown` on `control` stops it at once, even in the middle of
//!   an interval (it holds no work), and goes out of `signal`. Other control messages are
//!   ignored.
//!
//! The tick is `true`, as in Kamaelia: a clock's ticks are triggers, read for their arrival
//! rather than their content.

use std::borrow::Cow;
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::util::pass_through::{read_control, Control};

/// Sends `true` out of `outbox` at once, then every `interval`, until told to stop (Kamaelia's
/// `CheapAndCheerfulClock(interval)`).
///
/// Boxes: `inbox` ("NOT USED"), `control` ("Shutdown signalling"), `outbox` ("true, every
/// interval"), `signal` ("Shutdown signalling").
///
/// ```
/// use std::time::{Duration, Instant};
/// use axon::ipc::ShutdownMicroprocess;
/// use axon::util::clock::Clock;
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let clock = root.create(Clock::new(Duration::from_millis(5)));
/// // Counts three ticks, then stops the clock.
/// let counter = root.create(component("Counter", |ctx| async move {
///     let mut ticks = 0;
///     while ticks < 3 {
///         while let Ok(tick) = ctx.recv("inbox") {
///             assert_eq!(tick.downcast::<bool>()?, true);
///             ticks += 1;
///         }
///         ctx.pause();
///         ctx.yield_now().await;
///     }
///     ctx.send(ShutdownMicroprocess::default(), "signal")?;
///     Ok(())
/// }));
/// root.link((clock, "outbox"), (counter, "inbox")).unwrap();
/// root.link((counter, "signal"), (clock, "control")).unwrap();
/// root.activate(clock).unwrap();
/// root.activate(counter).unwrap();
///
/// let start = Instant::now();
/// assert!(sched.run().is_clean());
/// // The first tick is immediate; two intervals pass before the third.
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    interval: Duration,
}

impl Clock {
    /// A clock ticking every `interval`.
    pub fn new(interval: Duration) -> Clock {
        Clock { interval }
    }

    /// The time between ticks.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "NOT USED"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "true, every interval"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

/// Sleeps until `until`, or less if a message reaches `control` first. Always yields at least
/// once, so that even a zero interval lets the other components run.
async fn sleep_unless_control(ctx: &Ctx, until: Instant) {
    let mut waited = false;
    {
        let sleep = ctx.sleep(until.saturating_duration_since(Instant::now()));
        let mut sleep = std::pin::pin!(sleep);
        std::future::poll_fn(|cx| {
            if ctx.data_ready("control") > 0 {
                return Poll::Ready(());
            }
            let p = sleep.as_mut().poll(cx);
            waited |= p.is_pending();
            p
        })
        .await;
    }
    if !waited {
        ctx.yield_now().await;
    }
}

impl Component for Clock {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut due = Instant::now();
        loop {
            match read_control(&ctx, |_| Ok(()))? {
                Control::Now(stop) | Control::Finish(stop) => {
                    ctx.send(stop, "signal")?;
                    return Ok(());
                }
                Control::Carry => {}
            }
            let now = Instant::now();
            if now >= due {
                ctx.send(true, "outbox")?;
                due += self.interval;
                if due <= now {
                    due = now + self.interval;
                }
            }
            sleep_unless_control(&ctx, due).await;
        }
    }
}
