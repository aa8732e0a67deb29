//! The PromQL each pane asks, chosen for the metric names a Prometheus actually holds, and
//! the turning of query results into pane figures. Pure: the Prometheus source sends the
//! queries and hands back what came of them.
//!
//! Name detection follows the errata of the reference: CoreDNS ≥ 1.11 reports upstream
//! latency as `coredns_proxy_request_duration_seconds{proxy_name="forward"}` and older ones as
//! `coredns_forward_*`; CoreDNS < 1.7 counted requests as `coredns_dns_request_count_total`;
//! Karpenter renamed its metrics between v0.3x (`karpenter_nodes_*`, `karpenter_machines_*`)
//! and v1 (`karpenter_nodeclaims_*`). CPU percentiles take `rate()` inside a subquery.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::alerts::{Alert, AlertSnapshot};
use super::model::{
    DnsMetrics, DnsSnapshot, KarpenterCounts, NodeSnapshot, Pane, RcodeRate, UsageStats,
    WorkloadSnapshot,
};
use super::time::Timestamp;

/// The default rate window of the "now" queries, as the reference's queries use it.
pub const RATE_WINDOW: &str = "5m";
/// The window of the right-sizing percentiles.
pub const USAGE_WINDOW: &str = "7d";

/// Which family of names each exporter uses in this Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricNames {
    /// `coredns_dns_requests_total`, or the pre-1.7 `coredns_dns_request_count_total`.
    pub dns_requests: String,
    /// `coredns_dns_responses_total`, or the pre-1.7 `coredns_dns_response_code_count_total`.
    pub dns_responses: String,
    pub upstream: Upstream,
    pub karpenter: Option<KarpenterNames>,
    /// The flow source Prometheus holds, the preferred one when several are present.
    pub flows: Option<super::flow_metrics::FlowMetrics>,
    /// Panes whose exporter Prometheus does not hold, with what was looked for and what
    /// provides it. Empty when the names could not be listed.
    #[serde(default)]
    pub absent: BTreeMap<Pane, String>,
    /// The cache plugin counts its requests (`coredns_cache_requests_total`): the hit ratio
    /// is hits over requests, whether or not misses are exported.
    #[serde(default)]
    pub cache_requests: bool,
    /// CoreDNS's latency histograms are scraped as native histograms (CoreDNS 1.11.3 and
    /// later, with Prometheus's native-histogram scraping on): no `_bucket` series exist.
    #[serde(default)]
    pub native_histograms: bool,
}

/// What each pane's exporter is, for the words of a pane whose metrics are absent.
fn absent_panes(
    present: &BTreeSet<String>,
    dns: bool,
    karpenter: bool,
    flows: bool,
) -> BTreeMap<Pane, String> {
    let mut absent = BTreeMap::new();
    if present.is_empty() {
        return absent;
    }
    if !dns {
        absent.insert(
            Pane::Dns,
            "no coredns_dns_requests_total in Prometheus: CoreDNS's prometheus plugin (:9153/metrics behind the kube-dns Service) is not scraped".to_string(),
        );
    }
    if !karpenter {
        absent.insert(
            Pane::Nodes,
            "no karpenter_nodeclaims_created_total (or Karpenter v0.3x's karpenter_nodeclaims_created) in Prometheus: Karpenter's metrics endpoint (:8080/metrics) is not scraped".to_string(),
        );
    }
    if !present.contains("container_cpu_usage_seconds_total") {
        absent.insert(
            Pane::Rightsizing,
            "no container_cpu_usage_seconds_total in Prometheus: cAdvisor is not scraped through the kubelet (/metrics/cadvisor)".to_string(),
        );
    }
    if !flows {
        absent.insert(Pane::Flows, super::flow_metrics::MISSING.to_string());
    }
    absent
}

/// How CoreDNS's forward plugin reports upstream traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upstream {
    /// CoreDNS ≥ 1.11: `coredns_proxy_request_duration_seconds{proxy_name="forward"}`.
    Proxy,
    /// Older CoreDNS: `coredns_forward_request_duration_seconds` and friends.
    Forward,
    /// Neither is exported (no forward plugin, or not scraped).
    Absent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KarpenterNames {
    pub created: String,
    pub terminated: String,
    pub disrupted: Option<String>,
    pub usage: Option<String>,
    pub limit: Option<String>,
}

