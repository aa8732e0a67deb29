//! Workloads as they run: replica counts (fixed or HPA-driven), OOM kills and restarts, and
//! the right-sizing view (7-day percentiles of the usage curve against requests).

use std::collections::VecDeque;

use super::curves::Curve;
use super::names::pod_name;
use super::rng::{SplitMix64, hash_str, mix};
use super::state::{Pod, Specs, State, WorkloadRuntime, WorkloadSource, seconds};
use crate::domain::Timestamp;
use crate::domain::model::{NamespaceInfo, UsageStats, VpaAdvice, WorkloadSnapshot, WorkloadUsage};
use crate::domain::scenario::{DnsSpread, Scenario, WorkloadKind, WorkloadSpec, ZoneSpread};

/// How often an HPA re-evaluates, and how long it waits before scaling in.
const HPA_PERIOD_S: i64 = 15;
const HPA_SCALE_DOWN_WINDOW_S: i64 = 300;
/// A pod over its memory limit is killed within about ten minutes.
const OOM_KILLS_PER_POD_HOUR: f64 = 6.0;
/// Pods of one workload differ in memory by up to this share either way.
const MEMORY_SPREAD: f64 = 0.12;
/// CrashLoopBackOff settles at one restart every five minutes.
const CRASH_LOOP_RESTART_S: f64 = 300.0;
/// How long a crash-looping workload has been failing when the simulation starts.
const CRASH_LOOP_HOURS_BEFORE: f64 = 3.0;

pub fn curve(scenario: &Scenario, spec: &WorkloadSpec, key: u64) -> Curve {
    Curve::new(
        spec.diurnal,
        spec.noise,
        scenario.traffic_peak_hour_utc,
        key,
    )
}

/// A workload as it starts: `(zones, seed, now)` place it in the cluster.
pub fn new_runtime(
    source: WorkloadSource,
    name: &str,
    spec: &WorkloadSpec,
    scenario: &Scenario,
    (zones, seed, now): (usize, u64, Timestamp),
) -> WorkloadRuntime {
    let namespace = spec.namespace.as_str();
    let key = mix(seed, hash_str(&format!("{namespace}/{name}")));
    let curve = curve(scenario, spec, key);
    let desired = desired_replicas(spec, &curve, now);
    let oom_7d = prior_oom_kills_7d(spec, &curve, desired);
    let template_fingerprint = template_fingerprint(spec, scenario, &source);
    let crash_before = if spec.crash_looping {
        (f64::from(desired) * CRASH_LOOP_HOURS_BEFORE * 3600.0 / CRASH_LOOP_RESTART_S).round()
            as u32
    } else {
        spec.crash_restarts_per_day.round() as u32
    };
    WorkloadRuntime {
        source,
        namespace: namespace.to_string(),
        name: name.to_string(),
        kind: spec.kind,
        key,
        template_key: mix(
            key,
            spec.cpu_request_m.to_bits() ^ spec.memory_request_mib.to_bits(),
        ),
        template_fingerprint,
        pods: Vec::new(),
        desired,
        last_scale: now - chrono::Duration::hours(1),
        zone_counts: vec![0; zones],
        unbound: 0,
        next_serial: 0,
        oom_kills: VecDeque::new(),
        restarts: VecDeque::new(),
        oom_kills_before: oom_7d,
        restarts_before: (f64::from(oom_7d) / 7.0).round() as u32 + crash_before,
    }
}

/// CPU the workload needs in total right now, in millicores.
fn cpu_demand(spec: &WorkloadSpec, curve: &Curve, at: Timestamp) -> f64 {
    spec.cpu_usage_m * f64::from(spec.replicas) * curve.load(at)
}

fn hpa_replicas(spec: &WorkloadSpec, demand_m: f64) -> u32 {
    match &spec.hpa {
        Some(hpa) => {
            let per_replica_target = spec.cpu_request_m * hpa.target_cpu_percent / 100.0;
            let wanted = (demand_m / per_replica_target.max(1.0)).ceil() as u32;
            wanted.clamp(hpa.min_replicas, hpa.max_replicas)
        }
        None => spec.replicas,
    }
}

