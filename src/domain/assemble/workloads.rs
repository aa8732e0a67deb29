//! The Right-sizing pane from projections: requests and limits per container of each
//! workload, the VPA's target, whether an HPA scales it on CPU, OOM kills and restarts seen on
//! its pods, and the namespaces' cost labels. Usage percentiles need a metrics source.

use std::collections::{HashMap, HashSet};

use crate::domain::model::{NamespaceInfo, VpaAdvice, WorkloadSnapshot, WorkloadUsage};
use crate::domain::time::Timestamp;

use super::objects::{ClusterObjects, ObjectKey, VpaProjection};
use super::pods::ContainerHistory;

/// What the pane shows as the usage window when no metrics source gives percentiles.
pub const NO_USAGE_WINDOW: &str = "n/a";

pub fn workloads(objects: &ClusterObjects, at: Timestamp) -> WorkloadSnapshot {
    let histories = histories_by_workload(objects);
    // (namespace, kind, name) of every workload an HPA scales on CPU.
    let scaled_on_cpu: HashSet<(&str, &str, &str)> = objects
        .hpas
        .values()
        .filter(|hpa| hpa.on_cpu)
        .map(|hpa| {
            (
                hpa.namespace.as_str(),
                hpa.target_kind.as_str(),
                hpa.target_name.as_str(),
            )
        })
        .collect();
    // The first VPA (in namespace/name order) that targets each workload.
    let mut vpas: HashMap<(&str, &str, &str), &VpaProjection> = HashMap::new();
    for vpa in objects.vpas.values() {
        vpas.entry((&vpa.namespace, &vpa.target_kind, &vpa.target_name))
            .or_insert(vpa);
    }
    let mut rows = Vec::new();
    for workload in objects.workloads() {
        let id = (
            workload.namespace.as_str(),
            workload.kind.as_str(),
            workload.name.as_str(),
        );
        let history = histories.get(&id);
        let vpa = vpas.get(&id).copied();
        for container in &workload.containers {
            let (oom_kills, restarts) = history
                .and_then(|h| h.get(container.name.as_str()))
                .map(|h| (h.oom_kills, h.restarts))
                .unwrap_or_default();
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
                vpa: vpa.and_then(|vpa| vpa_advice(vpa, &container.name)),
                hpa_on_cpu: scaled_on_cpu.contains(&id),
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

type WorkloadId = (String, String, String);

/// OOM kills and restarts per container of each workload (namespace, kind, name), summed
/// over its current pods: pods owned by a ReplicaSet count for the ReplicaSet's Deployment.
/// The API only keeps the last termination and a lifetime restart count, so these are
/// lower bounds. Only owners whose pods restarted are visited.
fn histories_by_workload(
    objects: &ClusterObjects,
) -> HashMap<(&str, &str, &str), HashMap<&str, ContainerHistory>> {
    let mut resolved: HashMap<WorkloadId, HashMap<String, ContainerHistory>> = HashMap::new();
    for (owner, containers) in objects.pods.histories() {
        let direct = owner.to_owner();
        let workload = if direct.kind == "ReplicaSet" {
            objects
                .replica_sets
                .get(&ObjectKey::new(owner.namespace, owner.name))
                .and_then(|rs| rs.owner.clone())
                .unwrap_or(direct)
        } else {
            direct
        };
        let sums = resolved
            .entry((owner.namespace.to_string(), workload.kind, workload.name))
            .or_default();
        for (container, history) in containers {
            let sum = sums.entry(container.to_string()).or_default();
            sum.oom_kills += history.oom_kills;
            sum.restarts = sum.restarts.saturating_add(history.restarts);
        }
    }
    let mut by_workload = HashMap::new();
    for workload in objects.workloads() {
        let id = (
            workload.namespace.clone(),
            workload.kind.as_str().to_string(),
            workload.name.clone(),
        );
        if let Some(sums) = resolved.remove(&id) {
            let sums = workload
                .containers
                .iter()
                .filter_map(|c| sums.get(&c.name).map(|history| (c.name.as_str(), *history)))
                .collect();
            by_workload.insert(
                (
                    workload.namespace.as_str(),
                    workload.kind.as_str(),
                    workload.name.as_str(),
                ),
                sums,
            );
        }
    }
    by_workload
}

fn vpa_advice(vpa: &VpaProjection, container: &str) -> Option<VpaAdvice> {
    let target = vpa.containers.iter().find(|c| c.container == container)?;
    Some(VpaAdvice {
        update_mode: vpa.update_mode.clone(),
        cpu_target_m: target.cpu_target_m?,
        memory_target_mib: target.memory_target_mib?,
    })
}
