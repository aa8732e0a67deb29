//! The retained update history behind the time cursor: every update of the last hour with
//! the source time it arrived at, the moments that matter on that hour (fixes, node
//! disruptions, route condition changes, alerts firing), and the cockpit exactly as it was
//! at any retained instant, rebuilt by re-applying the updates up to it.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cockpit::{Cockpit, DEFAULT_RETENTION_MINUTES};
use super::finding::FixKind;
use super::gateways;
use super::model::{ChurnKind, ObjectRef, Update};
use super::time::Timestamp;

/// Something the user did to the cluster, as recorded and as the timeline marks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixAction {
    /// The source's clock when it happened.
    pub at: Timestamp,
    pub finding_id: String,
    pub fix: FixKind,
    pub object: ObjectRef,
    pub step: FixStep,
    /// What verification concluded ("p99 back under 100 ms"), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixStep {
    Applied,
    Verified,
    /// Verification showed the fix did not help.
    Failed,
    Undone,
}

impl FixStep {
    pub fn as_str(self) -> &'static str {
        match self {
            FixStep::Applied => "applied",
            FixStep::Verified => "verified",
            FixStep::Failed => "did not help",
            FixStep::Undone => "undone",
        }
    }
}

/// The kinds of moment the timeline marks, each with a one-letter glyph that reads without
/// colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerKind {
    Fix,
    NodeDisruption,
    RouteChange,
    Alert,
}