/// Replicas the controller wants at `at` (the HPA's raw recommendation, if any).
pub fn desired_replicas(spec: &WorkloadSpec, curve: &Curve, at: Timestamp) -> u32 {
    hpa_replicas(spec, cpu_demand(spec, curve, at))
}

/// CPU per replica at a given load, with `replicas` sharing the demand.
fn cpu_per_replica(spec: &WorkloadSpec, load: f64, replicas: u32) -> f64 {
    let demand = spec.cpu_usage_m * f64::from(spec.replicas) * load;
    if spec.hpa.is_some() {
        demand / f64::from(replicas.max(1))
    } else {
        spec.cpu_usage_m * load
    }
}

/// CPU per replica at the load exceeded a share `1 - q` of the week.
fn cpu_quantile(spec: &WorkloadSpec, curve: &Curve, q: f64) -> f64 {
    let load = curve.load_quantile(q);
    let demand = spec.cpu_usage_m * f64::from(spec.replicas) * load;
    cpu_per_replica(spec, load, hpa_replicas(spec, demand))
}

fn memory_quantile(spec: &WorkloadSpec, curve: &Curve, q: f64) -> f64 {
    let pod_spread = 1.0 + MEMORY_SPREAD * (2.0 * q - 1.0).max(0.0) * 0.7;
    spec.memory_usage_mib * curve.memory_quantile(q) * pod_spread
}

/// Share of pods whose working set is over the limit when the average pod uses `memory`.
fn share_over_limit(memory: f64, limit: f64) -> f64 {
    if memory <= 0.0 {
        return 0.0;
    }
    ((memory * (1.0 + MEMORY_SPREAD) - limit) / (memory * 2.0 * MEMORY_SPREAD)).clamp(0.0, 1.0)
}

/// OOM kills the last week would have seen, from the daily curve alone.
fn prior_oom_kills_7d(spec: &WorkloadSpec, curve: &Curve, replicas: u32) -> u32 {
    let Some(limit) = spec.memory_limit_mib else {
        return 0;
    };
    let quiet = Curve {
        noise: 0.0,
        ..*curve
    };
    let day_start = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let per_day: f64 = (0..96)
        .map(|i| {
            let at = day_start + chrono::Duration::minutes(15 * i);
            let memory = spec.memory_usage_mib * quiet.memory_load(at);
            share_over_limit(memory, limit) * OOM_KILLS_PER_POD_HOUR * 0.25
        })
        .sum();
    (per_day * 7.0 * f64::from(replicas)).round() as u32
}

/// Brings pod counts to the desired replicas; an HPA re-evaluates every 15 seconds and
/// waits five minutes of lower demand before scaling in.
pub fn reconcile_replicas(state: &mut State, specs: Specs<'_>, evaluate_hpa: bool) {
    let now = state.now;
    for w in 0..state.workloads.len() {
        let runtime = &state.workloads[w];
        let Some(spec) = specs.workload(&runtime.source) else {
            continue;
        };
        if evaluate_hpa || spec.hpa.is_none() {
            let curve = curve(specs.scenario, spec, runtime.key);
            let wanted = desired_replicas(spec, &curve, now);
            let current = runtime.desired;
            let since_scale = now - runtime.last_scale;
            let may_scale_in =
                spec.hpa.is_none() || since_scale.num_seconds() >= HPA_SCALE_DOWN_WINDOW_S;
            let next = if wanted > current || may_scale_in {
                wanted
            } else {
                current
            };
            if next != current {
                let runtime = &mut state.workloads[w];
                runtime.desired = next;
                runtime.last_scale = now;
            }
        }
        let (desired, len) = (
            state.workloads[w].desired as usize,
            state.workloads[w].pods.len(),
        );
        for _ in len..desired {
            state.add_pod(w, spec.cpu_request_m, spec.memory_request_mib);
        }
        for _ in desired..len {
            state.remove_last_pod(w);
        }
    }
}

