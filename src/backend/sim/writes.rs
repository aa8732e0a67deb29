//! A client's write to an object, carried into the simulator's spec: the next steps derive
//! everything from the spec, so the simulated cluster responds as a real one would. CoreDNS
//! re-reads its Corefile; pods roll with new requests, limits, `ndots` or spread; routes
//! resolve once a ReferenceGrant exists and follow their backend weights; Services route
//! within zones; Karpenter honours budgets, consolidation settings and limits; a VPA starts
//! recommending; a labelled namespace leaves the unallocated spend.
//!
//! Only what the write changed is carried: the object before and after are compared field by
//! field, so a write to one field never resets another that the renderer shows differently
//! (an HPA's replica count, say). Objects and fields not listed here stick on the served
//! object (store overlays) but the simulation does not react to them.

use serde_json::Value;

use crate::domain::fix::{cpu_cores, memory_mib};
use crate::domain::model::{RouteKind, ZoneRouting};
use crate::domain::scenario::{
    BackendSpec, BudgetSpec, DnsSpread, ReferenceGrantSpec, Scenario, WorkloadKind, ZoneSpread,
};

/// The annotation that turns on Topology Aware Routing.
const TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";
/// Its older spelling (Kubernetes 1.23-1.26), still honoured.
const TOPOLOGY_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
const ZONE_KEY: &str = "topology.kubernetes.io/zone";
const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
/// `ndots` when a pod sets none.
const DEFAULT_NDOTS: u8 = 5;

/// What a client did to an object.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// A patch or an update: the object before and after it.
    Changed {
        before: &'a Value,
        after: &'a Value,
    },
    Created(&'a Value),
    Deleted(&'a Value),
}

impl<'a> Write<'a> {
    fn before(self) -> Option<&'a Value> {
        match self {
            Write::Changed { before, .. } | Write::Deleted(before) => Some(before),
            Write::Created(_) => None,
        }
    }

    fn after(self) -> Option<&'a Value> {
        match self {
            Write::Changed { after, .. } | Write::Created(after) => Some(after),
            Write::Deleted(_) => None,
        }
    }

    /// `read(after)` when the write changed what `read` sees (always for a create).
    fn changed<T: PartialEq>(self, read: impl Fn(&Value) -> T) -> Option<T> {
        let after = read(self.after()?);
        match self.before() {
            Some(before) if read(before) == after => None,
            _ => Some(after),
        }
    }
}

/// Carries `write`, made to the `kind` object `namespace/name` (namespace empty for
/// cluster-scoped objects), into `spec`. Returns whether the simulator now models the object
/// (a created ReferenceGrant or VPA it will keep rendering), so the store can hand it over.
pub fn write_back(
    spec: &mut Scenario,
    kind: &str,
    namespace: &str,
    name: &str,
    write: Write<'_>,
) -> bool {
    match kind {
        "ConfigMap" if namespace == "kube-system" && name == "coredns" => {
            if let Some(Some(corefile)) = write.changed(|o| str_at(o, "/data/Corefile")) {
                spec.dns.corefile = corefile;
            }
            false
        }
        "Deployment" if namespace == "kube-system" && name == "coredns" => {
            coredns(spec, write);
            false
        }
        "Deployment" | "StatefulSet" => {
            workload(spec, kind, namespace, name, write);
            false
        }
        "Service" => {
            if let Some(service) = spec
                .services
                .get_mut(name)
                .filter(|s| s.namespace == namespace)
                && let Some(routing) = write.changed(routing)
            {
                service.routing = routing;
            }
            false
        }
        "HTTPRoute" | "GRPCRoute" => {
            let route_kind = if kind == "HTTPRoute" {
                RouteKind::Http
            } else {
                RouteKind::Grpc
            };
            if let Some(route) = spec
                .routes
                .get_mut(name)
                .filter(|r| r.namespace == namespace && r.kind == route_kind)
                && let Some(backends) = write.changed(backends)
            {
                route.backends = backends;
            }
            false
        }
        "ReferenceGrant" => reference_grant(spec, namespace, name, write),
        "NodePool" => {
            nodepool(spec, name, write);
            false
        }
        "VerticalPodAutoscaler" => vpa(spec, namespace, name, write),
        "Namespace" => {
            namespace_labels(spec, name, write);
            false
        }
        _ => false,
    }
}

fn str_at(object: &Value, pointer: &str) -> Option<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A CPU quantity in millicores: "250m", "1", "1.5", 2.
fn millicores(value: &Value) -> Option<f64> {
    cpu_cores(value).map(|cores| cores * 1000.0)
}

