//! Gateway analysis: route status decoded into plain reasons, backend readiness, 5xx.
//! Routes carry `Accepted` and `ResolvedRefs` per parent; only Gateways (and listeners)
//! carry `Programmed` (eks-domain.md §7.4, errata 1).

use serde::{Deserialize, Serialize};

use super::finding::{Finding, FixKind, Severity};
use super::format::{percent, rate};
use super::model::{
    BackendRef, Condition, ConditionStatus, GatewaySnapshot, GatewayStatus, ObjectRef, Pane,
    RouteParent, RouteStatus,
};
use super::rules::{above, band_text, crossed, finding};
use super::sanitize::sanitize;
use super::thresholds::Thresholds;

/// Ready pods behind the backends that receive traffic (weight above zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: u32,
    pub total: u32,
}

impl std::fmt::Display for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ready, self.total)
    }
}

/// The backends that receive traffic: those with a weight above zero, or all of them when
/// every weight is zero (the controller then answers 500 for the whole route anyway).
fn serving_backends(route: &RouteStatus) -> Vec<&BackendRef> {
    let weighted: Vec<&BackendRef> = route.backends.iter().filter(|b| b.weight > 0).collect();
    if weighted.is_empty() {
        route.backends.iter().collect()
    } else {
        weighted
    }
}

pub fn ready_backends(route: &RouteStatus) -> Readiness {
    serving_backends(route)
        .iter()
        .fold(Readiness::default(), |acc, b| Readiness {
            ready: acc.ready
                + if b.service_exists {
                    b.ready_endpoints
                } else {
                    0
                },
            total: acc.total + b.total_endpoints,
        })
}

/// The route's status is about an older spec than the one stored.
fn is_stale(route: &RouteStatus) -> bool {
    route
        .observed_generation
        .is_some_and(|observed| observed < route.generation)
}

fn is_false(condition: &Option<Condition>) -> bool {
    condition
        .as_ref()
        .is_some_and(|c| c.status == ConditionStatus::False)
}

fn parent_name(parent: &RouteParent) -> String {
    format!("{} {}/{}", parent.kind, parent.namespace, parent.name)
}

fn with_message(text: String, condition: &Condition) -> String {
    let message = sanitize(condition.message.trim());
    if message.is_empty() {
        text
    } else {
        format!("{text}: {message}")
    }
}

/// A backend in another namespace than the route's: the one a ReferenceGrant must allow.
fn cross_namespace_backend(route: &RouteStatus) -> Option<&BackendRef> {
    route
        .backends
        .iter()
        .find(|b| b.namespace != route.namespace)
}

/// What the controller said, in words an on-call engineer can act on; "OK" when nothing
/// stands between the route and its traffic.
pub fn route_reason(route: &RouteStatus) -> String {
    for parent in &route.parents {
        if let Some(condition) = parent
            .accepted
            .as_ref()
            .filter(|c| c.status == ConditionStatus::False)
        {
            return not_accepted_reason(route, parent, condition);
        }
    }
    for parent in &route.parents {
        if let Some(condition) = parent
            .resolved_refs
            .as_ref()
            .filter(|c| c.status == ConditionStatus::False)
        {
            return unresolved_reason(route, condition);
        }
    }
    if is_stale(route) {
        return format!(
            "controller has not seen generation {} yet (status is for generation {})",
            route.generation,
            route.observed_generation.unwrap_or_default()
        );
    }
    if let Some(pending) = pending_reason(route) {
        return pending;
    }
    let readiness = ready_backends(route);
    if !route.backends.is_empty() && readiness.ready == 0 {
        return format!(
            "0 of {} backend pods ready: requests get 503",
            readiness.total
        );
    }
    if let Some((canary, share)) = unhealthy_canary(route) {
        return format!(
            "backend Service {}/{} has no ready pods: its {} of requests fail",
            canary.namespace,
            canary.name,
            percent(share)
        );
    }
    "OK".to_string()
}