/// What of a workload's spec is in its pod template: requests, limits, `ndots` and the
/// topology spread. A change to any of them (a client's patch) rolls the pods.
pub fn template_fingerprint(
    spec: &WorkloadSpec,
    scenario: &Scenario,
    source: &WorkloadSource,
) -> u64 {
    let spread = match source {
        WorkloadSource::CoreDns => scenario.dns.spread == DnsSpread::Zones,
        WorkloadSource::Spec(_) => spec.zone_spread == ZoneSpread::Required,
    };
    let limit = |value: Option<f64>| value.map_or(u64::MAX, f64::to_bits);
    [
        spec.cpu_request_m.to_bits(),
        spec.memory_request_mib.to_bits(),
        limit(spec.cpu_limit_m),
        limit(spec.memory_limit_mib),
        u64::from(spec.dns.ndots),
        u64::from(spread),
    ]
    .into_iter()
    .fold(0x7e3d_1a7e, mix)
}

/// Rolling updates: when a workload's pod template changed, its pods are replaced by pods of
/// the new template, never more unavailable at once than the strategy allows (a quarter of
/// the replicas for a Deployment, one pod for a StatefulSet, highest ordinal first). Old
/// pods that are not ready are replaced first: removing them costs no availability.
pub fn roll_out(state: &mut State, specs: Specs<'_>) {
    let now = state.now;
    for w in 0..state.workloads.len() {
        let runtime = &state.workloads[w];
        let Some(spec) = specs.workload(&runtime.source) else {
            continue;
        };
        let wanted = template_fingerprint(spec, specs.scenario, &runtime.source);
        if wanted != runtime.template_fingerprint {
            let runtime = &mut state.workloads[w];
            runtime.template_fingerprint = wanted;
            runtime.template_key = mix(runtime.template_key, wanted);
        }
        let runtime = &state.workloads[w];
        let current = runtime.template_key;
        let mut old: Vec<usize> = (0..runtime.pods.len())
            .filter(|&p| runtime.pods[p].template_key != current)
            .collect();
        if old.is_empty() {
            continue;
        }
        // StatefulSets go from the highest ordinal down.
        old.reverse();
        let max_unavailable = if runtime.kind == WorkloadKind::StatefulSet {
            1
        } else {
            (runtime.desired as usize / 4).max(1)
        };
        let (not_ready, ready): (Vec<usize>, Vec<usize>) =
            old.into_iter().partition(|&p| !runtime.pods[p].ready(now));
        let unavailable = runtime.pods.iter().filter(|p| !p.ready(now)).count();
        let budget = max_unavailable.saturating_sub(unavailable);
        let (cpu, memory) = (spec.cpu_request_m, spec.memory_request_mib);
        for p in not_ready.into_iter().chain(ready.into_iter().take(budget)) {
            state.replace_pod(w, p, cpu, memory);
        }
    }
}

/// Whether the HPA should run this step.
pub fn hpa_due(step: u64, step_seconds: i64) -> bool {
    (step as i64 * step_seconds) % HPA_PERIOD_S < step_seconds
}

