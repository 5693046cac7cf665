//! Adding and deleting boxes at run time (Kamaelia's AdaptiveCommsComponent).
//!
//! Ports `Tests/Python/Axon/test_AdaptiveCommsComponent.py` (spec A9) without the resource
//! tracking tests (`trackResource*`), which the Rust port does not implement yet. In Rust every
//! component can add and delete boxes through its `Ctx`.

use axon::ipc::ShutdownMicroprocess;
use axon::{component, BoxKind, ComponentId, Ctx, Error, RecvError, Scheduler};

/// A component that does nothing; only its boxes matter.
fn dummy(root: &Ctx) -> ComponentId {
    root.create(component("Adaptive", |_| async { Ok(()) }))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Asserts `e` is `Error::NoSuchBox` for box `name` of kind `kind`.
fn assert_no_such_box(e: Error, kind: BoxKind, name: &str) {
    match e {
        Error::NoSuchBox(b) => {
            assert_eq!(b.kind, kind);
            assert_eq!(b.name, name);
        }
        other => panic!("expected NoSuchBox for {kind} {name:?}, got {other:?}"),
    }
}

// ports test_AdaptiveCommsComponent.py test_SmokeTest_NoArguments
#[test]
fn a_new_component_has_just_the_default_boxes_and_they_are_empty() {
    let sched = Scheduler::new();
    let root = sched.root();
    let a = sched.ctx(dummy(&root));
    assert_eq!(a.inboxes(), strings(&["inbox", "control"]));
    assert_eq!(a.outboxes(), strings(&["outbox", "signal"]));
    assert_eq!(a.data_ready("inbox"), 0);
    assert_eq!(a.data_ready("control"), 0);
}

// ports test_AdaptiveCommsComponent.py test_addInbox_newName
#[test]
fn add_inbox_with_a_new_name_keeps_the_name_and_the_box_is_empty() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let name = a.add_inbox("name").unwrap();
    assert_eq!(name, "name");
    assert!(a.inboxes().contains(&name));
    assert_eq!(a.try_data_ready(&name).unwrap(), 0);
    assert!(matches!(a.recv(&name), Err(RecvError::Empty { .. })));
    // It is a working inbox.
    a.deliver(7u8, &name).unwrap();
    assert_eq!(a.try_data_ready(&name).unwrap(), 1);
    assert_eq!(a.recv_as::<u8>(&name).unwrap(), 7);
}

// ports test_AdaptiveCommsComponent.py test_addInbox_existingName
#[test]
fn add_inbox_with_an_existing_name_makes_a_new_name_starting_with_it() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let first = a.add_inbox("name").unwrap();
    let second = a.add_inbox("name").unwrap();
    assert_ne!(second, "name");
    assert!(second.starts_with("name"), "{second}");
    assert!(a.inboxes().contains(&first));
    assert!(a.inboxes().contains(&second));
    // A default box's name is taken too.
    let third = a.add_inbox("inbox").unwrap();
    assert_ne!(third, "inbox");
    assert!(third.starts_with("inbox"), "{third}");
    assert_eq!(a.inboxes().len(), 5);
    // The boxes are distinct.
    a.deliver(1u8, &second).unwrap();
    assert_eq!(a.try_data_ready(&first).unwrap(), 0);
    assert_eq!(a.try_data_ready(&second).unwrap(), 1);
}

// ports test_AdaptiveCommsComponent.py test_addOutbox_newName
#[test]
fn add_outbox_with_a_new_name_keeps_the_name() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let name = a.add_outbox("name").unwrap();
    assert_eq!(name, "name");
    assert!(a.outboxes().contains(&name));
    // An unlinked outbox takes a send (and drops it, spec A3.3).
    a.send(1u8, &name).unwrap();
}

// ports test_AdaptiveCommsComponent.py test_addOutbox_existingName
#[test]
fn add_outbox_with_an_existing_name_makes_a_new_name_starting_with_it() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let first = a.add_outbox("name").unwrap();
    let second = a.add_outbox("name").unwrap();
    assert_eq!(first, "name");
    assert_ne!(second, "name");
    assert!(second.starts_with("name"), "{second}");
    let third = a.add_outbox("outbox").unwrap();
    assert_ne!(third, "outbox");
    assert!(third.starts_with("outbox"), "{third}");
    assert_eq!(a.outboxes().len(), 5);
}

