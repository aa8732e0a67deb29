//! The East-West pane from projections: how each Service routes between zones and where its
//! ready endpoints are. Flow edges need flow metrics (Hubble), so without them there are none.

use std::collections::{BTreeSet, HashMap};

use crate::domain::model::{FlowSnapshot, ServiceTopology, ZoneCount, ZoneRouting};
use crate::domain::time::Timestamp;

use super::objects::{ClusterObjects, EndpointSliceProjection, ServiceProjection};

pub fn flows(objects: &ClusterObjects, at: Timestamp) -> FlowSnapshot {
    let zones = zones(objects);
    // The slices of each Service, found once instead of once per Service.
    let mut slices: HashMap<(&str, &str), Vec<&EndpointSliceProjection>> = HashMap::new();
    for slice in objects.endpoint_slices.values() {
        if let Some(service) = slice.service.as_deref() {
            slices
                .entry((slice.namespace.as_str(), service))
                .or_default()
                .push(slice);
        }
    }
    let services = objects
        .services
        .values()
        .filter(|service| service.has_selector && !service.headless)
        .map(|service| {
            let id = (service.namespace.as_str(), service.name.as_str());
            let slices = slices.get(&id).map(Vec::as_slice).unwrap_or_default();
            topology(objects, service, slices, &zones)
        })
        .collect();
    FlowSnapshot {
        at,
        zones,
        edges: Vec::new(),
        services,
    }
}

/// The zones of the cluster's nodes and endpoints, sorted.
fn zones(objects: &ClusterObjects) -> Vec<String> {
    let mut zones: BTreeSet<String> = objects
        .nodes
        .values()
        .filter_map(|node| node.zone.clone())
        .collect();
    for slice in objects.endpoint_slices.values() {
        zones.extend(slice.endpoints.iter().filter_map(|e| e.zone.clone()));
    }
    zones.into_iter().collect()
}

/// Which mechanism decides the zone of a connection. Node-local policy wins over everything;
/// `trafficDistribution` over the topology-mode annotation, as kube-proxy applies them.
pub fn zone_routing(service: &ServiceProjection) -> ZoneRouting {
    if service.internal_traffic_policy_local {
        return ZoneRouting::NodeLocal;
    }
    if service
        .traffic_distribution
        .as_deref()
        .is_some_and(|d| d == "PreferClose" || d == "PreferSameZone")
    {
        return ZoneRouting::PreferClose;
    }
    if service
        .topology_mode
        .as_deref()
        .is_some_and(|mode| mode.eq_ignore_ascii_case("auto"))
    {
        return ZoneRouting::TopologyAware;
    }
    ZoneRouting::Default
}

fn topology(
    objects: &ClusterObjects,
    service: &ServiceProjection,
    slices: &[&EndpointSliceProjection],
    zones: &[String],
) -> ServiceTopology {
    let mut counts = vec![0u32; zones.len()];
    let mut hints = false;
    let endpoints = slices.iter().flat_map(|slice| slice.endpoints.iter());
    for endpoint in endpoints {
        hints |= endpoint.hinted;
        if !endpoint.ready {
            continue;
        }
        // An endpoint without a zone is placed by its node's zone label.
        let zone = endpoint
            .zone
            .as_deref()
            .or_else(|| endpoint.node.as_deref().and_then(|n| objects.node_zone(n)));
        if let Some(index) = zone.and_then(|z| zones.iter().position(|known| known == z)) {
            counts[index] += 1;
        }
    }
    ServiceTopology {
        namespace: service.namespace.clone(),
        name: service.name.clone(),
        routing: zone_routing(service),
        ready_endpoints_by_zone: zones
            .iter()
            .zip(counts)
            .map(|(zone, count)| ZoneCount {
                zone: zone.clone(),
                count,
            })
            .collect(),
        hints,
    }
}
