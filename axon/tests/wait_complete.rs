//! Kamaelia's `WaitComplete` (spec A4.6): a component hands control to a sub-task and resumes
//! when it completes. In Rust the sub-task is any future awaited in the body. Python 3's Axon
//! silently ends the whole scheduler when such a sub-generator finishes (spec (f)8); here the
//! component resumes and every other component keeps running.

mod common;

use std::sync::{Arc, Mutex};

use axon::{component, Ctx, Scheduler};
use common::Log;

/// A sub-task that yields a few times and pauses once, like a WaitComplete sub-generator.
async fn sub_task(ctx: &Ctx, log: &Log) -> u32 {
    for i in 0..3 {
        log.lock().unwrap().push(format!("sub {i}"));
        ctx.yield_now().await;
    }
    // Pausing inside the sub-task pauses the component (Kamaelia could not do this).
    while ctx.data_ready("inbox") == 0 {
        ctx.pause();
        ctx.yield_now().await;
    }
    ctx.recv_as::<u32>("inbox").unwrap()
}

// new: spec A4.6 (the original resumes after the sub-task; nested sub-tasks work)
#[test]
fn component_resumes_after_its_sub_task_and_others_keep_running() {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let sched = Scheduler::new();
    let root = sched.root();
    let l1 = log.clone();
    let waiter = root.spawn(component("Waiter", move |ctx: Ctx| async move {
        l1.lock().unwrap().push("before".into());
        let got = sub_task(&ctx, &l1).await;
        // A nested sub-task, awaited the same way.
        let doubled = async { got * 2 }.await;
        l1.lock().unwrap().push(format!("after {doubled}"));
        Ok(())
    }));
    let l2 = log.clone();
    let other = root.spawn(component("Other", move |ctx: Ctx| async move {
        for i in 0..5 {
            l2.lock().unwrap().push(format!("other {i}"));
            ctx.yield_now().await;
        }
        Ok(())
    }));
    root.link((other, "outbox"), (waiter, "inbox")).unwrap();
    // Run until the waiter is paused inside its sub-task and the other has finished.
    let report = sched.run();
    assert_eq!(report.left_paused.len(), 1, "{report:?}");
    {
        let log = log.lock().unwrap();
        assert!(log.contains(&"sub 2".to_string()));
        assert!(log.contains(&"other 4".to_string()));
        assert!(!log.iter().any(|l| l.starts_with("after")));
    }
    // A message ends the sub-task's wait; the component resumes after it.
    sched.ctx(waiter).deliver(21u32, "inbox").unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(log.lock().unwrap().last().unwrap(), "after 42");
}
