//! The Gateways pane from projections: each route with what every parent's controller said
//! (`Accepted`, `ResolvedRefs`), and each backend followed to its Service and the ready
//! endpoints of that Service's EndpointSlices. ReferenceGrants are not re-evaluated here: the
//! controller's `ResolvedRefs` condition already says whether one was missing.

use crate::domain::model::{BackendRef, GatewaySnapshot, GatewayStatus, RouteParent, RouteStatus};
use crate::domain::time::Timestamp;

use super::objects::{ClusterObjects, ObjectKey, RouteParentStatusProjection, RouteProjection};

pub fn gateways(objects: &ClusterObjects, at: Timestamp) -> GatewaySnapshot {
    let gateways = objects
        .gateways
        .values()
        .map(|gateway| GatewayStatus {
            namespace: gateway.namespace.clone(),
            name: gateway.name.clone(),
            class: gateway.class.clone(),
            address: gateway.address.clone(),
            accepted: gateway.accepted.clone(),
            programmed: gateway.programmed.clone(),
            attached_routes: gateway.attached_routes,
            requests_per_sec: None,
            error_5xx_ratio: None,
            load_balancer: None,
        })
        .collect();
    let routes = objects
        .routes()
        .map(|route| route_status(objects, route))
        .collect();
    GatewaySnapshot {
        at,
        gateways,
        routes,
    }
}

/// Ready and total endpoints behind a Service, over all of its EndpointSlices.
pub fn service_endpoints(objects: &ClusterObjects, namespace: &str, service: &str) -> (u32, u32) {
    objects
        .endpoint_slices
        .values()
        .filter(|slice| slice.namespace == namespace && slice.service.as_deref() == Some(service))
        .flat_map(|slice| slice.endpoints.iter())
        .fold((0, 0), |(ready, total), endpoint| {
            (ready + u32::from(endpoint.ready), total + 1)
        })
}

fn route_status(objects: &ClusterObjects, route: &RouteProjection) -> RouteStatus {
    let mut parents: Vec<RouteParent> = route
        .parents
        .iter()
        .map(|status| route_parent(route, status))
        .collect();
    // A parent the spec names but no controller has reported on yet still belongs in the
    // list: "not yet accepted" is what the on-call engineer needs to see.
    for reference in &route.parent_refs {
        let namespace = reference.namespace.as_deref().unwrap_or(&route.namespace);
        let reported = parents.iter().any(|p| {
            p.kind == reference.kind
                && p.namespace == namespace
                && p.name == reference.name
                && p.section == reference.section
        });
        if !reported {
            parents.push(RouteParent {
                kind: reference.kind.clone(),
                namespace: namespace.to_string(),
                name: reference.name.clone(),
                section: reference.section.clone(),
                accepted: None,
                resolved_refs: None,
            });
        }
    }
    let mut backends: Vec<BackendRef> = Vec::new();
    for backend in &route.backends {
        let namespace = backend.namespace.as_deref().unwrap_or(&route.namespace);
        if let Some(existing) = backends
            .iter_mut()
            .find(|b| b.namespace == namespace && b.name == backend.name && b.port == backend.port)
        {
            existing.weight = existing.weight.saturating_add(backend.weight);
            continue;
        }
        let is_service = backend.kind == "Service";
        let service_exists = is_service
            && objects
                .services
                .contains_key(&ObjectKey::new(namespace, &backend.name));
        let (ready, total) = if is_service {
            service_endpoints(objects, namespace, &backend.name)
        } else {
            (0, 0)
        };
        backends.push(BackendRef {
            namespace: namespace.to_string(),
            name: backend.name.clone(),
            port: backend.port,
            weight: backend.weight,
            service_exists,
            ready_endpoints: ready,
            total_endpoints: total,
        });
    }
    let observed_generation = route
        .parents
        .iter()
        .filter_map(|p| p.observed_generation)
        .min();
    RouteStatus {
        namespace: route.namespace.clone(),
        name: route.name.clone(),
        kind: route.kind,
        hostnames: route.hostnames.clone(),
        parents,
        backends,
        generation: route.generation,
        observed_generation,
        requests_per_sec: None,
        error_5xx_ratio: None,
    }
}

fn route_parent(route: &RouteProjection, status: &RouteParentStatusProjection) -> RouteParent {
    RouteParent {
        kind: status.parent.kind.clone(),
        namespace: status
            .parent
            .namespace
            .clone()
            .unwrap_or_else(|| route.namespace.clone()),
        name: status.parent.name.clone(),
        section: status.parent.section.clone(),
        accepted: status.accepted.clone(),
        resolved_refs: status.resolved_refs.clone(),
    }
}
