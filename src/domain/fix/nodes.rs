//! Karpenter NodePool fixes (§8.4 F-KP-1, 3, 5), merge patches on a CRD (strategic merge is
//! not served for CRDs). A merge patch replaces the whole `budgets` list, so the freeze keeps
//! the old list in its inverse.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::PlanContext;
use super::object::{cpu_cores, guarded_patch, own_target, str_at};
use super::plan::{PatchType, Risk, VerifyCondition};
use super::{Draft, PlanError, verification};
use crate::domain::format::{HOURS_PER_MONTH, parse_go_duration};

/// Stability mode waits this long before removing an empty node (§4.4 K2).
const STABLE_CONSOLIDATE_AFTER: &str = "300s";
const STABLE_CONSOLIDATE_AFTER_SECONDS: u64 = 300;
/// Cost mode (§4.4 K1).
const COST_CONSOLIDATE_AFTER: &str = "30s";

fn budgets(object: &Value) -> Vec<Value> {
    object
        .pointer("/spec/disruption/budgets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn budget_text(budgets: &[Value]) -> String {
    if budgets.is_empty() {
        return "none (Karpenter's default: nodes 10%)".into();
    }
    budgets
        .iter()
        .map(|b| {
            let nodes = match b.get("nodes") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "?".into(),
            };
            match b.get("schedule").and_then(Value::as_str) {
                Some(schedule) => format!("nodes {nodes} at {schedule}"),
                None => format!("nodes {nodes}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_freeze(budget: &Value) -> bool {
    let zero = match budget.get("nodes") {
        Some(Value::String(s)) => s.trim() == "0" || s.trim() == "0%",
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        _ => false,
    };
    zero && budget.get("schedule").is_none() && budget.get("reasons").is_none()
}

/// F-KP-1: `budgets: [{nodes: "0"}]`, the old list kept for the undo.
pub fn freeze_disruption(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let old = budgets(object);
    let verify = verification(
        VerifyCondition::DisruptionsStopped {
            nodepool: target.name.clone(),
        },
        Duration::from_secs(10 * 60),
        vec![("disruption budgets", budget_text(&old))],
    );
    if old.iter().any(is_freeze) {
        return Ok(Draft::refused(
            target,
            Risk::Low,
            format!(
                "NodePool {} is already frozen (a budget of nodes 0)",
                object_name(object)
            ),
            verify,
        ));
    }
    let (operation, precondition, inverse) = guarded_patch(
        object,
        PatchType::Merge,
        json!({"spec": {"disruption": {"budgets": [{"nodes": "0"}]}}}),
    )?;
    Ok(Draft {
        blast_radius: format!(
            "NodePool {}: its {} nodes are kept; no consolidation or drift replacement until undone",
            target.name, context.nodes_in_pool
        ),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Low,
        warnings: vec![
            "cost drifts up while frozen; spot interruptions, expiry and forced terminations still happen".into(),
            format!("undo restores the budgets: {}", budget_text(&old)),
        ],
        refusal: None,
        verify,
    })
}

fn object_name(object: &Value) -> &str {
    str_at(object, "/metadata/name").unwrap_or_default()
}

/// F-KP-3: toggles between stability mode (`WhenEmpty`, 300s) and cost mode
/// (`WhenEmptyOrUnderutilized`, 30s). A pool in `WhenEmpty` that consolidates sooner than
/// 300s is moved to stability mode, not away from it.
pub fn consolidation_policy(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    // Karpenter v1 defaults an absent policy to WhenEmptyOrUnderutilized.
    let policy = str_at(object, "/spec/disruption/consolidationPolicy")
        .unwrap_or("WhenEmptyOrUnderutilized");
    let after = str_at(object, "/spec/disruption/consolidateAfter");
    let patient = after
        .and_then(parse_go_duration)
        .is_some_and(|d| d.as_secs() >= STABLE_CONSOLIDATE_AFTER_SECONDS);
    let to_cost = policy == "WhenEmpty" && patient;
    let (new_policy, new_after, risk) = if to_cost {
        (
            "WhenEmptyOrUnderutilized",
            COST_CONSOLIDATE_AFTER,
            Risk::Medium,
        )
    } else {
        ("WhenEmpty", STABLE_CONSOLIDATE_AFTER, Risk::Low)
    };
    let verify = verification(
        VerifyCondition::ConsolidationPolicyIs {
            nodepool: target.name.clone(),
            policy: new_policy.into(),
            consolidate_after: new_after.into(),
        },
        Duration::from_secs(2 * 60),
        vec![(
            "consolidation",
            format!("{policy}, consolidateAfter {}", after.unwrap_or("unset")),
        )],
    );
    let mut warnings = Vec::new();
    if to_cost {
        warnings.push("cost mode moves pods off underused nodes: workloads need PodDisruptionBudgets or at least 2 replicas".into());
        if budgets(object).is_empty() {
            warnings.push("no disruption budget is set: Karpenter's default of 10% of nodes at a time applies".into());
        }
    } else {
        warnings
            .push("stability mode keeps underused nodes: cost rises until load fills them".into());
    }
    let (operation, precondition, inverse) = guarded_patch(
        object,
        PatchType::Merge,
        json!({"spec": {"disruption": {"consolidationPolicy": new_policy, "consolidateAfter": new_after}}}),
    )?;
    Ok(Draft {
        blast_radius: format!(
            "NodePool {}: {} nodes; {}",
            target.name,
            context.nodes_in_pool,
            if to_cost {
                "underused nodes are drained and removed (pod restarts)"
            } else {
                "only empty nodes are removed, after 5 minutes"
            }
        ),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk,
        warnings,
        refusal: None,
        verify,
    })
}

/// F-KP-5: `spec.limits.cpu` up by 25 %, so pending pods can get nodes.
pub fn raise_limit(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let limit = object.pointer("/spec/limits/cpu").and_then(cpu_cores);
    let provisioned = context.nodepool.as_ref().map(|p| p.cpu_provisioned);
    let mut before = vec![(
        "CPU limit",
        limit.map_or("none".into(), |l| format!("{l:.0} cores")),
    )];
    if let Some(p) = provisioned {
        before.push(("provisioned CPU", format!("{p:.0} cores")));
    }
    before.push(("pending pods", context.pending_pods.to_string()));
    let new_limit = limit.map_or(0.0, |l| (l * 1.25).ceil());
    let verify = verification(
        VerifyCondition::NoPendingPodsFor {
            nodepool: target.name.clone(),
            cpu_limit: new_limit,
        },
        Duration::from_secs(5 * 60),
        before,
    );
    let Some(limit) = limit.filter(|l| *l > 0.0) else {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            "the NodePool has no CPU limit to raise".into(),
            verify,
        ));
    };
    let added = new_limit - limit;
    let mut warnings = vec![format!("raises the spend ceiling by {added:.0} cores")];
    if let Some(price) = context
        .usd_per_core_hour
        .filter(|p| p.is_finite() && *p > 0.0)
    {
        warnings[0].push_str(&format!(
            " (about ${:.0}/month at the cluster's current CPU price; ${:.0}/month at the new ceiling)",
            added * price * HOURS_PER_MONTH,
            new_limit * price * HOURS_PER_MONTH
        ));
    }
    let (operation, precondition, inverse) = guarded_patch(
        object,
        PatchType::Merge,
        json!({"spec": {"limits": {"cpu": format!("{new_limit:.0}")}}}),
    )?;
    Ok(Draft {
        blast_radius: format!(
            "NodePool {}: up to {added:.0} more cores of nodes; {} pending pods can be scheduled",
            target.name, context.pending_pods
        ),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Medium,
        warnings,
        refusal: None,
        verify,
    })
}
