//! A small Gateway API controller: computes Gateway and route status conditions from the
//! spec the way a real implementation would, and the traffic each route carries.

use std::collections::BTreeMap;

use super::curves::Curve;
use super::names::load_balancer_address;
use super::rng::{hash_str, mix};
use crate::domain::Timestamp;
use crate::domain::model::{
    BackendRef, Condition, ConditionStatus, GatewaySnapshot, GatewayStatus, RouteParent,
    RouteStatus,
};
use crate::domain::scenario::{AllowedRoutes, GatewaySpec, RouteSpec, Scenario};

/// Ready and total endpoints of a Service, `None` when the Service does not exist.
pub type EndpointLookup<'a> = dyn Fn(&str, &str) -> Option<(u32, u32)> + 'a;

fn condition(ok: bool, reason: &str, message: String) -> Condition {
    Condition {
        status: if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        reason: reason.to_string(),
        message,
    }
}

/// Whether a wildcard-aware listener hostname matches a route hostname.
fn hostname_matches(listener: &str, route: &str) -> bool {
    let matches_suffix = |wildcard: &str, name: &str| {
        wildcard
            .strip_prefix("*.")
            .is_some_and(|suffix| name.ends_with(&format!(".{suffix}")))
    };
    listener == route || matches_suffix(listener, route) || matches_suffix(route, listener)
}

fn listener_allows(
    allowed: AllowedRoutes,
    namespaces: &[String],
    gateway_ns: &str,
    route_ns: &str,
) -> bool {
    match allowed {
        AllowedRoutes::All => true,
        AllowedRoutes::Same => gateway_ns == route_ns,
        AllowedRoutes::Selector => namespaces.iter().any(|ns| ns == route_ns),
    }
}

/// The Accepted condition a Gateway gives a route attaching through `section`.
fn accept(
    gateway: &GatewaySpec,
    name: &str,
    section: Option<&str>,
    route: &RouteSpec,
) -> Condition {
    let listeners: Vec<_> = gateway
        .listeners
        .iter()
        .filter(|l| section.is_none_or(|s| s == l.name))
        .collect();
    if listeners.is_empty() {
        return condition(
            false,
            "NoMatchingParent",
            format!(
                "Gateway {}/{name} has no listener named {}",
                gateway.namespace,
                section.unwrap_or("")
            ),
        );
    }
    let allowing: Vec<_> = listeners
        .iter()
        .filter(|l| {
            listener_allows(
                l.allowed_routes,
                &l.namespaces,
                &gateway.namespace,
                &route.namespace,
            )
        })
        .collect();
    if allowing.is_empty() {
        let names: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        return condition(
            false,
            "NotAllowedByListeners",
            format!(
                "listener {} of Gateway {}/{name} does not allow routes from namespace {}",
                names.join(", "),
                gateway.namespace,
                route.namespace
            ),
        );
    }
    let host_ok = route.hostnames.is_empty()
        || allowing.iter().any(|l| match &l.hostname {
            None => true,
            Some(listener_host) => route
                .hostnames
                .iter()
                .any(|h| hostname_matches(listener_host, h)),
        });
    if !host_ok {
        return condition(
            false,
            "NoMatchingListenerHostname",
            format!(
                "no listener of Gateway {}/{name} matches hostnames {}",
                gateway.namespace,
                route.hostnames.join(", ")
            ),
        );
    }
    condition(true, "Accepted", "Route is accepted".to_string())
}

fn grant_allows(scenario: &Scenario, route: &RouteSpec, target_ns: &str, service: &str) -> bool {
    scenario.reference_grants.values().any(|grant| {
        grant.namespace == target_ns
            && grant.from_namespace == route.namespace
            && grant.from_kinds.contains(&route.kind)
            && (grant.services.is_empty() || grant.services.iter().any(|s| s == service))
    })
}

/// One backend as the controller sees it, and whether requests to it fail.
struct ResolvedBackend {
    reference: BackendRef,
    problem: Option<Condition>,
    failing: bool,
}

fn resolve_backends(
    scenario: &Scenario,
    route: &RouteSpec,
    endpoints: &EndpointLookup<'_>,
) -> Vec<ResolvedBackend> {
    route
        .backends
        .iter()
        .map(|backend| {
            let namespace = backend.namespace.clone().unwrap_or_else(|| route.namespace.clone());
            let found = endpoints(&namespace, &backend.service);
            let (ready, total) = found.unwrap_or((0, 0));
            let problem = if namespace != route.namespace
                && !grant_allows(scenario, route, &namespace, &backend.service)
            {
                Some(condition(
                    false,
                    "RefNotPermitted",
                    format!(
                        "backendRef {namespace}/{} is in another namespace and no ReferenceGrant in {namespace} allows {} from {}",
                        backend.service,
                        route.kind.as_str(),
                        route.namespace
                    ),
                ))
            } else if found.is_none() {
                Some(condition(
                    false,
                    "BackendNotFound",
                    format!("Service {namespace}/{} not found", backend.service),
                ))
            } else {
                None
            };
            ResolvedBackend {
                failing: problem.is_some() || ready == 0,
                problem,
                reference: BackendRef {
                    namespace,
                    name: backend.service.clone(),
                    port: backend.port,
                    weight: backend.weight,
                    service_exists: found.is_some(),
                    ready_endpoints: ready,
                    total_endpoints: total,
                },
            }
        })
        .collect()
}