impl MetricNames {
    /// Picks names from the metric names Prometheus knows (`/api/v1/label/__name__/values`).
    /// With nothing known (the lookup failed) the current names are assumed.
    pub fn detect(present: &BTreeSet<String>) -> MetricNames {
        let has = |name: &str| present.contains(name);
        let pick = |candidates: &[&str]| -> Option<String> {
            candidates.iter().find(|c| has(c)).map(|c| c.to_string())
        };
        let legacy_dns =
            !has("coredns_dns_requests_total") && has("coredns_dns_request_count_total");
        let upstream = if has("coredns_proxy_request_duration_seconds_count")
            || has("coredns_proxy_request_duration_seconds_bucket")
            || has("coredns_proxy_request_duration_seconds")
        {
            Upstream::Proxy
        } else if has("coredns_forward_request_duration_seconds_bucket")
            || has("coredns_forward_requests_total")
        {
            Upstream::Forward
        } else if present.is_empty() {
            Upstream::Proxy
        } else {
            Upstream::Absent
        };
        let created = pick(&[
            "karpenter_nodeclaims_created_total",
            "karpenter_nodeclaims_created",
            "karpenter_machines_created",
            "karpenter_nodes_created",
            "karpenter_nodes_created_total",
        ]);
        let terminated = pick(&[
            "karpenter_nodeclaims_terminated_total",
            "karpenter_nodeclaims_terminated",
            "karpenter_machines_terminated",
            "karpenter_nodes_terminated",
            "karpenter_nodes_terminated_total",
        ]);
        let karpenter = match (created, terminated) {
            (Some(created), Some(terminated)) => Some(KarpenterNames {
                created,
                terminated,
                disrupted: pick(&[
                    "karpenter_nodeclaims_disrupted_total",
                    "karpenter_nodeclaims_disrupted",
                    "karpenter_disruption_actions_performed_total",
                    "karpenter_deprovisioning_actions_performed",
                ]),
                usage: pick(&[
                    "karpenter_nodepool_usage",
                    "karpenter_nodepools_usage",
                    "karpenter_provisioner_usage",
                ]),
                limit: pick(&[
                    "karpenter_nodepool_limit",
                    "karpenter_nodepools_limit",
                    "karpenter_provisioner_limit",
                ]),
            }),
            _ if present.is_empty() => Some(KarpenterNames {
                created: "karpenter_nodeclaims_created_total".to_string(),
                terminated: "karpenter_nodeclaims_terminated_total".to_string(),
                disrupted: Some("karpenter_nodeclaims_disrupted_total".to_string()),
                usage: Some("karpenter_nodepool_usage".to_string()),
                limit: Some("karpenter_nodepool_limit".to_string()),
            }),
            _ => None,
        };
        let flows = super::flow_metrics::FlowMetrics::detect(present);
        let dns = has("coredns_dns_requests_total") || legacy_dns;
        MetricNames {
            absent: absent_panes(present, dns, karpenter.is_some(), flows.is_some()),
            cache_requests: has("coredns_cache_requests_total"),
            native_histograms: has("coredns_dns_request_duration_seconds")
                && !has("coredns_dns_request_duration_seconds_bucket"),
            dns_requests: if legacy_dns {
                "coredns_dns_request_count_total"
            } else {
                "coredns_dns_requests_total"
            }
            .to_string(),
            dns_responses: if legacy_dns {
                "coredns_dns_response_code_count_total"
            } else {
                "coredns_dns_responses_total"
            }
            .to_string(),
            upstream,
            karpenter,
            flows,
        }
    }
}

/// Every figure kockpit asks Prometheus for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryId {
    DnsQps,
    DnsQpsByPod,
    DnsP50,
    DnsP99,
    DnsRcodes,
    DnsCacheHitRatio,
    DnsUpstreamQps,
    DnsUpstreamP99,
    DnsPanics,
    DnsMemoryByPod,
    DnsCpuByPod,
    FlowBytes,
    FlowDrops,
    NodesCreated,
    NodesTerminated,
    NodesDisrupted,
    NodePoolUsage,
    NodePoolLimit,
    Throttling,
    CpuP95,
    MemoryP95,
    MemoryP99,
    Alerts,
}

impl QueryId {
    /// The figure's name as the source-health view shows it.
    pub fn figure(self) -> &'static str {
        match self {
            QueryId::DnsQps => "DNS QPS",
            QueryId::DnsQpsByPod => "per-pod QPS",
            QueryId::DnsP50 => "p50 latency",
            QueryId::DnsP99 => "p99 latency",
            QueryId::DnsRcodes => "rcode mix",
            QueryId::DnsCacheHitRatio => "cache hit ratio",
            QueryId::DnsUpstreamQps => "upstream QPS",
            QueryId::DnsUpstreamP99 => "upstream p99",
            QueryId::DnsPanics => "panics",
            QueryId::DnsMemoryByPod => "CoreDNS memory",
            QueryId::DnsCpuByPod => "CoreDNS CPU",
            QueryId::FlowBytes => "flows",
            QueryId::FlowDrops => "drops",
            QueryId::NodesCreated => "launches",
            QueryId::NodesTerminated => "terminations",
            QueryId::NodesDisrupted => "disruptions",
            QueryId::NodePoolUsage => "NodePool usage",
            QueryId::NodePoolLimit => "NodePool limit",
            QueryId::Throttling => "CPU throttling",
            QueryId::CpuP95 => "7-day CPU p95",
            QueryId::MemoryP95 => "7-day memory p95",
            QueryId::MemoryP99 => "7-day memory p99",
            QueryId::Alerts => "alerts",
        }
    }
}

