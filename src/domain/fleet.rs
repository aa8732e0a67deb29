//! Several clusters side by side, as `kockpit snapshot` with more than one context prints
//! them: each cluster's own report with the context it was read through, and a comparison of
//! the figures that matter in a regional failover (traffic, errors, DNS, capacity, money).

use std::fmt::Write as _;

use serde::Serialize;

use super::cockpit::{Cockpit, Figure};
use super::finding::Severity;
use super::format;
use super::model::{Pane, SourceState};
use super::nodes;
use super::report::{Report, md};

/// A cluster of the fleet, by the position its context was given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterId(pub usize);

impl ClusterId {
    /// The only cluster of a single-cluster session, or the first of a fleet.
    pub const FIRST: ClusterId = ClusterId(0);
}

/// One cluster of the fleet: the single-cluster report, with the context it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterReport {
    pub context: String,
    #[serde(flatten)]
    pub report: Report,
}

/// One row of the comparison. A figure the cluster's sources did not give is null (and
/// "–" in Markdown), never zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRow {
    pub context: String,
    pub cluster: String,
    pub region: String,
    pub complete: bool,
    pub requests_per_sec: Option<f64>,
    pub error_5xx_ratio: Option<f64>,
    pub dns_p99_ms: Option<f64>,
    pub nodes: Option<usize>,
    pub pending_pods: Option<usize>,
    pub spot_share: Option<f64>,
    pub run_rate_usd_per_hour: Option<f64>,
    /// The overview's first line: the most severe finding with the largest impact.
    pub top_finding: Option<String>,
    pub top_severity: Option<Severity>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    pub comparison: Vec<FleetRow>,
    pub clusters: Vec<ClusterReport>,
}

impl FleetRow {
    /// The figures of one cluster's model as it stands. Cheap enough for every frame of the
    /// fleet screen: it reads the summaries the analyses keep and copies nothing large.
    ///
    /// A pane whose source cannot be read (forbidden, not installed, unreachable from the
    /// start) gives no figure here: its empty snapshot would read as 0 nodes or $0/h.
    pub fn from_cockpit(context: &str, cockpit: &Cockpit) -> FleetRow {
        let readable = |pane| {
            !matches!(
                cockpit.sources.get(&pane).map(|s| &s.state),
                Some(SourceState::Unavailable { .. } | SourceState::NotInstalled { .. })
            )
        };
        let latest = |figure| cockpit.series(figure).and_then(|s| s.latest());
        let gateways = |figure| latest(figure).filter(|_| readable(Pane::Gateways));
        let computed;
        let nodes = match (&cockpit.node_summary, &cockpit.nodes) {
            _ if !readable(Pane::Nodes) => None,
            (Some(summary), _) => Some(summary),
            (None, Some(snapshot)) => {
                computed = nodes::summary(snapshot);
                Some(&computed)
            }
            (None, None) => None,
        };
        let top = cockpit.findings().first();
        FleetRow {
            context: context.to_string(),
            cluster: cockpit.cluster.name.clone(),
            region: cockpit.cluster.region.clone(),
            complete: cockpit.initial_sync_done && cockpit.nothing_read().is_none(),
            requests_per_sec: gateways(Figure::GatewayRequestsPerSec),
            error_5xx_ratio: gateways(Figure::Gateway5xxRatio),
            dns_p99_ms: cockpit
                .dns
                .as_ref()
                .and_then(|d| d.metrics.as_ref())
                .map(|m| m.p99_ms),
            nodes: nodes.map(|n| n.count),
            pending_pods: nodes.map(|n| n.pending_pods),
            spot_share: nodes.map(|n| n.spot_share),
            run_rate_usd_per_hour: cockpit
                .spend
                .as_ref()
                .filter(|_| readable(Pane::Spend) && readable(Pane::Nodes))
                .map(|s| s.run_rate_usd_per_hour),
            top_finding: top.map(|f| f.summary.clone()),
            top_severity: top.map(|f| f.severity),
        }
    }
}

