//! The service registry (Kamaelia's CoordinatingAssistantTracker), through `Ctx`.
//!
//! Ports `Tests/Python/Axon/test_CoordinatingAssistantTracker.py` (spec A8). In Rust there is
//! one registry per scheduler instead of a process-wide singleton, and every component (and
//! the root context) reaches it through its `Ctx`.

use axon::{component, ComponentId, Ctx, Error, Scheduler};

/// A component that does nothing; only its boxes matter (Python's `dummyComponent`).
fn dummy(root: &Ctx) -> ComponentId {
    root.create(component("Dummy", |_| async { Ok(()) }))
}

// ports test_CoordinatingAssistantTracker.py test_SmokeTest_NoArguments
#[test]
fn new_registry_tracks_no_services_and_no_values() {
    let sched = Scheduler::new();
    let root = sched.root();
    assert!(root.services().is_empty());
    assert!(root.tracked_values().is_empty());
}

// ports test_CoordinatingAssistantTracker.py test_registerService_Add
#[test]
fn register_service_adds_the_named_service() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    root.register_service("someservice", (c, "control"))
        .unwrap();
    assert_eq!(root.services(), vec!["someservice".to_string()]);
}

// ports test_CoordinatingAssistantTracker.py test_registerService_AddExisting
#[test]
fn register_service_twice_fails_even_with_identical_arguments() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    root.register_service("someservice", (c, "control"))
        .unwrap();
    let err = root
        .register_service("someservice", (c, "control"))
        .unwrap_err();
    assert_eq!(err, Error::ServiceAlreadyExists("someservice".into()));
    assert!(err.to_string().contains("someservice"), "{err}");
    // The first registration is untouched.
    assert_eq!(
        root.retrieve_service("someservice").unwrap(),
        (c, "control".to_string())
    );
    assert_eq!(root.services(), vec!["someservice".to_string()]);
}

// ports test_CoordinatingAssistantTracker.py test_registerService_BadComponent
// (in Rust a non-component cannot be passed at all; the bad case is an id that names no live
// component: one that ended, or one of another scheduler)
#[test]
fn register_service_on_a_dead_component_is_no_such_component() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = root.spawn(component("ShortLived", |_| async { Ok(()) }));
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    assert!(root.is_stopped(c));
    let err = root
        .register_service("someservice", (c, "inbox"))
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchComponent(_)), "{err:?}");
    assert!(root.services().is_empty());
}

// ports test_CoordinatingAssistantTracker.py test_registerService_BadComponent
#[test]
fn register_service_on_a_component_of_another_scheduler_is_no_such_component() {
    let sched = Scheduler::new();
    let other = Scheduler::new();
    let foreign = dummy(&other.root());
    let err = sched
        .root()
        .register_service("someservice", (foreign, "inbox"))
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchComponent(_)), "{err:?}");
    assert!(sched.root().services().is_empty());
}

// ports test_CoordinatingAssistantTracker.py test_registerService_BadInbox
#[test]
fn register_service_on_a_missing_inbox_is_bad_inbox() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    let err = root
        .register_service("someservice", (c, "badinbox"))
        .unwrap_err();
    match &err {
        Error::BadInbox { component, inbox } => {
            assert_eq!(inbox, "badinbox");
            assert_eq!(component, &root.name_of(c));
        }
        other => panic!("expected BadInbox, got {other:?}"),
    }
    assert!(err.to_string().contains("badinbox"), "{err}");
    assert!(root.services().is_empty());
    // An outbox is not an inbox either.
    let err = root
        .register_service("someservice", (c, "outbox"))
        .unwrap_err();
    assert!(matches!(err, Error::BadInbox { .. }), "{err:?}");
}

// ports test_CoordinatingAssistantTracker.py test_retrieveService_basic
#[test]
fn retrieve_service_returns_the_registered_component_and_inbox() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    root.register_service("someservice", (c, "control"))
        .unwrap();
    let (the_component, the_inbox) = root.retrieve_service("someservice").unwrap();
    assert_eq!(the_component, c);
    assert_eq!(the_inbox, "control");
}

// ports test_CoordinatingAssistantTracker.py test_retrieveService_nonexistantservice
#[test]
fn retrieve_unknown_service_is_service_not_found() {
    let sched = Scheduler::new();
    let err = sched.root().retrieve_service("someservice").unwrap_err();
    assert_eq!(err, Error::ServiceNotFound("someservice".into()));
    assert!(err.to_string().contains("someservice"), "{err}");
}

