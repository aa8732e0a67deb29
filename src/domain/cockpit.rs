//! The cockpit's model of the cluster: the latest snapshot per pane, the history of the
//! headline figures, the derived spend view, and the findings. `apply` is the only way in;
//! `take_in` and `settle` are the same split in two, so that a batch of updates is analysed
//! once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::finding::{Evidence, Finding, Severity, sort_findings};
use super::model::*;
use super::prices::{PriceTable, RegionPrices};
use super::series::Series;
use super::spend::{self, SpendView, UnitCosts};
use super::thresholds::Thresholds;
use super::time::Timestamp;
use super::{alerts, dns, flows, gateways, nodes, rightsizing};

/// What the analysis is judged against.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalysisConfig {
    pub thresholds: Thresholds,
    pub prices: PriceTable,
}

/// The headline figures whose history is kept for sparklines and charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Figure {
    DnsQps,
    DnsP99Ms,
    DnsCacheHitRatio,
    DnsServfailRatio,
    DnsNxdomainRatio,
    GatewayRequestsPerSec,
    Gateway5xxRatio,
    CrossZoneRatio,
    CrossZoneBytesPerSec,
    NodeCount,
    SpotShare,
    PendingPods,
    RunRateUsdPerHour,
    IdleUsdPerHour,
}

/// An analysis an update made out of date. Each reads only the stored snapshots (DNS advice
/// also the node fleet's size), so the order `settle` runs them in does not change the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Analysis {
    Nodes,
    Dns,
    Gateways,
    Flows,
    /// Spend, and right-sizing, which is priced with spend's unit costs.
    Spend,
    Alerts,
}

/// How much history the cockpit keeps for each figure.
pub const DEFAULT_RETENTION_MINUTES: i64 = 60;

#[derive(Debug, Clone)]
pub struct Cockpit {
    pub config: AnalysisConfig,
    pub cluster: ClusterInfo,
    /// The source's clock: the newest instant any update carried.
    pub now: Option<Timestamp>,
    pub dns: Option<DnsSnapshot>,
    pub gateways: Option<GatewaySnapshot>,
    pub flows: Option<FlowSnapshot>,
    pub nodes: Option<NodeSnapshot>,
    /// The node fleet's headline figures, made once per snapshot rather than every frame
    /// (at 100 000 nodes the provisioning p95 alone sorts 100 000 samples).
    pub node_summary: Option<nodes::NodeSummary>,
    pub workloads: Option<WorkloadSnapshot>,
    /// Derived from nodes, workloads and prices.
    pub spend: Option<SpendView>,
    /// The account's billed month-to-date (CloudWatch), shown beside the run-rate.
    pub billing: Option<BilledSpend>,
    pub sources: BTreeMap<Pane, SourceStatus>,
    /// How each source is doing (source-health view), by source name.
    pub health: BTreeMap<String, SourceHealth>,
    /// What `kockpit doctor` would say, as the live backend checked at start.
    pub checks: Option<super::checks::Checks>,
    history: BTreeMap<Figure, Series>,
    /// Each pane's findings from its own analysis, before alerts and oversized objects join.
    analysed: BTreeMap<Pane, Vec<Finding>>,
    findings_by_pane: BTreeMap<Pane, Vec<Finding>>,
    findings: Vec<Finding>,
    retention: chrono::Duration,
    /// The backend said its initial state is complete.
    pub initial_sync_done: bool,
    /// The alerts firing as of the last `Update::Alerts`; each is also a finding on the
    /// pane of the object it concerns.
    pub alerts: Option<super::alerts::AlertSnapshot>,
    alert_findings: Vec<Finding>,
    /// Objects the source left out for their size, by finding id.
    oversized: BTreeMap<String, OversizedObject>,
    /// What `settle` has to recompute: analyses out of date, and panes whose list of
    /// findings must be put together again.
    stale: BTreeSet<Analysis>,
    stale_panes: BTreeSet<Pane>,
}

/// Findings about objects too large to read start with this.
const OVERSIZED_PREFIX: &str = "data/oversized/";

fn oversized_id(object: &ObjectRef) -> String {
    format!(
        "{OVERSIZED_PREFIX}{}/{}/{}",
        object.kind,
        object.namespace.as_deref().unwrap_or_default(),
        object.name
    )
}

