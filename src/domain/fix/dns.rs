//! CoreDNS fixes (§8.4 F-DNS-1, 3, 4, 5 and the guided `ndots` change): the Corefile cache
//! profile rendered by the byte-preserving parser, replicas through the scale subresource,
//! spread and memory by strategic merge, and `ndots` in the workload's pod template.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::PlanContext;
use super::object::{container, guarded_patch, memory_mib, own_target, str_at};
use super::plan::{PatchType, Risk, VerifyCondition};
use super::{Draft, PlanError, verification};
use crate::domain::corefile::{
    self, CacheSettings, EditError, RECOMMENDED_FORWARD_MAX_CONCURRENT,
    RECOMMENDED_KUBERNETES_TTL_SECONDS, RECOMMENDED_LAMEDUCK,
};
use crate::domain::format::percent;

/// The EKS add-on's CoreDNS memory limit, the floor of a raised limit (§2.3, C7).
const EKS_DEFAULT_MEMORY_LIMIT_MIB: f64 = 170.0;
/// The `ndots` the guided change lowers to.
const LOWERED_NDOTS: u32 = 2;

fn cache_before(context: &PlanContext) -> Vec<(&'static str, String)> {
    match context.dns.as_ref().and_then(|d| d.metrics.as_ref()) {
        Some(m) => vec![
            ("cache hit ratio", percent(m.cache_hit_ratio)),
            ("p99 latency", format!("{:.0} ms", m.p99_ms)),
        ],
        None => Vec::new(),
    }
}

fn replicas_of(object: &Value) -> u64 {
    // An unset replicas field means 1, as the API server defaults it.
    object
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// F-DNS-1: `kubernetes { ttl 30 }`, `cache 30 { success 10000 30; denial 2000 10; prefetch 5 60s }`
/// (no cache class made smaller than it is: see `CacheSettings::recommended_over`) and
/// `forward { max_concurrent 2000 }`, every other byte of the Corefile kept.
pub fn cache_profile(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let metrics = context.dns.as_ref().and_then(|d| d.metrics.as_ref());
    let verify = verification(
        VerifyCondition::DnsCacheHitRises {
            target: 0.8,
            from: metrics.map(|m| m.cache_hit_ratio),
            p99_from_ms: metrics.map(|m| m.p99_ms),
        },
        Duration::from_secs(15 * 60),
        cache_before(context),
    );
    let Some(text) = str_at(object, "/data/Corefile") else {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            "the ConfigMap has no Corefile key".into(),
            verify,
        ));
    };
    let mut parsed = match corefile::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Ok(Draft::refused(
                target,
                Risk::Medium,
                format!(
                    "the Corefile does not parse ({e}): kockpit will not rewrite a Corefile it cannot read"
                ),
                verify,
            ));
        }
    };
    let mut warnings = Vec::new();
    match parsed.set_kubernetes_ttl(RECOMMENDED_KUBERNETES_TTL_SECONDS) {
        Ok(()) => {}
        Err(EditError::MissingPlugin(_)) => warnings.push(
            "the main server block has no kubernetes plugin: the record TTL is left as it is"
                .into(),
        ),
        Err(e) => return Ok(Draft::refused(target, Risk::Medium, e.to_string(), verify)),
    }
    let current_cache = parsed.settings().cache;
    let cache = CacheSettings::recommended_over(current_cache.as_ref());
    if let Err(e) = parsed.set_cache(&cache) {
        return Ok(Draft::refused(target, Risk::Medium, e.to_string(), verify));
    }
    let recommended = CacheSettings::recommended();
    let capacity = |c: &CacheSettings| c.denial.as_ref().map_or(0, |d| d.capacity);
    if capacity(&cache) > capacity(&recommended) {
        warnings.push(format!(
            "the denial cache keeps its {} entries rather than the recommended {}: a smaller one would evict the NXDOMAIN answers it holds now",
            capacity(&cache),
            capacity(&recommended)
        ));
    }
    if parsed
        .set_forward_max_concurrent(RECOMMENDED_FORWARD_MAX_CONCURRENT)
        .is_err()
    {
        warnings.push(
            "the main server block has no forward plugin: upstream concurrency is left as it is"
                .into(),
        );
    }
    let rendered = parsed.render();
    // A pod that restarts loads whatever is written: never write what does not parse back.
    let settings = match corefile::parse(&rendered) {
        Ok(reparsed) => reparsed.settings(),
        Err(e) => {
            return Ok(Draft::refused(
                target,
                Risk::Medium,
                format!("the edited Corefile would not parse ({e})"),
                verify,
            ));
        }
    };
    if !settings.has_reload {
        warnings.push("the Corefile has no reload plugin: CoreDNS only reads the change when its pods restart (a rollout)".into());
    }
    warnings.push(format!(
        "records can be up to {RECOMMENDED_KUBERNETES_TTL_SECONDS} s stale after Service or Endpoint changes (worse for headless Services and StatefulSet clients)"
    ));
    warnings.push("watch coredns_reload_failed_total: a rejected reload keeps the old config, but a pod restarting later loads the new file".into());
    let (operation, precondition, inverse) = guarded_patch(
        object,
        PatchType::Merge,
        json!({"data": {"Corefile": rendered}}),
    )?;
    let replicas = context.dns.as_ref().map_or(0, |d| d.replicas);
    Ok(Draft {
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Medium,
        blast_radius: format!(
            "cluster-wide DNS: {replicas} CoreDNS replicas reload the Corefile (no restart)"
        ),
        warnings,
        refusal: None,
        verify,
    })
}

