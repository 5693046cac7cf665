//! TorrentService and TorrentPatron (spec (c) C4, C5 and the fixes of (f) 3-6), against a
//! test-double torrent client. Every scenario runs its scheduler on its own thread with a
//! 60 s anti-hang limit; a scenario whose script never finishes (left paused) fails at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use axon::ipc::{stop_kind, ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::{
    component, AnyComponent, ComponentError, ComponentId, Ctx, Message, RunReport, Scheduler,
};
use kamaelia_torrent::ipc::{
    ReplyService, TIPCCloseTorrent, TIPCCreateNewTorrent, TIPCNewTorrentCreated, TIPCServiceAdd,
    TIPCServicePassOn, TIPCServiceRemove, TIPCTorrentAlreadyDownloading, TIPCTorrentStartFail,
    TIPCTorrentStatusUpdate, TorrentStats,
};
use kamaelia_torrent::patron::TorrentPatron;
use kamaelia_torrent::service::{
    ClientFactory, TorrentService, SERVICE_NAME, SHUTDOWN_SERVICE_NAME,
};

// ----- the test-double client ---------------------------------------------------------------

/// Asks the fake client for a status update of each of its torrents.
struct Poke;

/// Asks the fake client for a status update of a torrent it never had.
struct PokeUnknown;

/// Makes the fake client end by itself, at once, without being told to stop.
struct Die;

/// Lets a "slow to stop" fake client, told to stop, end at last (delivered straight to its
/// `inbox` by the test).
struct Release;

/// What the fake clients did, for the tests to check.
#[derive(Default)]
struct Record {
    made: AtomicUsize,
    ended: AtomicUsize,
    closed: Mutex<Vec<u32>>,
    /// Each client made, in order.
    clients: Mutex<Vec<ComponentId>>,
    /// Stop messages the clients have seen on control.
    stops_seen: AtomicUsize,
    /// Create requests held unanswered ("hold..." bytes).
    held: AtomicUsize,
    /// Clients that ended by themselves (`Die`).
    died: AtomicUsize,
}

fn stats() -> TorrentStats {
    TorrentStats::downloading(0.5)
}

/// A factory of fake clients: creates get ids from 1 and a save folder `./<the bytes>`;
/// repeated bytes are "already downloading"; bytes starting with "bad" fail; `Poke` sends a
/// status update for each torrent; any stop message on control ends it.
fn fake_factory(record: Arc<Record>) -> ClientFactory {
    fake_factory_with(record, false)
}

/// As [`fake_factory`], and also: bytes starting with "hold" are never answered; `Die` ends
/// the client by itself. If `slow_stop`, a client told to stop waits for a `Release` on its
/// inbox before it ends.
fn fake_factory_with(record: Arc<Record>, slow_stop: bool) -> ClientFactory {
    Arc::new(move || {
        let record = record.clone();
        record.made.fetch_add(1, Ordering::SeqCst);
        AnyComponent::new(component("FakeClient", move |ctx: Ctx| async move {
            record.clients.lock().unwrap().push(ctx.id());
            let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
            let mut next = 1;
            loop {
                while ctx.data_ready("inbox") > 0 {
                    let m = ctx.recv("inbox")?;
                    if let Some(c) = m.downcast_ref::<TIPCCreateNewTorrent>() {
                        let name = String::from_utf8_lossy(&c.raw_metainfo).to_string();
                        if c.raw_metainfo.starts_with(b"hold") {
                            record.held.fetch_add(1, Ordering::SeqCst);
                        } else if c.raw_metainfo.starts_with(b"bad") {
                            let reason = format!("cannot decode {name}");
                            ctx.send(TIPCTorrentStartFail { reason }, "outbox")?;
                        } else if let Some(&id) = ids.get(&c.raw_metainfo) {
                            ctx.send(TIPCTorrentAlreadyDownloading { torrent_id: id }, "outbox")?;
                        } else {
                            ids.insert(c.raw_metainfo.clone(), next);
                            let created = TIPCNewTorrentCreated {
                                torrent_id: next,
                                save_folder: format!("./{name}").into(),
                            };
                            ctx.send(created, "outbox")?;
                            next += 1;
                        }
                    } else if let Some(close) = m.downcast_ref::<TIPCCloseTorrent>() {
                        ids.retain(|_, id| *id != close.torrent_id);
                        record.closed.lock().unwrap().push(close.torrent_id);
                    } else if m.is::<Poke>() {
                        let mut all: Vec<u32> = ids.values().copied().collect();
                        all.sort();
                        for torrent_id in all {
                            let stats = stats();
                            ctx.send(TIPCTorrentStatusUpdate { torrent_id, stats }, "outbox")?;
                        }
                    } else if m.is::<PokeUnknown>() {
                        let update = TIPCTorrentStatusUpdate {
                            torrent_id: 999,
                            stats: stats(),
                        };
                        ctx.send(update, "outbox")?;
                    } else if m.is::<Die>() {
                        record.died.fetch_add(1, Ordering::SeqCst);
                        return Ok(());
                    }
                }
                while ctx.data_ready("control") > 0 {
                    if stop_kind(&ctx.recv("control")?).is_some() {
                        record.stops_seen.fetch_add(1, Ordering::SeqCst);
                        // Slow to stop: requests are ignored until the test's Release.
                        let mut released = !slow_stop;
                        while !released {
                            if ctx.data_ready("inbox") == 0 {
                                ctx.pause();
                                ctx.yield_now().await;
                            } else {
                                released = ctx.recv("inbox")?.is::<Release>();
                            }
                        }
                        record.ended.fetch_add(1, Ordering::SeqCst);
                        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
                        return Ok(());
                    }
                }
                ctx.pause();
                ctx.yield_now().await;
            }
        }))
    })
}

