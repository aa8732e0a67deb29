//! The simulated Karpenter: launches NodeClaims for pending pods, disrupts nodes (spot
//! reclaims, drift, expiry, consolidation) within NodePool budgets and pod blockers, and
//! keeps the churn log the Nodes pane reads.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{Datelike, Timelike};

use super::catalog::shape_of;
use super::names::{node_name, nodeclaim_name};
use super::rng::{SplitMix64, mix, unit_hash};
use super::state::{
    Node, NodeDisruption, NodeId, PendingCause, Specs, State, WorkloadSource, seconds,
};
use super::workloads::pod_display_name;
use crate::domain::Timestamp;
use crate::domain::model::{
    Blocker, BlockerKind, Capacity, ChurnEvent, ChurnKind, DisruptionBudget, NodeInfo,
    NodePoolInfo, NodeSnapshot, PendingPod,
};
use crate::domain::scenario::{
    DisruptionSpec, DnsSpread, NodePoolSpec, Scenario, WorkloadSpec, ZoneSpread,
    parse_int_or_percent,
};
use crate::domain::time::parse_duration;

/// How long the churn log and claim history are kept (the pane shows the last hour).
const LOG_RETENTION_MINUTES: i64 = 90;
/// Replacement launches stay slow for a while after a wave's last reclaim.
const WAVE_AFTERMATH_MINUTES: f64 = 10.0;
/// Spot reclaims: a two-minute notice, then the instance is gone.
const SPOT_NOTICE_S: f64 = 110.0;
/// Voluntary disruptions drain and delete within about a minute.
const DRAIN_S: f64 = 60.0;
/// Karpenter leaves a NodePool alone for this long after consolidating it.
const CONSOLIDATION_COOLDOWN_MINUTES: i64 = 10;
/// Nodes whose workload pods request less than this share of CPU are underutilized.
const UNDERUTILIZED_SHARE: f64 = 0.35;
/// At most this many pending pods are listed in a snapshot.
const MAX_PENDING_LISTED: usize = 500;

/// What the engine tells Karpenter about time and chance.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub t0: Timestamp,
    pub seed: u64,
    pub step_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Karpenter {
    churn: VecDeque<ChurnEvent>,
    /// (created, initialized) of recent NodeClaims.
    claims: VecDeque<(Timestamp, Timestamp)>,
    last_consolidation: BTreeMap<String, Timestamp>,
}

/// How a disruption wave changes replacement launches in its NodePool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaveEffect {
    pub provisioning_seconds: Option<[f64; 2]>,
    pub on_demand_fallback: Option<f64>,
    pub zone: Option<usize>,
}

/// Resolves `b` or `us-east-1b` to a zone index.
pub fn zone_index(zones: &[String], zone: &str) -> Option<usize> {
    zones
        .iter()
        .position(|z| z == zone || z.ends_with(zone) && zone.len() == 1)
}

fn wave_start(spec: &DisruptionSpec, t0: Timestamp, wave: i64) -> Timestamp {
    let minutes = spec.start_minute + spec.repeat_every_minutes.unwrap_or(0.0) * wave as f64;
    t0 + seconds(minutes * 60.0)
}

/// Waves of `spec` that may hold events in (from, to].
fn waves_around(spec: &DisruptionSpec, t0: Timestamp, to: Timestamp) -> Vec<i64> {
    let elapsed_min = (to - t0).num_milliseconds() as f64 / 60_000.0 - spec.start_minute;
    if elapsed_min < 0.0 {
        return Vec::new();
    }
    match spec.repeat_every_minutes {
        Some(every) if every > 0.0 => {
            let current = (elapsed_min / every).floor() as i64;
            if current > 0 {
                vec![current - 1, current]
            } else {
                vec![current]
            }
        }
        _ => vec![0],
    }
}

fn event_time(
    spec: &DisruptionSpec,
    index: usize,
    wave: i64,
    event: u32,
    clock: &Clock,
) -> Timestamp {
    let jitter = unit_hash(mix(
        mix(clock.seed, index as u64),
        (wave as u64) << 20 | u64::from(event),
    ));
    let slot = spec.duration_minutes * 60.0 / f64::from(spec.count.max(1));
    wave_start(spec, clock.t0, wave)
        + seconds((f64::from(event) + 0.5 + 0.8 * (jitter - 0.5)) * slot)
}

