//! The simulated cluster as Prometheus sees it: the text exposition `sim serve` answers on
//! `/metrics`, with the metric names real exporters use (CoreDNS, Karpenter, Hubble, cAdvisor),
//! and OpenMetrics history for `promtool tsdb create-blocks-from openmetrics`.
//!
//! The simulator knows rates; Prometheus wants counters. Counters are the simulator's rates
//! integrated over virtual time between renders, kept per simulated cluster (each one built
//! in this process), so they only ever grow and `rate()` over them gives back the
//! simulator's figures.
//!
//! East-west traffic is published in the shape of the flow exporter the scenario names
//! (`[observability] flow_metrics`, or `sim serve --flow-metrics`): see `flows`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

mod flows;
use std::sync::{Mutex, PoisonError};

use super::curves::Curve;
use super::engine::SimCluster;
use super::names::pod_name;
use super::state::WorkloadSource;
use super::workloads;
use crate::domain::model::{ChurnKind, DnsSnapshot, NodeSnapshot, Update};
use crate::domain::scenario::{CorednsVersion, KarpenterVersion, WorkloadKind, WorkloadSpec};
use crate::domain::time::Timestamp;

/// Latency bucket bounds in seconds: finer than CoreDNS's powers of two so that
/// `histogram_quantile` lands close to the simulator's percentiles wherever they fall.
fn latency_buckets() -> Vec<f64> {
    let mut bounds = Vec::new();
    let mut bound = 0.000_25;
    while bound < 10.0 {
        bounds.push(bound);
        bound *= 1.25;
    }
    bounds
}

