//! Axon's `Axon/Introspector.py` demo (its `__main__`): an `Introspector` linked to a console
//! echoer prints what the running system looks like.
//!
//! ```python
//! i = Introspector()
//! i.activate()
//! e = consoleEchoer()
//! e.activate()
//! i.link((i,"outbox"), (e, "inbox"))
//! ```
//!
//! The Introspector first sends `DEL ALL`, then the change in the topology: a node for each
//! component and for each of its boxes, a link from each component to each of its boxes, and
//! a link for each linkage, here the Introspector's `outbox` to the echoer's `inbox`.
//!
//! ```text
//! cargo run --example introspector
//! ```
//!
//! The Python printed (until killed by `timeout`):
//!
//! ```text
//! You should see the Introspector find that it and a consoleEchoer component exist.
//! We both have inbox, control, signal and outbox postboxes
//! The Introspector's outbox is linked to the consoleEchoer's inbox
//!
//! DEL ALL
//! ADD NODE "5" "__main__.Introspector_5" randompos component
//! ADD NODE "6" "Kamaelia.Support.Deprecate.makeClassStub.<locals>.stub_6" randompos component
//! ADD NODE "(5, 'i', 'inbox')" "inbox" randompos inbox
//! ADD LINK "5" "(5, 'i', 'inbox')"
//! ADD NODE "(5, 'i', 'control')" "control" randompos inbox
//! ADD LINK "5" "(5, 'i', 'control')"
//! ... (the same for the other boxes of both)
//! ADD LINK "(5, 'o', 'outbox')" "(6, 'i', 'inbox')"
//! ```
//!
//! This prints the same banner, `DEL ALL`, and the same nodes and links, with our numbers and
//! names (`Introspector_<n>`, `ConsoleEchoer_<n>`).
//!
//! # Differences from the Python
//!
//! - **Names and numbers.** Ours are `Label_<n>` with our own numbers; the Python's carry the
//!   module path, and its echoer is the deprecated `consoleEchoer`, whose class is a stub, so
//!   it is named `Kamaelia.Support.Deprecate.makeClassStub.<locals>.stub_6`. Ours is a
//!   `ConsoleEchoer`.
//! - **Order of the lines.** Within one change, ours writes all the `ADD NODE` lines, then all
//!   the `ADD LINK` lines, each sorted, as the spec describes (A11.2); the Python writes each
//!   box's `ADD LINK` right after its `ADD NODE`. The set of lines is the same.
//! - **It ends.** The Python Introspector never pauses: it runs every cycle, so the program
//!   runs (and prints nothing more) for ever. Ours sleeps until the topology changes; once the
//!   echoer has printed, nothing can wake either of them, so our scheduler returns on its own
//!   (where Kamaelia's would wait for ever). The example then tells both to stop with a
//!   `ShutdownMicroprocess` (the Introspector passes it on and stops before looking at the
//!   topology again, so nothing more is printed) and runs the scheduler to the end.
//!   Nothing is linked to their `control`, as in the Python, so that the topology printed is
//!   the Python's.

use kamaelia::axon::ipc::ShutdownMicroprocess;
use kamaelia::axon::util::ConsoleEchoer;
use kamaelia::axon::{Introspector, Scheduler};

fn main() {
    let sched = Scheduler::new();
    let root = sched.root();
    let i = root.spawn(Introspector);
    let e = root.spawn(ConsoleEchoer::new());
    root.link((i, "outbox"), (e, "inbox"))
        .expect("both boxes exist");

    println!("You should see the Introspector find that it and a consoleEchoer component exist.");
    println!("We both have inbox, control, signal and outbox postboxes");
    println!("The Introspector's outbox is linked to the consoleEchoer's inbox");
    println!();

    // Runs until nothing can change any more: both wait, with nothing to wake them.
    let report = sched.run();
    if !report.failures.is_empty() || report.left_paused.len() != 2 {
        eprintln!("introspector: unexpected end of the first run: {report:?}");
        std::process::exit(1);
    }

    // Then stop them both.
    for c in [i, e] {
        sched
            .ctx(c)
            .deliver(ShutdownMicroprocess::default(), "control")
            .expect("both have a control inbox");
    }
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("introspector did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
