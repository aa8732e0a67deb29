//! `--scale NODES,PODS`: grows a scenario into a large cluster for benchmarks. A fixed node
//! group of NODES nodes is added, and PODS pods spread over generated Deployments of 100
//! replicas in 20 namespaces, sized to fit the nodes. The scenario's own objects stay.
//!
//! Churn for the same benchmarks (`/_kockpit/churn`): pods restart at a set rate (each a
//! MODIFIED watch event), and a probe pod's scheduling message changes at a lower rate to a
//! numbered text a client can find on its screen; the server logs when each probe left, so
//! the client can tell how long the way from watch event to screen took.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::Shared;
use super::router::{ApiRequest, Body, json_response};
use super::status::ApiError;
use super::store::{ObjKey, Origin, Store};
use crate::backend::sim::objects::{timestamp, uid_for};
use crate::domain::limits;

use crate::domain::scenario::{
    DnsUsageSpec, NamespaceSpec, NodeGroupSpec, Scenario, WorkloadKind, WorkloadSpec,
};

/// Replicas per generated Deployment.
const REPLICAS_PER_WORKLOAD: u32 = 100;
const NAMESPACES: u32 = 20;
/// The node group the generated pods run on (8 vCPU, 32 GiB, 58 pods).
const INSTANCE_TYPE: &str = "m6i.2xlarge";
const POOL: &str = "scale";

/// Parses `NODES,PODS`.
pub fn parse(text: &str) -> Result<(u32, u32), String> {
    let (nodes, pods) = text
        .split_once(',')
        .ok_or_else(|| format!("--scale takes NODES,PODS, got `{text}`"))?;
    let nodes: u32 = nodes
        .trim()
        .parse()
        .map_err(|_| format!("--scale: bad node count `{nodes}`"))?;
    let pods: u32 = pods
        .trim()
        .parse()
        .map_err(|_| format!("--scale: bad pod count `{pods}`"))?;
    if nodes == 0 {
        return Err("--scale needs at least one node".to_string());
    }
    if !limits::SCALE_NODES.allows(u64::from(nodes)) {
        return Err(limits::SCALE_NODES.exceeded("--scale: nodes", nodes));
    }
    if !limits::SCALE_PODS.allows(u64::from(pods)) {
        return Err(limits::SCALE_PODS.exceeded("--scale: pods", pods));
    }
    if pods > nodes.saturating_mul(50) {
        return Err(format!(
            "--scale: at most 50 pods per node fit ({} for {nodes} nodes)",
            nodes * 50
        ));
    }
    Ok((nodes, pods))
}

pub fn apply(scenario: &mut Scenario, nodes: u32, pods: u32) {
    scenario.node_groups.insert(
        POOL.to_string(),
        NodeGroupSpec {
            instance_type: INSTANCE_TYPE.to_string(),
            nodes,
        },
    );
    let per_node = pods.div_ceil(nodes).max(1);
    // Requests leave a fifth of each node free, whatever the density asked for.
    let cpu_request_m = (7000.0 / f64::from(per_node)).min(250.0).floor();
    let memory_request_mib = (24_000.0 / f64::from(per_node)).min(512.0).floor();
    let mut remaining = pods;
    let mut workloads = BTreeMap::new();
    let mut index = 0u32;
    while remaining > 0 {
        let replicas = remaining.min(REPLICAS_PER_WORKLOAD);
        remaining -= replicas;
        let namespace = format!("scale-{:02}", index % NAMESPACES);
        scenario
            .namespaces
            .entry(namespace.clone())
            .or_insert_with(|| NamespaceSpec {
                team: Some(format!("team-{:02}", index % NAMESPACES)),
                ..NamespaceSpec::default()
            });
        workloads.insert(
            format!("bench-{index:05}"),
            WorkloadSpec {
                namespace,
                kind: WorkloadKind::Deployment,
                replicas,
                nodepool: POOL.to_string(),
                cpu_request_m,
                memory_request_mib,
                cpu_usage_m: cpu_request_m * 0.5,
                memory_usage_mib: memory_request_mib * 0.6,
                dns: DnsUsageSpec {
                    lookups_per_sec: 0.0,
                    ..DnsUsageSpec::default()
                },
                ..WorkloadSpec::default()
            },
        );
        index += 1;
    }
    scenario.workloads.extend(workloads);
}

