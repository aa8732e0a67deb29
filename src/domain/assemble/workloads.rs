//! The Right-sizing pane from projections: requests and limits per container of each
//! workload, the VPA's target, whether an HPA scales it on CPU, OOM kills and restarts seen on
//! its pods, and the namespaces' cost labels. Usage percentiles need a metrics source.

use crate::domain::model::{NamespaceInfo, VpaAdvice, WorkloadSnapshot, WorkloadUsage};
use crate::domain::time::Timestamp;

use super::objects::{ClusterObjects, WorkloadProjection};

/// What the pane shows as the usage window when no metrics source gives percentiles.
pub const NO_USAGE_WINDOW: &str = "n/a";

pub fn workloads(objects: &ClusterObjects, at: Timestamp) -> WorkloadSnapshot {
    let mut rows = Vec::new();
    for workload in objects.workloads() {
        for container in &workload.containers {
            let (oom_kills, restarts) = pod_history(objects, workload, &container.name);
            rows.push(WorkloadUsage {
                namespace: workload.namespace.clone(),
                name: workload.name.clone(),
                kind: workload.kind.as_str().to_string(),
                container: container.name.clone(),
                replicas: workload.replicas,
                cpu_request_m: container.cpu_request_m.unwrap_or(0.0),
                cpu_limit_m: container.cpu_limit_m,
                memory_request_mib: container.memory_request_mib.unwrap_or(0.0),
                memory_limit_mib: container.memory_limit_mib,
                oom_kills_7d: oom_kills,
                restarts_24h: restarts,
                vpa: vpa_advice(objects, workload, &container.name),
                hpa_on_cpu: objects.hpas.values().any(|hpa| {
                    hpa.on_cpu
                        && hpa.namespace == workload.namespace
                        && hpa.target_kind == workload.kind.as_str()
                        && hpa.target_name == workload.name
                }),
                usage: None,
            });
        }
    }
    let namespaces = objects
        .namespaces
        .values()
        .map(|ns| NamespaceInfo {
            name: ns.name.clone(),
            cost_center: ns.cost_center.clone(),
            team: ns.team.clone(),
            environment: ns.environment.clone(),
        })
        .collect();
    WorkloadSnapshot {
        at,
        window: NO_USAGE_WINDOW.to_string(),
        workloads: rows,
        namespaces,
    }
}

/// OOM kills and restarts of one container over the workload's current pods. The API only
/// keeps the last termination and a lifetime restart count, so these are lower bounds.
fn pod_history(
    objects: &ClusterObjects,
    workload: &WorkloadProjection,
    container: &str,
) -> (u32, u32) {
    let mut oom_kills = 0u32;
    let mut restarts = 0u32;
    let pods = objects
        .pods
        .values()
        .filter(|pod| pod.namespace == workload.namespace)
        .filter(|pod| {
            objects
                .pod_workload(pod)
                .is_some_and(|o| o.kind == workload.kind.as_str() && o.name == workload.name)
        });
    for pod in pods {
        for c in pod
            .containers
            .iter()
            .filter(|c| c.resources.name == container)
        {
            restarts = restarts.saturating_add(c.restarts);
            if c.last_termination_reason.as_deref() == Some("OOMKilled") {
                oom_kills += 1;
            }
        }
    }
    (oom_kills, restarts)
}

fn vpa_advice(
    objects: &ClusterObjects,
    workload: &WorkloadProjection,
    container: &str,
) -> Option<VpaAdvice> {
    let vpa = objects.vpas.values().find(|vpa| {
        vpa.namespace == workload.namespace
            && vpa.target_kind == workload.kind.as_str()
            && vpa.target_name == workload.name
    })?;
    let target = vpa.containers.iter().find(|c| c.container == container)?;
    Some(VpaAdvice {
        update_mode: vpa.update_mode.clone(),
        cpu_target_m: target.cpu_target_m?,
        memory_target_mib: target.memory_target_mib?,
    })
}
