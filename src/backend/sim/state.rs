//! The simulated cluster's derived state: nodes, the workloads' pods and where each one runs.
//! All bookkeeping of requested capacity goes through the few methods here, so node totals
//! and per-zone pod counts never drift from the pods themselves.

use std::collections::{BTreeMap, VecDeque};

use crate::domain::Timestamp;
use crate::domain::model::Capacity;
use crate::domain::scenario::{Scenario, WorkloadKind, WorkloadSpec};

pub type NodeId = u64;

/// A node, from NodeClaim creation (Karpenter) or boot (node groups) until it is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    /// The NodeClaim behind a Karpenter node; node group nodes have none.
    pub claim: Option<String>,
    /// The NodePool or node group the node belongs to.
    pub pool: String,
    pub karpenter: bool,
    pub instance_type: String,
    pub capacity: Capacity,
    pub zone: usize,
    pub created: Timestamp,
    /// When the Node object appears (a Karpenter claim exists a while before that).
    pub registered_at: Timestamp,
    /// When the node is Ready and initialized: pods can be bound from then on.
    pub initialized_at: Timestamp,
    pub disruption: Option<NodeDisruption>,
    pub cpu_allocatable_m: f64,
    pub memory_allocatable_mib: f64,
    pub max_pods: u32,
    /// Requests of pods bound or nominated to the node, DaemonSets included.
    pub cpu_requested_m: f64,
    pub memory_requested_mib: f64,
    /// Workload pods bound or nominated here (DaemonSet pods are in `daemon_pods`).
    pub pods: u32,
    pub daemon_pods: u32,
    /// Since when the node has had no workload pods.
    pub empty_since: Option<Timestamp>,
}

/// Why and since when a node is going away.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDisruption {
    pub reason: String,
    pub since: Timestamp,
    pub gone_at: Timestamp,
}

impl Node {
    pub fn initialized(&self, now: Timestamp) -> bool {
        self.initialized_at <= now
    }

    pub fn registered(&self, now: Timestamp) -> bool {
        self.registered_at <= now
    }

    /// New pods may be bound or nominated here.
    pub fn accepts_pods(&self) -> bool {
        self.disruption.is_none()
    }

    pub fn has_room(&self, cpu_m: f64, memory_mib: f64) -> bool {
        self.accepts_pods()
            && self.cpu_requested_m + cpu_m <= self.cpu_allocatable_m
            && self.memory_requested_mib + memory_mib <= self.memory_allocatable_mib
            && self.pods + self.daemon_pods < self.max_pods
    }

    /// Share of allocatable CPU requested by workload pods (DaemonSets excluded).
    pub fn workload_cpu_share(&self, daemon_cpu_m: f64) -> f64 {
        if self.cpu_allocatable_m <= 0.0 {
            return 0.0;
        }
        ((self.cpu_requested_m - daemon_cpu_m).max(0.0)) / self.cpu_allocatable_m
    }
}

/// Why a pod is still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingCause {
    /// Nominated to a NodeClaim that is still launching.
    Nominated,
    /// Nothing fits and the NodePool may not grow (limits) or is a fixed node group.
    NoCapacity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// Ordinal for StatefulSets; a running counter otherwise (it seeds the name).
    pub serial: u64,
    pub node: Option<NodeId>,
    /// Bound to an initialized node (otherwise pending, possibly nominated).
    pub bound: bool,
    pub created: Timestamp,
    pub pending_since: Option<Timestamp>,
    pub pending_cause: PendingCause,
    /// When the container passes its readiness probe (again, after a restart).
    pub ready_at: Option<Timestamp>,
    pub restarts: u32,
    /// Requests the pod was created with (a spec change reaches pods as they are replaced).
    pub cpu_request_m: f64,
    pub memory_request_mib: f64,
    /// The pod template (ReplicaSet hash) the pod was created from.
    pub template_key: u64,
}

impl Pod {
    pub fn ready(&self, now: Timestamp) -> bool {
        self.bound && self.ready_at.is_some_and(|at| at <= now)
    }

    pub fn pending(&self) -> bool {
        !self.bound
    }
}