/// The wave (if any) currently shaping launches in a NodePool.
pub fn active_wave(
    scenario: &Scenario,
    pool: &str,
    zones: &[String],
    now: Timestamp,
    t0: Timestamp,
) -> Option<WaveEffect> {
    scenario
        .disruptions
        .iter()
        .filter(|d| d.nodepool == pool)
        .find_map(|spec| {
            waves_around(spec, t0, now)
                .into_iter()
                .rev()
                .find_map(|wave| {
                    let start = wave_start(spec, t0, wave);
                    let end =
                        start + seconds((spec.duration_minutes + WAVE_AFTERMATH_MINUTES) * 60.0);
                    (start <= now && now < end).then(|| WaveEffect {
                        provisioning_seconds: spec.provisioning_seconds,
                        on_demand_fallback: spec.on_demand_fallback,
                        zone: spec.zone.as_deref().and_then(|z| zone_index(zones, z)),
                    })
                })
        })
}

impl Karpenter {
    pub fn record(&mut self, at: Timestamp, kind: ChurnKind, node: &Node, reason: &str) {
        self.churn.push_back(ChurnEvent {
            at,
            kind,
            node: node.name.clone(),
            nodepool: node.pool.clone(),
            reason: reason.to_string(),
        });
    }

    /// Launches and terminations of the retained window, oldest first.
    pub fn churn(&self) -> impl Iterator<Item = &ChurnEvent> {
        self.churn.iter()
    }

    pub fn trim(&mut self, now: Timestamp) {
        let horizon = now - chrono::Duration::minutes(LOG_RETENTION_MINUTES);
        while self.churn.front().is_some_and(|e| e.at < horizon) {
            self.churn.pop_front();
        }
        while self
            .claims
            .front()
            .is_some_and(|(created, _)| *created < horizon)
        {
            self.claims.pop_front();
        }
    }
}

/// Everything `launch` needs besides the state.
pub struct LaunchRequest<'a> {
    pub pool: &'a str,
    pub zone: usize,
    pub cpu_m: f64,
    pub memory_mib: f64,
    /// Bootstrapping: the node has existed for a while and is ready now.
    pub instant: bool,
}