/// How often a query may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cost {
    /// Every refresh.
    Refresh,
    /// Long-window percentiles: rarely, and cached in between.
    Expensive,
}

/// One query of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub id: QueryId,
    pub pane: Pane,
    pub promql: String,
    pub cost: Cost,
}

/// The `q` quantile of a histogram family: over its classic `_bucket` series, or, for a
/// native histogram, over the family itself.
fn quantile(q: f64, family: &str, native: bool, selector: &str, window: &str) -> String {
    if native {
        format!("histogram_quantile({q}, sum(rate({family}{selector}[{window}])))")
    } else {
        format!("histogram_quantile({q}, sum by (le)(rate({family}_bucket{selector}[{window}])))")
    }
}

/// The queries every pane asks, for the names detected, with rates over `window`
/// (e.g. "5m"; it should span several scrape intervals).
pub fn catalogue(names: &MetricNames, window: &str) -> Vec<Query> {
    let w = window;
    let mut queries = Vec::new();
    let mut add = |id, pane, promql: String, cost| {
        queries.push(Query {
            id,
            pane,
            promql,
            cost,
        })
    };
    let requests = &names.dns_requests;
    let responses = &names.dns_responses;
    let native = names.native_histograms;
    let dns = Pane::Dns;
    add(
        QueryId::DnsQps,
        dns,
        format!("sum(rate({requests}[{w}]))"),
        Cost::Refresh,
    );
    add(
        QueryId::DnsQpsByPod,
        dns,
        // `instance` too: a scrape that keeps no pod label names the pod by its address.
        format!("sum by (pod,instance)(rate({requests}[{w}]))"),
        Cost::Refresh,
    );
    add(
        QueryId::DnsP50,
        dns,
        quantile(0.5, "coredns_dns_request_duration_seconds", native, "", w),
        Cost::Refresh,
    );
    add(
        QueryId::DnsP99,
        dns,
        quantile(0.99, "coredns_dns_request_duration_seconds", native, "", w),
        Cost::Refresh,
    );
    add(
        QueryId::DnsRcodes,
        dns,
        format!("sum by (rcode)(rate({responses}[{w}]))"),
        Cost::Refresh,
    );
    add(
        QueryId::DnsCacheHitRatio,
        dns,
        if names.cache_requests {
            format!(
                "sum(rate(coredns_cache_hits_total[{w}])) / sum(rate(coredns_cache_requests_total[{w}]))"
            )
        } else {
            format!(
                "sum(rate(coredns_cache_hits_total[{w}])) / (sum(rate(coredns_cache_hits_total[{w}])) + sum(rate(coredns_cache_misses_total[{w}])))"
            )
        },
        Cost::Refresh,
    );
    match names.upstream {
        Upstream::Proxy => {
            let selector = "{proxy_name=\"forward\"}";
            add(
                QueryId::DnsUpstreamQps,
                dns,
                if native {
                    format!(
                        "sum(histogram_count(rate(coredns_proxy_request_duration_seconds{selector}[{w}])))"
                    )
                } else {
                    format!(
                        "sum(rate(coredns_proxy_request_duration_seconds_count{selector}[{w}]))"
                    )
                },
                Cost::Refresh,
            );
            add(
                QueryId::DnsUpstreamP99,
                dns,
                quantile(
                    0.99,
                    "coredns_proxy_request_duration_seconds",
                    native,
                    selector,
                    w,
                ),
                Cost::Refresh,
            );
        }
        Upstream::Forward => {
            add(
                QueryId::DnsUpstreamQps,
                dns,
                format!("sum(rate(coredns_forward_requests_total[{w}]))"),
                Cost::Refresh,
            );
            add(
                QueryId::DnsUpstreamP99,
                dns,
                quantile(
                    0.99,
                    "coredns_forward_request_duration_seconds",
                    native,
                    "",
                    w,
                ),
                Cost::Refresh,
            );
        }
        Upstream::Absent => {}
    }
    add(
        QueryId::DnsPanics,
        dns,
        "sum(increase(coredns_panics_total[1h]))".to_string(),
        Cost::Refresh,
    );
    add(
        QueryId::DnsMemoryByPod,
        dns,
        "max by (pod)(container_memory_working_set_bytes{namespace=\"kube-system\",container=\"coredns\"})".to_string(),
        Cost::Refresh,
    );
    add(
        QueryId::DnsCpuByPod,
        dns,
        format!(
            "sum by (pod)(rate(container_cpu_usage_seconds_total{{namespace=\"kube-system\",container=\"coredns\"}}[{w}]))"
        ),
        Cost::Refresh,
    );
    if let Some(source) = names.flows {
        for (id, promql) in super::flow_metrics::queries(source, w) {
            add(id, Pane::Flows, promql, Cost::Refresh);
        }
    }
    if let Some(k) = &names.karpenter {
        let nodes = Pane::Nodes;
        add(
            QueryId::NodesCreated,
            nodes,
            format!("sum by (nodepool,reason)(increase({}[1h]))", k.created),
            Cost::Refresh,
        );
        add(
            QueryId::NodesTerminated,
            nodes,
            format!("sum by (nodepool,reason)(increase({}[1h]))", k.terminated),
            Cost::Refresh,
        );
        if let Some(disrupted) = &k.disrupted {
            add(
                QueryId::NodesDisrupted,
                nodes,
                // v0.3x labels the disruption `type`, v1 `reason`.
                format!("sum by (reason,type)(increase({disrupted}[1h]))"),
                Cost::Refresh,
            );
        }
        if let Some(usage) = &k.usage {
            add(
                QueryId::NodePoolUsage,
                nodes,
                format!("sum by (nodepool)({usage}{{resource_type=\"cpu\"}})"),
                Cost::Refresh,
            );
        }
        if let Some(limit) = &k.limit {
            add(
                QueryId::NodePoolLimit,
                nodes,
                format!("sum by (nodepool)({limit}{{resource_type=\"cpu\"}})"),
                Cost::Refresh,
            );
        }
    }
    let rs = Pane::Rightsizing;
    // Erratum 8: throttled periods over total periods, not throttled seconds.
    add(
        QueryId::Throttling,
        rs,
        format!(
            "sum by (namespace,pod,container)(rate(container_cpu_cfs_throttled_periods_total{{container!=\"\",container!=\"POD\"}}[{w}])) / sum by (namespace,pod,container)(rate(container_cpu_cfs_periods_total{{container!=\"\",container!=\"POD\"}}[{w}]))"
        ),
        Cost::Refresh,
    );
    // Erratum 7: the rate goes inside the subquery; a quantile of the raw counter means nothing.
    // The subquery keeps 5-minute steps whatever the "now" window: a week of finer steps
    // would be exactly the load a cockpit must not put on Prometheus.
    let w = RATE_WINDOW;
    add(
        QueryId::CpuP95,
        rs,
        format!(
            "quantile_over_time(0.95, sum by (namespace,pod,container)(rate(container_cpu_usage_seconds_total{{container!=\"\",container!=\"POD\"}}[{w}]))[{USAGE_WINDOW}:{w}])"
        ),
        Cost::Expensive,
    );
    for (id, q) in [(QueryId::MemoryP95, 0.95), (QueryId::MemoryP99, 0.99)] {
        add(
            id,
            rs,
            format!(
                "quantile_over_time({q}, max by (namespace,pod,container)(container_memory_working_set_bytes{{container!=\"\",container!=\"POD\"}})[{USAGE_WINDOW}:{w}])"
            ),
            Cost::Expensive,
        );
    }
    add(
        QueryId::Alerts,
        Pane::Dns,
        "ALERTS{alertstate=\"firing\"}".to_string(),
        Cost::Refresh,
    );
    queries
}

