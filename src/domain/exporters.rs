//! Which exporters a Prometheus holds metrics from, and which version (or generation of
//! metric names) each is: what `kockpit doctor` and the Sources window list. Built on the
//! same name detection the queries use (`MetricNames::detect`), so the list never disagrees
//! with what the panes ask for.

use std::collections::BTreeSet;

use serde::Serialize;

use super::flow_metrics;
use super::promql::{MetricNames, Sample, Upstream};

/// The series that carry exporter versions as labels: CoreDNS's `coredns_build_info{version}`
/// and cAdvisor's `cadvisor_version_info{cadvisorVersion}`.
pub const VERSION_QUERY: &str = "{__name__=~\"coredns_build_info|cadvisor_version_info\"}";

/// One exporter as found (or not) in Prometheus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exporter {
    /// "CoreDNS", "Karpenter", "kube-state-metrics", "cAdvisor", "flows".
    pub name: &'static str,
    pub found: bool,
    /// The version its build-info series gives, else the generation its metric names tell.
    pub version: Option<String>,
    /// The metric it was recognised by, or the ones looked for.
    pub evidence: String,
    /// What kockpit shows from it; said when it is missing.
    pub used_for: &'static str,
    /// kockpit reads none of its metrics (listed for the user's picture only).
    pub optional: bool,
}

/// Every distinct value of `label` on the series named `metric`.
fn label_values(samples: &[Sample], metric: &str, label: &str) -> Option<String> {
    let values: BTreeSet<&str> = samples
        .iter()
        .filter(|s| s.label("__name__") == metric)
        .map(|s| s.label(label))
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then(|| values.into_iter().collect::<Vec<_>>().join(", "))
}

/// The exporters kockpit knows, from the metric names Prometheus holds and the version
/// series (`VERSION_QUERY`) it answered.
pub fn detect(present: &BTreeSet<String>, versions: &[Sample]) -> Vec<Exporter> {
    let names = MetricNames::detect(present);
    let has = |name: &str| present.contains(name);

    let coredns_found = has(&names.dns_requests);
    let coredns_generation = if names.dns_requests == "coredns_dns_request_count_total" {
        Some("before 1.7 (coredns_dns_request_count_total)".to_string())
    } else {
        match names.upstream {
            Upstream::Proxy => Some("1.11 or later (coredns_proxy_* names)".to_string()),
            Upstream::Forward => Some("1.7 to 1.10 (coredns_forward_* names)".to_string()),
            Upstream::Absent => None,
        }
    };
    let coredns = Exporter {
        name: "CoreDNS",
        found: coredns_found,
        version: coredns_found
            .then(|| label_values(versions, "coredns_build_info", "version").or(coredns_generation))
            .flatten(),
        evidence: names.dns_requests.clone(),
        used_for: "DNS QPS, latency, rcodes, cache hit ratio and upstream figures",
        optional: false,
    };

    let karpenter = match names.karpenter.as_ref().filter(|_| !present.is_empty()) {
        Some(karpenter) => Exporter {
            name: "Karpenter",
            found: true,
            version: Some(if karpenter.created.starts_with("karpenter_nodeclaims") {
                "v1 metric names (karpenter_nodeclaims_*)".to_string()
            } else {
                format!("pre-v1 metric names ({})", karpenter.created)
            }),
            evidence: karpenter.created.clone(),
            used_for: "node launches, terminations, disruptions and NodePool usage",
            optional: false,
        },
        None => Exporter {
            name: "Karpenter",
            found: false,
            version: None,
            evidence: "karpenter_nodeclaims_created_total".to_string(),
            used_for: "node launches, terminations, disruptions and NodePool usage",
            optional: false,
        },
    };

    let ksm_v2 = has("kube_pod_container_resource_requests");
    let ksm_v1 = has("kube_pod_container_resource_requests_cpu_cores");
    let kube_state_metrics = Exporter {
        name: "kube-state-metrics",
        found: has("kube_pod_info") || ksm_v2 || ksm_v1,
        version: if ksm_v2 {
            Some("v2 metric names".to_string())
        } else if ksm_v1 {
            Some("v1 metric names".to_string())
        } else {
            None
        },
        evidence: "kube_pod_info".to_string(),
        used_for: "nothing: kockpit reads objects from the API server",
        optional: true,
    };

    let cadvisor_found = has("container_cpu_usage_seconds_total");
    let cadvisor = Exporter {
        name: "cAdvisor",
        found: cadvisor_found,
        version: cadvisor_found
            .then(|| label_values(versions, "cadvisor_version_info", "cadvisorVersion"))
            .flatten(),
        evidence: "container_cpu_usage_seconds_total".to_string(),
        used_for: "usage percentiles, throttling and CoreDNS CPU and memory",
        optional: false,
    };

    let flows = match names.flows {
        Some(source) => Exporter {
            name: "flows",
            found: true,
            version: Some(source.kind().title().to_string()),
            evidence: source.metric().to_string(),
            used_for: "East-West traffic between workloads and zones",
            optional: false,
        },
        None => Exporter {
            name: "flows",
            found: false,
            version: None,
            evidence: flow_metrics::MISSING.to_string(),
            used_for: "East-West traffic between workloads and zones",
            optional: false,
        },
    };

    vec![coredns, karpenter, kube_state_metrics, cadvisor, flows]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn sample(labels: &[(&str, &str)]) -> Sample {
        Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            value: 1.0,
        }
    }

    #[test]
    fn versions_come_from_build_info_else_from_the_names() {
        let present = names(&[
            "coredns_dns_requests_total",
            "coredns_proxy_request_duration_seconds_bucket",
            "karpenter_nodeclaims_created_total",
            "karpenter_nodeclaims_terminated_total",
            "container_cpu_usage_seconds_total",
            "kube_pod_info",
            "kube_pod_container_resource_requests",
            "hubble_flows_processed_total",
        ]);
        let versions = [
            sample(&[("__name__", "coredns_build_info"), ("version", "1.11.3")]),
            sample(&[
                ("__name__", "cadvisor_version_info"),
                ("cadvisorVersion", "v0.49.1"),
            ]),
        ];
        let found = detect(&present, &versions);
        let by_name = |name: &str| found.iter().find(|e| e.name == name).cloned();
        assert_eq!(
            by_name("CoreDNS").and_then(|e| e.version),
            Some("1.11.3".to_string())
        );
        assert_eq!(
            by_name("cAdvisor").and_then(|e| e.version),
            Some("v0.49.1".to_string())
        );
        assert_eq!(
            by_name("Karpenter").and_then(|e| e.version),
            Some("v1 metric names (karpenter_nodeclaims_*)".to_string())
        );
        assert_eq!(
            by_name("flows").and_then(|e| e.version),
            Some("Hubble".to_string())
        );
        assert!(by_name("kube-state-metrics").is_some_and(|e| e.found && e.optional));

        // Without build info, the generation of the names.
        let old = detect(
            &names(&[
                "coredns_dns_requests_total",
                "coredns_forward_requests_total",
            ]),
            &[],
        );
        assert_eq!(
            old[0].version.as_deref(),
            Some("1.7 to 1.10 (coredns_forward_* names)")
        );
        assert!(!old[1].found, "no Karpenter names");
    }

    #[test]
    fn an_empty_prometheus_has_no_exporter() {
        assert!(detect(&BTreeSet::new(), &[]).iter().all(|e| !e.found));
    }
}