/// What one series is worth now: a gauge value, a rate to integrate, or a running total.
#[derive(Debug, Clone, Copy)]
enum Value {
    Gauge(f64),
    Rate(f64),
    Total(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

struct Series {
    family: &'static str,
    kind: Kind,
    /// The sample name (differs from the family for histogram parts).
    name: String,
    labels: String,
    value: Value,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    inner.join(",")
}

#[derive(Default)]
struct Out {
    series: Vec<Series>,
}

impl Out {
    fn push(&mut self, family: &'static str, kind: Kind, labels: String, value: Value) {
        self.series.push(Series {
            family,
            kind,
            name: family.to_string(),
            labels,
            value,
        });
    }

    /// A histogram whose bucket rates follow a distribution with the given median and 99th
    /// percentile. Within the buckets holding p50 and p99 the cumulative shares are chosen
    /// so that linear interpolation (what `histogram_quantile` does) gives them back.
    fn histogram(
        &mut self,
        family: &'static str,
        base: &str,
        per_sec: f64,
        p50_s: f64,
        p99_s: f64,
    ) {
        let bounds = latency_buckets();
        let shares = cumulative_shares(&bounds, p50_s, p99_s);
        let join = |extra: String| {
            if base.is_empty() {
                extra
            } else {
                format!("{base},{extra}")
            }
        };
        for (bound, share) in bounds.iter().zip(&shares) {
            self.series.push(Series {
                family,
                kind: Kind::Histogram,
                name: format!("{family}_bucket"),
                labels: join(format!("le=\"{bound}\"")),
                value: Value::Rate(per_sec * share),
            });
        }
        self.series.push(Series {
            family,
            kind: Kind::Histogram,
            name: format!("{family}_bucket"),
            labels: join("le=\"+Inf\"".to_string()),
            value: Value::Rate(per_sec),
        });
        self.series.push(Series {
            family,
            kind: Kind::Histogram,
            name: format!("{family}_sum"),
            labels: base.to_string(),
            value: Value::Rate(per_sec * (p50_s * 0.8 + p99_s * 0.2)),
        });
        self.series.push(Series {
            family,
            kind: Kind::Histogram,
            name: format!("{family}_count"),
            labels: base.to_string(),
            value: Value::Rate(per_sec),
        });
    }
}

/// Cumulative share of observations at or below each bound.
fn cumulative_shares(bounds: &[f64], p50: f64, p99: f64) -> Vec<f64> {
    let p50 = p50.max(bounds[0] * 1.01);
    let p99 = p99.max(p50 * 1.01);
    let bucket_of = |x: f64| bounds.iter().position(|b| *b >= x);
    let (Some(i50), Some(i99)) = (bucket_of(p50), bucket_of(p99)) else {
        return bounds.iter().map(|_| 0.0).collect();
    };
    let lower = |i: usize| if i == 0 { 0.0 } else { bounds[i - 1] };
    // Pinned values at bucket edges: (index of bound, share).
    let mut pins: Vec<(isize, f64)> = vec![(-1, 0.0)];
    if i50 == i99 {
        // Both in one bucket: pin its edges so the median comes out right.
        let f = (p50 - lower(i50)) / (bounds[i50] - lower(i50));
        pins.push((i50 as isize - 1, 0.5 - f * 0.49));
        pins.push((i50 as isize, 0.99));
    } else {
        let f50 = (p50 - lower(i50)) / (bounds[i50] - lower(i50));
        let f99 = (p99 - lower(i99)) / (bounds[i99] - lower(i99));
        let w50 = 0.3;
        let w99 = 0.009;
        pins.push((i50 as isize - 1, 0.5 - f50 * w50));
        pins.push((i50 as isize, 0.5 + (1.0 - f50) * w50));
        if i99 > i50 + 1 || (0.99 - f99 * w99) > 0.5 + (1.0 - f50) * w50 {
            pins.push((i99 as isize - 1, 0.99 - f99 * w99));
        }
        pins.push((i99 as isize, 0.99 + (1.0 - f99) * w99));
    }
    pins.push((bounds.len() as isize - 1, 1.0));
    pins.dedup_by_key(|p| p.0);
    let mut shares = Vec::with_capacity(bounds.len());
    for i in 0..bounds.len() as isize {
        let after = pins.iter().position(|p| p.0 >= i).unwrap_or(pins.len() - 1);
        let (hi_i, hi_v) = pins[after];
        let (lo_i, lo_v) = if after == 0 { pins[0] } else { pins[after - 1] };
        let share = if hi_i == lo_i {
            hi_v
        } else {
            lo_v + (hi_v - lo_v) * (i - lo_i) as f64 / (hi_i - lo_i) as f64
        };
        shares.push(share.clamp(0.0, 1.0));
    }
    // Monotone whatever rounding did.
    for i in 1..shares.len() {
        if shares[i] < shares[i - 1] {
            shares[i] = shares[i - 1];
        }
    }
    shares
}

fn dns_series(out: &mut Out, dns: &DnsSnapshot, version: CorednsVersion) {
    let Some(metrics) = &dns.metrics else {
        return;
    };
    let pods: Vec<(&str, f64)> = dns
        .pods
        .iter()
        .map(|p| (p.name.as_str(), p.qps.unwrap_or(0.0)))
        .collect();
    let pod_total: f64 = pods.iter().map(|p| p.1).sum();
    // Shares of the cluster's queries per pod; the pods' own figures wobble a little.
    let share = |qps: f64| {
        if pod_total > 0.0 {
            qps / pod_total
        } else {
            1.0 / pods.len().max(1) as f64
        }
    };
    let server = "dns://:53";
    for (pod, qps) in &pods {
        let part = share(*qps);
        let base = labels(&[("namespace", "kube-system"), ("pod", pod)]);
        let with = |extra: &[(&str, &str)]| {
            let mut all = vec![("namespace", "kube-system"), ("pod", *pod)];
            all.extend_from_slice(extra);
            labels(&all)
        };
        out.push(
            "coredns_dns_requests_total",
            Kind::Counter,
            with(&[
                ("server", server),
                ("zone", "."),
                ("proto", "udp"),
                ("type", "A"),
            ]),
            Value::Rate(metrics.qps * part),
        );
        for rcode in &metrics.rcodes {
            out.push(
                "coredns_dns_responses_total",
                Kind::Counter,
                with(&[("server", server), ("zone", "."), ("rcode", &rcode.rcode)]),
                Value::Rate(rcode.qps * part),
            );
        }
        out.histogram(
            "coredns_dns_request_duration_seconds",
            &with(&[("server", server), ("zone", ".")]),
            metrics.qps * part,
            metrics.p50_ms / 1000.0,
            metrics.p99_ms / 1000.0,
        );
        let hits = metrics.qps * part * metrics.cache_hit_ratio;
        // The cache plugin says `zones` (plural) where the prometheus plugin says `zone`.
        out.push(
            "coredns_cache_requests_total",
            Kind::Counter,
            with(&[("server", server), ("zones", ".")]),
            Value::Rate(metrics.qps * part),
        );
        out.push(
            "coredns_cache_hits_total",
            Kind::Counter,
            with(&[("server", server), ("type", "success"), ("zones", ".")]),
            Value::Rate(hits),
        );
        out.push(
            "coredns_cache_misses_total",
            Kind::Counter,
            with(&[("server", server), ("zones", ".")]),
            Value::Rate(metrics.qps * part - hits),
        );
        if let (Some(upstream_qps), Some(upstream_p99)) =
            (metrics.upstream_qps, metrics.upstream_p99_ms)
        {
            let to = "169.254.169.253:53";
            match version {
                // CoreDNS before 1.11 reports its upstream traffic as the forward plugin's.
                CorednsVersion::V1_10 => {
                    out.push(
                        "coredns_forward_requests_total",
                        Kind::Counter,
                        with(&[("to", to)]),
                        Value::Rate(upstream_qps * part),
                    );
                    out.histogram(
                        "coredns_forward_request_duration_seconds",
                        &with(&[("to", to), ("rcode", "NOERROR")]),
                        upstream_qps * part,
                        upstream_p99 / 4000.0,
                        upstream_p99 / 1000.0,
                    );
                }
                CorednsVersion::V1_11 | CorednsVersion::V1_12 => out.histogram(
                    "coredns_proxy_request_duration_seconds",
                    &with(&[("proxy_name", "forward"), ("to", to), ("rcode", "NOERROR")]),
                    upstream_qps * part,
                    upstream_p99 / 4000.0,
                    upstream_p99 / 1000.0,
                ),
            }
        }
        out.push(
            "coredns_panics_total",
            Kind::Counter,
            base.clone(),
            Value::Total(0.0),
        );
        let _ = base;
    }
}

/// A disruption reason in the words a Karpenter version counts it with: v0.37's `type`
/// (`drift`, `emptiness`, `expiration`; consolidation is not counted there) or v1.1's
/// lower-case `reason`.
fn karpenter_reason(reason: &str, version: KarpenterVersion) -> Option<&'static str> {
    Some(match (reason, version) {
        ("Drifted", KarpenterVersion::V0_37) => "drift",
        ("Empty", KarpenterVersion::V0_37) => "emptiness",
        ("Expired", KarpenterVersion::V0_37) => "expiration",
        (_, KarpenterVersion::V0_37) => return None,
        ("Drifted", KarpenterVersion::V1) => "drifted",
        ("Empty", KarpenterVersion::V1) => "empty",
        ("Expired", KarpenterVersion::V1) => "expired",
        ("Underutilized", KarpenterVersion::V1) => "underutilized",
        ("SpotInterrupted", KarpenterVersion::V1) => "interruption",
        (_, KarpenterVersion::V1) => "unhealthy",
    })
}

fn karpenter_series(
    out: &mut Out,
    nodes: &NodeSnapshot,
    counts: &BTreeMap<String, f64>,
    version: KarpenterVersion,
) {
    let v1 = version == KarpenterVersion::V1;
    let (usage, limit) = if v1 {
        ("karpenter_nodepools_usage", "karpenter_nodepools_limit")
    } else {
        ("karpenter_nodepool_usage", "karpenter_nodepool_limit")
    };
    for pool in &nodes.nodepools {
        out.push(
            usage,
            Kind::Gauge,
            labels(&[("nodepool", &pool.name), ("resource_type", "cpu")]),
            Value::Gauge(pool.cpu_provisioned),
        );
        if let Some(cpu) = pool.cpu_limit {
            out.push(
                limit,
                Kind::Gauge,
                labels(&[("nodepool", &pool.name), ("resource_type", "cpu")]),
                Value::Gauge(cpu),
            );
        }
    }
    for (key, total) in counts {
        let mut parts = key.splitn(3, '\u{1f}');
        let (Some(family), Some(pool), Some(reason)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (name, labels) = match (family, v1) {
            ("created", true) => (
                "karpenter_nodeclaims_created_total",
                labels(&[("nodepool", pool), ("reason", "provisioned")]),
            ),
            ("created", false) => (
                "karpenter_nodeclaims_created",
                labels(&[("nodepool", pool), ("reason", "provisioning")]),
            ),
            // v1 counts terminations by NodePool only; the reason is the disruption's.
            ("terminated", true) => (
                "karpenter_nodeclaims_terminated_total",
                labels(&[("nodepool", pool)]),
            ),
            ("terminated", false) => (
                "karpenter_nodeclaims_terminated",
                labels(&[("nodepool", pool), ("reason", &reason.to_ascii_lowercase())]),
            ),
            (_, _) => {
                let Some(word) = karpenter_reason(reason, version) else {
                    continue;
                };
                if v1 {
                    (
                        "karpenter_nodeclaims_disrupted_total",
                        labels(&[("nodepool", pool), ("reason", word)]),
                    )
                } else {
                    (
                        "karpenter_nodeclaims_disrupted",
                        labels(&[("nodepool", pool), ("type", word)]),
                    )
                }
            }
        };
        out.push(name, Kind::Counter, labels, Value::Total(*total));
    }
}

/// One container's usage now: CPU millicores per replica and working set in MiB.
pub(super) fn container_usage(
    spec: &WorkloadSpec,
    curve: &Curve,
    replicas: u32,
    at: Timestamp,
) -> (f64, f64) {
    let load = curve.load(at);
    // An HPA spreads the workload's demand over the replicas it runs; otherwise each replica
    // follows the curve on its own (as the simulator's right-sizing view assumes).
    let cpu = if spec.hpa.is_some() {
        spec.cpu_usage_m * f64::from(spec.replicas) * load / f64::from(replicas.max(1))
    } else {
        spec.cpu_usage_m * load
    };
    (cpu, spec.memory_usage_mib * curve.memory_load(at))
}

/// Containers of the simulated workloads: (namespace, pod, container, spec, curve, replicas).
struct Container<'a> {
    namespace: String,
    pod: String,
    container: String,
    spec: &'a WorkloadSpec,
    curve: Curve,
    replicas: u32,
}

fn containers(cluster: &SimCluster) -> Vec<Container<'_>> {
    let scenario = cluster.spec();
    let state = cluster.state();
    let now = cluster.now();
    let mut all = Vec::new();
    for runtime in &state.workloads {
        let WorkloadSource::Spec(name) = &runtime.source else {
            continue;
        };
        let Some(spec) = scenario.workloads.get(name) else {
            continue;
        };
        let curve = workloads::curve(scenario, spec, runtime.key);
        let ready: Vec<_> = runtime.pods.iter().filter(|p| p.ready(now)).collect();
        for pod in &ready {
            let stateful = spec.kind == WorkloadKind::StatefulSet;
            all.push(Container {
                namespace: runtime.namespace.clone(),
                pod: pod_name(&runtime.name, stateful, pod.template_key, pod.serial),
                container: spec.container.clone().unwrap_or_else(|| name.clone()),
                spec,
                curve,
                replicas: ready.len() as u32,
            });
        }
    }
    all
}