/// The range queries that fill the DNS charts with the last hour when the cockpit starts.
pub fn dns_history(names: &MetricNames, window: &str) -> Vec<(QueryId, String)> {
    catalogue(names, window)
        .into_iter()
        .filter(|q| {
            matches!(
                q.id,
                QueryId::DnsQps
                    | QueryId::DnsP50
                    | QueryId::DnsP99
                    | QueryId::DnsCacheHitRatio
                    | QueryId::DnsRcodes
            )
        })
        .map(|q| (q.id, q.promql))
        .collect()
}

/// The label that tells the parts of a combined query apart.
const PART_LABEL: &str = "kockpit_query";

/// A pane's expensive queries as one request, so each pane sends at most one long-window
/// query per period whatever its number of figures. Each part is tagged with a label.
pub fn combine(queries: &[&Query]) -> String {
    queries
        .iter()
        .map(|q| {
            let tag = serde_json::to_value(q.id)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "label_replace({}, \"{PART_LABEL}\", \"{tag}\", \"\", \"\")",
                q.promql
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Splits the answer to [`combine`] back into each query's samples.
pub fn split(queries: &[&Query], samples: Vec<Sample>) -> Vec<(QueryId, Vec<Sample>)> {
    let mut parts: BTreeMap<QueryId, Vec<Sample>> =
        queries.iter().map(|q| (q.id, Vec::new())).collect();
    for mut sample in samples {
        let Some(tag) = sample.labels.remove(PART_LABEL) else {
            continue;
        };
        let Ok(id) = serde_json::from_value::<QueryId>(serde_json::Value::String(tag)) else {
            continue;
        };
        if let Some(part) = parts.get_mut(&id) {
            part.push(sample);
        }
    }
    parts.into_iter().collect()
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Why a result could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    #[error("the response is not Prometheus JSON: {0}")]
    Malformed(String),
    #[error("Prometheus answered with an error: {0}")]
    Query(String),
    #[error("the result is a {0}, not a vector")]
    NotVector(String),
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<EnvelopeData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct EnvelopeData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorElement {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Reads an `/api/v1/query` response body with a vector result.
pub fn parse_vector(body: &str) -> Result<Vec<Sample>, ResultError> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| ResultError::Malformed(e.to_string()))?;
    if envelope.status != "success" {
        return Err(ResultError::Query(envelope.error.unwrap_or_default()));
    }
    let data = envelope
        .data
        .ok_or_else(|| ResultError::Malformed("no data".to_string()))?;
    if data.result_type != "vector" {
        return Err(ResultError::NotVector(data.result_type));
    }
    let elements: Vec<VectorElement> =
        serde_json::from_value(data.result).map_err(|e| ResultError::Malformed(e.to_string()))?;
    Ok(elements
        .into_iter()
        .map(|e| Sample {
            labels: e.metric,
            value: parse_value(&e.value.1),
        })
        .collect())
}

/// Prometheus writes sample values as strings, including "NaN" and "+Inf".
pub fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// The latest answer to each query; a query that has never succeeded is absent.
pub type Results = BTreeMap<QueryId, Vec<Sample>>;

/// A single number from a one-element result; NaN (e.g. 0/0 with no traffic) counts as none.
fn scalar(results: &Results, id: QueryId) -> Option<f64> {
    results
        .get(&id)?
        .iter()
        .map(|s| s.value)
        .find(|v| v.is_finite())
}

/// A per-pod figure keyed by pod name: from the `pod` label, else from the address in
/// `instance` (`10.0.1.57:9153`) matched to a pod's IP.
fn by_pod_or_address(
    results: &Results,
    id: QueryId,
    pods: &[super::model::DnsPod],
) -> BTreeMap<String, f64> {
    let mut map = BTreeMap::new();
    for sample in results.get(&id).into_iter().flatten() {
        if !sample.value.is_finite() {
            continue;
        }
        let address = sample
            .label("instance")
            .rsplit_once(':')
            .map_or(sample.label("instance"), |(host, _)| host);
        let pod = pods.iter().find(|p| {
            (!sample.label("pod").is_empty() && p.name == sample.label("pod"))
                || (sample.label("pod").is_empty()
                    && !address.is_empty()
                    && p.ip.as_deref() == Some(address))
        });
        if let Some(pod) = pod {
            *map.entry(pod.name.clone()).or_default() += sample.value;
        }
    }
    map
}

fn by_label<'a>(results: &'a Results, id: QueryId, label: &str) -> BTreeMap<&'a str, f64> {
    let mut map = BTreeMap::new();
    for sample in results.get(&id).into_iter().flatten() {
        if sample.value.is_finite() {
            *map.entry(sample.label(label)).or_default() += sample.value;
        }
    }
    map
}

/// The DNS pane's figures from Prometheus, merged into the Kubernetes facts. Nothing is
/// invented: without the QPS query there are no metrics; a missing p99 keeps 0 and the
/// pane says which figure is missing.
pub fn merge_dns(snapshot: &mut DnsSnapshot, results: &Results) {
    // The pods' working set and CPU come from cAdvisor: they show whether or not CoreDNS's
    // own metrics are scraped.
    let memory = by_label(results, QueryId::DnsMemoryByPod, "pod");
    let cpu = by_label(results, QueryId::DnsCpuByPod, "pod");
    for pod in &mut snapshot.pods {
        if let Some(bytes) = memory.get(pod.name.as_str()) {
            pod.memory_mib = Some(bytes / (1024.0 * 1024.0));
        }
        if let Some(cores) = cpu.get(pod.name.as_str()) {
            pod.cpu_millicores = Some(cores * 1000.0);
        }
    }
    let Some(qps) = scalar(results, QueryId::DnsQps) else {
        return;
    };
    let ms = |id| scalar(results, id).map(|s| s * 1000.0);
    let mut rcodes: Vec<RcodeRate> = by_label(results, QueryId::DnsRcodes, "rcode")
        .into_iter()
        .map(|(rcode, qps)| RcodeRate {
            rcode: rcode.to_string(),
            qps,
        })
        .collect();
    rcodes.sort_by(|a, b| b.qps.total_cmp(&a.qps));
    let previous = snapshot.metrics.take();
    snapshot.metrics = Some(DnsMetrics {
        qps,
        p50_ms: ms(QueryId::DnsP50).unwrap_or(0.0),
        p99_ms: ms(QueryId::DnsP99).unwrap_or(0.0),
        cache_hit_ratio: scalar(results, QueryId::DnsCacheHitRatio).unwrap_or(0.0),
        rcodes,
        upstream_p99_ms: ms(QueryId::DnsUpstreamP99),
        upstream_qps: scalar(results, QueryId::DnsUpstreamQps),
        // Which client sends the NXDOMAIN queries is not in CoreDNS's metrics.
        nxdomain_sources: previous.map(|m| m.nxdomain_sources).unwrap_or_default(),
        panics_last_hour: scalar(results, QueryId::DnsPanics)
            .map(|p| p.round().max(0.0) as u32)
            .unwrap_or(0),
    });
    if results.contains_key(&QueryId::DnsQpsByPod) {
        let qps_by_pod = by_pod_or_address(results, QueryId::DnsQpsByPod, &snapshot.pods);
        for pod in &mut snapshot.pods {
            pod.qps = Some(qps_by_pod.get(&pod.name).copied().unwrap_or(0.0));
        }
    }
}

/// Karpenter's own gauges fill NodePool figures the objects did not give (a cross-check:
/// the objects win where both exist), and its counters give the last hour's churn.
pub fn merge_nodes(snapshot: &mut NodeSnapshot, results: &Results) {
    let usage = by_label(results, QueryId::NodePoolUsage, "nodepool");
    let limit = by_label(results, QueryId::NodePoolLimit, "nodepool");
    for pool in &mut snapshot.nodepools {
        if pool.cpu_limit.is_none()
            && let Some(l) = limit.get(pool.name.as_str())
        {
            pool.cpu_limit = Some(*l);
        }
        if pool.cpu_provisioned <= 0.0
            && let Some(u) = usage.get(pool.name.as_str())
        {
            pool.cpu_provisioned = *u;
        }
    }
    snapshot.counted = karpenter_counts(results);
}

/// An hour's increase as a count: Prometheus extrapolates, so round to the nearest.
fn count(value: f64) -> u32 {
    if value.is_finite() {
        value.round().clamp(0.0, f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Launches, terminations and disruptions of the last hour, from Karpenter's counters.
pub fn karpenter_counts(results: &Results) -> Option<KarpenterCounts> {
    let total = |id| {
        results.get(&id).map(|samples| {
            samples
                .iter()
                .map(|s| s.value)
                .filter(|v| v.is_finite())
                .sum::<f64>()
        })
    };
    let launched = total(QueryId::NodesCreated)?;
    let terminated = total(QueryId::NodesTerminated)?;
    let mut disruption_reasons = BTreeMap::new();
    for sample in results.get(&QueryId::NodesDisrupted).into_iter().flatten() {
        let raw = match sample.label("reason") {
            "" => sample.label("type"),
            reason => reason,
        };
        let n = count(sample.value);
        if n > 0 && !raw.is_empty() {
            *disruption_reasons
                .entry(super::nodes::disruption_reason(raw))
                .or_insert(0) += n;
        }
    }
    Some(KarpenterCounts {
        launched: count(launched),
        terminated: count(terminated),
        disruption_reasons,
    })
}

/// Whether a pod belongs to a workload: `<workload>-<hash>-<id>`, `<workload>-<ordinal>`,
/// or `<workload>-<id>` for DaemonSets.
fn owned_by(pod: &str, workload: &str) -> bool {
    pod.strip_prefix(workload)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('-').collect();
            !rest.is_empty()
                && parts.len() <= 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        })
}

/// Per-replica usage from the 7-day percentiles: the mean over the workload's pods of each
/// pod's percentile.
pub fn merge_workloads(snapshot: &mut WorkloadSnapshot, results: &Results) {
    let Some(cpu) = results.get(&QueryId::CpuP95) else {
        return;
    };
    let mean_for = |samples: Option<&Vec<Sample>>, ns: &str, workload: &str, container: &str| {
        let values: Vec<f64> = samples
            .into_iter()
            .flatten()
            .filter(|s| {
                s.label("namespace") == ns
                    && s.label("container") == container
                    && owned_by(s.label("pod"), workload)
                    && s.value.is_finite()
            })
            .map(|s| s.value)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    for row in &mut snapshot.workloads {
        let (ns, name, container) = (
            row.namespace.as_str(),
            row.name.as_str(),
            row.container.as_str(),
        );
        let Some(cpu_cores) = mean_for(Some(cpu), ns, name, container) else {
            continue;
        };
        let mib = |id| {
            mean_for(results.get(&id), ns, name, container)
                .map(|b| b / (1024.0 * 1024.0))
                .unwrap_or(0.0)
        };
        row.usage = Some(UsageStats {
            cpu_p95_m: cpu_cores * 1000.0,
            memory_p95_mib: mib(QueryId::MemoryP95),
            memory_p99_mib: mib(QueryId::MemoryP99),
            throttling_ratio: mean_for(results.get(&QueryId::Throttling), ns, name, container)
                .unwrap_or(0.0),
            history_days: 7.0,
        });
    }
    snapshot.window = USAGE_WINDOW.to_string();
}

/// Firing alerts from the `ALERTS` series.
pub fn alerts(results: &Results, at: Timestamp) -> Option<AlertSnapshot> {
    let samples = results.get(&QueryId::Alerts)?;
    let alerts = samples
        .iter()
        .map(|s| {
            let mut labels = s.labels.clone();
            labels.remove("__name__");
            labels.remove("alertstate");
            let name = labels.remove("alertname").unwrap_or_default();
            let severity = labels.remove("severity").unwrap_or_default();
            Alert {
                name,
                severity,
                labels,
                active_since: at,
                summary: String::new(),
            }
        })
        .collect();
    Some(AlertSnapshot { at, alerts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::DnsPod;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn new_coredns_uses_the_proxy_histogram() {
        let n = MetricNames::detect(&names(&[
            "coredns_dns_requests_total",
            "coredns_proxy_request_duration_seconds_bucket",
        ]));
        assert_eq!(n.upstream, Upstream::Proxy);
        let upstream = catalogue(&n, RATE_WINDOW)
            .into_iter()
            .find(|q| q.id == QueryId::DnsUpstreamP99)
            .expect("upstream p99");
        assert!(
            upstream
                .promql
                .contains("coredns_proxy_request_duration_seconds_bucket{proxy_name=\"forward\"}")
        );
    }

    #[test]
    fn old_coredns_uses_forward_and_legacy_names() {
        let n = MetricNames::detect(&names(&[
            "coredns_dns_request_count_total",
            "coredns_dns_response_code_count_total",
            "coredns_forward_request_duration_seconds_bucket",
        ]));
        assert_eq!(n.upstream, Upstream::Forward);
        assert_eq!(n.dns_requests, "coredns_dns_request_count_total");
        let q = catalogue(&n, RATE_WINDOW);
        assert!(
            q.iter()
                .any(|q| q.promql == "sum(rate(coredns_dns_request_count_total[5m]))")
        );
        assert!(q.iter().any(|q| {
            q.promql
                .contains("coredns_forward_request_duration_seconds_bucket")
        }));
        assert!(n.karpenter.is_none(), "no karpenter metric was listed");
    }

    #[test]
    fn karpenter_names_by_version() {
        let v1 = MetricNames::detect(&names(&[
            "karpenter_nodeclaims_created_total",
            "karpenter_nodeclaims_terminated_total",
            "karpenter_nodepool_usage",
        ]));
        let k = v1.karpenter.expect("v1");
        assert_eq!(k.created, "karpenter_nodeclaims_created_total");
        assert!(k.limit.is_none());
        let old = MetricNames::detect(&names(&[
            "karpenter_nodes_created",
            "karpenter_nodes_terminated",
        ]));
        assert_eq!(
            old.karpenter.expect("v0.3x").created,
            "karpenter_nodes_created"
        );
    }

    #[test]
    fn cpu_percentile_rates_inside_the_subquery() {
        let q = catalogue(&MetricNames::detect(&BTreeSet::new()), RATE_WINDOW);
        let cpu = q.iter().find(|q| q.id == QueryId::CpuP95).expect("cpu p95");
        assert_eq!(cpu.cost, Cost::Expensive);
        assert!(cpu.promql.starts_with("quantile_over_time(0.95, sum by (namespace,pod,container)(rate(container_cpu_usage_seconds_total"));
        assert!(cpu.promql.ends_with("[7d:5m])"));
        let throttling = q
            .iter()
            .find(|q| q.id == QueryId::Throttling)
            .expect("throttling");
        assert!(
            throttling.promql.contains("cfs_throttled_periods_total")
                && throttling.promql.contains("cfs_periods_total")
        );
    }

    const QPS: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"412.5"]}]}}"#;

    #[test]
    fn parses_vectors_errors_and_garbage() {
        let v = parse_vector(QPS).expect("vector");
        assert_eq!(v.len(), 1);
        assert!((v[0].value - 412.5).abs() < 1e-9);
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"NaN"]}]}}"#;
        assert!(parse_vector(nan).expect("nan")[0].value.is_nan());
        assert!(matches!(
            parse_vector(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#),
            Err(ResultError::Query(e)) if e == "parse error"
        ));
        assert!(matches!(
            parse_vector("<html>"),
            Err(ResultError::Malformed(_))
        ));
        assert!(matches!(
            parse_vector(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#),
            Err(ResultError::NotVector(_))
        ));
    }

    fn dns_snapshot() -> DnsSnapshot {
        let pod = |name: &str| DnsPod {
            name: name.to_string(),
            node: "n".to_string(),
            zone: "z".to_string(),
            qps: None,
            memory_mib: None,
            cpu_millicores: None,
            ip: None,
        };
        DnsSnapshot {
            at: Timestamp::default(),
            replicas: 2,
            ready_replicas: 2,
            memory_limit_mib: None,
            pods: vec![pod("coredns-a"), pod("coredns-b")],
            corefile: None,
            nodelocal_dns: false,
            metrics: None,
        }
    }

    fn results(pairs: &[(QueryId, &str)]) -> Results {
        pairs
            .iter()
            .map(|(id, body)| (*id, parse_vector(body).expect("canned")))
            .collect()
    }

    #[test]
    fn dns_figures_from_canned_results() {
        let mut snapshot = dns_snapshot();
        let r = results(&[
            (QueryId::DnsQps, QPS),
            (
                QueryId::DnsP99,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.125"]}]}}"#,
            ),
            (
                QueryId::DnsRcodes,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"rcode":"NOERROR"},"value":[1,"300"]},{"metric":{"rcode":"NXDOMAIN"},"value":[1,"100"]}]}}"#,
            ),
            (
                QueryId::DnsQpsByPod,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"coredns-a"},"value":[1,"400"]}]}}"#,
            ),
            (
                QueryId::DnsMemoryByPod,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"coredns-b"},"value":[1,"104857600"]}]}}"#,
            ),
        ]);
        merge_dns(&mut snapshot, &r);
        let m = snapshot.metrics.as_ref().expect("metrics");
        assert!((m.qps - 412.5).abs() < 1e-9);
        assert!((m.p99_ms - 125.0).abs() < 1e-9);
        assert!((m.nxdomain_ratio() - 0.25).abs() < 1e-9);
        assert_eq!(snapshot.pods[0].qps, Some(400.0));
        assert_eq!(snapshot.pods[1].qps, Some(0.0));
        assert_eq!(snapshot.pods[1].memory_mib, Some(100.0));
        assert_eq!(snapshot.pods[0].memory_mib, None);
    }

    #[test]
    fn no_qps_means_no_metrics() {
        let mut snapshot = dns_snapshot();
        merge_dns(&mut snapshot, &Results::new());
        assert!(snapshot.metrics.is_none());
    }

    #[test]
    fn pods_belong_to_their_workload_only() {
        assert!(owned_by("web-5d8f9c7b6d-x2x9k", "web"));
        assert!(owned_by("ledger-2", "ledger"));
        assert!(!owned_by("web-api-5d8f9c7b6d-x2x9k", "web"));
        assert!(!owned_by("webster-1", "web"));
    }

    #[test]
    fn expensive_queries_travel_as_one() {
        let all = catalogue(&MetricNames::detect(&BTreeSet::new()), RATE_WINDOW);
        let expensive: Vec<&Query> = all.iter().filter(|q| q.cost == Cost::Expensive).collect();
        assert_eq!(expensive.len(), 3);
        let promql = combine(&expensive);
        assert_eq!(promql.matches("quantile_over_time").count(), 3);
        assert!(promql.contains("\"kockpit_query\", \"cpu-p95\""));
        let mut labels = BTreeMap::new();
        labels.insert("kockpit_query".to_string(), "memory-p99".to_string());
        labels.insert("pod".to_string(), "a-1".to_string());
        let parts = split(&expensive, vec![Sample { labels, value: 3.0 }]);
        let memory = parts
            .iter()
            .find(|p| p.0 == QueryId::MemoryP99)
            .expect("part");
        assert_eq!(memory.1.len(), 1);
        assert_eq!(memory.1[0].label("pod"), "a-1");
        assert!(
            parts
                .iter()
                .find(|p| p.0 == QueryId::CpuP95)
                .expect("cpu")
                .1
                .is_empty()
        );
    }
}