/// OOM kills, crash restarts and crash loops for one step.
pub fn health_events(state: &mut State, specs: Specs<'_>, rng: &mut SplitMix64, step_s: f64) {
    let now = state.now;
    for runtime in &mut state.workloads {
        let Some(spec) = specs.workload(&runtime.source) else {
            continue;
        };
        if spec.crash_looping {
            for pod in runtime.pods.iter_mut().filter(|p| p.bound) {
                pod.ready_at = None;
                if rng.chance(step_s / CRASH_LOOP_RESTART_S) {
                    pod.restarts += 1;
                    runtime.restarts.push_back(now);
                }
            }
        } else {
            let running = runtime.pods.len() - runtime.unbound;
            if running == 0 {
                continue;
            }
            let curve = curve(specs.scenario, spec, runtime.key);
            let memory = spec.memory_usage_mib * curve.memory_load(now);
            let over = spec
                .memory_limit_mib
                .map(|l| share_over_limit(memory, l))
                .unwrap_or(0.0);
            let oom_rate = running as f64 * over * OOM_KILLS_PER_POD_HOUR * step_s / 3600.0;
            let crash_rate = spec.crash_restarts_per_day * step_s / 86_400.0;
            let ooms = rng.poisson(oom_rate);
            let crashes = rng.poisson(crash_rate);
            for i in 0..(ooms + crashes) {
                // A few draws find a running pod without listing them all every step.
                let victim = (0..8)
                    .map(|_| rng.below(runtime.pods.len()))
                    .find(|&p| runtime.pods[p].ready(now));
                let Some(victim) = victim else {
                    continue;
                };
                let pod = &mut runtime.pods[victim];
                pod.restarts += 1;
                pod.ready_at = Some(now + seconds(10.0 + spec.startup_seconds));
                runtime.restarts.push_back(now);
                if i < ooms {
                    runtime.oom_kills.push_back(now);
                }
            }
        }
        while runtime
            .oom_kills
            .front()
            .is_some_and(|t| now - *t > chrono::Duration::days(7))
        {
            runtime.oom_kills.pop_front();
        }
        while runtime
            .restarts
            .front()
            .is_some_and(|t| now - *t > chrono::Duration::hours(24))
        {
            runtime.restarts.pop_front();
        }
    }
}

/// CPU throttling from a CPU limit: bursts hit the limit well before the average does.
fn throttling(cpu_now: f64, limit: Option<f64>) -> f64 {
    match limit {
        Some(limit) if limit > 0.0 => ((cpu_now * 1.5 / limit - 0.6) * 0.8).clamp(0.0, 0.9),
        _ => 0.0,
    }
}

fn round_to(value: f64, step: f64) -> f64 {
    (value / step).ceil() * step
}

/// What the simulated VPA recommender targets for one replica: (millicores, MiB). The
/// VPA objects' status and the right-sizing view show the same figures.
pub fn vpa_target(spec: &WorkloadSpec, curve: &Curve) -> (f64, f64) {
    (
        round_to(cpu_quantile(spec, curve, 0.9) * 1.15, 5.0),
        round_to(memory_quantile(spec, curve, 0.9) * 1.15, 1.0),
    )
}

fn usage_row(
    spec: &WorkloadSpec,
    namespace: &str,
    name: &str,
    replicas: u32,
    curve: &Curve,
    now: Timestamp,
) -> WorkloadUsage {
    let cpu_now = cpu_per_replica(spec, curve.load(now), replicas);
    WorkloadUsage {
        namespace: namespace.to_string(),
        name: name.to_string(),
        kind: spec.kind.as_str().to_string(),
        container: spec.container.clone().unwrap_or_else(|| name.to_string()),
        replicas,
        cpu_request_m: spec.cpu_request_m,
        cpu_limit_m: spec.cpu_limit_m,
        memory_request_mib: spec.memory_request_mib,
        memory_limit_mib: spec.memory_limit_mib,
        oom_kills_7d: 0,
        restarts_24h: 0,
        vpa: spec.vpa.as_ref().map(|mode| {
            let (cpu_target_m, memory_target_mib) = vpa_target(spec, curve);
            VpaAdvice {
                update_mode: mode.clone(),
                cpu_target_m,
                memory_target_mib,
            }
        }),
        hpa_on_cpu: spec.hpa.is_some(),
        usage: Some(UsageStats {
            cpu_p95_m: cpu_quantile(spec, curve, 0.95),
            memory_p95_mib: memory_quantile(spec, curve, 0.95),
            memory_p99_mib: memory_quantile(spec, curve, 0.99),
            throttling_ratio: throttling(cpu_now, spec.cpu_limit_m),
            history_days: 7.0,
        }),
    }
}

