//! East-west traffic from the flow metrics a Prometheus holds, in the shapes their exporters
//! publish them: Kubecost/OpenCost network-costs (bytes per pod, same zone or not), Istio and
//! Linkerd (bytes between workloads), Hubble (flows, with whichever context labels the
//! cluster configured). Each becomes observations for the join in `traffic`; none carries
//! zones of its own except network-costs, and none is relabelled first.
//!
//! Queries group by every label a shape may carry; a label an installation does not set is
//! simply empty, so one query serves every configuration.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::{FlowSourceInfo, FlowSourceKind, FlowUnit, ZoneBasis};
use super::promql::{MetricNames, QueryId, Results, Sample};
use super::traffic::{Observation, Observed, Peer};

/// A flow source found in Prometheus, in the order kockpit prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowMetrics {
    NetworkCosts,
    Istio,
    Linkerd,
    Hubble,
}

/// Network-costs' egress counter (`kubecost-network-costs` DaemonSet).
pub const NETWORK_COSTS_EGRESS: &str = "kubecost_pod_network_egress_bytes_total";
/// Istio's byte metrics: TCP connections, and HTTP/gRPC request and response sizes.
pub const ISTIO_BYTES: [&str; 4] = [
    "istio_tcp_sent_bytes_total",
    "istio_tcp_received_bytes_total",
    "istio_request_bytes_sum",
    "istio_response_bytes_sum",
];
/// Linkerd proxy TCP byte counters.
pub const LINKERD_BYTES: [&str; 2] = ["tcp_read_bytes_total", "tcp_write_bytes_total"];
pub const HUBBLE_FLOWS: &str = "hubble_flows_processed_total";
pub const HUBBLE_DROPS: &str = "hubble_drop_total";

impl FlowMetrics {
    /// The first source whose metric names Prometheus holds.
    pub fn detect(present: &BTreeSet<String>) -> Option<FlowMetrics> {
        let has = |name: &str| present.contains(name);
        if has(NETWORK_COSTS_EGRESS) {
            Some(FlowMetrics::NetworkCosts)
        } else if ISTIO_BYTES.iter().any(|n| has(n)) {
            Some(FlowMetrics::Istio)
        } else if LINKERD_BYTES.iter().any(|n| has(n)) {
            Some(FlowMetrics::Linkerd)
        } else if has(HUBBLE_FLOWS) {
            Some(FlowMetrics::Hubble)
        } else {
            None
        }
    }

    pub fn kind(self) -> FlowSourceKind {
        match self {
            FlowMetrics::NetworkCosts => FlowSourceKind::NetworkCosts,
            FlowMetrics::Istio => FlowSourceKind::Istio,
            FlowMetrics::Linkerd => FlowSourceKind::Linkerd,
            FlowMetrics::Hubble => FlowSourceKind::Hubble,
        }
    }

    /// The metric the source line names.
    pub fn metric(self) -> &'static str {
        match self {
            FlowMetrics::NetworkCosts => NETWORK_COSTS_EGRESS,
            FlowMetrics::Istio => "istio_tcp_*_bytes_total, istio_request/response_bytes",
            FlowMetrics::Linkerd => "tcp_read/write_bytes_total",
            FlowMetrics::Hubble => HUBBLE_FLOWS,
        }
    }
}

/// What kockpit looks for when no flow source is found, and what provides it: the words of
/// the East-West pane's state.
pub const MISSING: &str = "no flow metrics in Prometheus: looked for kubecost_pod_network_egress_bytes_total (Kubecost/OpenCost network-costs), istio_tcp_sent_bytes_total (Istio), tcp_write_bytes_total (Linkerd) and hubble_flows_processed_total (Hubble); or pass --flow-logs LOG_GROUP for VPC Flow Logs";

