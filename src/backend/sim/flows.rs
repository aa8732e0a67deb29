//! East-west traffic: bytes between workloads and Services, how much of it crosses zones
//! under each Service's routing mode, and what gets dropped.

use std::collections::BTreeMap;

use crate::domain::Timestamp;
use crate::domain::model::{
    FlowEdge, FlowSnapshot, FlowSourceInfo, FlowSourceKind, FlowUnit, ServiceTopology, ZoneBasis,
    ZoneCount, ZoneRouting,
};
use crate::domain::scenario::Scenario;

/// Share of bytes that still cross zones when topology hints steer traffic.
const HINTED_RESIDUAL: f64 = 0.02;
/// Typical bytes per packet, to turn refused traffic into dropped packets.
const BYTES_PER_PACKET: f64 = 900.0;

/// What the flow model needs to know about the workloads right now.
pub struct FlowInputs<'a> {
    pub zones: &'a [String],
    /// Ready pods per zone of a workload (namespace, name); None if it does not exist.
    pub ready_by_zone: &'a dyn Fn(&str, &str) -> Option<Vec<u32>>,
    /// Ready pods per node of a workload, for node-local routing.
    pub ready_by_node: &'a dyn Fn(&str, &str) -> BTreeMap<u64, u32>,
    /// Load of a workload relative to its average.
    pub load: &'a dyn Fn(&str, &str) -> f64,
}

fn shares(counts: &[u32]) -> Option<Vec<f64>> {
    let total: u32 = counts.iter().sum();
    (total > 0).then(|| {
        counts
            .iter()
            .map(|&c| f64::from(c) / f64::from(total))
            .collect()
    })
}

/// Whether the EndpointSlice controller would publish zone hints: every zone needs an
/// endpoint and no zone may hold half of them (a proxy for its proportional-CPU rule).
pub fn hints_possible(endpoints_by_zone: &[u32]) -> bool {
    let total: u32 = endpoints_by_zone.iter().sum();
    !endpoints_by_zone.is_empty()
        && endpoints_by_zone.iter().all(|&c| c > 0)
        && endpoints_by_zone
            .iter()
            .all(|&c| f64::from(c) < 0.5 * f64::from(total))
}

/// Share of a flow's bytes that cross zones.
fn cross_zone_share(
    routing: ZoneRouting,
    clients: &[f64],
    endpoints: &[f64],
    endpoint_counts: &[u32],
) -> f64 {
    let random = 1.0
        - clients
            .iter()
            .zip(endpoints)
            .map(|(c, e)| c * e)
            .sum::<f64>();
    match routing {
        ZoneRouting::Default => random,
        ZoneRouting::TopologyAware => {
            if hints_possible(endpoint_counts) {
                let shortfall: f64 = clients
                    .iter()
                    .zip(endpoints)
                    .map(|(c, e)| (c - e).max(0.0))
                    .sum();
                (HINTED_RESIDUAL + 0.5 * shortfall).min(random)
            } else {
                random
            }
        }
        ZoneRouting::PreferClose => {
            let without_local: f64 = clients
                .iter()
                .zip(endpoint_counts)
                .filter(|(_, n)| **n == 0)
                .map(|(c, _)| c)
                .sum();
            without_local + (1.0 - without_local) * 0.01
        }
        ZoneRouting::NodeLocal => 0.0,
    }
}

