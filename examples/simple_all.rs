//! Axon's `Examples/Simple/all.py`: a parent with two children, a Producer whose "result"
//! outbox feeds a Consumer's "source" inbox, whose own "result" comes back to the parent's
//! "_input". The boxes are declared list-style (names without descriptions).
//!
//! ```text
//! cargo run --example simple_all
//! ```

use std::borrow::Cow;

use kamaelia::axon::{BoxSpec, Component, ComponentResult, Ctx, Scheduler};

const SOURCE: &[BoxSpec] = &[BoxSpec::new("source", "")];
const RESULT: &[BoxSpec] = &[BoxSpec::new("result", "")];
const INPUT: &[BoxSpec] = &[BoxSpec::new("_input", "")];

struct Consumer;

impl Component for Consumer {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        SOURCE.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        RESULT.into()
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        ctx.yield_now().await;
        let mut result: Option<String> = None;
        for _ in 0..30 {
            result = if ctx.data_ready("source") > 0 {
                let op: String = ctx.recv_as("source")?;
                println!("{} received -->  {}", ctx.name(), op);
                Some(op)
            } else {
                None
            };
            ctx.yield_now().await;
        }
        println!("Consumer has finished consumption !!!");
        ctx.send(result, "result")?;
        Ok(())
    }
}

struct Producer;

impl Component for Producer {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(&[])
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        RESULT.into()
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        for i in (0..30).rev() {
            ctx.send(format!("hello{i}"), "result")?;
            println!("{}  sent --> hello{i}", ctx.name());
            ctx.yield_now().await;
        }
        println!("Producer has finished production !!!");
        Ok(())
    }
}

struct TestComponent;

impl Component for TestComponent {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        INPUT.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(&[])
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let producer = ctx.create(Producer);
        let consumer = ctx.create(Consumer);
        ctx.add_children(&[producer, consumer])?;
        ctx.link((producer, "result"), (consumer, "source"))?;
        ctx.link((consumer, "result"), (ctx.id(), "_input"))?;
        // Kamaelia's `yield newComponent(*self.childComponents())`.
        for child in ctx.children() {
            ctx.activate(child)?;
        }
        ctx.yield_now().await;
        while ctx.data_ready("_input") == 0 {
            ctx.yield_now().await;
        }
        let result: Option<String> = ctx.recv_as("_input")?;
        println!(
            "consumer finished with result:  {} !",
            result.as_deref().unwrap_or("None")
        );
        Ok(())
    }
}

fn main() {
    let sched = Scheduler::new();
    sched.spawn(TestComponent);
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("{report:?}");
        std::process::exit(1);
    }
}
