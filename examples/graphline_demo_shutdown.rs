//! Kamaelia's `Examples/UsingChassis/Graphline/DemoShutdown.py`: shutdown from outside a
//! `Graphline` reaches every child, and the Graphline passes it on when they have all ended.
//!
//! ```python
//! Pipeline(
//!     Pinger(tosend=[Axon.Ipc.producerFinished()]),
//!     Graphline(
//!         TO_SHUTDOWN1 = Waiter(),
//!         TO_SHUTDOWN2 = Waiter(),
//!         TO_SHUTDOWN3 = Waiter(),
//!         linkages = {}
//!     ),
//!     Whinger(),
//! ).run()
//! ```
//!
//! - `Pinger` (threaded) sleeps a second, sends `ProducerFinished` out of `signal` (into the
//!   Graphline's `control`) and says so.
//! - The Graphline's `control` is not linked to anything, so the Graphline copies what arrives
//!   there to the `control` of each child whose `control` no linkage feeds: all three Waiters.
//! - Each `Waiter` prints its id, waits for a message on `control`, prints it, passes it on out
//!   of `signal` (linked to nothing) and ends.
//! - When the Waiters have ended, the Graphline sends `ProducerFinished` out of its `signal`,
//!   into the `Whinger`'s `control`. The `Whinger` (threaded) complains every second until it
//!   sees it, then ends; the Pipeline ends, and so does the program.
//!
//! ```text
//! cargo run --example graphline_demo_shutdown
//! ```
//!
//! The Python prints (after its banner, which this prints too):
//!
//! ```text
//! WHINGER: waiting for shutdown
//! WAITER 6 waiting
//! WAITER 7 waiting
//! WAITER 8 waiting
//! PINGER: sent <Axon.Ipc.producerFinished object at 0x7fbdf30e3090>
//! WHINGER: waiting for shutdown
//! WAITER 6 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7fbdf2f89bd0>
//! WAITER 7 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7fbdf2f89bd0>
//! WAITER 8 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7fbdf2f89bd0>
//! WHINGER: shutdown
//! ```
//!
//! # Differences from the Python
//!
//! - A message is shown by its type, `<axon::ipc::ProducerFinished>`, where Python shows the
//!   object's default `repr`, `<Axon.Ipc.producerFinished object at 0x...>`.
//! - The ids are our components' numbers (the `_<n>` of their names), so they differ.
//! - The lines printed by the two threads (`WHINGER`, `PINGER`) fall among the others as the
//!   threads run, in Python as here: how many "WHINGER: waiting" lines there are, and where,
//!   depends on timing. Python's `print` from threads can even mix two lines into one.
//! - `Waiter` pauses when it has nothing to do, as the Python one does; the threads sleep.
//! - Our Graphline passes each Waiter its own copy of the message (Kamaelia passes the same
//!   object to all three).

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::{graphline, pipeline, Scheduler, Threaded};

#[path = "shared/graphline_demo.rs"]
mod demo;
use demo::{waiter, Pinger, Whinger};

const BANNER: &str = r#"
Basic Acceptance Test

This example creates 3 components inside a graphline that wait for shutdown
from the outside world When they get this passed onto them, they shutdown,
causing the graphline (and pipeline) to shutdown

      Pipeline(
          Pinger(tosend=[Axon.Ipc.producerFinished()],box="signal"),
          Graphline(
              TO_SHUTDOWN1 = Waiter(),
              TO_SHUTDOWN2 = Waiter(),
              TO_SHUTDOWN3 = Waiter(),
              linkages = {}
          ),
      ).run()
"#;

fn main() {
    println!("{BANNER}");

    let graph = graphline! {
        TO_SHUTDOWN1 = waiter(),
        TO_SHUTDOWN2 = waiter(),
        TO_SHUTDOWN3 = waiter(),
        linkages = {}
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
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("graphline_demo_shutdown did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
