//! The initial burst: an hour of history at 10-second resolution before the scenario's
//! start instant, then on to the requested offset, so every chart is full from the start.

use std::time::Duration;

use super::engine::{SimCluster, scenario_t0};
use crate::domain::model::Update;
use crate::domain::scenario::Scenario;

/// How much history the burst carries, and at what resolution.
pub const HISTORY: chrono::Duration = chrono::Duration::minutes(60);
pub const HISTORY_RESOLUTION: chrono::Duration = chrono::Duration::seconds(10);
/// The cluster runs this long before history starts, so logs and caches have content.
const WARM_UP: chrono::Duration = chrono::Duration::minutes(30);

/// Builds the cluster and the burst the cockpit receives first: `Update::Cluster`, every
/// pane's snapshot every 10 s from T0 − 60 min to T0 + `start_offset`, and a final clock.
pub fn initial_updates(
    scenario: &Scenario,
    seed: u64,
    start_offset: Duration,
) -> (SimCluster, Vec<Update>) {
    let t0 = scenario_t0();
    let offset = chrono::Duration::from_std(start_offset).unwrap_or(chrono::Duration::zero());
    let history_start = t0 - HISTORY;
    let end = t0 + offset;
    let mut cluster = SimCluster::new(scenario, seed, history_start - WARM_UP);
    cluster.advance_to(history_start);
    let points =
        ((end - history_start).num_seconds() / HISTORY_RESOLUTION.num_seconds() + 2) as usize;
    let mut updates = Vec::with_capacity(2 + points * 5);
    updates.push(Update::Cluster(cluster.cluster_info()));
    let mut next = history_start;
    loop {
        cluster.advance_to(next.min(end));
        updates.extend(cluster.updates());
        if next >= end {
            break;
        }
        next += HISTORY_RESOLUTION;
        if next > end {
            next = end;
        }
    }
    updates.push(Update::Health(cluster.health()));
    updates.push(Update::Clock { at: cluster.now() });
    (cluster, updates)
}
