//! The scheduler: places pending pods on nodes with room, keeping each workload balanced
//! across zones, and asks Karpenter for a NodeClaim when nothing fits.

use super::karpenter::{Clock, Karpenter, LaunchRequest, launch};
use super::rng::SplitMix64;
use super::state::{NodeId, Specs, State, WorkloadSource};
use crate::domain::scenario::{DnsSpread, ZoneSpread};

/// Nodes looked at per pod and zone before giving up on that zone for now.
const MAX_CANDIDATES: usize = 64;
/// Pods nothing could be found for are retried this often, like the scheduler's backoff.
const UNSCHEDULABLE_RETRY_S: i64 = 30;

#[derive(Debug, Clone, Copy)]
struct Placement<'a> {
    pool: &'a str,
    /// Topology spread with DoNotSchedule: never leave the preferred zone.
    strict_zones: bool,
    /// Keep replicas together (no spread constraint at all, as the scheduler packs).
    colocate: bool,
    karpenter_pool: bool,
    startup_s: f64,
}

/// Places every pod that has no node yet.
pub fn schedule(
    state: &mut State,
    specs: Specs<'_>,
    karpenter: &mut Karpenter,
    rng: &mut SplitMix64,
    clock: &Clock,
    instant: bool,
) {
    for w in 0..state.workloads.len() {
        if state.workloads[w].unbound == 0 {
            continue;
        }
        let runtime = &state.workloads[w];
        let Some(spec) = specs.workload(&runtime.source) else {
            continue;
        };
        let (pool, strict_zones, colocate) = match runtime.source {
            WorkloadSource::CoreDns => {
                let dns = &specs.scenario.dns;
                (
                    dns.nodepool.as_str(),
                    dns.spread == DnsSpread::Zones,
                    dns.spread == DnsSpread::None,
                )
            }
            WorkloadSource::Spec(_) => (
                spec.nodepool.as_str(),
                spec.zone_spread == ZoneSpread::Required,
                false,
            ),
        };
        let placement = Placement {
            pool,
            strict_zones,
            colocate,
            karpenter_pool: specs.scenario.nodepools.contains_key(pool),
            startup_s: spec.startup_seconds,
        };
        let now = state.now;
        let backing_off = |since: Option<crate::domain::Timestamp>| {
            since.is_some_and(|since| {
                let waited = (now - since).num_seconds();
                waited >= UNSCHEDULABLE_RETRY_S
                    && waited % UNSCHEDULABLE_RETRY_S >= clock.step_s as i64
            })
        };
        let unplaced: Vec<usize> = runtime
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.node.is_none() && (instant || !backing_off(p.pending_since)))
            .map(|(i, _)| i)
            .collect();
        for p in unplaced {
            place(
                state,
                specs,
                karpenter,
                rng,
                clock,
                (w, p),
                &placement,
                instant,
            );
        }
    }
}

/// Zones ordered by how few of the workload's pods they hold.
fn zone_order(state: &State, w: usize) -> Vec<usize> {
    let runtime = &state.workloads[w];
    let zones = state.zones.len();
    let offset = (runtime.key % zones.max(1) as u64) as usize;
    let mut order: Vec<usize> = (0..zones).collect();
    order.sort_by_key(|&z| {
        (
            runtime.zone_counts.get(z).copied().unwrap_or(0),
            (z + zones - offset) % zones.max(1),
        )
    });
    order
}

fn find_room(
    state: &mut State,
    pool: &str,
    zone: usize,
    cpu_m: f64,
    memory_mib: f64,
    initialized: bool,
) -> Option<NodeId> {
    state.find_room(pool, zone, (cpu_m, memory_mib), initialized, MAX_CANDIDATES)
}

fn colocated_node(state: &State, w: usize, cpu_m: f64, memory_mib: f64) -> Option<NodeId> {
    state.workloads[w]
        .pods
        .iter()
        .filter_map(|p| p.node)
        .find(|id| {
            state
                .nodes
                .get(id)
                .is_some_and(|n| n.has_room(cpu_m, memory_mib))
        })
}

#[allow(clippy::too_many_arguments)]
fn place(
    state: &mut State,
    specs: Specs<'_>,
    karpenter: &mut Karpenter,
    rng: &mut SplitMix64,
    clock: &Clock,
    (w, p): (usize, usize),
    placement: &Placement<'_>,
    instant: bool,
) {
    let Some(pod) = state.workloads[w].pods.get(p) else {
        return;
    };
    let (cpu, memory) = (pod.cpu_request_m, pod.memory_request_mib);
    let order = zone_order(state, w);
    let Some(&preferred) = order.first() else {
        return;
    };
    let others = &order[1..];
    let mut target = if placement.colocate {
        colocated_node(state, w, cpu, memory)
    } else {
        None
    };
    // DoNotSchedule with maxSkew 1: any zone tied at the fewest replicas will do.
    let fewest = state.workloads[w]
        .zone_counts
        .get(preferred)
        .copied()
        .unwrap_or(0);
    let tied: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&z| state.workloads[w].zone_counts.get(z).copied().unwrap_or(0) == fewest)
        .collect();
    let first_choice: &[usize] = if placement.strict_zones {
        &tied
    } else {
        &order[..1]
    };
    target = target.or_else(|| {
        first_choice
            .iter()
            .find_map(|&z| find_room(state, placement.pool, z, cpu, memory, true))
    });
    // Most workloads spread with ScheduleAnyway: an existing node in another zone beats a
    // new one. Bootstrapping keeps zones even instead.
    let may_leave_zone = !placement.strict_zones && (!instant || !placement.karpenter_pool);
    if target.is_none() && may_leave_zone {
        target = others
            .iter()
            .find_map(|&z| find_room(state, placement.pool, z, cpu, memory, true));
    }
    if target.is_none() {
        target = first_choice
            .iter()
            .find_map(|&z| find_room(state, placement.pool, z, cpu, memory, false));
    }
    if target.is_none() && !placement.strict_zones {
        target = others
            .iter()
            .find_map(|&z| find_room(state, placement.pool, z, cpu, memory, false));
    }
    if target.is_none() && placement.karpenter_pool {
        let request = LaunchRequest {
            pool: placement.pool,
            zone: preferred,
            cpu_m: cpu,
            memory_mib: memory,
            instant,
        };
        target = launch(state, specs, karpenter, rng, clock, &request);
    }
    if let Some(node) = target {
        state.assign(w, p, node, placement.startup_s);
    }
}