/// Where the probe pod lives; its message reads `probe <sequence number>`.
pub const PROBE_NAMESPACE: &str = "kockpit-probe";
pub const PROBE_POD: &str = "probe";
/// How often the churn task wakes while churning.
const CHURN_TICK: Duration = Duration::from_millis(5);
/// Probe departures kept for `GET /_kockpit/churn`.
const PROBE_LOG: usize = 100_000;

/// The churn asked for and what it has done; lives in the store, under its lock.
#[derive(Debug, Default)]
pub struct Churn {
    /// Pod restarts per second.
    pub rate: f64,
    /// Probe changes per second.
    pub probes_per_sec: f64,
    /// Restarts made since the server started.
    pub events: u64,
    /// (probe sequence number, microseconds since the Unix epoch when it was stored).
    pub probes: Vec<(u64, u64)>,
    next_probe: u64,
    /// The pods restarted in turn, and where the turn is.
    pods: Vec<ObjKey>,
    cursor: usize,
    wake: Arc<Notify>,
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn pod_resource(store: &mut Store) -> usize {
    store.registry.ensure("v1", "Pod", true)
}

/// One pod restarts: its first container's restart count goes up by one.
fn restart_one(store: &mut Store) -> bool {
    let resource = pod_resource(store);
    if store.churn.pods.is_empty() {
        let pods: Vec<ObjKey> = store
            .range(resource, None, None)
            .filter(|(key, _)| key.1 != PROBE_NAMESPACE)
            .map(|(key, _)| key.clone())
            .collect();
        store.churn.pods = pods;
        if store.churn.pods.is_empty() {
            return false;
        }
    }
    let cursor = store.churn.cursor % store.churn.pods.len();
    store.churn.cursor = cursor + 1;
    let key = store.churn.pods[cursor].clone();
    let Some(entry) = store.get(&key) else {
        return false;
    };
    let mut value = entry.value.value();
    let Some(count) = value.pointer_mut("/status/containerStatuses/0/restartCount") else {
        return false;
    };
    *count = json!(count.as_u64().unwrap_or(0) + 1);
    store.put(key, value, Origin::Sim);
    store.churn.events += 1;
    true
}

/// The probe pod: Pending, unschedulable, with the probe's number as the scheduler's message.
fn probe_pod(sequence: u64, created: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": PROBE_POD,
            "namespace": PROBE_NAMESPACE,
            "uid": uid_for("Pod", PROBE_NAMESPACE, PROBE_POD),
            "creationTimestamp": created,
        },
        "spec": {
            "containers": [{
                "name": "probe",
                "image": "registry.example.com/probe:1",
                "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
            }],
        },
        "status": {
            "phase": "Pending",
            "conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": format!("probe {sequence}"),
                "lastTransitionTime": created,
            }],
        },
    })
}

fn probe_one(store: &mut Store, created: &str) {
    let resource = pod_resource(store);
    let sequence = store.churn.next_probe;
    store.churn.next_probe += 1;
    let key: ObjKey = (resource, PROBE_NAMESPACE.to_string(), PROBE_POD.to_string());
    let created = store
        .get(&key)
        .and_then(|e| e.value.pointer("/metadata/creationTimestamp"))
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| created.to_string());
    store.put(key, probe_pod(sequence, &created), Origin::Foreign);
    if store.churn.probes.len() >= PROBE_LOG {
        store.churn.probes.drain(..PROBE_LOG / 2);
    }
    store.churn.probes.push((sequence, unix_micros()));
}

/// Runs the churn the store asks for until the server stops; idle while the rate is zero.
pub(crate) async fn churn_loop(shared: Arc<Shared>) {
    let Ok(wake) = shared.store.lock().map(|s| s.churn.wake.clone()) else {
        return;
    };
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (rate, probes_per_sec) = match shared.store.lock() {
            Ok(store) => (store.churn.rate, store.churn.probes_per_sec),
            Err(_) => return,
        };
        if rate <= 0.0 && probes_per_sec <= 0.0 {
            tokio::select! {
                () = wake.notified() => continue,
                _ = shutdown.changed() => return,
            }
        }
        let started = tokio::time::Instant::now();
        let (mut restarted, mut probed) = (0u64, 0u64);
        let mut ticker = tokio::time::interval(CHURN_TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = wake.notified() => break,
                _ = shutdown.changed() => return,
            }
            let elapsed = started.elapsed().as_secs_f64();
            let restarts_due = ((rate * elapsed) as u64).saturating_sub(restarted);
            let probes_due = ((probes_per_sec * elapsed) as u64).saturating_sub(probed);
            if restarts_due == 0 && probes_due == 0 {
                continue;
            }
            let created = shared
                .sim
                .lock()
                .map(|sim| timestamp(sim.now()))
                .unwrap_or_default();
            let rv = {
                let Ok(mut store) = shared.store.lock() else {
                    return;
                };
                for _ in 0..restarts_due {
                    restart_one(&mut store);
                }
                for _ in 0..probes_due {
                    probe_one(&mut store, &created);
                }
                store.resource_version()
            };
            restarted += restarts_due;
            probed += probes_due;
            shared.changes.send_replace(rv);
        }
    }
}