/// "ConfigMap kube-system/coredns is 4.2 MB, over the 3 MiB kockpit reads of one object:
/// left out", on the pane the object feeds.
fn oversized_finding(oversized: &OversizedObject) -> Finding {
    let object = &oversized.object;
    let name = match &object.namespace {
        Some(namespace) => format!("{namespace}/{}", object.name),
        None => object.name.clone(),
    };
    let limit = super::limits::Limit {
        what: "",
        max: oversized.limit,
        unit: "bytes",
    };
    Finding {
        id: oversized_id(object),
        pane: oversized.pane,
        severity: Severity::Warning,
        summary: format!(
            "{} {name} is {}, over the {} kockpit reads of one object: left out of this pane",
            object.kind,
            super::format::bytes(oversized.bytes as f64),
            limit.shown()
        ),
        evidence: vec![Evidence::new(
            "object size",
            super::format::bytes(oversized.bytes as f64),
            format!("limit {}", limit.shown()),
        )],
        object: object.clone(),
        fix: None,
        impact: Default::default(),
        members: Vec::new(),
    }
}

impl Cockpit {
    pub fn new(config: AnalysisConfig) -> Self {
        Cockpit {
            config,
            cluster: ClusterInfo::default(),
            now: None,
            dns: None,
            gateways: None,
            flows: None,
            nodes: None,
            node_summary: None,
            workloads: None,
            spend: None,
            billing: None,
            sources: BTreeMap::new(),
            health: BTreeMap::new(),
            checks: None,
            history: BTreeMap::new(),
            analysed: BTreeMap::new(),
            findings_by_pane: BTreeMap::new(),
            findings: Vec::new(),
            retention: chrono::Duration::minutes(DEFAULT_RETENTION_MINUTES),
            initial_sync_done: false,
            alerts: None,
            alert_findings: Vec::new(),
            oversized: BTreeMap::new(),
            stale: BTreeSet::new(),
            stale_panes: BTreeSet::new(),
        }
    }

    /// Takes in one update from the backend: stores it, extends the history and
    /// re-analyses the panes it affects. Returns false when the update changed nothing
    /// (a clock tick at the time already known), so nothing needs to be redrawn.
    pub fn apply(&mut self, update: Update) -> bool {
        let changed = self.take_in(update);
        self.settle();
        changed
    }

    /// Stores one update and extends the history, and notes which analyses it made out of
    /// date, without running them: findings and spend stay as they were until `settle`.
    /// A large cluster's queue can hold several snapshots of its node fleet, each costing
    /// tens of milliseconds to analyse; only the newest needs it.
    pub fn take_in(&mut self, update: Update) -> bool {
        if let Update::Clock { at } = update
            && self.now.is_some_and(|now| at <= now)
        {
            return false;
        }
        self.note_figures(&update);
        match update {
            Update::Cluster(info) => self.cluster = info,
            // The clock moved on in `note_figures`.
            Update::Clock { .. } => {}
            Update::Dns(snapshot) => {
                self.dns = Some(snapshot);
                self.stale.insert(Analysis::Dns);
            }
            Update::Gateways(snapshot) => {
                self.gateways = Some(snapshot);
                self.stale.insert(Analysis::Gateways);
            }
            Update::Flows(snapshot) => {
                self.flows = Some(snapshot);
                self.stale.insert(Analysis::Flows);
            }
            Update::Nodes(mut snapshot) => {
                nodes::sort_for_display(&mut snapshot.nodes);
                self.nodes = Some(snapshot);
                // DNS advice depends on cluster size; spend and waste on the node fleet.
                self.stale
                    .extend([Analysis::Nodes, Analysis::Dns, Analysis::Spend]);
            }
            Update::Workloads(snapshot) => {
                self.workloads = Some(snapshot);
                self.stale.insert(Analysis::Spend);
            }
            Update::Source(status) => {
                self.sources.insert(status.pane, status);
            }
            Update::Checks(checks) => self.checks = Some(checks),
            Update::Health(health) => {
                self.health.insert(health.source.clone(), health);
            }
            Update::InitialSyncDone => self.initial_sync_done = true,
            Update::Alerts(snapshot) => {
                self.alerts = Some(snapshot);
                self.stale.insert(Analysis::Alerts);
            }
            // Notices are for the user, not facts about the cluster: the app shows them.
            Update::Notice { .. } => return false,
            Update::Billing(billing) => self.billing = Some(billing),
            Update::Oversized(oversized) => {
                let pane = oversized.pane;
                let id = oversized_id(&oversized.object);
                if oversized.bytes == 0 {
                    self.oversized.remove(&id);
                } else {
                    self.oversized.insert(id, oversized);
                }
                self.stale_panes.insert(pane);
            }
        }
        true
    }