/// Creates a NodeClaim for a pending pod, if the NodePool may grow.
pub fn launch(
    state: &mut State,
    specs: Specs<'_>,
    karpenter: &mut Karpenter,
    rng: &mut SplitMix64,
    clock: &Clock,
    request: &LaunchRequest<'_>,
) -> Option<NodeId> {
    let now = state.now;
    let pool = specs.scenario.nodepools.get(request.pool)?;
    let (daemon_cpu, daemon_memory, daemon_pods) = specs.daemon_requests();
    let fitting: Vec<&String> = pool
        .instance_types
        .iter()
        .filter(|t| {
            let shape = shape_of(t);
            shape.allocatable_cpu_m() - daemon_cpu >= request.cpu_m
                && shape.allocatable_memory_mib() - daemon_memory >= request.memory_mib
        })
        .collect();
    let instance_type = fitting.get(rng.below(fitting.len()))?.to_string();
    let shape = shape_of(&instance_type);
    if let Some(limit) = pool.cpu_limit {
        let provisioned: u32 = state
            .pool_nodes(request.pool)
            .map(|n| shape_of(&n.instance_type).vcpu)
            .sum();
        if f64::from(provisioned + shape.vcpu) > limit {
            return None;
        }
    }
    let wave = if request.instant {
        None
    } else {
        active_wave(specs.scenario, request.pool, &state.zones, now, clock.t0)
    };
    let fallback = wave
        .and_then(|w| w.on_demand_fallback)
        .unwrap_or(pool.on_demand_fallback);
    let spot_allowed = pool.capacity_types.contains(&Capacity::Spot);
    let on_demand_allowed = pool.capacity_types.contains(&Capacity::OnDemand);
    let capacity = if spot_allowed && !(on_demand_allowed && rng.chance(fallback)) {
        Capacity::Spot
    } else {
        Capacity::OnDemand
    };
    // A wave means no spot capacity in its zone: launch elsewhere.
    let zone = match wave.and_then(|w| w.zone) {
        Some(bad) if bad == request.zone && capacity == Capacity::Spot && state.zones.len() > 1 => {
            (1..state.zones.len())
                .map(|offset| (request.zone + offset) % state.zones.len())
                .min_by_key(|&z| state.pool_zone_nodes(request.pool, z).len())
                .unwrap_or(request.zone)
        }
        _ => request.zone,
    };
    let [low, high] = wave
        .and_then(|w| w.provisioning_seconds)
        .unwrap_or(pool.provisioning_seconds);
    let id = state.next_node_id;
    state.next_node_id += 1;
    let key = mix(clock.seed, id);
    let (created, latency) = if request.instant {
        (
            now - seconds(rng.range(2.0, 240.0) * 3600.0),
            rng.range(low, high),
        )
    } else {
        (now, low + (high - low) * rng.unit().powf(1.3))
    };
    let node = Node {
        id,
        name: node_name(&specs.scenario.region, zone, key),
        claim: Some(nodeclaim_name(request.pool, key)),
        pool: request.pool.to_string(),
        karpenter: true,
        instance_type,
        capacity,
        zone,
        created,
        registered_at: created + seconds(latency * 0.55),
        initialized_at: created + seconds(latency),
        disruption: None,
        cpu_allocatable_m: shape.allocatable_cpu_m(),
        memory_allocatable_mib: shape.allocatable_memory_mib(),
        max_pods: shape.max_pods,
        cpu_requested_m: daemon_cpu,
        memory_requested_mib: daemon_memory,
        pods: 0,
        daemon_pods,
        empty_since: Some(now),
    };
    if !request.instant {
        karpenter.record(now, ChurnKind::Launched, &node, "Provisioning");
        karpenter
            .claims
            .push_back((node.created, node.initialized_at));
    }
    state.add_node(node);
    Some(id)
}

/// Starts taking a node away: taint it, evict its pods, log the termination.
fn disrupt(state: &mut State, karpenter: &mut Karpenter, id: NodeId, reason: &str, delay_s: f64) {
    let now = state.now;
    let Some(node) = state.nodes.get_mut(&id) else {
        return;
    };
    node.disruption = Some(NodeDisruption {
        reason: reason.to_string(),
        since: now,
        gone_at: now + seconds(delay_s),
    });
    let node = node.clone();
    karpenter.record(now, ChurnKind::Terminated, &node, reason);
    state.evict_node(id);
}

/// Deletes nodes whose disruption has run its course.
pub fn remove_gone(state: &mut State) {
    let now = state.now;
    let gone: Vec<NodeId> = state
        .nodes
        .values()
        .filter(|n| n.disruption.as_ref().is_some_and(|d| d.gone_at <= now))
        .map(|n| n.id)
        .collect();
    for id in gone {
        state.remove_node(id);
    }
}

fn spot_victim(
    state: &State,
    rng: &mut SplitMix64,
    pool: &str,
    zone: Option<usize>,
) -> Option<NodeId> {
    let now = state.now;
    let candidates = |zone: Option<usize>| -> Vec<NodeId> {
        state
            .pool_nodes(pool)
            .filter(|n| {
                n.capacity == Capacity::Spot
                    && n.initialized(now)
                    && n.disruption.is_none()
                    && zone.is_none_or(|z| n.zone == z)
            })
            .map(|n| n.id)
            .collect()
    };
    let mut nodes = candidates(zone);
    if nodes.is_empty() && zone.is_some() {
        nodes = candidates(None);
    }
    nodes.get(rng.below(nodes.len())).copied()
}