// ----- the rig ------------------------------------------------------------------------------

/// What a scenario ends with: the script's result, the run report, the services left.
struct Outcome<T> {
    out: T,
    report: RunReport,
    services: Vec<String>,
}

/// Runs `script` as a component on a fresh scheduler on its own thread, until the scheduler
/// returns; at most 60 s.
fn scenario<T, F, Fut>(script: F) -> Outcome<T>
where
    T: Send + 'static,
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ComponentError>> + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let (otx, orx) = mpsc::channel();
        sched.spawn(component("Script", move |ctx: Ctx| async move {
            let out = script(ctx).await?;
            let _ = otx.send(out);
            Ok(())
        }));
        let report = sched.run();
        let services = sched.root().services();
        let _ = tx.send((orx.try_recv().ok(), report, services));
    });
    let (out, report, services) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("anti-hang limit: the scenario did not end within 60 s");
    let out = out.unwrap_or_else(|| panic!("the script did not finish: {report:?}"));
    Outcome {
        out,
        report,
        services,
    }
}

/// A patron made by the script, with the script's boxes to and from it.
struct P {
    id: ComponentId,
    to: String,
    ctl: String,
    from: String,
    sig: String,
}

async fn patron(ctx: &Ctx, factory: &ClientFactory) -> Result<P, ComponentError> {
    let id = ctx.create(TorrentPatron::new(factory.clone()));
    let to = ctx.add_outbox("to")?;
    let ctl = ctx.add_outbox("ctl")?;
    let from = ctx.add_inbox("from")?;
    let sig = ctx.add_inbox("sig")?;
    let me = ctx.id();
    ctx.link((me, &to), (id, "inbox"))?;
    ctx.link((me, &ctl), (id, "control"))?;
    ctx.link((id, "outbox"), (me, &from))?;
    ctx.link((id, "signal"), (me, &sig))?;
    ctx.add_children(&[id])?;
    ctx.activate(id)?;
    Ok(P {
        id,
        to,
        ctl,
        from,
        sig,
    })
}

/// Waits (paused) until `inbox` holds `n` messages. If they never come the scheduler returns
/// with the script left paused, and the scenario fails.
async fn wait_for(ctx: &Ctx, inbox: &str, n: usize) {
    while ctx.data_ready(inbox) < n {
        ctx.pause();
        ctx.yield_now().await;
    }
}

/// Waits (paused, woken by its end) until component `c` has ended.
async fn wait_end(ctx: &Ctx, c: ComponentId) -> Result<(), ComponentError> {
    ctx.add_children(&[c])?;
    while !ctx.is_stopped(c) {
        ctx.pause();
        ctx.yield_now().await;
    }
    Ok(())
}

fn create(bytes: &str) -> TIPCCreateNewTorrent {
    TIPCCreateNewTorrent {
        raw_metainfo: bytes.as_bytes().to_vec(),
        save_folder: None,
    }
}

/// A reply, as text, for comparing sequences.
fn describe(ctx: &Ctx, inbox: &str) -> Result<String, ComponentError> {
    let m = ctx.recv(inbox)?;
    Ok(if let Some(c) = m.downcast_ref::<TIPCNewTorrentCreated>() {
        format!("created {} in {}", c.torrent_id, c.save_folder.display())
    } else if let Some(a) = m.downcast_ref::<TIPCTorrentAlreadyDownloading>() {
        format!("already {}", a.torrent_id)
    } else if let Some(f) = m.downcast_ref::<TIPCTorrentStartFail>() {
        format!("fail: {}", f.reason)
    } else if let Some(u) = m.downcast_ref::<TIPCTorrentStatusUpdate>() {
        format!("status {}", u.torrent_id)
    } else {
        format!("other {}", m.type_name())
    })
}

fn drain(ctx: &Ctx, inbox: &str) -> Result<Vec<String>, ComponentError> {
    let mut all = Vec::new();
    while ctx.data_ready(inbox) > 0 {
        all.push(describe(ctx, inbox)?);
    }
    Ok(all)
}

