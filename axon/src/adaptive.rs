//! Resource tracking for components that add boxes as they run (Kamaelia's
//! `AdaptiveCommsComponent.trackResource` and friends).
//!
//! In Rust every component can add and delete boxes through its [`Ctx`]; what Kamaelia's
//! adaptive component adds beyond that is bookkeeping: which resource (a client, a
//! connection, a torrent) each dynamic box serves. Here that bookkeeping is a value the
//! component owns, [`ResourceTracker`], checked against the component's real boxes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::hash::Hash;

use crate::ctx::Ctx;
use crate::error::{BoxKind, Error, NoSuchBox};

/// The boxes and information recorded for one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo<I> {
    /// The inboxes that serve the resource.
    pub inboxes: Vec<String>,
    /// The outboxes that serve the resource.
    pub outboxes: Vec<String>,
    /// Whatever else the component keeps about it.
    pub info: I,
}

/// Which resource each dynamic inbox serves, and which boxes and information each resource
/// has (Kamaelia's resource tracking). Box names are checked against the component's boxes
/// when recorded.
///
/// ```
/// use axon::{ResourceTracker, Scheduler};
///
/// let sched = Scheduler::new();
/// let ctx = sched.root();
/// let inbox = ctx.add_inbox("client").unwrap();
/// let outbox = ctx.add_outbox("client").unwrap();
///
/// let mut clients: ResourceTracker<u32, &str> = ResourceTracker::new();
/// clients.track_resource(&ctx, 7, &inbox).unwrap();
/// clients
///     .track_resource_information(&ctx, 7, &[&inbox], &[&outbox], "alice")
///     .unwrap();
/// assert_eq!(clients.retrieve_tracked_resource(&inbox).unwrap(), &7);
/// assert_eq!(clients.retrieve_tracked_resource_information(&7).unwrap().info, "alice");
///
/// // A box the component does not have is refused.
/// assert!(clients.track_resource(&ctx, 8, "no-such-inbox").is_err());
/// ```
#[derive(Debug)]
pub struct ResourceTracker<R, I = ()> {
    by_inbox: BTreeMap<String, R>,
    info: HashMap<R, ResourceInfo<I>>,
}

impl<R, I> Default for ResourceTracker<R, I> {
    fn default() -> Self {
        ResourceTracker {
            by_inbox: BTreeMap::new(),
            info: HashMap::new(),
        }
    }
}

fn check_box(ctx: &Ctx, kind: BoxKind, name: &str) -> Result<(), Error> {
    let existing = match kind {
        BoxKind::Inbox => ctx.inboxes(),
        BoxKind::Outbox => ctx.outboxes(),
    };
    if existing.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(Error::NoSuchBox(NoSuchBox {
            component: ctx.name(),
            kind,
            name: name.to_string(),
            existing,
        }))
    }
}

impl<R: Clone + Eq + Hash + Debug, I> ResourceTracker<R, I> {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `inbox` serves `resource` (Kamaelia's `trackResource`). The inbox must
    /// exist on `ctx`'s component.
    pub fn track_resource(&mut self, ctx: &Ctx, resource: R, inbox: &str) -> Result<(), Error> {
        check_box(ctx, BoxKind::Inbox, inbox)?;
        self.by_inbox.insert(inbox.to_string(), resource);
        Ok(())
    }

    /// The resource `inbox` serves (Kamaelia's `retrieveTrackedResource`).
    pub fn retrieve_tracked_resource(&self, inbox: &str) -> Result<&R, Error> {
        self.by_inbox
            .get(inbox)
            .ok_or_else(|| Error::NoSuchResource(format!("inbox {inbox:?}")))
    }

    /// Records the boxes and information of `resource`, replacing any earlier record
    /// (Kamaelia's `trackResourceInformation`). Every box must exist on `ctx`'s component.
    pub fn track_resource_information(
        &mut self,
        ctx: &Ctx,
        resource: R,
        inboxes: &[&str],
        outboxes: &[&str],
        info: I,
    ) -> Result<(), Error> {
        for b in inboxes {
            check_box(ctx, BoxKind::Inbox, b)?;
        }
        for b in outboxes {
            check_box(ctx, BoxKind::Outbox, b)?;
        }
        self.info.insert(
            resource,
            ResourceInfo {
                inboxes: inboxes.iter().map(|s| s.to_string()).collect(),
                outboxes: outboxes.iter().map(|s| s.to_string()).collect(),
                info,
            },
        );
        Ok(())
    }

    /// The record of `resource` (Kamaelia's `retrieveTrackedResourceInformation`).
    pub fn retrieve_tracked_resource_information(
        &self,
        resource: &R,
    ) -> Result<&ResourceInfo<I>, Error> {
        self.info
            .get(resource)
            .ok_or_else(|| Error::NoSuchResource(format!("{resource:?}")))
    }

    /// Forgets the record of `resource` and returns it (Kamaelia's `ceaseTrackingResource`).
    /// As in Kamaelia, inboxes recorded with [`track_resource`](Self::track_resource) still
    /// name it; [`forget_inbox`](Self::forget_inbox) clears those.
    pub fn cease_tracking_resource(&mut self, resource: &R) -> Result<ResourceInfo<I>, Error> {
        self.info
            .remove(resource)
            .ok_or_else(|| Error::NoSuchResource(format!("{resource:?}")))
    }

    /// Forgets which resource `inbox` serves; returns it, if any.
    pub fn forget_inbox(&mut self, inbox: &str) -> Option<R> {
        self.by_inbox.remove(inbox)
    }

    /// The resources with a record, in no particular order.
    pub fn resources(&self) -> impl Iterator<Item = &R> + '_ {
        self.info.keys()
    }
}