impl FleetReport {
    /// The clusters in the order their contexts were given.
    pub fn new<'a>(clusters: impl IntoIterator<Item = (&'a str, &'a Cockpit)>) -> FleetReport {
        let mut comparison = Vec::new();
        let mut reports = Vec::new();
        for (context, cockpit) in clusters {
            let report = Report::from_cockpit(cockpit);
            comparison.push(FleetRow::from_cockpit(context, cockpit));
            reports.push(ClusterReport {
                context: context.to_string(),
                report,
            });
        }
        FleetReport {
            comparison,
            clusters: reports,
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string())
    }

    /// The comparison table first, then each cluster's own summary one heading level down.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# kockpit snapshot: {} clusters\n\n\
             | context | cluster | requests/s | 5xx | DNS p99 | nodes | pending pods | spot | $/h | top finding |\n\
             |---|---|---|---|---|---|---|---|---|---|",
            self.clusters.len()
        );
        for row in &self.comparison {
            let dash = || "–".to_string();
            let cluster = match (row.cluster.as_str(), row.complete) {
                ("", _) => "?".to_string(),
                (name, true) => md(name),
                (name, false) => format!("{} (partial)", md(name)),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&row.context),
                cluster,
                row.requests_per_sec
                    .map_or_else(dash, |r| format!("{r:.0}")),
                row.error_5xx_ratio.map_or_else(dash, format::percent),
                row.dns_p99_ms.map_or_else(dash, |ms| format!("{ms:.0} ms")),
                row.nodes.map_or_else(dash, |n| n.to_string()),
                row.pending_pods.map_or_else(dash, |n| n.to_string()),
                row.spot_share.map_or_else(dash, format::percent),
                row.run_rate_usd_per_hour
                    .map_or_else(dash, |usd| format!("${usd:.2}")),
                row.top_finding.as_deref().map_or_else(dash, md),
            );
        }
        for cluster in &self.clusters {
            let _ = writeln!(out, "\n---\n\n_Context {}._\n", md(&cluster.context));
            for line in cluster.report.to_markdown().lines() {
                // One level down, so the fleet's title stays the only top heading.
                if line.starts_with('#') {
                    out.push('#');
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::tests::{empty_cockpit, full_cockpit};

    #[test]
    fn each_cluster_keeps_its_own_report_and_context() {
        let east = full_cockpit();
        let west = empty_cockpit();
        let fleet = FleetReport::new([("prod-use1", &east), ("prod-usw2", &west)]);
        assert_eq!(fleet.clusters.len(), 2);
        assert_eq!(fleet.clusters[0].report, Report::from_cockpit(&east));
        assert_eq!(fleet.clusters[1].report, Report::from_cockpit(&west));

        let json: serde_json::Value = serde_json::from_str(&fleet.to_json()).unwrap_or_default();
        assert_eq!(json["clusters"][0]["context"], "prod-use1");
        assert_eq!(
            json["clusters"][0]["cluster"], "prod-eks",
            "the report's fields sit beside the context"
        );
        assert_eq!(json["comparison"][1]["context"], "prod-usw2");
    }

    #[test]
    fn a_figure_a_cluster_did_not_give_is_missing_not_zero() {
        let east = full_cockpit();
        let west = empty_cockpit();
        let fleet = FleetReport::new([("prod-use1", &east), ("prod-usw2", &west)]);
        let [read, unread] = [&fleet.comparison[0], &fleet.comparison[1]];
        assert_eq!(read.dns_p99_ms, Some(142.0));
        assert!(read.nodes.is_some() && read.run_rate_usd_per_hour.is_some());
        assert!(read.top_finding.is_some());
        assert_eq!(unread.dns_p99_ms, None);
        assert_eq!(unread.nodes, None);
        assert_eq!(unread.run_rate_usd_per_hour, None);

        let markdown = fleet.to_markdown();
        assert!(
            markdown.starts_with("# kockpit snapshot: 2 clusters"),
            "{markdown}"
        );
        let unread_row = markdown
            .lines()
            .find(|l| l.starts_with("| prod-usw2"))
            .unwrap_or_default();
        assert!(unread_row.contains("| – |"), "{unread_row}");
        assert_eq!(
            markdown.lines().filter(|l| l.starts_with("# ")).count(),
            1,
            "each cluster's title is one level down: {markdown}"
        );
        assert!(markdown.contains("## kockpit snapshot: prod-eks"));
    }
}