fn not_accepted_reason(route: &RouteStatus, parent: &RouteParent, condition: &Condition) -> String {
    let text = match condition.reason.as_str() {
        "NotAllowedByListeners" => format!(
            "listener does not allow routes from namespace {} (NotAllowedByListeners)",
            route.namespace
        ),
        "NoMatchingListenerHostname" => format!(
            "no listener of {} matches hostname {} (NoMatchingListenerHostname)",
            parent_name(parent),
            if route.hostnames.is_empty() {
                "(none)".to_string()
            } else {
                route.hostnames.join(", ")
            }
        ),
        "NoMatchingParent" => match &parent.section {
            Some(section) => format!(
                "{} has no listener named {section} (NoMatchingParent)",
                parent_name(parent)
            ),
            None => format!(
                "{} has no listener matching this route (NoMatchingParent)",
                parent_name(parent)
            ),
        },
        "UnsupportedValue" => {
            "the controller does not support a value in this route (UnsupportedValue)".to_string()
        }
        "Pending" => format!(
            "{} has not processed the route yet (Pending)",
            parent_name(parent)
        ),
        "RefNotPermitted" => return unresolved_reason(route, condition),
        other => format!("not accepted by {} ({other})", parent_name(parent)),
    };
    with_message(text, condition)
}

fn unresolved_reason(route: &RouteStatus, condition: &Condition) -> String {
    match condition.reason.as_str() {
        "RefNotPermitted" => match cross_namespace_backend(route) {
            Some(backend) => format!(
                "backend Service {}/{} in another namespace needs a ReferenceGrant (RefNotPermitted)",
                backend.namespace, backend.name
            ),
            None => "a reference to another namespace needs a ReferenceGrant (RefNotPermitted)"
                .to_string(),
        },
        "BackendNotFound" => match route.backends.iter().find(|b| !b.service_exists) {
            Some(backend) => format!(
                "backend Service {}/{} not found (BackendNotFound)",
                backend.namespace, backend.name
            ),
            None => "backend Service not found (BackendNotFound)".to_string(),
        },
        "InvalidKind" => with_message(
            "a backendRef points at a kind the controller cannot route to (InvalidKind)".into(),
            condition,
        ),
        "UnsupportedProtocol" => with_message(
            "a backend uses a protocol the controller does not support (UnsupportedProtocol)"
                .into(),
            condition,
        ),
        other => with_message(format!("references not resolved ({other})"), condition),
    }
}

/// No controller has said anything (yet) about the route.
fn pending_reason(route: &RouteStatus) -> Option<String> {
    if route.parents.is_empty() {
        return Some(
            "no parent has reported on this route: no Gateway or controller picked it up".into(),
        );
    }
    let parent = route.parents.iter().find(|p| {
        p.accepted
            .as_ref()
            .is_none_or(|c| c.status == ConditionStatus::Unknown)
    })?;
    Some(match &parent.accepted {
        Some(condition) if !condition.reason.is_empty() => format!(
            "{} has not processed the route yet ({})",
            parent_name(parent),
            condition.reason
        ),
        _ => format!(
            "{} has not reported on the route: is its GatewayClass handled by a running controller?",
            parent_name(parent)
        ),
    })
}

/// The backend with the largest weight (the first on a tie) is the stable one; the others
/// are canaries.
fn primary_backend(route: &RouteStatus) -> Option<&BackendRef> {
    route
        .backends
        .iter()
        .filter(|b| b.weight > 0)
        .reduce(|best, b| if b.weight > best.weight { b } else { best })
}

fn is_healthy(backend: &BackendRef) -> bool {
    backend.service_exists && backend.ready_endpoints > 0
}

fn weight_share(route: &RouteStatus, backend: &BackendRef) -> f64 {
    let total: u32 = route.backends.iter().map(|b| b.weight).sum();
    if total == 0 {
        0.0
    } else {
        f64::from(backend.weight) / f64::from(total)
    }
}

/// A canary (non-primary weighted backend) without ready pods, while the primary has some.
fn unhealthy_canary(route: &RouteStatus) -> Option<(&BackendRef, f64)> {
    let primary = primary_backend(route)?;
    if !is_healthy(primary) {
        return None;
    }
    route
        .backends
        .iter()
        .filter(|b| b.weight > 0 && !std::ptr::eq(*b, primary))
        .find(|b| !is_healthy(b))
        .map(|b| (b, weight_share(route, b)))
}