/// Millicores and MiB compared as the renderer writes them (whole units), so a value that
/// only reads differently ("1" and "1000m") is no change.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Resources {
    cpu_request_m: Option<i64>,
    memory_request_mib: Option<i64>,
    cpu_limit_m: Option<i64>,
    memory_limit_mib: Option<i64>,
}

fn whole(value: Option<f64>) -> Option<i64> {
    value.map(|v| v.round() as i64)
}

/// The resources of the pod template's container `container`.
fn resources(object: &Value, container: &str) -> Option<Resources> {
    let found = object
        .pointer("/spec/template/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))?;
    let at = |pointer: &str| found.pointer(pointer);
    Some(Resources {
        cpu_request_m: whole(at("/resources/requests/cpu").and_then(millicores)),
        memory_request_mib: whole(at("/resources/requests/memory").and_then(memory_mib)),
        cpu_limit_m: whole(at("/resources/limits/cpu").and_then(millicores)),
        memory_limit_mib: whole(at("/resources/limits/memory").and_then(memory_mib)),
    })
}

/// `dnsConfig.options` ndots of the pod template (5 when unset).
fn ndots(object: &Value) -> u8 {
    object
        .pointer("/spec/template/spec/dnsConfig/options")
        .and_then(Value::as_array)
        .and_then(|options| {
            options
                .iter()
                .find(|o| o.get("name").and_then(Value::as_str) == Some("ndots"))
        })
        .and_then(|o| match o.get("value") {
            Some(Value::String(s)) => s.trim().parse::<u8>().ok(),
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
            _ => None,
        })
        .unwrap_or(DEFAULT_NDOTS)
}

/// How the pod template keeps replicas apart: (spread over zones or nodes at all, zone
/// spread that refuses to schedule rather than skew).
fn spread(object: &Value) -> (bool, bool) {
    let constraints = object
        .pointer("/spec/template/spec/topologySpreadConstraints")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    fn key(c: &Value) -> &str {
        c.get("topologyKey").and_then(Value::as_str).unwrap_or("")
    }
    let any = constraints
        .iter()
        .any(|c| key(c) == ZONE_KEY || key(c) == HOSTNAME_KEY);
    let strict_zones = constraints.iter().any(|c| {
        key(c) == ZONE_KEY
            && c.get("whenUnsatisfiable").and_then(Value::as_str) == Some("DoNotSchedule")
    });
    let anti_affinity = object
        .pointer("/spec/template/spec/affinity/podAntiAffinity")
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty());
    (any || anti_affinity, strict_zones)
}

fn replicas(object: &Value) -> Option<u32> {
    object
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .and_then(|r| u32::try_from(r).ok())
}

/// The CoreDNS Deployment: replicas, requests, the memory limit and the spread.
fn coredns(spec: &mut Scenario, write: Write<'_>) {
    let dns = &mut spec.dns;
    if let Some(Some(replicas)) = write.changed(replicas) {
        dns.replicas = replicas;
    }
    if let Some(Some(now)) = write.changed(|o| resources(o, "coredns")) {
        let before = write.before().and_then(|o| resources(o, "coredns"));
        let moved =
            |read: fn(&Resources) -> Option<i64>| before.as_ref().map(read) != Some(read(&now));
        if moved(|r| r.cpu_request_m)
            && let Some(cpu) = now.cpu_request_m
        {
            dns.cpu_request_m = cpu as f64;
        }
        if moved(|r| r.memory_request_mib)
            && let Some(memory) = now.memory_request_mib
        {
            dns.memory_request_mib = memory as f64;
        }
        // CoreDNS always runs with a memory limit in the model; removing it is not carried.
        if moved(|r| r.memory_limit_mib)
            && let Some(limit) = now.memory_limit_mib
        {
            dns.memory_limit_mib = limit as f64;
        }
    }
    if let Some((spread_out, _)) = write.changed(spread) {
        dns.spread = if spread_out {
            DnsSpread::Zones
        } else {
            DnsSpread::None
        };
    }
}