/// Fires scheduled waves and background spot reclaims due in this step, and expiry.
pub fn disruptions(
    state: &mut State,
    specs: Specs<'_>,
    karpenter: &mut Karpenter,
    rng: &mut SplitMix64,
    clock: &Clock,
) {
    let now = state.now;
    let from = now - seconds(clock.step_s);
    for (index, spec) in specs.scenario.disruptions.iter().enumerate() {
        for wave in waves_around(spec, clock.t0, now) {
            for event in 0..spec.count {
                let at = event_time(spec, index, wave, event, clock);
                if !(from < at && at <= now) {
                    continue;
                }
                let zone = spec
                    .zone
                    .as_deref()
                    .and_then(|z| zone_index(&state.zones, z));
                if spec.reason == "SpotInterrupted" {
                    if let Some(victim) = spot_victim(state, rng, &spec.nodepool, zone) {
                        let delay = SPOT_NOTICE_S * rng.range(0.7, 1.0);
                        disrupt(state, karpenter, victim, "SpotInterrupted", delay);
                    }
                } else if let Some(victim) =
                    voluntary_victim(state, specs, &spec.nodepool, &spec.reason, |n| {
                        zone.is_none_or(|z| n.zone == z)
                    })
                {
                    disrupt(state, karpenter, victim, &spec.reason, DRAIN_S);
                }
            }
        }
    }
    for (name, pool) in &specs.scenario.nodepools {
        if pool.spot_interruptions_per_hour > 0.0
            && rng.chance(pool.spot_interruptions_per_hour * clock.step_s / 3600.0)
            && let Some(victim) = spot_victim(state, rng, name, None)
        {
            disrupt(state, karpenter, victim, "SpotInterrupted", SPOT_NOTICE_S);
        }
        // Expiry is forceful in Karpenter v1: budgets do not hold it back.
        let expire_after = parse_duration(&pool.expire_after)
            .map(|d| d.as_secs_f64())
            .unwrap_or(f64::MAX);
        let expired: Vec<NodeId> = state
            .pool_nodes(name)
            .filter(|n| {
                n.disruption.is_none() && (now - n.created).num_seconds() as f64 >= expire_after
            })
            .map(|n| n.id)
            .take(1)
            .collect();
        for id in expired {
            disrupt(state, karpenter, id, "Expired", DRAIN_S);
        }
    }
}

/// Disruptions a PodDisruptionBudget allows right now.
pub fn pdb_allowed(spec: &WorkloadSpec, desired: u32, healthy: u32) -> Option<u32> {
    let pdb = spec.pdb.as_ref()?;
    let scaled = |text: &str| {
        parse_int_or_percent(text).map(|(value, percent)| {
            if percent {
                (value * f64::from(desired) / 100.0).ceil() as u32
            } else {
                value as u32
            }
        })
    };
    if let Some(min) = pdb.min_available.as_deref().and_then(scaled) {
        return Some(healthy.saturating_sub(min));
    }
    let max = pdb.max_unavailable.as_deref().and_then(scaled)?;
    Some(max.saturating_sub(desired.saturating_sub(healthy)))
}