/// F-DNS-3: replicas through the scale subresource, to max(current + 1, ceil(peak QPS / per-pod)).
pub fn scale_replicas(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let mut target = own_target(object);
    target.subresource = Some("scale".into());
    let current = replicas_of(object);
    let qps = context
        .dns
        .as_ref()
        .and_then(|d| d.metrics.as_ref())
        .map(|m| m.qps)
        .filter(|q| q.is_finite() && *q > 0.0);
    let by_load = match qps {
        Some(qps) if context.dns_qps_per_pod > 0.0 => (qps / context.dns_qps_per_pod).ceil() as u64,
        _ => 0,
    };
    let wanted = (current + 1).max(by_load);
    let mut before = vec![("replicas", current.to_string())];
    if let Some(qps) = qps {
        before.push((
            "queries per pod",
            format!("{:.0}/s", qps / current.max(1) as f64),
        ));
    }
    let verify = verification(
        VerifyCondition::ReadyReplicasAtLeast {
            replicas: wanted as u32,
        },
        Duration::from_secs(2 * 60),
        before,
    );
    let (operation, precondition, inverse) = guarded_patch(
        object,
        PatchType::Merge,
        json!({"spec": {"replicas": wanted}}),
    )?;
    Ok(Draft {
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Low,
        blast_radius: format!(
            "{} new CoreDNS pod(s), {current} → {wanted} replicas; running pods are untouched",
            wanted - current
        ),
        warnings: Vec::new(),
        refusal: None,
        verify,
    })
}

/// F-DNS-4: one replica per node (required) and spread across zones (preferred).
pub fn spread_replicas(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let replicas = replicas_of(object);
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        .cloned()
        .unwrap_or_else(|| json!({"k8s-app": "kube-dns"}));
    let (nodes, zones) = match &context.dns {
        Some(dns) => {
            let mut nodes: Vec<&str> = dns.pods.iter().map(|p| p.node.as_str()).collect();
            nodes.sort();
            nodes.dedup();
            let mut zones: Vec<&str> = dns.pods.iter().map(|p| p.zone.as_str()).collect();
            zones.sort();
            zones.dedup();
            (nodes.len(), zones.len())
        }
        None => (0, 0),
    };
    let verify = verification(
        VerifyCondition::DnsReplicasOnDistinctNodes,
        Duration::from_secs(5 * 60),
        vec![
            ("distinct nodes", nodes.to_string()),
            ("distinct zones", zones.to_string()),
        ],
    );
    if context.schedulable_nodes > 0 && u64::from(context.schedulable_nodes) < replicas {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!(
                "only {} schedulable nodes for {replicas} replicas: one replica per node would leave pods Pending",
                context.schedulable_nodes
            ),
            verify,
        ));
    }
    let mut warnings = Vec::new();
    if let Some(lameduck) = context
        .dns
        .as_ref()
        .and_then(|d| d.corefile.as_deref())
        .and_then(|text| corefile::parse(text).ok())
        .map(|c| c.settings().lameduck.unwrap_or_default())
        .filter(|l| *l < RECOMMENDED_LAMEDUCK)
    {
        warnings.push(format!(
            "lameduck is {} s: queries can fail while pods roll; raise it to 30 s first",
            lameduck.as_secs()
        ));
    }
    let changes = json!({"spec": {"template": {"spec": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": selector}},
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}
    ]}}}});
    let (operation, precondition, inverse) =
        guarded_patch(object, PatchType::StrategicMerge, changes)?;
    Ok(Draft {
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Medium,
        blast_radius: format!("{replicas} CoreDNS replicas restart (rollout)"),
        warnings,
        refusal: None,
        verify,
    })
}