/// A scenario's Deployment or StatefulSet.
fn workload(spec: &mut Scenario, kind: &str, namespace: &str, name: &str, write: Write<'_>) {
    let Some(workload) = spec
        .workloads
        .get_mut(name)
        .filter(|w| w.namespace == namespace && w.kind.as_str() == kind)
    else {
        return;
    };
    // Under an HPA the autoscaler owns the replica count, as it would in a real cluster.
    if workload.hpa.is_none()
        && let Some(Some(replicas)) = write.changed(replicas)
    {
        workload.replicas = replicas;
    }
    let container = workload
        .container
        .clone()
        .unwrap_or_else(|| name.to_string());
    if let Some(Some(now)) = write.changed(|o| resources(o, &container)) {
        let before = write.before().and_then(|o| resources(o, &container));
        let moved =
            |read: fn(&Resources) -> Option<i64>| before.as_ref().map(read) != Some(read(&now));
        if moved(|r| r.cpu_request_m)
            && let Some(cpu) = now.cpu_request_m
        {
            workload.cpu_request_m = cpu as f64;
        }
        if moved(|r| r.memory_request_mib)
            && let Some(memory) = now.memory_request_mib
        {
            workload.memory_request_mib = memory as f64;
        }
        if moved(|r| r.cpu_limit_m) {
            workload.cpu_limit_m = now.cpu_limit_m.map(|l| l as f64);
        }
        if moved(|r| r.memory_limit_mib) {
            workload.memory_limit_mib = now.memory_limit_mib.map(|l| l as f64);
        }
    }
    if let Some(ndots) = write.changed(ndots) {
        workload.dns.ndots = ndots;
    }
    if workload.kind != WorkloadKind::DaemonSet
        && let Some((_, strict_zones)) = write.changed(spread)
    {
        workload.zone_spread = if strict_zones {
            ZoneSpread::Required
        } else {
            ZoneSpread::Preferred
        };
    }
}

/// How a Service routes between zones. `internalTrafficPolicy: Local` wins; the annotation
/// takes precedence over `trafficDistribution`, as in kube-proxy.
fn routing(object: &Value) -> ZoneRouting {
    if str_at(object, "/spec/internalTrafficPolicy").as_deref() == Some("Local") {
        return ZoneRouting::NodeLocal;
    }
    let annotation = |key: &str| {
        object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(|v| v.eq_ignore_ascii_case("auto"))
    };
    if annotation(TOPOLOGY_MODE)
        .or_else(|| annotation(TOPOLOGY_HINTS))
        .unwrap_or(false)
    {
        return ZoneRouting::TopologyAware;
    }
    match str_at(object, "/spec/trafficDistribution").as_deref() {
        Some("PreferClose" | "PreferSameZone") => ZoneRouting::PreferClose,
        _ => ZoneRouting::Default,
    }
}

/// A route's Service backends, every rule's in order (the model has one rule).
fn backends(object: &Value) -> Vec<BackendSpec> {
    let rules = object
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    rules
        .iter()
        .filter_map(|rule| rule.get("backendRefs").and_then(Value::as_array))
        .flatten()
        .filter(|b| {
            b.get("group")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
                && b.get("kind").and_then(Value::as_str).unwrap_or("Service") == "Service"
        })
        .filter_map(|b| {
            Some(BackendSpec {
                service: b.get("name").and_then(Value::as_str)?.to_string(),
                namespace: b
                    .get("namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                port: b
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok()),
                // Gateway API's default weight.
                weight: b
                    .get("weight")
                    .and_then(Value::as_u64)
                    .and_then(|w| u32::try_from(w).ok())
                    .unwrap_or(1),
            })
        })
        .collect()
}

/// What a ReferenceGrant object allows, as the model keeps it: routes of one namespace to
/// Services of the grant's. `None` when it lets no route reach a Service.
fn grant(namespace: &str, object: &Value) -> Option<ReferenceGrantSpec> {
    let items = |key: &str| {
        object
            .pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    fn text<'a>(item: &'a Value, key: &str) -> &'a str {
        item.get(key).and_then(Value::as_str).unwrap_or("")
    }
    let from: Vec<(String, RouteKind)> = items("from")
        .iter()
        .filter(|f| text(f, "group") == "gateway.networking.k8s.io")
        .filter_map(|f| {
            let kind = match text(f, "kind") {
                "HTTPRoute" => RouteKind::Http,
                "GRPCRoute" => RouteKind::Grpc,
                _ => return None,
            };
            Some((text(f, "namespace").to_string(), kind))
        })
        .filter(|(ns, _)| !ns.is_empty())
        .collect();
    let from_namespace = from.first()?.0.clone();
    let from_kinds: Vec<RouteKind> = from
        .iter()
        .filter(|(ns, _)| *ns == from_namespace)
        .map(|(_, kind)| *kind)
        .collect();
    let to: Vec<Value> = items("to")
        .into_iter()
        .filter(|t| text(t, "group").is_empty() && text(t, "kind") == "Service")
        .collect();
    if to.is_empty() {
        return None;
    }
    // One `to` without a name grants every Service of the namespace.
    let services = if to.iter().any(|t| text(t, "name").is_empty()) {
        Vec::new()
    } else {
        to.iter().map(|t| text(t, "name").to_string()).collect()
    };
    Some(ReferenceGrantSpec {
        namespace: namespace.to_string(),
        from_namespace,
        from_kinds,
        services,
    })
}