/// PDBs allowing no disruption and do-not-disrupt pods, plus the nodes they pin.
pub fn blockers(state: &State, specs: Specs<'_>) -> (Vec<Blocker>, BTreeSet<NodeId>) {
    let now = state.now;
    let mut list = Vec::new();
    let mut pinned = BTreeSet::new();
    for runtime in &state.workloads {
        let Some(spec) = specs.workload(&runtime.source) else {
            continue;
        };
        let healthy = runtime.ready_pods(now) as u32;
        if let Some(0) = pdb_allowed(spec, runtime.desired, healthy) {
            let rule = spec
                .pdb
                .as_ref()
                .map(|p| match (&p.min_available, &p.max_unavailable) {
                    (Some(min), _) => format!("minAvailable {min}"),
                    (None, Some(max)) => format!("maxUnavailable {max}"),
                    (None, None) => String::new(),
                })
                .unwrap_or_default();
            list.push(Blocker {
                kind: BlockerKind::Pdb,
                namespace: runtime.namespace.clone(),
                name: format!("{}-pdb", runtime.name),
                detail: format!(
                    "{rule}: 0 disruptions allowed ({healthy}/{} healthy)",
                    runtime.desired
                ),
            });
            pinned.extend(runtime.pods.iter().filter_map(|p| p.node));
        }
        if spec.do_not_disrupt {
            for pod in runtime.pods.iter().filter(|p| p.bound) {
                let node = pod
                    .node
                    .and_then(|id| state.nodes.get(&id))
                    .map(|n| n.name.clone())
                    .unwrap_or_default();
                list.push(Blocker {
                    kind: BlockerKind::DoNotDisrupt,
                    namespace: runtime.namespace.clone(),
                    name: pod_display_name(runtime, pod),
                    detail: format!("karpenter.sh/do-not-disrupt: \"true\" on node {node}"),
                });
                pinned.extend(pod.node);
            }
        }
    }
    (list, pinned)
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn cron_value(text: &str, names: &[&str], first: u32) -> Option<u32> {
    text.parse().ok().or_else(|| {
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .map(|i| i as u32 + first)
    })
}

fn cron_field(field: &str, value: u32, (min, max): (u32, u32), names: &[&str]) -> bool {
    field.split(',').any(|part| {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().unwrap_or(1).max(1)),
            None => (part, 1),
        };
        let bounds = if range == "*" {
            Some((min, max))
        } else if let Some((a, b)) = range.split_once('-') {
            cron_value(a, names, min).zip(cron_value(b, names, min))
        } else {
            cron_value(range, names, min).map(|v| (v, if step > 1 { max } else { v }))
        };
        bounds.is_some_and(|(low, high)| {
            let hit = |v: u32| (low..=high).contains(&v) && (v - low).is_multiple_of(step);
            // Sunday may be written 7.
            hit(value) || (max == 6 && value == 0 && hit(7))
        })
    })
}

/// Whether a standard five-field cron expression (or @daily-style macro) fires at `at`.
pub fn cron_matches(expression: &str, at: Timestamp) -> bool {
    let expanded = match expression.trim() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let [minute, hour, day, month, weekday] = fields.as_slice() else {
        return false;
    };
    let day_ok = cron_field(day, at.day(), (1, 31), &[]);
    let weekday_ok = cron_field(
        weekday,
        at.weekday().num_days_from_sunday(),
        (0, 6),
        &WEEKDAYS,
    );
    let days = match (*day == "*", *weekday == "*") {
        (false, false) => day_ok || weekday_ok,
        _ => day_ok && weekday_ok,
    };
    cron_field(minute, at.minute(), (0, 59), &[])
        && cron_field(hour, at.hour(), (0, 23), &[])
        && cron_field(month, at.month(), (1, 12), &MONTHS)
        && days
}

fn budget_active(schedule: Option<&str>, duration: Option<&str>, now: Timestamp) -> bool {
    let (Some(schedule), Some(duration)) = (schedule, duration) else {
        return schedule.is_none();
    };
    let Ok(duration) = parse_duration(duration) else {
        return false;
    };
    let minutes = (duration.as_secs() / 60).min(7 * 24 * 60) as i64;
    let Some(start) = now.with_second(0).and_then(|t| t.with_nanosecond(0)) else {
        return false;
    };
    (0..minutes).any(|back| cron_matches(schedule, start - chrono::Duration::minutes(back)))
}

/// How many more nodes the pool's budgets let Karpenter disrupt for `reason` now.
pub fn budget_left(
    pool: &NodePoolSpec,
    reason: &str,
    nodes: usize,
    disrupting: usize,
    now: Timestamp,
) -> usize {
    let default = [crate::domain::scenario::BudgetSpec::default()];
    let budgets = if pool.budgets.is_empty() {
        &default[..]
    } else {
        &pool.budgets[..]
    };
    let allowed = budgets
        .iter()
        .filter(|b| b.reasons.is_empty() || b.reasons.iter().any(|r| r == reason))
        .filter(|b| budget_active(b.schedule.as_deref(), b.duration.as_deref(), now))
        .filter_map(|b| parse_int_or_percent(&b.nodes))
        .map(|(value, percent)| {
            if percent {
                (value * nodes as f64 / 100.0).ceil() as usize
            } else {
                value as usize
            }
        })
        .min()
        .unwrap_or(usize::MAX);
    allowed.saturating_sub(disrupting)
}