/// Gateway and route status, with traffic, at one instant.
pub fn snapshot(
    scenario: &Scenario,
    endpoints: &EndpointLookup<'_>,
    at: Timestamp,
    seed: u64,
) -> GatewaySnapshot {
    let mut per_gateway: BTreeMap<(String, String), (u32, f64, f64)> = BTreeMap::new();
    let mut routes = Vec::new();
    for (name, route) in &scenario.routes {
        let backends = resolve_backends(scenario, route, endpoints);
        let resolved_refs = backends
            .iter()
            .find_map(|b| b.problem.clone())
            .unwrap_or_else(|| {
                condition(true, "ResolvedRefs", "All references resolved".to_string())
            });
        let mut parents = Vec::new();
        let mut attached_to = Vec::new();
        for parent in &route.parents {
            let gateway_ns = parent
                .namespace
                .clone()
                .unwrap_or_else(|| route.namespace.clone());
            let gateway = scenario
                .gateways
                .get(&parent.gateway)
                .filter(|g| g.namespace == gateway_ns);
            let accepted = match gateway {
                Some(gateway) => accept(gateway, &parent.gateway, parent.section.as_deref(), route),
                None => condition(
                    false,
                    "NoMatchingParent",
                    format!("Gateway {gateway_ns}/{} not found", parent.gateway),
                ),
            };
            if accepted.is_true() {
                attached_to.push((gateway_ns.clone(), parent.gateway.clone()));
            }
            parents.push(RouteParent {
                kind: "Gateway".to_string(),
                namespace: gateway_ns,
                name: parent.gateway.clone(),
                section: parent.section.clone(),
                accepted: Some(accepted),
                resolved_refs: Some(resolved_refs.clone()),
            });
        }
        let key = mix(seed, hash_str(&format!("route/{}/{name}", route.namespace)));
        let curve = Curve::new(0.35, 0.08, scenario.traffic_peak_hour_utc, key);
        let requests = if attached_to.is_empty() {
            0.0
        } else {
            route.requests_per_sec * curve.load(at)
        };
        let total_weight: u32 = backends.iter().map(|b| b.reference.weight).sum();
        let failing_share = if total_weight == 0 {
            1.0
        } else {
            backends
                .iter()
                .filter(|b| b.failing)
                .map(|b| f64::from(b.reference.weight))
                .sum::<f64>()
                / f64::from(total_weight)
        };
        let error_ratio = if requests > 0.0 {
            (route.base_error_ratio + (1.0 - route.base_error_ratio) * failing_share).min(1.0)
        } else {
            0.0
        };
        for gateway in attached_to {
            let entry = per_gateway.entry(gateway).or_insert((0, 0.0, 0.0));
            entry.0 += 1;
            entry.1 += requests;
            entry.2 += requests * error_ratio;
        }
        routes.push(RouteStatus {
            namespace: route.namespace.clone(),
            name: name.clone(),
            kind: route.kind,
            hostnames: route.hostnames.clone(),
            parents,
            backends: backends.into_iter().map(|b| b.reference).collect(),
            generation: route.generation,
            observed_generation: Some(route.generation),
            requests_per_sec: Some(requests),
            error_5xx_ratio: Some(error_ratio),
        });
    }
    let gateways = scenario
        .gateways
        .iter()
        .map(|(name, gateway)| {
            let (attached, requests, errors) = per_gateway
                .get(&(gateway.namespace.clone(), name.clone()))
                .copied()
                .unwrap_or((0, 0.0, 0.0));
            let address = gateway.address.clone().unwrap_or_else(|| {
                load_balancer_address(
                    &gateway.namespace,
                    name,
                    &scenario.region,
                    hash_str(&format!("{}/{name}", gateway.namespace)),
                )
            });
            GatewayStatus {
                namespace: gateway.namespace.clone(),
                name: name.clone(),
                class: gateway.class.clone(),
                address: Some(address),
                accepted: Some(condition(
                    true,
                    "Accepted",
                    "Gateway is accepted".to_string(),
                )),
                programmed: Some(condition(
                    true,
                    "Programmed",
                    "Load balancer is provisioned".to_string(),
                )),
                attached_routes: attached,
                requests_per_sec: Some(requests),
                error_5xx_ratio: Some(if requests > 0.0 {
                    errors / requests
                } else {
                    0.0
                }),
                load_balancer: None,
            }
        })
        .collect();
    GatewaySnapshot {
        at,
        gateways,
        routes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scenario::{
        BackendSpec, ListenerSpec, NamespaceSpec, ParentSpec, ReferenceGrantSpec,
    };
    use chrono::TimeZone;

    fn scenario() -> Scenario {
        let mut s = Scenario::default();
        for ns in ["gateway", "shop", "payments", "partners"] {
            s.namespaces.insert(ns.into(), NamespaceSpec::default());
        }
        s.gateways.insert(
            "public".into(),
            GatewaySpec {
                namespace: "gateway".into(),
                listeners: vec![ListenerSpec {
                    name: "https".into(),
                    hostname: Some("*.example.com".into()),
                    allowed_routes: AllowedRoutes::Selector,
                    namespaces: vec!["shop".into(), "payments".into()],
                    ..ListenerSpec::default()
                }],
                ..GatewaySpec::default()
            },
        );
        s
    }

    fn route(ns: &str, backend_ns: Option<&str>, service: &str) -> RouteSpec {
        RouteSpec {
            namespace: ns.into(),
            hostnames: vec!["www.example.com".into()],
            parents: vec![ParentSpec {
                gateway: "public".into(),
                namespace: Some("gateway".into()),
                section: Some("https".into()),
            }],
            backends: vec![BackendSpec {
                service: service.into(),
                namespace: backend_ns.map(str::to_string),
                port: Some(8080),
                weight: 1,
            }],
            requests_per_sec: 100.0,
            ..RouteSpec::default()
        }
    }

    fn lookup(ns: &str, name: &str) -> Option<(u32, u32)> {
        match (ns, name) {
            ("shop", "web") => Some((3, 3)),
            ("payments", "api") => Some((2, 2)),
            ("shop", "broken") => Some((0, 2)),
            _ => None,
        }
    }

    fn status(s: &Scenario, name: &str) -> RouteStatus {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .unwrap_or_default();
        let snap = snapshot(s, &lookup, at, 1);
        snap.routes
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("route {name} missing"))
    }

    fn reasons(route: &RouteStatus) -> (String, String) {
        let parent = &route.parents[0];
        (
            parent
                .accepted
                .as_ref()
                .map(|c| c.reason.clone())
                .unwrap_or_default(),
            parent
                .resolved_refs
                .as_ref()
                .map(|c| c.reason.clone())
                .unwrap_or_default(),
        )
    }

    #[test]
    fn healthy_route_is_accepted_and_resolved() {
        let mut s = scenario();
        s.routes.insert("web".into(), route("shop", None, "web"));
        let r = status(&s, "web");
        assert_eq!(reasons(&r), ("Accepted".into(), "ResolvedRefs".into()));
        assert!(r.error_5xx_ratio.unwrap_or(1.0) < 0.01);
    }

    #[test]
    fn cross_namespace_needs_a_reference_grant() {
        let mut s = scenario();
        s.routes
            .insert("pay".into(), route("shop", Some("payments"), "api"));
        let r = status(&s, "pay");
        assert_eq!(reasons(&r).1, "RefNotPermitted");
        assert!(r.error_5xx_ratio.unwrap_or(0.0) > 0.99);
        s.reference_grants.insert(
            "allow-shop".into(),
            ReferenceGrantSpec {
                namespace: "payments".into(),
                from_namespace: "shop".into(),
                ..ReferenceGrantSpec::default()
            },
        );
        assert_eq!(reasons(&status(&s, "pay")).1, "ResolvedRefs");
    }

    #[test]
    fn missing_service_and_disallowed_namespace() {
        let mut s = scenario();
        s.routes
            .insert("ghost".into(), route("shop", None, "ghost"));
        s.routes
            .insert("partner".into(), route("partners", None, "web"));
        assert_eq!(reasons(&status(&s, "ghost")).1, "BackendNotFound");
        let partner = status(&s, "partner");
        assert_eq!(reasons(&partner).0, "NotAllowedByListeners");
        assert_eq!(partner.requests_per_sec, Some(0.0));
    }

    #[test]
    fn zero_ready_endpoints_fail_their_weight_share() {
        let mut s = scenario();
        let mut canary = route("shop", None, "web");
        canary.backends[0].weight = 80;
        canary.backends.push(BackendSpec {
            service: "broken".into(),
            namespace: None,
            port: Some(8080),
            weight: 20,
        });
        s.routes.insert("canary".into(), canary);
        let r = status(&s, "canary");
        assert_eq!(reasons(&r), ("Accepted".into(), "ResolvedRefs".into()));
        let ratio = r.error_5xx_ratio.unwrap_or(0.0);
        assert!((0.19..0.22).contains(&ratio), "{ratio}");
        assert_eq!(r.backends[1].ready_endpoints, 0);
    }

    #[test]
    fn hostnames_match_wildcards() {
        assert!(hostname_matches("*.example.com", "www.example.com"));
        assert!(!hostname_matches("*.example.com", "example.org"));
        assert!(hostname_matches("api.example.com", "api.example.com"));
    }
}
