//! A TCP line chat: every line a client sends goes to every other client.
//!
//! ```text
//! cargo run --example chat_server                 # 127.0.0.1:1602
//! cargo run --example chat_server -- --port 0     # any free port
//! nc 127.0.0.1 1602        (in two or more terminals)
//! ```
//!
//! The first line printed is `listening on 127.0.0.1:<port>`.
//!
//! The shape: a [`ServerCore`] makes one `ChatClient` protocol component per connection, and
//! one `ChatHub` component relays lines between them. The hub registers itself as the
//! service `"chat-hub"`; each `ChatClient` looks it up when it starts, links its `tohub`
//! outbox to the hub's inbox and says `Join`. The hub then adds an outbox for that client
//! and links it to the client's `fromhub` inbox (an adaptive component, as Kamaelia's
//! Backplane is). Lines are shared as `Arc<str>`, so a line sent to a hundred clients is one
//! allocation; the connection writes an `Arc<str>` as it is.
//!
//! A client that reads slowly does not hold up the others: its `fromhub` inbox holds at most
//! [`FROM_HUB`] lines, and the hub drops lines for a client whose inbox is full (saying so in
//! the log) rather than buffering without bound.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use kamaelia::axon::internet::server_core::{ConnectionInfo, ServerCore};
use kamaelia::axon::ipc::{stop_kind, StopKind};
use kamaelia::axon::{BoxSpec, Component, ComponentId, ComponentResult, Ctx, Message, Scheduler};

/// How many lines may wait for one client before the hub drops lines for it.
const FROM_HUB: usize = 256;
/// The longest line kept; longer ones are cut (and the rest taken as the next line).
const MAX_LINE: usize = 4096;

/// Messages from a client to the hub.
enum ToHub {
    Join { client: ComponentId, name: String },
    Line { from: ComponentId, text: Arc<str> },
    Leave { client: ComponentId },
}

// ----- the hub ---------------------------------------------------------------------------------

/// Relays each line to every client but its sender.
struct ChatHub;

impl Component for ChatHub {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        // client -> (its name, the outbox that reaches its "fromhub" inbox)
        let mut clients: BTreeMap<ComponentId, (String, String)> = BTreeMap::new();
        loop {
            while ctx.data_ready("inbox") > 0 {
                let Ok(msg) = ctx.recv("inbox")?.downcast::<ToHub>() else {
                    continue;
                };
                match msg {
                    ToHub::Join { client, name } => {
                        let outbox = ctx.add_outbox("client")?;
                        ctx.link((ctx.id(), &outbox), (client, "fromhub"))?;
                        let text: Arc<str> = format!("* {name} joined\n").into();
                        broadcast(&ctx, &clients, None, &text);
                        let welcome =
                            format!("* welcome, {name}; {} other(s) here\n", clients.len());
                        let _ = ctx.send(Arc::<str>::from(welcome), &outbox);
                        clients.insert(client, (name, outbox));
                    }
                    ToHub::Line { from, text } => broadcast(&ctx, &clients, Some(from), &text),
                    ToHub::Leave { client } => {
                        if let Some((name, outbox)) = clients.remove(&client) {
                            ctx.delete_outbox(&outbox)?;
                            let text: Arc<str> = format!("* {name} left\n").into();
                            broadcast(&ctx, &clients, None, &text);
                        }
                    }
                }
            }
            if let Ok(m) = ctx.recv("control") {
                if stop_kind(&m).is_some() {
                    ctx.send(m, "signal")?;
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// Sends `text` to every client except `except`; a client whose inbox is full misses it.
fn broadcast(
    ctx: &Ctx,
    clients: &BTreeMap<ComponentId, (String, String)>,
    except: Option<ComponentId>,
    text: &Arc<str>,
) {
    for (&client, (name, outbox)) in clients {
        if Some(client) == except {
            continue;
        }
        if let Err(e) = ctx.send(text.clone(), outbox) {
            log::warn!("chat: {name} reads too slowly; a line was dropped for them ({e})");
        }
    }
}

// ----- one client's protocol -----------------------------------------------------------------

const CLIENT_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Bytes from the client"),
    BoxSpec::new("control", "ProducerFinished or ShutdownMicroprocess"),
    BoxSpec::new("fromhub", "Lines from the other clients, as Arc<str>"),
];

const CLIENT_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Bytes to the client"),
    BoxSpec::new("signal", "Passes on the stop message"),
    BoxSpec::new("tohub", "Join, Line and Leave for the hub"),
];

/// Splits what the client sends into lines for the hub, and passes the hub's lines to the
/// client.
struct ChatClient {
    peer: SocketAddr,
}

impl Component for ChatClient {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(CLIENT_INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(CLIENT_OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let me = ctx.id();
        let name = self.peer.to_string();
        ctx.set_inbox_size("fromhub", Some(FROM_HUB))?;
        let (hub, hub_inbox) = ctx.retrieve_service("chat-hub")?;
        ctx.link((me, "tohub"), (hub, &hub_inbox))?;
        ctx.send(
            ToHub::Join {
                client: me,
                name: name.clone(),
            },
            "tohub",
        )?;

        let mut partial: Vec<u8> = Vec::new();
        let mut held: Option<Message> = None; // a line the connection had no room for
        let stop = loop {
            // The client's bytes, cut into lines.
            while let Ok(m) = ctx.recv("inbox") {
                partial.extend_from_slice(&m.downcast::<Vec<u8>>()?);
                while let Some(end) = partial
                    .iter()
                    .position(|&b| b == b'\n')
                    .or((partial.len() >= MAX_LINE).then_some(MAX_LINE - 1))
                {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line);
                    let line = line.trim_end_matches(['\r', '\n']);
                    let text: Arc<str> = format!("{name}: {line}\n").into();
                    ctx.send(ToHub::Line { from: me, text }, "tohub")?;
                }
            }
            // The others' lines, to the client, as fast as the connection takes them.
            loop {
                let m = match held.take() {
                    Some(m) => m,
                    None => match ctx.recv("fromhub") {
                        Ok(m) => m,
                        Err(_) => break,
                    },
                };
                if let Err(e) = ctx.send(m, "outbox") {
                    if !e.is_full() {
                        return Err(e.into());
                    }
                    held = Some(e.into_message());
                    break;
                }
            }
            if let Ok(m) = ctx.recv("control") {
                match stop_kind(&m) {
                    // The client left (or the connection failed): go.
                    Some(StopKind::Finish) | Some(StopKind::Now) => break m,
                    None => {} // a SocketError; ShutdownMicroprocess follows
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        };
        ctx.send(ToHub::Leave { client: me }, "tohub")?;
        let _ = ctx.send(stop, "signal");
        Ok(())
    }
}

fn port_from_args() -> u16 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().position(|a| a == "--port") {
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                eprintln!("usage: chat_server [--port N]");
                std::process::exit(2)
            }),
        None => 1602,
    }
}

fn main() {
    env_logger::init();
    let server = match ServerCore::new(port_from_args(), |info: ConnectionInfo| ChatClient {
        peer: info.peer,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("chat_server: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();

    let sched = Scheduler::new();
    let root = sched.root();
    let hub = root.spawn(ChatHub);
    root.register_service("chat-hub", (hub, "inbox")).unwrap();
    root.spawn(server);
    let report = sched.run();
    eprintln!("chat_server: stopped: {report:?}");
}