fn voluntary_victim(
    state: &State,
    specs: Specs<'_>,
    pool_name: &str,
    reason: &str,
    filter: impl Fn(&Node) -> bool,
) -> Option<NodeId> {
    let now = state.now;
    let pool = specs.scenario.nodepools.get(pool_name)?;
    let in_pool: Vec<&Node> = state.pool_nodes(pool_name).collect();
    let disrupting = in_pool.iter().filter(|n| n.disruption.is_some()).count();
    if budget_left(pool, reason, in_pool.len(), disrupting, now) == 0 {
        return None;
    }
    let (_, pinned) = blockers(state, specs);
    in_pool
        .iter()
        .filter(|n| {
            n.initialized(now) && n.disruption.is_none() && !pinned.contains(&n.id) && filter(n)
        })
        .min_by_key(|n| n.created)
        .map(|n| n.id)
}

/// Whether every workload pod on `candidate` would find room on the pool's other nodes,
/// keeping required zone spreads in their zone (Karpenter simulates this before it acts).
fn can_reschedule(
    state: &State,
    specs: Specs<'_>,
    candidate: &Node,
    pods: &[(usize, usize)],
) -> bool {
    let now = state.now;
    let mut free: Vec<(NodeId, usize, f64, f64, u32)> = state
        .pool_nodes(&candidate.pool)
        .filter(|n| n.id != candidate.id && n.initialized(now) && n.accepts_pods())
        .map(|n| {
            (
                n.id,
                n.zone,
                n.cpu_allocatable_m - n.cpu_requested_m,
                n.memory_allocatable_mib - n.memory_requested_mib,
                n.max_pods.saturating_sub(n.pods + n.daemon_pods),
            )
        })
        .collect();
    pods.iter().all(|&(w, p)| {
        let Some(runtime) = state.workloads.get(w) else {
            return true;
        };
        let Some(pod) = runtime.pods.get(p) else {
            return true;
        };
        let same_zone_only = match &runtime.source {
            WorkloadSource::CoreDns => specs.scenario.dns.spread == DnsSpread::Zones,
            WorkloadSource::Spec(_) => specs
                .workload(&runtime.source)
                .is_some_and(|s| s.zone_spread == ZoneSpread::Required),
        };
        let slot = free.iter_mut().find(|(_, zone, cpu, memory, room)| {
            (!same_zone_only || *zone == candidate.zone)
                && *cpu >= pod.cpu_request_m
                && *memory >= pod.memory_request_mib
                && *room > 0
        });
        match slot {
            Some((_, _, cpu, memory, room)) => {
                *cpu -= pod.cpu_request_m;
                *memory -= pod.memory_request_mib;
                *room -= 1;
                true
            }
            None => false,
        }
    })
}

/// Karpenter's consolidation pass over every NodePool (run once a minute).
pub fn consolidate(state: &mut State, specs: Specs<'_>, karpenter: &mut Karpenter) {
    let now = state.now;
    let (daemon_cpu, _, _) = specs.daemon_requests();
    for (name, pool) in &specs.scenario.nodepools {
        let after = parse_duration(&pool.consolidate_after)
            .map(|d| chrono::Duration::seconds(d.as_secs() as i64))
            .unwrap_or(chrono::Duration::zero());
        let empty = voluntary_victim(state, specs, name, "Empty", |n| {
            n.pods == 0 && n.empty_since.is_some_and(|since| now - since >= after)
        });
        if let Some(id) = empty {
            disrupt(state, karpenter, id, "Empty", DRAIN_S);
            continue;
        }
        if pool.consolidation_policy != "WhenEmptyOrUnderutilized" {
            continue;
        }
        let cooling = karpenter
            .last_consolidation
            .get(name)
            .is_some_and(|t| now - *t < chrono::Duration::minutes(CONSOLIDATION_COOLDOWN_MINUTES));
        let in_pool: Vec<&Node> = state.pool_nodes(name).collect();
        let disrupting = in_pool.iter().filter(|n| n.disruption.is_some()).count();
        if cooling || budget_left(pool, "Underutilized", in_pool.len(), disrupting, now) == 0 {
            continue;
        }
        let (_, pinned) = blockers(state, specs);
        let mut candidates: Vec<&Node> = in_pool
            .into_iter()
            .filter(|n| {
                n.initialized(now)
                    && n.disruption.is_none()
                    && n.pods > 0
                    && !pinned.contains(&n.id)
                    && now - n.created >= after.max(chrono::Duration::minutes(30))
                    && n.workload_cpu_share(daemon_cpu) < UNDERUTILIZED_SHARE
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.workload_cpu_share(daemon_cpu)
                .total_cmp(&b.workload_cpu_share(daemon_cpu))
                .then(a.id.cmp(&b.id))
        });
        let pods_by_node = state.pods_by_node();
        let chosen = candidates
            .into_iter()
            .take(3)
            .find(|n| {
                let pods = pods_by_node.get(&n.id).map(Vec::as_slice).unwrap_or(&[]);
                can_reschedule(state, specs, n, pods)
            })
            .map(|n| n.id);
        if let Some(id) = chosen {
            disrupt(state, karpenter, id, "Underutilized", DRAIN_S);
            karpenter.last_consolidation.insert(name.clone(), now);
        }
    }
}

