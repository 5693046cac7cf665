//! `TorrentService` (Kamaelia's `TorrentService.py`, rule C4): one torrent client shared by
//! many [`TorrentPatron`](crate::patron::TorrentPatron)s.
//!
//! The service owns one client child, made by a [`ClientFactory`] (the real TorrentClient, or
//! a test double), and is registered as two services: [`SERVICE_NAME`] (`"torrentsrv"`, its
//! `notify` inbox, where patrons talk to it) and [`SHUTDOWN_SERVICE_NAME`]
//! (`"torrentsrvshutdown"`, its `control` inbox). Patrons use
//! [`TorrentService::get_torrent_services`], which returns the live service or makes one.
//!
//! Routing is the original's: each patron gets an outbox (`clientoutbox`, `clientoutbox1`, ...)
//! linked to its reply inbox; create requests are queued in the order they are passed to the
//! client, and the client's answers to them (`TIPCNewTorrentCreated`,
//! `TIPCTorrentAlreadyDownloading`, `TIPCTorrentStartFail`) go to the patrons in that order;
//! the creator of a torrent owns it, and later messages about it (status updates) go to its
//! owner by torrent id.
//!
//! Differences from the original, on purpose (spec (f) 3-5):
//!
//! - Removing a patron really unlinks and deletes its outbox, and closes its torrents: the
//!   client is sent a `TIPCCloseTorrent` for each torrent the patron owns (and for one
//!   created for it after it left), and the service forgets them. The original only deleted
//!   the outbox and kept the maps, so a patron that left while others stayed left its
//!   torrents running with no owner: nobody could close them (a patron may close only its
//!   own) and their status went nowhere, until the last patron left.
//! - A status update for a torrent nobody owns is logged and dropped, not a `KeyError`.
//! - A patron may close only its own torrents. A `TIPCCloseTorrent` for a torrent it does not
//!   own (another patron's, or an unknown id) is not passed to the client: the patron gets a
//!   [`TIPCTorrentStartFail`] whose reason starts with `"close refused"`. This answer is not
//!   counted among the create replies, so it cannot put them out of step.
//! - Raw create requests (`Vec<u8>`, `String` or `&'static str`) are passed to the client as a
//!   [`TIPCCreateNewTorrent`] with no save folder, so a client handles one type only.
//! - When the last patron leaves, the client is told to stop (`ShutdownMicroprocess` on its
//!   `control`); once it has ended the service deregisters both names and ends, so that the
//!   scheduler can return. The original deregistered, then looped and waited for ever. If a new
//!   patron arrived while the client was stopping, a fresh client is made and the service
//!   carries on (the original's restart path raised `NameError`); requests the old client never
//!   answered get a [`TIPCTorrentStartFail`].
//! - `ProducerFinished`, `ShutdownMicroprocess` and the legacy `Shutdown` on `control` all stop
//!   the service the same way (the original knew `shutdown` only, and returned at once without
//!   stopping its client or deregistering): both names are deregistered at once, so that a
//!   patron arriving from then on makes a fresh service instead of joining this dying one;
//!   what is waiting on `notify` and `inbox` is handled, then the client is stopped and waited
//!   for. Its last answers are routed, the create requests it did not answer get a
//!   [`TIPCTorrentStartFail`], and so do those the patrons sent meanwhile ("the torrent
//!   service has stopped"). Last, in the same run as it ends, the service sends
//!   [`TorrentServiceStopped`] to each patron still there: every reply to that patron's
//!   earlier requests comes before it, and the patron answers its later create requests
//!   itself (see [`TorrentPatron`](crate::patron::TorrentPatron)), so that each create request
//!   still gets exactly one reply. A service told to stop does not start again by itself: it
//!   was told to stop the shared client, and a patron that wants one again can start afresh.
//! - If the client ends on its own while patrons remain, the requests it did not answer get a
//!   [`TIPCTorrentStartFail`], and so do later create requests; other requests are logged and
//!   dropped.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axon::ipc::{stop_kind, ShutdownMicroprocess};
use axon::{
    AnyComponent, BoxSpec, Component, ComponentId, ComponentResult, Ctx, Error, Linkage, Message,
};