fn cadvisor_series(out: &mut Out, cluster: &SimCluster, dns: &DnsSnapshot) {
    let now = cluster.now();
    for c in containers(cluster) {
        let (cpu_m, memory_mib) = container_usage(c.spec, &c.curve, c.replicas, now);
        cadvisor_container(
            out,
            &c.namespace,
            &c.pod,
            &c.container,
            cpu_m,
            memory_mib,
            c.spec.cpu_limit_m,
        );
    }
    for pod in &dns.pods {
        cadvisor_container(
            out,
            "kube-system",
            &pod.name,
            "coredns",
            pod.cpu_millicores.unwrap_or(0.0),
            pod.memory_mib.unwrap_or(0.0),
            None,
        );
    }
}

/// CFS periods are 100 ms: ten a second while the container runs.
const CFS_PERIODS_PER_SEC: f64 = 10.0;

fn cadvisor_container(
    out: &mut Out,
    namespace: &str,
    pod: &str,
    container: &str,
    cpu_m: f64,
    memory_mib: f64,
    cpu_limit_m: Option<f64>,
) {
    let set = labels(&[
        ("namespace", namespace),
        ("pod", pod),
        ("container", container),
    ]);
    out.push(
        "container_cpu_usage_seconds_total",
        Kind::Counter,
        set.clone(),
        Value::Rate(cpu_m / 1000.0),
    );
    out.push(
        "container_memory_working_set_bytes",
        Kind::Gauge,
        set.clone(),
        Value::Gauge(memory_mib * 1024.0 * 1024.0),
    );
    if let Some(limit) = cpu_limit_m.filter(|l| *l > 0.0) {
        // Bursts reach the limit before the average does (the simulator's own model).
        let throttled = ((cpu_m * 1.5 / limit - 0.6) * 0.8).clamp(0.0, 0.9);
        out.push(
            "container_cpu_cfs_periods_total",
            Kind::Counter,
            set.clone(),
            Value::Rate(CFS_PERIODS_PER_SEC),
        );
        out.push(
            "container_cpu_cfs_throttled_periods_total",
            Kind::Counter,
            set,
            Value::Rate(CFS_PERIODS_PER_SEC * throttled),
        );
    }
}

