//! Container Insights as the usage source of the Right-sizing pane when no Prometheus is
//! configured: per workload (`PodName` is the pod name without its ReplicaSet and random
//! suffixes, so it names the workload), `pod_cpu_usage_total` (millicores) and
//! `pod_memory_working_set` (bytes) averaged over 5 minutes across the workload's pods,
//! with the percentiles taken here over the week (CloudWatch percentiles of a 5-minute
//! average are not available for these metrics).

use std::collections::{BTreeMap, BTreeSet};

use super::queries::{MetricSpec, Series, Stat, Window, percentile};
use crate::domain::model::{UsageStats, WorkloadSnapshot};
use crate::domain::time::Timestamp;

pub const NAMESPACE: &str = "ContainerInsights";
/// CPU in millicores, per pod.
pub const CPU_METRIC: &str = "pod_cpu_usage_total";
/// Working-set memory in bytes, per pod.
pub const MEMORY_METRIC: &str = "pod_memory_working_set";
pub const PERIOD_S: i32 = 300;
/// The window the percentiles cover, as the Prometheus source's.
pub const WINDOW_DAYS: i64 = 7;
/// What the Right-sizing pane's "window" figure says when the usage comes from here.
pub const WINDOW_LABEL: &str = "7d CW";

/// A workload as Container Insights names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadKey {
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Cpu,
    Memory,
}

/// The workloads of a snapshot, for the scheduler to query.
pub fn workloads(snapshot: &WorkloadSnapshot) -> BTreeSet<WorkloadKey> {
    snapshot
        .workloads
        .iter()
        .map(|w| WorkloadKey {
            namespace: w.namespace.clone(),
            name: w.name.clone(),
        })
        .collect()
}

/// The window of one refresh: the last week of whole 5-minute periods.
pub fn window(now: Timestamp) -> Window {
    let periods = WINDOW_DAYS * 86_400 / i64::from(PERIOD_S);
    Window::last(now, i64::from(PERIOD_S), periods)
}

/// Two queries per workload.
pub fn specs(
    cluster: &str,
    workloads: &BTreeSet<WorkloadKey>,
) -> Vec<((WorkloadKey, Resource), MetricSpec)> {
    workloads
        .iter()
        .flat_map(|w| {
            [
                (Resource::Cpu, CPU_METRIC),
                (Resource::Memory, MEMORY_METRIC),
            ]
            .map(|(resource, metric)| {
                (
                    (w.clone(), resource),
                    MetricSpec::new(
                        NAMESPACE,
                        metric,
                        &[
                            ("ClusterName", cluster),
                            ("Namespace", &w.namespace),
                            ("PodName", &w.name),
                        ],
                        Stat::average(),
                        PERIOD_S,
                    ),
                )
            })
        })
        .collect()
}

/// Usage per workload with both CPU and memory series. Container Insights has no CFS
/// throttling figure, so `throttling_ratio` is 0.
pub fn usage(
    series: &BTreeMap<(WorkloadKey, Resource), Series>,
) -> BTreeMap<WorkloadKey, UsageStats> {
    let mut out = BTreeMap::new();
    for ((workload, resource), cpu) in series {
        if *resource != Resource::Cpu {
            continue;
        }
        let Some(memory) = series.get(&(workload.clone(), Resource::Memory)) else {
            continue;
        };
        let cpu_values = cpu.values();
        let memory_mib: Vec<f64> = memory
            .values()
            .iter()
            .map(|b| b / (1024.0 * 1024.0))
            .collect();
        let (Some(cpu_p95_m), Some(memory_p95_mib), Some(memory_p99_mib)) = (
            percentile(&cpu_values, 0.95),
            percentile(&memory_mib, 0.95),
            percentile(&memory_mib, 0.99),
        ) else {
            continue;
        };
        let span = |s: &Series| match (s.points.first(), s.points.last()) {
            (Some((first, _)), Some((last, _))) => {
                (*last - *first).num_seconds() as f64 + f64::from(PERIOD_S)
            }
            _ => 0.0,
        };
        out.insert(
            workload.clone(),
            UsageStats {
                cpu_p95_m,
                memory_p95_mib,
                memory_p99_mib,
                throttling_ratio: 0.0,
                history_days: span(cpu).min(span(memory)) / 86_400.0,
            },
        );
    }
    out
}

