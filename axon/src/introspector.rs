//! A picture of the running graph: [`Topology`] snapshots (with Graphviz output) and the
//! [`Introspector`] component, which emits topology changes as Kamaelia's does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::{BoxKind, ComponentResult};
use crate::ipc::stop_kind;
use crate::world::{State, World};

/// One component in a [`Topology`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The process-wide number (the `_<n>` of its name).
    pub id: u64,
    /// The component's name.
    pub name: String,
    /// `running`, `paused`, `created` or `ended`.
    pub state: &'static str,
    /// Its inboxes, with how many messages wait in each.
    pub inboxes: Vec<(String, usize)>,
    /// Its outboxes.
    pub outboxes: Vec<String>,
}

/// One linkage in a [`Topology`]: (component number, box kind, box name) at each end.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkInfo {
    /// Where messages come from.
    pub source: (u64, BoxKind, String),
    /// Where they go.
    pub sink: (u64, BoxKind, String),
}

/// A snapshot of a scheduler's graph: the live components, those their linkages reach, and
/// the linkages. Made by [`Ctx::topology`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// The components, in creation order.
    pub components: Vec<NodeInfo>,
    /// The linkages.
    pub linkages: Vec<LinkInfo>,
}

fn kind_letter(k: BoxKind) -> &'static str {
    match k {
        BoxKind::Inbox => "i",
        BoxKind::Outbox => "o",
    }
}

/// Kamaelia's postbox node id: the Python tuple `(id, 'i', 'name')` as text.
fn box_node(id: u64, k: BoxKind, name: &str) -> String {
    format!("({id}, '{}', '{name}')", kind_letter(k))
}

impl Topology {
    pub(crate) fn snapshot(w: &World) -> Topology {
        let mut included: BTreeSet<u64> = BTreeSet::new();
        for (_, c, state) in w.components() {
            if matches!(
                state,
                State::Activating | State::Active | State::GoingToSleep | State::Sleeping
            ) {
                included.insert(c.id);
            }
        }
        let mut linkages = Vec::new();
        let mut ids: BTreeMap<crate::ComponentId, u64> = BTreeMap::new();
        for (cid, c, _) in w.components() {
            ids.insert(cid, c.id);
        }
        for l in w.all_linkages() {
            let (sk, dk) = l.passthrough.box_kinds();
            let (Some(&s), Some(&d)) = (ids.get(&l.source), ids.get(&l.sink)) else {
                continue;
            };
            if included.contains(&s) || included.contains(&d) {
                included.insert(s);
                included.insert(d);
                linkages.push(LinkInfo {
                    source: (s, sk, l.source_box.clone()),
                    sink: (d, dk, l.sink_box.clone()),
                });
            }
        }
        linkages.sort();
        let components = w
            .components()
            .filter(|(_, c, _)| included.contains(&c.id))
            .map(|(_, c, state)| NodeInfo {
                id: c.id,
                name: c.name(),
                state: match state {
                    State::Created => "created",
                    State::Activating | State::Active => "running",
                    State::GoingToSleep | State::Sleeping => "paused",
                    State::Ended => "ended",
                },
                inboxes: c
                    .boxes(BoxKind::Inbox)
                    .map(|(s, b)| (s.name.to_string(), w.boxes.get(b).storage.len()))
                    .collect(),
                outboxes: c.box_names(BoxKind::Outbox),
            })
            .collect();
        Topology {
            components,
            linkages,
        }
    }