/// Counters of one simulated cluster, carried from one render to the next.
#[derive(Default)]
struct Counters {
    last: Option<Timestamp>,
    values: HashMap<String, f64>,
    churn_seen: BTreeSet<String>,
    churn_counts: BTreeMap<String, f64>,
}

impl Counters {
    fn note_churn(&mut self, nodes: &NodeSnapshot) {
        for event in &nodes.churn {
            let id = format!(
                "{}\u{1f}{}\u{1f}{:?}",
                event.at.timestamp(),
                event.node,
                event.kind
            );
            if !self.churn_seen.insert(id) {
                continue;
            }
            let family = match event.kind {
                ChurnKind::Launched => "created",
                ChurnKind::Terminated => "terminated",
            };
            *self
                .churn_counts
                .entry(format!(
                    "{family}\u{1f}{}\u{1f}{}",
                    event.nodepool, event.reason
                ))
                .or_default() += 1.0;
            if event.kind == ChurnKind::Terminated {
                *self
                    .churn_counts
                    .entry(format!(
                        "disrupted\u{1f}{}\u{1f}{}",
                        event.nodepool, event.reason
                    ))
                    .or_default() += 1.0;
            }
        }
    }
}

static COUNTERS: Mutex<BTreeMap<String, Counters>> = Mutex::new(BTreeMap::new());