// ports test_CoordinatingAssistantTracker.py test_deRegisterService
#[test]
fn deregister_service_removes_it() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    root.register_service("someservice", (c, "control"))
        .unwrap();
    root.deregister_service("someservice").unwrap();
    assert!(root.services().is_empty());
    assert_eq!(
        root.retrieve_service("someservice").unwrap_err(),
        Error::ServiceNotFound("someservice".into())
    );
    // The name is free again.
    root.register_service("someservice", (c, "inbox")).unwrap();
    assert_eq!(
        root.retrieve_service("someservice").unwrap(),
        (c, "inbox".to_string())
    );
}

// ports test_CoordinatingAssistantTracker.py test_deRegisterService_nonExistantService
#[test]
fn deregister_unknown_service_is_multiple_service_deletion() {
    let sched = Scheduler::new();
    let root = sched.root();
    let err = root.deregister_service("someservice").unwrap_err();
    assert_eq!(err, Error::MultipleServiceDeletion("someservice".into()));
    assert!(err.to_string().contains("someservice"), "{err}");
    // Deleting twice is the "multiple deletion" the name speaks of.
    let c = dummy(&root);
    root.register_service("other", (c, "inbox")).unwrap();
    root.deregister_service("other").unwrap();
    assert_eq!(
        root.deregister_service("other").unwrap_err(),
        Error::MultipleServiceDeletion("other".into())
    );
}

// ports test_CoordinatingAssistantTracker.py test_trackValue_basic
#[test]
fn track_value_adds_the_name() {
    let sched = Scheduler::new();
    let root = sched.root();
    root.track_value("stats.pages.hitcount", 5i32).unwrap();
    assert_eq!(
        root.tracked_values(),
        vec!["stats.pages.hitcount".to_string()]
    );
}

// ports test_CoordinatingAssistantTracker.py test_trackValue_addTwice
#[test]
fn track_value_twice_is_namespace_clash() {
    let sched = Scheduler::new();
    let root = sched.root();
    root.track_value("stats.pages.hitcount", 5i32).unwrap();
    let err = root.track_value("stats.pages.hitcount", 6i32).unwrap_err();
    assert_eq!(err, Error::NamespaceClash("stats.pages.hitcount".into()));
    assert!(err.to_string().contains("stats.pages.hitcount"), "{err}");
    // The clash did not overwrite the value.
    assert_eq!(
        root.retrieve_value::<i32>("stats.pages.hitcount").unwrap(),
        5
    );
}

// ports test_CoordinatingAssistantTracker.py test_retrieveValue_basic
#[test]
fn retrieve_value_returns_the_tracked_value() {
    let sched = Scheduler::new();
    let root = sched.root();
    root.track_value("stats.pages.hitcount", 5i32).unwrap();
    assert_eq!(
        root.retrieve_value::<i32>("stats.pages.hitcount").unwrap(),
        5
    );
}

// ports test_CoordinatingAssistantTracker.py test_retrieveValue_notStored
#[test]
fn retrieve_untracked_value_is_access_to_undeclared_tracked_variable() {
    let sched = Scheduler::new();
    let err = sched
        .root()
        .retrieve_value::<i32>("stats.pages.hitcount")
        .unwrap_err();
    assert_eq!(
        err,
        Error::AccessToUndeclaredTrackedVariable("stats.pages.hitcount".into())
    );
    assert!(err.to_string().contains("stats.pages.hitcount"), "{err}");
}

// new: doc comment of Error::AccessToUndeclaredTrackedVariable ("or a value of another type")
#[test]
fn retrieve_value_as_another_type_is_access_to_undeclared_tracked_variable() {
    let sched = Scheduler::new();
    let root = sched.root();
    root.track_value("stats.pages.hitcount", 5i32).unwrap();
    assert_eq!(
        root.retrieve_value::<String>("stats.pages.hitcount")
            .unwrap_err(),
        Error::AccessToUndeclaredTrackedVariable("stats.pages.hitcount".into())
    );
    // The value itself is unharmed.
    assert_eq!(
        root.retrieve_value::<i32>("stats.pages.hitcount").unwrap(),
        5
    );
}

// ports test_CoordinatingAssistantTracker.py test_updateValue_basic
#[test]
fn update_value_replaces_the_value() {
    let sched = Scheduler::new();
    let root = sched.root();
    root.track_value("stats.pages.hitcount", 5i32).unwrap();
    root.update_value("stats.pages.hitcount", 10i32).unwrap();
    assert_eq!(
        root.retrieve_value::<i32>("stats.pages.hitcount").unwrap(),
        10
    );
}

// ports test_CoordinatingAssistantTracker.py test_updateValue_undeclaredTrackedVariable
#[test]
fn update_untracked_value_is_access_to_undeclared_tracked_variable() {
    let sched = Scheduler::new();
    let root = sched.root();
    let err = root
        .update_value("stats.pages.hitcount", 10i32)
        .unwrap_err();
    assert_eq!(
        err,
        Error::AccessToUndeclaredTrackedVariable("stats.pages.hitcount".into())
    );
    assert!(err.to_string().contains("stats.pages.hitcount"), "{err}");
    // A failed update does not declare the value.
    assert!(root.tracked_values().is_empty());
}