    /// The graph in Graphviz's dot language: one cluster per component with its boxes, an
    /// arrow per linkage; paused components are grey, and waiting message counts are shown.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph axon {\n  rankdir=LR;\n  node [shape=box];\n");
        for c in &self.components {
            let _ = writeln!(
                out,
                "  subgraph \"cluster_{}\" {{\n    label=\"{} ({})\";{}",
                c.id,
                c.name,
                c.state,
                if c.state == "paused" {
                    " style=filled; fillcolor=lightgrey;"
                } else {
                    ""
                }
            );
            for (name, waiting) in &c.inboxes {
                let label = if *waiting > 0 {
                    format!("{name} [{waiting}]")
                } else {
                    name.clone()
                };
                let _ = writeln!(
                    out,
                    "    \"{}\" [label=\"{}\" shape=invhouse];",
                    box_node(c.id, BoxKind::Inbox, name),
                    label
                );
            }
            for name in &c.outboxes {
                let _ = writeln!(
                    out,
                    "    \"{}\" [label=\"{name}\" shape=house];",
                    box_node(c.id, BoxKind::Outbox, name)
                );
            }
            out.push_str("  }\n");
        }
        for l in &self.linkages {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\";",
                box_node(l.source.0, l.source.1, &l.source.2),
                box_node(l.sink.0, l.sink.1, &l.sink.2)
            );
        }
        out.push_str("}\n");
        out
    }

    /// Kamaelia's node and link sets: nodes by id with their text, links as pairs.
    fn kamaelia_sets(&self) -> (BTreeMap<String, String>, BTreeSet<(String, String)>) {
        let mut nodes = BTreeMap::new();
        let mut links = BTreeSet::new();
        for c in &self.components {
            nodes.insert(
                c.id.to_string(),
                format!("\"{}\" randompos component", c.name),
            );
            let boxes = c
                .inboxes
                .iter()
                .map(|(n, _)| (BoxKind::Inbox, n))
                .chain(c.outboxes.iter().map(|n| (BoxKind::Outbox, n)));
            for (k, name) in boxes {
                let id = box_node(c.id, k, name);
                nodes.insert(id.clone(), format!("\"{name}\" randompos {k}"));
                links.insert((c.id.to_string(), id));
            }
        }
        for l in &self.linkages {
            links.insert((
                box_node(l.source.0, l.source.1, &l.source.2),
                box_node(l.sink.0, l.sink.1, &l.sink.2),
            ));
        }
        (nodes, links)
    }

    /// The change from `old` to `self` as Kamaelia's Introspector writes it: `DEL LINK`,
    /// `DEL NODE`, `ADD NODE`, then `ADD LINK` lines. Empty if nothing changed.
    pub fn diff_lines(&self, old: &Topology) -> String {
        let (new_nodes, new_links) = self.kamaelia_sets();
        let (old_nodes, old_links) = old.kamaelia_sets();
        let mut out = String::new();
        for (a, b) in old_links.difference(&new_links) {
            let _ = writeln!(out, "DEL LINK \"{a}\" \"{b}\"");
        }
        for id in old_nodes.keys().filter(|k| !new_nodes.contains_key(*k)) {
            let _ = writeln!(out, "DEL NODE \"{id}\"");
        }
        for (id, text) in new_nodes
            .iter()
            .filter(|(k, _)| !old_nodes.contains_key(*k))
        {
            let _ = writeln!(out, "ADD NODE \"{id}\" {text}");
        }
        for (a, b) in new_links.difference(&old_links) {
            let _ = writeln!(out, "ADD LINK \"{a}\" \"{b}\"");
        }
        out
    }
}

impl Ctx {
    /// A snapshot of this scheduler's graph.
    pub fn topology(&self) -> Topology {
        Topology::snapshot(&self.core().world.borrow())
    }

    /// Wakes this component whenever the graph changes (a component made or ended, a linkage
    /// made or undone, a box added or deleted).
    pub fn watch_topology(&self) {
        let mut w = self.core().world.borrow_mut();
        let me = self.id();
        if !w.topology_watchers.contains(&me) {
            w.topology_watchers.push(me);
        }
    }
}

const INTROSPECTOR_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "NOT USED"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const INTROSPECTOR_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "Topology (change) data describing the Axon system",
    ),
    BoxSpec::new("signal", "Shutdown signalling"),
];

/// Emits the scheduler's topology, and then every change to it, as text lines (Kamaelia's
/// `Introspector`): first `"DEL ALL\n"`, then one message per change holding `DEL LINK`,
/// `DEL NODE`, `ADD NODE` and `ADD LINK` lines in that order.
///
/// Unlike Kamaelia's, it does not run every cycle: it sleeps until the graph changes. A
/// `ShutdownMicroprocess` or `ProducerFinished` on `control` is passed to `signal` and ends it.
#[derive(Debug, Default)]
pub struct Introspector;

impl Component for Introspector {
    fn inboxes(&self) -> std::borrow::Cow<'static, [BoxSpec]> {
        INTROSPECTOR_INBOXES.into()
    }
    fn outboxes(&self) -> std::borrow::Cow<'static, [BoxSpec]> {
        INTROSPECTOR_OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        ctx.send(String::from("DEL ALL\n"), "outbox")?;
        ctx.watch_topology();
        ctx.yield_now().await;
        let mut old = Topology::default();
        loop {
            while ctx.data_ready("control") > 0 {
                let m = ctx.recv("control")?;
                if stop_kind(&m).is_some() {
                    ctx.send(m, "signal")?;
                    return Ok(());
                }
            }
            while ctx.data_ready("inbox") > 0 {
                ctx.recv("inbox")?;
            }
            let now = ctx.topology();
            let lines = now.diff_lines(&old);
            if !lines.is_empty() {
                ctx.send(lines, "outbox")?;
            }
            old = now;
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