fn collect(cluster: &SimCluster, counters: &mut Counters) -> Out {
    let mut out = Out::default();
    let observability = cluster.spec().observability;
    let updates = cluster.updates();
    let mut dns = None;
    for update in &updates {
        match update {
            Update::Dns(snapshot) => {
                dns_series(&mut out, snapshot, observability.coredns);
                dns = Some(snapshot);
            }
            Update::Nodes(snapshot) => {
                counters.note_churn(snapshot);
                karpenter_series(
                    &mut out,
                    snapshot,
                    &counters.churn_counts,
                    observability.karpenter,
                );
            }
            _ => {}
        }
    }
    if let Some(dns) = dns {
        cadvisor_series(&mut out, cluster, dns);
    }
    flows::series(&mut out, cluster);
    out
}

/// Advances the counters to the cluster's clock and returns each series' value.
fn evaluate(out: Out, counters: &mut Counters, now: Timestamp) -> Vec<(Series, f64)> {
    let elapsed = counters
        .last
        .map(|last| ((now - last).num_milliseconds() as f64 / 1000.0).max(0.0))
        .unwrap_or(0.0);
    counters.last = Some(now);
    out.series
        .into_iter()
        .map(|series| {
            let value = match series.value {
                Value::Gauge(v) | Value::Total(v) => v,
                Value::Rate(rate) => {
                    let key = format!("{}{{{}}}", series.name, series.labels);
                    let total = counters.values.entry(key).or_default();
                    *total += rate.max(0.0) * elapsed;
                    *total
                }
            };
            (series, value)
        })
        .collect()
}