    /// A pane snapshot that a later one of the same batch replaces: its clock and headline
    /// figures go into the history, as with `take_in`, but the snapshot itself is not kept
    /// (at 100 000 nodes a copy of one costs 10 ms).
    pub fn pass_over(&mut self, update: &Update) {
        self.note_figures(update);
    }

    /// What every update leaves even when a later one replaces it: the source's clock, and
    /// the points of the headline figures' history.
    fn note_figures(&mut self, update: &Update) {
        match update {
            Update::Clock { at } => self.advance_clock(*at),
            Update::Dns(snapshot) => {
                self.advance_clock(snapshot.at);
                if let Some(metrics) = &snapshot.metrics {
                    let at = snapshot.at;
                    self.record(Figure::DnsQps, at, metrics.qps);
                    self.record(Figure::DnsP99Ms, at, metrics.p99_ms);
                    self.record(Figure::DnsCacheHitRatio, at, metrics.cache_hit_ratio);
                    self.record(Figure::DnsServfailRatio, at, metrics.servfail_ratio());
                    self.record(Figure::DnsNxdomainRatio, at, metrics.nxdomain_ratio());
                }
            }
            Update::Gateways(snapshot) => {
                self.advance_clock(snapshot.at);
                // No rate from any gateway or route is no data, not 0 requests/s.
                if let Some((requests, errors)) = gateway_totals(snapshot) {
                    self.record(Figure::GatewayRequestsPerSec, snapshot.at, requests);
                    if requests > 0.0 {
                        self.record(Figure::Gateway5xxRatio, snapshot.at, errors / requests);
                    }
                }
            }
            Update::Flows(snapshot) => {
                self.advance_clock(snapshot.at);
                // Sizes only from a source that counts bytes; no flows at all is no data,
                // not 0 %.
                if snapshot.has_flow_data() {
                    self.record(
                        Figure::CrossZoneRatio,
                        snapshot.at,
                        snapshot.cross_zone_ratio(),
                    );
                }
                if let Some(bytes) = snapshot.cross_zone_bytes_per_sec() {
                    self.record(Figure::CrossZoneBytesPerSec, snapshot.at, bytes);
                }
            }
            Update::Nodes(snapshot) => {
                self.advance_clock(snapshot.at);
                self.record(Figure::NodeCount, snapshot.at, snapshot.nodes.len() as f64);
                self.record(Figure::SpotShare, snapshot.at, snapshot.spot_share());
                self.record(
                    Figure::PendingPods,
                    snapshot.at,
                    snapshot.pending_pods.len() as f64,
                );
            }
            Update::Workloads(snapshot) => self.advance_clock(snapshot.at),
            Update::Alerts(snapshot) => self.advance_clock(snapshot.at),
            _ => {}
        }
    }

    /// Runs the analyses the updates taken in since the last call made out of date, each
    /// once, then puts the findings together again.
    pub fn settle(&mut self) {
        for analysis in std::mem::take(&mut self.stale) {
            match analysis {
                Analysis::Nodes => self.analyze_nodes(),
                Analysis::Dns => self.analyze_dns(),
                Analysis::Gateways => self.analyze_gateways(),
                Analysis::Flows => self.analyze_flows(),
                Analysis::Spend => self.recompute_spend(),
                Analysis::Alerts => self.analyze_alerts(),
            }
        }
        if self.stale_panes.is_empty() {
            return;
        }
        for pane in std::mem::take(&mut self.stale_panes) {
            self.gather_findings(pane);
        }
        self.triage();
    }

    fn advance_clock(&mut self, at: Timestamp) {
        if self.now.is_none_or(|now| at > now) {
            self.now = Some(at);
        }
    }

    fn record(&mut self, figure: Figure, at: Timestamp, value: f64) {
        let retention = self.retention;
        self.history
            .entry(figure)
            .or_insert_with(|| Series::new(retention))
            .push(at, value);
    }

    pub fn series(&self, figure: Figure) -> Option<&Series> {
        self.history.get(&figure)
    }