// ports test_AdaptiveCommsComponent.py test_InboxModification
#[test]
fn adding_then_deleting_inboxes_leaves_only_the_default_ones() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let mut added = Vec::new();
    for _ in 0..4 {
        let before = a.inboxes();
        let name = a.add_inbox("name").unwrap();
        assert!(!before.contains(&name), "{name} was not new");
        assert!(a.inboxes().contains(&name));
        assert_eq!(a.try_data_ready(&name).unwrap(), 0);
        added.push(name);
    }
    for name in &added {
        a.delete_inbox(name).unwrap();
        assert!(!a.inboxes().contains(name), "{name} was not deleted");
    }
    assert_eq!(a.inboxes(), strings(&["inbox", "control"]));
    assert_eq!(a.data_ready("inbox"), 0);
    assert_eq!(a.data_ready("control"), 0);
}

// ports test_AdaptiveCommsComponent.py test_OutboxModification
#[test]
fn adding_then_deleting_outboxes_leaves_only_the_default_ones() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let mut added = Vec::new();
    for _ in 0..4 {
        let before = a.outboxes();
        let name = a.add_outbox("name").unwrap();
        assert!(!before.contains(&name), "{name} was not new");
        assert!(a.outboxes().contains(&name));
        added.push(name);
    }
    for name in &added {
        a.delete_outbox(name).unwrap();
        assert!(!a.outboxes().contains(name), "{name} was not deleted");
    }
    assert_eq!(a.outboxes(), strings(&["outbox", "signal"]));
}

// new: spec A9.1 (while the name is taken a fresh number is appended, so a name deleted and
// asked for again is reused only when it is free)
#[test]
fn add_after_delete_interleaved_always_gives_a_name_not_in_use() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    for _ in 0..5 {
        let x = a.add_inbox("box").unwrap();
        let y = a.add_inbox("box").unwrap();
        assert_ne!(x, y);
        a.delete_inbox(&x).unwrap();
        let z = a.add_inbox("box").unwrap();
        assert_ne!(z, y);
        assert!(z.starts_with("box"));
        a.delete_inbox(&y).unwrap();
        a.delete_inbox(&z).unwrap();
    }
    assert_eq!(a.inboxes(), strings(&["inbox", "control"]));
}

// ports test_AdaptiveCommsComponent.py test_deleteInbox_invalidInbox
#[test]
fn delete_inbox_that_does_not_exist_is_no_such_box() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    assert_no_such_box(
        a.delete_inbox("NonExistantInbox").unwrap_err(),
        BoxKind::Inbox,
        "NonExistantInbox",
    );
    // An already deleted inbox.
    let name = a.add_inbox("name").unwrap();
    a.delete_inbox(&name).unwrap();
    assert_no_such_box(a.delete_inbox(&name).unwrap_err(), BoxKind::Inbox, &name);
    // An outbox's name is not an inbox.
    assert_no_such_box(
        a.delete_inbox("outbox").unwrap_err(),
        BoxKind::Inbox,
        "outbox",
    );
    assert_eq!(a.inboxes(), strings(&["inbox", "control"]));
    assert_eq!(a.outboxes(), strings(&["outbox", "signal"]));
}

// ports test_AdaptiveCommsComponent.py test_deleteInbox_validInbox
#[test]
fn delete_inbox_removes_a_default_inbox() {
    for victim in ["inbox", "control"] {
        let sched = Scheduler::new();
        let a = sched.ctx(dummy(&sched.root()));
        a.delete_inbox(victim).unwrap();
        let left = a.inboxes();
        assert!(!left.contains(&victim.to_string()), "{victim} still there");
        assert_eq!(left.len(), 1);
        // Using it now is an error, not a silent success.
        assert!(matches!(a.recv(victim), Err(RecvError::NoSuchBox(_))));
        assert!(a.deliver(1u8, victim).is_err());
    }
}