fn parse_rate(value: &str) -> Result<f64, ApiError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| ApiError::bad_request(format!("bad rate `{value}`")))
}

/// `GET` tells the churn and the probe log, `PUT`/`POST` sets it (`rate=2000 probes=10`:
/// pod restarts and probe changes per second), `DELETE` stops it.
pub(crate) fn admin_churn(
    shared: &Shared,
    request: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let mut store = shared
        .store
        .lock()
        .map_err(|_| ApiError::new(500, "InternalError", "store lock poisoned"))?;
    match request.method {
        Method::GET => {}
        Method::PUT | Method::POST => {
            let text = std::str::from_utf8(&request.body)
                .map_err(|_| ApiError::bad_request("churn settings must be UTF-8"))?;
            for setting in text.split(|c: char| c.is_whitespace() || c == '&') {
                if setting.is_empty() {
                    continue;
                }
                match setting.split_once('=') {
                    Some(("rate", value)) => store.churn.rate = parse_rate(value)?,
                    Some(("probes", value)) => store.churn.probes_per_sec = parse_rate(value)?,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "unknown churn setting `{setting}` (rate=N probes=N)"
                        )));
                    }
                }
            }
            store.churn.wake.notify_one();
        }
        Method::DELETE => {
            store.churn.rate = 0.0;
            store.churn.probes_per_sec = 0.0;
            store.churn.wake.notify_one();
        }
        _ => return Err(ApiError::method_not_allowed()),
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "rate": store.churn.rate,
            "probes_per_sec": store.churn.probes_per_sec,
            "events": store.churn.events,
            "probes": store.churn.probes,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_generates() {
        assert_eq!(parse("10,300"), Ok((10, 300)));
        assert!(parse("10").is_err());
        assert!(parse("1,100").is_err());
        let mut scenario = Scenario::default();
        apply(&mut scenario, 10, 250);
        let total: u32 = scenario.workloads.values().map(|w| w.replicas).sum();
        assert_eq!(total, 250);
        assert_eq!(scenario.node_groups["scale"].nodes, 10);
    }

    #[test]
    fn churn_restarts_pods_in_turn_and_logs_probes() {
        let mut store = Store::new(super::super::discovery::Registry::default(), 100);
        let resource = pod_resource(&mut store);
        for name in ["a", "b"] {
            let pod = json!({"metadata": {"name": name, "namespace": "shop"},
                "status": {"containerStatuses": [{"name": "c", "restartCount": 0}]}});
            store.put((resource, "shop".into(), name.into()), pod, Origin::Sim);
        }
        for _ in 0..3 {
            assert!(restart_one(&mut store));
        }
        let count = |name: &str| {
            store
                .get(&(resource, "shop".into(), name.into()))
                .and_then(|e| e.value.pointer("/status/containerStatuses/0/restartCount"))
                .and_then(|count| count.as_u64())
        };
        assert_eq!((count("a"), count("b")), (Some(2), Some(1)));
        probe_one(&mut store, "2026-03-02T09:00:00Z");
        probe_one(&mut store, "2026-03-02T09:00:00Z");
        let key: ObjKey = (resource, PROBE_NAMESPACE.into(), PROBE_POD.into());
        let message = store
            .get(&key)
            .and_then(|e| e.value.pointer("/status/conditions/0/message"));
        assert_eq!(message, Some(json!("probe 1")));
        assert_eq!(store.churn.probes.len(), 2);
        // The probe pod is never restarted.
        store.churn.pods.clear();
        for _ in 0..4 {
            restart_one(&mut store);
        }
        assert_eq!(store.churn.pods.len(), 2);
    }
}
