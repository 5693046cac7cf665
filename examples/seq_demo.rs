//! Kamaelia's `Kamaelia/Chassis/Seq.py` demo (its `__main__`): a `Seq` of six `OneShot`s,
//! between two lines of text, piped into a `ConsoleEchoer`.
//!
//! ```python
//! Pipeline( Seq( "BEGIN SEQUENCE",
//!                OneShot("Hello\n"), OneShot("Doctor\n"), OneShot("Name\n"),
//!                OneShot("Continue\n"), OneShot("Yesterday\n"), OneShot("Tomorrow\n"),
//!                "END SEQUENCE",
//!              ),
//!           ConsoleEchoer(),
//!         ).run()
//! ```
//!
//! The Seq prints each text item itself and runs each `OneShot` as its only child, one after
//! another, its `outbox` coming out of the Seq's. After the last item the Seq sends
//! `ProducerFinished`, which stops the echoer; the Pipeline and the program end.
//!
//! ```text
//! cargo run --example seq_demo
//! ```
//!
//! It prints what the Python prints:
//!
//! ```text
//! BEGIN SEQUENCE
//! Hello
//! Doctor
//! Name
//! Continue
//! Yesterday
//! Tomorrow
//! END SEQUENCE
//! ```
//!
//! No difference from the Python in what is printed. (Our Seq also reads its `control`, where
//! Kamaelia's ignores it; nothing is sent there in this demo.)

use kamaelia::axon::util::{ConsoleEchoer, OneShot};
use kamaelia::axon::{pipeline, seq, Scheduler};

fn main() {
    let sched = Scheduler::new();
    sched.spawn(pipeline![
        seq![
            "BEGIN SEQUENCE",
            OneShot::new("Hello\n"),
            OneShot::new("Doctor\n"),
            OneShot::new("Name\n"),
            OneShot::new("Continue\n"),
            OneShot::new("Yesterday\n"),
            OneShot::new("Tomorrow\n"),
            "END SEQUENCE",
        ],
        ConsoleEchoer::new(),
    ]);
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("seq_demo did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
