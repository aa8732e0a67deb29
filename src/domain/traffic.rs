//! East-west traffic as flow sources observe it, joined to the cluster. A source names each end
//! of what it saw as precisely as it can: an IP (flow logs), a pod (Hubble with pod context,
//! network-costs), a workload (a mesh, Hubble with workload context), a Service, or nothing.
//! The join turns every observation into an edge from a workload to a Service, with the part
//! that crossed a zone: measured where the source says or both pods are known, estimated from
//! where the pods run and how the Service routes where only workloads are known. The join
//! lives here once, whatever the source.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::model::{FlowEdge, FlowSourceInfo, ZoneRouting};

/// What one flow source reported in one round: its observations and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub source: FlowSourceInfo,
    pub observations: Vec<Observation>,
}

/// One end of an observed stream of traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Ip(IpAddr),
    Pod {
        namespace: String,
        name: String,
    },
    Workload {
        namespace: String,
        name: String,
    },
    Service {
        namespace: String,
        name: String,
    },
    /// The source does not say (network-costs does not name destinations).
    Unknown,
    /// Outside the cluster's pods (the internet, a reserved identity): not east-west.
    Outside,
}

/// Traffic a source saw between two ends, per second, in the source's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub from: Peer,
    pub to: Peer,
    pub per_sec: f64,
    /// The source's own word on whether it crossed a zone; `None` lets the join decide.
    pub crossed: Option<bool>,
    /// The source's word on which end called: `Some(true)` when these bytes are a reply
    /// (`from` is the server), `Some(false)` a request; `None` lets the join decide.
    pub reply: Option<bool>,
    pub drops_per_sec: f64,
}

impl Observation {
    pub fn new(from: Peer, to: Peer, per_sec: f64) -> Self {
        Observation {
            from,
            to,
            per_sec,
            crossed: None,
            reply: None,
            drops_per_sec: 0.0,
        }
    }
}

/// Where one end runs, as far as the cluster tells.
#[derive(Debug, Clone, PartialEq)]
pub enum Zones {
    /// One pod: the zone of its node, as an index into the cluster's zones.
    Exact(usize),
    /// Several pods: the share of them in each zone (in the cluster's zone order).
    Spread(Vec<f64>),
    Unknown,
}

/// One end resolved against the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub namespace: String,
    /// The workload (Deployment, StatefulSet…) of the pod or pods.
    pub workload: Option<String>,
    /// The Service these pods back, if any.
    pub service: Option<String>,
    pub zones: Zones,
}

/// A Service's zone routing, for estimating what crosses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Routing {
    pub mode: ZoneRouting,
    /// Its EndpointSlices carry zone hints.
    pub hints: bool,
}

/// What the join asks of the cluster.
pub trait Cluster {
    fn pod_by_ip(&self, ip: IpAddr) -> Option<Place>;
    fn pod(&self, namespace: &str, name: &str) -> Option<Place>;
    fn workload(&self, namespace: &str, name: &str) -> Option<Place>;
    /// The Service's ready endpoints as a place (zones spread over them).
    fn service(&self, namespace: &str, name: &str) -> Option<Place>;
    fn routing(&self, namespace: &str, name: &str) -> Option<Routing>;
}

fn resolve(peer: &Peer, cluster: &dyn Cluster) -> Option<Place> {
    match peer {
        Peer::Ip(ip) => cluster.pod_by_ip(*ip),
        Peer::Pod { namespace, name } => cluster.pod(namespace, name),
        Peer::Workload { namespace, name } => {
            cluster.workload(namespace, name).or_else(|| {
                // A workload the cluster no longer runs still names its traffic.
                Some(Place {
                    namespace: namespace.clone(),
                    workload: Some(name.clone()),
                    service: None,
                    zones: Zones::Unknown,
                })
            })
        }
        Peer::Service { namespace, name } => cluster.service(namespace, name).or_else(|| {
            Some(Place {
                namespace: namespace.clone(),
                workload: None,
                service: Some(name.clone()),
                zones: Zones::Unknown,
            })
        }),
        Peer::Unknown | Peer::Outside => None,
    }
}

