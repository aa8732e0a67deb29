//! The pods of a large cluster, kept as what the panes add up rather than as whole objects:
//! each pod's share of its node's requests and of its owner's restarts and OOM kills, with
//! running totals updated as pods change, so a snapshot costs the size of the fleet and not
//! of the pod count. Only the few pods a pane lists by name (unschedulable, do-not-disrupt,
//! CoreDNS) are kept whole. Repeated strings (namespaces, nodes, owners, container names)
//! are shared through an interner.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::objects::{ObjectKey, OwnerRef, PodProjection};

/// A string many objects repeat, stored once.
pub type Name = Arc<str>;

/// Shares equal strings. Strings no object uses any more are dropped when the table has
/// doubled since the last sweep, so node names of a churning fleet do not pile up.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    names: HashSet<Name>,
    sweep_at: usize,
}

const MIN_SWEEP: usize = 4096;

impl Interner {
    pub fn intern(&mut self, text: &str) -> Name {
        if let Some(name) = self.names.get(text) {
            return name.clone();
        }
        if self.names.len() >= self.sweep_at.max(MIN_SWEEP) {
            self.names.retain(|name| Arc::strong_count(name) > 1);
            self.sweep_at = self.names.len() * 2;
        }
        let name: Name = Arc::from(text);
        self.names.insert(name.clone());
        name
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The namespace CoreDNS runs in on EKS, and the `k8s-app` value of its pods.
pub const SYSTEM_NAMESPACE: &str = "kube-system";
pub const COREDNS_APP: &str = "kube-dns";

/// Restarts and OOM kills of one container of one pod; only containers with some are kept.
#[derive(Debug, Clone, PartialEq)]
struct ContainerStat {
    container: Name,
    restarts: u32,
    oom_killed: bool,
}

/// What one pod adds to the totals. Requests are integers (micro-millicores and bytes) so
/// that adding and later subtracting a pod leaves the totals exactly as they were.
#[derive(Debug, Clone, PartialEq)]
struct PodRecord {
    node: Option<Name>,
    owner: Option<(Name, Name)>,
    ip: Option<IpAddr>,
    cpu: i64,
    memory: i64,
    /// Not Succeeded or Failed: still holds its requests on the node.
    active: bool,
    /// Kept whole in `listed` as well.
    listed: bool,
    stats: Box<[ContainerStat]>,
}

fn cpu_units(millicores: f64) -> i64 {
    (millicores * 1000.0).round() as i64
}

fn memory_units(mib: f64) -> i64 {
    (mib * 1_048_576.0).round() as i64
}

/// Requests on one node by the pods that still hold resources there.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct NodeLoad {
    cpu: i64,
    memory: i64,
    pods: u32,
}

/// What requests a node carries, as the Nodes pane shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeRequests {
    pub cpu_m: f64,
    pub memory_mib: f64,
    pub pods: u32,
}

/// Restarts and OOM kills summed over the pods of one owner, per container name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerHistory {
    pub oom_kills: u32,
    pub restarts: u32,
}

/// (namespace, owner kind, owner name)
type OwnerKey = (Name, Name, Name);

/// What changed in the pane inputs with one pod change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodChange {
    /// Node requests or the pods the Nodes pane lists.
    pub nodes: bool,
    /// CoreDNS pods.
    pub dns: bool,
    /// Restarts or OOM kills of some owner.
    pub workloads: bool,
}

impl PodChange {
    fn any(self) -> bool {
        self.nodes || self.dns || self.workloads
    }
}

/// Whether a pane lists this pod by name.
fn pending(pod: &PodProjection) -> bool {
    pod.phase == "Pending"
        && pod.node.is_none()
        && (pod.unschedulable.is_some() || pod.pending_since.is_some())
}

fn pinned(pod: &PodProjection) -> bool {
    pod.do_not_disrupt && pod.is_running_or_pending()
}

pub fn is_coredns(pod: &PodProjection) -> bool {
    pod.namespace == SYSTEM_NAMESPACE
        && pod.app.as_deref() == Some(COREDNS_APP)
        && pod.is_running_or_pending()
}

/// The pods, as totals plus the few kept whole.
#[derive(Debug, Clone, Default)]
pub struct Pods {
    names: Interner,
    /// namespace → name → contribution
    pods: HashMap<Name, HashMap<Box<str>, PodRecord>>,
    count: usize,
    by_node: HashMap<Name, NodeLoad>,
    by_owner: HashMap<OwnerKey, Vec<(Name, ContainerHistory)>>,
    listed: BTreeMap<ObjectKey, PodProjection>,
}