pub fn snapshot(
    scenario: &Scenario,
    inputs: &FlowInputs<'_>,
    at: Timestamp,
    extra: Vec<ServiceTopology>,
) -> FlowSnapshot {
    let mut edges = Vec::new();
    for (name, workload) in &scenario.workloads {
        if workload.calls.is_empty() {
            continue;
        }
        let Some(client_counts) = (inputs.ready_by_zone)(&workload.namespace, name) else {
            continue;
        };
        let client_shares = shares(&client_counts);
        let load = (inputs.load)(&workload.namespace, name);
        for call in &workload.calls {
            let Some(service) = scenario
                .services
                .get(&call.service)
                .filter(|s| call.namespace.as_deref().is_none_or(|ns| ns == s.namespace))
            else {
                continue;
            };
            let backend = service.workload.as_deref().unwrap_or(&call.service);
            let endpoint_counts = (inputs.ready_by_zone)(&service.namespace, backend)
                .unwrap_or_else(|| vec![0; inputs.zones.len()]);
            let wanted = call.bytes_per_sec * load;
            let mut drops = call.drops_per_sec * load;
            let (bytes, cross) = match (&client_shares, shares(&endpoint_counts)) {
                (None, _) => (0.0, 0.0),
                (Some(_), None) => {
                    // No endpoints: connections are refused; only the attempts are seen.
                    drops += wanted / BYTES_PER_PACKET;
                    (wanted * 0.02, 0.0)
                }
                (Some(clients), Some(endpoints)) => {
                    let mut bytes = wanted;
                    if service.routing == ZoneRouting::NodeLocal {
                        let clients_by_node = (inputs.ready_by_node)(&workload.namespace, name);
                        let endpoints_by_node = (inputs.ready_by_node)(&service.namespace, backend);
                        let total: u32 = clients_by_node.values().sum();
                        let stranded: u32 = clients_by_node
                            .iter()
                            .filter(|(node, _)| !endpoints_by_node.contains_key(node))
                            .map(|(_, n)| *n)
                            .sum();
                        let stranded_share = if total > 0 {
                            f64::from(stranded) / f64::from(total)
                        } else {
                            0.0
                        };
                        drops += wanted * stranded_share / BYTES_PER_PACKET;
                        bytes = wanted * (1.0 - stranded_share);
                    }
                    let share =
                        cross_zone_share(service.routing, clients, &endpoints, &endpoint_counts);
                    (bytes, bytes * share.clamp(0.0, 1.0))
                }
            };
            edges.push(FlowEdge {
                source_namespace: workload.namespace.clone(),
                source_workload: name.clone(),
                destination_namespace: service.namespace.clone(),
                destination_service: call.service.clone(),
                per_sec: bytes,
                cross_zone_per_sec: cross,
                drops_per_sec: drops,
            });
        }
    }
    let mut services: Vec<ServiceTopology> = scenario
        .services
        .iter()
        .map(|(name, service)| {
            let backend = service.workload.as_deref().unwrap_or(name);
            let counts = (inputs.ready_by_zone)(&service.namespace, backend)
                .unwrap_or_else(|| vec![0; inputs.zones.len()]);
            topology(
                &service.namespace,
                name,
                service.routing,
                inputs.zones,
                &counts,
            )
        })
        .collect();
    services.extend(extra);
    FlowSnapshot {
        at,
        zones: inputs.zones.to_vec(),
        edges,
        services,
        source: Some(FlowSourceInfo {
            kind: FlowSourceKind::Simulator,
            unit: FlowUnit::Bytes,
            zones: ZoneBasis::Measured,
            destinations: true,
            detail: "its traffic model".to_string(),
            window_seconds: 0,
        }),
    }
}

pub fn topology(
    namespace: &str,
    name: &str,
    routing: ZoneRouting,
    zones: &[String],
    counts: &[u32],
) -> ServiceTopology {
    ServiceTopology {
        namespace: namespace.to_string(),
        name: name.to_string(),
        routing,
        ready_endpoints_by_zone: zones
            .iter()
            .zip(counts)
            .map(|(zone, &count)| ZoneCount {
                zone: zone.clone(),
                count,
            })
            .collect(),
        hints: zone_hints(routing, counts),
    }
}

/// Whether the EndpointSlice controller puts zone hints on the endpoints: for Topology Aware
/// Routing only when it can allocate them, for `trafficDistribution: PreferClose` always
/// (each endpoint is hinted to its own zone).
pub fn zone_hints(routing: ZoneRouting, endpoints_by_zone: &[u32]) -> bool {
    match routing {
        ZoneRouting::TopologyAware => hints_possible(endpoints_by_zone),
        ZoneRouting::PreferClose => endpoints_by_zone.iter().any(|&c| c > 0),
        ZoneRouting::Default | ZoneRouting::NodeLocal => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_spread_default_routing_crosses_two_thirds() {
        let even = [1.0 / 3.0; 3];
        let share = cross_zone_share(ZoneRouting::Default, &even, &even, &[2, 2, 2]);
        assert!((share - 2.0 / 3.0).abs() < 1e-9);
        let hinted = cross_zone_share(ZoneRouting::TopologyAware, &even, &even, &[2, 2, 2]);
        assert!(hinted < 0.05);
        let no_hints = cross_zone_share(
            ZoneRouting::TopologyAware,
            &even,
            &[0.5, 0.5, 0.0],
            &[2, 2, 0],
        );
        assert!(no_hints > 0.6);
        assert_eq!(
            cross_zone_share(ZoneRouting::NodeLocal, &even, &even, &[1, 1, 1]),
            0.0
        );
    }

    #[test]
    fn hints_need_every_zone_and_balance() {
        assert!(hints_possible(&[2, 2, 2]));
        assert!(hints_possible(&[1, 1, 1]));
        assert!(!hints_possible(&[3, 1, 0]));
        assert!(!hints_possible(&[4, 1, 1]));
        assert!(!hints_possible(&[]));
    }
}