use crate::ipc::{
    ReplyService, TIPCCloseTorrent, TIPCCreateNewTorrent, TIPCNewTorrentCreated, TIPCServiceAdd,
    TIPCServicePassOn, TIPCServiceRemove, TIPCTorrentAlreadyDownloading, TIPCTorrentStartFail,
    TIPCTorrentStatusUpdate,
};

/// The service name patrons talk to: the service's `notify` inbox (Kamaelia's `"torrentsrv"`).
pub const SERVICE_NAME: &str = "torrentsrv";

/// The service name that stops the service: its `control` inbox (Kamaelia's
/// `"torrentsrvshutdown"`).
pub const SHUTDOWN_SERVICE_NAME: &str = "torrentsrvshutdown";

/// Makes the torrent client a [`TorrentService`] owns. The client must have the boxes `inbox`,
/// `control`, `outbox` and `signal`; it answers each create request with exactly one reply,
/// in order, and ends when told to stop on `control`.
///
/// ```
/// use std::sync::Arc;
/// use axon::{component, AnyComponent};
/// use kamaelia_torrent::service::ClientFactory;
///
/// // A client that ends at once: enough to show the type.
/// let factory: ClientFactory = Arc::new(|| AnyComponent::new(component("Idle", |_| async { Ok(()) })));
/// assert_eq!(axon::Component::label(&factory()), "Idle");
/// ```
pub type ClientFactory = Arc<dyn Fn() -> AnyComponent + Send + Sync>;

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "control",
        "ProducerFinished, ShutdownMicroprocess or Shutdown: stop the client, deregister, end",
    ),
    BoxSpec::new("inbox", "Connects to TorrentClient (the BitTorrent code)"),
    BoxSpec::new(
        "notify",
        "From patrons: TIPCServiceAdd, TIPCServiceRemove, TIPCServicePassOn",
    ),
    BoxSpec::new("_torrentcontrol", "Notice that TorrentClient has shutdown"),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "signal",
        "ShutdownMicroprocess to the client's control, to stop it",
    ),
    BoxSpec::new("outbox", "Connects to TorrentClient (the BitTorrent code)"),
    BoxSpec::new("debug", "Information that may aid debugging (text)"),
];

/// The base name of the outbox made for each patron.
const CLIENT_OUTBOX: &str = "clientoutbox";

/// Sent by a [`TorrentService`] that was told to stop to each of its patrons (on their reply
/// inbox), after every reply to their earlier requests and just before the service ends. A
/// [`TorrentPatron`](crate::patron::TorrentPatron) then answers each later create request
/// itself with a [`TIPCTorrentStartFail`] ([`SERVICE_STOPPED`]), and sends nothing more to
/// the service.
///
/// ```
/// use kamaelia_torrent::service::TorrentServiceStopped;
/// assert_eq!(TorrentServiceStopped, TorrentServiceStopped::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TorrentServiceStopped;

/// The reason in the [`TIPCTorrentStartFail`] that answers a create request made after the
/// service was told to stop.
pub const SERVICE_STOPPED: &str = "the torrent service has stopped";

/// Shares one torrent client among many patrons (Kamaelia's `TorrentService`, rule C4; see
/// the module documentation for the routing and for what differs from the original).
///
/// Use [`TorrentPatron`](crate::patron::TorrentPatron) rather than talking to this directly.
///
/// ```
/// use std::sync::Arc;
/// use axon::{component, AnyComponent, Scheduler};
/// use kamaelia_torrent::ipc::TIPCServiceAdd;
/// use kamaelia_torrent::service::{ClientFactory, TorrentService, SERVICE_NAME};
///
/// // A stand-in client that ends when told to on its control.
/// let factory: ClientFactory = Arc::new(|| {
///     AnyComponent::new(component("FakeClient", |ctx| async move {
///         while ctx.data_ready("control") == 0 {
///             ctx.pause();
///             ctx.yield_now().await;
///         }
///         Ok(())
///     }))
/// });
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let found = TorrentService::get_torrent_services(&root, &factory).unwrap();
/// let svc = found.new.expect("none was running, so one was made");
/// assert_eq!(root.retrieve_service(SERVICE_NAME).unwrap(), (svc, "notify".to_string()));
///
/// // One patron comes (the root's inbox stands for its reply inbox)...
/// root.link((root.id(), "outbox"), (svc, "notify")).unwrap();
/// let me = (root.id(), "inbox".to_string());
/// root.send(TIPCServiceAdd { reply_service: me.clone() }, "outbox").unwrap();
/// sched.run();
/// // ... and goes: the service stops its client, deregisters and ends.
/// root.send(kamaelia_torrent::ipc::TIPCServiceRemove { reply_service: me }, "outbox").unwrap();
/// assert!(sched.run().is_clean());
/// assert!(root.services().is_empty());
/// ```
pub struct TorrentService {
    factory: ClientFactory,
}