impl Pods {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Shared strings in use (for the benchmarks' accounting).
    pub fn interned(&self) -> usize {
        self.names.len()
    }

    fn record(&mut self, pod: &PodProjection) -> PodRecord {
        let mut cpu = 0.0;
        let mut memory = 0.0;
        let mut stats = Vec::new();
        for container in &pod.containers {
            cpu += container.resources.cpu_request_m.unwrap_or(0.0);
            memory += container.resources.memory_request_mib.unwrap_or(0.0);
            let oom_killed = container.last_termination_reason.as_deref() == Some("OOMKilled");
            if container.restarts > 0 || oom_killed {
                stats.push(ContainerStat {
                    container: self.names.intern(&container.resources.name),
                    restarts: container.restarts,
                    oom_killed,
                });
            }
        }
        PodRecord {
            node: pod.node.as_deref().map(|n| self.names.intern(n)),
            owner: pod
                .owner
                .as_ref()
                .map(|o| (self.names.intern(&o.kind), self.names.intern(&o.name))),
            ip: pod.ip,
            cpu: cpu_units(cpu),
            memory: memory_units(memory),
            active: pod.is_running_or_pending(),
            listed: pending(pod) || pinned(pod) || is_coredns(pod),
            stats: stats.into_boxed_slice(),
        }
    }

    fn add_load(&mut self, record: &PodRecord, sign: i64) {
        let Some(node) = record.node.as_ref().filter(|_| record.active) else {
            return;
        };
        let load = self.by_node.entry(node.clone()).or_default();
        load.cpu += sign * record.cpu;
        load.memory += sign * record.memory;
        if sign > 0 {
            load.pods += 1;
        } else {
            load.pods = load.pods.saturating_sub(1);
        }
        if load.pods == 0 {
            self.by_node.remove(node);
        }
    }

    fn add_history(&mut self, namespace: &Name, record: &PodRecord, sign: i64) {
        let Some((kind, name)) = &record.owner else {
            return;
        };
        if record.stats.is_empty() {
            return;
        }
        let key = (namespace.clone(), kind.clone(), name.clone());
        let containers = self.by_owner.entry(key.clone()).or_default();
        for stat in &record.stats {
            let index = match containers.iter().position(|(c, _)| *c == stat.container) {
                Some(index) => index,
                None => {
                    containers.push((stat.container.clone(), ContainerHistory::default()));
                    containers.len() - 1
                }
            };
            let history = &mut containers[index].1;
            let oom = u32::from(stat.oom_killed);
            if sign > 0 {
                history.restarts = history.restarts.saturating_add(stat.restarts);
                history.oom_kills += oom;
            } else {
                history.restarts = history.restarts.saturating_sub(stat.restarts);
                history.oom_kills = history.oom_kills.saturating_sub(oom);
            }
        }
        containers.retain(|(_, h)| *h != ContainerHistory::default());
        if containers.is_empty() {
            self.by_owner.remove(&key);
        }
    }

    /// Stores a new or changed pod; says which pane inputs changed.
    pub fn upsert(&mut self, pod: PodProjection) -> PodChange {
        let namespace = self.names.intern(&pod.namespace);
        let record = self.record(&pod);
        let old = self
            .pods
            .entry(namespace.clone())
            .or_default()
            .insert(pod.name.as_str().into(), record.clone());
        if old.is_none() {
            self.count += 1;
        }
        if old.as_ref() == Some(&record) && !record.listed {
            return PodChange::default();
        }
        let mut change = PodChange::default();
        let load_of = |r: &PodRecord| r.active.then(|| (r.node.clone(), r.cpu, r.memory));
        if old.as_ref().and_then(load_of) != load_of(&record) {
            if let Some(old) = &old {
                self.add_load(old, -1);
            }
            self.add_load(&record, 1);
            change.nodes = true;
        }
        let history_of = |r: &PodRecord| (r.owner.clone(), r.stats.clone());
        if old.as_ref().map(history_of) != Some(history_of(&record)) {
            if let Some(old) = &old {
                self.add_history(&namespace, old, -1);
            }
            self.add_history(&namespace, &record, 1);
            change.workloads =
                !(old.as_ref().is_none_or(|o| o.stats.is_empty()) && record.stats.is_empty());
        }
        let was_listed = old.as_ref().is_some_and(|o| o.listed);
        if record.listed || was_listed {
            let key = ObjectKey::new(&pod.namespace, &pod.name);
            let previous = if record.listed {
                if self.listed.get(&key) == Some(&pod) {
                    return change;
                }
                self.listed.insert(key, pod.clone())
            } else {
                self.listed.remove(&key)
            };
            let shown = |p: &PodProjection| (pending(p) || pinned(p), is_coredns(p));
            let (nodes_now, dns_now) = if record.listed {
                shown(&pod)
            } else {
                (false, false)
            };
            let (nodes_before, dns_before) = previous.as_ref().map(shown).unwrap_or_default();
            change.nodes |= nodes_now || nodes_before;
            change.dns |= dns_now || dns_before;
        }
        change
    }

    /// Forgets a deleted pod; says which pane inputs changed.
    pub fn remove(&mut self, key: &ObjectKey) -> PodChange {
        let Some(by_name) = self.pods.get_mut(key.namespace.as_str()) else {
            return PodChange::default();
        };
        let Some(record) = by_name.remove(key.name.as_str()) else {
            return PodChange::default();
        };
        let namespace = self.names.intern(&key.namespace);
        if by_name.is_empty() {
            self.pods.remove(key.namespace.as_str());
        }
        self.count -= 1;
        let mut change = PodChange::default();
        if record.active && record.node.is_some() {
            self.add_load(&record, -1);
            change.nodes = true;
        }
        if !record.stats.is_empty() {
            self.add_history(&namespace, &record, -1);
            change.workloads = true;
        }
        if let Some(pod) = self.listed.remove(key) {
            change.nodes |= pending(&pod) || pinned(&pod);
            change.dns |= is_coredns(&pod);
        }
        debug_assert!(change.any() || !record.listed);
        change
    }

    /// Every pod's namespace and name (a relist compares against them).
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.pods
            .iter()
            .flat_map(|(namespace, names)| {
                names
                    .keys()
                    .map(move |name| ObjectKey::new(namespace, name))
            })
            .collect()
    }

    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.pods
            .get(key.namespace.as_str())
            .is_some_and(|names| names.contains_key(key.name.as_str()))
    }

    /// What the pods on `node` request, counting only those that still hold resources.
    pub fn on_node(&self, node: &str) -> NodeRequests {
        self.by_node
            .get(node)
            .map(|load| NodeRequests {
                cpu_m: load.cpu as f64 / 1000.0,
                memory_mib: load.memory as f64 / 1_048_576.0,
                pods: load.pods,
            })
            .unwrap_or_default()
    }

    /// The pods a pane lists by name (pending, do-not-disrupt, CoreDNS), in key order.
    pub fn listed(&self) -> impl Iterator<Item = &PodProjection> {
        self.listed.values()
    }

    /// A pod a pane lists, by key.
    pub fn listed_pod(&self, key: &ObjectKey) -> Option<&PodProjection> {
        self.listed.get(key)
    }

    /// The direct owners (namespace, kind, name) whose pods restarted or were OOM-killed,
    /// with the sums per container.
    pub fn histories(&self) -> impl Iterator<Item = (OwnerRefIn<'_>, &[(Name, ContainerHistory)])> {
        self.by_owner
            .iter()
            .map(|((namespace, kind, name), containers)| {
                (
                    OwnerRefIn {
                        namespace,
                        kind,
                        name,
                    },
                    containers.as_slice(),
                )
            })
    }
}