// ports test_AdaptiveCommsComponent.py test_deleteOutbox_invalidOutbox
#[test]
fn delete_outbox_that_does_not_exist_is_no_such_box() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    assert_no_such_box(
        a.delete_outbox("NonExistantInbox").unwrap_err(),
        BoxKind::Outbox,
        "NonExistantInbox",
    );
    let name = a.add_outbox("name").unwrap();
    a.delete_outbox(&name).unwrap();
    assert_no_such_box(a.delete_outbox(&name).unwrap_err(), BoxKind::Outbox, &name);
    assert_no_such_box(
        a.delete_outbox("inbox").unwrap_err(),
        BoxKind::Outbox,
        "inbox",
    );
    assert_eq!(a.outboxes(), strings(&["outbox", "signal"]));
}

// ports test_AdaptiveCommsComponent.py test_deleteOutbox_validOutbox
#[test]
fn delete_outbox_removes_a_default_outbox() {
    for victim in ["outbox", "signal"] {
        let sched = Scheduler::new();
        let a = sched.ctx(dummy(&sched.root()));
        a.delete_outbox(victim).unwrap();
        let left = a.outboxes();
        assert!(!left.contains(&victim.to_string()), "{victim} still there");
        assert_eq!(left.len(), 1);
        assert!(a.send(1u8, victim).is_err());
    }
}

// new: spec A9.1 (boxes added while the component runs are used at once: "Callers must use
// the returned name"); a message reaching a dynamic inbox wakes the paused owner (A3.15)
#[test]
fn boxes_added_while_running_can_be_linked_and_used() {
    let sched = Scheduler::new();
    let root = sched.root();
    // The child echoes "inbox" to "outbox" until told to stop.
    let child = root.create(component("Echo", |ctx| async move {
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                ctx.send(m, "outbox")?;
            }
            if ctx.data_ready("control") > 0 {
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }));
    let parent = root.spawn(component("Parent", move |ctx| async move {
        let to_child = ctx.add_outbox("toChild")?;
        let from_child = ctx.add_inbox("fromChild")?;
        let stop_child = ctx.add_outbox("toChild")?;
        ctx.link((ctx.id(), &to_child), (child, "inbox"))?;
        ctx.link((child, "outbox"), (ctx.id(), &from_child))?;
        ctx.link((ctx.id(), &stop_child), (child, "control"))?;
        ctx.activate(child)?;
        for i in 0..3u32 {
            ctx.send(i, &to_child)?;
        }
        let mut got = Vec::new();
        while got.len() < 3 {
            while let Ok(m) = ctx.recv(&from_child) {
                got.push(m.downcast::<u32>()?);
            }
            if got.len() < 3 {
                // Only the child's answer arriving on the new inbox can wake this.
                ctx.pause();
                ctx.yield_now().await;
            }
        }
        ctx.send(ShutdownMicroprocess::default(), &stop_child)?;
        ctx.send(got, "outbox")?;
        Ok(())
    }));
    root.link((parent, "outbox"), (root.id(), "inbox")).unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(root.recv_as::<Vec<u32>>("inbox").unwrap(), vec![0, 1, 2]);
    assert!(root.is_stopped(child));
}

// new: spec A9.1 (a dynamic outbox linked to a destination delivers there); checks the result
#[test]
fn a_dynamic_outbox_delivers_to_what_it_is_linked_to() {
    let sched = Scheduler::new();
    let root = sched.root();
    let p = root.spawn(component("Sender", |ctx| async move {
        ctx.yield_now().await;
        let out = ctx.add_outbox("result")?;
        let l = ctx.link((ctx.id(), &out), (ctx.id(), "inbox"))?;
        ctx.send(String::from("via a new outbox"), &out)?;
        ctx.unlink(&l);
        let m: String = ctx.recv_as("inbox")?;
        ctx.send(m, "outbox")?;
        Ok(())
    }));
    root.link((p, "outbox"), (root.id(), "inbox")).unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(root.recv_as::<String>("inbox").unwrap(), "via a new outbox");
}