/// What [`TorrentService::get_torrent_services`] found or made (Kamaelia's
/// `(service, shutdownservice, newOrNone)`).
///
/// ```
/// use std::sync::Arc;
/// use axon::{component, AnyComponent, Scheduler};
/// use kamaelia_torrent::service::{ClientFactory, TorrentService};
///
/// let factory: ClientFactory = Arc::new(|| AnyComponent::new(component("C", |_| async { Ok(()) })));
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let first = TorrentService::get_torrent_services(&root, &factory).unwrap();
/// let again = TorrentService::get_torrent_services(&root, &factory).unwrap();
/// assert!(first.new.is_some());
/// assert_eq!(again.new, None); // the live one is shared
/// assert_eq!(again.service, first.service);
/// assert_eq!(again.shutdown.1, "control");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentServices {
    /// The service's `notify` inbox: where patrons send their messages.
    pub service: (ComponentId, String),
    /// The service's `control` inbox: a stop message there stops it.
    pub shutdown: (ComponentId, String),
    /// The service, if this call made it (it is then activated and the caller's child).
    pub new: Option<ComponentId>,
}

impl TorrentService {
    /// A service whose client `factory` makes. Prefer
    /// [`get_torrent_services`](Self::get_torrent_services), which shares a live one.
    pub fn new(factory: ClientFactory) -> TorrentService {
        TorrentService { factory }
    }

    /// The live service of `ctx`'s scheduler, or a new one (Kamaelia's `getTorrentServices`).
    ///
    /// A new one is made with `factory`, registered under both names, activated (the original
    /// left that to the caller) and adopted as a child of `ctx`'s component.
    pub fn get_torrent_services(
        ctx: &Ctx,
        factory: &ClientFactory,
    ) -> Result<TorrentServices, Error> {
        if let Ok(service) = ctx.retrieve_service(SERVICE_NAME) {
            let shutdown = ctx
                .retrieve_service(SHUTDOWN_SERVICE_NAME)
                .unwrap_or_else(|_| (service.0, "control".to_string()));
            return Ok(TorrentServices {
                service,
                shutdown,
                new: None,
            });
        }
        let svc = ctx.create(TorrentService::new(factory.clone()));
        Self::set_torrent_services(ctx, svc)?;
        ctx.activate(svc)?;
        ctx.add_children(&[svc])?;
        Ok(TorrentServices {
            service: (svc, "notify".to_string()),
            shutdown: (svc, "control".to_string()),
            new: Some(svc),
        })
    }

    /// Registers `svc` as [`SERVICE_NAME`] (its `notify`) and [`SHUTDOWN_SERVICE_NAME`] (its
    /// `control`) (Kamaelia's `setTorrentServices`).
    pub fn set_torrent_services(ctx: &Ctx, svc: ComponentId) -> Result<(), Error> {
        ctx.register_service(SERVICE_NAME, (svc, "notify"))?;
        if let Err(e) = ctx.register_service(SHUTDOWN_SERVICE_NAME, (svc, "control")) {
            let _ = ctx.deregister_service(SERVICE_NAME);
            return Err(e);
        }
        Ok(())
    }

    /// Deregisters both names (Kamaelia's `endTorrentServices`), each only if it still names
    /// `svc`, so that a stopping service never removes a newer one.
    pub fn end_torrent_services(ctx: &Ctx, svc: ComponentId) {
        for name in [SERVICE_NAME, SHUTDOWN_SERVICE_NAME] {
            if ctx.retrieve_service(name).is_ok_and(|(c, _)| c == svc) {
                let _ = ctx.deregister_service(name);
            }
        }
    }
}

