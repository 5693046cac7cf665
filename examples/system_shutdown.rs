//! Axon's `Examples/SystemShutdown.py`: stopping a whole system from inside it.
//!
//! `ShutterDown` prints "tick" every half second, reading the clock from the scheduler
//! (Kamaelia's `scheduler.time`), and after two seconds prints "stopped" and stops the whole
//! scheduler (Kamaelia's `scheduler.stop()`). `Eternal` would stay paused for ever; when the
//! scheduler stops it, its body is dropped, and a guard in the body says so, as the Python
//! `Eternal.stop()` override does.
//!
//! ```text
//! cargo run --example system_shutdown
//! ```
//!
//! The Python version busy-yields between ticks; this one sleeps until the next thing it has
//! to do, so it prints the same lines without using a core.

use std::time::{Duration, Instant};

use kamaelia::axon::{component, Ctx, Scheduler};

const TICK: Duration = Duration::from_millis(500);
const RUN_FOR: Duration = Duration::from_secs(2);

/// Runs when `Eternal`'s body is dropped: Kamaelia's overridden `stop()`.
struct OnStop;

impl Drop for OnStop {
    fn drop(&mut self) {
        println!("Urgent shutdown here, honest gov!");
    }
}

async fn shutter_down(ctx: Ctx) -> kamaelia::axon::ComponentResult {
    let mut lasttick = ctx.scheduler_time();
    let start = lasttick;
    println!("tick");
    loop {
        let now = ctx.scheduler_time();
        if now - start > RUN_FOR {
            break;
        }
        if now - lasttick > TICK {
            println!("tick");
            lasttick = now;
        }
        // Kamaelia yields here and looks again; sleep until just past the next deadline.
        let next: Instant = (lasttick + TICK).min(start + RUN_FOR);
        ctx.sleep(next.saturating_duration_since(now) + Duration::from_millis(1))
            .await;
    }
    println!("stopped");
    ctx.stop_scheduler();
    Ok(())
}

async fn eternal(ctx: Ctx) -> kamaelia::axon::ComponentResult {
    let _on_stop = OnStop;
    loop {
        ctx.pause();
        ctx.yield_now().await;
    }
}

fn main() {
    let sched = Scheduler::new();
    sched.spawn(component("Eternal", eternal));
    sched.spawn(component("ShutterDown", shutter_down));
    let report = sched.run();
    // Being stopped is how this example ends; anything else is a fault.
    if !report.failures.is_empty() || !report.left_paused.is_empty() || !report.stopped {
        eprintln!("{report:?}");
        std::process::exit(1);
    }
}