/// Puts the usage on rows that have none yet. A pod-level figure fits only a workload of
/// one container; workloads of several containers are left without. Returns how many rows
/// were filled.
pub fn merge(snapshot: &mut WorkloadSnapshot, usage: &BTreeMap<WorkloadKey, UsageStats>) -> usize {
    let mut containers: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for w in &snapshot.workloads {
        *containers
            .entry((w.namespace.as_str(), w.name.as_str()))
            .or_default() += 1;
    }
    let single: BTreeSet<WorkloadKey> = containers
        .into_iter()
        .filter(|(_, count)| *count == 1)
        .map(|((namespace, name), _)| WorkloadKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
        .collect();
    let mut filled = 0;
    for row in &mut snapshot.workloads {
        if row.usage.is_some() {
            continue;
        }
        let key = WorkloadKey {
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        };
        if !single.contains(&key) {
            continue;
        }
        if let Some(stats) = usage.get(&key) {
            row.usage = Some(stats.clone());
            filled += 1;
        }
    }
    if filled > 0 {
        snapshot.window = WINDOW_LABEL.to_string();
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::WorkloadUsage;

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    fn key(name: &str) -> WorkloadKey {
        WorkloadKey {
            namespace: "shop".into(),
            name: name.into(),
        }
    }

    fn row(name: &str, container: &str) -> WorkloadUsage {
        WorkloadUsage {
            namespace: "shop".into(),
            name: name.into(),
            kind: "Deployment".into(),
            container: container.into(),
            replicas: 2,
            cpu_request_m: 1000.0,
            cpu_limit_m: None,
            memory_request_mib: 1024.0,
            memory_limit_mib: None,
            oom_kills_7d: 0,
            restarts_24h: 0,
            vpa: None,
            hpa_on_cpu: false,
            usage: None,
        }
    }

    #[test]
    fn two_queries_per_workload_with_the_container_insights_dimensions() {
        let specs = specs("prod", &[key("web")].into());
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].1.metric_name, CPU_METRIC);
        assert_eq!(specs[1].1.metric_name, MEMORY_METRIC);
        assert_eq!(
            specs[0].1.dimensions,
            vec![
                ("ClusterName".to_string(), "prod".to_string()),
                ("Namespace".to_string(), "shop".to_string()),
                ("PodName".to_string(), "web".to_string()),
            ]
        );
        let window = window(at(0));
        assert_eq!((window.end - window.start).num_days(), 7);
    }

    #[test]
    fn percentiles_over_the_window_and_only_on_single_container_workloads() {
        let cpu = Series {
            points: (0..20)
                .map(|i| (at(i * 300), (i + 1) as f64 * 10.0))
                .collect(),
        };
        let memory = Series {
            points: (0..20)
                .map(|i| (at(i * 300), (i + 1) as f64 * 1024.0 * 1024.0))
                .collect(),
        };
        let series: BTreeMap<(WorkloadKey, Resource), Series> = [
            ((key("web"), Resource::Cpu), cpu.clone()),
            ((key("web"), Resource::Memory), memory.clone()),
            ((key("sidecars"), Resource::Cpu), cpu),
            ((key("sidecars"), Resource::Memory), memory),
            // CPU without memory gives nothing rather than a zero.
            ((key("half"), Resource::Cpu), Series::default()),
        ]
        .into();
        let usage = usage(&series);
        let web = usage
            .get(&key("web"))
            .cloned()
            .unwrap_or_else(|| panic!("web"));
        assert_eq!(web.cpu_p95_m, 190.0);
        assert_eq!(web.memory_p95_mib, 19.0);
        assert_eq!(web.memory_p99_mib, 20.0);
        assert!((web.history_days - 6000.0 / 86_400.0).abs() < 1e-9);
        assert!(!usage.contains_key(&key("half")));

        let mut snapshot = WorkloadSnapshot {
            at: at(0),
            window: String::new(),
            workloads: vec![
                row("web", "app"),
                row("sidecars", "app"),
                row("sidecars", "proxy"),
                row("other", "app"),
            ],
            namespaces: Vec::new(),
        };
        assert_eq!(merge(&mut snapshot, &usage), 1);
        assert_eq!(snapshot.workloads[0].usage.as_ref(), Some(&web));
        assert!(snapshot.workloads[1].usage.is_none());
        assert_eq!(snapshot.window, WINDOW_LABEL);
        // Usage already there (Prometheus) is kept.
        let mut kept = snapshot.clone();
        if let Some(u) = kept.workloads[0].usage.as_mut() {
            u.cpu_p95_m = 1.0;
        }
        merge(&mut kept, &usage);
        assert_eq!(
            kept.workloads[0].usage.as_ref().map(|u| u.cpu_p95_m),
            Some(1.0)
        );
    }
}
