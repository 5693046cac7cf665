//! Kamaelia's `Examples/UsingChassis/Graphline/FailShutdown.py`: a `Graphline` that does
//! **not** shut down, because its user took over its `control`.
//!
//! ```python
//! Pipeline(
//!     Pinger(tosend=[Axon.Ipc.producerFinished()],box="signal"),
//!     Graphline(
//!         TO_SHUTDOWN1 = Waiter(),
//!         TO_SHUTDOWN2 = Waiter(),
//!         linkages = {
//!             ("self", "control") : ("TO_SHUTDOWN1", "control"),
//!         }
//!     ),
//!     Whinger(),
//! ).run()
//! ```
//!
//! The same components as `graphline_demo_shutdown`. The linkage from `("self", "control")`
//! hands the Graphline's `control` straight to `TO_SHUTDOWN1`, so the Graphline no longer
//! passes control messages to its children itself. The `ProducerFinished` from the `Pinger`
//! stops `TO_SHUTDOWN1`, whose `signal` leads nowhere; `TO_SHUTDOWN2` waits for ever, so the
//! Graphline never ends or signals, and the `Whinger` whinges for ever.
//!
//! ```text
//! cargo run --example graphline_fail_shutdown          # gives up after 4.5 seconds
//! cargo run --example graphline_fail_shutdown -- 10    # ... after 10 seconds
//! ```
//!
//! The Python prints its banner (this prints it too), then, until it is killed:
//!
//! ```text
//! WHINGER: waiting for shutdown
//! WAITER 6 waiting
//! WAITER 7 waiting
//! PINGER: sent <Axon.Ipc.producerFinished object at 0x7f8fd307e8d0>
//! WHINGER: waiting for shutdown
//! WAITER 6 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7f8fd2f24f50>
//! WHINGER: waiting for shutdown
//! WHINGER: waiting for shutdown
//! WHINGER: waiting for shutdown
//! ...
//! ```
//!
//! # Differences from the Python
//!
//! - **It gives up.** The Python runs for ever. Our scheduler returns by itself when nothing
//!   can wake any component, but here the `Whinger`'s thread is alive, so it would wait for
//!   ever too. This example therefore stops the scheduler from outside after a number of
//!   seconds: 4.5 unless given (the half second keeps the last line clear of the `Whinger`'s,
//!   which come each whole second). A `Watchdog` component, linked to nothing, sleeps that
//!   long, then prints a last line saying that the system did not stop by itself and which
//!   components are still running, e.g. `FailShutdown: did not stop by itself; still running
//!   after 4.5 s: Pipeline_2, Graphline_5, Whinger_6, Waiter_8. Stopping the scheduler.`, and
//!   stops the scheduler. The `Whinger`'s thread is told to stop with it (Kamaelia cannot
//!   stop a thread).
//! - A message is shown by its type, `<axon::ipc::ProducerFinished>`, where Python shows the
//!   object's default `repr`, `<Axon.Ipc.producerFinished object at 0x...>`.
//! - The ids are our components' numbers (the `_<n>` of their names), so they may differ.
//! - The lines printed by the two threads fall among the others as the threads run, in Python
//!   as here; how many "WHINGER: waiting" lines there are depends on timing.

use std::time::Duration;

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::{component, graphline, pipeline, Ctx, Scheduler, Threaded};

#[path = "shared/graphline_demo.rs"]
mod demo;
use demo::{waiter, Pinger, Whinger};

const BANNER: &str = r#"
This example will fail to shutdown.

    Pipeline(
        Pinger(tosend=[Axon.Ipc.producerFinished()],box="signal"),
        Graphline(
            TO_SHUTDOWN1 = Waiter(),
            TO_SHUTDOWN2 = Waiter(),
            linkages = {
                ("self", "control") : ("TO_SHUTDOWN1", "control"),
            }
        ),
        Whinger(),
    ).run()

The reason for this is twofold:

   * The user has chosen to link the graphlines control passed through to a
     child
   * That child does not tell the other components to shutdown, so they
     don't. 
   * No one passes on the shutdown as a result to the outside world, meaning
     the Whinger() keeps on whinging.

"#;

/// How long to let it run, unless given as the first argument.
const DEFAULT_SECONDS: f64 = 4.5;

fn main() {
    let seconds = match std::env::args().nth(1) {
        None => DEFAULT_SECONDS,
        Some(arg) => match arg.parse::<f64>() {
            Ok(n) if n > 0.0 && n.is_finite() => n,
            _ => {
                eprintln!("usage: graphline_fail_shutdown [SECONDS]   (SECONDS > 0; default 4.5)");
                std::process::exit(2);
            }
        },
    };

    println!("{BANNER}");

    let graph = graphline! {
        TO_SHUTDOWN1 = waiter(),
        TO_SHUTDOWN2 = waiter(),
        linkages = {
            ("self", "control") : ("TO_SHUTDOWN1", "control"),
        }
    }
    .expect("the Graphline's names are right");
    let sched = Scheduler::new();
    sched.spawn(pipeline![
        Threaded::new(Pinger {
            tosend: vec![ProducerFinished::default()],
            out: "signal",
        }),
        graph,
        Threaded::new(Whinger),
    ]);

    // The system will not stop by itself: a watchdog stops it after a while, saying what was
    // still waiting.
    sched.spawn(component("Watchdog", move |ctx: Ctx| async move {
        ctx.sleep(Duration::from_secs_f64(seconds)).await;
        let me = ctx.name();
        let left: Vec<String> = ctx
            .topology()
            .components
            .into_iter()
            .filter(|c| c.state != "ended" && c.name != me)
            .map(|c| c.name)
            .collect();
        println!(
            "FailShutdown: did not stop by itself; still running after {seconds} s: {}. \
             Stopping the scheduler.",
            left.join(", ")
        );
        ctx.stop_scheduler();
        Ok(())
    }));
    let report = sched.run();
    if !report.failures.is_empty() {
        eprintln!("graphline_fail_shutdown: a component failed: {report:?}");
        std::process::exit(1);
    }
    if !report.stopped {
        eprintln!("graphline_fail_shutdown: it ended by itself, which it should not: {report:?}");
        std::process::exit(1);
    }
}