fn shares(zones: &Zones, count: usize) -> Option<Vec<f64>> {
    match zones {
        Zones::Exact(index) => {
            let mut shares = vec![0.0; count];
            *shares.get_mut(*index)? = 1.0;
            Some(shares)
        }
        Zones::Spread(shares) if shares.len() == count => Some(shares.clone()),
        _ => None,
    }
}

/// The share of a Service's traffic expected to cross zones, given where its callers and its
/// endpoints are and how it routes: kube-proxy picks any endpoint without zone routing; with
/// hints (or `PreferClose`), callers stay in their zone when it has an endpoint; node-local
/// routing never leaves the node.
pub fn expected_cross_share(clients: &[f64], endpoints: &[f64], routing: Option<Routing>) -> f64 {
    let mode = routing.map_or(ZoneRouting::Default, |r| r.mode);
    let hinted = routing.is_some_and(|r| r.hints);
    let callers_without_local = || -> f64 {
        clients
            .iter()
            .zip(endpoints)
            .filter(|(_, e)| **e <= 0.0)
            .map(|(c, _)| c)
            .sum()
    };
    let share = match mode {
        ZoneRouting::NodeLocal => 0.0,
        ZoneRouting::PreferClose => callers_without_local(),
        ZoneRouting::TopologyAware if hinted => callers_without_local(),
        ZoneRouting::TopologyAware | ZoneRouting::Default => {
            1.0 - clients
                .iter()
                .zip(endpoints)
                .map(|(c, e)| c * e)
                .sum::<f64>()
        }
    };
    share.clamp(0.0, 1.0)
}

/// The share of an observation that crossed a zone: the source's word, else both pods' zones,
/// else the estimate from placement and routing. Unknown zones count as not crossing.
fn crossed_share(
    observation: &Observation,
    client: Option<&Place>,
    server: Option<&Place>,
    routing: Option<Routing>,
    zone_count: usize,
) -> f64 {
    if let Some(crossed) = observation.crossed {
        return if crossed { 1.0 } else { 0.0 };
    }
    let (Some(client), Some(server)) = (client, server) else {
        return 0.0;
    };
    if let (Zones::Exact(a), Zones::Exact(b)) = (&client.zones, &server.zones) {
        return if a == b { 0.0 } else { 1.0 };
    }
    match (
        shares(&client.zones, zone_count),
        shares(&server.zones, zone_count),
    ) {
        (Some(clients), Some(endpoints)) => expected_cross_share(&clients, &endpoints, routing),
        _ => 0.0,
    }
}

type EdgeKey = (String, String, String, String);

/// Neither end is named as a Service: the source recorded packets each way (flow logs,
/// Hubble), and which end asked is not said.
fn undirected(observation: &Observation) -> bool {
    let end = |peer: &Peer| matches!(peer, Peer::Ip(_) | Peer::Pod { .. } | Peer::Workload { .. });
    observation.reply.is_none() && end(&observation.from) && end(&observation.to)
}

/// What the ends of undirected observations sent each other, to tell requests from replies.
fn sent_between<'a>(
    observations: impl Iterator<Item = &'a Observation>,
) -> BTreeMap<(&'a Peer, &'a Peer), f64> {
    let mut sent = BTreeMap::new();
    for observation in observations.filter(|o| undirected(o)) {
        *sent
            .entry((&observation.from, &observation.to))
            .or_insert(0.0) += observation.per_sec;
    }
    sent
}