/// The summed rate of several metric families as one query. A regex on `__name__` would not
/// do: `rate()` drops the names, and series that differ only in them collide. Each family's
/// sum is tagged with its name instead, and the parts are joined with `or`.
fn summed(families: &[&str], by: &str, selector: &str, window: &str) -> String {
    families
        .iter()
        .map(|family| {
            format!(
                "label_replace(sum by ({by})(rate({family}{selector}[{window}])), \"kockpit_family\", \"{family}\", \"\", \"\")"
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

const HUBBLE_LABELS: &str = "source,destination,source_namespace,source_pod,source_workload,destination_namespace,destination_pod,destination_workload,traffic_direction,source_zone,destination_zone";

/// The queries of one flow source over `window`: its traffic, and its drops (Hubble).
pub fn queries(source: FlowMetrics, window: &str) -> Vec<(QueryId, String)> {
    let w = window;
    match source {
        FlowMetrics::NetworkCosts => vec![(
            QueryId::FlowBytes,
            format!(
                "sum by (namespace,pod_name,internet,same_region,same_zone,sameRegion,sameZone)(rate({NETWORK_COSTS_EGRESS}[{w}]))"
            ),
        )],
        // `namespace` and `pod` are the scrape's target labels: the reporting proxy's pod.
        FlowMetrics::Istio => vec![(
            QueryId::FlowBytes,
            summed(
                &ISTIO_BYTES,
                "reporter,namespace,pod,source_workload,source_workload_namespace,destination_service_name,destination_service_namespace,destination_workload,destination_workload_namespace",
                "",
                w,
            ),
        )],
        // Only the client proxy's connections to endpoints: the other direction/peer views
        // repeat the same bytes.
        FlowMetrics::Linkerd => vec![(
            QueryId::FlowBytes,
            summed(
                &LINKERD_BYTES,
                "namespace,pod,deployment,statefulset,daemonset,dst_namespace,dst_pod,dst_service,dst_deployment,dst_statefulset,dst_daemonset,dst_zone_locality",
                "{direction=\"outbound\",peer=\"dst\"}",
                w,
            ),
        )],
        // Each packet direction once, where it is delivered (`to-endpoint`): a flow is also
        // seen leaving its source (`to-stack`).
        FlowMetrics::Hubble => vec![
            (
                QueryId::FlowBytes,
                format!(
                    "sum by ({HUBBLE_LABELS})(rate({HUBBLE_FLOWS}{{verdict=\"FORWARDED\",subtype=\"to-endpoint\"}}[{w}]))"
                ),
            ),
            (
                QueryId::FlowDrops,
                format!("sum by ({HUBBLE_LABELS})(rate({HUBBLE_DROPS}[{w}]))"),
            ),
        ],
    }
}

fn non_empty(value: &str) -> Option<&str> {
    (!value.is_empty() && value != "unknown").then_some(value)
}

fn workload(namespace: &str, name: &str) -> Peer {
    match (non_empty(namespace), non_empty(name)) {
        (Some(namespace), Some(name)) => Peer::Workload {
            namespace: namespace.to_string(),
            name: name.to_string(),
        },
        _ => Peer::Unknown,
    }
}

fn service(namespace: &str, name: &str) -> Option<Peer> {
    Some(Peer::Service {
        namespace: non_empty(namespace)?.to_string(),
        name: non_empty(name)?.to_string(),
    })
}

fn pod(namespace: &str, name: &str) -> Option<Peer> {
    Some(Peer::Pod {
        namespace: non_empty(namespace)?.to_string(),
        name: non_empty(name)?.to_string(),
    })
}

fn finite(samples: Option<&Vec<Sample>>) -> impl Iterator<Item = &Sample> {
    samples
        .into_iter()
        .flatten()
        .filter(|s| s.value.is_finite() && s.value >= 0.0)
}

/// A network-costs label, spelled `same_zone` since network-costs 0.17 and `sameZone` before.
fn either<'a>(sample: &'a Sample, snake: &str, camel: &str) -> &'a str {
    match sample.label(snake) {
        "" => sample.label(camel),
        value => value,
    }
}

/// Network-costs: bytes each pod sent inside the region, crossing a zone or not. Internet
/// and cross-region traffic is not east-west. (Its ingress counter counts the same bytes
/// again from the receiving side, so only egress is read.)
fn network_costs(results: &Results) -> Vec<Observation> {
    finite(results.get(&QueryId::FlowBytes))
        .filter(|s| {
            s.label("internet") != "true" && either(s, "same_region", "sameRegion") != "false"
        })
        .filter_map(|s| {
            let mut observation = Observation::new(
                pod(s.label("namespace"), s.label("pod_name"))?,
                Peer::Unknown,
                s.value,
            );
            observation.crossed = match either(s, "same_zone", "sameZone") {
                "true" => Some(false),
                "false" => Some(true),
                _ => None,
            };
            Some(observation)
        })
        .collect()
}

/// Istio: bytes between workloads, each request reported by both proxies. The client's
/// report is used (its `pod` target label is the calling pod, whose zone is known); the
/// server's only where the client has no proxy.
fn istio(results: &Results) -> Vec<Observation> {
    let mut by_pair: BTreeMap<(Peer, Peer), (f64, f64)> = BTreeMap::new();
    let mut clients: BTreeMap<(Peer, Peer), BTreeMap<Peer, f64>> = BTreeMap::new();
    for s in finite(results.get(&QueryId::FlowBytes)) {
        let from = workload(
            s.label("source_workload_namespace"),
            s.label("source_workload"),
        );
        let to = service(
            s.label("destination_service_namespace"),
            s.label("destination_service_name"),
        )
        .unwrap_or_else(|| {
            workload(
                s.label("destination_workload_namespace"),
                s.label("destination_workload"),
            )
        });
        let entry = by_pair.entry((from.clone(), to.clone())).or_default();
        if s.label("reporter") == "destination" {
            entry.1 += s.value;
        } else {
            entry.0 += s.value;
            let client = pod(s.label("namespace"), s.label("pod")).unwrap_or_else(|| from.clone());
            *clients
                .entry((from, to))
                .or_default()
                .entry(client)
                .or_default() += s.value;
        }
    }
    let mut observations = Vec::new();
    for ((from, to), (client, server)) in by_pair {
        match clients.remove(&(from.clone(), to.clone())) {
            Some(pods) if client > 0.0 => observations.extend(
                pods.into_iter()
                    .map(|(pod, bytes)| directed(Observation::new(pod, to.clone(), bytes))),
            ),
            _ => observations.push(directed(Observation::new(from, to, server))),
        }
    }
    observations
}

/// A request-side observation: `from` called `to`.
fn directed(mut observation: Observation) -> Observation {
    observation.reply = Some(false);
    observation
}

fn first_of<'a>(sample: &'a Sample, labels: &[&str]) -> &'a str {
    labels
        .iter()
        .map(|l| sample.label(l))
        .find(|v| !v.is_empty())
        .unwrap_or("")
}