/// Stops a patron with `Shutdown` and waits for it and (if it was the last) the service.
async fn leave(ctx: &Ctx, p: &P) -> Result<(), ComponentError> {
    ctx.send(Shutdown, &p.ctl)?;
    wait_end(ctx, p.id).await
}

fn assert_clean<T>(o: &Outcome<T>) {
    assert!(o.report.failures.is_empty(), "failures: {:?}", o.report);
    assert!(
        o.report.left_paused.is_empty(),
        "left paused: {:?}",
        o.report
    );
    assert!(o.services.is_empty(), "services left: {:?}", o.services);
}

// ----- the tests ----------------------------------------------------------------------------

/// C4 (create replies routed by request order), C5 (patron wraps and forwards).
#[test]
fn one_patron_create_reply_is_routed_back() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let o = scenario(move |ctx| async move {
        let a = patron(&ctx, &factory).await?;
        ctx.send(create("ubuntu"), &a.to)?;
        wait_for(&ctx, &a.from, 1).await;
        let got = describe(&ctx, &a.from)?;
        leave(&ctx, &a).await?;
        Ok(got)
    });
    assert_eq!(o.out, "created 1 in ./ubuntu");
    assert_clean(&o);
    assert_eq!(record.made.load(Ordering::SeqCst), 1);
}

/// C4 (FIFO routing of create replies) and (f)4: a failing request in the middle gets its own
/// reply (TIPCTorrentStartFail), so later replies stay in step. Raw Vec<u8> and String
/// requests count as creates (C2).
#[test]
fn interleaved_creates_get_their_own_replies_in_order() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let o = scenario(move |ctx| async move {
        let a = patron(&ctx, &factory).await?;
        let b = patron(&ctx, &factory).await?;
        ctx.send(create("a1"), &a.to)?;
        ctx.send(b"bad1".to_vec(), &b.to)?;
        ctx.yield_now().await;
        ctx.send(b"a2".to_vec(), &a.to)?;
        ctx.send("b1".to_string(), &b.to)?;
        ctx.yield_now().await;
        ctx.send(create("b1"), &a.to)?; // b's torrent: already downloading
        ctx.send(create("bad2"), &b.to)?;
        ctx.send(create("b2"), &b.to)?;
        wait_for(&ctx, &a.from, 3).await;
        wait_for(&ctx, &b.from, 3).await;
        let got = (drain(&ctx, &a.from)?, drain(&ctx, &b.from)?);
        leave(&ctx, &a).await?;
        leave(&ctx, &b).await?;
        Ok(got)
    });
    assert_clean(&o);
    let (a, b) = o.out;
    assert_eq!(a.len(), 3);
    assert!(
        a[0].starts_with("created ") && a[0].ends_with(" in ./a1"),
        "{a:?}"
    );
    assert!(
        a[1].starts_with("created ") && a[1].ends_with(" in ./a2"),
        "{a:?}"
    );
    assert!(
        b[1].starts_with("created ") && b[1].ends_with(" in ./b1"),
        "{b:?}"
    );
    let b1_id = b[1].split(' ').nth(1).unwrap();
    assert_eq!(a[2], format!("already {b1_id}"));
    assert_eq!(b[0], "fail: cannot decode bad1");
    assert_eq!(b[2], "fail: cannot decode bad2");
}

/// C4 (later messages routed by torrent id): status updates reach only the torrent's owner,
/// and (f)4: an update for an unknown id is logged, not a crash.
#[test]
fn status_updates_reach_only_the_owner() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let o = scenario(move |ctx| async move {
        let a = patron(&ctx, &factory).await?;
        let b = patron(&ctx, &factory).await?;
        ctx.send(create("a"), &a.to)?;
        wait_for(&ctx, &a.from, 1).await;
        ctx.send(create("b"), &b.to)?;
        wait_for(&ctx, &b.from, 1).await;
        let created = (describe(&ctx, &a.from)?, describe(&ctx, &b.from)?);
        // Pokes pass through the service to the client like any other request (C4 step 2).
        ctx.send(PokeUnknown, &b.to)?;
        ctx.send(Poke, &a.to)?;
        wait_for(&ctx, &a.from, 1).await;
        // The service routed both updates in the same run; the patrons forward all they hold
        // before they stop, so after they have ended every routed update is here.
        leave(&ctx, &a).await?;
        leave(&ctx, &b).await?;
        Ok((created, drain(&ctx, &a.from)?, drain(&ctx, &b.from)?))
    });
    assert_clean(&o);
    let ((ca, cb), a, b) = o.out;
    assert_eq!(ca, "created 1 in ./a");
    assert_eq!(cb, "created 2 in ./b");
    assert_eq!(a, vec!["status 1"]);
    assert_eq!(b, vec!["status 2"]);
}