/// F-DNS-5: the `coredns` container's memory limit to max(170Mi, ceil(peak working set × 1.5)).
pub fn raise_memory_limit(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let coredns = container(object, "coredns")
        .ok_or_else(|| PlanError::MissingField("container coredns".into()))?;
    let current = coredns
        .pointer("/resources/limits/memory")
        .and_then(memory_mib);
    let peak = context
        .dns_peak_memory_mib()
        .ok_or(PlanError::MissingContext("CoreDNS memory usage"))?;
    let wanted = EKS_DEFAULT_MEMORY_LIMIT_MIB.max((peak * 1.5).ceil()) as u32;
    let mut before = vec![("peak working set", format!("{peak:.0} MiB"))];
    if let Some(current) = current {
        before.push(("memory limit", format!("{current:.0} MiB")));
    }
    let verify = verification(
        VerifyCondition::DnsMemoryBelowLimit {
            limit_mib: wanted,
            share: 0.8,
        },
        Duration::from_secs(10 * 60),
        before,
    );
    if let Some(current) = current.filter(|c| *c >= f64::from(wanted)) {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!(
                "the memory limit ({current:.0} MiB) is already at or above the suggested {wanted} MiB"
            ),
            verify,
        ));
    }
    let changes = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "coredns", "resources": {"limits": {"memory": format!("{wanted}Mi")}}}
    ]}}}});
    let (operation, precondition, inverse) =
        guarded_patch(object, PatchType::StrategicMerge, changes)?;
    Ok(Draft {
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Medium,
        blast_radius: format!("{} CoreDNS replicas restart (rollout)", replicas_of(object)),
        warnings: Vec::new(),
        refusal: None,
        verify,
    })
}

/// The guided `ndots` change: `ndots: "2"` in the pod template's `dnsConfig.options`. The
/// options list is replaced whole by a strategic merge, so the other options are carried over.
pub fn lower_ndots(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let current_options: Vec<Value> = object
        .pointer("/spec/template/spec/dnsConfig/options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_ndots = |o: &Value| o.get("name").and_then(Value::as_str) == Some("ndots");
    let current_ndots = current_options
        .iter()
        .find(|o| is_ndots(o))
        .and_then(|o| o.get("value"))
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<u32>().ok());
    let client = context.dns_client.as_ref();
    let nxdomain = client.map(|c| c.nxdomain_ratio);
    let mut before = vec![(
        "ndots",
        current_ndots.map_or("5 (default)".to_string(), |n| n.to_string()),
    )];
    if let Some(ratio) = nxdomain {
        before.push(("NXDOMAIN share", percent(ratio)));
    }
    let verify = verification(
        VerifyCondition::NxdomainBelow {
            namespace: target.namespace.clone().unwrap_or_default(),
            workload: target.name.clone(),
            ratio: nxdomain.map_or(0.25, |r| (r / 2.0).max(0.05)),
        },
        Duration::from_secs(10 * 60),
        before,
    );
    if let Some(n) = current_ndots.filter(|n| *n <= LOWERED_NDOTS) {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!("ndots is already {n}"),
            verify,
        ));
    }
    let lowered = json!({"name": "ndots", "value": LOWERED_NDOTS.to_string()});
    let mut options: Vec<Value> = current_options
        .iter()
        .map(|o| {
            if is_ndots(o) {
                lowered.clone()
            } else {
                o.clone()
            }
        })
        .collect();
    if current_ndots.is_none() && !current_options.iter().any(is_ndots) {
        options.push(lowered);
    }
    let changes = json!({"spec": {"template": {"spec": {"dnsConfig": {"options": options}}}}});
    let (operation, precondition, inverse) =
        guarded_patch(object, PatchType::StrategicMerge, changes)?;
    Ok(Draft {
        blast_radius: format!(
            "{} pods of {} restart (rollout); their short-name lookups change",
            replicas_of(object),
            target.describe()
        ),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Medium,
        warnings: vec![format!(
            "names with {LOWERED_NDOTS} or more dots are now tried as absolute names first: in-cluster names written as `svc.namespace.svc` cost one extra lookup; names with fewer dots still use the search path"
        )],
        refusal: None,
        verify,
    })
}