/// Linkerd: bytes read and written by the calling proxies towards each endpoint. Zones are
/// exact: `dst_zone_locality` (Linkerd 2.17 and later) says whether the endpoint is in the
/// caller's zone; otherwise the caller and endpoint pods are placed through the cluster.
fn linkerd(results: &Results) -> Vec<Observation> {
    finite(results.get(&QueryId::FlowBytes))
        .map(|s| {
            let caller = workload(
                s.label("namespace"),
                first_of(s, &["deployment", "statefulset", "daemonset"]),
            );
            let from = pod(s.label("namespace"), s.label("pod")).unwrap_or(caller);
            let locality = match s.label("dst_zone_locality") {
                "local" => Some(false),
                "remote" => Some(true),
                _ => None,
            };
            let endpoint = pod(s.label("dst_namespace"), s.label("dst_pod"));
            let to = match (locality, endpoint) {
                (None, Some(endpoint)) => endpoint,
                _ => {
                    service(s.label("dst_namespace"), s.label("dst_service")).unwrap_or_else(|| {
                        workload(
                            s.label("dst_namespace"),
                            first_of(s, &["dst_deployment", "dst_statefulset", "dst_daemonset"]),
                        )
                    })
                }
            };
            let mut observation = directed(Observation::new(from, to, s.value));
            observation.crossed = locality;
            observation
        })
        .collect()
}

/// Whether Linkerd's labels place both ends exactly.
fn linkerd_zones(results: &Results) -> ZoneBasis {
    let exact = finite(results.get(&QueryId::FlowBytes)).any(|s| {
        !s.label("dst_zone_locality").is_empty()
            || (!s.label("pod").is_empty() && !s.label("dst_pod").is_empty())
    });
    if exact {
        ZoneBasis::Measured
    } else {
        ZoneBasis::Placement
    }
}