/// (f)4 fixed: a patron may close only its own torrents; another's close is refused with a
/// TIPCTorrentStartFail ("close refused ...") and never reaches the client.
#[test]
fn a_patron_cannot_close_anothers_torrent() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let o = scenario(move |ctx| async move {
        let a = patron(&ctx, &factory).await?;
        let b = patron(&ctx, &factory).await?;
        ctx.send(create("a"), &a.to)?;
        wait_for(&ctx, &a.from, 1).await;
        let created = describe(&ctx, &a.from)?;
        ctx.send(TIPCCloseTorrent { torrent_id: 1 }, &b.to)?;
        ctx.send(TIPCCloseTorrent { torrent_id: 42 }, &b.to)?;
        wait_for(&ctx, &b.from, 2).await;
        let refused = drain(&ctx, &b.from)?;
        // Still open: its owner still hears about it.
        ctx.send(Poke, &a.to)?;
        wait_for(&ctx, &a.from, 1).await;
        let status = describe(&ctx, &a.from)?;
        // The owner may close it.
        ctx.send(TIPCCloseTorrent { torrent_id: 1 }, &a.to)?;
        leave(&ctx, &a).await?;
        leave(&ctx, &b).await?;
        Ok((created, refused, status))
    });
    assert_clean(&o);
    let (created, refused, status) = o.out;
    assert_eq!(created, "created 1 in ./a");
    assert_eq!(refused.len(), 2);
    assert!(
        refused[0].starts_with("fail: close refused: torrent 1 "),
        "{refused:?}"
    );
    assert!(
        refused[1].starts_with("fail: close refused: torrent 42 "),
        "{refused:?}"
    );
    assert_eq!(status, "status 1");
    assert_eq!(*record.closed.lock().unwrap(), vec![1]);
}

/// (f)3 fixed: when the last patron leaves, the client is stopped, the service deregisters
/// both names and ends, and Scheduler::run returns clean (the original hung). C4: a new patron
/// afterwards gets a fresh service, with a fresh client (ids from 1 again).
#[test]
fn last_patron_leaving_ends_client_and_service_and_a_new_patron_starts_afresh() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let rec = record.clone();
    let o = scenario(move |ctx| async move {
        let a = patron(&ctx, &factory).await?;
        ctx.send(create("x"), &a.to)?;
        wait_for(&ctx, &a.from, 1).await;
        let first = describe(&ctx, &a.from)?;
        let svc1 = ctx.retrieve_service(SERVICE_NAME)?.0;
        assert_eq!(ctx.retrieve_service(SHUTDOWN_SERVICE_NAME)?.0, svc1);
        leave(&ctx, &a).await?;
        wait_end(&ctx, svc1).await?;
        let after = (
            ctx.services(),
            rec.made.load(Ordering::SeqCst),
            rec.ended.load(Ordering::SeqCst),
        );
        // A new patron: a fresh service and a fresh client.
        let b = patron(&ctx, &factory).await?;
        ctx.send(create("x"), &b.to)?;
        wait_for(&ctx, &b.from, 1).await;
        let second = describe(&ctx, &b.from)?;
        let svc2 = ctx.retrieve_service(SERVICE_NAME)?.0;
        leave(&ctx, &b).await?;
        wait_end(&ctx, svc2).await?;
        Ok((first, after, second, svc1 != svc2))
    });
    assert_clean(&o);
    let (first, (services, made, ended), second, fresh) = o.out;
    assert_eq!(first, "created 1 in ./x");
    assert!(services.is_empty(), "{services:?}");
    assert_eq!((made, ended), (1, 1));
    assert_eq!(second, "created 1 in ./x"); // not "already downloading": a fresh client
    assert!(fresh);
    assert_eq!(record.made.load(Ordering::SeqCst), 2);
    assert_eq!(record.ended.load(Ordering::SeqCst), 2);
}

/// (f)5 fixed: the patron stops on ProducerFinished, ShutdownMicroprocess and Shutdown (the
/// original only on Shutdown); C5 step 5: it sends TIPCServiceRemove (so the service ends) and
/// a stop message on signal: ProducerFinished from itself, or the shutdown it was given.
#[test]
fn patron_stops_on_each_of_the_three_stop_messages() {
    for kind in 0..3 {
        let record = Arc::new(Record::default());
        let factory = fake_factory(record.clone());
        let o = scenario(move |ctx| async move {
            let a = patron(&ctx, &factory).await?;
            match kind {
                0 => ctx.send(ProducerFinished::default(), &a.ctl)?,
                1 => ctx.send(ShutdownMicroprocess::default(), &a.ctl)?,
                _ => ctx.send(Shutdown, &a.ctl)?,
            }
            wait_end(&ctx, a.id).await?;
            let sig = ctx.recv(&a.sig)?;
            let ok = match kind {
                0 => sig.downcast_ref::<ProducerFinished>() == Some(&ProducerFinished::from(a.id)),
                1 => sig.is::<ShutdownMicroprocess>(),
                _ => sig.is::<Shutdown>(),
            };
            Ok((ok, ctx.data_ready(&a.sig)))
        });
        assert_eq!(o.out, (true, 0), "stop message {kind}");
        assert_clean(&o);
        assert_eq!(
            record.ended.load(Ordering::SeqCst),
            1,
            "stop message {kind}"
        );
    }
}

