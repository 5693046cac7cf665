//! Kamaelia's `Examples/UsingChassis/Graphline/LinkedShutdown.py`: shutdown from outside a
//! `Graphline` goes only to the children whose `control` nothing inside feeds, and the
//! children pass it along their own linkages.
//!
//! ```python
//! Pipeline(
//!     Pinger(tosend=[Axon.Ipc.producerFinished()],box="signal"),
//!     Graphline(
//!         TO_SHUTDOWN1 = Waiter(),
//!         TO_SHUTDOWN2 = Waiter(),
//!         TO_SHUTDOWN3 = Waiter(),
//!         linkages = {
//!             ("TO_SHUTDOWN1","signal"):("TO_SHUTDOWN2","control"),
//!             ("TO_SHUTDOWN2","signal"):("TO_SHUTDOWN3","control"),
//!         }
//!     ),
//!     Whinger(),
//! ).run()
//! ```
//!
//! The same components as `graphline_demo_shutdown`. This time the Graphline copies the
//! `ProducerFinished` from its `control` to `TO_SHUTDOWN1` only (the other two have their
//! `control` fed by a linkage); each Waiter passes it on out of `signal` to the next. When all
//! three have ended the Graphline signals the `Whinger`, and everything ends.
//!
//! ```text
//! cargo run --example graphline_linked_shutdown
//! ```
//!
//! The Python prints (it has no banner):
//!
//! ```text
//! WHINGER: waiting for shutdown
//! WAITER 6 waiting
//! WAITER 7 waiting
//! WAITER 8 waiting
//! PINGER: sent <Axon.Ipc.producerFinished object at 0x7f7028a738d0>
//! WHINGER: waiting for shutdown
//! WAITER 6 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7f7028919a90>
//! WAITER 7 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7f7028919a90>
//! WAITER 8 shutting down having recieved: <Axon.Ipc.producerFinished object at 0x7f7028919a90>
//! WHINGER: shutdown
//! ```
//!
//! # Differences from the Python
//!
//! - A message is shown by its type, `<axon::ipc::ProducerFinished>`, where Python shows the
//!   object's default `repr`, `<Axon.Ipc.producerFinished object at 0x...>`.
//! - The ids are our components' numbers (the `_<n>` of their names), so they may differ.
//! - The lines printed by the two threads (`WHINGER`, `PINGER`) fall among the others as the
//!   threads run, in Python as here: how many "WHINGER: waiting" lines there are, and where,
//!   depends on timing.

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::{graphline, pipeline, Scheduler, Threaded};

#[path = "shared/graphline_demo.rs"]
mod demo;
use demo::{waiter, Pinger, Whinger};

fn main() {
    let graph = graphline! {
        TO_SHUTDOWN1 = waiter(),
        TO_SHUTDOWN2 = waiter(),
        TO_SHUTDOWN3 = waiter(),
        linkages = {
            ("TO_SHUTDOWN1", "signal") : ("TO_SHUTDOWN2", "control"),
            ("TO_SHUTDOWN2", "signal") : ("TO_SHUTDOWN3", "control"),
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
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("graphline_linked_shutdown did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
