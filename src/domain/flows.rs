//! East-West analysis: cross-zone share and its cost, zone routing, drops.
//! Cross-zone transfer is charged in both directions (eks-domain.md §7.4, errata 10).
//!
//! The snapshot does not say in which zone each caller runs, so every zone of the cluster
//! (`FlowSnapshot::zones`) is treated as having callers: a zone without endpoints is a
//! reason to refuse topology-aware routing, and a hole for node-local routing.

use std::collections::BTreeMap;

use super::finding::{Finding, FixKind, Severity};
use super::format::{HOURS_PER_MONTH, bytes_per_sec, cluster_object, percent, rate, usd_per_month};
use super::model::{FlowSnapshot, FlowUnit, ObjectRef, Pane, ServiceTopology, ZoneRouting};
use super::prices::{DEFAULT_CROSS_ZONE_USD_PER_GB, RegionPrices};
use super::rules::{above, band_text, crossed, finding};
use super::thresholds::Thresholds;

/// The EndpointSlice controller skips hints when a zone would get more than 20 % more
/// traffic than its share of endpoints can serve; callers are assumed even across zones.
const HINT_OVERLOAD_FACTOR: f64 = 1.2;

/// The doc's rule of thumb for topology-aware routing: at least this many endpoints per zone.
const ENDPOINTS_PER_ZONE: u32 = 2;

/// What the East-West pane says when no flow source has answered: what would give one.
pub const NO_SOURCE: &str = "no flow source: add --prometheus with Kubecost/OpenCost network-costs, Istio, Linkerd or Hubble metrics, or --flow-logs LOG_GROUP";

/// With a source that counts flows, money cannot be judged: a Service is reported when it
/// carries at least this share of the cluster's cross-zone flows.
const FLOWS_SHARE_REPORTED: f64 = 0.10;

/// Price of one GB crossing a zone, one direction.
pub fn cross_zone_usd_per_gb(prices: Option<&RegionPrices>) -> f64 {
    prices
        .map(|p| p.cross_zone_usd_per_gb)
        .unwrap_or(DEFAULT_CROSS_ZONE_USD_PER_GB)
}

/// Monthly cost of a cross-zone byte rate, both directions charged.
pub fn monthly_usd(cross_zone_bytes_per_sec: f64, prices: Option<&RegionPrices>) -> f64 {
    let gb_per_month = cross_zone_bytes_per_sec.max(0.0) * HOURS_PER_MONTH * 3600.0 / 1e9;
    gb_per_month * cross_zone_usd_per_gb(prices) * 2.0
}

/// Monthly cost of the current cross-zone byte rate, both directions charged; `None` when
/// the source counts flows, not bytes, or there are no flows.
pub fn cross_zone_usd_per_month(
    flows: &FlowSnapshot,
    prices: Option<&RegionPrices>,
) -> Option<f64> {
    flows
        .cross_zone_bytes_per_sec()
        .map(|bytes| monthly_usd(bytes, prices))
}

/// A rate in the snapshot's unit: `1.2 MB/s` or `340 flows/s`.
pub fn amount(flows: &FlowSnapshot, per_sec: f64) -> String {
    amount_in(flows.unit(), per_sec)
}

pub fn amount_in(unit: FlowUnit, per_sec: f64) -> String {
    match unit {
        FlowUnit::Bytes => bytes_per_sec(per_sec),
        FlowUnit::Flows => format!("{} flows/s", rate(per_sec)),
    }
}

/// What the traffic is counted in, as a plural noun: "bytes" or "flows".
pub fn unit_noun(flows: &FlowSnapshot) -> &'static str {
    match flows.unit() {
        FlowUnit::Bytes => "bytes",
        FlowUnit::Flows => "flows",
    }
}

/// Cross-zone traffic towards one Service over all its callers, in the snapshot's unit.
pub fn service_cross_zone_per_sec(flows: &FlowSnapshot, namespace: &str, name: &str) -> f64 {
    flows
        .edges
        .iter()
        .filter(|e| e.destination() == Some((namespace, name)))
        .map(|e| e.cross_zone_per_sec)
        .sum()
}

