//! Helpers shared by axon's integration tests. Each test file that needs them says
//! `mod common;` and uses the few it wants, so most of them are unused in any one test binary.
//!
//! Each test file keeps its own time limit and passes it to [`within`].

#![allow(dead_code)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::ipc::{stop_kind, ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::{component, Component, ComponentId, ComponentResult, Ctx, Message, Scheduler};

/// Runs `f` on a new thread and returns its result, so that a hung scheduler cannot hang the
/// test run: fails the test if `f` has not finished after `limit`, and re-raises its panic
/// (a failed assertion) if it panicked.
pub fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    // Named after the test, so that a panic in `f` names the test that failed.
    let mut thread = std::thread::Builder::new();
    if let Some(name) = std::thread::current().name() {
        thread = thread.name(name.to_string());
    }
    thread
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("the test thread starts");
    match rx.recv_timeout(limit) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {limit:?}: it hung")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            unreachable!("the test thread ended without a result")
        }
    }
}

/// A component that never runs: the test reads what reaches its inboxes.
pub fn sink(root: &Ctx, label: &'static str) -> ComponentId {
    root.create(component(label, |_| async { Ok(()) }))
}

/// Everything waiting in `inbox` of `c`.
pub fn drain(sched: &Scheduler, c: ComponentId, inbox: &str) -> Vec<Message> {
    let ctx = sched.ctx(c);
    std::iter::from_fn(|| ctx.recv(inbox).ok()).collect()
}

/// Everything waiting in `inbox` of `c`, as `T`s.
pub fn drain_as<T: 'static>(sched: &Scheduler, c: ComponentId, inbox: &str) -> Vec<T> {
    drain(sched, c, inbox)
        .into_iter()
        .map(|m| m.downcast::<T>().unwrap())
        .collect()
}

/// Steps the scheduler until `done` says so, sleeping a millisecond between cycles (the
/// [`within`] timeout bounds it).
pub fn step_until(sched: &Scheduler, mut done: impl FnMut() -> bool) {
    while !done() {
        sched.step(1);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The three stop messages, each with whether it asks to stop now (`true`) or to finish
/// first (`false`).
pub fn stops() -> Vec<(Message, bool)> {
    vec![
        (Message::new(ProducerFinished::default()), false),
        (Message::new(ShutdownMicroprocess::default()), true),
        (Message::new(Shutdown), true),
    ]
}

/// A log that components write to and the test reads.
pub type Log = Arc<Mutex<Vec<String>>>;

/// What `log` holds now.
pub fn log_of(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Sends its numbers, one per cycle, then `ProducerFinished` on `signal`, and ends (like the
/// `fruitSource` of Pipeline.py's `__main__`).
pub struct Source(pub Vec<u32>);

impl Component for Source {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        for n in self.0 {
            ctx.send(n, "outbox")?;
            ctx.yield_now().await;
        }
        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
        Ok(())
    }
}

/// Applies a function to each number; on a stop message it passes it on out of `signal` and
/// ends (after its inbox, which it always empties first).
pub struct Map(pub fn(u32) -> u32);

impl Component for Map {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            while let Ok(n) = ctx.recv_as::<u32>("inbox") {
                ctx.send((self.0)(n), "outbox")?;
            }
            while let Ok(msg) = ctx.recv("control") {
                if stop_kind(&msg).is_some() {
                    ctx.send(msg, "signal")?;
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