    /// The newest snapshot says its source cannot give this figure (East-West without flow
    /// metrics): a chart of it has no data coming, rather than no history yet.
    pub fn figure_unavailable(&self, figure: Figure) -> bool {
        match figure {
            Figure::CrossZoneRatio => self.flows.as_ref().is_some_and(|f| !f.has_flow_data()),
            Figure::CrossZoneBytesPerSec => self
                .flows
                .as_ref()
                .is_some_and(|f| f.cross_zone_bytes_per_sec().is_none()),
            _ => false,
        }
    }

    /// Prices for the cluster's region, if the table knows it.
    pub fn region_prices(&self) -> Option<&RegionPrices> {
        self.config.prices.region(&self.cluster.region)
    }

    /// What a core and a GiB cost per hour here (zero until nodes have been seen).
    pub fn unit_costs(&self) -> UnitCosts {
        self.spend
            .as_ref()
            .map(spend::unit_costs)
            .unwrap_or_default()
    }

    /// The overview's list: one line per cause, most severe and largest impact first
    /// (see `triage`). Findings folded into a line are among its members.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Every pane's own findings, none folded: what `kockpit fix` lists and applies.
    pub fn pane_findings_all(&self) -> impl Iterator<Item = &Finding> {
        self.findings_by_pane.values().flatten()
    }

    pub fn pane_findings(&self, pane: Pane) -> &[Finding] {
        self.findings_by_pane
            .get(&pane)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The overview's line with this id, else the pane's own finding (one folded into
    /// another line on the overview).
    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id).or_else(|| {
            self.findings_by_pane
                .values()
                .flatten()
                .find(|f| f.id == id)
        })
    }

    /// The worst severity among a pane's findings, if it has any.
    pub fn pane_severity(&self, pane: Pane) -> Option<Severity> {
        self.pane_findings(pane).iter().map(|f| f.severity).max()
    }

    /// Whether the pane has received its data at least once.
    /// Why nothing here came from the cluster, when that is so: no source ever answered
    /// and the source reported no pane as healthy (a credential plugin that failed, an
    /// unreachable server, no permission for anything). The simulator answers from the
    /// start, and a replay without source states is never in this state.
    pub fn nothing_read(&self) -> Option<String> {
        if self.health.values().any(|h| h.last_success.is_some()) {
            return None;
        }
        let mut unavailable = None;
        let mut other = None;
        for pane in Pane::ALL {
            match self.sources.get(&pane).map(|s| &s.state) {
                None | Some(SourceState::Ok) => return None,
                Some(SourceState::Unavailable { cause }) => {
                    unavailable.get_or_insert_with(|| cause.clone());
                }
                Some(SourceState::Degraded { cause }) => {
                    other.get_or_insert_with(|| cause.clone());
                }
                Some(SourceState::NotInstalled { what }) => {
                    other.get_or_insert_with(|| format!("{what} is not installed"));
                }
            }
        }
        unavailable.or(other)
    }

    pub fn has_data(&self, pane: Pane) -> bool {
        match pane {
            Pane::Dns => self.dns.is_some(),
            Pane::Gateways => self.gateways.is_some(),
            Pane::Flows => self.flows.is_some(),
            Pane::Nodes => self.nodes.is_some(),
            Pane::Rightsizing => self.workloads.is_some(),
            Pane::Spend => self.spend.is_some(),
        }
    }

    fn analyze_dns(&mut self) {
        let found = match &self.dns {
            Some(snapshot) => dns::analyze(snapshot, self.nodes.as_ref(), &self.config.thresholds),
            None => return,
        };
        self.set_analysed(Pane::Dns, found);
    }

    fn analyze_gateways(&mut self) {
        let found = match &self.gateways {
            Some(snapshot) => gateways::analyze(snapshot, &self.config.thresholds),
            None => return,
        };
        self.set_analysed(Pane::Gateways, found);
    }

    fn analyze_flows(&mut self) {
        let found = match &self.flows {
            Some(snapshot) => {
                flows::analyze(snapshot, self.region_prices(), &self.config.thresholds)
            }
            None => return,
        };
        self.set_analysed(Pane::Flows, found);
    }

    fn analyze_nodes(&mut self) {
        let Some(snapshot) = &self.nodes else {
            return;
        };
        let summary = nodes::summary(snapshot);
        let found = nodes::analyze_summarized(snapshot, &summary, &self.config.thresholds);
        self.node_summary = Some(summary);
        self.set_analysed(Pane::Nodes, found);
    }

