//! The East-West pane from projections: how each Service routes between zones and where its
//! ready endpoints are, and, with what a flow source observed, the traffic between workloads
//! and Services joined to the pods, nodes and zones the projections know.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use crate::domain::model::{FlowSnapshot, ServiceTopology, ZoneCount, ZoneRouting};
use crate::domain::time::Timestamp;
use crate::domain::traffic::{self, Observed, Place, Routing, Zones};

use super::objects::{ClusterObjects, EndpointSliceProjection, ServiceProjection};
use super::pods::PodPlace;

/// The pane from projections and, when a flow source answered, its observations.
pub fn flows_observed(
    objects: &ClusterObjects,
    at: Timestamp,
    observed: Option<&Observed>,
) -> FlowSnapshot {
    let mut snapshot = flows(objects, at);
    if let Some(observed) = observed {
        let places = Places::new(objects, &snapshot.zones, &snapshot.services);
        snapshot.edges = traffic::join(&observed.observations, &places, snapshot.zones.len());
        snapshot.source = Some(observed.source.clone());
    }
    snapshot
}

/// The cluster as the join sees it, with the indexes it needs built on first use only: a
/// source that names workloads never pays for the IP index.
struct Places<'a> {
    objects: &'a ClusterObjects,
    zones: &'a [String],
    services: &'a [ServiceTopology],
    by_ip: OnceCell<HashMap<IpAddr, (&'a str, &'a str)>>,
    /// (namespace, pod) → the Service whose endpoints include it.
    service_of_pod: OnceCell<HashMap<(&'a str, &'a str), &'a str>>,
    workloads: RefCell<HashMap<(String, String), Option<Place>>>,
}

impl<'a> Places<'a> {
    fn new(
        objects: &'a ClusterObjects,
        zones: &'a [String],
        services: &'a [ServiceTopology],
    ) -> Self {
        Places {
            objects,
            zones,
            services,
            by_ip: OnceCell::new(),
            service_of_pod: OnceCell::new(),
            workloads: RefCell::new(HashMap::new()),
        }
    }

    fn by_ip(&self) -> &HashMap<IpAddr, (&'a str, &'a str)> {
        self.by_ip.get_or_init(|| {
            self.objects
                .pods
                .places()
                .filter(|p| p.active)
                .filter_map(|p| Some((p.ip?, (p.namespace, p.name))))
                .collect()
        })
    }

    fn service_of_pod(&self, namespace: &str, pod: &str) -> Option<&'a str> {
        self.service_of_pod
            .get_or_init(|| {
                let mut map = HashMap::new();
                for slice in self.objects.endpoint_slices.values() {
                    let Some(service) = slice.service.as_deref() else {
                        continue;
                    };
                    for endpoint in &slice.endpoints {
                        if let Some(pod) = endpoint.pod.as_deref() {
                            map.insert((slice.namespace.as_str(), pod), service);
                        }
                    }
                }
                map
            })
            .get(&(namespace, pod))
            .copied()
    }

    fn zone_index(&self, node: Option<&str>) -> Option<usize> {
        let zone = self.objects.node_zone(node?)?;
        self.zones.iter().position(|z| z == zone)
    }

    fn workload_of(&self, pod: &PodPlace<'_>) -> Option<String> {
        pod.owner
            .map(|(kind, name)| self.objects.owner_workload(pod.namespace, kind, name).name)
    }

    fn place_of(&self, pod: &PodPlace<'_>) -> Place {
        Place {
            namespace: pod.namespace.to_string(),
            workload: self.workload_of(pod).or_else(|| Some(pod.name.to_string())),
            service: self
                .service_of_pod(pod.namespace, pod.name)
                .map(str::to_string),
            zones: self
                .zone_index(pod.node)
                .map_or(Zones::Unknown, Zones::Exact),
        }
    }
}

fn spread(counts: &[f64]) -> Zones {
    let total: f64 = counts.iter().sum();
    if total > 0.0 {
        Zones::Spread(counts.iter().map(|c| c / total).collect())
    } else {
        Zones::Unknown
    }
}

impl traffic::Cluster for Places<'_> {
    fn pod_by_ip(&self, ip: IpAddr) -> Option<Place> {
        let (namespace, name) = *self.by_ip().get(&ip)?;
        self.pod(namespace, name)
    }

    fn pod(&self, namespace: &str, name: &str) -> Option<Place> {
        let pod = self.objects.pods.pod_place(namespace, name)?;
        Some(self.place_of(&pod))
    }

    fn workload(&self, namespace: &str, name: &str) -> Option<Place> {
        let key = (namespace.to_string(), name.to_string());
        if let Some(known) = self.workloads.borrow().get(&key) {
            return known.clone();
        }
        let mut counts = vec![0.0; self.zones.len()];
        let mut services: HashMap<&str, u32> = HashMap::new();
        let mut found = false;
        for pod in self.objects.pods.places_in(namespace) {
            if !pod.active || self.workload_of(&pod).as_deref() != Some(name) {
                continue;
            }
            found = true;
            if let Some(zone) = self.zone_index(pod.node) {
                counts[zone] += 1.0;
            }
            if let Some(service) = self.service_of_pod(pod.namespace, pod.name) {
                *services.entry(service).or_default() += 1;
            }
        }
        let place = found.then(|| Place {
            namespace: namespace.to_string(),
            workload: Some(name.to_string()),
            // The Service most of its pods back.
            service: services
                .into_iter()
                .max_by_key(|(name, n)| (*n, std::cmp::Reverse(*name)))
                .map(|(s, _)| s.to_string()),
            zones: spread(&counts),
        });
        self.workloads.borrow_mut().insert(key, place.clone());
        place
    }

    fn service(&self, namespace: &str, name: &str) -> Option<Place> {
        let service = self
            .services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)?;
        let counts: Vec<f64> = self
            .zones
            .iter()
            .map(|zone| {
                service
                    .ready_endpoints_by_zone
                    .iter()
                    .filter(|z| &z.zone == zone)
                    .map(|z| f64::from(z.count))
                    .sum()
            })
            .collect();
        Some(Place {
            namespace: namespace.to_string(),
            workload: None,
            service: Some(name.to_string()),
            zones: spread(&counts),
        })
    }

    fn routing(&self, namespace: &str, name: &str) -> Option<Routing> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
            .map(|s| Routing {
                mode: s.routing,
                hints: s.hints,
            })
    }
}

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
        source: None,
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
