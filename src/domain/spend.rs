//! Spend: run-rate and cost per node, namespace and workload at effective prices, idle and
//! waste.
//!
//! How cost is allocated:
//! 1. Each node is priced from the table by region, instance type and capacity type (spot or
//!    on-demand; spot by the node's zone when the table knows zone prices), less the
//!    configured discount (Savings Plans, EDP). Nodes the table cannot price are listed and
//!    left out of every $ figure. The run-rate is the priced nodes plus the EKS control plane.
//! 2. Each node's price is split into a CPU part and a memory part so that one vCPU costs as
//!    much as 8 GiB (`CPU_TO_GIB_PRICE_RATIO`), close to OpenCost's default rates and to the
//!    price gap between compute- and memory-optimised instances of one generation.
//! 3. Unit costs are cluster-wide: the CPU parts of all priced nodes over their allocatable
//!    cores, the memory parts over their allocatable GiB.
//! 4. A workload costs its requests (per replica, times replicas) at those unit costs; a
//!    namespace is the sum of its workloads.
//! 5. Idle is each priced node's allocatable capacity that no pod requests, at that node's
//!    own CPU and memory rates.
//! 6. Shared is what remains: the control plane, and requests of pods that belong to no
//!    listed workload (system DaemonSets and the like).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::finding::{Finding, Severity};
use super::format::{HOURS_PER_MONTH, cluster_object, percent, usd_per_hour, usd_per_month};
use super::model::{Capacity, NodeSnapshot, ObjectRef, Pane, WorkloadSnapshot};
use super::prices::{PriceSource, PriceTable};
use super::rules::{band_text, below, crossed, finding};
use super::thresholds::Thresholds;
use super::time::Timestamp;

/// One vCPU is priced like this many GiB of memory when a node's price is split.
pub const CPU_TO_GIB_PRICE_RATIO: f64 = 8.0;

