//! Fix plans (eks-domain.md §8.3, §8.4): from a finding and the object as the API server
//! returns it, the exact write kockpit would make, its precondition, diff, risk, blast radius,
//! ownership warnings, undo and success condition. Pure: the executor, confirmation and
//! verification loop live outside `domain` and work from these values.

pub mod apply;
pub mod batch;
pub mod context;
pub mod diff;
pub mod export;
pub mod ownership;
pub mod plan;
pub mod session;
pub mod verify;

mod dns;
mod flows;
mod gateways;
mod nodes;
pub(crate) mod object;
pub use object::{cpu_cores, memory_mib};
mod rightsizing;
mod spend;

#[cfg(test)]
mod catalogue_tests;
#[cfg(test)]
mod corefile_props;
#[cfg(test)]
pub(crate) mod fixtures;

use std::time::Duration;

use serde_json::Value;

use crate::domain::finding::{Finding, FixKind};

pub use apply::{ApplyError, apply_to};
pub use context::PlanContext;
pub use plan::{
    Confirmation, FieldChange, FixPlan, Inverse, JsonTest, Operation, PatchType, Precondition,
    Risk, Target, Verification, VerifyCondition,
};
pub use verify::{Verdict, evaluate};

/// Why no plan could be made at all. A plan whose hard precondition fails is not an error:
/// it comes back with `refusal` set, so the user sees why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("finding {0} offers no fix")]
    NoFix(String),
    #[error("the object given is {found}, but the finding is about {expected}")]
    WrongObject { expected: String, found: String },
    #[error("the object has no {0}")]
    MissingField(String),
    #[error("the cockpit has no {0} to plan this fix with")]
    MissingContext(&'static str),
    #[error("the planned patch does not apply to the object: {0}")]
    Inconsistent(#[from] ApplyError),
}

/// The plan for the fix `finding` recommends, on `object` (the finding's object as the API
/// server returns it; for the fixes that create an object, the route or workload the new
/// object is for).
pub fn plan(
    finding: &Finding,
    object: &Value,
    context: &PlanContext,
) -> Result<FixPlan, PlanError> {
    let kind = finding
        .fix
        .ok_or_else(|| PlanError::NoFix(finding.id.clone()))?;
    object::check_matches(finding, object)?;
    let draft = match kind {
        FixKind::DnsCacheProfile => dns::cache_profile(object, context)?,
        FixKind::DnsScaleReplicas => dns::scale_replicas(object, context)?,
        FixKind::DnsSpreadReplicas => dns::spread_replicas(object, context)?,
        FixKind::DnsRaiseMemoryLimit => dns::raise_memory_limit(object, context)?,
        FixKind::DnsLowerNdots => dns::lower_ndots(object, context)?,
        FixKind::GatewayCreateReferenceGrant => gateways::reference_grant(object, context)?,
        FixKind::GatewayRollbackCanary => gateways::rollback_canary(object, context)?,
        FixKind::FlowsTopologyAwareRouting => flows::topology_aware_routing(object, context)?,
        FixKind::NodesFreezeDisruption => nodes::freeze_disruption(object, context)?,
        FixKind::NodesConsolidationPolicy => nodes::consolidation_policy(object, context)?,
        FixKind::NodesRaiseLimit => nodes::raise_limit(object, context)?,
        FixKind::RightsizeRequests => rightsizing::apply_requests(object, context)?,
        FixKind::RightsizeRemoveCpuLimit => rightsizing::remove_cpu_limit(object, context)?,
        FixKind::RightsizeCreateVpa => rightsizing::create_vpa(object, context)?,
        FixKind::SpendCostLabels => spend::cost_labels(object, context)?,
    };
    finish(finding, kind, object, context, draft)
}

/// A plan before the parts every fix shares (id, diff, confirmation, ownership) are added.
pub(crate) struct Draft {
    pub target: Target,
    pub operation: Operation,
    pub precondition: Precondition,
    pub inverse: Option<Inverse>,
    pub risk: Risk,
    pub blast_radius: String,
    pub warnings: Vec<String>,
    pub refusal: Option<String>,
    pub verify: Verification,
}

impl Draft {
    /// A refused plan: nothing to apply, only the reason to show.
    pub fn refused(target: Target, risk: Risk, reason: String, verify: Verification) -> Self {
        Draft {
            target,
            operation: Operation::Patch {
                patch_type: PatchType::Merge,
                body: Value::Object(Default::default()),
            },
            precondition: Precondition::MustNotExist,
            inverse: None,
            risk,
            blast_radius: "nothing: the fix is refused".into(),
            warnings: Vec::new(),
            refusal: Some(reason),
            verify,
        }
    }
}

pub(crate) fn verification(
    condition: VerifyCondition,
    within: Duration,
    before: Vec<(&str, String)>,
) -> Verification {
    Verification {
        condition,
        within,
        before: before
            .into_iter()
            .map(|(label, value)| (label.to_string(), value))
            .collect(),
    }
}

fn finish(
    finding: &Finding,
    kind: FixKind,
    object: &Value,
    context: &PlanContext,
    mut draft: Draft,
) -> Result<FixPlan, PlanError> {
    let diff = if draft.refusal.is_some() {
        Vec::new()
    } else {
        let before = match draft.operation {
            Operation::Create { .. } => Value::Null,
            _ => object.clone(),
        };
        let after = apply_to(&before, &draft.operation)?;
        diff::field_changes(&before, &after)
    };
    if draft.refusal.is_none() && diff.is_empty() {
        draft.refusal = Some(format!(
            "nothing to change: {} already has these values",
            draft.target.describe()
        ));
        draft.inverse = None;
    }
    if !matches!(draft.operation, Operation::Create { .. }) {
        let mut owners = ownership::warnings(object, kind, context);
        owners.append(&mut draft.warnings);
        draft.warnings = owners;
    }
    Ok(FixPlan {
        id: format!("{}#{}", finding.id, kind.slug()),
        kind,
        confirmation: Confirmation::for_risk(draft.risk, &draft.target.name),
        target: draft.target,
        operation: draft.operation,
        precondition: draft.precondition,
        inverse: draft.inverse,
        diff,
        risk: draft.risk,
        blast_radius: draft.blast_radius,
        warnings: draft.warnings,
        refusal: draft.refusal,
        verify: draft.verify,
    })
}

/// The object a finding's fix is planned on, as an API target (read with a GET before
/// planning). For the fixes that create an object, it is the route or workload the new
/// object is for.
pub fn finding_target(finding: &Finding) -> Target {
    let object = &finding.object;
    object::target_for(
        &Value::Null,
        &object.kind,
        object.namespace.as_deref(),
        &object.name,
    )
}
