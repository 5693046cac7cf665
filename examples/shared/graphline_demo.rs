//! The components shared by the three Graphline shutdown demos (Kamaelia's DemoShutdown.py,
//! LinkedShutdown.py and FailShutdown.py each define the same Pinger, Waiter and Whinger).

use std::time::Duration;

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::{
    component, Component, ComponentResult, Ctx, Message, ThreadCtx, ThreadedComponent,
};

/// Sleeps a second before each item of `tosend`, then sends a new `ProducerFinished` out of
/// `out` and says which item it was (the Python `Pinger`, whose `box` is `out` here: `box` is
/// a Rust keyword).
pub struct Pinger {
    pub tosend: Vec<ProducerFinished>,
    pub out: &'static str,
}

impl ThreadedComponent for Pinger {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        for item in self.tosend {
            std::thread::sleep(Duration::from_secs(1));
            if ctx.should_stop() {
                return Ok(());
            }
            ctx.send(ProducerFinished::default(), self.out)?;
            println!("PINGER: sent {}", show(&Message::new(item)));
        }
        Ok(())
    }
}

/// Says it is waiting, waits for a message on `control`, says what it was, passes it on out
/// of `signal` and ends (the Python `Waiter`).
pub fn waiter() -> impl Component {
    component("Waiter", |ctx: Ctx| async move {
        let id = ctx.component_name().number();
        println!("WAITER {id} waiting");
        while ctx.data_ready("control") == 0 {
            if ctx.any_ready().is_none() {
                ctx.pause();
            }
            ctx.yield_now().await;
        }
        let msg = ctx.recv("control")?;
        println!("WAITER {id} shutting down having recieved: {}", show(&msg));
        ctx.send(msg, "signal")?;
        ctx.yield_now().await;
        Ok(())
    })
}

/// Complains every second until something reaches its `control` (the Python `Whinger`).
pub struct Whinger;

impl ThreadedComponent for Whinger {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        while ctx.data_ready("control") == 0 {
            if ctx.should_stop() {
                return Ok(());
            }
            println!("WHINGER: waiting for shutdown");
            std::thread::sleep(Duration::from_secs(1));
        }
        println!("WHINGER: shutdown");
        Ok(())
    }
}

/// A message as the demos print it: `<` its type `>`, standing in for Python's default repr.
pub fn show(m: &Message) -> String {
    format!("<{}>", m.type_name())
}