/// (f)6 fixed: a patron handles every waiting message each time it runs (the original handled
/// one per cycle): five requests waiting before its first run are all passed on in that run.
#[test]
fn a_patron_handles_many_waiting_messages_in_one_run() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let root = sched.root();
        let p = root.create(TorrentPatron::new(factory));
        root.link((root.id(), "outbox"), (p, "inbox")).unwrap();
        root.link((p, "outbox"), (root.id(), "inbox")).unwrap();
        for i in 0..5 {
            root.send(create(&format!("t{i}")), "outbox").unwrap();
        }
        root.activate(p).unwrap();
        // Run cycles until the patron has run once (it then has made the service).
        let mut cycles = 0;
        while root.retrieve_service(SERVICE_NAME).is_err() && cycles < 100 {
            sched.step(1);
            cycles += 1;
        }
        let svc = root.retrieve_service(SERVICE_NAME).unwrap().0;
        let svc_ctx = sched.ctx(svc);
        // In that one run: the TIPCServiceAdd and all five wrapped requests.
        let first_run = (
            sched.ctx(p).data_ready("inbox"),
            svc_ctx.data_ready("notify"),
        );
        let report = sched.run();
        let mut replies = Vec::new();
        while root.data_ready("inbox") > 0 {
            let c: TIPCNewTorrentCreated = root.recv_as("inbox").unwrap();
            replies.push(c.torrent_id);
        }
        sched.ctx(p).deliver(Shutdown, "control").unwrap();
        let end = sched.run();
        let _ = tx.send((
            first_run,
            report.failures.len(),
            replies,
            end,
            root.services(),
        ));
    });
    let (first_run, failures, replies, end, services) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("anti-hang limit: the scenario did not end within 60 s");
    assert_eq!(first_run, (0, 6));
    assert_eq!(failures, 0);
    assert_eq!(replies, vec![1, 2, 3, 4, 5]);
    assert!(end.is_clean(), "{end:?}");
    assert!(services.is_empty(), "{services:?}");
}

// ----- driving the service directly, from the root ------------------------------------------

/// Runs `body` on a fresh scheduler on its own thread; at most 60 s.
fn on_own_thread<T: Send + 'static>(body: impl FnOnce(&Scheduler) -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let _ = tx.send(body(&sched));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("anti-hang limit: the scenario did not end (or panicked) within 60 s")
}

/// Steps the scheduler one cycle at a time until `done` holds; at most 1000 cycles.
fn step_until(sched: &Scheduler, what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        sched.step(1);
    }
    assert!(done(), "not reached in 1000 cycles: {what}");
}

/// A service made from the root, with the root as its patrons: the root's `outbox` feeds the
/// service's `notify`, and the service's `debug` comes to the root's inbox `dbg`.
struct Rig {
    svc: ComponentId,
    dbg: String,
}

fn rig(sched: &Scheduler, factory: &ClientFactory) -> Rig {
    let root = sched.root();
    let svc = TorrentService::get_torrent_services(&root, factory)
        .unwrap()
        .new
        .expect("a new service");
    root.link((root.id(), "outbox"), (svc, "notify")).unwrap();
    let dbg = root.add_inbox("dbg").unwrap();
    root.link((svc, "debug"), (root.id(), &dbg)).unwrap();
    Rig { svc, dbg }
}

/// A root inbox standing for a patron's reply inbox.
fn root_patron(sched: &Scheduler, name: &str) -> ReplyService {
    let root = sched.root();
    (root.id(), root.add_inbox(name).unwrap())
}

fn pass_on<T: Send + 'static>(sched: &Scheduler, rs: &ReplyService, msg: T) {
    let wrapped = TIPCServicePassOn {
        reply_service: rs.clone(),
        message: Message::new(msg),
    };
    sched.root().send(wrapped, "outbox").unwrap();
}

fn add(sched: &Scheduler, rs: &ReplyService) {
    let reply_service = rs.clone();
    sched
        .root()
        .send(TIPCServiceAdd { reply_service }, "outbox")
        .unwrap();
}

fn remove(sched: &Scheduler, rs: &ReplyService) {
    let reply_service = rs.clone();
    sched
        .root()
        .send(TIPCServiceRemove { reply_service }, "outbox")
        .unwrap();
}