/// Namespaces Kubernetes itself owns: cluster overhead, never "unallocated" spend.
pub fn is_system_namespace(namespace: &str) -> bool {
    matches!(namespace, "kube-system" | "kube-public" | "kube-node-lease")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendView {
    pub at: Timestamp,
    pub region: String,
    /// Priced nodes plus the control plane.
    pub run_rate_usd_per_hour: f64,
    pub nodes_usd_per_hour: f64,
    pub control_plane_usd_per_hour: f64,
    pub spot_usd_per_hour: f64,
    pub on_demand_usd_per_hour: f64,
    /// What today's on-demand nodes would cost at spot prices.
    pub on_demand_at_spot_usd_per_hour: f64,
    /// Allocatable capacity no pod requests.
    pub idle_usd_per_hour: f64,
    /// Control plane and requests of pods outside the listed workloads.
    pub shared_usd_per_hour: f64,
    /// Spend of namespaces without a `cost-center` or `team` label (system namespaces
    /// such as kube-system excepted).
    pub unallocated_usd_per_hour: f64,
    /// Share of nodes on spot capacity, 0..=1.
    pub spot_share: f64,
    pub unit_costs: UnitCosts,
    /// Priciest first, nodes without a price last; nodes of one price in the snapshot's order.
    pub by_node: Vec<NodeCost>,
    /// Most expensive first.
    pub by_namespace: Vec<NamespaceCost>,
    /// Most expensive first.
    pub by_workload: Vec<WorkloadCost>,
    /// Instance types (with capacity) the price table does not know, e.g. "x2idn.large spot".
    pub unpriced_instance_types: Vec<String>,
    pub unpriced_nodes: usize,
    /// Which prices the figures use (origin, age, discounts), shown beside every money figure.
    pub prices: PriceSource,
}

/// What a core and a GiB of memory cost per hour in this cluster, used to price requests.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UnitCosts {
    pub usd_per_core_hour: f64,
    pub usd_per_gib_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCost {
    pub name: String,
    pub nodepool: Option<String>,
    pub instance_type: String,
    pub capacity: Capacity,
    pub zone: String,
    /// `None` when the table has no price for the node.
    pub usd_per_hour: Option<f64>,
    pub idle_usd_per_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceCost {
    pub namespace: String,
    pub usd_per_hour: f64,
    pub cost_center: Option<String>,
    pub team: Option<String>,
    /// Carries a `cost-center` or `team` label, so its spend is allocated to someone.
    pub labelled: bool,
    /// kube-system and friends: overhead of the cluster itself, not counted as unallocated.
    pub system: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadCost {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub replicas: u32,
    pub usd_per_hour: f64,
}

/// A node's price split into CPU and memory rates.
struct NodeRates {
    usd_per_core_hour: f64,
    usd_per_gib_hour: f64,
}

fn node_rates(price: f64, cores: f64, gib: f64) -> Option<NodeRates> {
    let weight = CPU_TO_GIB_PRICE_RATIO * cores + gib;
    (weight > 0.0).then(|| {
        let per_gib = price / weight;
        NodeRates {
            usd_per_core_hour: per_gib * CPU_TO_GIB_PRICE_RATIO,
            usd_per_gib_hour: per_gib,
        }
    })
}

pub fn compute(
    nodes: &NodeSnapshot,
    workloads: Option<&WorkloadSnapshot>,
    prices: &PriceTable,
    region: &str,
) -> SpendView {
    let mut by_node = Vec::with_capacity(nodes.nodes.len());
    let mut unpriced_types = BTreeSet::new();
    let (mut spot_usd, mut on_demand_usd, mut on_demand_at_spot) = (0.0, 0.0, 0.0);
    let (mut cpu_part, mut memory_part, mut cores_total, mut gib_total) = (0.0, 0.0, 0.0, 0.0);
    let mut idle = 0.0;
    for node in &nodes.nodes {
        let zone = Some(node.zone.as_str()).filter(|z| !z.is_empty());
        let price = prices
            .effective_hourly(region, zone, &node.instance_type, node.capacity)
            .filter(|p| p.is_finite() && *p >= 0.0);
        let cores = (node.cpu_allocatable_m / 1000.0).max(0.0);
        let gib = (node.memory_allocatable_mib / 1024.0).max(0.0);
        let mut node_idle = 0.0;
        match price {
            None => {
                unpriced_types.insert(format!("{} {}", node.instance_type, node.capacity.as_str()));
            }
            Some(price) => {
                match node.capacity {
                    Capacity::Spot => spot_usd += price,
                    Capacity::OnDemand => {
                        on_demand_usd += price;
                        on_demand_at_spot += prices
                            .effective_hourly(region, zone, &node.instance_type, Capacity::Spot)
                            .unwrap_or(price);
                    }
                }
                match node_rates(price, cores, gib) {
                    Some(rates) => {
                        cpu_part += rates.usd_per_core_hour * cores;
                        memory_part += rates.usd_per_gib_hour * gib;
                        cores_total += cores;
                        gib_total += gib;
                        let free_cores = (cores - node.cpu_requested_m.max(0.0) / 1000.0).max(0.0);
                        let free_gib = (gib - node.memory_requested_mib.max(0.0) / 1024.0).max(0.0);
                        node_idle = free_cores * rates.usd_per_core_hour
                            + free_gib * rates.usd_per_gib_hour;
                    }
                    // A node reporting no allocatable capacity serves nobody.
                    None => node_idle = price,
                }
            }
        }
        idle += node_idle;
        by_node.push(NodeCost {
            name: node.name.clone(),
            nodepool: node.nodepool.clone(),
            instance_type: node.instance_type.clone(),
            capacity: node.capacity,
            zone: node.zone.clone(),
            usd_per_hour: price,
            idle_usd_per_hour: node_idle,
        });
    }
    let unit_costs = UnitCosts {
        usd_per_core_hour: if cores_total > 0.0 {
            cpu_part / cores_total
        } else {
            0.0
        },
        usd_per_gib_hour: if gib_total > 0.0 {
            memory_part / gib_total
        } else {
            0.0
        },
    };

    let mut workload_costs: BTreeMap<(String, String, String), WorkloadCost> = BTreeMap::new();
    if let Some(snapshot) = workloads {
        for w in &snapshot.workloads {
            let per_replica = w.cpu_request_m.max(0.0) / 1000.0 * unit_costs.usd_per_core_hour
                + w.memory_request_mib.max(0.0) / 1024.0 * unit_costs.usd_per_gib_hour;
            let entry = workload_costs
                .entry((w.namespace.clone(), w.name.clone(), w.kind.clone()))
                .or_insert_with(|| WorkloadCost {
                    namespace: w.namespace.clone(),
                    name: w.name.clone(),
                    kind: w.kind.clone(),
                    replicas: w.replicas,
                    usd_per_hour: 0.0,
                });
            // Containers of one workload share its replicas.
            entry.usd_per_hour += per_replica * f64::from(w.replicas);
        }
    }
    let mut by_workload: Vec<WorkloadCost> = workload_costs.into_values().collect();
    by_workload.sort_by(|a, b| b.usd_per_hour.total_cmp(&a.usd_per_hour));

    let mut namespace_totals: BTreeMap<&str, f64> = BTreeMap::new();
    for w in &by_workload {
        *namespace_totals.entry(w.namespace.as_str()).or_insert(0.0) += w.usd_per_hour;
    }
    let labels = |namespace: &str| {
        workloads
            .and_then(|s| s.namespaces.iter().find(|n| n.name == namespace))
            .map(|n| (n.cost_center.clone(), n.team.clone()))
            .unwrap_or((None, None))
    };
    let mut by_namespace: Vec<NamespaceCost> = namespace_totals
        .into_iter()
        .map(|(namespace, usd)| {
            let (cost_center, team) = labels(namespace);
            NamespaceCost {
                namespace: namespace.to_string(),
                usd_per_hour: usd,
                labelled: cost_center.is_some() || team.is_some(),
                system: is_system_namespace(namespace),
                cost_center,
                team,
            }
        })
        .collect();
    by_namespace.sort_by(|a, b| b.usd_per_hour.total_cmp(&a.usd_per_hour));

    let nodes_usd = spot_usd + on_demand_usd;
    let control_plane = prices.control_plane_hourly(region);
    let run_rate = nodes_usd + control_plane;
    let allocated: f64 = by_workload.iter().map(|w| w.usd_per_hour).sum();
    // Priciest first, unpriced last: the Spend pane shows the top rows of 100 000 nodes
    // without ordering them again every frame. Nodes of one price keep the snapshot's order
    // (the Nodes pane's: not ready first, then newest); breaking the ties by name instead
    // tripled the cost, as most nodes share a few prices.
    by_node.sort_by(|a, b| {
        b.usd_per_hour
            .unwrap_or(-1.0)
            .total_cmp(&a.usd_per_hour.unwrap_or(-1.0))
    });
    SpendView {
        at: nodes.at,
        region: region.to_string(),
        run_rate_usd_per_hour: run_rate,
        nodes_usd_per_hour: nodes_usd,
        control_plane_usd_per_hour: control_plane,
        spot_usd_per_hour: spot_usd,
        on_demand_usd_per_hour: on_demand_usd,
        on_demand_at_spot_usd_per_hour: on_demand_at_spot,
        idle_usd_per_hour: idle,
        shared_usd_per_hour: (run_rate - idle - allocated).max(0.0),
        unallocated_usd_per_hour: by_namespace
            .iter()
            .filter(|n| n.is_unallocated())
            .map(|n| n.usd_per_hour)
            .sum(),
        spot_share: nodes.spot_share(),
        unit_costs,
        unpriced_nodes: by_node.iter().filter(|n| n.usd_per_hour.is_none()).count(),
        by_node,
        by_namespace,
        by_workload,
        unpriced_instance_types: unpriced_types.into_iter().collect(),
        prices: prices.source_for(region),
    }
}

pub fn unit_costs(view: &SpendView) -> UnitCosts {
    view.unit_costs
}

impl NamespaceCost {
    /// Spend nobody is labelled for: not a system namespace, and no cost-center or team.
    pub fn is_unallocated(&self) -> bool {
        !self.labelled && !self.system
    }
}

impl SpendView {
    /// Idle share of node spend, 0..=1.
    pub fn idle_ratio(&self) -> f64 {
        if self.nodes_usd_per_hour > 0.0 {
            self.idle_usd_per_hour / self.nodes_usd_per_hour
        } else {
            0.0
        }
    }

    /// Share of namespace spend in namespaces without cost-allocation labels, 0..=1.
    pub fn unallocated_ratio(&self) -> f64 {
        let total: f64 = self.by_namespace.iter().map(|n| n.usd_per_hour).sum();
        if total > 0.0 {
            self.unallocated_usd_per_hour / total
        } else {
            0.0
        }
    }
}

pub fn analyze(
    view: &SpendView,
    _workloads: Option<&WorkloadSnapshot>,
    t: &Thresholds,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let source = format!("at {} prices", view.prices);
    for namespace in &view.by_namespace {
        if namespace.usd_per_hour <= t.namespace_usd_per_hour {
            continue;
        }
        found.push(
            finding(
                Pane::Spend,
                format!("spend/namespace-cost/{}", namespace.namespace),
                Severity::Warning,
                format!(
                    "Namespace {} costs {} (warning above {}): {} by requests",
                    namespace.namespace,
                    usd_per_hour(namespace.usd_per_hour),
                    usd_per_hour(t.namespace_usd_per_hour),
                    usd_per_month(namespace.usd_per_hour * HOURS_PER_MONTH)
                ),
                ObjectRef::cluster_scoped("Namespace", &namespace.namespace),
            )
            .evidence("cost", usd_per_hour(namespace.usd_per_hour), source.clone())
            .build(),
        );
    }
    idle(view, t, &source, &mut found);
    unallocated(view, t, &mut found);
    spot(view, t, &mut found);
    if view.unpriced_nodes > 0 {
        found.push(
            finding(
                Pane::Spend,
                "spend/unpriced-nodes".into(),
                Severity::Info,
                format!(
                    "{} node{} have no price in the {}: {} (left out of the run-rate)",
                    view.unpriced_nodes,
                    if view.unpriced_nodes == 1 { "" } else { "s" },
                    view.prices,
                    view.unpriced_instance_types.join(", ")
                ),
                cluster_object(),
            )
            .evidence(
                "region",
                view.region.clone(),
                "add the types to a user price table",
            )
            .build(),
        );
    }
    found
}

fn idle(view: &SpendView, t: &Thresholds, source: &str, found: &mut Vec<Finding>) {
    let ratio = view.idle_ratio();
    let Some(severity) = super::rules::above(ratio, t.idle_ratio) else {
        return;
    };
    let mut by_pool: BTreeMap<&str, f64> = BTreeMap::new();
    for node in &view.by_node {
        if let Some(pool) = &node.nodepool {
            *by_pool.entry(pool.as_str()).or_insert(0.0) += node.idle_usd_per_hour;
        }
    }
    let top = by_pool.iter().max_by(|a, b| a.1.total_cmp(b.1));
    let object = top
        .map(|(pool, _)| ObjectRef::cluster_scoped("NodePool", pool))
        .unwrap_or_else(cluster_object);
    let mut draft = finding(
        Pane::Spend,
        "spend/idle".into(),
        severity,
        format!(
            "Idle capacity costs {}, {} of node spend ({}): consolidate nodes or right-size requests",
            usd_per_hour(view.idle_usd_per_hour),
            percent(ratio),
            crossed(severity, t.idle_ratio, true, percent)
        ),
        object,
    )
    .evidence("idle", usd_per_hour(view.idle_usd_per_hour), source.to_string())
    .evidence("idle share", percent(ratio), band_text(t.idle_ratio, true, percent));
    if let Some((pool, usd)) = top {
        draft = draft.evidence("most idle NodePool", pool.to_string(), usd_per_hour(*usd));
    }
    found.push(draft.build());
}

fn unallocated(view: &SpendView, t: &Thresholds, found: &mut Vec<Finding>) {
    let ratio = view.unallocated_ratio();
    let Some(severity) = super::rules::above(ratio, t.unallocated_ratio) else {
        return;
    };
    // by_namespace is sorted most expensive first.
    let Some(biggest) = view.by_namespace.iter().find(|n| n.is_unallocated()) else {
        return;
    };
    let unlabelled: Vec<&str> = view
        .by_namespace
        .iter()
        .filter(|n| n.is_unallocated())
        .map(|n| n.namespace.as_str())
        .collect();
    found.push(
        finding(
            Pane::Spend,
            "spend/unallocated".into(),
            severity,
            format!(
                "{} of namespace spend has no cost-center or team label ({}): label {} first ({})",
                percent(ratio),
                crossed(severity, t.unallocated_ratio, true, percent),
                biggest.namespace,
                usd_per_hour(biggest.usd_per_hour)
            ),
            ObjectRef::cluster_scoped("Namespace", &biggest.namespace),
        )
        .evidence(
            "unallocated",
            usd_per_hour(view.unallocated_usd_per_hour),
            band_text(t.unallocated_ratio, true, percent),
        )
        .evidence(
            "unlabelled namespaces",
            unlabelled.join(", "),
            "labels: cost-center, team, environment",
        )
        .fix(super::finding::FixKind::SpendCostLabels)
        .build(),
    );
}

fn spot(view: &SpendView, t: &Thresholds, found: &mut Vec<Finding>) {
    if view.by_node.is_empty() || below(view.spot_share, t.spot_share).is_none() {
        return;
    }
    let saving = (view.on_demand_usd_per_hour - view.on_demand_at_spot_usd_per_hour).max(0.0);
    if saving <= 0.0 {
        return;
    }
    found.push(
        finding(
            Pane::Spend,
            "spend/spot-share".into(),
            Severity::Info,
            format!(
                "On-demand nodes cost {}; on spot they would cost {} (spot share {}): up to {} less",
                usd_per_hour(view.on_demand_usd_per_hour),
                usd_per_hour(view.on_demand_at_spot_usd_per_hour),
                percent(view.spot_share),
                usd_per_month(saving * HOURS_PER_MONTH)
            ),
            cluster_object(),
        )
        .evidence("spot share", percent(view.spot_share), band_text(t.spot_share, false, percent))
        .evidence("possible saving", usd_per_hour(saving), "only for interruption-tolerant workloads")
        .build(),
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::model::{NamespaceInfo, WorkloadUsage};
    use crate::domain::nodes::tests::{calm, node};

    pub(crate) fn workload(
        namespace: &str,
        name: &str,
        replicas: u32,
        cpu_m: f64,
        memory_mib: f64,
    ) -> WorkloadUsage {
        WorkloadUsage {
            namespace: namespace.into(),
            name: name.into(),
            kind: "Deployment".into(),
            container: "app".into(),
            replicas,
            cpu_request_m: cpu_m,
            cpu_limit_m: None,
            memory_request_mib: memory_mib,
            memory_limit_mib: Some(memory_mib * 1.5),
            oom_kills_7d: 0,
            restarts_24h: 0,
            vpa: None,
            hpa_on_cpu: false,
            usage: Some(crate::domain::model::UsageStats {
                cpu_p95_m: cpu_m * 0.8,
                memory_p95_mib: memory_mib * 0.8,
                memory_p99_mib: memory_mib * 0.9,
                throttling_ratio: 0.0,
                history_days: 14.0,
            }),
        }
    }

    pub(crate) fn labelled(name: &str) -> NamespaceInfo {
        NamespaceInfo {
            name: name.into(),
            cost_center: Some("cc-1".into()),
            team: Some("team-a".into()),
            environment: Some("prod".into()),
        }
    }

    pub(crate) fn workloads() -> WorkloadSnapshot {
        WorkloadSnapshot {
            at: crate::domain::nodes::tests::now(),
            window: "7d".into(),
            workloads: vec![
                workload("shop", "checkout", 4, 1000.0, 2048.0),
                workload("shop", "cart", 2, 500.0, 1024.0),
                workload("search", "indexer", 2, 1500.0, 4096.0),
            ],
            namespaces: vec![labelled("shop"), labelled("search")],
        }
    }

    fn view() -> SpendView {
        compute(
            &calm(),
            Some(&workloads()),
            &PriceTable::builtin(),
            "us-east-1",
        )
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

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn run_rate_sums_node_prices_and_the_control_plane() {
        let view = view();
        let table = PriceTable::builtin();
        let spot = table
            .node_hourly("us-east-1", "m6i.xlarge", Capacity::Spot)
            .expect("priced");
        assert!(close(view.spot_usd_per_hour, 2.0 * spot));
        assert!(close(view.on_demand_usd_per_hour, 2.0 * 0.192));
        assert!(close(
            view.run_rate_usd_per_hour,
            2.0 * spot + 2.0 * 0.192 + 0.10
        ));
        assert!(close(view.on_demand_at_spot_usd_per_hour, 2.0 * spot));
        assert_eq!(view.spot_share, 0.5);
        assert_eq!(view.prices.to_string(), "built-in table, 2026-11");
        assert!(view.unpriced_instance_types.is_empty());
        assert_eq!(view.by_node.len(), 4);
    }

    #[test]
    fn capacity_splits_into_workloads_idle_and_shared() {
        let view = view();
        // Unit costs price every allocatable core and GiB, so they add up to the node spend.
        let nodes = calm();
        let cores: f64 = nodes
            .nodes
            .iter()
            .map(|n| n.cpu_allocatable_m / 1000.0)
            .sum();
        let gib: f64 = nodes
            .nodes
            .iter()
            .map(|n| n.memory_allocatable_mib / 1024.0)
            .sum();
        let units = unit_costs(&view);
        assert!(close(
            units.usd_per_core_hour * cores + units.usd_per_gib_hour * gib,
            view.nodes_usd_per_hour
        ));
        assert!(units.usd_per_core_hour > units.usd_per_gib_hour * 7.9);

        let checkout = view
            .by_workload
            .iter()
            .find(|w| w.name == "checkout")
            .expect("checkout");
        assert!(close(
            checkout.usd_per_hour,
            4.0 * (units.usd_per_core_hour + 2.0 * units.usd_per_gib_hour)
        ));
        let shop = view
            .by_namespace
            .iter()
            .find(|n| n.namespace == "shop")
            .expect("shop");
        let cart = view
            .by_workload
            .iter()
            .find(|w| w.name == "cart")
            .expect("cart");
        assert!(close(
            shop.usd_per_hour,
            checkout.usd_per_hour + cart.usd_per_hour
        ));
        assert!(shop.labelled);

        let allocated: f64 = view.by_workload.iter().map(|w| w.usd_per_hour).sum();
        assert!(view.idle_usd_per_hour > 0.0);
        assert!(close(
            view.shared_usd_per_hour,
            view.run_rate_usd_per_hour - view.idle_usd_per_hour - allocated
        ));
        assert_eq!(view.by_namespace[0].namespace, "shop");
    }

    #[test]
    fn unknown_types_and_regions_are_listed_not_guessed() {
        let mut nodes = calm();
        nodes.nodes.push(node(
            "n5",
            "gpu",
            "p5.48xlarge",
            Capacity::OnDemand,
            "us-east-1a",
        ));
        let view = compute(&nodes, None, &PriceTable::builtin(), "us-east-1");
        assert_eq!(view.unpriced_nodes, 1);
        assert_eq!(view.unpriced_instance_types, vec!["p5.48xlarge on-demand"]);
        let found = analyze(&view, None, &Thresholds::default());
        assert_eq!(get(&found, "spend/unpriced-nodes").severity, Severity::Info);

        let nowhere = compute(&calm(), None, &PriceTable::builtin(), "mars-1");
        assert_eq!(nowhere.unpriced_nodes, 4);
        assert!(close(nowhere.run_rate_usd_per_hour, 0.10));
        assert_eq!(nowhere.unit_costs, UnitCosts::default());
    }

    #[test]
    fn an_expensive_namespace_is_a_warning() {
        let mut thresholds = Thresholds::default();
        assert!(
            !ids(&analyze(&view(), None, &thresholds))
                .iter()
                .any(|id| id.starts_with("spend/namespace-cost"))
        );
        thresholds.namespace_usd_per_hour = 0.05;
        let found = analyze(&view(), None, &thresholds);
        let shop = get(&found, "spend/namespace-cost/shop");
        assert_eq!(shop.object, ObjectRef::cluster_scoped("Namespace", "shop"));
        assert!(
            shop.summary.starts_with("Namespace shop costs $"),
            "{}",
            shop.summary
        );
    }

    #[test]
    fn idle_share_over_the_band() {
        let view = view();
        assert!(view.idle_ratio() < 0.3, "{}", view.idle_ratio());
        assert!(!ids(&analyze(&view, None, &Thresholds::default())).contains(&"spend/idle"));

        let mut nodes = calm();
        for node in &mut nodes.nodes {
            node.cpu_requested_m = 400.0;
            node.memory_requested_mib = 1000.0;
        }
        let empty = compute(&nodes, None, &PriceTable::builtin(), "us-east-1");
        let found = analyze(&empty, None, &Thresholds::default());
        let idle = get(&found, "spend/idle");
        assert_eq!(idle.severity, Severity::Critical);
        assert_eq!(
            idle.object,
            ObjectRef::cluster_scoped("NodePool", "general")
        );
    }

    #[test]
    fn unlabelled_spend_asks_for_labels_on_the_biggest_namespace() {
        let mut snapshot = workloads();
        snapshot.namespaces = vec![labelled("shop")];
        let partial = compute(
            &calm(),
            Some(&snapshot),
            &PriceTable::builtin(),
            "us-east-1",
        );
        let found = analyze(&partial, None, &Thresholds::default());
        let labels = get(&found, "spend/unallocated");
        assert_eq!(
            labels.fix,
            Some(super::super::finding::FixKind::SpendCostLabels)
        );
        assert_eq!(
            labels.object,
            ObjectRef::cluster_scoped("Namespace", "search")
        );
        assert_eq!(labels.severity, Severity::Critical);
        assert!(
            !ids(&analyze(&view(), None, &Thresholds::default())).contains(&"spend/unallocated")
        );
    }

    #[test]
    fn low_spot_share_shows_the_saving() {
        assert!(
            !ids(&analyze(&view(), None, &Thresholds::default())).contains(&"spend/spot-share")
        );
        let mut nodes = calm();
        for node in &mut nodes.nodes {
            node.capacity = Capacity::OnDemand;
        }
        let view = compute(&nodes, None, &PriceTable::builtin(), "us-east-1");
        let found = analyze(&view, None, &Thresholds::default());
        let spot = get(&found, "spend/spot-share");
        assert_eq!(spot.severity, Severity::Info);
        assert!(
            spot.summary.starts_with("On-demand nodes cost $0.77/h"),
            "{}",
            spot.summary
        );
    }

    #[test]
    fn discounts_lower_every_figure_and_say_so() {
        use crate::domain::prices::Discounts;
        let discounted = PriceTable::builtin().with_discounts(Discounts {
            on_demand: 0.28,
            ..Discounts::default()
        });
        let list = view();
        let view = compute(&calm(), Some(&workloads()), &discounted, "us-east-1");
        assert!(close(
            view.on_demand_usd_per_hour,
            list.on_demand_usd_per_hour * 0.72
        ));
        assert!(close(view.spot_usd_per_hour, list.spot_usd_per_hour));
        // The control plane is not an instance: no discount.
        assert!(close(
            view.control_plane_usd_per_hour,
            list.control_plane_usd_per_hour
        ));
        assert!(view.unit_costs.usd_per_core_hour < list.unit_costs.usd_per_core_hour);
        assert_eq!(
            view.prices.to_string(),
            "built-in table, 2026-11, on-demand \u{2212}28%"
        );
        let thresholds = Thresholds {
            namespace_usd_per_hour: 0.05,
            ..Thresholds::default()
        };
        let found = analyze(&view, None, &thresholds);
        let shop = get(&found, "spend/namespace-cost/shop");
        assert!(
            shop.evidence
                .iter()
                .any(|e| e.threshold.contains("on-demand \u{2212}28% prices")),
            "{:?}",
            shop.evidence
        );
    }

    #[test]
    fn spot_nodes_are_priced_by_their_zone() {
        use crate::domain::prices::{FetchedPrices, PriceOrigin};
        let mut fetched = FetchedPrices::default();
        fetched.spot.insert(
            "m6i.xlarge".into(),
            BTreeMap::from([("us-east-1a".into(), 0.05), ("us-east-1b".into(), 0.09)]),
        );
        let table = PriceTable::builtin().overlay(
            "us-east-1",
            &fetched,
            PriceOrigin::Aws {
                fetched_at: crate::domain::nodes::tests::now(),
            },
        );
        let view = compute(&calm(), None, &table, "us-east-1");
        for node in view.by_node.iter().filter(|n| n.capacity == Capacity::Spot) {
            let expected = match node.zone.as_str() {
                "us-east-1a" => 0.05,
                "us-east-1b" => 0.09,
                _ => 0.07,
            };
            assert_eq!(node.usd_per_hour, Some(expected), "{}", node.zone);
        }
        assert!(view.prices.to_string().starts_with("AWS "));
    }
}
