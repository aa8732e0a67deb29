//! The simulator's east-west traffic pod by pod: each edge of its traffic model (a workload
//! calling a Service) spread over the calling pods and the Service's pods so that exactly the
//! edge's cross-zone share crosses zones. `/metrics` writes each exporter's shape from this,
//! and the simulated flow-log records too, so kockpit reads the simulator through the same
//! shapes it reads a real cluster through.

use std::collections::BTreeMap;

use super::engine::SimCluster;
use super::names::pod_name;
use super::objects::{node_ip, pod_ip};
use crate::domain::scenario::WorkloadKind;

/// Of a connection's bytes, the share the caller sends (requests); the Service's pod sends
/// the rest (responses).
pub const REQUEST_SHARE: f64 = 0.3;

/// One ready pod that takes part in east-west traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEnd {
    pub namespace: String,
    pub workload: String,
    pub pod: String,
    pub ip: String,
    pub zone: usize,
    /// The node it runs on (its network interface logs its flows).
    pub node: String,
    /// That node's primary address: what flow logs show for traffic received on the node's
    /// interface, pod IPs being its secondary addresses.
    pub node_ip: String,
}

/// Traffic between a calling pod and one pod of the Service it calls, both directions.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPairFlow {
    /// Indexes into `PodTraffic::pods`.
    pub client: usize,
    pub server: usize,
    /// The Service called: (namespace, name).
    pub service: (String, String),
    pub bytes_per_sec: f64,
    pub drops_per_sec: f64,
}

impl PodPairFlow {
    pub fn request_bytes(&self) -> f64 {
        self.bytes_per_sec * REQUEST_SHARE
    }

    pub fn response_bytes(&self) -> f64 {
        self.bytes_per_sec * (1.0 - REQUEST_SHARE)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodTraffic {
    pub zones: Vec<String>,
    pub pods: Vec<PodEnd>,
    pub flows: Vec<PodPairFlow>,
}

impl PodTraffic {
    pub fn crossed(&self, flow: &PodPairFlow) -> bool {
        self.pods[flow.client].zone != self.pods[flow.server].zone
    }
}

/// The ready pods of each workload, by (namespace, name).
/// Indexes of pods, by workload (namespace, name).
type ByWorkload = BTreeMap<(String, String), Vec<usize>>;

fn ready_pods(cluster: &SimCluster) -> (Vec<PodEnd>, ByWorkload) {
    let state = cluster.state();
    let now = cluster.now();
    let mut pods = Vec::new();
    let mut by_workload = ByWorkload::new();
    for runtime in &state.workloads {
        let stateful = runtime.kind == WorkloadKind::StatefulSet;
        for pod in runtime.pods.iter().filter(|p| p.ready(now)) {
            let Some(node) = pod.node.and_then(|id| state.nodes.get(&id)) else {
                continue;
            };
            by_workload
                .entry((runtime.namespace.clone(), runtime.name.clone()))
                .or_default()
                .push(pods.len());
            pods.push(PodEnd {
                namespace: runtime.namespace.clone(),
                workload: runtime.name.clone(),
                pod: pod_name(&runtime.name, stateful, pod.template_key, pod.serial),
                ip: pod_ip(runtime, pod),
                zone: node.zone,
                node: node.name.clone(),
                node_ip: node_ip(node),
            });
        }
    }
    (pods, by_workload)
}

/// A calling pod and a Service pod, by index.
type Pair = (usize, usize);

/// The traffic of the simulator's model, pod pair by pod pair.
pub fn pod_traffic(cluster: &SimCluster) -> PodTraffic {
    let flows = cluster.flows_now();
    let spec = cluster.spec();
    let (pods, by_workload) = ready_pods(cluster);
    let mut pairs = Vec::new();
    for edge in &flows.edges {
        let (Some(source), Some((namespace, service))) = (edge.source(), edge.destination()) else {
            continue;
        };
        let backend = spec
            .services
            .get(service)
            .and_then(|s| s.workload.clone())
            .unwrap_or_else(|| service.to_string());
        let (Some(clients), Some(servers)) = (
            by_workload.get(&(source.0.to_string(), source.1.to_string())),
            by_workload.get(&(namespace.to_string(), backend)),
        ) else {
            continue;
        };
        let all: Vec<Pair> = clients
            .iter()
            .flat_map(|c| servers.iter().map(move |s| (*c, *s)))
            .collect();
        let (crossing, staying): (Vec<Pair>, Vec<Pair>) = all
            .iter()
            .partition(|(c, s)| pods[*c].zone != pods[*s].zone);
        let cross = edge.cross_zone_per_sec.clamp(0.0, edge.per_sec);
        // The edge's cross-zone bytes over the crossing pairs, the rest over the others; a
        // side with no pairs hands its bytes to the other.
        let (cross, stay) = match (crossing.is_empty(), staying.is_empty()) {
            (true, _) => (0.0, edge.per_sec),
            (_, true) => (edge.per_sec, 0.0),
            _ => (cross, edge.per_sec - cross),
        };
        let drops_each = edge.drops_per_sec / all.len().max(1) as f64;
        for (group, bytes) in [(&crossing, cross), (&staying, stay)] {
            for (client, server) in group {
                pairs.push(PodPairFlow {
                    client: *client,
                    server: *server,
                    service: (namespace.to_string(), service.to_string()),
                    bytes_per_sec: bytes / group.len().max(1) as f64,
                    drops_per_sec: drops_each,
                });
            }
        }
    }
    PodTraffic {
        zones: flows.zones,
        pods,
        flows: pairs,
    }
}
