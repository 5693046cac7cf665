//! Kamaelia's `Examples/UsingChassis/Pipeline/Feedback.py`: a circular `Pipeline`, whose last
//! component feeds the first.
//!
//! ```python
//! Pipeline(
//!     LSystem(),
//!     ConsoleEchoer(tag="\n", forwarder=True), # Would be nice to be a renderer
//!     Damage(),
//!     circular = True,
//! ).run()
//! ```
//!
//! - `LSystem` (threaded) grows a string by the rules B → BTL, L → B. Every 0.4 s it sends its
//!   model, then takes the latest model that came back to its `inbox` (if any) in place of its
//!   own, and grows it.
//! - The `ConsoleEchoer` prints each model after a newline and passes it on.
//! - `Damage` drops each letter of a model with probability `(dratio + 1) / 101`
//!   (Python's `random.randint(0, 100) > dratio` keeps it), where `dratio` is 0, or 50 for
//!   models longer than 60 letters, and sends what is left back round to the `LSystem`.
//!
//! ```text
//! cargo run --example feedback_pipeline                # 12 generations, then it stops
//! cargo run --example feedback_pipeline -- 30          # 30 generations
//! cargo run --example feedback_pipeline -- 30 12345    # 30 generations, damage seeded 12345
//! ```
//!
//! The Python (killed by `timeout` after 6 s) printed:
//!
//! ```text
//!
//! B
//! BTL
//! BTL
//! BTLTB
//! BTLTB
//! BTLTBTBTL
//! BTLTBTBTL
//! BTLTBTBTLTBTLTB
//! BTLTBTBTLTBTLTB
//! BTLTBTBTLTBTLTBTBTLTBTBTL
//! TBTBTLTBTLTBTBTLTBTBTL
//! ...
//! ```
//!
//! Each model appears about twice: the `LSystem` reads its `inbox` right after sending, when
//! the damaged copy of the model *before* the one just sent is what has come back; that copy,
//! grown, is the next model sent. Once models are long, damage makes the lines differ.
//!
//! # Differences from the Python
//!
//! - **It stops.** The Python runs for ever. This one sends a given number of models (12 by
//!   default, or the first argument), then the `LSystem` sends `ProducerFinished` out of
//!   `signal`; that goes round the ring (echoer, `Damage`), each component stops (the echoer
//!   by the uniform stop rule of spec (f)5, after echoing what it holds; Kamaelia's stops on
//!   any control message), the Pipeline ends, and so does the program. The `LSystem` still stops on any control message as the
//!   Python one does, passing it on.
//! - The damage is random, as in the Python, but from a small seeded generator (xorshift), so
//!   that a run can be repeated: the second argument is the seed; without it the seed comes
//!   from the clock.
//! - `Damage` pauses when its inbox is empty, where the Python one busy-yields.
//! - Which damaged model the `LSystem` reads depends, in Python as here, on whether it reads
//!   its `inbox` before the model it just sent has gone round the ring; it nearly always does.

use std::time::Duration;

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::util::ConsoleEchoer;
use kamaelia::axon::{
    pipeline, Component, ComponentResult, Ctx, Scheduler, ThreadCtx, Threaded, ThreadedComponent,
};

/// How many models to send unless told.
const DEFAULT_GENERATIONS: u64 = 12;

/// Time between two models, as in the Python.
const STEP: Duration = Duration::from_millis(400);

/// Grows a model by the rules B → BTL, L → B (other letters stay).
fn mutate(model: &str) -> String {
    let mut out = String::with_capacity(model.len() * 2);
    for atom in model.chars() {
        match atom {
            'B' => out.push_str("BTL"),
            'L' => out.push('B'),
            other => out.push(other),
        }
    }
    out
}

/// A simple L system modeller (the Python `LSystem`), which stops after `generations` models.
struct LSystem {
    generations: u64,
}

impl ThreadedComponent for LSystem {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        let mut model = String::from("B");
        let mut sent = 0;
        loop {
            if let Ok(stop) = ctx.recv("control") {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            if sent == self.generations || ctx.should_stop() {
                ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
                return Ok(());
            }
            ctx.send(model.clone(), "outbox")?;
            sent += 1;
            while let Ok(m) = ctx.recv("inbox") {
                model = m.downcast()?;
            }
            model = mutate(&model);
            std::thread::sleep(STEP);
        }
    }
}

/// xorshift64*: small, seeded, good enough to damage strings.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // A zero state would stay zero.
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Python's `random.randint(0, 100)`.
    fn randint_0_100(&mut self) -> u64 {
        (self.next() >> 32) % 101
    }
}

/// Simple L-System damager (the Python `Damage`).
struct Damage {
    rng: Rng,
}

impl Damage {
    fn damage_model(&mut self, model: &str) -> String {
        let dratio = if model.len() > 60 { 50 } else { 0 };
        model
            .chars()
            .filter(|_| self.rng.randint_0_100() > dratio)
            .collect()
    }
}

impl Component for Damage {
    async fn main(mut self, ctx: Ctx) -> ComponentResult {
        while ctx.data_ready("control") == 0 {
            while let Ok(model) = ctx.recv_as::<String>("inbox") {
                let model = self.damage_model(&model);
                ctx.send(model, "outbox")?;
            }
            ctx.pause();
            ctx.yield_now().await;
        }
        ctx.send(ctx.recv("control")?, "signal")?;
        Ok(())
    }
}

fn usage() -> ! {
    eprintln!("usage: feedback_pipeline [GENERATIONS [SEED]]   (default: 12 generations)");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let generations = match args.next() {
        None => DEFAULT_GENERATIONS,
        Some(a) => a.parse::<u64>().unwrap_or_else(|_| usage()),
    };
    let seed = match args.next() {
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        Some(a) => a.parse::<u64>().unwrap_or_else(|_| usage()),
    };
    if args.next().is_some() {
        usage();
    }

    let sched = Scheduler::new();
    sched.spawn(pipeline![
        circular:
        Threaded::new(LSystem { generations }),
        ConsoleEchoer::new().tag("\n").forwarder(true),
        Damage { rng: Rng::new(seed) },
    ]);
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("feedback_pipeline did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