fn pending_reason(
    state: &State,
    scenario: &Scenario,
    pool: &str,
    cause: PendingCause,
    node: Option<NodeId>,
) -> String {
    match (cause, node.and_then(|id| state.nodes.get(&id))) {
        (PendingCause::Nominated, Some(node)) => format!(
            "Unschedulable: nominated to nodeclaim {}, waiting for it to initialize",
            node.claim.as_deref().unwrap_or(&node.name)
        ),
        _ if scenario.node_groups.contains_key(pool) => {
            format!("Unschedulable: no node in node group {pool} has room")
        }
        _ => format!("Unschedulable: no room in NodePool {pool} and it may not grow (limits)"),
    }
}

/// The Nodes pane's view: nodes, pools, churn, pending pods, latency and blockers.
pub fn snapshot(state: &State, specs: Specs<'_>, karpenter: &Karpenter) -> NodeSnapshot {
    let now = state.now;
    let scenario = specs.scenario;
    let hour_ago = now - chrono::Duration::hours(1);
    let nodes = state
        .nodes
        .values()
        .filter(|n| n.registered(now))
        .map(|n| NodeInfo {
            name: n.name.clone(),
            nodepool: n.karpenter.then(|| n.pool.clone()),
            instance_type: n.instance_type.clone(),
            capacity: n.capacity,
            zone: state.zones.get(n.zone).cloned().unwrap_or_default(),
            created: n.created,
            ready: n.initialized(now),
            disrupting: n.disruption.is_some(),
            cpu_allocatable_m: n.cpu_allocatable_m,
            cpu_requested_m: n.cpu_requested_m,
            memory_allocatable_mib: n.memory_allocatable_mib,
            memory_requested_mib: n.memory_requested_mib,
            pods: n.pods + n.daemon_pods,
        })
        .collect();
    let nodepools = scenario
        .nodepools
        .iter()
        .map(|(name, pool)| NodePoolInfo {
            name: name.clone(),
            consolidation_policy: pool.consolidation_policy.clone(),
            consolidate_after: Some(pool.consolidate_after.clone()),
            budgets: pool
                .budgets
                .iter()
                .map(|b| DisruptionBudget {
                    nodes: b.nodes.clone(),
                    schedule: b.schedule.clone(),
                    duration: b.duration.clone(),
                    reasons: b.reasons.clone(),
                })
                .collect(),
            cpu_limit: pool.cpu_limit,
            cpu_provisioned: state
                .pool_nodes(name)
                .map(|n| f64::from(shape_of(&n.instance_type).vcpu))
                .sum(),
            weight: pool.weight,
            capacity_types: pool.capacity_types.clone(),
        })
        .collect();
    let mut pending_pods = Vec::new();
    'outer: for runtime in state.workloads.iter().filter(|r| r.unbound > 0) {
        let pool = match &runtime.source {
            WorkloadSource::CoreDns => scenario.dns.nodepool.clone(),
            WorkloadSource::Spec(name) => scenario
                .workloads
                .get(name)
                .map(|w| w.nodepool.clone())
                .unwrap_or_default(),
        };
        for pod in runtime.pods.iter().filter(|p| p.pending()) {
            if pending_pods.len() >= MAX_PENDING_LISTED {
                break 'outer;
            }
            pending_pods.push(PendingPod {
                namespace: runtime.namespace.clone(),
                name: pod_display_name(runtime, pod),
                since: pod.pending_since.unwrap_or(pod.created),
                reason: pending_reason(state, scenario, &pool, pod.pending_cause, pod.node),
            });
        }
    }
    let (blockers, _) = blockers(state, specs);
    NodeSnapshot {
        at: now,
        nodes,
        nodepools,
        churn: karpenter
            .churn
            .iter()
            .filter(|e| e.at >= hour_ago)
            .cloned()
            .collect(),
        pending_pods,
        provisioning_seconds: karpenter
            .claims
            .iter()
            .filter(|(created, initialized)| *created >= hour_ago && *initialized <= now)
            .map(|(created, initialized)| {
                (*initialized - *created).num_milliseconds() as f64 / 1000.0
            })
            .collect(),
        blockers,
        counted: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scenario::{BudgetSpec, PdbSpec};
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> Timestamp {
        // 2026-03-02 is a Monday.
        chrono::Utc
            .with_ymd_and_hms(2026, 3, 2, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn cron_expressions() {
        assert!(cron_matches("0 9 * * MON-FRI", at(9, 0)));
        assert!(!cron_matches("0 9 * * SAT,SUN", at(9, 0)));
        assert!(cron_matches("*/15 * * * *", at(9, 45)));
        assert!(!cron_matches("*/15 * * * *", at(9, 46)));
        assert!(cron_matches("@hourly", at(9, 0)));
        assert!(cron_matches("0 8-18 * * 1-5", at(17, 0)));
        assert!(!cron_matches("not a cron", at(9, 0)));
    }

    #[test]
    fn budgets_limit_voluntary_disruption() {
        let mut pool = NodePoolSpec::default();
        assert_eq!(budget_left(&pool, "Underutilized", 12, 0, at(9, 0)), 2);
        assert_eq!(budget_left(&pool, "Underutilized", 12, 2, at(9, 0)), 0);
        pool.budgets = vec![
            BudgetSpec::default(),
            BudgetSpec {
                nodes: "0".into(),
                schedule: Some("0 8 * * MON-FRI".into()),
                duration: Some("10h".into()),
                reasons: vec!["Underutilized".into()],
            },
        ];
        assert_eq!(budget_left(&pool, "Underutilized", 12, 0, at(9, 0)), 0);
        assert_eq!(budget_left(&pool, "Empty", 12, 0, at(9, 0)), 2);
        assert_eq!(budget_left(&pool, "Underutilized", 12, 0, at(19, 0)), 2);
    }

    #[test]
    fn pdbs() {
        let spec = |min: Option<&str>, max: Option<&str>| WorkloadSpec {
            pdb: Some(PdbSpec {
                min_available: min.map(str::to_string),
                max_unavailable: max.map(str::to_string),
            }),
            ..WorkloadSpec::default()
        };
        assert_eq!(pdb_allowed(&spec(Some("100%"), None), 3, 3), Some(0));
        assert_eq!(pdb_allowed(&spec(Some("2"), None), 3, 3), Some(1));
        assert_eq!(pdb_allowed(&spec(None, Some("0")), 3, 3), Some(0));
        assert_eq!(pdb_allowed(&spec(None, Some("1")), 3, 2), Some(0));
        assert_eq!(pdb_allowed(&WorkloadSpec::default(), 3, 3), None);
    }

    #[test]
    fn zones_resolve_by_letter_or_name() {
        let zones: Vec<String> = ["us-east-1a", "us-east-1b", "us-east-1c"]
            .map(String::from)
            .to_vec();
        assert_eq!(zone_index(&zones, "b"), Some(1));
        assert_eq!(zone_index(&zones, "us-east-1c"), Some(2));
        assert_eq!(zone_index(&zones, "d"), None);
    }
}