/// Cross-zone traffic per destination Service, largest first; edges without a destination
/// are left out.
pub fn cross_zone_by_service(flows: &FlowSnapshot) -> Vec<((&str, &str), f64)> {
    let mut by_service: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for edge in &flows.edges {
        if let Some(service) = edge.destination() {
            *by_service.entry(service).or_insert(0.0) += edge.cross_zone_per_sec;
        }
    }
    let mut sorted: Vec<((&str, &str), f64)> = by_service.into_iter().collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    sorted
}

fn service_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::namespaced("Service", namespace, name)
}

fn price_note(prices: Option<&RegionPrices>) -> String {
    match prices {
        Some(p) => format!("${} per GB each way", p.cross_zone_usd_per_gb),
        None => format!("${DEFAULT_CROSS_ZONE_USD_PER_GB} per GB each way (default rate)"),
    }
}

/// The source line's words: which source, and what it cannot tell.
pub fn source_text(flows: &FlowSnapshot) -> Option<String> {
    let source = flows.source.as_ref()?;
    let limits = source.limits();
    Some(if limits.is_empty() {
        format!("{} ({})", source.kind.title(), source.detail)
    } else {
        format!(
            "{} ({}): {}",
            source.kind.title(),
            source.detail,
            limits.join("; ")
        )
    })
}

pub fn analyze(
    flows: &FlowSnapshot,
    prices: Option<&RegionPrices>,
    t: &Thresholds,
) -> Vec<Finding> {
    let mut found = Vec::new();
    overall_ratio(flows, prices, t, &mut found);
    for service in &flows.services {
        service_routing(flows, service, prices, t, &mut found);
    }
    drops(flows, &mut found);
    found
}

fn overall_ratio(
    flows: &FlowSnapshot,
    prices: Option<&RegionPrices>,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    if flows.total_per_sec() <= 0.0 {
        return;
    }
    let ratio = flows.cross_zone_ratio();
    let Some(severity) = above(ratio, t.cross_zone_ratio) else {
        return;
    };
    let monthly = cross_zone_usd_per_month(flows, prices);
    // Hang the finding on the Service that takes the most across zones.
    let by_service = cross_zone_by_service(flows);
    let top = by_service.first().filter(|(_, amount)| *amount > 0.0);
    let object = top
        .map(|((ns, name), _)| service_ref(ns, name))
        .unwrap_or_else(cluster_object);
    let cost = match monthly {
        Some(monthly) => format!(": {} in transfer", usd_per_month(monthly)),
        None => String::new(),
    };
    let mut draft = finding(
        Pane::Flows,
        "flows/cross-zone-ratio".into(),
        severity,
        format!(
            "{} of east-west {} cross zones ({}){cost}",
            percent(ratio),
            unit_noun(flows),
            crossed(severity, t.cross_zone_ratio, true, percent),
        ),
        object,
    )
    .evidence(
        "cross-zone share",
        percent(ratio),
        band_text(t.cross_zone_ratio, true, percent),
    );
    draft = match monthly {
        Some(monthly) => draft
            .evidence(
                "cross-zone traffic",
                amount(flows, flows.cross_zone_per_sec()),
                format!("{}, both directions", price_note(prices)),
            )
            .evidence("monthly cost", usd_per_month(monthly), ""),
        None => draft.evidence(
            "cross-zone traffic",
            amount(flows, flows.cross_zone_per_sec()),
            "flows, not bytes: no cost",
        ),
    };
    if let Some(text) = source_text(flows) {
        draft = draft.evidence("measured by", text, "");
    }
    if let Some(((ns, name), per_sec)) = top {
        draft = draft.evidence(
            "largest destination",
            format!("Service {ns}/{name}"),
            format!("{} cross-zone", amount(flows, *per_sec)),
        );
    }
    found.push(draft.usd_per_month(monthly.unwrap_or_default()).build());
}

