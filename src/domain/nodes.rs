//! Node analysis: Karpenter churn, disruption reasons, provisioning latency, blockers, spot
//! share. "The last hour" is always measured back from the snapshot's own clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::finding::{Finding, FixKind, Severity};
use super::format::{cluster_object, go_duration, parse_go_duration, percent, seconds};
use super::model::{
    BlockerKind, Capacity, ChurnEvent, ChurnKind, NodeInfo, NodePoolInfo, NodeSnapshot, ObjectRef,
    Pane,
};
use super::rules::{above, band_text, below, crossed, finding};
use super::thresholds::Thresholds;

/// Stuck pending pods turn critical once they have waited this many times the threshold.
const PENDING_CRITICAL_FACTOR: f64 = 5.0;

/// A NodePool counts as saturated when less than this share of its CPU limit is left.
const LIMIT_SATURATION_HEADROOM: f64 = 0.05;

/// The consolidateAfter the stability mode of the consolidation fix sets.
const STABLE_CONSOLIDATE_AFTER_SECONDS: u64 = 300;

/// The headline figures of the Nodes pane.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeSummary {
    pub count: usize,
    /// Share of nodes on spot capacity, 0..=1.
    pub spot_share: f64,
    pub launched_last_hour: u32,
    pub terminated_last_hour: u32,
    /// Terminations of the last hour by reason ("SpotInterrupted", "Underutilized"…).
    pub disruption_reasons: BTreeMap<String, u32>,
    pub pending_pods: usize,
    /// Nearest-rank p95 of NodeClaim provisioning seconds; `None` without samples.
    pub provisioning_p95_s: Option<f64>,
}