/// One end of a Hubble flow, from whichever context labels are set: pods where known (exact
/// zones), else workloads; the `source`/`destination` context label reads as `namespace/pod`
/// or as a workload name.
fn hubble_end(sample: &Sample, side: &str) -> Peer {
    // A reserved identity (`reserved:world`, `reserved:host`…) is not a pod.
    if sample.label(side).starts_with("reserved:") {
        return Peer::Outside;
    }
    let label = |name: &str| sample.label(&format!("{side}_{name}")).to_string();
    let namespace = label("namespace");
    if let Some(peer) = pod(&namespace, &label("pod")) {
        return peer;
    }
    if let Some((ns, name)) = sample.label(side).split_once('/')
        && let Some(peer) = pod(ns, name)
    {
        return peer;
    }
    let workload_name = label("workload");
    let name = if workload_name.is_empty() {
        sample.label(side).to_string()
    } else {
        workload_name
    };
    match workload(&namespace, &name) {
        // No context at all: an identity outside the cluster's workloads.
        Peer::Unknown => Peer::Outside,
        peer => peer,
    }
}

/// Hubble's flows delivered to an endpoint, and its drops. `traffic_direction`, where set,
/// is the connection's direction at the receiving endpoint: a flow delivered to the caller
/// (`egress` there) is a reply.
fn hubble(results: &Results) -> Vec<Observation> {
    type Key = (Peer, Peer, Option<bool>, Option<bool>);
    let mut observations: BTreeMap<Key, Observation> = BTreeMap::new();
    for (id, s) in finite(results.get(&QueryId::FlowBytes))
        .map(|s| (QueryId::FlowBytes, s))
        .chain(finite(results.get(&QueryId::FlowDrops)).map(|s| (QueryId::FlowDrops, s)))
    {
        let from = hubble_end(s, "source");
        let to = hubble_end(s, "destination");
        // Zone labels exist only where a relabelling adds them; then they decide.
        let crossed = match (s.label("source_zone"), s.label("destination_zone")) {
            ("", _) | (_, "") => None,
            (a, b) => Some(a != b),
        };
        let reply = match s.label("traffic_direction") {
            "egress" => Some(true),
            "ingress" => Some(false),
            _ => None,
        };
        let observation = observations
            .entry((from.clone(), to.clone(), crossed, reply))
            .or_insert_with(|| {
                let mut o = Observation::new(from, to, 0.0);
                o.crossed = crossed;
                o.reply = reply;
                o
            });
        if id == QueryId::FlowDrops {
            observation.drops_per_sec += s.value;
        } else {
            observation.per_sec += s.value;
        }
    }
    observations.into_values().collect()
}

/// Whether the Hubble labels name pods (zones measured) or only workloads (estimated).
fn hubble_zones(results: &Results) -> ZoneBasis {
    let pods = finite(results.get(&QueryId::FlowBytes)).any(|s| {
        matches!(hubble_end(s, "source"), Peer::Pod { .. })
            && matches!(hubble_end(s, "destination"), Peer::Pod { .. })
            || !s.label("source_zone").is_empty()
    });
    if pods {
        ZoneBasis::Measured
    } else {
        ZoneBasis::Placement
    }
}