/// Where a pod runs and who owns it: what the East-West join needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodPlace<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The direct owner (kind, name): a ReplicaSet for a Deployment's pods.
    pub owner: Option<(&'a str, &'a str)>,
    pub node: Option<&'a str>,
    pub ip: Option<IpAddr>,
    /// Still running or pending (not Succeeded or Failed).
    pub active: bool,
}

impl Pods {
    fn place<'a>(namespace: &'a str, name: &'a str, record: &'a PodRecord) -> PodPlace<'a> {
        PodPlace {
            namespace,
            name,
            owner: record.owner.as_ref().map(|(k, n)| (&**k, &**n)),
            node: record.node.as_deref(),
            ip: record.ip,
            active: record.active,
        }
    }

    /// One pod's place, by namespace and name.
    pub fn pod_place<'a>(&'a self, namespace: &'a str, name: &'a str) -> Option<PodPlace<'a>> {
        let record = self.pods.get(namespace)?.get(name)?;
        Some(Self::place(namespace, name, record))
    }

    /// The places of every pod in one namespace.
    pub fn places_in<'a>(&'a self, namespace: &str) -> impl Iterator<Item = PodPlace<'a>> + 'a {
        self.pods
            .get_key_value(namespace)
            .into_iter()
            .flat_map(|(namespace, names)| {
                names
                    .iter()
                    .map(move |(name, record)| Self::place(namespace, name, record))
            })
    }

    /// The places of every pod.
    pub fn places(&self) -> impl Iterator<Item = PodPlace<'_>> {
        self.pods.iter().flat_map(|(namespace, names)| {
            names
                .iter()
                .map(move |(name, record)| Self::place(namespace, name, record))
        })
    }
}