/// The right-sizing view: every workload and DaemonSet, per replica.
pub fn snapshot(state: &State, specs: Specs<'_>, ready_nodes: u32, seed: u64) -> WorkloadSnapshot {
    let now = state.now;
    let scenario = specs.scenario;
    let mut workloads = Vec::new();
    for runtime in &state.workloads {
        let Some(spec) = specs.workload(&runtime.source) else {
            continue;
        };
        let curve = curve(scenario, spec, runtime.key);
        let mut row = usage_row(
            spec,
            &runtime.namespace,
            &runtime.name,
            runtime.desired,
            &curve,
            now,
        );
        row.oom_kills_7d = runtime.oom_kills_before + runtime.oom_kills.len() as u32;
        row.restarts_24h = runtime.restarts_before + runtime.restarts.len() as u32;
        workloads.push(row);
    }
    for (name, spec) in scenario
        .workloads
        .iter()
        .filter(|(_, w)| w.kind == WorkloadKind::DaemonSet)
    {
        let key = mix(seed, hash_str(&format!("{}/{name}", spec.namespace)));
        let curve = curve(scenario, spec, key);
        workloads.push(usage_row(
            spec,
            &spec.namespace,
            name,
            ready_nodes,
            &curve,
            now,
        ));
    }
    workloads.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut namespaces: Vec<NamespaceInfo> = scenario
        .namespaces
        .iter()
        .map(|(name, ns)| NamespaceInfo {
            name: name.clone(),
            cost_center: ns.cost_center.clone(),
            team: ns.team.clone(),
            environment: ns.environment.clone(),
        })
        .collect();
    if !scenario.namespaces.contains_key("kube-system") {
        namespaces.push(NamespaceInfo {
            name: "kube-system".to_string(),
            cost_center: None,
            team: None,
            environment: None,
        });
        namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    }
    WorkloadSnapshot {
        at: now,
        window: "7d".to_string(),
        workloads,
        namespaces,
    }
}

/// The pod name a runtime pod is shown under.
pub fn pod_display_name(runtime: &WorkloadRuntime, pod: &Pod) -> String {
    pod_name(
        &runtime.name,
        runtime.kind == WorkloadKind::StatefulSet,
        pod.template_key,
        pod.serial,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scenario::HpaSpec;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            namespace: "shop".into(),
            replicas: 4,
            cpu_request_m: 500.0,
            cpu_usage_m: 300.0,
            memory_request_mib: 512.0,
            memory_usage_mib: 380.0,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn percentiles_follow_the_curve() {
        let s = spec();
        let c = Curve::new(s.diurnal, s.noise, 15.0, 1);
        let p95 = cpu_quantile(&s, &c, 0.95);
        assert!(p95 > 300.0 * 1.25 && p95 < 300.0 * 1.45, "{p95}");
        assert!(memory_quantile(&s, &c, 0.99) > memory_quantile(&s, &c, 0.95));
    }

    #[test]
    fn hpa_keeps_replicas_near_target() {
        let mut s = spec();
        s.hpa = Some(HpaSpec {
            min_replicas: 2,
            max_replicas: 20,
            target_cpu_percent: 70.0,
        });
        let c = Curve::new(s.diurnal, s.noise, 15.0, 1);
        let p95 = cpu_quantile(&s, &c, 0.95);
        assert!(
            p95 <= 350.0 + 1e-9,
            "per replica stays at or below the target: {p95}"
        );
        assert!(hpa_replicas(&s, 300.0 * 4.0 * 1.5) > hpa_replicas(&s, 300.0 * 4.0));
    }

    #[test]
    fn memory_near_the_limit_means_oom_kills() {
        let mut s = spec();
        let c = Curve::new(s.diurnal, 0.0, 15.0, 1);
        s.memory_limit_mib = Some(1024.0);
        assert_eq!(prior_oom_kills_7d(&s, &c, 4), 0);
        s.memory_limit_mib = Some(400.0);
        assert!(prior_oom_kills_7d(&s, &c, 4) > 3);
        assert_eq!(throttling(100.0, None), 0.0);
        assert!(throttling(900.0, Some(1000.0)) > 0.3);
    }
}