    /// Spend needs the node fleet; allocation and waste also need the workloads.
    fn recompute_spend(&mut self) {
        let Some(node_snapshot) = &self.nodes else {
            return;
        };
        let view = spend::compute(
            node_snapshot,
            self.workloads.as_ref(),
            &self.config.prices,
            &self.cluster.region,
        );
        self.record(
            Figure::RunRateUsdPerHour,
            view.at,
            view.run_rate_usd_per_hour,
        );
        self.record(Figure::IdleUsdPerHour, view.at, view.idle_usd_per_hour);
        let spend_findings =
            spend::analyze(&view, self.workloads.as_ref(), &self.config.thresholds);
        let costs = spend::unit_costs(&view);
        self.spend = Some(view);
        self.set_analysed(Pane::Spend, spend_findings);
        if let Some(workloads) = &self.workloads {
            let found = rightsizing::analyze(workloads, &costs, &self.config.thresholds);
            self.set_analysed(Pane::Rightsizing, found);
        }
    }

    /// What alerts are matched against: the objects the panes show.
    pub fn alert_context(&self) -> alerts::AlertContext<'_> {
        alerts::AlertContext {
            dns: self.dns.as_ref(),
            gateways: self.gateways.as_ref(),
            flows: self.flows.as_ref(),
            nodes: self.nodes.as_ref(),
            workloads: self.workloads.as_ref(),
        }
    }

    /// Alerts become findings on their object's pane, beside that pane's own analysis.
    fn analyze_alerts(&mut self) {
        self.alert_findings = match &self.alerts {
            Some(snapshot) => alerts::findings(snapshot, &self.alert_context()),
            None => Vec::new(),
        };
        self.stale_panes.extend(Pane::ALL);
    }

    fn set_analysed(&mut self, pane: Pane, found: Vec<Finding>) {
        self.analysed.insert(pane, found);
        self.stale_panes.insert(pane);
    }

    /// A pane's findings: its own analysis, the alerts about its objects and the objects
    /// left out of it for their size.
    fn gather_findings(&mut self, pane: Pane) {
        let mut found = self.analysed.get(&pane).cloned().unwrap_or_default();
        found.extend(
            self.alert_findings
                .iter()
                .filter(|f| f.pane == pane)
                .cloned(),
        );
        found.extend(
            self.oversized
                .values()
                .filter(|o| o.pane == pane)
                .map(oversized_finding),
        );
        sort_findings(&mut found);
        self.findings_by_pane.insert(pane, found);
    }

    /// The overview's list, from every pane's findings and whether each is growing.
    fn triage(&mut self) {
        let mut all: Vec<Finding> = self.findings_by_pane.values().flatten().cloned().collect();
        if let Some(now) = self.now {
            for finding in all.iter_mut().filter(|f| f.impact.trend.is_none()) {
                finding.impact.trend = figure_behind(finding)
                    .and_then(|(figure, higher_is_worse)| {
                        Some((self.series(figure)?, higher_is_worse))
                    })
                    .and_then(|(series, worse)| super::trend::trend(series, now, worse));
            }
        }
        self.findings = super::triage::triage(all, self.gateways.as_ref());
    }
}

/// The figure whose history says whether a finding is growing, and whether higher is worse:
/// the one that measures what its impact counts (traffic, pods waiting, money).
fn figure_behind(finding: &Finding) -> Option<(Figure, bool)> {
    let impact = &finding.impact;
    Some(match finding.pane {
        _ if impact.is_empty() => return None,
        Pane::Dns if finding.id.contains("cache") => (Figure::DnsCacheHitRatio, false),
        Pane::Dns => (Figure::DnsP99Ms, true),
        Pane::Gateways => (Figure::Gateway5xxRatio, true),
        Pane::Flows => (Figure::CrossZoneBytesPerSec, true),
        Pane::Nodes if impact.pods_waiting.is_some() => (Figure::PendingPods, true),
        Pane::Nodes => return None,
        Pane::Rightsizing | Pane::Spend => (Figure::IdleUsdPerHour, true),
    })
}

