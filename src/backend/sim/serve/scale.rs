//! `--scale NODES,PODS`: grows a scenario into a large cluster for benchmarks. A fixed node
//! group of NODES nodes is added, and PODS pods spread over generated Deployments of 100
//! replicas in 20 namespaces, sized to fit the nodes. The scenario's own objects stay.

use std::collections::BTreeMap;

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
}