// new: doc of Ctx::delete_inbox ("the messages still in it are handed back rather than lost")
#[test]
fn delete_inbox_hands_back_the_messages_left_in_it() {
    let sched = Scheduler::new();
    let a = sched.ctx(dummy(&sched.root()));
    let name = a.add_inbox("buffer").unwrap();
    for i in 0..3u32 {
        a.deliver(i, &name).unwrap();
    }
    let left = a.delete_inbox(&name).unwrap();
    let left: Vec<u32> = left.into_iter().map(|m| m.downcast().unwrap()).collect();
    assert_eq!(left, vec![0, 1, 2]);
    // Deleting an empty box hands back nothing.
    let empty = a.add_inbox("empty").unwrap();
    assert!(a.delete_inbox(&empty).unwrap().is_empty());
    // A default inbox too.
    a.deliver(9u32, "control").unwrap();
    let left = a.delete_inbox("control").unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        left.into_iter().next().unwrap().downcast::<u32>().unwrap(),
        9
    );
}

// new: doc of Ctx::delete_inbox ("Linkages that touch it are undone first")
#[test]
fn delete_inbox_undoes_linkages_into_it_and_keeps_what_they_delivered() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    let a = sched.ctx(c);
    let name = a.add_inbox("requests").unwrap();
    // Linked by someone else (root), as a client of a service would be.
    let l = root.link((root.id(), "outbox"), (c, &name)).unwrap();
    root.send(String::from("one"), "outbox").unwrap();
    root.send(String::from("two"), "outbox").unwrap();
    let left = a.delete_inbox(&name).unwrap();
    let left: Vec<String> = left.into_iter().map(|m| m.downcast().unwrap()).collect();
    assert_eq!(left, vec!["one".to_string(), "two".to_string()]);
    assert!(!root.is_linked(&l));
    assert!(root.linkages().is_empty());
    // root's outbox is free again: it can be linked elsewhere.
    root.link((root.id(), "outbox"), (c, "inbox")).unwrap();
    root.send(String::from("three"), "outbox").unwrap();
    assert_eq!(a.recv_as::<String>("inbox").unwrap(), "three");
}

// new: doc of Ctx::delete_inbox (an inbox in the middle of a passthrough chain: the chain is
// cut, and what had already reached the end of the chain stays there)
#[test]
fn delete_inbox_in_a_passthrough_chain_cuts_the_chain() {
    let sched = Scheduler::new();
    let root = sched.root();
    let parent = dummy(&root);
    let child = dummy(&root);
    let p = sched.ctx(parent);
    let fwd = p.add_inbox("forward").unwrap();
    let l1 = root.link((root.id(), "outbox"), (parent, &fwd)).unwrap();
    let l2 = p
        .link_with(
            (parent, &fwd),
            (child, "inbox"),
            axon::Passthrough::Inbound,
            None,
        )
        .unwrap();
    root.send(1u32, "outbox").unwrap();
    assert_eq!(sched.ctx(child).data_ready("inbox"), 1);
    let left = p.delete_inbox(&fwd).unwrap();
    assert!(left.is_empty(), "the message went through to the child");
    assert!(!root.is_linked(&l1));
    assert!(!p.is_linked(&l2));
    assert_eq!(sched.ctx(child).recv_as::<u32>("inbox").unwrap(), 1);
}

// new: doc of Ctx::delete_outbox ("undoing linkages that touch it")
#[test]
fn delete_outbox_undoes_linkages_from_it() {
    let sched = Scheduler::new();
    let root = sched.root();
    let c = dummy(&root);
    let a = sched.ctx(c);
    let out = a.add_outbox("toRoot").unwrap();
    let l = root.link((c, &out), (root.id(), "inbox")).unwrap();
    a.send(1u32, &out).unwrap();
    a.delete_outbox(&out).unwrap();
    assert!(!root.is_linked(&l));
    // What was delivered stays delivered.
    assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 1);
    // root's inbox can now be fed from another outbox of the same name.
    let again = a.add_outbox("toRoot").unwrap();
    assert_eq!(again, "toRoot");
    root.link((c, &again), (root.id(), "inbox")).unwrap();
    a.send(2u32, &again).unwrap();
    assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 2);
}

/// Base names for the runtime-name tests: short ones, and ones too long for any fixed-size
/// name cache.
const BASES: [(&str, &str); 2] = [
    ("client", "fromClient"),
    (
        "a_rather_long_dynamic_outbox_name_for_a_client",
        "a_rather_long_dynamic_inbox_name_for_a_client",
    ),
];