/// The service's bookkeeping while it runs.
struct State {
    /// Each patron's outbox, and the linkage from it to the patron's reply inbox.
    outbox_for: HashMap<ReplyService, (String, Linkage)>,
    /// Who created each torrent of the current client.
    belongs_to: HashMap<u32, ReplyService>,
    /// Patrons whose create requests await an answer, oldest first (Kamaelia's `pendingAdd`).
    pending: VecDeque<ReplyService>,
    /// The current client, while it runs.
    client: Option<ComponentId>,
    /// The service was told to stop: it is ending, and will not start a client again.
    stopping: bool,
}

/// Sends a line to the (normally unlinked) `debug` outbox and to the log.
fn debug(ctx: &Ctx, text: String) {
    log::debug!("{}: {}", ctx.name(), text);
    let _ = ctx.send(text, "debug");
}

/// A create request in any of its forms, as a `TIPCCreateNewTorrent`; other messages back.
pub(crate) fn as_create(m: Message) -> Result<TIPCCreateNewTorrent, Message> {
    if m.is::<TIPCCreateNewTorrent>() {
        return m
            .downcast::<TIPCCreateNewTorrent>()
            .map_err(|e| e.into_message());
    }
    let raw = if m.is::<Vec<u8>>() {
        m.downcast::<Vec<u8>>().map_err(|e| e.into_message())?
    } else if m.is::<String>() {
        m.downcast::<String>()
            .map_err(|e| e.into_message())?
            .into_bytes()
    } else if m.is::<&'static str>() {
        m.downcast::<&'static str>()
            .map_err(|e| e.into_message())?
            .as_bytes()
            .to_vec()
    } else {
        return Err(m);
    };
    Ok(TIPCCreateNewTorrent {
        raw_metainfo: raw,
        save_folder: None,
    })
}