/// C4 / (f)3 fixed (restart path): a patron arrives (TIPCServiceAdd on notify) while the
/// service, its last patron gone, waits for its client to stop. The service does not end: it
/// makes a fresh client and serves the newcomer. The old client's unanswered request gets a
/// TIPCTorrentStartFail (its patron has left, so it is dropped and logged), and the pending
/// queue is cleared, so the fresh client's first reply goes to the newcomer, in step.
#[test]
fn a_patron_arriving_while_the_client_stops_gets_a_fresh_client() {
    let record = Arc::new(Record::default());
    let factory = fake_factory_with(record.clone(), true);
    let rec = record.clone();
    let (a_got, b_got, debug, first_end, stopping, last) = on_own_thread(move |sched| {
        let rig = rig(sched, &factory);
        let root = sched.root();
        let a = root_patron(sched, "a");
        let b = root_patron(sched, "b");
        add(sched, &a);
        pass_on(sched, &a, create("x"));
        pass_on(sched, &a, create("hold1")); // never answered by the old client
        step_until(sched, "a's creates reach the client", || {
            rec.held.load(Ordering::SeqCst) == 1 && root.data_ready(&a.1) == 1
        });
        // The last patron leaves: the service tells the client to stop, and waits.
        remove(sched, &a);
        step_until(sched, "the client is told to stop", || {
            rec.stops_seen.load(Ordering::SeqCst) == 1
        });
        let old = rec.clients.lock().unwrap()[0];
        sched.step(5);
        let stopping = (
            sched.ctx(rig.svc).is_stopped(rig.svc),
            sched.ctx(rig.svc).is_stopped(old),
            root.services().len(),
        );
        // A newcomer arrives while the old client is still stopping.
        add(sched, &b);
        pass_on(sched, &b, create("x"));
        sched.step(5);
        let before_release = root.data_ready(&b.1);
        sched.ctx(old).deliver(Release, "inbox").unwrap();
        let first_end = sched.run();
        let a_got = drain(&root, &a.1).unwrap();
        let b_got = (before_release, drain(&root, &b.1).unwrap());
        let debug: Vec<String> = std::iter::from_fn(|| {
            (root.data_ready(&rig.dbg) > 0).then(|| root.recv_as::<String>(&rig.dbg).unwrap())
        })
        .collect();
        let alive = (
            sched.ctx(rig.svc).is_stopped(rig.svc),
            root.services().len(),
            rec.made.load(Ordering::SeqCst),
        );
        // The newcomer leaves: the fresh client stops (it too is slow) and the service ends.
        remove(sched, &b);
        step_until(sched, "the fresh client is told to stop", || {
            rec.stops_seen.load(Ordering::SeqCst) == 2
        });
        let fresh = rec.clients.lock().unwrap()[1];
        sched.ctx(fresh).deliver(Release, "inbox").unwrap();
        let last = sched.run();
        let end = (sched.ctx(rig.svc).is_stopped(rig.svc), root.services());
        (
            a_got,
            b_got,
            debug,
            (first_end, alive),
            stopping,
            (last, end),
        )
    });
    // While the old client stopped, the service waited, still registered.
    assert_eq!(stopping, (false, false, 2));
    // a's answered create reached it; its held request's failure was dropped: a had left.
    assert_eq!(a_got, vec!["created 1 in ./x"]);
    assert!(
        debug
            .iter()
            .any(|d| d.contains("restarting the torrent client")),
        "{debug:?}"
    );
    assert!(
        debug
            .iter()
            .any(|d| d.contains("dropped: it is not (or no longer) a patron")),
        "{debug:?}"
    );
    // b waited for the old client to end, then was served by a fresh one ("created 1", not
    // "already 1"), and got exactly its own reply.
    assert_eq!(b_got, (0, vec!["created 1 in ./x".to_string()]));
    let (first_end, alive) = first_end;
    assert!(first_end.failures.is_empty(), "{first_end:?}");
    assert_eq!(alive, (false, 2, 2));
    let (last, (svc_ended, services)) = last;
    assert!(last.is_clean(), "{last:?}");
    assert!(svc_ended);
    assert!(services.is_empty(), "{services:?}");
    assert_eq!(record.made.load(Ordering::SeqCst), 2);
    assert_eq!(record.ended.load(Ordering::SeqCst), 2);
    assert_eq!(record.died.load(Ordering::SeqCst), 0);
}