fn endpoints_text(service: &ServiceTopology) -> String {
    service
        .ready_endpoints_by_zone
        .iter()
        .map(|z| format!("{}: {}", z.zone, z.count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Zones of the cluster in which the Service has no ready endpoint.
fn zones_without_endpoints<'a>(
    flows: &'a FlowSnapshot,
    service: &'a ServiceTopology,
) -> Vec<&'a str> {
    let count_in = |zone: &str| {
        service
            .ready_endpoints_by_zone
            .iter()
            .filter(|z| z.zone == zone)
            .map(|z| z.count)
            .sum::<u32>()
    };
    if flows.zones.is_empty() {
        return service
            .ready_endpoints_by_zone
            .iter()
            .filter(|z| z.count == 0)
            .map(|z| z.zone.as_str())
            .collect();
    }
    flows
        .zones
        .iter()
        .map(String::as_str)
        .filter(|zone| count_in(zone) == 0)
        .collect()
}

/// Why the EndpointSlice controller would not (or does not) set zone hints, if it can tell.
fn hint_blocker(flows: &FlowSnapshot, service: &ServiceTopology) -> Option<String> {
    let empty = zones_without_endpoints(flows, service);
    if !empty.is_empty() {
        return Some(format!("zone {} has no ready endpoints", empty.join(", ")));
    }
    let total: u32 = service
        .ready_endpoints_by_zone
        .iter()
        .map(|z| z.count)
        .sum();
    let zones = service.ready_endpoints_by_zone.len().max(flows.zones.len());
    if zones == 0 || total == 0 {
        return None;
    }
    if (total as usize) < zones {
        return Some(format!("{total} endpoints for {zones} zones"));
    }
    let fair_share = 1.0 / zones as f64;
    let starved = service
        .ready_endpoints_by_zone
        .iter()
        .find(|z| f64::from(z.count) / f64::from(total) * HINT_OVERLOAD_FACTOR < fair_share);
    starved.map(|z| {
        format!(
            "endpoints are unbalanced: zone {} holds {} of {total}, too few for its share of callers",
            z.zone, z.count
        )
    })
}

fn service_routing(
    flows: &FlowSnapshot,
    service: &ServiceTopology,
    prices: Option<&RegionPrices>,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    let name = format!("{}/{}", service.namespace, service.name);
    let object = service_ref(&service.namespace, &service.name);
    let cross = service_cross_zone_per_sec(flows, &service.namespace, &service.name);
    // Bytes are priced; flows are judged by their share of all cross-zone flows.
    let monthly = match flows.unit() {
        FlowUnit::Bytes => Some(monthly_usd(cross, prices)),
        FlowUnit::Flows => None,
    };
    let worth_reporting = match monthly {
        Some(monthly) => monthly >= t.service_cross_zone_usd_per_month,
        None => {
            let all = flows.cross_zone_per_sec();
            all > 0.0 && cross / all >= FLOWS_SHARE_REPORTED
        }
    };
    let cost = monthly.map_or_else(
        || {
            format!(
                "{} of cross-zone flows",
                percent(cross / flows.cross_zone_per_sec().max(f64::MIN_POSITIVE))
            )
        },
        usd_per_month,
    );
    let zones_with_endpoints = service
        .ready_endpoints_by_zone
        .iter()
        .filter(|z| z.count > 0)
        .count();
    // Per-Service advice is a warning while the cluster as a whole crosses zones too much,
    // and information (money left on the table) otherwise.
    let advice_severity = if above(flows.cross_zone_ratio(), t.cross_zone_ratio).is_some() {
        Severity::Warning
    } else {
        Severity::Info
    };
    match service.routing {
        ZoneRouting::Default => {
            if zones_with_endpoints < 2 || !worth_reporting {
                return;
            }
            let mut draft = match hint_blocker(flows, service) {
                Some(blocker) => finding(
                    Pane::Flows,
                    format!("flows/topology-blocked/{name}"),
                    advice_severity,
                    format!(
                        "{name}: {} crosses zones ({cost}), but {blocker}: spread the workload across zones before enabling topology-aware routing",
                        amount(flows, cross),
                    ),
                    object,
                )
                .evidence("why not topology-aware routing", blocker, "hints need ready endpoints in every zone with callers")
                .usd_per_month(monthly.unwrap_or_default()),
                None => {
                    let mut draft = finding(
                        Pane::Flows,
                        format!("flows/topology-aware-routing/{name}"),
                        advice_severity,
                        format!(
                            "{name}: {} crosses zones ({cost}): enable topology-aware routing",
                            amount(flows, cross),
                        ),
                        object,
                    )
                    .usd_per_month(monthly.unwrap_or_default())
                    .fix(FixKind::FlowsTopologyAwareRouting);
                    let thin: Vec<&str> = service
                        .ready_endpoints_by_zone
                        .iter()
                        .filter(|z| z.count < ENDPOINTS_PER_ZONE)
                        .map(|z| z.zone.as_str())
                        .collect();
                    if !thin.is_empty() {
                        draft = draft.evidence(
                            "thin zones",
                            thin.join(", "),
                            format!("fewer than {ENDPOINTS_PER_ZONE} endpoints: one pod failing there sends the zone's calls away"),
                        );
                    }
                    draft
                }
            };
            draft = match monthly {
                Some(monthly) => draft
                    .evidence(
                        "cross-zone traffic",
                        amount(flows, cross),
                        price_note(prices),
                    )
                    .evidence(
                        "monthly cost",
                        usd_per_month(monthly),
                        format!(
                            "reported above {}",
                            usd_per_month(t.service_cross_zone_usd_per_month)
                        ),
                    ),
                None => draft.evidence(
                    "cross-zone traffic",
                    amount(flows, cross),
                    format!(
                        "reported above {} of cross-zone flows",
                        percent(FLOWS_SHARE_REPORTED)
                    ),
                ),
            };
            if let Some(text) = source_text(flows) {
                draft = draft.evidence("measured by", text, "");
            }
            found.push(
                draft
                    .evidence("ready endpoints by zone", endpoints_text(service), "")
                    .build(),
            );
        }
        ZoneRouting::TopologyAware | ZoneRouting::PreferClose => {
            if service.hints {
                return;
            }
            let mode = if service.routing == ZoneRouting::TopologyAware {
                "topology-mode Auto"
            } else {
                "trafficDistribution PreferClose"
            };
            let why = hint_blocker(flows, service).unwrap_or_else(|| {
                "see the EndpointSlice controller's events on the Service".into()
            });
            found.push(
                finding(
                    Pane::Flows,
                    format!("flows/no-hints/{name}"),
                    Severity::Warning,
                    format!(
                        "{name} has {mode} but its EndpointSlices carry no zone hints ({why}): traffic still crosses zones"
                    ),
                    object,
                )
                .evidence("ready endpoints by zone", endpoints_text(service), "spread evenly, 2 or more per zone")
                .evidence("cross-zone traffic", amount(flows, cross), monthly.map(usd_per_month).unwrap_or_default())
                .build(),
            );
        }
        ZoneRouting::NodeLocal => {
            let empty = zones_without_endpoints(flows, service);
            if empty.is_empty() {
                return;
            }
            found.push(
                finding(
                    Pane::Flows,
                    format!("flows/node-local-gaps/{name}"),
                    Severity::Critical,
                    format!(
                        "{name} uses internalTrafficPolicy Local but zone {} has no endpoints: callers there are refused",
                        empty.join(", ")
                    ),
                    object,
                )
                .evidence("ready endpoints by zone", endpoints_text(service), "an endpoint on every calling node")
                .build(),
            );
        }
    }
}

fn drops(flows: &FlowSnapshot, found: &mut Vec<Finding>) {
    let mut by_service: BTreeMap<(&str, &str), (f64, Vec<String>)> = BTreeMap::new();
    for edge in flows.edges.iter().filter(|e| e.drops_per_sec > 0.0) {
        let Some(destination) = edge.destination() else {
            continue;
        };
        let entry = by_service.entry(destination).or_insert((0.0, Vec::new()));
        entry.0 += edge.drops_per_sec;
        if let Some((namespace, workload)) = edge.source() {
            entry.1.push(format!("{namespace}/{workload}"));
        }
    }
    for ((namespace, service), (drops, sources)) in by_service {
        found.push(
            finding(
                Pane::Flows,
                format!("flows/drops/{namespace}/{service}"),
                Severity::Warning,
                format!(
                    "{} drops/s towards {namespace}/{service}{}: check network policies and endpoints",
                    rate(drops),
                    if sources.is_empty() {
                        String::new()
                    } else {
                        format!(" (from {})", sources.join(", "))
                    }
                ),
                service_ref(namespace, service),
            )
            .evidence("drops", format!("{}/s", rate(drops)), "any is worth a look")
            .build(),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::model::{FlowEdge, ZoneCount};
    use chrono::{TimeZone, Utc};

    const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

    fn edge(to: &str, bytes: f64, cross: f64) -> FlowEdge {
        FlowEdge {
            source_namespace: "shop".into(),
            source_workload: "checkout".into(),
            destination_namespace: "payments".into(),
            destination_service: to.into(),
            per_sec: bytes,
            cross_zone_per_sec: cross,
            drops_per_sec: 0.0,
        }
    }

    fn service(name: &str, routing: ZoneRouting, counts: [u32; 3]) -> ServiceTopology {
        ServiceTopology {
            namespace: "payments".into(),
            name: name.into(),
            routing,
            ready_endpoints_by_zone: ZONES
                .iter()
                .zip(counts)
                .map(|(zone, count)| ZoneCount {
                    zone: zone.to_string(),
                    count,
                })
                .collect(),
            hints: false,
        }
    }

    /// Mostly same-zone traffic; one small default-routed service.
    pub(crate) fn calm() -> FlowSnapshot {
        FlowSnapshot {
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            zones: ZONES.iter().map(|z| z.to_string()).collect(),
            edges: vec![edge("ledger", 1_000_000.0, 10_000.0)],
            services: vec![service("ledger", ZoneRouting::Default, [2, 2, 2])],
            source: None,
        }
    }

    fn run(flows: &FlowSnapshot) -> Vec<Finding> {
        analyze(flows, None, &Thresholds::default())
    }

    fn ids(found: &[Finding]) -> Vec<&str> {
        found.iter().map(|f| f.id.as_str()).collect()
    }

    fn get<'a>(found: &'a [Finding], id: &str) -> &'a Finding {
        found
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no {id} in {:?}", ids(found)))
    }

    #[test]
    fn cross_zone_cost_counts_both_directions() {
        let mut flows = calm();
        // 1 GB/s for a month: 730 h × 3600 s = 2,628,000 GB at $0.01 each way.
        flows.edges = vec![edge("ledger", 2e9, 1e9)];
        let monthly = cross_zone_usd_per_month(&flows, None).unwrap_or_default();
        assert!((monthly - 52_560.0).abs() < 1e-6, "{monthly}");
        let prices = crate::domain::prices::PriceTable::builtin();
        let region = prices.region("eu-west-1");
        let priced = cross_zone_usd_per_month(&flows, region).unwrap_or_default();
        assert!((priced - 52_560.0).abs() < 1e-6);
    }

    #[test]
    fn calm_flows_have_no_findings() {
        assert!(run(&calm()).is_empty(), "{:?}", ids(&run(&calm())));
    }

    #[test]
    fn a_high_cross_zone_ratio_is_priced() {
        let mut flows = calm();
        flows.edges = vec![edge("ledger", 3_000_000.0, 2_000_000.0)];
        let found = run(&flows);
        let ratio = get(&found, "flows/cross-zone-ratio");
        assert_eq!(ratio.severity, Severity::Critical);
        assert_eq!(ratio.object, service_ref("payments", "ledger"));
        assert!(
            ratio
                .summary
                .starts_with("67% of east-west bytes cross zones (critical above 50%): $105/month"),
            "{}",
            ratio.summary
        );
        flows.edges = vec![edge("ledger", 3_000_000.0, 1_000_000.0)];
        assert_eq!(
            get(&run(&flows), "flows/cross-zone-ratio").severity,
            Severity::Warning
        );
    }

    #[test]
    fn default_routing_with_spread_endpoints_gets_topology_aware_routing() {
        let mut flows = calm();
        flows.edges = vec![edge("ledger", 10_000_000.0, 1_000_000.0)];
        let found = run(&flows);
        let tar = get(&found, "flows/topology-aware-routing/payments/ledger");
        assert_eq!(tar.fix, Some(FixKind::FlowsTopologyAwareRouting));
        assert_eq!(tar.object, service_ref("payments", "ledger"));
        assert!(tar.summary.contains("$53/month"), "{}", tar.summary);
        // 10 % cross-zone overall is within the band: money on the table, not a warning.
        assert_eq!(tar.severity, Severity::Info);

        flows.edges = vec![edge("ledger", 2_000_000.0, 1_000_000.0)];
        let found = run(&flows);
        let tar = get(&found, "flows/topology-aware-routing/payments/ledger");
        assert_eq!(tar.severity, Severity::Warning);

        // Too little money at stake: stay quiet.
        flows.edges = vec![edge("ledger", 10_000_000.0, 200_000.0)];
        assert!(run(&flows).is_empty());
    }

    #[test]
    fn topology_aware_routing_is_refused_when_a_zone_has_no_endpoints() {
        let mut flows = calm();
        flows.edges = vec![edge("ledger", 10_000_000.0, 1_000_000.0)];
        flows.services = vec![service("ledger", ZoneRouting::Default, [3, 3, 0])];
        let found = run(&flows);
        let refused = get(&found, "flows/topology-blocked/payments/ledger");
        assert_eq!(refused.fix, None);
        assert!(
            refused
                .summary
                .contains("zone us-east-1c has no ready endpoints"),
            "{}",
            refused.summary
        );
        assert!(!ids(&found).contains(&"flows/topology-aware-routing/payments/ledger"));

        flows.services = vec![service("ledger", ZoneRouting::Default, [6, 1, 1])];
        let found = run(&flows);
        assert!(
            get(&found, "flows/topology-blocked/payments/ledger")
                .summary
                .contains("unbalanced")
        );
    }

    #[test]
    fn topology_aware_without_hints_is_a_warning() {
        let mut flows = calm();
        flows.services = vec![service("ledger", ZoneRouting::TopologyAware, [2, 2, 0])];
        let found = run(&flows);
        let no_hints = get(&found, "flows/no-hints/payments/ledger");
        assert_eq!(no_hints.severity, Severity::Warning);
        assert!(
            no_hints.summary.contains("us-east-1c"),
            "{}",
            no_hints.summary
        );
        flows.services[0].hints = true;
        assert!(run(&flows).is_empty());
    }

    #[test]
    fn node_local_policy_with_empty_zones_is_critical() {
        let mut flows = calm();
        flows.services = vec![service("ledger", ZoneRouting::NodeLocal, [1, 0, 1])];
        let found = run(&flows);
        assert_eq!(
            get(&found, "flows/node-local-gaps/payments/ledger").severity,
            Severity::Critical
        );
        flows.services = vec![service("ledger", ZoneRouting::NodeLocal, [1, 1, 1])];
        assert!(run(&flows).is_empty());
    }

    #[test]
    fn drops_are_reported_per_destination() {
        let mut flows = calm();
        flows.edges[0].drops_per_sec = 12.0;
        let found = run(&flows);
        let drops = get(&found, "flows/drops/payments/ledger");
        assert!(
            drops
                .summary
                .starts_with("12 drops/s towards payments/ledger (from shop/checkout)"),
            "{}",
            drops.summary
        );
    }
}
