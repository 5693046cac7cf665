//! Resource tracking: the trackResource tests of Kamaelia's test_AdaptiveCommsComponent.py,
//! ported to `ResourceTracker` (spec A9.3, A9.4).

use axon::{Error, ResourceTracker, Scheduler};

// ports test_AdaptiveCommsComponent.py test_trackResource_validDefaultInbox
#[test]
fn track_resource_on_a_default_inbox() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let mut t: ResourceTracker<&str> = ResourceTracker::new();
    t.track_resource(&ctx, "resource", "inbox").unwrap();
    assert_eq!(t.retrieve_tracked_resource("inbox").unwrap(), &"resource");
}

// ports test_trackResource_validDynamicInbox
#[test]
fn track_resource_on_a_dynamic_inbox() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let name = ctx.add_inbox("dynamic").unwrap();
    let mut t: ResourceTracker<u8> = ResourceTracker::new();
    t.track_resource(&ctx, 5, &name).unwrap();
    assert_eq!(t.retrieve_tracked_resource(&name).unwrap(), &5);
    assert!(matches!(
        t.retrieve_tracked_resource("inbox"),
        Err(Error::NoSuchResource(_))
    ));
}

// ports test_trackResource_invalidInbox
#[test]
fn track_resource_on_a_missing_inbox_is_refused() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let mut t: ResourceTracker<u8> = ResourceTracker::new();
    let err = t.track_resource(&ctx, 1, "nonsense").unwrap_err();
    match err {
        Error::NoSuchBox(e) => {
            assert_eq!(e.name, "nonsense");
            assert!(e.existing.contains(&"inbox".to_string()));
        }
        other => panic!("expected NoSuchBox, got {other:?}"),
    }
    // Nothing was recorded.
    assert!(t.retrieve_tracked_resource("nonsense").is_err());
    // An outbox name is not an inbox.
    assert!(t.track_resource(&ctx, 1, "outbox").is_err());
}

// ports test_trackResourceInformation_validDefaultBoxes
#[test]
fn resource_information_on_default_boxes() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let mut t: ResourceTracker<&str, u32> = ResourceTracker::new();
    t.track_resource_information(&ctx, "r", &["inbox", "control"], &["outbox", "signal"], 42)
        .unwrap();
    let info = t.retrieve_tracked_resource_information(&"r").unwrap();
    assert_eq!(info.inboxes, vec!["inbox", "control"]);
    assert_eq!(info.outboxes, vec!["outbox", "signal"]);
    assert_eq!(info.info, 42);
}

// ports test_trackResourceInformation_validDynamicBoxes
#[test]
fn resource_information_on_dynamic_boxes_is_replaced_silently() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let i = ctx.add_inbox("in").unwrap();
    let o = ctx.add_outbox("out").unwrap();
    let mut t: ResourceTracker<char, &str> = ResourceTracker::new();
    t.track_resource_information(&ctx, 'x', &[&i], &[&o], "first")
        .unwrap();
    t.track_resource_information(&ctx, 'x', &[], &[&o], "second")
        .unwrap();
    let info = t.retrieve_tracked_resource_information(&'x').unwrap();
    assert!(info.inboxes.is_empty());
    assert_eq!(info.info, "second");
}

// ports test_trackResourceInformation_invalidInboxes / _invalidOutboxes
#[test]
fn resource_information_with_a_missing_box_is_refused() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let mut t: ResourceTracker<u8> = ResourceTracker::new();
    assert!(t
        .track_resource_information(&ctx, 1, &["inbox", "nope"], &[], ())
        .is_err());
    assert!(t
        .track_resource_information(&ctx, 1, &[], &["outbox", "nope"], ())
        .is_err());
    assert!(t.retrieve_tracked_resource_information(&1).is_err());
}

// new: spec A9.4 (ceaseTrackingResource deletes the record, KeyError if absent, and leaves the
// inbox -> resource map alone)
#[test]
fn cease_tracking_forgets_the_record_but_not_the_inbox_map() {
    let sched = Scheduler::new();
    let ctx = sched.root();
    let mut t: ResourceTracker<u8> = ResourceTracker::new();
    t.track_resource(&ctx, 3, "inbox").unwrap();
    t.track_resource_information(&ctx, 3, &["inbox"], &[], ())
        .unwrap();
    let gone = t.cease_tracking_resource(&3).unwrap();
    assert_eq!(gone.inboxes, vec!["inbox"]);
    assert!(matches!(
        t.cease_tracking_resource(&3),
        Err(Error::NoSuchResource(_))
    ));
    assert_eq!(t.retrieve_tracked_resource("inbox").unwrap(), &3);
    assert_eq!(t.forget_inbox("inbox"), Some(3));
    assert!(t.retrieve_tracked_resource("inbox").is_err());
}