/// Where a runtime workload's spec lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadSource {
    /// `[workloads.<name>]` in the scenario.
    Spec(String),
    /// kube-system/coredns, described by `[dns]`.
    CoreDns,
}

/// A Deployment or StatefulSet as it runs: its pods and what happened to them.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadRuntime {
    pub source: WorkloadSource,
    pub namespace: String,
    pub name: String,
    pub kind: WorkloadKind,
    /// Seeds this workload's noise and names.
    pub key: u64,
    /// The current pod template's hash: new pods are created from it, and pods of an older
    /// template are replaced (a rolling update).
    pub template_key: u64,
    /// What the current template was made from (see `workloads::template_fingerprint`).
    pub template_fingerprint: u64,
    pub pods: Vec<Pod>,
    /// Replicas the controller (or HPA) currently wants.
    pub desired: u32,
    pub last_scale: Timestamp,
    /// Pods bound or nominated per zone.
    pub zone_counts: Vec<u32>,
    /// Pods not bound yet.
    pub unbound: usize,
    pub next_serial: u64,
    pub oom_kills: VecDeque<Timestamp>,
    pub restarts: VecDeque<Timestamp>,
    /// OOM kills and restarts from before the simulation started (the 7-day window).
    pub oom_kills_before: u32,
    pub restarts_before: u32,
}

impl WorkloadRuntime {
    pub fn ready_pods(&self, now: Timestamp) -> usize {
        self.pods.iter().filter(|p| p.ready(now)).count()
    }
}

/// The specs the engine reads: the scenario, plus CoreDNS expressed as a workload.
#[derive(Clone, Copy)]
pub struct Specs<'a> {
    pub scenario: &'a Scenario,
    pub coredns: &'a WorkloadSpec,
}