/// What the flow source in Prometheus observed, if there is one and it has answered.
/// `window_seconds` is the rate window: how long a change takes to show in full.
pub fn observed(names: &MetricNames, results: &Results, window_seconds: u64) -> Option<Observed> {
    let source = names.flows?;
    results.get(&QueryId::FlowBytes)?;
    let (observations, unit, zones, destinations) = match source {
        FlowMetrics::NetworkCosts => (
            network_costs(results),
            FlowUnit::Bytes,
            ZoneBasis::Measured,
            false,
        ),
        FlowMetrics::Istio => (istio(results), FlowUnit::Bytes, ZoneBasis::Placement, true),
        FlowMetrics::Linkerd => (
            linkerd(results),
            FlowUnit::Bytes,
            linkerd_zones(results),
            true,
        ),
        FlowMetrics::Hubble => (
            hubble(results),
            FlowUnit::Flows,
            hubble_zones(results),
            true,
        ),
    };
    Some(Observed {
        source: FlowSourceInfo {
            kind: source.kind(),
            unit,
            zones,
            destinations,
            detail: format!("Prometheus {}", source.metric()),
            window_seconds,
        },
        observations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    fn names(source: FlowMetrics) -> MetricNames {
        let mut names = MetricNames::detect(&BTreeSet::new());
        names.flows = Some(source);
        names
    }

    #[test]
    fn the_preferred_source_wins() {
        let present = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            FlowMetrics::detect(&present(&[HUBBLE_FLOWS, NETWORK_COSTS_EGRESS])),
            Some(FlowMetrics::NetworkCosts)
        );
        assert_eq!(
            FlowMetrics::detect(&present(&[HUBBLE_FLOWS, "istio_request_bytes_sum"])),
            Some(FlowMetrics::Istio)
        );
        assert_eq!(FlowMetrics::detect(&present(&["up"])), None);
    }

    #[test]
    fn network_costs_keeps_east_west_and_its_zone_word() {
        let results = Results::from([(
            QueryId::FlowBytes,
            vec![
                sample(
                    &[
                        ("namespace", "shop"),
                        ("pod_name", "cart-1"),
                        ("internet", "false"),
                        ("sameRegion", "true"),
                        ("sameZone", "false"),
                    ],
                    100.0,
                ),
                sample(
                    &[
                        ("namespace", "shop"),
                        ("pod_name", "cart-1"),
                        ("internet", "true"),
                        ("sameRegion", "false"),
                        ("sameZone", "false"),
                    ],
                    900.0,
                ),
                // network-costs 0.17 and later spell the labels in snake case.
                sample(
                    &[
                        ("namespace", "shop"),
                        ("pod_name", "cart-2"),
                        ("internet", "false"),
                        ("same_region", "true"),
                        ("same_zone", "true"),
                    ],
                    50.0,
                ),
            ],
        )]);
        let observed =
            observed(&names(FlowMetrics::NetworkCosts), &results, 300).expect("observed");
        assert_eq!(observed.observations.len(), 2);
        assert_eq!(observed.observations[0].crossed, Some(true));
        assert_eq!(observed.observations[1].crossed, Some(false));
        assert!(!observed.source.destinations);
    }

    #[test]
    fn istio_prefers_the_clients_report() {
        let row = |reporter: &str, value: f64| {
            sample(
                &[
                    ("reporter", reporter),
                    ("source_workload", "frontend"),
                    ("source_workload_namespace", "shop"),
                    ("destination_service_name", "catalog"),
                    ("destination_service_namespace", "shop"),
                ],
                value,
            )
        };
        let results = Results::from([(
            QueryId::FlowBytes,
            vec![row("source", 10.0), row("destination", 11.0)],
        )]);
        let observed = observed(&names(FlowMetrics::Istio), &results, 300).expect("observed");
        assert_eq!(observed.observations.len(), 1);
        assert_eq!(observed.observations[0].per_sec, 10.0);
        assert_eq!(observed.source.zones, ZoneBasis::Placement);
    }

    #[test]
    fn hubble_reads_pods_or_workloads_and_counts_flows() {
        let results = Results::from([
            (
                QueryId::FlowBytes,
                vec![sample(
                    &[
                        ("source", "shop/frontend-abc"),
                        ("destination", "shop/catalog-xyz"),
                    ],
                    5.0,
                )],
            ),
            (
                QueryId::FlowDrops,
                vec![sample(
                    &[
                        ("source", "shop/frontend-abc"),
                        ("destination", "shop/catalog-xyz"),
                    ],
                    1.0,
                )],
            ),
        ]);
        let observed = observed(&names(FlowMetrics::Hubble), &results, 300).expect("observed");
        assert_eq!(observed.source.unit, FlowUnit::Flows);
        assert_eq!(observed.source.zones, ZoneBasis::Measured);
        let o = &observed.observations[0];
        assert_eq!(
            o.from,
            Peer::Pod {
                namespace: "shop".into(),
                name: "frontend-abc".into()
            }
        );
        assert_eq!((o.per_sec, o.drops_per_sec), (5.0, 1.0));
    }
}