impl MarkerKind {
    pub fn glyph(self) -> char {
        match self {
            MarkerKind::Fix => 'F',
            MarkerKind::NodeDisruption => 'N',
            MarkerKind::RouteChange => 'R',
            MarkerKind::Alert => 'A',
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            MarkerKind::Fix => "fix",
            MarkerKind::NodeDisruption => "node disruption",
            MarkerKind::RouteChange => "route change",
            MarkerKind::Alert => "alert",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Marker {
    pub at: Timestamp,
    pub kind: MarkerKind,
    pub label: String,
}

/// A cockpit is kept after every this many updates while rebuilding, so stepping the
/// cursor back re-applies at most this many updates instead of the whole hour.
const CHECKPOINT_EVERY: u64 = 256;

/// About how many bytes of retained updates the timeline may hold. A large cluster under
/// churn sends a megabyte-sized node snapshot many times a second; the hour is kept exactly
/// while it fits in a quarter of this, then one snapshot per pane per second (see
/// `supersede`), and beyond the budget the older part at a coarser step (see `thin`).
const RETAINED_BYTES: usize = 64 * 1024 * 1024;

/// How the hour is coarsened when over budget, gentlest first: (snapshots older than this
/// many seconds, are kept one per this many seconds). The newest snapshot of each pane stays.
const THINNING: [(i64, i64); 6] = [
    (600, 60),
    (120, 10),
    (120, 60),
    (30, 60),
    (30, 300),
    (0, 600),
];

/// Roughly what an update occupies in memory, to hold the retained hour to a budget.
fn weight(update: &Update) -> usize {
    const ROW: usize = 256;
    let rows = match update {
        Update::Nodes(s) => s.nodes.len() + s.pending_pods.len() + s.churn.len() + s.blockers.len(),
        Update::Workloads(s) => s.workloads.len() + s.namespaces.len(),
        Update::Flows(s) => s.services.len() * (1 + s.zones.len() / 4) + s.edges.len(),
        Update::Gateways(s) => s.gateways.len() + s.routes.len(),
        Update::Dns(s) => s.pods.len() + s.corefile.as_ref().map_or(0, |c| c.len() / ROW),
        _ => 0,
    };
    ROW * (rows + 1)
}

/// One retained update and the source time at which the cockpit had applied it.
#[derive(Debug, Clone)]
struct Entry {
    /// None before the source has told any time (the cluster banner usually comes first).
    at: Option<Timestamp>,
    update: Arc<Update>,
}

/// The last hour of updates. Updates older than the retention are folded into `base`, a
/// cockpit that has applied everything before the retained window, so a rebuilt cockpit
/// has the same chart history the live one had at that instant.
#[derive(Debug, Clone)]
pub struct Timeline {
    base: Cockpit,
    /// The newest time folded into `base`.
    base_at: Option<Timestamp>,
    entries: VecDeque<Entry>,
    /// The `weight` of `entries`.
    retained_bytes: usize,
    /// Up to this many retained bytes every update is kept; beyond, one snapshot per pane
    /// per second.
    exact: usize,
    /// What `retained_bytes` is held to.
    budget: usize,
    /// How many updates have been folded into `base`: the sequence number of the front entry.
    evicted: u64,
    /// Cockpits after the update with that sequence number (state after applying it).
    checkpoints: BTreeMap<u64, Cockpit>,
    newest: Option<Timestamp>,
    retention: chrono::Duration,
    markers: Vec<Marker>,
    fixes: Vec<FixAction>,
    terminations_seen: HashSet<(String, Timestamp)>,
    route_reasons: BTreeMap<String, String>,
    alerts_firing: BTreeSet<String>,
}

/// The source time an update speaks for, when it carries one.
pub fn update_time(update: &Update) -> Option<Timestamp> {
    match update {
        Update::Clock { at } => Some(*at),
        Update::Dns(s) => Some(s.at),
        Update::Gateways(s) => Some(s.at),
        Update::Flows(s) => Some(s.at),
        Update::Nodes(s) => Some(s.at),
        Update::Workloads(s) => Some(s.at),
        Update::Alerts(s) => Some(s.at),
        Update::Source(s) => Some(s.at),
        Update::Billing(b) => Some(b.at),
        // Health carries wall-clock times of requests, not the source time of the data.
        Update::Cluster(_)
        | Update::Oversized(_)
        | Update::InitialSyncDone
        | Update::Notice { .. }
        | Update::Health(_)
        | Update::Checks(_) => None,
    }
}

impl Timeline {
    /// `empty` is the cockpit to rebuild from: a fresh one with the app's analysis config.
    pub fn new(empty: Cockpit) -> Self {
        Timeline {
            base: empty,
            base_at: None,
            entries: VecDeque::new(),
            retained_bytes: 0,
            exact: RETAINED_BYTES / 4,
            budget: RETAINED_BYTES,
            evicted: 0,
            checkpoints: BTreeMap::new(),
            newest: None,
            retention: chrono::Duration::minutes(DEFAULT_RETENTION_MINUTES),
            markers: Vec::new(),
            fixes: Vec::new(),
            terminations_seen: HashSet::new(),
            route_reasons: BTreeMap::new(),
            alerts_firing: BTreeSet::new(),
        }
    }

    pub fn with_retention(mut self, retention: chrono::Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Keeps every update up to `exact` retained bytes and holds them to about `budget`
    /// (instead of a quarter of `RETAINED_BYTES` and all of it).
    pub fn with_budget(mut self, exact: usize, budget: usize) -> Self {
        self.exact = exact;
        self.budget = budget;
        self
    }

    /// Keeps an update. The app applies the same update to its live cockpit.
    pub fn push(&mut self, update: Arc<Update>) {
        if let Some(at) = update_time(&update)
            && self.newest.is_none_or(|newest| at > newest)
        {
            self.newest = Some(at);
        }
        self.mark(&update);
        if self.retained_bytes > self.exact {
            self.supersede(&update);
        }
        self.retained_bytes += weight(&update);
        self.entries.push_back(Entry {
            at: self.newest,
            update,
        });
        self.evict();
        if self.retained_bytes > self.budget {
            self.thin();
        }
    }

    /// Drops older snapshots, step by step coarser, until the retained updates fit the
    /// budget: the cursor then moves through that part of the hour in larger steps.
    fn thin(&mut self) {
        let Some(newest) = self.newest else { return };
        for (older_than, step) in THINNING {
            if self.retained_bytes <= self.budget * 3 / 4 {
                break;
            }
            let horizon = newest.timestamp() - older_than;
            // The newest snapshot of each pane stays: the live state must stay rebuildable.
            let mut newest_of: Vec<(std::mem::Discriminant<Update>, usize)> = Vec::new();
            for (index, entry) in self.entries.iter().enumerate() {
                let kind = std::mem::discriminant(&*entry.update);
                match newest_of.iter_mut().find(|(k, _)| *k == kind) {
                    Some(slot) => slot.1 = index,
                    None => newest_of.push((kind, index)),
                }
            }
            let mut bucket_of: Vec<(std::mem::Discriminant<Update>, i64)> = Vec::new();
            let mut index = 0;
            let mut freed = 0;
            self.entries.retain(|entry| {
                let position = index;
                index += 1;
                let Some(at) = entry.at.map(|t| t.timestamp()) else {
                    return true;
                };
                let kind = std::mem::discriminant(&*entry.update);
                if !entry.update.is_pane_snapshot()
                    || at >= horizon
                    || newest_of.contains(&(kind, position))
                {
                    return true;
                }
                let bucket = at.div_euclid(step);
                match bucket_of.iter_mut().find(|(k, _)| *k == kind) {
                    Some(slot) if slot.1 == bucket => {
                        freed += weight(&entry.update);
                        false
                    }
                    Some(slot) => {
                        slot.1 = bucket;
                        true
                    }
                    None => {
                        bucket_of.push((kind, bucket));
                        true
                    }
                }
            });
            if freed > 0 {
                self.retained_bytes -= freed;
                // Sequence numbers moved: cockpits rebuilt before no longer line up.
                self.checkpoints.clear();
            }
        }
    }

    /// Keeps at most one snapshot of each pane (and one clock tick) per second of source
    /// time: an earlier one of the same second is dropped when a newer one arrives. Used once
    /// the retained updates outgrow a quarter of the budget: a large cluster under churn
    /// sends snapshots many times a second, and an hour of all of them would not fit.
    fn supersede(&mut self, update: &Update) {
        let coalesced = update.is_pane_snapshot() || matches!(update, Update::Clock { .. });
        let Some(second) = self.newest.map(|t| t.timestamp()).filter(|_| coalesced) else {
            return;
        };
        let kind = std::mem::discriminant(update);
        let found = self
            .entries
            .iter()
            .enumerate()
            .rev()
            .take_while(|(_, e)| e.at.is_some_and(|t| t.timestamp() == second))
            .find(|(_, e)| std::mem::discriminant(&*e.update) == kind)
            .map(|(index, _)| index);
        if let Some(removed) = found.and_then(|index| self.entries.remove(index)) {
            self.retained_bytes -= weight(&removed.update);
            let index = found.unwrap_or_default();
            // Cockpits rebuilt past the dropped update no longer match the entries.
            let first_stale = self.evicted + index as u64 + 1;
            self.checkpoints.split_off(&first_stale);
        }
    }

    /// Records a fix the user applied, verified or undid, for the markers and the summary.
    pub fn push_fix(&mut self, fix: FixAction) {
        let label = format!("{} {} on {}", fix.fix.slug(), fix.step.as_str(), fix.object);
        self.add_marker(fix.at, MarkerKind::Fix, label);
        self.fixes.push(fix);
    }

    /// The newest source time seen.
    pub fn newest(&self) -> Option<Timestamp> {
        self.newest
    }

    /// The oldest instant the cursor can go back to.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.entries.iter().find_map(|e| e.at)
    }

    /// The retained sample instant just before `at`.
    pub fn previous(&self, at: Timestamp) -> Option<Timestamp> {
        self.entries
            .iter()
            .rev()
            .filter_map(|e| e.at)
            .find(|t| *t < at)
    }

    /// The retained sample instant just after `at`.
    pub fn next(&self, at: Timestamp) -> Option<Timestamp> {
        self.entries.iter().filter_map(|e| e.at).find(|t| *t > at)
    }

    /// The newest retained sample at or before `at` (where a cursor `at` really sits).
    pub fn sample_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        self.entries
            .iter()
            .rev()
            .filter_map(|e| e.at)
            .find(|t| *t <= at)
    }

    /// How many updates are retained.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The marked moments of the retained window, oldest first.
    pub fn markers(&self) -> &[Marker] {
        &self.markers
    }

    /// Every fix action seen this session (not bounded by retention: the summary lists them).
    pub fn fixes(&self) -> &[FixAction] {
        &self.fixes
    }

    /// The cockpit exactly as it was once every update up to `at` had been applied.
    pub fn cockpit_at(&mut self, at: Timestamp) -> Cockpit {
        // Entries up to and including index `end - 1` are at or before `at`.
        let end = self
            .entries
            .partition_point(|e| e.at.is_none_or(|t| t <= at));
        let last_seq = self.evicted + end as u64;
        let start = (last_seq > self.evicted)
            .then(|| {
                self.checkpoints
                    .range(self.evicted + 1..=last_seq)
                    .next_back()
            })
            .flatten()
            .map(|(seq, cockpit)| (*seq, cockpit.clone()));
        let (mut seq, mut cockpit) = start.unwrap_or_else(|| (self.evicted, self.base.clone()));
        while seq < last_seq {
            let index = (seq - self.evicted) as usize;
            if let Some(entry) = self.entries.get(index) {
                cockpit.apply(Update::clone(&entry.update));
            }
            seq += 1;
            if seq % CHECKPOINT_EVERY == 0 && seq < last_seq {
                self.checkpoints
                    .entry(seq)
                    .or_insert_with(|| cockpit.clone());
            }
        }
        cockpit
    }

    /// Moves a cockpit built at `from` on to `to` (later), applying only what lies between.
    /// Returns None when `from` has already left the retained window, so the caller rebuilds.
    pub fn advance(&self, mut cockpit: Cockpit, from: Timestamp, to: Timestamp) -> Option<Cockpit> {
        if to < from || self.base_at.is_some_and(|base| from < base) {
            return None;
        }
        for entry in &self.entries {
            match entry.at {
                Some(t) if t > to => break,
                Some(t) if t > from => {
                    cockpit.apply(Update::clone(&entry.update));
                }
                _ => {}
            }
        }
        Some(cockpit)
    }

    fn evict(&mut self) {
        let Some(newest) = self.newest else { return };
        let horizon = newest - self.retention;
        while let Some(front) = self.entries.front() {
            let Some(at) = front.at else {
                // Untimed updates before the first time stay with the oldest timed one.
                if self
                    .entries
                    .iter()
                    .any(|e| e.at.is_some_and(|t| t < horizon))
                {
                    if let Some(entry) = self.entries.pop_front() {
                        self.retained_bytes -= weight(&entry.update);
                        self.base.apply(Update::clone(&entry.update));
                        self.evicted += 1;
                    }
                    continue;
                }
                break;
            };
            if at >= horizon {
                break;
            }
            if let Some(entry) = self.entries.pop_front() {
                self.retained_bytes -= weight(&entry.update);
                self.base.apply(Update::clone(&entry.update));
                self.base_at = Some(at);
                self.evicted += 1;
            }
        }
        // Checkpoints at or before the base are no better than the base.
        if self
            .checkpoints
            .first_key_value()
            .is_some_and(|(seq, _)| *seq <= self.evicted)
        {
            self.checkpoints = self.checkpoints.split_off(&(self.evicted + 1));
        }
        let keep_from = self.markers.partition_point(|m| m.at < horizon);
        self.markers.drain(..keep_from);
    }

    fn add_marker(&mut self, at: Timestamp, kind: MarkerKind, label: String) {
        let position = self.markers.partition_point(|m| m.at <= at);
        self.markers.insert(position, Marker { at, kind, label });
    }

    /// Notices the moments worth marking in an update.
    fn mark(&mut self, update: &Update) {
        match update {
            Update::Nodes(snapshot) => {
                for event in &snapshot.churn {
                    if event.kind != ChurnKind::Terminated
                        || !self
                            .terminations_seen
                            .insert((event.node.clone(), event.at))
                    {
                        continue;
                    }
                    let label = format!("node {} terminated ({})", event.node, event.reason);
                    self.add_marker(event.at, MarkerKind::NodeDisruption, label);
                }
            }
            Update::Gateways(snapshot) => {
                for route in &snapshot.routes {
                    let key = format!("{} {}/{}", route.kind.as_str(), route.namespace, route.name);
                    let reason = gateways::route_reason(route);
                    let before = self.route_reasons.insert(key.clone(), reason.clone());
                    if let Some(before) = before
                        && before != reason
                    {
                        let label = format!("{key}: {before} → {reason}");
                        self.add_marker(snapshot.at, MarkerKind::RouteChange, label);
                    }
                }
            }
            Update::Alerts(snapshot) => {
                let now: BTreeSet<String> = snapshot.alerts.iter().map(|a| a.key()).collect();
                for alert in &snapshot.alerts {
                    if !self.alerts_firing.contains(&alert.key()) {
                        let label = format!("alert {} firing ({})", alert.name, alert.severity);
                        self.add_marker(alert.active_since, MarkerKind::Alert, label);
                    }
                }
                self.alerts_firing = now;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::model::{ChurnEvent, NodeSnapshot};
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn checkpoints_give_the_same_cockpit_as_a_full_rebuild() {
        let mut timeline = timeline();
        for s in 0..1000 {
            timeline.push(Arc::new(nodes(s * 5, Vec::new())));
        }
        // Going back step by step leaves checkpoints behind; each rebuild must still match
        // one made from the base alone.
        let mut fresh = timeline.clone();
        fresh.checkpoints.clear();
        for s in [4000, 3000, 2000, 1000, 1500, 4995] {
            let with = timeline.cockpit_at(at(s));
            let mut without = fresh.clone();
            let expected = without.cockpit_at(at(s));
            assert_eq!(with.now, expected.now);
            let points = |c: &Cockpit| {
                c.series(crate::domain::cockpit::Figure::NodeCount)
                    .map(|s| s.points().collect::<Vec<_>>())
            };
            assert_eq!(points(&with), points(&expected));
        }
        assert!(!timeline.checkpoints.is_empty());
    }

    fn timeline() -> Timeline {
        Timeline::new(Cockpit::new(AnalysisConfig::default()))
    }

    fn nodes(seconds: i64, churn: Vec<ChurnEvent>) -> Update {
        Update::Nodes(NodeSnapshot {
            at: at(seconds),
            nodes: Vec::new(),
            nodepools: Vec::new(),
            churn,
            pending_pods: Vec::new(),
            provisioning_seconds: Vec::new(),
            blockers: Vec::new(),
            counted: None,
        })
    }

    #[test]
    fn keeps_one_snapshot_of_a_pane_per_second_once_past_a_quarter_of_the_budget() {
        // Every update is kept while they are small; here from the first one on.
        let mut timeline = timeline().with_budget(0, usize::MAX);
        for tenth in 0..30 {
            let mut update = nodes(0, Vec::new());
            if let Update::Nodes(snapshot) = &mut update {
                snapshot.at = at(tenth / 10) + chrono::Duration::milliseconds(100 * (tenth % 10));
            }
            timeline.push(Arc::new(update));
            timeline.push(Arc::new(Update::InitialSyncDone));
        }
        // Three seconds: one Nodes snapshot each, the last of its second; untimed updates stay.
        let snapshots: Vec<Timestamp> = timeline
            .entries
            .iter()
            .filter_map(|e| match &*e.update {
                Update::Nodes(s) => Some(s.at),
                _ => None,
            })
            .collect();
        let last_of = |s: i64| at(s) + chrono::Duration::milliseconds(900);
        assert_eq!(snapshots, vec![last_of(0), last_of(1), last_of(2)]);
        assert_eq!(timeline.len(), 33);
        let rebuilt = timeline.cockpit_at(last_of(2));
        assert_eq!(rebuilt.nodes.map(|n| n.at), Some(last_of(2)));
    }

    #[test]
    fn an_hour_of_large_snapshots_is_thinned_to_the_budget() {
        let node = crate::domain::model::NodeInfo {
            name: "n".into(),
            nodepool: None,
            instance_type: "m6i.large".into(),
            capacity: crate::domain::Capacity::OnDemand,
            zone: "eu-west-1a".into(),
            created: at(0),
            ready: true,
            disrupting: false,
            cpu_allocatable_m: 1.0,
            cpu_requested_m: 0.0,
            memory_allocatable_mib: 1.0,
            memory_requested_mib: 0.0,
            pods: 0,
        };
        let mut timeline = timeline();
        // A 2000-node cluster whose snapshot changes every second, for an hour: 1.8 GB if
        // every snapshot were kept.
        let big = vec![node; 2000];
        for s in 0..3600 {
            let mut update = nodes(s, Vec::new());
            if let Update::Nodes(snapshot) = &mut update {
                snapshot.nodes = big.clone();
                snapshot.nodes[0].pods = s as u32;
            }
            timeline.push(Arc::new(update));
        }
        assert!(timeline.retained_bytes <= timeline.budget);
        // The last seconds keep their resolution and the newest state rebuilds exactly.
        assert_eq!(timeline.previous(at(3599)), Some(at(3598)));
        let rebuilt = timeline.cockpit_at(at(3599));
        assert_eq!(rebuilt.nodes.map(|n| n.nodes[0].pods), Some(3599));
        // Further back the steps are coarser, but the hour is still there.
        assert_eq!(timeline.oldest(), Some(at(0)));
    }

    #[test]
    fn steps_between_distinct_sample_times() {
        let mut timeline = timeline();
        for s in [0, 10, 10, 20, 30] {
            timeline.push(Arc::new(Update::Clock { at: at(s) }));
        }
        assert_eq!(timeline.previous(at(30)), Some(at(20)));
        assert_eq!(timeline.previous(at(20)), Some(at(10)));
        assert_eq!(timeline.previous(at(0)), None);
        assert_eq!(timeline.next(at(10)), Some(at(20)));
        assert_eq!(timeline.next(at(30)), None);
        assert_eq!(timeline.oldest(), Some(at(0)));
        assert_eq!(timeline.sample_at_or_before(at(25)), Some(at(20)));
    }

    #[test]
    fn rebuilt_cockpit_equals_the_live_one_at_that_instant() {
        let mut timeline = timeline().with_retention(chrono::Duration::seconds(60));
        let mut live = Cockpit::new(AnalysisConfig::default());
        let mut live_at_50 = None;
        for s in (0..=200).step_by(10) {
            let update = Arc::new(nodes(s, Vec::new()));
            timeline.push(update.clone());
            live.apply(Update::clone(&update));
            if s == 170 {
                live_at_50 = Some(live.clone());
            }
        }
        let rebuilt = timeline.cockpit_at(at(170));
        let expected = live_at_50.unwrap_or_else(|| panic!("no live state"));
        assert_eq!(rebuilt.now, expected.now);
        let points = |c: &Cockpit| {
            c.series(crate::domain::cockpit::Figure::NodeCount)
                .map(|s| s.points().collect::<Vec<_>>())
        };
        assert_eq!(points(&rebuilt), points(&expected));
        // Older than the retention: folded into the base, the cursor cannot go there.
        assert_eq!(timeline.oldest(), Some(at(140)));
        let advanced = timeline.advance(rebuilt, at(170), at(200));
        assert_eq!(advanced.and_then(|c| c.now), Some(at(200)));
        let early = timeline.cockpit_at(at(150));
        assert!(timeline.advance(early, at(100), at(200)).is_none());
    }

    #[test]
    fn marks_node_terminations_once() {
        let mut timeline = timeline();
        let churn = vec![ChurnEvent {
            at: at(5),
            kind: ChurnKind::Terminated,
            node: "ip-1".into(),
            nodepool: "spot".into(),
            reason: "SpotInterrupted".into(),
        }];
        timeline.push(Arc::new(nodes(10, churn.clone())));
        timeline.push(Arc::new(nodes(20, churn)));
        assert_eq!(timeline.markers().len(), 1);
        assert_eq!(timeline.markers()[0].kind, MarkerKind::NodeDisruption);
        assert_eq!(timeline.markers()[0].at, at(5));
        assert!(timeline.markers()[0].label.contains("SpotInterrupted"));
    }
}