/// A disruption reason in the NodeClaim condition's words, whatever Karpenter version
/// counted it: v0.3x's `type` (`drift`, `emptiness`, `consolidation`), v1.0's `Drifted`, and
/// v1.1's lower-case `drifted` all read `Drifted`.
pub fn disruption_reason(raw: &str) -> String {
    let known = match raw.to_ascii_lowercase().as_str() {
        "underutilized" | "consolidation" => "Underutilized",
        "empty" | "emptiness" => "Empty",
        "drifted" | "drift" => "Drifted",
        "expired" | "expiration" => "Expired",
        "spotinterrupted" | "spot_interrupted" | "interruption" => "SpotInterrupted",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let mut chars = raw.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn summary(nodes: &NodeSnapshot) -> NodeSummary {
    let recent: Vec<&ChurnEvent> = last_hour(nodes).collect();
    let mut disruption_reasons = BTreeMap::new();
    for event in recent.iter().filter(|e| e.kind == ChurnKind::Terminated) {
        *disruption_reasons.entry(event.reason.clone()).or_insert(0) += 1;
    }
    let mut launched = count_kind(&recent, ChurnKind::Launched);
    let mut terminated = count_kind(&recent, ChurnKind::Terminated);
    // Karpenter's counters saw the whole hour; the objects only since kockpit started.
    if let Some(counted) = &nodes.counted {
        launched = launched.max(counted.launched);
        terminated = terminated.max(counted.terminated);
        if !counted.disruption_reasons.is_empty() {
            disruption_reasons = counted.disruption_reasons.clone();
        }
    }
    NodeSummary {
        count: nodes.nodes.len(),
        spot_share: nodes.spot_share(),
        launched_last_hour: launched,
        terminated_last_hour: terminated,
        disruption_reasons,
        pending_pods: nodes.pending_pods.len(),
        provisioning_p95_s: nearest_rank(&nodes.provisioning_seconds, 0.95),
    }
}

fn count_kind(events: &[&ChurnEvent], kind: ChurnKind) -> u32 {
    events.iter().filter(|e| e.kind == kind).count() as u32
}

fn last_hour(nodes: &NodeSnapshot) -> impl Iterator<Item = &ChurnEvent> {
    let horizon = nodes.at - chrono::Duration::hours(1);
    nodes
        .churn
        .iter()
        .filter(move |e| e.at > horizon && e.at <= nodes.at)
}

/// Puts nodes in the order the Nodes pane lists them: not-ready and disrupting nodes first,
/// then the newest, as what changed is what matters. Done once per snapshot, so a frame shows
/// the rows in view without ordering 100 000 nodes.
pub fn sort_for_display(nodes: &mut [NodeInfo]) {
    nodes.sort_unstable_by(|a, b| {
        let rank = |n: &NodeInfo| (n.ready, !n.disrupting);
        rank(a)
            .cmp(&rank(b))
            .then(b.created.cmp(&a.created))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Nearest-rank percentile: the smallest sample with at least `q` of the samples at or
/// below it. Non-finite samples are ignored.
pub fn nearest_rank(samples: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

fn is_spot_interruption(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("interrupt")
}

fn is_consolidation(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason == "underutilized" || reason == "empty" || reason.contains("consolidat")
}

fn nodepool_ref(name: &str) -> ObjectRef {
    ObjectRef::cluster_scoped("NodePool", name)
}

pub fn analyze(nodes: &NodeSnapshot, t: &Thresholds) -> Vec<Finding> {
    analyze_summarized(nodes, &summary(nodes), t)
}

/// `analyze` with the snapshot's summary already made (the cockpit keeps it for the panes).
pub fn analyze_summarized(
    nodes: &NodeSnapshot,
    summary: &NodeSummary,
    t: &Thresholds,
) -> Vec<Finding> {
    let mut found = Vec::new();
    spot_interruptions(nodes, t, &mut found);
    pending_pods(nodes, t, &mut found);
    provisioning(summary, nodes, t, &mut found);
    saturated_pools(nodes, &mut found);
    consolidation_churn(nodes, t, &mut found);
    spot_share(summary, nodes, t, &mut found);
    blockers(nodes, &mut found);
    found
}

fn spot_interruptions(nodes: &NodeSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let mut by_pool: BTreeMap<&str, u32> = BTreeMap::new();
    for event in last_hour(nodes)
        .filter(|e| e.kind == ChurnKind::Terminated && is_spot_interruption(&e.reason))
    {
        *by_pool.entry(event.nodepool.as_str()).or_insert(0) += 1;
    }
    let total: u32 = by_pool.values().sum();
    if f64::from(total) < t.spot_interruptions_per_hour {
        return;
    }
    for (pool_name, count) in by_pool {
        let pool = nodes.nodepools.iter().find(|p| p.name == pool_name);
        let frozen = pool.is_some_and(is_frozen);
        let (summary, fix) = if frozen {
            (
                format!(
                    "{count} spot interruptions in the last hour on NodePool {pool_name} ({total} cluster-wide); voluntary disruption is already frozen"
                ),
                None,
            )
        } else {
            (
                format!(
                    "{count} spot interruptions in the last hour on NodePool {pool_name} ({total} cluster-wide): freeze voluntary disruption while the wave lasts"
                ),
                Some(FixKind::NodesFreezeDisruption),
            )
        };
        found.push(
            finding(
                Pane::Nodes,
                format!("nodes/spot-interruptions/{pool_name}"),
                Severity::Critical,
                summary,
                nodepool_ref(pool_name),
            )
            .evidence(
                "spot interruptions (1 h)",
                count.to_string(),
                format!("a wave from {} cluster-wide", t.spot_interruptions_per_hour),
            )
            .evidence(
                "why freeze",
                "consolidation and drift replace nodes on top of the interruptions",
                "interruptions themselves still happen",
            )
            // The pods the wave evicted wait for replacement capacity.
            .pods_waiting(nodes.pending_pods.len())
            .maybe_fix(fix)
            .build(),
        );
    }
}

/// A budget of zero nodes with no schedule blocks every voluntary disruption.
fn is_frozen(pool: &NodePoolInfo) -> bool {
    pool.budgets
        .iter()
        .any(|b| b.nodes.trim() == "0" && b.schedule.is_none() && b.reasons.is_empty())
}

fn pending_pods(nodes: &NodeSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let mut stuck: Vec<(f64, &super::model::PendingPod)> = nodes
        .pending_pods
        .iter()
        .map(|p| ((nodes.at - p.since).num_milliseconds() as f64 / 1000.0, p))
        .filter(|(waited, _)| *waited > t.pending_pod_seconds)
        .collect();
    if stuck.is_empty() {
        return;
    }
    stuck.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (oldest_wait, oldest) = stuck[0];
    let severity = if oldest_wait > t.pending_pod_seconds * PENDING_CRITICAL_FACTOR {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut reasons: BTreeMap<&str, u32> = BTreeMap::new();
    for (_, pod) in &stuck {
        *reasons.entry(pod.reason.as_str()).or_insert(0) += 1;
    }
    let reasons_text = reasons
        .iter()
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let waited = go_duration(std::time::Duration::from_secs(oldest_wait.max(0.0) as u64));
    found.push(
        finding(
            Pane::Nodes,
            "nodes/pending-pods".into(),
            severity,
            format!(
                "{} pod{} pending longer than {} (oldest {}/{} for {waited}): {}",
                stuck.len(),
                if stuck.len() == 1 { "" } else { "s" },
                seconds(t.pending_pod_seconds),
                oldest.namespace,
                oldest.name,
                reasons_text
            ),
            ObjectRef::namespaced("Pod", &oldest.namespace, &oldest.name),
        )
        .evidence(
            "stuck pods",
            stuck.len().to_string(),
            format!("pending over {}", seconds(t.pending_pod_seconds)),
        )
        .evidence(
            "oldest wait",
            waited,
            format!(
                "critical above {}",
                seconds(t.pending_pod_seconds * PENDING_CRITICAL_FACTOR)
            ),
        )
        .evidence("reasons", reasons_text, "")
        .pods_waiting(stuck.len())
        .build(),
    );
}

fn provisioning(
    summary: &NodeSummary,
    nodes: &NodeSnapshot,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    let Some(p95) = summary.provisioning_p95_s else {
        return;
    };
    let Some(severity) = above(p95, t.provisioning_p95_s) else {
        return;
    };
    found.push(
        finding(
            Pane::Nodes,
            "nodes/provisioning-p95".into(),
            severity,
            format!(
                "New nodes take {} to initialise at p95 ({}): pods wait that long on scale-out",
                seconds(p95),
                crossed(severity, t.provisioning_p95_s, true, seconds)
            ),
            cluster_object(),
        )
        .evidence(
            "provisioning p95",
            seconds(p95),
            band_text(t.provisioning_p95_s, true, seconds),
        )
        .evidence(
            "samples",
            nodes.provisioning_seconds.len().to_string(),
            "NodeClaims of the last hour",
        )
        .pods_waiting(nodes.pending_pods.len())
        .build(),
    );
}

fn saturated_pools(nodes: &NodeSnapshot, found: &mut Vec<Finding>) {
    if nodes.pending_pods.is_empty() {
        return;
    }
    for pool in &nodes.nodepools {
        let Some(limit) = pool.cpu_limit.filter(|l| *l > 0.0) else {
            continue;
        };
        // The smallest node of the pool: Karpenter cannot launch one if it would cross the limit.
        let smallest_node_cores = nodes
            .nodes
            .iter()
            .filter(|n| n.nodepool.as_deref() == Some(pool.name.as_str()))
            .map(|n| n.cpu_allocatable_m / 1000.0)
            .filter(|c| *c > 0.0)
            .min_by(f64::total_cmp)
            .unwrap_or(0.0);
        let headroom = limit - pool.cpu_provisioned;
        if headroom > limit * LIMIT_SATURATION_HEADROOM && headroom >= smallest_node_cores {
            continue;
        }
        let suggested = (limit * 1.25).ceil();
        found.push(
            finding(
                Pane::Nodes,
                format!("nodes/nodepool-at-limit/{}", pool.name),
                Severity::Critical,
                format!(
                    "NodePool {} is at its CPU limit ({:.0} of {:.0} cores) with {} pods pending: raise the limit",
                    pool.name,
                    pool.cpu_provisioned,
                    limit,
                    nodes.pending_pods.len()
                ),
                nodepool_ref(&pool.name),
            )
            .evidence("provisioned CPU", format!("{:.0} cores", pool.cpu_provisioned), format!("limit {limit:.0} cores"))
            .evidence("pending pods", nodes.pending_pods.len().to_string(), "")
            .evidence("suggested limit", format!("{suggested:.0} cores"), "+25%; raises the spend ceiling")
            .fix(FixKind::NodesRaiseLimit)
            .build(),
        );
    }
}

fn consolidation_churn(nodes: &NodeSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let mut by_pool: BTreeMap<&str, u32> = BTreeMap::new();
    for event in
        last_hour(nodes).filter(|e| e.kind == ChurnKind::Terminated && is_consolidation(&e.reason))
    {
        *by_pool.entry(event.nodepool.as_str()).or_insert(0) += 1;
    }
    for (pool_name, count) in by_pool {
        let Some(severity) = above(f64::from(count), t.terminations_per_hour) else {
            continue;
        };
        let pool = nodes.nodepools.iter().find(|p| p.name == pool_name);
        let already_stable = pool.is_some_and(|p| {
            p.consolidation_policy == "WhenEmpty"
                && p.consolidate_after
                    .as_deref()
                    .and_then(parse_go_duration)
                    .is_some_and(|d| d.as_secs() >= STABLE_CONSOLIDATE_AFTER_SECONDS)
        });
        let policy = pool
            .map(|p| {
                format!(
                    "{}, consolidateAfter {}",
                    p.consolidation_policy,
                    p.consolidate_after.as_deref().unwrap_or("unset")
                )
            })
            .unwrap_or_else(|| "unknown".into());
        let advice = if already_stable {
            "already in stability mode: check what keeps emptying nodes"
        } else {
            "switch to WhenEmpty with consolidateAfter 300s"
        };
        found.push(
            finding(
                Pane::Nodes,
                format!("nodes/consolidation-churn/{pool_name}"),
                severity,
                format!(
                    "NodePool {pool_name} removed {count} nodes for consolidation in the last hour ({}): {advice}",
                    crossed(severity, t.terminations_per_hour, true, |v| format!("{v:.0}/h"))
                ),
                nodepool_ref(pool_name),
            )
            .evidence(
                "consolidation terminations (1 h)",
                count.to_string(),
                band_text(t.terminations_per_hour, true, |v| format!("{v:.0}/h")),
            )
            .evidence("disruption policy", policy, "stability: WhenEmpty, 300s")
            .maybe_fix((!already_stable).then_some(FixKind::NodesConsolidationPolicy))
            .build(),
        );
    }
}

fn spot_share(
    summary: &NodeSummary,
    nodes: &NodeSnapshot,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    if summary.count == 0 {
        return;
    }
    let Some(severity) = below(summary.spot_share, t.spot_share) else {
        return;
    };
    let spot_allowed = nodes
        .nodepools
        .iter()
        .any(|p| p.capacity_types.contains(&Capacity::Spot));
    let advice = if spot_allowed {
        "give the spot NodePool a higher weight so new capacity prefers spot"
    } else {
        "no NodePool allows spot capacity"
    };
    found.push(
        finding(
            Pane::Nodes,
            "nodes/spot-share".into(),
            severity,
            format!(
                "Spot share {} of {} nodes ({}): {advice}",
                percent(summary.spot_share),
                summary.count,
                crossed(severity, t.spot_share, false, percent)
            ),
            cluster_object(),
        )
        .evidence(
            "spot share",
            percent(summary.spot_share),
            band_text(t.spot_share, false, percent),
        )
        .build(),
    );
}

fn blockers(nodes: &NodeSnapshot, found: &mut Vec<Finding>) {
    for blocker in &nodes.blockers {
        let (rule, kind, summary) = match blocker.kind {
            BlockerKind::Pdb => (
                "pdb-blocks",
                "PodDisruptionBudget",
                format!(
                    "PodDisruptionBudget {}/{} allows 0 disruptions: nodes running its pods cannot be drained",
                    blocker.namespace, blocker.name
                ),
            ),
            BlockerKind::DoNotDisrupt => (
                "do-not-disrupt",
                "Pod",
                format!(
                    "Pod {}/{} is marked karpenter.sh/do-not-disrupt: its node cannot be consolidated or replaced",
                    blocker.namespace, blocker.name
                ),
            ),
        };
        let mut draft = finding(
            Pane::Nodes,
            format!("nodes/{rule}/{}/{}", blocker.namespace, blocker.name),
            Severity::Warning,
            summary,
            ObjectRef::namespaced(kind, &blocker.namespace, &blocker.name),
        );
        if !blocker.detail.is_empty() {
            draft = draft.evidence("detail", blocker.detail.clone(), "");
        }
        found.push(draft.build());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::model::{Blocker, DisruptionBudget, NodeInfo, PendingPod};
    use crate::domain::time::Timestamp;
    use chrono::{Duration, TimeZone, Utc};

    pub(crate) fn now() -> Timestamp {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    pub(crate) fn node(
        name: &str,
        pool: &str,
        instance: &str,
        capacity: Capacity,
        zone: &str,
    ) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            nodepool: Some(pool.into()),
            instance_type: instance.into(),
            capacity,
            zone: zone.into(),
            created: now() - Duration::days(2),
            ready: true,
            disrupting: false,
            cpu_allocatable_m: 3920.0,
            cpu_requested_m: 3200.0,
            memory_allocatable_mib: 14_000.0,
            memory_requested_mib: 11_000.0,
            pods: 20,
        }
    }

    pub(crate) fn pool(name: &str) -> NodePoolInfo {
        NodePoolInfo {
            name: name.into(),
            consolidation_policy: "WhenEmptyOrUnderutilized".into(),
            consolidate_after: Some("30s".into()),
            budgets: vec![DisruptionBudget {
                nodes: "10%".into(),
                schedule: None,
                duration: None,
                reasons: vec![],
            }],
            cpu_limit: Some(1000.0),
            cpu_provisioned: 16.0,
            weight: None,
            capacity_types: vec![Capacity::Spot, Capacity::OnDemand],
        }
    }

    /// Four healthy nodes, half spot, in three zones.
    pub(crate) fn calm() -> NodeSnapshot {
        NodeSnapshot {
            at: now(),
            nodes: vec![
                node("n1", "general", "m6i.xlarge", Capacity::Spot, "us-east-1a"),
                node("n2", "general", "m6i.xlarge", Capacity::Spot, "us-east-1b"),
                node(
                    "n3",
                    "general",
                    "m6i.xlarge",
                    Capacity::OnDemand,
                    "us-east-1c",
                ),
                node(
                    "n4",
                    "general",
                    "m6i.xlarge",
                    Capacity::OnDemand,
                    "us-east-1a",
                ),
            ],
            nodepools: vec![pool("general")],
            churn: vec![],
            pending_pods: vec![],
            provisioning_seconds: vec![40.0, 42.0, 45.0],
            blockers: vec![],
            counted: None,
        }
    }

    pub(crate) fn fleet_of(count: usize) -> NodeSnapshot {
        let mut snapshot = calm();
        snapshot.nodes = (0..count)
            .map(|i| {
                let capacity = if i % 2 == 0 {
                    Capacity::Spot
                } else {
                    Capacity::OnDemand
                };
                node(
                    &format!("n{i}"),
                    "general",
                    "m6i.xlarge",
                    capacity,
                    "us-east-1a",
                )
            })
            .collect();
        snapshot
    }

    pub(crate) fn fleet_in_zones(zones: &[&str]) -> NodeSnapshot {
        let mut snapshot = calm();
        for (i, node) in snapshot.nodes.iter_mut().enumerate() {
            node.zone = zones[i % zones.len()].to_string();
        }
        snapshot
    }

    fn churn(minutes_ago: i64, kind: ChurnKind, pool: &str, reason: &str) -> ChurnEvent {
        ChurnEvent {
            at: now() - Duration::minutes(minutes_ago),
            kind,
            node: format!("node-{minutes_ago}"),
            nodepool: pool.into(),
            reason: reason.into(),
        }
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
    fn calm_fleet_has_no_findings() {
        let found = analyze(&calm(), &Thresholds::default());
        assert!(found.is_empty(), "{:?}", ids(&found));
    }

    #[test]
    fn summary_counts_the_last_hour_only() {
        let mut nodes = calm();
        nodes.churn = vec![
            churn(5, ChurnKind::Launched, "general", "Provisioning"),
            churn(10, ChurnKind::Terminated, "general", "SpotInterrupted"),
            churn(20, ChurnKind::Terminated, "general", "Underutilized"),
            churn(30, ChurnKind::Terminated, "general", "SpotInterrupted"),
            churn(90, ChurnKind::Terminated, "general", "Drifted"),
            churn(-5, ChurnKind::Launched, "general", "Provisioning"),
        ];
        nodes.pending_pods = vec![PendingPod {
            namespace: "shop".into(),
            name: "web-1".into(),
            since: now(),
            reason: "Unschedulable".into(),
        }];
        nodes.provisioning_seconds = (1..=20).map(f64::from).collect();
        let summary = summary(&nodes);
        assert_eq!(summary.count, 4);
        assert_eq!(summary.spot_share, 0.5);
        assert_eq!(summary.launched_last_hour, 1);
        assert_eq!(summary.terminated_last_hour, 3);
        assert_eq!(summary.disruption_reasons.get("SpotInterrupted"), Some(&2));
        assert_eq!(summary.disruption_reasons.get("Underutilized"), Some(&1));
        assert_eq!(summary.disruption_reasons.get("Drifted"), None);
        assert_eq!(summary.pending_pods, 1);
        assert_eq!(summary.provisioning_p95_s, Some(19.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 0.95), None);
        assert_eq!(nearest_rank(&[7.0], 0.95), Some(7.0));
        assert_eq!(nearest_rank(&[3.0, 1.0, 2.0, f64::NAN], 0.5), Some(2.0));
        assert_eq!(
            nearest_rank(&[15.0, 20.0, 35.0, 40.0, 50.0], 0.3),
            Some(20.0)
        );
        assert_eq!(
            nearest_rank(&[15.0, 20.0, 35.0, 40.0, 50.0], 1.0),
            Some(50.0)
        );
    }

    #[test]
    fn a_spot_wave_freezes_disruption_on_the_affected_pool() {
        let mut nodes = calm();
        nodes.nodepools.push(pool("batch"));
        nodes.churn = vec![
            churn(5, ChurnKind::Terminated, "general", "SpotInterrupted"),
            churn(8, ChurnKind::Terminated, "general", "SpotInterrupted"),
            churn(12, ChurnKind::Terminated, "batch", "SpotInterrupted"),
        ];
        let found = analyze(&nodes, &Thresholds::default());
        let general = get(&found, "nodes/spot-interruptions/general");
        assert_eq!(general.severity, Severity::Critical);
        assert_eq!(general.fix, Some(FixKind::NodesFreezeDisruption));
        assert_eq!(
            general.object,
            ObjectRef::cluster_scoped("NodePool", "general")
        );
        assert!(
            general.summary.starts_with("2 spot interruptions"),
            "{}",
            general.summary
        );
        assert!(ids(&found).contains(&"nodes/spot-interruptions/batch"));

        // Two interruptions are not a wave; old ones do not count.
        nodes.churn.pop();
        nodes
            .churn
            .push(churn(75, ChurnKind::Terminated, "batch", "SpotInterrupted"));
        let found = analyze(&nodes, &Thresholds::default());
        assert!(
            !ids(&found)
                .iter()
                .any(|id| id.starts_with("nodes/spot-interruptions"))
        );
    }

    #[test]
    fn a_frozen_pool_gets_no_second_freeze() {
        let mut nodes = calm();
        nodes.nodepools[0].budgets = vec![DisruptionBudget {
            nodes: "0".into(),
            schedule: None,
            duration: None,
            reasons: vec![],
        }];
        nodes.churn = (1..=4)
            .map(|m| churn(m, ChurnKind::Terminated, "general", "SpotInterrupted"))
            .collect();
        let found = analyze(&nodes, &Thresholds::default());
        let wave = get(&found, "nodes/spot-interruptions/general");
        assert_eq!(wave.fix, None);
        assert!(wave.summary.contains("already frozen"));
    }

    #[test]
    fn stuck_pending_pods_warn_then_go_critical() {
        let mut nodes = calm();
        let pending = |name: &str, seconds_ago: i64| PendingPod {
            namespace: "shop".into(),
            name: name.into(),
            since: now() - Duration::seconds(seconds_ago),
            reason: "Unschedulable".into(),
        };
        nodes.pending_pods = vec![pending("fresh", 20)];
        assert!(analyze(&nodes, &Thresholds::default()).is_empty());
        nodes.pending_pods.push(pending("stuck", 120));
        let found = analyze(&nodes, &Thresholds::default());
        let stuck = get(&found, "nodes/pending-pods");
        assert_eq!(stuck.severity, Severity::Warning);
        assert_eq!(stuck.object, ObjectRef::namespaced("Pod", "shop", "stuck"));
        assert!(
            stuck.summary.starts_with("1 pod pending longer than 60 s"),
            "{}",
            stuck.summary
        );
        nodes.pending_pods.push(pending("ancient", 900));
        let found = analyze(&nodes, &Thresholds::default());
        assert_eq!(
            get(&found, "nodes/pending-pods").severity,
            Severity::Critical
        );
    }

    #[test]
    fn slow_provisioning_is_judged_on_p95() {
        let mut nodes = calm();
        nodes.provisioning_seconds = vec![40.0, 50.0, 70.0, 80.0];
        let found = analyze(&nodes, &Thresholds::default());
        assert_eq!(
            get(&found, "nodes/provisioning-p95").severity,
            Severity::Warning
        );
        nodes.provisioning_seconds = vec![200.0];
        let found = analyze(&nodes, &Thresholds::default());
        assert_eq!(
            get(&found, "nodes/provisioning-p95").severity,
            Severity::Critical
        );
    }

    #[test]
    fn a_saturated_pool_with_pending_pods_gets_a_higher_limit() {
        let mut nodes = calm();
        nodes.nodepools[0].cpu_limit = Some(16.0);
        nodes.nodepools[0].cpu_provisioned = 16.0;
        assert!(
            !ids(&analyze(&nodes, &Thresholds::default()))
                .iter()
                .any(|id| id.starts_with("nodes/nodepool-at-limit"))
        );
        nodes.pending_pods = vec![PendingPod {
            namespace: "shop".into(),
            name: "web-9".into(),
            since: now(),
            reason: "Unschedulable".into(),
        }];
        let found = analyze(&nodes, &Thresholds::default());
        let limit = get(&found, "nodes/nodepool-at-limit/general");
        assert_eq!(limit.fix, Some(FixKind::NodesRaiseLimit));
        assert_eq!(limit.severity, Severity::Critical);
        // Headroom for another node means the limit is not what blocks the pods.
        nodes.nodepools[0].cpu_limit = Some(100.0);
        let found = analyze(&nodes, &Thresholds::default());
        assert!(
            !ids(&found)
                .iter()
                .any(|id| id.starts_with("nodes/nodepool-at-limit"))
        );
    }

    #[test]
    fn heavy_consolidation_churn_suggests_stability_mode() {
        let mut nodes = calm();
        nodes.churn = (1..=7)
            .map(|m| churn(m, ChurnKind::Terminated, "general", "Underutilized"))
            .collect();
        let found = analyze(&nodes, &Thresholds::default());
        let churn_finding = get(&found, "nodes/consolidation-churn/general");
        assert_eq!(churn_finding.severity, Severity::Warning);
        assert_eq!(churn_finding.fix, Some(FixKind::NodesConsolidationPolicy));

        nodes.nodepools[0].consolidation_policy = "WhenEmpty".into();
        nodes.nodepools[0].consolidate_after = Some("300s".into());
        let found = analyze(&nodes, &Thresholds::default());
        assert_eq!(get(&found, "nodes/consolidation-churn/general").fix, None);

        nodes.churn.truncate(5);
        assert!(analyze(&nodes, &Thresholds::default()).is_empty());
    }

    #[test]
    fn low_spot_share() {
        let mut nodes = calm();
        for node in &mut nodes.nodes {
            node.capacity = Capacity::OnDemand;
        }
        nodes.nodes[0].capacity = Capacity::Spot;
        let found = analyze(&nodes, &Thresholds::default());
        let share = get(&found, "nodes/spot-share");
        assert_eq!(share.severity, Severity::Critical);
        assert!(
            share.summary.starts_with("Spot share 25% of 4 nodes"),
            "{}",
            share.summary
        );
        nodes.nodes[1].capacity = Capacity::Spot;
        assert!(analyze(&nodes, &Thresholds::default()).is_empty());
    }

    #[test]
    fn blockers_are_warnings_on_their_objects() {
        let mut nodes = calm();
        nodes.blockers = vec![
            Blocker {
                kind: BlockerKind::Pdb,
                namespace: "db".into(),
                name: "postgres".into(),
                detail: "minAvailable 100%".into(),
            },
            Blocker {
                kind: BlockerKind::DoNotDisrupt,
                namespace: "batch".into(),
                name: "train-7".into(),
                detail: String::new(),
            },
        ];
        let found = analyze(&nodes, &Thresholds::default());
        let pdb = get(&found, "nodes/pdb-blocks/db/postgres");
        assert_eq!(pdb.severity, Severity::Warning);
        assert_eq!(pdb.object.kind, "PodDisruptionBudget");
        let pod = get(&found, "nodes/do-not-disrupt/batch/train-7");
        assert_eq!(pod.object, ObjectRef::namespaced("Pod", "batch", "train-7"));
    }
}