impl<'a> Specs<'a> {
    pub fn workload(&self, source: &WorkloadSource) -> Option<&'a WorkloadSpec> {
        match source {
            WorkloadSource::Spec(name) => self.scenario.workloads.get(name),
            WorkloadSource::CoreDns => Some(self.coredns),
        }
    }

    /// Requests every node carries for its DaemonSet pods: (cpu, memory, pod count).
    pub fn daemon_requests(&self) -> (f64, f64, u32) {
        self.scenario
            .workloads
            .values()
            .filter(|w| w.kind == WorkloadKind::DaemonSet)
            .fold((0.0, 0.0, 0), |(cpu, memory, count), w| {
                (
                    cpu + w.cpu_request_m,
                    memory + w.memory_request_mib,
                    count + 1,
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub now: Timestamp,
    pub zones: Vec<String>,
    pub nodes: BTreeMap<NodeId, Node>,
    /// The running workloads; replaced only through `set_workloads`, which keeps the index.
    pub workloads: Vec<WorkloadRuntime>,
    /// Position of each workload in `workloads`, by (namespace, name).
    workload_positions: BTreeMap<(String, String), usize>,
    pub next_node_id: NodeId,
    /// Node ids per pool and zone, oldest first, kept in step with `nodes`.
    pool_zone_index: BTreeMap<String, Vec<Vec<NodeId>>>,
    /// Where the scheduler's next look for room starts, per pool and zone (next fit).
    room_cursors: BTreeMap<String, Vec<usize>>,
}

impl State {
    pub fn new(now: Timestamp, zones: Vec<String>) -> Self {
        State {
            now,
            zones,
            nodes: BTreeMap::new(),
            workloads: Vec::new(),
            workload_positions: BTreeMap::new(),
            next_node_id: 1,
            pool_zone_index: BTreeMap::new(),
            room_cursors: BTreeMap::new(),
        }
    }

    pub fn add_node(&mut self, node: Node) {
        let zones = self.zones.len();
        let by_zone = self
            .pool_zone_index
            .entry(node.pool.clone())
            .or_insert_with(|| vec![Vec::new(); zones]);
        if let Some(ids) = by_zone.get_mut(node.zone) {
            // Ids only grow, so pushing keeps each list oldest first.
            ids.push(node.id);
        }
        self.nodes.insert(node.id, node);
    }

    /// Removes a node; any pods still on it go back to pending.
    pub fn remove_node(&mut self, id: NodeId) -> Option<Node> {
        self.evict_node(id);
        let node = self.nodes.remove(&id)?;
        if let Some(ids) = self
            .pool_zone_index
            .get_mut(&node.pool)
            .and_then(|by_zone| by_zone.get_mut(node.zone))
        {
            ids.retain(|other| *other != id);
        }
        Some(node)
    }

    /// Node ids in a pool and zone, oldest first.
    pub fn pool_zone_nodes(&self, pool: &str, zone: usize) -> &[NodeId] {
        self.pool_zone_index
            .get(pool)
            .and_then(|by_zone| by_zone.get(zone))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Finds a node with room in a pool and zone, looking at no more than `budget` nodes:
    /// the search resumes where the last one left off, so full nodes are not scanned over
    /// and over, and every node is looked at in turn.
    pub fn find_room(
        &mut self,
        pool: &str,
        zone: usize,
        (cpu_m, memory_mib): (f64, f64),
        initialized: bool,
        budget: usize,
    ) -> Option<NodeId> {
        let now = self.now;
        let ids = self.pool_zone_nodes(pool, zone);
        let count = ids.len();
        if count == 0 {
            return None;
        }
        let zones = self.zones.len();
        let start = self
            .room_cursors
            .get(pool)
            .and_then(|c| c.get(zone))
            .copied()
            .unwrap_or(0)
            % count;
        let mut found = None;
        let looked = budget.min(count);
        for offset in 0..looked {
            let index = (start + offset) % count;
            let fits = self.nodes.get(&ids[index]).is_some_and(|n| {
                n.initialized(now) == initialized && n.has_room(cpu_m, memory_mib)
            });
            if fits {
                found = Some((index, ids[index]));
                break;
            }
        }
        let next = found
            .map(|(index, _)| index)
            .unwrap_or((start + looked) % count);
        let cursors = self
            .room_cursors
            .entry(pool.to_string())
            .or_insert_with(|| vec![0; zones]);
        if let Some(cursor) = cursors.get_mut(zone) {
            *cursor = next;
        }
        found.map(|(_, id)| id)
    }

    /// Nodes of a pool (all zones).
    pub fn pool_nodes<'a>(&'a self, pool: &str) -> impl Iterator<Item = &'a Node> + 'a {
        self.pool_zone_index
            .get(pool)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|id| self.nodes.get(id))
    }

    /// Puts a pending pod on a node: bound if the node is initialized, nominated otherwise.
    pub fn assign(&mut self, workload: usize, pod: usize, node_id: NodeId, startup_s: f64) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        let Some(runtime) = self.workloads.get_mut(workload) else {
            return;
        };
        let Some(p) = runtime.pods.get_mut(pod) else {
            return;
        };
        if p.node.is_some() {
            return;
        }
        node.cpu_requested_m += p.cpu_request_m;
        node.memory_requested_mib += p.memory_request_mib;
        node.pods += 1;
        node.empty_since = None;
        if let Some(count) = runtime.zone_counts.get_mut(node.zone) {
            *count += 1;
        }
        p.node = Some(node_id);
        if node.initialized(now) {
            p.bound = true;
            p.pending_since = None;
            p.ready_at = Some(now + seconds(startup_s));
            runtime.unbound = runtime.unbound.saturating_sub(1);
        } else {
            p.pending_cause = PendingCause::Nominated;
        }
    }

    /// Takes a pod off its node and makes it pending again.
    pub fn unassign(&mut self, workload: usize, pod: usize) {
        let now = self.now;
        let Some(runtime) = self.workloads.get_mut(workload) else {
            return;
        };
        let Some(p) = runtime.pods.get_mut(pod) else {
            return;
        };
        let Some(node_id) = p.node.take() else {
            return;
        };
        if p.bound {
            runtime.unbound += 1;
        }
        p.bound = false;
        p.ready_at = None;
        p.pending_since = Some(now);
        p.pending_cause = PendingCause::NoCapacity;
        if let Some(node) = self.nodes.get_mut(&node_id) {
            node.cpu_requested_m -= p.cpu_request_m;
            node.memory_requested_mib -= p.memory_request_mib;
            node.pods = node.pods.saturating_sub(1);
            if node.pods == 0 {
                node.empty_since = Some(now);
            }
            if let Some(count) = runtime.zone_counts.get_mut(node.zone) {
                *count = count.saturating_sub(1);
            }
        }
    }

    /// Sends every pod on the node back to pending; returns how many there were.
    pub fn evict_node(&mut self, node_id: NodeId) -> usize {
        let mut evicted = Vec::new();
        for (w, runtime) in self.workloads.iter().enumerate() {
            for (p, pod) in runtime.pods.iter().enumerate() {
                if pod.node == Some(node_id) {
                    evicted.push((w, p));
                }
            }
        }
        for &(w, p) in &evicted {
            self.unassign(w, p);
        }
        evicted.len()
    }

    /// Binds pods nominated to nodes that have finished initializing.
    pub fn bind_nominated(&mut self, startup: &[f64]) {
        let now = self.now;
        for (w, runtime) in self.workloads.iter_mut().enumerate() {
            if runtime.unbound == 0 {
                continue;
            }
            let startup_s = startup.get(w).copied().unwrap_or(20.0);
            let mut bound_now = 0;
            for pod in runtime.pods.iter_mut().filter(|p| !p.bound) {
                let Some(node_id) = pod.node else { continue };
                if self.nodes.get(&node_id).is_some_and(|n| n.initialized(now)) {
                    pod.bound = true;
                    pod.pending_since = None;
                    pod.ready_at = Some(now + seconds(startup_s));
                    bound_now += 1;
                }
            }
            runtime.unbound -= bound_now;
        }
    }

    /// Adds a pending pod to a workload.
    pub fn add_pod(&mut self, workload: usize, cpu_request_m: f64, memory_request_mib: f64) {
        let now = self.now;
        let Some(runtime) = self.workloads.get_mut(workload) else {
            return;
        };
        let serial = if runtime.kind == WorkloadKind::StatefulSet {
            runtime.pods.len() as u64
        } else {
            runtime.next_serial
        };
        runtime.next_serial += 1;
        let template_key = runtime.template_key;
        runtime.pods.push(Pod {
            serial,
            node: None,
            bound: false,
            created: now,
            pending_since: Some(now),
            pending_cause: PendingCause::NoCapacity,
            ready_at: None,
            restarts: 0,
            cpu_request_m,
            memory_request_mib,
            template_key,
        });
        runtime.unbound += 1;
    }

    /// Replaces a pod with a new one from the workload's current template, as a rolling
    /// update does: the old pod leaves its node and the new one waits to be scheduled. A
    /// StatefulSet's replacement keeps the ordinal; a Deployment's gets a new name.
    pub fn replace_pod(
        &mut self,
        workload: usize,
        pod: usize,
        cpu_request_m: f64,
        memory_request_mib: f64,
    ) {
        let now = self.now;
        self.unassign(workload, pod);
        let Some(runtime) = self.workloads.get_mut(workload) else {
            return;
        };
        let serial = match runtime.pods.get(pod) {
            Some(p) if runtime.kind == WorkloadKind::StatefulSet => p.serial,
            Some(_) => {
                runtime.next_serial += 1;
                runtime.next_serial - 1
            }
            None => return,
        };
        let template_key = runtime.template_key;
        if let Some(p) = runtime.pods.get_mut(pod) {
            // Unassigned above, so it is pending and already counted in `unbound`.
            *p = Pod {
                serial,
                node: None,
                bound: false,
                created: now,
                pending_since: Some(now),
                pending_cause: PendingCause::NoCapacity,
                ready_at: None,
                restarts: 0,
                cpu_request_m,
                memory_request_mib,
                template_key,
            };
        }
    }

    /// Removes the newest pod of a workload (scale-in).
    pub fn remove_last_pod(&mut self, workload: usize) {
        let Some(last) = self.workloads.get(workload).map(|r| r.pods.len()) else {
            return;
        };
        if last == 0 {
            return;
        }
        self.unassign(workload, last - 1);
        if let Some(runtime) = self.workloads.get_mut(workload)
            && let Some(pod) = runtime.pods.pop()
            && !pod.bound
        {
            runtime.unbound = runtime.unbound.saturating_sub(1);
        }
    }

    /// Workload pods per node, for decisions that look inside nodes.
    pub fn pods_by_node(&self) -> BTreeMap<NodeId, Vec<(usize, usize)>> {
        let mut map: BTreeMap<NodeId, Vec<(usize, usize)>> = BTreeMap::new();
        for (w, runtime) in self.workloads.iter().enumerate() {
            for (p, pod) in runtime.pods.iter().enumerate() {
                if let Some(node) = pod.node {
                    map.entry(node).or_default().push((w, p));
                }
            }
        }
        map
    }

    /// Ready pods per zone for each workload, in `workloads` order.
    pub fn ready_by_zone(&self) -> Vec<Vec<u32>> {
        let now = self.now;
        self.workloads
            .iter()
            .map(|runtime| {
                let mut counts = vec![0u32; self.zones.len()];
                for pod in runtime.pods.iter().filter(|p| p.ready(now)) {
                    if let Some(node) = pod.node.and_then(|id| self.nodes.get(&id))
                        && let Some(count) = counts.get_mut(node.zone)
                    {
                        *count += 1;
                    }
                }
                counts
            })
            .collect()
    }

    pub fn workload_index(&self, namespace: &str, name: &str) -> Option<usize> {
        self.workload_positions
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    }

    /// Replaces the workloads (and their index).
    pub fn set_workloads(&mut self, workloads: Vec<WorkloadRuntime>) {
        self.workload_positions = workloads
            .iter()
            .enumerate()
            .map(|(i, w)| ((w.namespace.clone(), w.name.clone()), i))
            .collect();
        self.workloads = workloads;
    }
}

pub fn seconds(value: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((value * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn node(id: NodeId, now: Timestamp) -> Node {
        Node {
            id,
            name: format!("n{id}"),
            claim: None,
            pool: "general".into(),
            karpenter: true,
            instance_type: "m6i.xlarge".into(),
            capacity: Capacity::Spot,
            zone: 0,
            created: now,
            registered_at: now,
            initialized_at: now,
            disruption: None,
            cpu_allocatable_m: 1000.0,
            memory_allocatable_mib: 1000.0,
            max_pods: 10,
            cpu_requested_m: 0.0,
            memory_requested_mib: 0.0,
            pods: 0,
            daemon_pods: 0,
            empty_since: Some(now),
        }
    }

    fn runtime() -> WorkloadRuntime {
        WorkloadRuntime {
            source: WorkloadSource::Spec("web".into()),
            namespace: "shop".into(),
            name: "web".into(),
            kind: WorkloadKind::Deployment,
            key: 1,
            template_key: 2,
            template_fingerprint: 0,
            pods: Vec::new(),
            desired: 1,
            last_scale: chrono::Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
            zone_counts: vec![0; 3],
            unbound: 0,
            next_serial: 0,
            oom_kills: VecDeque::new(),
            restarts: VecDeque::new(),
            oom_kills_before: 0,
            restarts_before: 0,
        }
    }

    #[test]
    fn bookkeeping_follows_pods() {
        let now = chrono::Utc
            .timestamp_opt(1_000_000, 0)
            .single()
            .unwrap_or_default();
        let mut state = State::new(now, vec!["a".into(), "b".into(), "c".into()]);
        state.add_node(node(1, now));
        state.set_workloads(vec![runtime()]);
        state.add_pod(0, 300.0, 200.0);
        state.add_pod(0, 300.0, 200.0);
        assert_eq!(state.workloads[0].unbound, 2);
        state.assign(0, 0, 1, 10.0);
        state.assign(0, 1, 1, 10.0);
        assert_eq!(state.workloads[0].unbound, 0);
        assert_eq!(state.nodes[&1].cpu_requested_m, 600.0);
        assert_eq!(state.workloads[0].zone_counts[0], 2);
        assert!(!state.nodes[&1].has_room(500.0, 10.0));
        assert_eq!(state.evict_node(1), 2);
        assert_eq!(state.nodes[&1].cpu_requested_m, 0.0);
        assert_eq!(state.workloads[0].unbound, 2);
        assert!(state.nodes[&1].empty_since.is_some());
        state.remove_last_pod(0);
        assert_eq!(state.workloads[0].pods.len(), 1);
        assert_eq!(state.workloads[0].unbound, 1);
    }
}