/// C4 / (f)3 fixed: the client ends by itself while patrons remain. The create request it had
/// not answered gets a TIPCTorrentStartFail, and so do later creates (in any form); other
/// requests are logged and dropped. No new client is made; the service carries on, and ends
/// cleanly when the last patron leaves.
#[test]
fn a_client_ending_by_itself_fails_pending_and_later_creates() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let rec = record.clone();
    let o = on_own_thread(move |sched| {
        let rig = rig(sched, &factory);
        let root = sched.root();
        let a = root_patron(sched, "a");
        let b = root_patron(sched, "b");
        add(sched, &a);
        add(sched, &b);
        pass_on(sched, &b, create("x"));
        step_until(sched, "b's create is answered", || {
            root.data_ready(&b.1) == 1
        });
        let b_created = describe(&root, &b.1).unwrap();
        pass_on(sched, &a, create("hold1"));
        step_until(sched, "a's create is held", || {
            rec.held.load(Ordering::SeqCst) == 1
        });
        // The client dies, unasked; the service notices.
        pass_on(sched, &b, Die);
        let client = rec.clients.lock().unwrap()[0];
        step_until(sched, "the client has ended", || {
            sched.ctx(rig.svc).is_stopped(client)
        });
        step_until(sched, "a hears its request failed", || {
            root.data_ready(&a.1) == 1
        });
        let a_pending = drain(&root, &a.1).unwrap();
        // Later requests: creates fail, others are dropped.
        pass_on(sched, &a, create("y"));
        pass_on(sched, &b, Poke);
        pass_on(sched, &b, "z".to_string());
        pass_on(sched, &b, PokeUnknown);
        let mid = sched.run();
        let later = (drain(&root, &a.1).unwrap(), drain(&root, &b.1).unwrap());
        let debug: Vec<String> = std::iter::from_fn(|| {
            (root.data_ready(&rig.dbg) > 0).then(|| root.recv_as::<String>(&rig.dbg).unwrap())
        })
        .collect();
        let alive = (
            sched.ctx(rig.svc).is_stopped(rig.svc),
            root.services().len(),
        );
        remove(sched, &a);
        remove(sched, &b);
        let end = sched.run();
        (
            b_created,
            a_pending,
            (mid, later, debug, alive),
            (end, root.services(), sched.ctx(rig.svc).is_stopped(rig.svc)),
        )
    });
    let (b_created, a_pending, (mid, (a_later, b_later), debug, alive), (end, services, ended)) = o;
    assert_eq!(b_created, "created 1 in ./x");
    assert_eq!(
        a_pending,
        vec!["fail: the torrent client ended before answering"]
    );
    assert!(mid.failures.is_empty(), "{mid:?}");
    assert_eq!(a_later, vec!["fail: the torrent client has ended"]);
    // b's raw String create failed; its pokes got nothing.
    assert_eq!(b_later, vec!["fail: the torrent client has ended"]);
    let dropped = debug
        .iter()
        .filter(|d| d.contains("dropped: the client has ended"))
        .count();
    assert_eq!(dropped, 2, "{debug:?}");
    // The service outlived its client, still registered, with no new client.
    assert_eq!(alive, (false, 2));
    assert_eq!(record.made.load(Ordering::SeqCst), 1);
    assert_eq!(record.died.load(Ordering::SeqCst), 1);
    assert_eq!(record.stops_seen.load(Ordering::SeqCst), 0);
    assert!(end.is_clean(), "{end:?}");
    assert!(services.is_empty(), "{services:?}");
    assert!(ended);
}

// ----- lifecycle: a patron leaving while others stay; the service told to stop -------------

/// A patron leaving while another stays: the service closes the leaver's torrents (a
/// `TIPCCloseTorrent` to the client for each), including one the client created for it after
/// it left; the other patron's torrent stays open and its status still reaches it.
#[test]
fn a_leaving_patrons_torrents_are_closed_while_others_stay() {
    let record = Arc::new(Record::default());
    let factory = fake_factory(record.clone());
    let rec = record.clone();
    let o = scenario(move |ctx| async move {
        let a = patron(&ctx, &factory).await?;
        let b = patron(&ctx, &factory).await?;
        ctx.send(create("a1"), &a.to)?;
        ctx.send(create("a2"), &a.to)?;
        wait_for(&ctx, &a.from, 2).await;
        ctx.send(create("b1"), &b.to)?;
        wait_for(&ctx, &b.from, 1).await;
        let created = (drain(&ctx, &a.from)?, drain(&ctx, &b.from)?);
        // a asks for one more and leaves before the answer can reach it.
        ctx.send(create("a3"), &a.to)?;
        leave(&ctx, &a).await?;
        // b still hears about its own torrent, and only about it.
        ctx.send(Poke, &b.to)?;
        wait_for(&ctx, &b.from, 1).await;
        let b_status = drain(&ctx, &b.from)?;
        let mut closed = rec.closed.lock().unwrap().clone();
        closed.sort_unstable();
        leave(&ctx, &b).await?;
        Ok((created, b_status, closed))
    });
    assert_clean(&o);
    let ((a, b), b_status, closed) = o.out;
    assert_eq!(a, vec!["created 1 in ./a1", "created 2 in ./a2"]);
    assert_eq!(b, vec!["created 3 in ./b1"]);
    assert_eq!(b_status, vec!["status 3"]);
    // a's two torrents, and torrent 4 (a3), created after a had left.
    assert_eq!(closed, vec![1, 2, 4]);
}

/// A TorrentPatron made from the root: its inbox, control and outbox wired to root boxes.
struct RootPatron {
    id: ComponentId,
    to: String,
    ctl: String,
    from: String,
}

fn root_torrent_patron(sched: &Scheduler, factory: &ClientFactory, tag: &str) -> RootPatron {
    let root = sched.root();
    let id = root.create(TorrentPatron::new(factory.clone()));
    let to = root.add_outbox(&format!("to_{tag}")).unwrap();
    let ctl = root.add_outbox(&format!("ctl_{tag}")).unwrap();
    let from = root.add_inbox(&format!("from_{tag}")).unwrap();
    root.link((root.id(), &to), (id, "inbox")).unwrap();
    root.link((root.id(), &ctl), (id, "control")).unwrap();
    root.link((id, "outbox"), (root.id(), &from)).unwrap();
    root.activate(id).unwrap();
    RootPatron { id, to, ctl, from }
}