impl State {
    /// Sends `msg` to a patron through its outbox (Kamaelia's `sendToClient`); a patron that
    /// has left, or a full inbox, is logged.
    fn send_to_patron<T: Send + 'static>(&self, ctx: &Ctx, msg: T, to: &ReplyService) {
        match self.outbox_for.get(to) {
            Some((outbox, _)) => {
                if let Err(e) = ctx.send(msg, outbox) {
                    log::warn!("{}: reply to {} lost: {e}", ctx.name(), ctx.name_of(to.0));
                }
            }
            None => debug(
                ctx,
                format!(
                    "reply for {} dropped: it is not (or no longer) a patron",
                    ctx.name_of(to.0)
                ),
            ),
        }
    }

    /// Kamaelia's `addClient`: an outbox linked to the patron's reply inbox.
    fn add_client(&mut self, ctx: &Ctx, rs: ReplyService) -> Result<(), Error> {
        if self.outbox_for.contains_key(&rs) {
            debug(ctx, format!("{} added twice", ctx.name_of(rs.0)));
            return Ok(());
        }
        let outbox = ctx.add_outbox(CLIENT_OUTBOX)?;
        match ctx.link((ctx.id(), &outbox), (rs.0, &rs.1)) {
            Ok(l) => {
                self.outbox_for.insert(rs, (outbox, l));
                Ok(())
            }
            Err(e) => {
                log::warn!(
                    "{}: cannot reach patron {}: {e}",
                    ctx.name(),
                    ctx.name_of(rs.0)
                );
                ctx.delete_outbox(&outbox)
            }
        }
    }

    /// Kamaelia's `removeClient`, fixed: unlink and delete the outbox, close the patron's
    /// torrents and forget them (the original deleted the outbox only, and left the torrents
    /// running with no owner). Its place in the queue of create requests stays, so that the
    /// replies stay in step.
    fn remove_client(&mut self, ctx: &Ctx, rs: &ReplyService) -> ComponentResult {
        if let Some((outbox, linkage)) = self.outbox_for.remove(rs) {
            ctx.unlink(&linkage);
            ctx.delete_outbox(&outbox)?;
        }
        let mut owned: Vec<u32> = self
            .belongs_to
            .iter()
            .filter(|&(_, owner)| owner == rs)
            .map(|(&id, _)| id)
            .collect();
        owned.sort_unstable();
        self.belongs_to.retain(|_, owner| owner != rs);
        for torrent_id in owned {
            self.close_orphan(ctx, torrent_id, rs)?;
        }
        Ok(())
    }

    /// Tells the client to close `torrent_id`, whose owner `rs` has left.
    fn close_orphan(&self, ctx: &Ctx, torrent_id: u32, rs: &ReplyService) -> ComponentResult {
        if self.client.is_none() {
            return Ok(());
        }
        debug(
            ctx,
            format!(
                "closing torrent {torrent_id}: its patron {} has left",
                ctx.name_of(rs.0)
            ),
        );
        ctx.send(TIPCCloseTorrent { torrent_id }, "outbox")?;
        Ok(())
    }

    /// A patron's wrapped request.
    fn pass_on(&mut self, ctx: &Ctx, p: TIPCServicePassOn) -> ComponentResult {
        let rs = p.reply_service;
        let inner = match as_create(p.message) {
            Ok(create) => {
                if self.client.is_none() {
                    let reason = if self.stopping {
                        SERVICE_STOPPED.to_string()
                    } else {
                        "the torrent client has ended".to_string()
                    };
                    self.send_to_patron(ctx, TIPCTorrentStartFail { reason }, &rs);
                } else {
                    self.pending.push_back(rs);
                    ctx.send(create, "outbox")?;
                }
                return Ok(());
            }
            Err(m) => m,
        };
        if let Some(close) = inner.downcast_ref::<TIPCCloseTorrent>().copied() {
            if self.belongs_to.get(&close.torrent_id) != Some(&rs) {
                let reason = format!(
                    "close refused: torrent {} does not belong to this patron",
                    close.torrent_id
                );
                self.send_to_patron(ctx, TIPCTorrentStartFail { reason }, &rs);
                return Ok(());
            }
            self.belongs_to.remove(&close.torrent_id);
        }
        if self.client.is_some() {
            ctx.send(inner, "outbox")?;
        } else {
            debug(
                ctx,
                format!("{} dropped: the client has ended", inner.type_name()),
            );
        }
        Ok(())
    }

    /// Everything waiting on `notify`.
    fn drain_notify(&mut self, ctx: &Ctx) -> ComponentResult {
        while ctx.data_ready("notify") > 0 {
            let m = ctx.recv("notify")?;
            if m.is::<TIPCServiceAdd>() {
                self.add_client(ctx, m.downcast::<TIPCServiceAdd>()?.reply_service)?;
            } else if m.is::<TIPCServiceRemove>() {
                self.remove_client(ctx, &m.downcast::<TIPCServiceRemove>()?.reply_service)?;
            } else if m.is::<TIPCServicePassOn>() {
                self.pass_on(ctx, m.downcast::<TIPCServicePassOn>()?)?;
            } else {
                debug(ctx, format!("unexpected {} on notify", m.type_name()));
            }
        }
        Ok(())
    }

    /// The patron whose create request this reply answers, oldest first.
    fn next_pending(&mut self, ctx: &Ctx, what: &str) -> Option<ReplyService> {
        let rs = self.pending.pop_front();
        if rs.is_none() {
            log::warn!("{}: {what} answers no request; dropped", ctx.name());
        }
        rs
    }

    /// Everything waiting on `inbox`, from the client, routed.
    fn drain_inbox(&mut self, ctx: &Ctx) -> ComponentResult {
        while ctx.data_ready("inbox") > 0 {
            let m = ctx.recv("inbox")?;
            if m.is::<TIPCNewTorrentCreated>() {
                let created = m.downcast::<TIPCNewTorrentCreated>()?;
                if let Some(rs) = self.next_pending(ctx, "TIPCNewTorrentCreated") {
                    if self.outbox_for.contains_key(&rs) {
                        self.belongs_to.insert(created.torrent_id, rs.clone());
                        self.send_to_patron(ctx, created, &rs);
                    } else {
                        // Its patron left before the answer: nobody would own it.
                        self.close_orphan(ctx, created.torrent_id, &rs)?;
                    }
                }
            } else if m.is::<TIPCTorrentAlreadyDownloading>() {
                if let Some(rs) = self.next_pending(ctx, "TIPCTorrentAlreadyDownloading") {
                    self.send_to_patron(ctx, m, &rs);
                }
            } else if m.is::<TIPCTorrentStartFail>() {
                if let Some(rs) = self.next_pending(ctx, "TIPCTorrentStartFail") {
                    self.send_to_patron(ctx, m, &rs);
                }
            } else if let Some(update) = m.downcast_ref::<TIPCTorrentStatusUpdate>() {
                let id = update.torrent_id;
                match self.belongs_to.get(&id) {
                    Some(rs) => self.send_to_patron(ctx, m, rs),
                    None => debug(ctx, format!("status of torrent {id}, which nobody owns")),
                }
            } else {
                debug(ctx, format!("unexpected {} from the client", m.type_name()));
            }
        }
        Ok(())
    }

    /// The client has ended: whatever it did not answer fails, and its torrents are gone.
    fn client_gone(&mut self, ctx: &Ctx) {
        if let Some(c) = self.client.take() {
            ctx.remove_child(c);
        }
        while let Some(rs) = self.pending.pop_front() {
            let reason = "the torrent client ended before answering".to_string();
            self.send_to_patron(ctx, TIPCTorrentStartFail { reason }, &rs);
        }
        self.belongs_to.clear();
    }

    /// The last word to each patron still here: the service has stopped.
    fn tell_patrons_stopped(&self, ctx: &Ctx) {
        let mut patrons: Vec<&ReplyService> = self.outbox_for.keys().collect();
        patrons.sort();
        for rs in patrons {
            self.send_to_patron(ctx, TorrentServiceStopped, rs);
        }
    }
}