fn reference_grant(spec: &mut Scenario, namespace: &str, name: &str, write: Write<'_>) -> bool {
    let ours = |spec: &Scenario| {
        spec.reference_grants
            .get(name)
            .is_some_and(|g| g.namespace == namespace)
    };
    // The model keys grants by name alone: one in another namespace is left alone.
    if spec.reference_grants.contains_key(name) && !ours(spec) {
        return false;
    }
    match write {
        Write::Deleted(_) => {
            spec.reference_grants.remove(name);
        }
        _ => match write.changed(|o| grant(namespace, o)) {
            Some(Some(grant)) => {
                spec.reference_grants.insert(name.to_string(), grant);
            }
            Some(None) => {
                spec.reference_grants.remove(name);
            }
            None => {}
        },
    }
    ours(spec)
}

fn budgets(object: &Value) -> Vec<BudgetSpec> {
    object
        .pointer("/spec/disruption/budgets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|b| BudgetSpec {
            nodes: match b.get("nodes") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                // Karpenter's default for a budget without `nodes`.
                _ => "10%".to_string(),
            },
            schedule: b
                .get("schedule")
                .and_then(Value::as_str)
                .map(str::to_string),
            duration: b
                .get("duration")
                .and_then(Value::as_str)
                .map(str::to_string),
            reasons: b
                .get("reasons")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// A Karpenter NodePool: budgets, consolidation policy and delay, the CPU limit, the weight.
fn nodepool(spec: &mut Scenario, name: &str, write: Write<'_>) {
    let Some(pool) = spec.nodepools.get_mut(name) else {
        return;
    };
    if let Some(budgets) = write.changed(budgets) {
        pool.budgets = budgets;
    }
    if let Some(policy) = write.changed(|o| str_at(o, "/spec/disruption/consolidationPolicy")) {
        // Karpenter v1's default when the field is absent.
        pool.consolidation_policy = policy.unwrap_or_else(|| "WhenEmptyOrUnderutilized".into());
    }
    if let Some(Some(after)) = write.changed(|o| str_at(o, "/spec/disruption/consolidateAfter")) {
        pool.consolidate_after = after;
    }
    if let Some(limit) = write.changed(|o| o.pointer("/spec/limits/cpu").and_then(cpu_cores)) {
        pool.cpu_limit = limit;
    }
    if let Some(weight) = write.changed(|o| {
        o.pointer("/spec/weight")
            .and_then(Value::as_i64)
            .and_then(|w| i32::try_from(w).ok())
    }) {
        pool.weight = weight;
    }
}

/// A VerticalPodAutoscaler: the workload it targets runs with a VPA in its update mode.
fn vpa(spec: &mut Scenario, namespace: &str, name: &str, write: Write<'_>) -> bool {
    let named = |workload: &str, vpa_name: Option<&str>| vpa_name.unwrap_or(workload) == name;
    if let Write::Deleted(_) = write {
        for (workload_name, workload) in spec.workloads.iter_mut() {
            if workload.namespace == namespace
                && workload.vpa.is_some()
                && named(workload_name, workload.vpa_name.as_deref())
            {
                workload.vpa = None;
                workload.vpa_name = None;
            }
        }
        return false;
    }
    let Some(after) = write.after() else {
        return false;
    };
    let target_kind = str_at(after, "/spec/targetRef/kind").unwrap_or_default();
    let Some(target) = str_at(after, "/spec/targetRef/name") else {
        return false;
    };
    let Some(workload) = spec
        .workloads
        .get_mut(&target)
        .filter(|w| w.namespace == namespace && w.kind.as_str() == target_kind)
    else {
        return false;
    };
    // One VPA per workload in the model: a second one is served but not modelled.
    if workload.vpa.is_some() && !named(&target, workload.vpa_name.as_deref()) {
        return false;
    }
    if let Some(mode) = write.changed(|o| str_at(o, "/spec/updatePolicy/updateMode")) {
        // The VPA's own default mode.
        workload.vpa = Some(mode.unwrap_or_else(|| "Auto".into()));
    } else if workload.vpa.is_none() {
        workload.vpa = Some("Auto".into());
    }
    workload.vpa_name = (name != target).then(|| name.to_string());
    true
}

/// Cost-allocation labels of a namespace.
fn namespace_labels(spec: &mut Scenario, name: &str, write: Write<'_>) {
    let label = |key: &'static str| {
        move |o: &Value| {
            o.pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        }
    };
    let changes = [
        write.changed(label("cost-center")),
        write.changed(label("team")),
        write.changed(label("environment")),
    ];
    if changes.iter().all(Option::is_none) {
        return;
    }
    let entry = spec.namespaces.entry(name.to_string()).or_default();
    let [cost_center, team, environment] = changes;
    if let Some(value) = cost_center {
        entry.cost_center = value;
    }
    if let Some(value) = team {
        entry.team = value;
    }
    if let Some(value) = environment {
        entry.environment = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::engine::{SimCluster, scenario_t0};
    use crate::backend::sim::objects::render_all;
    use crate::backend::sim::scenarios;
    use serde_json::json;

    fn baseline() -> Scenario {
        scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"))
    }

    fn rendered(spec: &Scenario, kind: &str, namespace: &str, name: &str) -> Value {
        let cluster = SimCluster::new(spec, 1, scenario_t0());
        render_all(&cluster)
            .into_iter()
            .find(|o| {
                o["kind"] == kind
                    && o["metadata"]["name"] == name
                    && o["metadata"]["namespace"].as_str().unwrap_or("") == namespace
            })
            .unwrap_or_else(|| panic!("no {kind} {namespace}/{name}"))
    }

    fn patched(object: &Value, patch: &Value) -> Value {
        let mut after = object.clone();
        crate::backend::sim::serve::patch::merge_by_name(&mut after, patch);
        after
    }

    /// Writes `patch` to the rendered object and carries it into `spec`.
    fn write(spec: &mut Scenario, kind: &str, namespace: &str, name: &str, patch: Value) {
        let before = rendered(spec, kind, namespace, name);
        let after = patched(&before, &patch);
        write_back(
            spec,
            kind,
            namespace,
            name,
            Write::Changed {
                before: &before,
                after: &after,
            },
        );
    }

    #[test]
    fn a_rendered_object_written_back_unchanged_changes_nothing() {
        let spec = baseline();
        for (kind, namespace, name) in [
            ("Deployment", "kube-system", "coredns"),
            ("Deployment", "shop", "frontend"),
            ("StatefulSet", "search", "opensearch"),
            ("Service", "shop", "catalog"),
            ("HTTPRoute", "shop", "storefront"),
            ("NodePool", "", "general"),
            ("Namespace", "", "shop"),
            ("VerticalPodAutoscaler", "shop", "catalog"),
            ("ReferenceGrant", "payments", "allow-shop-routes"),
        ] {
            let object = rendered(&spec, kind, namespace, name);
            let mut after = spec.clone();
            write_back(&mut after, kind, namespace, name, Write::Created(&object));
            assert_eq!(after, spec, "{kind} {namespace}/{name}");
        }
    }

    #[test]
    fn deployments_carry_requests_limits_ndots_and_replicas() {
        let mut spec = baseline();
        write(
            &mut spec,
            "Deployment",
            "analytics",
            "etl-worker",
            json!({"spec": {"replicas": 5, "template": {"spec": {
                "containers": [{"name": "etl-worker", "resources": {
                    "requests": {"cpu": "234m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": null}}}],
                "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]}}}}}),
        );
        let w = &spec.workloads["etl-worker"];
        assert_eq!(
            (w.replicas, w.cpu_request_m, w.memory_request_mib),
            (5, 234.0, 512.0)
        );
        assert_eq!((w.cpu_limit_m, w.memory_limit_mib), (Some(1000.0), None));
        assert_eq!(w.dns.ndots, 2);
        // frontend runs under an HPA: its replicas are the HPA's.
        write(
            &mut spec,
            "Deployment",
            "shop",
            "frontend",
            json!({"spec": {"replicas": 12}}),
        );
        assert_eq!(spec.workloads["frontend"].replicas, 6);
    }

    #[test]
    fn coredns_carries_memory_limit_and_spread() {
        let mut spec = baseline();
        write(
            &mut spec,
            "Deployment",
            "kube-system",
            "coredns",
            json!({"spec": {"template": {"spec": {"topologySpreadConstraints": null,
                "containers": [{"name": "coredns", "resources": {"limits": {"memory": "256Mi"}}}]}}}}),
        );
        assert_eq!(spec.dns.memory_limit_mib, 256.0);
        assert_eq!(spec.dns.spread, DnsSpread::None);
        write(
            &mut spec,
            "Deployment",
            "kube-system",
            "coredns",
            json!({"spec": {"template": {"spec": {"topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": HOSTNAME_KEY, "whenUnsatisfiable": "DoNotSchedule"}]}}}}),
        );
        assert_eq!(spec.dns.spread, DnsSpread::Zones);
    }

    #[test]
    fn services_routes_pools_and_namespaces() {
        let mut spec = baseline();
        write(
            &mut spec,
            "Service",
            "data",
            "redis",
            json!({"spec": {"trafficDistribution": "PreferClose"}}),
        );
        assert_eq!(spec.services["redis"].routing, ZoneRouting::PreferClose);
        write(
            &mut spec,
            "Service",
            "shop",
            "catalog",
            json!({"metadata": {"annotations": {TOPOLOGY_MODE: null}}}),
        );
        assert_eq!(spec.services["catalog"].routing, ZoneRouting::Default);
        write(
            &mut spec,
            "NodePool",
            "",
            "general",
            json!({"spec": {"limits": {"cpu": "250"}, "disruption": {
                "budgets": [{"nodes": "0"}], "consolidationPolicy": "WhenEmpty", "consolidateAfter": "300s"}}}),
        );
        let pool = &spec.nodepools["general"];
        assert_eq!(pool.cpu_limit, Some(250.0));
        assert_eq!(pool.budgets.len(), 1);
        assert_eq!(pool.budgets[0].nodes, "0");
        assert_eq!(
            (
                pool.consolidation_policy.as_str(),
                pool.consolidate_after.as_str()
            ),
            ("WhenEmpty", "300s")
        );
        write(
            &mut spec,
            "Namespace",
            "",
            "platform",
            json!({"metadata": {"labels": {"team": "platform", "cost-center": "platform"}}}),
        );
        assert_eq!(
            spec.namespaces["platform"].team.as_deref(),
            Some("platform")
        );
        assert_eq!(
            spec.namespaces["platform"].cost_center.as_deref(),
            Some("platform")
        );
    }

    #[test]
    fn grants_and_vpas_come_and_go() {
        let mut spec = baseline();
        let grant_object = json!({"metadata": {"name": "kockpit-x", "namespace": "search"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "shop"}],
                     "to": [{"group": "", "kind": "Service", "name": "search-api"}]}});
        assert!(write_back(
            &mut spec,
            "ReferenceGrant",
            "search",
            "kockpit-x",
            Write::Created(&grant_object)
        ));
        let grant = &spec.reference_grants["kockpit-x"];
        assert_eq!(grant.from_namespace, "shop");
        assert_eq!(grant.services, vec!["search-api".to_string()]);
        write_back(
            &mut spec,
            "ReferenceGrant",
            "search",
            "kockpit-x",
            Write::Deleted(&grant_object),
        );
        assert!(!spec.reference_grants.contains_key("kockpit-x"));

        let vpa_object = json!({"metadata": {"name": "etl-worker-vpa", "namespace": "analytics"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "etl-worker"},
                     "updatePolicy": {"updateMode": "Off"}}});
        assert!(write_back(
            &mut spec,
            "VerticalPodAutoscaler",
            "analytics",
            "etl-worker-vpa",
            Write::Created(&vpa_object)
        ));
        let w = &spec.workloads["etl-worker"];
        assert_eq!(w.vpa.as_deref(), Some("Off"));
        assert_eq!(w.vpa_name.as_deref(), Some("etl-worker-vpa"));
        write_back(
            &mut spec,
            "VerticalPodAutoscaler",
            "analytics",
            "etl-worker-vpa",
            Write::Deleted(&vpa_object),
        );
        assert_eq!(spec.workloads["etl-worker"].vpa, None);
    }

    #[test]
    fn quantities() {
        assert_eq!(millicores(&json!("250m")), Some(250.0));
        assert_eq!(millicores(&json!("1.5")), Some(1500.0));
        assert_eq!(memory_mib(&json!("1Gi")), Some(1024.0));
        assert_eq!(cpu_cores(&json!("250")), Some(250.0));
        assert_eq!(memory_mib(&json!("lots")), None);
    }
}