// new: spec A9.1 (each dynamic box is its own box, whatever string value names it;
// TorrentService keeps one outbox per client and picks it by a name built at run time)
#[test]
fn dynamic_boxes_named_by_runtime_strings_reach_their_own_destinations() {
    for (out_base, in_base) in BASES {
        let sched = Scheduler::new();
        let root = sched.root();
        let c = dummy(&root);
        let a = sched.ctx(c);
        let outs: Vec<String> = (0..3).map(|_| a.add_outbox(out_base).unwrap()).collect();
        let ins: Vec<String> = (0..3).map(|_| root.add_inbox(in_base).unwrap()).collect();
        for (o, i) in outs.iter().zip(&ins) {
            root.link((c, o), (root.id(), i)).unwrap();
        }
        for (k, o) in outs.iter().enumerate() {
            // A fresh String each time, as `format!("client{n}")` would make.
            let name: String = o.clone();
            a.send(k, &name).unwrap();
        }
        for (k, i) in ins.iter().enumerate() {
            let got: Vec<usize> = std::iter::from_fn(|| root.recv_as::<usize>(i).ok()).collect();
            assert_eq!(got, vec![k], "inbox {i} (fed by outbox {})", outs[k]);
        }
    }
}

// new: spec A9.1 (as above, for receiving: each dynamic inbox, named by a fresh string, is
// read on its own)
#[test]
fn dynamic_inboxes_named_by_runtime_strings_are_read_on_their_own() {
    for (_, base) in BASES {
        let sched = Scheduler::new();
        let root = sched.root();
        let a = sched.ctx(dummy(&root));
        let ins: Vec<String> = (0..3).map(|_| a.add_inbox(base).unwrap()).collect();
        // Inbox k holds k+1 messages, all equal to k.
        for (k, i) in ins.iter().enumerate() {
            for _ in 0..=k {
                a.deliver(k, i).unwrap();
            }
        }
        for (k, i) in ins.iter().enumerate() {
            // A fresh String each time, as `format!("fromServer{n}")` would make.
            let name: String = i.clone();
            assert_eq!(a.try_data_ready(&name).unwrap(), k + 1, "inbox {name}");
        }
        for (k, i) in ins.iter().enumerate() {
            let name: String = i.clone();
            let got: Vec<usize> = std::iter::from_fn(|| a.recv_as::<usize>(&name).ok()).collect();
            assert_eq!(got, vec![k; k + 1], "inbox {name}");
        }
    }
}

// Not in the Python suite: `Ctx` remembers the boxes it used by address, and the slab that
// holds every box moves when it grows. Lookups remembered before thousands of boxes are made
// (and then deleted again, freeing their slots for reuse) must still reach the right boxes.
#[test]
fn boxes_remembered_before_the_box_slab_grows_are_still_found() {
    let sched = Scheduler::new();
    let root = sched.root();
    let a = sched.ctx(dummy(&root));
    let b = sched.ctx(dummy(&root));
    root.link((a.id(), "outbox"), (b.id(), "inbox")).unwrap();
    a.send(1u32, "outbox").unwrap();
    assert_eq!(b.data_ready("inbox"), 1);

    let added: Vec<String> = (0..300).map(|_| a.add_inbox("extra").unwrap()).collect();
    a.send(2u32, "outbox").unwrap();
    assert_eq!(b.data_ready("inbox"), 2);
    assert_eq!(b.recv("inbox").unwrap().downcast::<u32>().unwrap(), 1);

    for name in &added {
        assert!(a.delete_inbox(name).unwrap().is_empty());
    }
    let c = sched.ctx(dummy(&root));
    root.link((c.id(), "outbox"), (b.id(), "inbox")).unwrap();
    c.send(3u32, "outbox").unwrap();
    a.send(4u32, "outbox").unwrap();
    let got: Vec<u32> = std::iter::from_fn(|| b.recv("inbox").ok())
        .map(|m| m.downcast::<u32>().unwrap())
        .collect();
    assert_eq!(got, [2, 3, 4]);
    assert_eq!(
        a.data_ready("extra"),
        0,
        "a deleted box is not found through the cache"
    );
}