fn format_value(value: f64) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        "NaN".to_string()
    }
}

/// The exposition `/metrics` serves for the cluster as it stands.
pub fn render(cluster: &SimCluster) -> String {
    let key = format!("{}\u{1f}{}", cluster.spec().name, cluster.instance());
    let mut all = COUNTERS.lock().unwrap_or_else(PoisonError::into_inner);
    let counters = all.entry(key).or_default();
    let out = collect(cluster, counters);
    let evaluated = evaluate(out, counters, cluster.now());
    drop(all);
    let mut families: BTreeMap<&'static str, (Kind, Vec<String>)> = BTreeMap::new();
    for (series, value) in evaluated {
        let lines = &mut families
            .entry(series.family)
            .or_insert((series.kind, Vec::new()))
            .1;
        lines.push(format!(
            "{}{{{}}} {}",
            series.name,
            series.labels,
            format_value(value)
        ));
    }
    let mut text = String::new();
    for (family, (kind, lines)) in families {
        let _ = writeln!(text, "# TYPE {family} {}", kind.as_str());
        for line in lines {
            let _ = writeln!(text, "{line}");
        }
    }
    text
}

/// History for `promtool tsdb create-blocks-from openmetrics`: the simulated cluster run from
/// `hours` before `cluster`'s clock up to it, sampled every `step_s` virtual seconds, with the
/// sample at the cluster's clock stamped `end_unix` (wall time, so Prometheus keeps it).
pub fn history(
    scenario: &crate::domain::scenario::Scenario,
    seed: u64,
    start: Timestamp,
    end_unix: i64,
    hours: u32,
    step_s: i64,
) -> String {
    let begin = start - chrono::Duration::hours(i64::from(hours));
    let mut cluster = SimCluster::new(scenario, seed, begin);
    let mut counters = Counters::default();
    let mut samples: SampleTable = BTreeMap::new();
    let mut at = begin;
    while at <= start {
        cluster.advance_to(at);
        let out = collect(&cluster, &mut counters);
        let stamp = end_unix - (start - at).num_seconds();
        for (series, value) in evaluate(out, &mut counters, at) {
            let name = format!("{}{{{}}}", series.name, series.labels);
            samples
                .entry((series.family, name))
                .or_insert((series.kind, Vec::new()))
                .1
                .push((stamp, value));
        }
        at += chrono::Duration::seconds(step_s);
    }
    openmetrics(samples)
}