/// Edges from observations, one per (calling workload, called Service), largest first.
///
/// Which end is the caller: the destination is the Service the `to` end backs. When only
/// the `from` end backs a Service (a reply from a server pod, as flow logs record both
/// directions), the ends are swapped. When the source names no destination
/// (network-costs), a pod's traffic counts toward the Service it backs, else toward its
/// workload as a caller of an unknown Service. Observations whose ends are both outside the
/// cluster's pods (node addresses, AWS services) are not east-west traffic and are left out.
pub fn join(
    observations: &[Observation],
    cluster: &dyn Cluster,
    zone_count: usize,
) -> Vec<FlowEdge> {
    let mut edges: BTreeMap<EdgeKey, FlowEdge> = BTreeMap::new();
    let usable = |o: &&Observation| o.per_sec.is_finite() && o.per_sec >= 0.0;
    let sent = sent_between(observations.iter().filter(usable));
    for observation in observations.iter().filter(usable) {
        let from = resolve(&observation.from, cluster);
        let to = resolve(&observation.to, cluster);
        // Both ends back a Service, or neither does: the end that sends more is answering.
        // On a tie the source cannot tell; both directions still go to one edge, the same
        // way round whichever is read first.
        let answering = || {
            let forth = sent
                .get(&(&observation.from, &observation.to))
                .copied()
                .unwrap_or(0.0);
            let back = sent
                .get(&(&observation.to, &observation.from))
                .copied()
                .unwrap_or(0.0);
            forth > back || (forth == back && observation.from < observation.to)
        };
        if observation.from == Peer::Outside || observation.to == Peer::Outside {
            continue;
        }
        let (client, server) = match (&from, &to) {
            (None, None) => continue,
            (Some(f), Some(t)) if observation.reply == Some(true) => (Some(t), Some(f)),
            (Some(f), Some(t)) if observation.reply == Some(false) => (Some(f), Some(t)),
            // Traffic leaving the cluster's pods (to a node, a load balancer, the internet) is
            // not east-west; an end the source left unnamed is another matter.
            (Some(_), None) if observation.to != Peer::Unknown => continue,
            (None, Some(_)) if observation.from != Peer::Unknown => continue,
            (Some(f), None) if f.service.is_some() => (None, Some(f)),
            (Some(f), None) => (Some(f), None),
            (None, Some(t)) => (None, Some(t)),
            (Some(f), Some(t)) if t.service.is_none() && f.service.is_some() => (Some(t), Some(f)),
            (Some(f), Some(t))
                if t.service.is_some() == f.service.is_some()
                    && undirected(observation)
                    && answering() =>
            {
                (Some(t), Some(f))
            }
            (Some(f), Some(t)) => (Some(f), Some(t)),
        };
        let routing = server.and_then(|s| {
            s.service
                .as_deref()
                .and_then(|name| cluster.routing(&s.namespace, name))
        });
        let share = crossed_share(observation, client, server, routing, zone_count);
        let key: EdgeKey = (
            client.map(|c| c.namespace.clone()).unwrap_or_default(),
            client.and_then(|c| c.workload.clone()).unwrap_or_default(),
            server
                .filter(|s| s.service.is_some())
                .map(|s| s.namespace.clone())
                .unwrap_or_default(),
            server.and_then(|s| s.service.clone()).unwrap_or_default(),
        );
        let edge = edges.entry(key.clone()).or_insert_with(|| FlowEdge {
            source_namespace: key.0,
            source_workload: key.1,
            destination_namespace: key.2,
            destination_service: key.3,
            per_sec: 0.0,
            cross_zone_per_sec: 0.0,
            drops_per_sec: 0.0,
        });
        edge.per_sec += observation.per_sec;
        edge.cross_zone_per_sec += observation.per_sec * share;
        if observation.drops_per_sec.is_finite() {
            edge.drops_per_sec += observation.drops_per_sec.max(0.0);
        }
    }
    let mut edges: Vec<FlowEdge> = edges
        .into_values()
        .filter(|e| e.source().is_some() || e.destination().is_some())
        .collect();
    edges.sort_by(|a, b| b.per_sec.total_cmp(&a.per_sec));
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Three zones; shop/frontend (one pod per zone) calls Service shop/catalog (pods in
    /// zones 0 and 1); data/etl runs in zone 0 and backs no Service.
    struct Fixture {
        pods: HashMap<&'static str, (&'static str, &'static str, Option<&'static str>, usize)>,
        routing: ZoneRouting,
        hints: bool,
    }

    fn fixture() -> Fixture {
        let pods = HashMap::from([
            ("10.0.0.1", ("shop", "frontend", None, 0)),
            ("10.0.1.1", ("shop", "frontend", None, 1)),
            ("10.0.2.1", ("shop", "frontend", None, 2)),
            ("10.0.0.2", ("shop", "catalog", Some("catalog"), 0)),
            ("10.0.1.2", ("shop", "catalog", Some("catalog"), 1)),
            ("10.0.0.3", ("data", "etl", None, 0)),
            ("10.0.2.2", ("shop", "api", Some("api"), 2)),
        ]);
        Fixture {
            pods,
            routing: ZoneRouting::Default,
            hints: false,
        }
    }

    fn place(ns: &str, workload: &str, service: Option<&str>, zones: Zones) -> Place {
        Place {
            namespace: ns.into(),
            workload: Some(workload.into()),
            service: service.map(str::to_string),
            zones,
        }
    }

    impl Fixture {
        fn spread(&self, ns: &str, workload: &str) -> Option<(Option<&'static str>, Vec<f64>)> {
            let mut counts = [0.0; 3];
            let mut service = None;
            for (pod_ns, pod_workload, pod_service, zone) in self.pods.values() {
                if *pod_ns == ns && *pod_workload == workload {
                    counts[*zone] += 1.0;
                    service = *pod_service;
                }
            }
            let total: f64 = counts.iter().sum();
            (total > 0.0).then(|| (service, counts.iter().map(|c| c / total).collect()))
        }
    }

    impl Cluster for Fixture {
        fn pod_by_ip(&self, ip: IpAddr) -> Option<Place> {
            let (ns, workload, service, zone) = self.pods.get(ip.to_string().as_str())?;
            Some(place(ns, workload, *service, Zones::Exact(*zone)))
        }
        fn pod(&self, namespace: &str, name: &str) -> Option<Place> {
            self.pods
                .iter()
                .find(|(ip, (ns, _, _, _))| *ns == namespace && **ip == name)
                .and_then(|(ip, _)| self.pod_by_ip(ip.parse().ok()?))
        }
        fn workload(&self, namespace: &str, name: &str) -> Option<Place> {
            let (service, spread) = self.spread(namespace, name)?;
            Some(place(namespace, name, service, Zones::Spread(spread)))
        }
        fn service(&self, namespace: &str, name: &str) -> Option<Place> {
            (name == "catalog").then(|| {
                let (_, spread) = self.spread(namespace, name).unwrap_or_default();
                Place {
                    namespace: namespace.into(),
                    workload: Some("catalog".into()),
                    service: Some("catalog".into()),
                    zones: Zones::Spread(spread),
                }
            })
        }
        fn routing(&self, _: &str, name: &str) -> Option<Routing> {
            (name == "catalog").then_some(Routing {
                mode: self.routing,
                hints: self.hints,
            })
        }
    }

    fn ip(text: &str) -> Peer {
        Peer::Ip(text.parse().unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn flow_log_pairs_join_by_ip_and_replies_fold_into_their_request() {
        let cluster = fixture();
        let observations = vec![
            // frontend in zone 0 → catalog in zone 1: crosses.
            Observation::new(ip("10.0.0.1"), ip("10.0.1.2"), 300.0),
            // The reply, catalog → frontend: the same edge, also crossing.
            Observation::new(ip("10.0.1.2"), ip("10.0.0.1"), 700.0),
            // frontend in zone 0 → catalog in zone 0: stays.
            Observation::new(ip("10.0.0.1"), ip("10.0.0.2"), 1000.0),
            // To an address outside the pods (a NAT gateway): not east-west.
            Observation::new(ip("10.0.0.1"), ip("10.0.200.9"), 5000.0),
        ];
        let edges = join(&observations, &cluster, 3);
        assert_eq!(edges.len(), 1, "{edges:?}");
        let edge = &edges[0];
        assert_eq!(edge.source(), Some(("shop", "frontend")));
        assert_eq!(edge.destination(), Some(("shop", "catalog")));
        assert!((edge.per_sec - 2000.0).abs() < 1e-9);
        assert!((edge.cross_zone_per_sec - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn between_two_service_pods_the_end_that_sends_more_is_answering() {
        let cluster = fixture();
        let observations = vec![
            Observation::new(ip("10.0.2.2"), ip("10.0.0.2"), 100.0),
            Observation::new(ip("10.0.0.2"), ip("10.0.2.2"), 300.0),
        ];
        let edges = join(&observations, &cluster, 3);
        assert_eq!(edges.len(), 1, "{edges:?}");
        assert_eq!(edges[0].source(), Some(("shop", "api")));
        assert_eq!(edges[0].destination(), Some(("shop", "catalog")));
        assert!((edges[0].cross_zone_per_sec - 400.0).abs() < 1e-9);
    }

    #[test]
    fn without_destinations_a_pods_bytes_count_toward_the_service_it_backs() {
        let cluster = fixture();
        let mut answered = Observation::new(
            Peer::Pod {
                namespace: "shop".into(),
                name: "10.0.1.2".into(),
            },
            Peer::Unknown,
            800.0,
        );
        answered.crossed = Some(true);
        let mut asked = Observation::new(
            Peer::Pod {
                namespace: "data".into(),
                name: "10.0.0.3".into(),
            },
            Peer::Unknown,
            200.0,
        );
        asked.crossed = Some(false);
        let edges = join(&[answered, asked], &cluster, 3);
        assert_eq!(edges.len(), 2);
        assert_eq!(edges[0].source(), None);
        assert_eq!(edges[0].destination(), Some(("shop", "catalog")));
        assert!((edges[0].cross_zone_per_sec - 800.0).abs() < 1e-9);
        assert_eq!(edges[1].source(), Some(("data", "etl")));
        assert_eq!(edges[1].destination(), None);
        assert_eq!(edges[1].cross_zone_per_sec, 0.0);
    }

    #[test]
    fn workload_level_sources_are_estimated_from_placement_and_routing() {
        let mut cluster = fixture();
        let observation = Observation::new(
            Peer::Workload {
                namespace: "shop".into(),
                name: "frontend".into(),
            },
            Peer::Service {
                namespace: "shop".into(),
                name: "catalog".into(),
            },
            900.0,
        );
        // Callers even over three zones, endpoints half in zone 0 and half in zone 1:
        // 1 − (⅓·½ + ⅓·½) = ⅔ crosses under kube-proxy's random choice.
        let edges = join(std::slice::from_ref(&observation), &cluster, 3);
        assert!(
            (edges[0].cross_zone_per_sec - 600.0).abs() < 1e-6,
            "{edges:?}"
        );
        // With hints, only the callers of zone 2 (no endpoint there) leave their zone.
        cluster.routing = ZoneRouting::TopologyAware;
        cluster.hints = true;
        let edges = join(std::slice::from_ref(&observation), &cluster, 3);
        assert!(
            (edges[0].cross_zone_per_sec - 300.0).abs() < 1e-6,
            "{edges:?}"
        );
        cluster.routing = ZoneRouting::NodeLocal;
        let edges = join(&[observation], &cluster, 3);
        assert_eq!(edges[0].cross_zone_per_sec, 0.0);
    }

    #[test]
    fn nonsense_rates_are_ignored() {
        let cluster = fixture();
        let bad = [f64::NAN, -5.0, f64::INFINITY]
            .map(|rate| Observation::new(ip("10.0.0.1"), ip("10.0.1.2"), rate));
        assert!(join(&bad, &cluster, 3).is_empty());
    }
}
