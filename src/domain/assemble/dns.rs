//! The DNS pane from projections: CoreDNS replicas and where its pods run, its memory limit,
//! the Corefile, and whether NodeLocal DNSCache is deployed. Query figures need a metrics
//! source, so `metrics` stays empty here.

use crate::domain::model::{DnsPod, DnsSnapshot};
use crate::domain::time::Timestamp;

use super::objects::{ClusterObjects, ObjectKey, WorkloadProjection};
use super::pods::is_coredns;

/// The label value (`k8s-app`) CoreDNS pods and Deployment carry on EKS.
pub use super::pods::COREDNS_APP;
/// The label value (`k8s-app`) of the NodeLocal DNSCache DaemonSet.
pub const NODELOCAL_APP: &str = "node-local-dns";
const SYSTEM_NAMESPACE: &str = "kube-system";

fn coredns_deployment(objects: &ClusterObjects) -> Option<&WorkloadProjection> {
    objects
        .deployments
        .get(&ObjectKey::new(SYSTEM_NAMESPACE, "coredns"))
        .or_else(|| {
            objects
                .deployments
                .values()
                .find(|d| d.namespace == SYSTEM_NAMESPACE && d.app.as_deref() == Some(COREDNS_APP))
        })
}

pub fn dns(objects: &ClusterObjects, at: Timestamp) -> DnsSnapshot {
    let deployment = coredns_deployment(objects);
    let memory_limit_mib = deployment.and_then(|d| {
        d.containers
            .iter()
            .find(|c| c.name == "coredns")
            .or_else(|| d.containers.first())
            .and_then(|c| c.memory_limit_mib)
    });
    let pods = objects
        .pods
        .listed()
        .filter(|pod| is_coredns(pod))
        .map(|pod| {
            let node = pod.node.clone().unwrap_or_default();
            let zone = objects
                .node_zone(&node)
                .map(str::to_string)
                .unwrap_or_else(|| "unknown".to_string());
            DnsPod {
                name: pod.name.clone(),
                node,
                zone,
                qps: None,
                memory_mib: None,
                cpu_millicores: None,
                ip: pod.ip.map(|ip| ip.to_string()),
            }
        })
        .collect();
    let nodelocal_dns = objects
        .daemon_sets
        .values()
        .any(|d| d.app.as_deref() == Some(NODELOCAL_APP) || d.name == NODELOCAL_APP);
    DnsSnapshot {
        at,
        replicas: deployment.map(|d| d.replicas).unwrap_or_default(),
        ready_replicas: deployment.map(|d| d.ready_replicas).unwrap_or_default(),
        memory_limit_mib,
        pods,
        corefile: objects
            .config_maps
            .get(&ObjectKey::new(SYSTEM_NAMESPACE, "coredns"))
            .and_then(|c| c.corefile.clone()),
        nodelocal_dns,
        metrics: None,
    }
}