/// A week (or any span) of container usage for the pods running now, at a coarse step:
/// what the right-sizing pane's 7-day percentiles read. Stepping the whole simulator over a
/// week would take minutes; the usage curves are pure functions of time, so they are
/// evaluated directly.
pub fn usage_history(cluster: &SimCluster, end_unix: i64, days: u32, step_s: i64) -> String {
    let now = cluster.now();
    let span = i64::from(days) * 86_400;
    let mut samples: SampleTable = BTreeMap::new();
    for c in containers(cluster) {
        let set = labels(&[
            ("namespace", &c.namespace),
            ("pod", &c.pod),
            ("container", &c.container),
        ]);
        let mut cpu_seconds = 0.0;
        let mut offset = span;
        while offset >= 0 {
            let at = now - chrono::Duration::seconds(offset);
            // Over a week an HPA scales the workload with its load, as the simulator's
            // own percentiles assume.
            let replicas = if c.spec.hpa.is_some() {
                workloads::desired_replicas(c.spec, &c.curve, at)
            } else {
                c.replicas
            };
            let (cpu_m, memory_mib) = container_usage(c.spec, &c.curve, replicas, at);
            cpu_seconds += cpu_m / 1000.0 * step_s as f64;
            let stamp = end_unix - offset;
            samples
                .entry((
                    "container_cpu_usage_seconds_total",
                    format!("container_cpu_usage_seconds_total{{{set}}}"),
                ))
                .or_insert((Kind::Counter, Vec::new()))
                .1
                .push((stamp, cpu_seconds));
            samples
                .entry((
                    "container_memory_working_set_bytes",
                    format!("container_memory_working_set_bytes{{{set}}}"),
                ))
                .or_insert((Kind::Gauge, Vec::new()))
                .1
                .push((stamp, memory_mib * 1024.0 * 1024.0));
            offset -= step_s;
        }
    }
    openmetrics(samples)
}

/// Samples per (family, series), each with its kind and (unix seconds, value) points.
type SampleTable = BTreeMap<(&'static str, String), (Kind, Vec<(i64, f64)>)>;

fn openmetrics(samples: SampleTable) -> String {
    let mut text = String::new();
    let mut family_seen = None;
    for ((family, name), (kind, points)) in samples {
        if family_seen != Some(family) {
            family_seen = Some(family);
            // OpenMetrics names counters without `_total`; promtool wants the family that way.
            let kind_name = match kind {
                Kind::Histogram => "histogram",
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let declared = match kind {
                Kind::Counter => family.trim_end_matches("_total"),
                _ => family,
            };
            let _ = writeln!(text, "# TYPE {declared} {kind_name}");
        }
        for (stamp, value) in points {
            let _ = writeln!(text, "{name} {} {stamp}", format_value(value));
        }
    }
    text.push_str("# EOF\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `histogram_quantile` does with cumulative shares at the bounds.
    fn quantile(bounds: &[f64], shares: &[f64], q: f64) -> f64 {
        let i = shares
            .iter()
            .position(|s| *s >= q)
            .unwrap_or(bounds.len() - 1);
        let (lo, lo_share) = if i == 0 {
            (0.0, 0.0)
        } else {
            (bounds[i - 1], shares[i - 1])
        };
        lo + (bounds[i] - lo) * (q - lo_share) / (shares[i] - lo_share)
    }

    #[test]
    fn histogram_quantile_gives_back_the_percentiles() {
        let bounds = latency_buckets();
        for (p50, p99) in [(0.002, 0.03), (0.0041, 0.18), (0.01, 0.011), (0.0005, 0.9)] {
            let shares = cumulative_shares(&bounds, p50, p99);
            let got50 = quantile(&bounds, &shares, 0.5);
            let got99 = quantile(&bounds, &shares, 0.99);
            assert!((got50 / p50 - 1.0).abs() < 0.05, "{p50} -> {got50}");
            assert!((got99 / p99 - 1.0).abs() < 0.05, "{p99} -> {got99}");
            assert!(shares.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn counters_only_grow_and_rates_come_back() {
        let scenario = crate::backend::sim::scenarios::load("dns-storm").expect("built-in");
        let mut cluster = SimCluster::new(&scenario, 99, super::super::scenario_t0());
        let first = render(&cluster);
        cluster.advance(12);
        let second = render(&cluster);
        let total = |text: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with("coredns_dns_requests_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let qps = cluster
            .updates()
            .into_iter()
            .find_map(|u| match u {
                Update::Dns(d) => d.metrics.map(|m| m.qps),
                _ => None,
            })
            .expect("dns metrics");
        let rate = (total(&second) - total(&first)) / 60.0;
        assert!(total(&second) > total(&first));
        assert!((rate / qps - 1.0).abs() < 0.2, "rate {rate} vs qps {qps}");
        assert!(second.contains("# TYPE coredns_dns_request_duration_seconds histogram"));
        assert!(second.contains("container_cpu_usage_seconds_total{"));
    }
}