/// A direct owner of pods, by namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerRefIn<'a> {
    pub namespace: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
}

impl OwnerRefIn<'_> {
    pub fn to_owner(self) -> OwnerRef {
        OwnerRef {
            kind: self.kind.to_string(),
            name: self.name.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assemble::objects::{ContainerResources, PodContainer};

    fn pod(name: &str, node: Option<&str>, cpu: f64, restarts: u32) -> PodProjection {
        PodProjection {
            namespace: "shop".into(),
            name: name.into(),
            node: node.map(str::to_string),
            phase: "Running".into(),
            owner: Some(OwnerRef {
                kind: "ReplicaSet".into(),
                name: "web-1".into(),
            }),
            containers: vec![PodContainer {
                resources: ContainerResources {
                    name: "web".into(),
                    cpu_request_m: Some(cpu),
                    memory_request_mib: Some(64.0),
                    ..ContainerResources::default()
                },
                restarts,
                last_termination_reason: None,
            }],
            ..PodProjection::default()
        }
    }

    #[test]
    fn totals_follow_changes_and_return_to_zero() {
        let mut pods = Pods::default();
        let change = pods.upsert(pod("a", Some("n1"), 100.0, 0));
        assert!(change.nodes && !change.workloads);
        pods.upsert(pod("b", Some("n1"), 0.1, 2));
        assert_eq!(pods.on_node("n1").pods, 2);
        assert!((pods.on_node("n1").cpu_m - 100.1).abs() < 1e-9);
        // Same pod again: nothing to redo.
        assert_eq!(
            pods.upsert(pod("b", Some("n1"), 0.1, 2)),
            PodChange::default()
        );
        // A restart changes the owner's history, not the node.
        let change = pods.upsert(pod("b", Some("n1"), 0.1, 3));
        assert!(change.workloads && !change.nodes);
        let (_, history) = pods.histories().next().expect("one owner");
        assert_eq!(history[0].1.restarts, 3);
        // Moving a pod moves its requests.
        pods.upsert(pod("a", Some("n2"), 100.0, 0));
        assert_eq!(pods.on_node("n2").cpu_m, 100.0);
        assert!(pods.remove(&ObjectKey::new("shop", "b")).workloads);
        assert_eq!(pods.histories().count(), 0);
        assert_eq!(pods.on_node("n1"), NodeRequests::default());
        pods.remove(&ObjectKey::new("shop", "a"));
        assert!(pods.is_empty());
        assert!(pods.by_node.is_empty());
    }

    #[test]
    fn only_pods_a_pane_names_are_kept_whole() {
        let mut pods = Pods::default();
        pods.upsert(pod("a", Some("n1"), 100.0, 0));
        let mut stuck = pod("b", None, 100.0, 0);
        stuck.phase = "Pending".into();
        stuck.unschedulable = Some("0/3 nodes are available".into());
        assert!(pods.upsert(stuck.clone()).nodes);
        assert_eq!(pods.listed().count(), 1);
        stuck.unschedulable = Some("probe 2".into());
        assert!(pods.upsert(stuck).nodes);
        assert_eq!(
            pods.listed()
                .next()
                .and_then(|p| p.unschedulable.as_deref()),
            Some("probe 2")
        );
        assert!(pods.upsert(pod("b", Some("n1"), 100.0, 0)).nodes);
        assert_eq!(pods.listed().count(), 0);
    }

    #[test]
    fn unused_names_are_swept() {
        let mut names = Interner::default();
        let kept = names.intern("kept");
        for i in 0..3 * MIN_SWEEP {
            names.intern(&format!("node-{i}"));
        }
        assert!(names.len() < 2 * MIN_SWEEP);
        assert!(Arc::ptr_eq(&kept, &names.intern("kept")));
    }
}