// ports test_CoordinatingAssistantTracker.py test_informationItemsLogged
#[test]
fn tracked_values_lists_every_name() {
    let sched = Scheduler::new();
    let root = sched.root();
    root.track_value("stats.pages.hitcount", 5i32).unwrap();
    root.track_value("stats.pages.pagecount", 6i32).unwrap();
    root.track_value("stats.foobar.count", 7i32).unwrap();
    let mut items = root.tracked_values();
    items.sort();
    assert_eq!(
        items,
        vec![
            "stats.foobar.count".to_string(),
            "stats.pages.hitcount".to_string(),
            "stats.pages.pagecount".to_string(),
        ]
    );
}

// new: spec A8.1 (one tracker shared by everything in the system; in Rust one per scheduler)
#[test]
fn each_scheduler_has_its_own_registry() {
    let a = Scheduler::new();
    let b = Scheduler::new();
    let ca = dummy(&a.root());
    let cb = dummy(&b.root());
    a.root().register_service("svc", (ca, "inbox")).unwrap();
    a.root().track_value("v", 1u8).unwrap();
    assert!(b.root().services().is_empty());
    assert!(b.root().tracked_values().is_empty());
    assert_eq!(
        b.root().retrieve_service("svc").unwrap_err(),
        Error::ServiceNotFound("svc".into())
    );
    // The same names are free in the other scheduler.
    b.root().register_service("svc", (cb, "control")).unwrap();
    b.root().track_value("v", 2u8).unwrap();
    assert_eq!(
        a.root().retrieve_service("svc").unwrap(),
        (ca, "inbox".to_string())
    );
    assert_eq!(
        b.root().retrieve_service("svc").unwrap(),
        (cb, "control".to_string())
    );
    assert_eq!(a.root().retrieve_value::<u8>("v").unwrap(), 1);
    assert_eq!(b.root().retrieve_value::<u8>("v").unwrap(), 2);
}

// new: spec A8.1/A8.2 (the tracker is shared by the components of a system: a service
// registered by one is found and used by another, as Backplane and TorrentService do)
#[test]
fn components_of_one_scheduler_share_the_registry() {
    let sched = Scheduler::new();
    let root = sched.root();
    let service = root.spawn(component("EchoService", |ctx| async move {
        let request_box = ctx.add_inbox("requests")?;
        ctx.register_service("echo", (ctx.id(), &request_box))?;
        ctx.track_value("echo.requests", 0u32)?;
        loop {
            if ctx.data_ready(&request_box) > 0 {
                let m: String = ctx.recv_as(&request_box)?;
                ctx.update_value("echo.requests", 1u32)?;
                ctx.deregister_service("echo")?;
                ctx.send(format!("echo: {m}"), "outbox")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }));
    root.link((service, "outbox"), (root.id(), "inbox"))
        .unwrap();
    root.spawn(component("Client", |ctx| async move {
        // The service registers itself when it first runs; wait for it.
        let (svc, inbox) = loop {
            match ctx.retrieve_service("echo") {
                Ok(found) => break found,
                Err(Error::ServiceNotFound(_)) => ctx.yield_now().await,
                Err(e) => return Err(e.into()),
            }
        };
        let to_service = ctx.add_outbox("toService")?;
        ctx.link((ctx.id(), &to_service), (svc, &inbox))?;
        ctx.send(String::from("hello"), &to_service)?;
        Ok(())
    }));
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(root.recv_as::<String>("inbox").unwrap(), "echo: hello");
    assert_eq!(root.retrieve_value::<u32>("echo.requests").unwrap(), 1);
    assert!(root.services().is_empty());
}

// ports test_CoordinatingAssistantTracker.py test_registerService_BadComponent
// (doc of ComponentId: "It stays valid after the component ends: calls that need a live
// component then return Error::NoSuchComponent" - also while a linkage made by someone else
// still touches the ended component's boxes)
#[test]
fn register_service_on_an_ended_but_still_linked_component_is_no_such_component() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = root.spawn(component("ShortLived", |_| async { Ok(()) }));
    // A linkage owned by root keeps the ended component's boxes around.
    let l = root.link((c, "outbox"), (root.id(), "inbox")).unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    assert!(root.is_stopped(c));
    assert!(root.is_linked(&l));
    let err = root
        .register_service("someservice", (c, "inbox"))
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchComponent(_)), "{err:?}");
    assert!(root.services().is_empty());
}