fn route_ref(route: &RouteStatus) -> ObjectRef {
    ObjectRef::namespaced(route.kind.as_str(), &route.namespace, &route.name)
}

pub fn analyze(gateways: &GatewaySnapshot, t: &Thresholds) -> Vec<Finding> {
    let mut found = Vec::new();
    for gateway in &gateways.gateways {
        gateway_findings(gateway, t, &mut found);
    }
    for route in &gateways.routes {
        route_findings(route, t, &mut found);
    }
    found
}

fn gateway_findings(gateway: &GatewayStatus, t: &Thresholds, found: &mut Vec<Finding>) {
    let name = format!("{}/{}", gateway.namespace, gateway.name);
    let object = ObjectRef::namespaced("Gateway", &gateway.namespace, &gateway.name);
    let address = gateway
        .address
        .clone()
        .unwrap_or_else(|| "none".to_string());
    if let Some(condition) = gateway
        .accepted
        .as_ref()
        .filter(|c| c.status == ConditionStatus::False)
    {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/gateway-not-accepted/{name}"),
                Severity::Critical,
                with_message(
                    format!(
                        "Gateway {name} not accepted by GatewayClass {} ({})",
                        gateway.class, condition.reason
                    ),
                    condition,
                ),
                object.clone(),
            )
            .evidence("Accepted", "False", condition.reason.clone())
            .build(),
        );
    } else if let Some(condition) = gateway
        .programmed
        .as_ref()
        .filter(|c| c.status == ConditionStatus::False)
    {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/gateway-not-programmed/{name}"),
                Severity::Critical,
                with_message(
                    format!(
                        "Gateway {name} not programmed ({}): its routes carry no traffic",
                        condition.reason
                    ),
                    condition,
                ),
                object.clone(),
            )
            .evidence("Programmed", "False", condition.reason.clone())
            .evidence("address", address.clone(), "")
            .build(),
        );
    } else if gateway.address.is_none() {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/gateway-no-address/{name}"),
                Severity::Warning,
                format!(
                    "Gateway {name} has no address: the load balancer is not provisioned (check quota, subnet IPs, annotations)"
                ),
                object.clone(),
            )
            .evidence("address", "none", "a load balancer hostname or IP")
            .build(),
        );
    }
    if let Some(ratio) = gateway.error_5xx_ratio
        && let Some(severity) = above(ratio, t.gateway_5xx_ratio)
    {
        let mut draft = finding(
            Pane::Gateways,
            format!("gateways/gateway-5xx/{name}"),
            severity,
            format!(
                "Gateway {name} returns {} 5xx ({})",
                percent(ratio),
                crossed(severity, t.gateway_5xx_ratio, true, percent)
            ),
            object,
        )
        .evidence(
            "5xx share",
            percent(ratio),
            band_text(t.gateway_5xx_ratio, true, percent),
        );
        if let Some(rps) = gateway.requests_per_sec {
            draft = draft
                .evidence("requests", format!("{} req/s", rate(rps)), "")
                .requests(Some(rps * ratio));
        }
        found.push(draft.build());
    }
}

