//! East-West fix (§8.4 F-EW-1): topology-aware routing on a Service, refused when a zone has
//! no ready endpoints (its callers would lose the service) or traffic is already node-local.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::PlanContext;
use super::object::{guarded_patch, own_target, str_at};
use super::plan::{PatchType, Risk, VerifyCondition};
use super::{Draft, PlanError, verification};
use crate::domain::flows::amount_in;

pub const TOPOLOGY_MODE_ANNOTATION: &str = "service.kubernetes.io/topology-mode";
/// `spec.trafficDistribution` is GA from Kubernetes 1.31 (§3.4 E1).
const TRAFFIC_DISTRIBUTION_MINOR: u32 = 31;
/// The reference's check: within 60 s every endpoint has its hints.
const HINTS_WITHIN: Duration = Duration::from_secs(60);
/// The doc's minimum of ready endpoints per zone for hints to be safe.
const ENDPOINTS_PER_ZONE: u32 = 2;

pub fn topology_aware_routing(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let namespace = target.namespace.clone().unwrap_or_default();
    let mut before = Vec::new();
    if let Some(now) = &context.service_cross_zone {
        before.push(("cross-zone traffic", amount_in(now.unit, now.per_sec)));
    }
    // A measured fall is waited for as long as the source takes to show it; an estimate
    // (zones from pod placement) would only repeat the new routing back, so hints decide.
    let measured = context
        .service_cross_zone
        .as_ref()
        .filter(|now| now.measured && now.per_sec > 0.0);
    let within = HINTS_WITHIN + measured.map_or(Duration::ZERO, |now| now.window);
    let verify = verification(
        VerifyCondition::ZoneHintsPresent {
            namespace,
            name: target.name.clone(),
            cross_zone_before: measured.map(|now| now.per_sec),
        },
        within,
        before,
    );
    let service = context.service.as_ref().ok_or(PlanError::MissingContext(
        "endpoints per zone of the Service",
    ))?;
    if str_at(object, "/spec/internalTrafficPolicy") == Some("Local") {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            "internalTrafficPolicy is Local: traffic already stays on the node".into(),
            verify,
        ));
    }
    let count_in = |zone: &str| {
        service
            .ready_endpoints_by_zone
            .iter()
            .filter(|z| z.zone == zone)
            .map(|z| z.count)
            .sum::<u32>()
    };
    let empty: Vec<&str> = context
        .zones
        .iter()
        .map(String::as_str)
        .filter(|zone| count_in(zone) == 0)
        .chain(
            service
                .ready_endpoints_by_zone
                .iter()
                .filter(|z| z.count == 0 && !context.zones.contains(&z.zone))
                .map(|z| z.zone.as_str()),
        )
        .collect();
    if !empty.is_empty() {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!(
                "zone {} has no ready endpoints: its callers would depend on hints that cannot be honoured; spread the workload across zones first",
                empty.join(", ")
            ),
            verify,
        ));
    }
    let total: u32 = service
        .ready_endpoints_by_zone
        .iter()
        .map(|z| z.count)
        .sum();
    let mut warnings = Vec::new();
    let thin: Vec<String> = service
        .ready_endpoints_by_zone
        .iter()
        .filter(|z| z.count < ENDPOINTS_PER_ZONE)
        .map(|z| format!("{} ({})", z.zone, z.count))
        .collect();
    if !thin.is_empty() {
        warnings.push(format!(
            "fewer than {ENDPOINTS_PER_ZONE} ready endpoints in {}: one pod restart there overloads the rest",
            thin.join(", ")
        ));
    }
    if total > 0
        && let Some(heavy) = service.ready_endpoints_by_zone.iter().find(|z| {
            f64::from(z.count) / f64::from(total) >= 0.5
                && service.ready_endpoints_by_zone.len() > 1
        })
    {
        warnings.push(format!(
            "zone {} holds {} of {total} endpoints: the other zones' endpoints carry their callers alone",
            heavy.zone, heavy.count
        ));
    }
    let prefer_close = context
        .kubernetes_minor
        .is_some_and(|minor| minor >= TRAFFIC_DISTRIBUTION_MINOR);
    let changes = if prefer_close {
        json!({"spec": {"trafficDistribution": "PreferClose"}})
    } else {
        json!({"metadata": {"annotations": {TOPOLOGY_MODE_ANNOTATION: "Auto"}}})
    };
    let (operation, precondition, inverse) = guarded_patch(object, PatchType::Merge, changes)?;
    Ok(Draft {
        blast_radius: format!(
            "{}: callers in {} zones switch to same-zone endpoints immediately ({total} endpoints)",
            target.describe(),
            service.ready_endpoints_by_zone.len()
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