/// Requests per second and 5xx per second summed over gateways (routes when gateways lack it).
/// Requests/s and 5xx/s through the gateways (else the routes); `None` when no source gave
/// a rate for any of them.
fn gateway_totals(snapshot: &GatewaySnapshot) -> Option<(f64, f64)> {
    let mut measured = false;
    let mut requests = 0.0;
    let mut errors = 0.0;
    for gateway in &snapshot.gateways {
        if let Some(rps) = gateway.requests_per_sec {
            measured = true;
            requests += rps;
            errors += rps * gateway.error_5xx_ratio.unwrap_or(0.0);
        }
    }
    if requests == 0.0 {
        for route in &snapshot.routes {
            if let Some(rps) = route.requests_per_sec {
                measured = true;
                requests += rps;
                errors += rps * route.error_5xx_ratio.unwrap_or(0.0);
            }
        }
    }
    measured.then_some((requests, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::prices::PriceTable;
    use crate::domain::{dns, flows, gateways, nodes, spend};

    fn cockpit() -> Cockpit {
        Cockpit::new(AnalysisConfig {
            thresholds: Thresholds::default(),
            prices: PriceTable::builtin(),
        })
    }

    /// Every kind of update that is analysed, and snapshots of the node fleet and the
    /// workloads superseded later in the same batch, as a large cluster's queue holds them.
    fn updates() -> Vec<Update> {
        let mut slow_dns = dns::tests::healthy();
        dns::tests::metrics(&mut slow_dns).p99_ms = 142.0;
        let mut broken = gateways::tests::route();
        broken.backends[0].ready_endpoints = 0;
        let mut fewer_workloads = spend::tests::workloads();
        fewer_workloads.workloads.truncate(1);
        let mut later_fleet = nodes::tests::fleet_of(30);
        later_fleet.at += chrono::Duration::minutes(1);
        vec![
            Update::Cluster(ClusterInfo {
                name: "prod-eks".into(),
                region: "us-east-1".into(),
                source: "simulated".into(),
                detail: String::new(),
            }),
            Update::Nodes(nodes::tests::calm()),
            Update::Workloads(fewer_workloads),
            Update::Dns(slow_dns),
            Update::Gateways(gateways::tests::snapshot(vec![
                gateways::tests::route(),
                broken,
            ])),
            Update::Flows(flows::tests::calm()),
            Update::Oversized(OversizedObject {
                pane: Pane::Dns,
                object: ObjectRef::namespaced("ConfigMap", "kube-system", "coredns"),
                bytes: 4_000_000,
                limit: 3 * 1024 * 1024,
            }),
            Update::Nodes(later_fleet),
            Update::Workloads(spend::tests::workloads()),
        ]
    }

    #[test]
    fn a_batch_taken_in_then_settled_ends_as_if_each_update_were_applied() {
        let mut one_by_one = cockpit();
        for update in updates() {
            one_by_one.apply(update);
        }
        let mut batched = cockpit();
        for update in updates() {
            batched.take_in(update);
        }
        assert!(
            batched.findings().is_empty() && batched.spend.is_none(),
            "nothing is analysed before settle"
        );
        batched.settle();

        let raised: Vec<&str> = one_by_one
            .pane_findings_all()
            .map(|f| f.id.as_str())
            .collect();
        assert!(raised.len() >= 3, "the updates raise findings: {raised:?}");
        assert_eq!(batched.findings(), one_by_one.findings());
        for pane in Pane::ALL {
            assert_eq!(batched.pane_findings(pane), one_by_one.pane_findings(pane));
        }
        assert_eq!(batched.spend, one_by_one.spend);
        assert_eq!(
            batched.series(Figure::NodeCount).map(|s| s.len()),
            Some(2),
            "every snapshot's headline figures are still recorded"
        );
    }

    #[test]
    fn an_oversized_object_joins_and_leaves_its_pane_at_settle() {
        let mut cockpit = cockpit();
        cockpit.apply(Update::Dns(dns::tests::healthy()));
        let oversized = |bytes| {
            Update::Oversized(OversizedObject {
                pane: Pane::Dns,
                object: ObjectRef::namespaced("ConfigMap", "kube-system", "coredns"),
                bytes,
                limit: 3 * 1024 * 1024,
            })
        };
        let before = cockpit.pane_findings(Pane::Dns).len();
        cockpit.apply(oversized(4_000_000));
        assert_eq!(cockpit.pane_findings(Pane::Dns).len(), before + 1);
        cockpit.apply(oversized(0));
        assert_eq!(cockpit.pane_findings(Pane::Dns).len(), before);
    }
}