fn route_findings(route: &RouteStatus, t: &Thresholds, found: &mut Vec<Finding>) {
    let kind = route.kind.as_str();
    let name = format!("{}/{}", route.namespace, route.name);
    let object = route_ref(route);
    let reason = route_reason(route);
    let readiness = ready_backends(route);

    // RefNotPermitted can arrive under either condition depending on the controller.
    let ref_not_permitted = route.parents.iter().any(|p| {
        [&p.accepted, &p.resolved_refs].iter().any(|c| {
            c.as_ref().is_some_and(|c| {
                c.status == ConditionStatus::False && c.reason == "RefNotPermitted"
            })
        })
    });
    let not_accepted = route.parents.iter().any(|p| is_false(&p.accepted));
    let unresolved = route.parents.iter().any(|p| is_false(&p.resolved_refs));

    if ref_not_permitted {
        let mut draft = finding(
            Pane::Gateways,
            format!("gateways/ref-not-permitted/{name}"),
            Severity::Critical,
            format!("{kind} {name}: {reason}"),
            object.clone(),
        );
        if let Some(backend) = cross_namespace_backend(route) {
            draft = draft
                .evidence(
                    "backend",
                    format!("Service {}/{}", backend.namespace, backend.name),
                    format!("in another namespace than the route ({})", route.namespace),
                )
                .evidence(
                    "grant to create",
                    format!(
                        "ReferenceGrant in {} from {kind} in {} to Service {}",
                        backend.namespace, route.namespace, backend.name
                    ),
                    "a security boundary: confirm who asked for it",
                );
        }
        found.push(
            draft
                .requests(route.requests_per_sec)
                .fix(FixKind::GatewayCreateReferenceGrant)
                .build(),
        );
    } else if not_accepted {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/route-not-accepted/{name}"),
                Severity::Critical,
                format!("{kind} {name} not accepted: {reason}"),
                object.clone(),
            )
            .evidence("Accepted", "False", "the Gateway ignores this route")
            .requests(route.requests_per_sec)
            .build(),
        );
    } else if unresolved {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/refs-unresolved/{name}"),
                Severity::Critical,
                format!("{kind} {name}: {reason}"),
                object.clone(),
            )
            .evidence(
                "ResolvedRefs",
                "False",
                "requests to the missing backend fail",
            )
            .requests(route.requests_per_sec)
            .build(),
        );
    } else if is_stale(route) {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/route-stale/{name}"),
                Severity::Warning,
                format!("{kind} {name}: {reason}"),
                object.clone(),
            )
            .evidence(
                "generation",
                route.generation.to_string(),
                format!("observed {}", route.observed_generation.unwrap_or_default()),
            )
            .build(),
        );
    } else if let Some(pending) = pending_reason(route) {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/route-pending/{name}"),
                Severity::Warning,
                format!("{kind} {name}: {pending}"),
                object.clone(),
            )
            .build(),
        );
    }

    // Backend health matters only once the references resolve.
    if unresolved || ref_not_permitted {
        return;
    }
    if !route.backends.is_empty() && readiness.ready == 0 {
        found.push(
            finding(
                Pane::Gateways,
                format!("gateways/no-ready-endpoints/{name}"),
                Severity::Critical,
                format!(
                    "{kind} {name}: 0 of {} backend pods ready: requests get 503",
                    readiness.total
                ),
                object,
            )
            .evidence("ready backend pods", readiness.to_string(), "at least 1")
            .requests(route.requests_per_sec)
            .build(),
        );
        return;
    }
    let ratio = route.error_5xx_ratio.filter(|r| r.is_finite());
    let severity_5xx = ratio.and_then(|r| above(r, t.gateway_5xx_ratio));
    let primary = primary_backend(route);
    let canaries = route.backends.iter().filter(|b| b.weight > 0).count() > 1;

    if let Some((canary, share)) = unhealthy_canary(route) {
        let mut draft = finding(
            Pane::Gateways,
            format!("gateways/canary-unhealthy/{name}"),
            Severity::Critical,
            format!(
                "{kind} {name} sends {} of requests to canary {}/{} with no ready pods: roll the canary back",
                percent(share),
                canary.namespace,
                canary.name
            ),
            object,
        )
        .evidence(
            "canary",
            format!("{}/{} weight {}", canary.namespace, canary.name, canary.weight),
            format!("{}/{} ready pods", canary.ready_endpoints, canary.total_endpoints),
        );
        if let Some(primary) = primary {
            draft = draft.evidence(
                "stable backend",
                format!(
                    "{}/{} weight {}",
                    primary.namespace, primary.name, primary.weight
                ),
                format!(
                    "{}/{} ready pods",
                    primary.ready_endpoints, primary.total_endpoints
                ),
            );
        }
        if let Some(ratio) = ratio {
            draft = draft.evidence(
                "5xx share",
                percent(ratio),
                band_text(t.gateway_5xx_ratio, true, percent),
            );
        }
        found.push(
            draft
                .requests(route.requests_per_sec.map(|rps| rps * share))
                .fix(FixKind::GatewayRollbackCanary)
                .build(),
        );
        return;
    }

    let (Some(severity), Some(ratio)) = (severity_5xx, ratio) else {
        return;
    };
    let rollback = canaries && primary.is_some_and(is_healthy);
    let canary_text = if rollback {
        let names: Vec<String> = route
            .backends
            .iter()
            .filter(|b| b.weight > 0 && primary.is_some_and(|p| !std::ptr::eq(*b, p)))
            .map(|b| format!("{} ({})", b.name, percent(weight_share(route, b))))
            .collect();
        format!(
            " while canary {} takes traffic: roll it back",
            names.join(", ")
        )
    } else {
        String::new()
    };
    let mut draft = finding(
        Pane::Gateways,
        format!("gateways/route-5xx/{name}"),
        severity,
        format!(
            "{kind} {name} returns {} 5xx ({}){canary_text}",
            percent(ratio),
            crossed(severity, t.gateway_5xx_ratio, true, percent)
        ),
        object,
    )
    .evidence(
        "5xx share",
        percent(ratio),
        band_text(t.gateway_5xx_ratio, true, percent),
    )
    .evidence("ready backend pods", readiness.to_string(), "")
    .requests(route.requests_per_sec.map(|rps| rps * ratio));
    if let Some(rps) = route.requests_per_sec {
        draft = draft.evidence("requests", format!("{} req/s", rate(rps)), "");
    }
    found.push(
        draft
            .maybe_fix(rollback.then_some(FixKind::GatewayRollbackCanary))
            .build(),
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::model::RouteKind;
    use chrono::{TimeZone, Utc};

    fn condition(status: ConditionStatus, reason: &str) -> Option<Condition> {
        Some(Condition {
            status,
            reason: reason.into(),
            message: String::new(),
        })
    }

    fn ok(reason: &str) -> Option<Condition> {
        condition(ConditionStatus::True, reason)
    }

    fn bad(reason: &str) -> Option<Condition> {
        condition(ConditionStatus::False, reason)
    }

    fn backend(namespace: &str, name: &str, weight: u32, ready: u32, total: u32) -> BackendRef {
        BackendRef {
            namespace: namespace.into(),
            name: name.into(),
            port: Some(8080),
            weight,
            service_exists: true,
            ready_endpoints: ready,
            total_endpoints: total,
        }
    }

    pub(crate) fn route() -> RouteStatus {
        RouteStatus {
            namespace: "shop".into(),
            name: "checkout".into(),
            kind: RouteKind::Http,
            hostnames: vec!["shop.example.com".into()],
            parents: vec![RouteParent {
                kind: "Gateway".into(),
                namespace: "infra".into(),
                name: "public".into(),
                section: Some("https".into()),
                accepted: ok("Accepted"),
                resolved_refs: ok("ResolvedRefs"),
            }],
            backends: vec![backend("shop", "checkout", 1, 3, 3)],
            generation: 4,
            observed_generation: Some(4),
            requests_per_sec: Some(120.0),
            error_5xx_ratio: Some(0.001),
        }
    }

    fn gateway() -> GatewayStatus {
        GatewayStatus {
            namespace: "infra".into(),
            name: "public".into(),
            class: "amazon-alb".into(),
            address: Some("k8s-public.elb.amazonaws.com".into()),
            accepted: ok("Accepted"),
            programmed: ok("Programmed"),
            attached_routes: 1,
            requests_per_sec: Some(120.0),
            error_5xx_ratio: Some(0.0),
            load_balancer: None,
        }
    }

    pub(crate) fn snapshot(routes: Vec<RouteStatus>) -> GatewaySnapshot {
        GatewaySnapshot {
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            gateways: vec![gateway()],
            routes,
        }
    }

    fn run(routes: Vec<RouteStatus>) -> Vec<Finding> {
        analyze(&snapshot(routes), &Thresholds::default())
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
    fn a_healthy_route_is_ok_and_quiet() {
        assert_eq!(route_reason(&route()), "OK");
        assert_eq!(ready_backends(&route()), Readiness { ready: 3, total: 3 });
        assert!(run(vec![route()]).is_empty());
    }

    #[test]
    fn reasons_read_like_advice() {
        let cases = [
            (
                "NotAllowedByListeners",
                "listener does not allow routes from namespace shop (NotAllowedByListeners)",
            ),
            (
                "NoMatchingListenerHostname",
                "no listener of Gateway infra/public matches hostname shop.example.com (NoMatchingListenerHostname)",
            ),
            (
                "NoMatchingParent",
                "Gateway infra/public has no listener named https (NoMatchingParent)",
            ),
            (
                "UnsupportedValue",
                "the controller does not support a value in this route (UnsupportedValue)",
            ),
            (
                "Pending",
                "Gateway infra/public has not processed the route yet (Pending)",
            ),
            (
                "Conflicted",
                "not accepted by Gateway infra/public (Conflicted)",
            ),
        ];
        for (reason, expected) in cases {
            let mut r = route();
            r.parents[0].accepted = bad(reason);
            assert_eq!(route_reason(&r), expected);
        }

        let mut cross = route();
        cross.backends = vec![backend("payments", "ledger", 1, 2, 2)];
        cross.parents[0].resolved_refs = bad("RefNotPermitted");
        assert_eq!(
            route_reason(&cross),
            "backend Service payments/ledger in another namespace needs a ReferenceGrant (RefNotPermitted)"
        );

        let mut missing = route();
        missing.backends[0].service_exists = false;
        missing.parents[0].resolved_refs = bad("BackendNotFound");
        assert_eq!(
            route_reason(&missing),
            "backend Service shop/checkout not found (BackendNotFound)"
        );

        let mut kind = route();
        kind.parents[0].resolved_refs = Some(Condition {
            status: ConditionStatus::False,
            reason: "InvalidKind".into(),
            message: "kind ConfigMap\u{1b}[31m".into(),
        });
        assert_eq!(
            route_reason(&kind),
            "a backendRef points at a kind the controller cannot route to (InvalidKind): kind ConfigMap"
        );

        let mut protocol = route();
        protocol.parents[0].resolved_refs = bad("UnsupportedProtocol");
        assert!(route_reason(&protocol).contains("(UnsupportedProtocol)"));

        let mut stale = route();
        stale.generation = 7;
        stale.observed_generation = Some(6);
        assert_eq!(
            route_reason(&stale),
            "controller has not seen generation 7 yet (status is for generation 6)"
        );

        let mut down = route();
        down.backends[0].ready_endpoints = 0;
        assert_eq!(
            route_reason(&down),
            "0 of 3 backend pods ready: requests get 503"
        );

        let mut silent = route();
        silent.parents[0].accepted = None;
        assert!(route_reason(&silent).contains("has not reported"));
    }

    #[test]
    fn ref_not_permitted_offers_a_reference_grant() {
        let mut r = route();
        r.backends = vec![backend("payments", "ledger", 1, 2, 2)];
        r.parents[0].resolved_refs = bad("RefNotPermitted");
        let found = run(vec![r]);
        let grant = get(&found, "gateways/ref-not-permitted/shop/checkout");
        assert_eq!(grant.severity, Severity::Critical);
        assert_eq!(grant.fix, Some(FixKind::GatewayCreateReferenceGrant));
        assert_eq!(
            grant.object,
            ObjectRef::namespaced("HTTPRoute", "shop", "checkout")
        );
        assert_eq!(found.len(), 1, "{:?}", ids(&found));
    }

    #[test]
    fn a_rejected_route_is_critical_without_a_fix() {
        let mut r = route();
        r.parents[0].accepted = bad("NotAllowedByListeners");
        let found = run(vec![r]);
        let rejected = get(&found, "gateways/route-not-accepted/shop/checkout");
        assert_eq!(rejected.severity, Severity::Critical);
        assert_eq!(rejected.fix, None);
        assert!(
            rejected
                .summary
                .starts_with("HTTPRoute shop/checkout not accepted: listener")
        );
    }

    #[test]
    fn missing_backends_and_stale_or_silent_routes() {
        let mut missing = route();
        missing.backends[0].service_exists = false;
        missing.parents[0].resolved_refs = bad("BackendNotFound");
        let found = run(vec![missing]);
        assert!(ids(&found).contains(&"gateways/refs-unresolved/shop/checkout"));
        assert!(!ids(&found).contains(&"gateways/no-ready-endpoints/shop/checkout"));

        let mut stale = route();
        stale.generation = 7;
        stale.observed_generation = Some(6);
        assert_eq!(
            get(&run(vec![stale]), "gateways/route-stale/shop/checkout").severity,
            Severity::Warning
        );

        let mut silent = route();
        silent.parents[0].accepted = condition(ConditionStatus::Unknown, "Pending");
        assert!(ids(&run(vec![silent])).contains(&"gateways/route-pending/shop/checkout"));
    }

    #[test]
    fn zero_ready_endpoints_means_503() {
        let mut r = route();
        r.backends[0].ready_endpoints = 0;
        let found = run(vec![r]);
        let down = get(&found, "gateways/no-ready-endpoints/shop/checkout");
        assert_eq!(down.severity, Severity::Critical);
        assert!(down.summary.contains("requests get 503"));
    }

    #[test]
    fn an_unhealthy_canary_is_rolled_back() {
        let mut r = route();
        r.backends = vec![
            backend("shop", "checkout", 90, 3, 3),
            backend("shop", "checkout-v2", 10, 0, 2),
        ];
        let found = run(vec![r.clone()]);
        let canary = get(&found, "gateways/canary-unhealthy/shop/checkout");
        assert_eq!(canary.fix, Some(FixKind::GatewayRollbackCanary));
        assert!(
            canary
                .summary
                .contains("10% of requests to canary shop/checkout-v2"),
            "{}",
            canary.summary
        );
        assert!(route_reason(&r).contains("checkout-v2 has no ready pods"));

        // A canary already at weight 0 is not a problem.
        r.backends[1].weight = 0;
        assert!(run(vec![r]).is_empty());
    }

    #[test]
    fn high_5xx_on_a_weighted_route_offers_rollback() {
        let mut r = route();
        r.error_5xx_ratio = Some(0.07);
        let plain = run(vec![r.clone()]);
        let five = get(&plain, "gateways/route-5xx/shop/checkout");
        assert_eq!(five.severity, Severity::Critical);
        assert_eq!(five.fix, None);
        assert_eq!(
            five.summary,
            "HTTPRoute shop/checkout returns 7% 5xx (critical above 5%)"
        );

        r.backends = vec![
            backend("shop", "checkout", 80, 3, 3),
            backend("shop", "checkout-v2", 20, 2, 2),
        ];
        r.error_5xx_ratio = Some(0.02);
        let weighted = run(vec![r.clone()]);
        let five = get(&weighted, "gateways/route-5xx/shop/checkout");
        assert_eq!(five.severity, Severity::Warning);
        assert_eq!(five.fix, Some(FixKind::GatewayRollbackCanary));

        r.error_5xx_ratio = Some(0.005);
        assert!(run(vec![r]).is_empty());
    }

    #[test]
    fn gateways_without_programming_or_address() {
        let mut snapshot = snapshot(vec![]);
        snapshot.gateways[0].programmed = bad("AddressNotAssigned");
        snapshot.gateways[0].address = None;
        let found = analyze(&snapshot, &Thresholds::default());
        assert_eq!(
            get(&found, "gateways/gateway-not-programmed/infra/public").severity,
            Severity::Critical
        );
        assert!(!ids(&found).contains(&"gateways/gateway-no-address/infra/public"));

        snapshot.gateways[0].programmed = ok("Programmed");
        let found = analyze(&snapshot, &Thresholds::default());
        assert_eq!(
            get(&found, "gateways/gateway-no-address/infra/public").severity,
            Severity::Warning
        );

        snapshot.gateways[0].accepted = bad("InvalidParameters");
        let found = analyze(&snapshot, &Thresholds::default());
        assert!(ids(&found).contains(&"gateways/gateway-not-accepted/infra/public"));

        let mut noisy = self::snapshot(vec![]);
        noisy.gateways[0].error_5xx_ratio = Some(0.02);
        let found = analyze(&noisy, &Thresholds::default());
        assert_eq!(
            get(&found, "gateways/gateway-5xx/infra/public").severity,
            Severity::Warning
        );
    }
}