/// Makes, links and starts a client (Kamaelia's `initTorrentClient`).
fn start_client(ctx: &Ctx, factory: &ClientFactory) -> Result<ComponentId, Error> {
    let me = ctx.id();
    let c = ctx.create(factory());
    ctx.link((me, "outbox"), (c, "inbox"))?;
    ctx.link((me, "signal"), (c, "control"))?;
    ctx.link((c, "outbox"), (me, "inbox"))?;
    ctx.link((c, "signal"), (me, "_torrentcontrol"))?;
    ctx.add_children(&[c])?;
    ctx.activate(c)?;
    Ok(c)
}

impl Component for TorrentService {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        debug(&ctx, "Torrent service init".to_string());
        let mut st = State {
            outbox_for: HashMap::new(),
            belongs_to: HashMap::new(),
            pending: VecDeque::new(),
            client: Some(start_client(&ctx, &self.factory)?),
            stopping: false,
        };
        loop {
            st.drain_notify(&ctx)?;
            st.drain_inbox(&ctx)?;
            while ctx.data_ready("_torrentcontrol") > 0 {
                let m = ctx.recv("_torrentcontrol")?;
                debug(&ctx, format!("client says {}", m.type_name()));
            }
            if st.client.is_some_and(|c| ctx.is_stopped(c)) {
                log::warn!("{}: the torrent client ended by itself", ctx.name());
                st.client_gone(&ctx);
            }
            let mut stop = false;
            while ctx.data_ready("control") > 0 {
                let m = ctx.recv("control")?;
                if stop_kind(&m).is_some() {
                    stop = true;
                } else {
                    debug(&ctx, format!("{} on control ignored", m.type_name()));
                }
            }
            if stop && !st.stopping {
                // Told to stop: nobody may join from now on (a patron arriving makes a fresh
                // service); the patrons here hear of it last, once their replies are out.
                st.stopping = true;
                TorrentService::end_torrent_services(&ctx, ctx.id());
            }
            if st.stopping || st.outbox_for.is_empty() {
                // Stop the client and wait for it to end (C4 step 5).
                if let Some(c) = st.client {
                    ctx.send(ShutdownMicroprocess::default(), "signal")?;
                    while !ctx.is_stopped(c) {
                        ctx.pause();
                        ctx.yield_now().await;
                    }
                    // Its last words still reach their patrons.
                    st.drain_inbox(&ctx)?;
                    while ctx.data_ready("_torrentcontrol") > 0 {
                        ctx.recv("_torrentcontrol")?;
                    }
                    st.client_gone(&ctx);
                }
                if !st.stopping && ctx.data_ready("notify") > 0 {
                    // A patron arrived while the client was stopping: start afresh.
                    debug(&ctx, "restarting the torrent client".to_string());
                    st.client = Some(start_client(&ctx, &self.factory)?);
                    continue;
                }
                if st.stopping {
                    // What patrons sent while the client stopped: creates fail, in order,
                    // after the replies to their earlier ones; then the last word. No yield
                    // from here on, so nothing can reach `notify` unanswered.
                    st.drain_notify(&ctx)?;
                    st.tell_patrons_stopped(&ctx);
                }
                TorrentService::end_torrent_services(&ctx, ctx.id());
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
