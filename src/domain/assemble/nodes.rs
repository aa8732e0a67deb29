//! The Nodes pane from projections: nodes with what their pods request, NodePools, churn
//! (NodeClaims created and deleted, with reasons from Karpenter's Events), pending pods,
//! provisioning latency (NodeClaim creation → `Initialized`) and disruption blockers.

use std::collections::BTreeSet;

use crate::domain::model::{
    Blocker, BlockerKind, Capacity, ChurnEvent, ChurnKind, NodeInfo, NodePoolInfo, NodeSnapshot,
    PendingPod,
};
use crate::domain::time::Timestamp;

use super::objects::{CHURN_WINDOW_SECONDS, ClusterObjects, EventProjection, NodeClaimProjection};

/// Termination reasons the Nodes pane knows, as Karpenter names them.
const DISRUPTION_REASONS: [&str; 5] = [
    "SpotInterrupted",
    "Underutilized",
    "Empty",
    "Drifted",
    "Expired",
];

pub fn nodes(objects: &ClusterObjects, at: Timestamp) -> NodeSnapshot {
    let window_start = at - chrono::Duration::seconds(CHURN_WINDOW_SECONDS);
    NodeSnapshot {
        at,
        nodes: node_infos(objects, at),
        nodepools: nodepools(objects),
        churn: churn(objects, window_start),
        pending_pods: pending_pods(objects),
        provisioning_seconds: provisioning_seconds(objects, window_start),
        blockers: blockers(objects),
        counted: None,
    }
}

fn node_infos(objects: &ClusterObjects, at: Timestamp) -> Vec<NodeInfo> {
    objects
        .nodes
        .values()
        .map(|node| {
            // Kept as running totals as pods change: no pass over the pods here.
            let requested = objects.pods.on_node(&node.name);
            NodeInfo {
                name: node.name.clone(),
                nodepool: node.nodepool.clone(),
                instance_type: node
                    .instance_type
                    .clone()
                    .unwrap_or_else(|| "unknown".to_string()),
                capacity: node.capacity.unwrap_or(Capacity::OnDemand),
                zone: node.zone.clone().unwrap_or_else(|| "unknown".to_string()),
                created: node.created.unwrap_or(at),
                ready: node.ready,
                disrupting: node.disrupting,
                cpu_allocatable_m: node.cpu_allocatable_m,
                cpu_requested_m: requested.cpu_m,
                memory_allocatable_mib: node.memory_allocatable_mib,
                memory_requested_mib: requested.memory_mib,
                pods: requested.pods,
            }
        })
        .collect()
}

fn nodepools(objects: &ClusterObjects) -> Vec<NodePoolInfo> {
    objects
        .nodepools
        .values()
        .map(|pool| NodePoolInfo {
            name: pool.name.clone(),
            consolidation_policy: pool.consolidation_policy.clone(),
            consolidate_after: pool.consolidate_after.clone(),
            budgets: pool.budgets.clone(),
            cpu_limit: pool.cpu_limit,
            cpu_provisioned: pool.cpu_provisioned,
            weight: pool.weight,
            capacity_types: pool.capacity_types.clone(),
        })
        .collect()
}

fn is_karpenter_event(event: &EventProjection) -> bool {
    event.component.eq_ignore_ascii_case("karpenter")
        || matches!(event.object_kind.as_str(), "NodeClaim" | "NodePool")
}

/// The disruption reason an Event states, if it states one: either as its reason
/// (`SpotInterrupted`) or in the message of a `Disruption…` event ("Disrupting NodeClaim:
/// Underutilized/Delete").
fn disruption_reason(event: &EventProjection) -> Option<&'static str> {
    if let Some(reason) = DISRUPTION_REASONS.iter().find(|r| **r == event.reason) {
        return Some(reason);
    }
    if event.reason.starts_with("Disruption") && event.reason != "DisruptionBlocked" {
        return DISRUPTION_REASONS
            .iter()
            .find(|r| event.message.contains(**r))
            .copied();
    }
    None
}

/// Karpenter's latest word on why a NodeClaim (or its node) went away.
fn termination_reason<'a>(
    events: &[&'a EventProjection],
    claim: &str,
    node: Option<&str>,
) -> Option<(&'static str, Option<Timestamp>, &'a EventProjection)> {
    events
        .iter()
        .filter(|e| e.object_name == claim || Some(e.object_name.as_str()) == node)
        .filter_map(|e| disruption_reason(e).map(|reason| (reason, e.at, *e)))
        .max_by_key(|(_, at, _)| *at)
}

fn claim_node(claim: &NodeClaimProjection) -> String {
    claim.node.clone().unwrap_or_else(|| claim.name.clone())
}