/// The service told to stop (on `torrentsrvshutdown`) while a patron remains: it deregisters
/// both names at once, while its client is still stopping, so a patron arriving then gets a
/// fresh service rather than the dying one; every create request of the remaining patron,
/// sent while the service stops and after it has ended, gets exactly one reply, in order
/// (the last ones from the patron itself: "the torrent service has stopped").
#[test]
fn a_service_told_to_stop_answers_every_later_create_and_takes_no_newcomer() {
    let record = Arc::new(Record::default());
    let factory = fake_factory_with(record.clone(), true);
    let rec = record.clone();
    let out = on_own_thread(move |sched| {
        let root = sched.root();
        let a = root_torrent_patron(sched, &factory, "a");
        root.send(create("x"), &a.to).unwrap();
        step_until(sched, "a's torrent is created", || {
            root.data_ready(&a.from) == 1
        });
        let first = describe(&root, &a.from).unwrap();
        let (svc, ctl) = root.retrieve_service(SHUTDOWN_SERVICE_NAME).unwrap();
        let sd = root.add_outbox("sd").unwrap();
        root.link((root.id(), &sd), (svc, &ctl)).unwrap();
        root.send(ShutdownMicroprocess::default(), &sd).unwrap();
        root.send(create("y"), &a.to).unwrap(); // as the service is told to stop
        step_until(sched, "the client is told to stop", || {
            rec.stops_seen.load(Ordering::SeqCst) == 1
        });
        sched.step(5);
        root.send(create("z"), &a.to).unwrap(); // while the client stops
        sched.step(5);
        let while_stopping = (sched.ctx(svc).is_stopped(svc), root.services());
        // A newcomer now makes a fresh service, with a fresh client.
        let b = root_torrent_patron(sched, &factory, "b");
        root.send(create("x"), &b.to).unwrap();
        step_until(sched, "b is answered", || root.data_ready(&b.from) == 1);
        let b_got = describe(&root, &b.from).unwrap();
        let svc_b = root.retrieve_service(SERVICE_NAME).unwrap().0;
        // The old client ends at last, and so does the old service.
        let old = rec.clients.lock().unwrap()[0];
        sched.ctx(old).deliver(Release, "inbox").unwrap();
        step_until(sched, "the old service ends", || {
            sched.ctx(svc).is_stopped(svc)
        });
        // After its service has ended, a still gets one reply per create, and a close is
        // dropped without a reply.
        root.send(create("w"), &a.to).unwrap();
        root.send(TIPCCloseTorrent { torrent_id: 1 }, &a.to)
            .unwrap();
        root.send(b"v".to_vec(), &a.to).unwrap();
        sched.step(20);
        let a_got = drain(&root, &a.from).unwrap();
        let a_alive = !sched.ctx(a.id).is_stopped(a.id);
        root.send(Shutdown, &a.ctl).unwrap();
        root.send(Shutdown, &b.ctl).unwrap();
        step_until(sched, "the fresh client is told to stop", || {
            rec.stops_seen.load(Ordering::SeqCst) == 2
        });
        let fresh = rec.clients.lock().unwrap()[1];
        sched.ctx(fresh).deliver(Release, "inbox").unwrap();
        let end = sched.run();
        (
            first,
            while_stopping,
            (b_got, svc_b != svc),
            (a_got, a_alive),
            (end, root.services(), drain(&root, &a.from).unwrap()),
        )
    });
    let (first, (svc_ended, services), (b_got, fresh_service), (a_got, a_alive), end) = out;
    assert_eq!(first, "created 1 in ./x");
    // Still stopping its client, but no longer to be found.
    assert!(!svc_ended);
    assert!(services.is_empty(), "{services:?}");
    assert_eq!(b_got, "created 1 in ./x"); // a fresh client: not "already 1"
    assert!(fresh_service);
    // y and z went to the stopping service, w and v came after it ended: one reply each.
    assert_eq!(a_got.len(), 4, "{a_got:?}");
    assert!(a_got[0].starts_with("fail: "), "{a_got:?}");
    let stopped = "fail: the torrent service has stopped".to_string();
    assert_eq!(
        a_got[1..],
        [stopped.clone(), stopped.clone(), stopped],
        "{a_got:?}"
    );
    assert!(a_alive);
    let (end, services, late) = end;
    assert!(end.is_clean(), "{end:?}");
    assert!(services.is_empty(), "{services:?}");
    assert!(late.is_empty(), "{late:?}");
    assert_eq!(record.made.load(Ordering::SeqCst), 2);
    assert_eq!(record.ended.load(Ordering::SeqCst), 2);
}