fn churn(objects: &ClusterObjects, window_start: Timestamp) -> Vec<ChurnEvent> {
    let events: Vec<&EventProjection> = objects
        .events
        .values()
        .filter(|e| is_karpenter_event(e))
        .collect();
    let mut churn = Vec::new();
    let live = objects.nodeclaims.values();
    let deleted = objects.deleted_nodeclaims.iter().map(|d| &d.claim);
    for claim in live.clone().chain(deleted.clone()) {
        if let Some(created) = claim.created.filter(|c| *c >= window_start) {
            churn.push(ChurnEvent {
                at: created,
                kind: ChurnKind::Launched,
                node: claim_node(claim),
                nodepool: claim.nodepool.clone().unwrap_or_default(),
                reason: "Provisioning".to_string(),
            });
        }
    }
    // Terminations: claims being deleted, claims seen deleted, then claims only Karpenter's
    // Events tell us about (deleted before kockpit started watching).
    let mut counted: BTreeSet<String> = BTreeSet::new();
    let deleting = objects
        .nodeclaims
        .values()
        .filter_map(|claim| claim.deleting_since.map(|at| (claim, at)));
    let gone = objects.deleted_nodeclaims.iter().map(|d| {
        let at = d.claim.deleting_since.unwrap_or(d.at);
        (&d.claim, at)
    });
    for (claim, at) in deleting.chain(gone) {
        if at < window_start || !counted.insert(claim.name.clone()) {
            continue;
        }
        counted.extend(claim.node.clone());
        let reason = claim
            .disruption_reason
            .clone()
            .or_else(|| {
                termination_reason(&events, &claim.name, claim.node.as_deref())
                    .map(|(reason, _, _)| reason.to_string())
            })
            .unwrap_or_else(|| "Deleted".to_string());
        churn.push(ChurnEvent {
            at,
            kind: ChurnKind::Terminated,
            node: claim_node(claim),
            nodepool: claim.nodepool.clone().unwrap_or_default(),
            reason,
        });
    }
    let mut launched: BTreeSet<String> = churn.iter().map(|c| c.node.clone()).collect();
    for claim in objects.nodeclaims.values() {
        launched.insert(claim.name.clone());
        launched.extend(claim.node.clone());
    }
    for event in &events {
        let Some(at) = event.at.filter(|at| *at >= window_start) else {
            continue;
        };
        let (kind, reason) = if event.reason == "Launched" {
            if !launched.insert(event.object_name.clone()) {
                continue;
            }
            (ChurnKind::Launched, "Provisioning")
        } else {
            let Some(reason) = disruption_reason(event) else {
                continue;
            };
            if !counted.insert(event.object_name.clone()) {
                continue;
            }
            (ChurnKind::Terminated, reason)
        };
        let nodepool = objects
            .nodeclaims
            .values()
            .find(|c| c.name == event.object_name || c.node.as_deref() == Some(&event.object_name))
            .and_then(|c| c.nodepool.clone())
            .or_else(|| {
                objects
                    .nodes
                    .values()
                    .find(|n| n.name == event.object_name)
                    .and_then(|n| n.nodepool.clone())
            })
            .unwrap_or_default();
        churn.push(ChurnEvent {
            at,
            kind,
            node: event.object_name.clone(),
            nodepool,
            reason: reason.to_string(),
        });
    }
    churn.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.node.cmp(&b.node)));
    churn
}

fn pending_pods(objects: &ClusterObjects) -> Vec<PendingPod> {
    objects
        .pods
        .listed()
        .filter(|pod| pod.phase == "Pending" && pod.node.is_none())
        .filter_map(|pod| {
            let since = pod.pending_since.or(pod.created)?;
            let reason = match pod.unschedulable.as_deref().map(str::trim) {
                Some(message) if !message.is_empty() => format!("Unschedulable: {message}"),
                Some(_) => "Unschedulable".to_string(),
                None if pod.pending_since.is_some() => "Unschedulable".to_string(),
                // Not yet looked at by the scheduler: not a capacity problem (yet).
                None => return None,
            };
            Some(PendingPod {
                namespace: pod.namespace.clone(),
                name: pod.name.clone(),
                since,
                reason,
            })
        })
        .collect()
}

fn provisioning_seconds(objects: &ClusterObjects, window_start: Timestamp) -> Vec<f64> {
    let live = objects.nodeclaims.values();
    let deleted = objects.deleted_nodeclaims.iter().map(|d| &d.claim);
    live.chain(deleted)
        .filter_map(|claim| {
            let created = claim.created.filter(|c| *c >= window_start)?;
            let initialized = claim.initialized_at?;
            let seconds = (initialized - created).num_milliseconds() as f64 / 1000.0;
            (seconds >= 0.0).then_some(seconds)
        })
        .collect()
}

fn blockers(objects: &ClusterObjects) -> Vec<Blocker> {
    let pdbs = objects
        .pdbs
        .values()
        .filter(|pdb| pdb.disruptions_allowed == 0 && pdb.expected_pods > 0)
        .map(|pdb| {
            let rule = if pdb.rule.is_empty() {
                String::new()
            } else {
                format!("{}: ", pdb.rule)
            };
            Blocker {
                kind: BlockerKind::Pdb,
                namespace: pdb.namespace.clone(),
                name: pdb.name.clone(),
                detail: format!(
                    "{rule}0 disruptions allowed ({}/{} healthy)",
                    pdb.current_healthy, pdb.expected_pods
                ),
            }
        });
    let pinned = objects
        .pods
        .listed()
        .filter(|pod| pod.do_not_disrupt && pod.is_running_or_pending())
        .map(|pod| Blocker {
            kind: BlockerKind::DoNotDisrupt,
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            detail: match &pod.node {
                Some(node) => format!("karpenter.sh/do-not-disrupt: \"true\" on node {node}"),
                None => "karpenter.sh/do-not-disrupt: \"true\"".to_string(),
            },
        });
    pdbs.chain(pinned).collect()
}
