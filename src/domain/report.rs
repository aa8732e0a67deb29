//! The snapshot report (`kockpit snapshot`): every pane's figures and the findings, as JSON
//! or Markdown. A pane that has no data yet is `null` in JSON and "no data" in Markdown.

use std::fmt::Write as _;

use serde::Serialize;

use super::cockpit::Cockpit;
use super::finding::{Evidence, Finding, Impact, Member, Severity};
use super::flows;
use super::format::{
    HOURS_PER_MONTH, mib, millicores, millis, or_na, percent, rate, seconds, usd_per_hour,
    usd_per_month,
};
use super::gateways;
use super::model::{
    ConditionStatus, FlowEdge, FlowSourceInfo, FlowUnit, ObjectRef, Pane, RouteParent, RouteStatus,
    SourceHealth, SourceState, SourceStatus,
};
use super::nodes::{self, NodeSummary};
use super::prices::PriceSource;
use super::rightsizing::{self, Recommendation};
use super::sanitize::sanitize;
use super::spend::{NamespaceCost, UnitCosts};
use super::time::Timestamp;

/// How many rows a Markdown table shows before it stops.
const MARKDOWN_ROWS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// "simulated", "live" or "replay".
    pub source: String,
    /// e.g. "scenario dns-storm, seed 7, 1x".
    pub detail: String,
    pub cluster: String,
    pub region: String,
    /// The source's clock when the report was taken.
    pub at: Option<Timestamp>,
    /// False when the source had not sent its full initial state yet (panes may be missing)
    /// or nothing could be read from it at all; `incomplete_reason` says which.
    pub complete: bool,
    pub incomplete_reason: Option<String>,
    pub dns: Option<DnsReport>,
    pub gateways: Option<GatewaysReport>,
    pub flows: Option<FlowsReport>,
    pub nodes: Option<NodeSummary>,
    pub rightsizing: Option<RightsizingReport>,
    pub spend: Option<SpendReport>,
    /// In the overview's order: most severe first, then by impact, one line per cause.
    pub findings: Vec<FindingReport>,
    /// Panes whose sources are not healthy (degraded, unavailable, not installed), so a
    /// 403 or an unreachable metrics server shows in the report as it does on screen.
    pub sources: Vec<SourceReport>,
    /// Every source the report was read from: last answer, latency, last error.
    pub source_health: Vec<SourceHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    pub pane: Pane,
    pub source: String,
    /// "degraded", "unavailable" or "not-installed".
    pub state: String,
    /// Why, in the source's words.
    pub cause: String,
    /// When the pane's data was last good.
    pub since: Timestamp,
}

impl SourceReport {
    fn from_status(status: &SourceStatus) -> Option<SourceReport> {
        let (state, cause) = match &status.state {
            SourceState::Ok => return None,
            SourceState::Degraded { cause } => ("degraded", cause.clone()),
            SourceState::Unavailable { cause } => ("unavailable", cause.clone()),
            SourceState::NotInstalled { what } => ("not-installed", format!("{what} not detected")),
        };
        Some(SourceReport {
            pane: status.pane,
            source: status.source.clone(),
            state: state.to_string(),
            cause,
            since: status.at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsReport {
    /// The metric figures are null when no metrics source is available.
    pub qps: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    pub servfail_ratio: Option<f64>,
    pub nxdomain_ratio: Option<f64>,
    pub replicas: u32,
    pub ready_replicas: u32,
    pub upstream_p99_ms: Option<f64>,
    pub nodelocal_dns: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewaysReport {
    pub gateways: Vec<GatewayRow>,
    pub routes: Vec<RouteRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayRow {
    pub namespace: String,
    pub name: String,
    pub class: String,
    pub address: Option<String>,
    pub accepted: bool,
    pub programmed: bool,
    pub attached_routes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteRow {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    /// Every parent reports `Accepted=True`.
    pub accepted: bool,
    /// Every parent reports `ResolvedRefs=True`.
    pub resolved_refs: bool,
    /// What stands between the route and its traffic, or "OK".
    pub reason: String,
    /// Ready pods behind the backends that take traffic.
    pub ready_backends: u32,
    /// All pods behind those backends.
    pub total_backends: u32,
    pub error_5xx_ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowsReport {
    /// What measured the traffic and what it cannot tell; null without a flow source, and
    /// then every traffic figure is null too.
    pub source: Option<FlowSourceInfo>,
    /// What the source cannot tell, in words.
    pub limits: Vec<String>,
    /// What `total_per_sec`, `cross_zone_per_sec` and the edges count: bytes, or flows.
    pub unit: FlowUnit,
    pub cross_zone_ratio: Option<f64>,
    pub total_per_sec: Option<f64>,
    pub cross_zone_per_sec: Option<f64>,
    /// Null when the source counts flows (Hubble): sizes and money are unknown.
    pub cross_zone_bytes_per_sec: Option<f64>,
    pub cross_zone_usd_per_month: Option<f64>,
    pub total_bytes_per_sec: Option<f64>,
    /// Largest cross-zone first.
    pub edges: Vec<FlowEdge>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RightsizingReport {
    pub window: String,
    pub total_monthly_waste_usd: f64,
    /// Most wasteful first.
    pub workloads: Vec<WorkloadRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadRow {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub container: String,
    pub replicas: u32,
    pub cpu_request_m: f64,
    /// Null without a metrics source.
    pub cpu_p95_m: Option<f64>,
    pub memory_request_mib: f64,
    pub memory_p95_mib: Option<f64>,
    pub recommended: Option<Recommendation>,
    pub monthly_waste_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendReport {
    pub run_rate_usd_per_hour: f64,
    pub run_rate_usd_per_month: f64,
    pub idle_usd_per_hour: f64,
    pub shared_usd_per_hour: f64,
    pub unallocated_usd_per_hour: f64,
    pub spot_share: f64,
    pub by_namespace: Vec<NamespaceCost>,
    pub unit_costs: UnitCosts,
    pub unpriced_instance_types: Vec<String>,
    /// Which prices the figures use, as one line (origin, age, discounts).
    pub prices: String,
    /// The same, as data.
    pub price_source: PriceSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingReport {
    pub id: String,
    pub pane: Pane,
    pub severity: Severity,
    pub summary: String,
    pub object: ObjectRef,
    /// The fix's slug (e.g. "dns-cache-profile"), or null.
    pub fix: Option<&'static str>,
    /// The id `kockpit fix show` and `fix apply` take
    /// (e.g. "dns/cache-hit-ratio#dns-cache-profile"), or null.
    pub fix_id: Option<String>,
    /// The objects the fix is applied to as one batch plan, this line's own first; empty
    /// when the fix is for this object alone.
    pub fix_batch: Vec<ObjectRef>,
    pub evidence: Vec<Evidence>,
    /// What the finding costs: requests or queries per second affected, pods waiting,
    /// money per month, trend; each left out when the finding says nothing about it.
    pub impact: Impact,
    /// The findings folded into this line: the same finding on other objects of one owner,
    /// and the symptoms of this cause.
    pub members: Vec<Member>,
}

impl From<&Finding> for FindingReport {
    fn from(finding: &Finding) -> Self {
        FindingReport {
            id: finding.id.clone(),
            pane: finding.pane,
            severity: finding.severity,
            summary: finding.summary.clone(),
            object: finding.object.clone(),
            fix: finding.fix.map(|f| f.slug()),
            fix_id: finding.fix_id(),
            fix_batch: fix_batch(finding),
            evidence: finding.evidence.clone(),
            impact: finding.impact,
            members: finding.members.clone(),
        }
    }
}

fn fix_batch(finding: &Finding) -> Vec<ObjectRef> {
    let others = super::fix::batch::members_sharing_fix(finding);
    if others.is_empty() {
        return Vec::new();
    }
    std::iter::once(finding.object.clone())
        .chain(others.into_iter().map(|m| m.object.clone()))
        .collect()
}

fn all_parents(route: &RouteStatus, condition: impl Fn(&RouteParent) -> bool) -> bool {
    !route.parents.is_empty() && route.parents.iter().all(condition)
}

fn is_true(condition: &Option<super::model::Condition>) -> bool {
    condition
        .as_ref()
        .is_some_and(|c| c.status == ConditionStatus::True)
}

impl Report {
    pub fn from_cockpit(cockpit: &Cockpit) -> Report {
        let dns = cockpit.dns.as_ref().map(|d| {
            let m = d.metrics.as_ref();
            DnsReport {
                qps: m.map(|m| m.qps),
                p50_ms: m.map(|m| m.p50_ms),
                p99_ms: m.map(|m| m.p99_ms),
                cache_hit_ratio: m.map(|m| m.cache_hit_ratio),
                servfail_ratio: m.map(|m| m.servfail_ratio()),
                nxdomain_ratio: m.map(|m| m.nxdomain_ratio()),
                replicas: d.replicas,
                ready_replicas: d.ready_replicas,
                upstream_p99_ms: m.and_then(|m| m.upstream_p99_ms),
                nodelocal_dns: d.nodelocal_dns,
            }
        });
        let gateways = cockpit.gateways.as_ref().map(|g| GatewaysReport {
            gateways: g
                .gateways
                .iter()
                .map(|gw| GatewayRow {
                    namespace: gw.namespace.clone(),
                    name: gw.name.clone(),
                    class: gw.class.clone(),
                    address: gw.address.clone(),
                    accepted: is_true(&gw.accepted),
                    programmed: is_true(&gw.programmed),
                    attached_routes: gw.attached_routes,
                })
                .collect(),
            routes: g
                .routes
                .iter()
                .map(|r| {
                    let readiness = gateways::ready_backends(r);
                    RouteRow {
                        namespace: r.namespace.clone(),
                        name: r.name.clone(),
                        kind: r.kind.as_str().to_string(),
                        accepted: all_parents(r, |p| is_true(&p.accepted)),
                        resolved_refs: all_parents(r, |p| is_true(&p.resolved_refs)),
                        reason: gateways::route_reason(r),
                        ready_backends: readiness.ready,
                        total_backends: readiness.total,
                        error_5xx_ratio: r.error_5xx_ratio,
                    }
                })
                .collect(),
        });
        let flows = cockpit.flows.as_ref().map(|f| {
            let mut edges = f.edges.clone();
            edges.sort_by(|a, b| b.cross_zone_per_sec.total_cmp(&a.cross_zone_per_sec));
            let known = |value: f64| f.has_flow_data().then_some(value);
            FlowsReport {
                limits: f
                    .source
                    .as_ref()
                    .map(|s| s.limits().into_iter().map(str::to_string).collect())
                    .unwrap_or_default(),
                source: f.source.clone(),
                unit: f.unit(),
                cross_zone_ratio: known(f.cross_zone_ratio()),
                total_per_sec: known(f.total_per_sec()),
                cross_zone_per_sec: known(f.cross_zone_per_sec()),
                cross_zone_bytes_per_sec: f.cross_zone_bytes_per_sec(),
                cross_zone_usd_per_month: flows::cross_zone_usd_per_month(
                    f,
                    cockpit.region_prices(),
                ),
                total_bytes_per_sec: f.total_bytes_per_sec(),
                edges,
            }
        });
        let costs = cockpit.unit_costs();
        let rightsizing = cockpit.workloads.as_ref().map(|w| {
            let mut workloads: Vec<WorkloadRow> = w
                .workloads
                .iter()
                .map(|u| WorkloadRow {
                    namespace: u.namespace.clone(),
                    name: u.name.clone(),
                    kind: u.kind.clone(),
                    container: u.container.clone(),
                    replicas: u.replicas,
                    cpu_request_m: u.cpu_request_m,
                    cpu_p95_m: u.usage.as_ref().map(|usage| usage.cpu_p95_m),
                    memory_request_mib: u.memory_request_mib,
                    memory_p95_mib: u.usage.as_ref().map(|usage| usage.memory_p95_mib),
                    recommended: rightsizing::recommendation(u),
                    monthly_waste_usd: rightsizing::monthly_waste_usd(u, &costs),
                })
                .collect();
            workloads.sort_by(|a, b| b.monthly_waste_usd.total_cmp(&a.monthly_waste_usd));
            RightsizingReport {
                window: w.window.clone(),
                total_monthly_waste_usd: workloads.iter().map(|r| r.monthly_waste_usd).sum(),
                workloads,
            }
        });
        let spend = cockpit.spend.as_ref().map(|s| SpendReport {
            run_rate_usd_per_hour: s.run_rate_usd_per_hour,
            run_rate_usd_per_month: s.run_rate_usd_per_hour * HOURS_PER_MONTH,
            idle_usd_per_hour: s.idle_usd_per_hour,
            shared_usd_per_hour: s.shared_usd_per_hour,
            unallocated_usd_per_hour: s.unallocated_usd_per_hour,
            spot_share: s.spot_share,
            by_namespace: s.by_namespace.clone(),
            unit_costs: s.unit_costs,
            unpriced_instance_types: s.unpriced_instance_types.clone(),
            prices: s.prices.to_string(),
            price_source: s.prices.clone(),
        });
        let incomplete_reason = if !cockpit.initial_sync_done {
            Some("the source had not sent its full initial state".to_string())
        } else {
            cockpit
                .nothing_read()
                .map(|cause| format!("nothing could be read from the cluster: {cause}"))
        };
        Report {
            source: cockpit.cluster.source.clone(),
            detail: cockpit.cluster.detail.clone(),
            cluster: cockpit.cluster.name.clone(),
            region: cockpit.cluster.region.clone(),
            at: cockpit.now,
            complete: incomplete_reason.is_none(),
            incomplete_reason,
            dns,
            gateways,
            flows,
            nodes: cockpit.nodes.as_ref().map(nodes::summary),
            rightsizing,
            spend,
            findings: cockpit.findings().iter().map(FindingReport::from).collect(),
            sources: cockpit
                .sources
                .values()
                .filter_map(SourceReport::from_status)
                .collect(),
            source_health: cockpit.health.values().cloned().collect(),
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Every field is a plain value with string map keys, so this cannot fail; the
        // fallback still yields valid JSON that says what went wrong.
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string())
    }

    /// A summary for an incident channel: the findings first, then one short section per pane.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let name = if self.cluster.is_empty() {
            "cluster"
        } else {
            &self.cluster
        };
        let _ = writeln!(out, "# kockpit snapshot: {}", md(name));
        let mut line = Vec::new();
        if !self.region.is_empty() {
            line.push(md(&self.region));
        }
        if !self.source.is_empty() {
            line.push(md(&self.source));
        }
        if !self.detail.is_empty() {
            line.push(md(&self.detail));
        }
        if let Some(at) = self.at {
            line.push(at.format("%Y-%m-%d %H:%M:%S UTC").to_string());
        }
        if !line.is_empty() {
            let _ = writeln!(out, "\n{}", line.join(" · "));
        }
        if let Some(reason) = &self.incomplete_reason {
            let _ = writeln!(out, "\n_Partial: {}._", md(reason));
        }
        for health in self.source_health.iter().filter(|h| h.failing()) {
            let _ = writeln!(
                out,
                "\n_Source {} ({}) is failing: {}._",
                md(&health.source),
                md(&health.endpoint),
                md(health.last_error.as_deref().unwrap_or("no answer"))
            );
        }
        for source in &self.sources {
            let _ = writeln!(
                out,
                "\n_{} data is {} ({}): {}, since {}._",
                source.pane.title(),
                source.state,
                md(&source.source),
                md(&source.cause),
                source.since.format("%H:%M:%S UTC")
            );
        }
        self.findings_markdown(&mut out);
        self.dns_markdown(&mut out);
        self.gateways_markdown(&mut out);
        self.flows_markdown(&mut out);
        self.nodes_markdown(&mut out);
        self.rightsizing_markdown(&mut out);
        self.spend_markdown(&mut out);
        out
    }

    fn findings_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Findings\n");
        if self.findings.is_empty() {
            let _ = writeln!(out, "Nothing to report.");
            return;
        }
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let _ = writeln!(
            out,
            "**{} critical, {} warning, {} info**\n",
            count(Severity::Critical),
            count(Severity::Warning),
            count(Severity::Info)
        );
        for finding in &self.findings {
            let fix = finding
                .fix_id
                .as_ref()
                .map(|id| format!(" (fix: `kockpit fix show {id}`)"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- **{}** [{}] {}{fix}",
                finding.severity.as_str(),
                finding.pane.title(),
                md(&finding.summary)
            );
        }
    }

    fn dns_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## DNS\n");
        let Some(dns) = &self.dns else {
            let _ = writeln!(out, "_no data_");
            return;
        };
        let _ = writeln!(
            out,
            "| QPS | p50 | p99 | cache hit | SERVFAIL | NXDOMAIN | ready replicas |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {}/{} |",
            or_na(dns.qps, rate),
            or_na(dns.p50_ms, millis),
            or_na(dns.p99_ms, millis),
            or_na(dns.cache_hit_ratio, percent),
            or_na(dns.servfail_ratio, percent),
            or_na(dns.nxdomain_ratio, percent),
            dns.ready_replicas,
            dns.replicas
        );
    }

    fn gateways_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Gateways\n");
        let Some(gateways) = &self.gateways else {
            let _ = writeln!(out, "_no data_");
            return;
        };
        let ok = gateways.routes.iter().filter(|r| r.reason == "OK").count();
        let _ = writeln!(
            out,
            "{} gateway(s); {ok} of {} routes OK.",
            gateways.gateways.len(),
            gateways.routes.len()
        );
        let broken: Vec<&RouteRow> = gateways
            .routes
            .iter()
            .filter(|r| r.reason != "OK")
            .collect();
        if !broken.is_empty() {
            let _ = writeln!(out, "\n| route | reason | ready pods |");
            let _ = writeln!(out, "|---|---|---|");
            for route in broken {
                let _ = writeln!(
                    out,
                    "| {} {}/{} | {} | {}/{} |",
                    route.kind,
                    md(&route.namespace),
                    md(&route.name),
                    md(&route.reason),
                    route.ready_backends,
                    route.total_backends
                );
            }
        }
    }

    fn flows_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## East-West\n");
        let Some(flows) = &self.flows else {
            let _ = writeln!(out, "_no data_");
            return;
        };
        let (Some(ratio), Some(total), Some(crossing)) = (
            flows.cross_zone_ratio,
            flows.total_per_sec,
            flows.cross_zone_per_sec,
        ) else {
            let _ = writeln!(out, "_no flow source_");
            return;
        };
        let amount = |per_sec: f64| flows::amount_in(flows.unit, per_sec);
        let cost = flows
            .cross_zone_usd_per_month
            .map(|usd| format!(", {}", usd_per_month(usd)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} of {} crosses zones ({}{cost}).",
            percent(ratio),
            amount(total),
            amount(crossing),
        );
        if let Some(source) = &flows.source {
            let limits = if flows.limits.is_empty() {
                String::new()
            } else {
                format!(": {}", flows.limits.join("; "))
            };
            let _ = writeln!(
                out,
                "\nMeasured by {} ({}){}.",
                source.kind.title(),
                md(&source.detail),
                limits
            );
        }
        let crossing: Vec<&FlowEdge> = flows
            .edges
            .iter()
            .filter(|e| e.cross_zone_per_sec > 0.0)
            .take(MARKDOWN_ROWS)
            .collect();
        if !crossing.is_empty() {
            let _ = writeln!(out, "\n| from | to | cross-zone | drops/s |");
            let _ = writeln!(out, "|---|---|---|---|");
            let end = |side: Option<(&str, &str)>| match side {
                Some((namespace, name)) => format!("{}/{}", md(namespace), md(name)),
                None => "?".to_string(),
            };
            for edge in crossing {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    end(edge.source()),
                    end(edge.destination()),
                    amount(edge.cross_zone_per_sec),
                    rate(edge.drops_per_sec)
                );
            }
        }
    }

    fn nodes_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Nodes\n");
        let Some(nodes) = &self.nodes else {
            let _ = writeln!(out, "_no data_");
            return;
        };
        let reasons = if nodes.disruption_reasons.is_empty() {
            "none".to_string()
        } else {
            nodes
                .disruption_reasons
                .iter()
                .map(|(reason, n)| format!("{} {n}", md(reason)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let p95 = nodes
            .provisioning_p95_s
            .map(seconds)
            .unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            out,
            "{} nodes, {} spot. Last hour: {} launched, {} terminated ({reasons}). {} pods pending; provisioning p95 {p95}.",
            nodes.count,
            percent(nodes.spot_share),
            nodes.launched_last_hour,
            nodes.terminated_last_hour,
            nodes.pending_pods
        );
    }

    fn rightsizing_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Right-sizing\n");
        let Some(rs) = &self.rightsizing else {
            let _ = writeln!(out, "_no data_");
            return;
        };
        let _ = writeln!(
            out,
            "{} wasted across {} containers ({} window).",
            usd_per_month(rs.total_monthly_waste_usd),
            rs.workloads.len(),
            md(&rs.window)
        );
        let wasteful: Vec<&WorkloadRow> = rs
            .workloads
            .iter()
            .filter(|w| w.monthly_waste_usd > 0.0)
            .take(MARKDOWN_ROWS)
            .collect();
        if !wasteful.is_empty() {
            let _ = writeln!(
                out,
                "\n| workload | CPU p95 / request | memory p95 / request | recommended | waste |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|");
            for w in wasteful {
                let _ = writeln!(
                    out,
                    "| {}/{} | {} / {} | {} / {} | {} / {} | {} |",
                    md(&w.namespace),
                    md(&w.name),
                    or_na(w.cpu_p95_m, millicores),
                    millicores(w.cpu_request_m),
                    or_na(w.memory_p95_mib, mib),
                    mib(w.memory_request_mib),
                    or_na(
                        w.recommended.as_ref().map(|r| f64::from(r.cpu_request_m)),
                        millicores
                    ),
                    or_na(
                        w.recommended
                            .as_ref()
                            .map(|r| f64::from(r.memory_request_mib)),
                        mib
                    ),
                    usd_per_month(w.monthly_waste_usd)
                );
            }
        }
    }

    fn spend_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Spend\n");
        let Some(spend) = &self.spend else {
            let _ = writeln!(out, "_no data_");
            return;
        };
        let _ = writeln!(
            out,
            "Run-rate {} ({}); idle {}; spot share {}. Prices: {}.",
            usd_per_hour(spend.run_rate_usd_per_hour),
            usd_per_month(spend.run_rate_usd_per_month),
            usd_per_hour(spend.idle_usd_per_hour),
            percent(spend.spot_share),
            md(&spend.prices)
        );
        if !spend.by_namespace.is_empty() {
            let _ = writeln!(out, "\n| namespace | cost | labelled |");
            let _ = writeln!(out, "|---|---|---|");
            for namespace in spend.by_namespace.iter().take(MARKDOWN_ROWS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    md(&namespace.namespace),
                    usd_per_hour(namespace.usd_per_hour),
                    if namespace.labelled {
                        "yes"
                    } else if namespace.system {
                        "system"
                    } else {
                        "no"
                    }
                );
            }
        }
        if !spend.unpriced_instance_types.is_empty() {
            let _ = writeln!(
                out,
                "\nUnpriced (left out): {}.",
                md(&spend.unpriced_instance_types.join(", "))
            );
        }
    }
}

/// Text from the cluster, made safe for a Markdown line and table cell.
pub(crate) fn md(text: &str) -> String {
    sanitize(text).replace('|', "\\|")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::model::{ClusterInfo, Update};
    use crate::domain::prices::PriceTable;
    use crate::domain::thresholds::Thresholds;

    pub(crate) fn empty_cockpit() -> Cockpit {
        let mut cockpit = Cockpit::new(AnalysisConfig {
            thresholds: Thresholds::default(),
            prices: PriceTable::builtin(),
        });
        cockpit.apply(Update::Cluster(ClusterInfo {
            name: "prod-eks".into(),
            region: "us-east-1".into(),
            source: "simulated".into(),
            detail: "scenario calm | seed 7".into(),
        }));
        cockpit
    }

    pub(crate) fn full_cockpit() -> Cockpit {
        let mut cockpit = empty_cockpit();
        let mut dns = crate::domain::dns::tests::healthy();
        crate::domain::dns::tests::metrics(&mut dns).p99_ms = 142.0;
        cockpit.apply(Update::Dns(dns));
        let mut broken = crate::domain::gateways::tests::route();
        broken.backends[0].ready_endpoints = 0;
        cockpit.apply(Update::Gateways(crate::domain::gateways::tests::snapshot(
            vec![crate::domain::gateways::tests::route(), broken],
        )));
        cockpit.apply(Update::Flows(crate::domain::flows::tests::calm()));
        cockpit.apply(Update::Nodes(crate::domain::nodes::tests::calm()));
        cockpit.apply(Update::Workloads(crate::domain::spend::tests::workloads()));
        cockpit.apply(Update::InitialSyncDone);
        cockpit
    }

    #[test]
    fn unhealthy_sources_are_reported_and_healthy_ones_are_not() {
        let mut cockpit = full_cockpit();
        let at = cockpit.now.expect("the cockpit has a clock");
        for (pane, state) in [
            (Pane::Dns, SourceState::Ok),
            (
                Pane::Nodes,
                SourceState::Unavailable {
                    cause: "forbidden: needs list/watch on nodes (cluster-wide)".into(),
                },
            ),
        ] {
            cockpit.apply(Update::Source(SourceStatus {
                pane,
                source: "kubernetes".into(),
                state,
                at,
            }));
        }
        let report = Report::from_cockpit(&cockpit);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
        let sources = json["sources"].as_array().expect("sources array");
        assert_eq!(sources.len(), 1, "{sources:?}");
        assert_eq!(sources[0]["pane"], "nodes");
        assert_eq!(sources[0]["state"], "unavailable");
        assert!(report.to_markdown().contains("Nodes data is unavailable"));
    }

    #[test]
    fn a_source_that_could_read_nothing_makes_the_report_incomplete() {
        let mut cockpit = Cockpit::new(AnalysisConfig::default());
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let plugin = "error: SSO session expired (credential plugin `aws eks get-token`, exit 255)";
        for pane in Pane::ALL {
            let state = if pane == Pane::Gateways {
                SourceState::Degraded {
                    cause: plugin.into(),
                }
            } else {
                SourceState::Unavailable {
                    cause: plugin.into(),
                }
            };
            cockpit.apply(Update::Source(SourceStatus {
                pane,
                source: "kubernetes".into(),
                state,
                at,
            }));
        }
        cockpit.apply(Update::InitialSyncDone);
        let report = Report::from_cockpit(&cockpit);
        assert!(!report.complete);
        assert_eq!(
            report.incomplete_reason.as_deref(),
            Some(format!("nothing could be read from the cluster: {plugin}").as_str())
        );
        assert!(
            report
                .to_markdown()
                .contains("_Partial: nothing could be read")
        );

        // One source that answered is enough for a report.
        let mut answered = SourceHealth::new("kubernetes", "https://api");
        answered.last_success = Some(at);
        cockpit.apply(Update::Health(answered));
        assert!(Report::from_cockpit(&cockpit).complete);
    }

    #[test]
    fn an_object_left_out_for_its_size_is_a_finding_until_it_is_back() {
        use crate::domain::model::{ObjectRef, OversizedObject};
        let mut cockpit = full_cockpit();
        let before = cockpit.findings().len();
        let left_out = |bytes| {
            Update::Oversized(OversizedObject {
                pane: Pane::Dns,
                object: ObjectRef::namespaced("ConfigMap", "kube-system", "coredns"),
                bytes,
                limit: 3 << 20,
            })
        };
        cockpit.apply(left_out(4_200_000));
        let finding = cockpit
            .findings()
            .iter()
            .find(|f| f.id == "data/oversized/ConfigMap/kube-system/coredns")
            .cloned()
            .expect("a finding");
        assert_eq!(finding.pane, Pane::Dns);
        assert_eq!(
            finding.summary,
            "ConfigMap kube-system/coredns is 4.2 MB, over the 3 MiB kockpit reads of one object: left out of this pane"
        );
        // Re-analysing the pane keeps it; the object back within the limit ends it.
        let dns = cockpit.dns.clone().expect("dns");
        cockpit.apply(Update::Dns(dns));
        assert_eq!(cockpit.findings().len(), before + 1);
        cockpit.apply(left_out(0));
        assert_eq!(cockpit.findings().len(), before);
    }

    #[test]
    fn json_has_every_pane_and_the_findings() {
        let report = Report::from_cockpit(&full_cockpit());
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
        for key in [
            "source",
            "cluster",
            "region",
            "at",
            "dns",
            "gateways",
            "flows",
            "nodes",
            "rightsizing",
            "spend",
            "findings",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        assert_eq!(json["source"], "simulated");
        assert_eq!(json["complete"], true);
        assert_eq!(json["cluster"], "prod-eks");
        for key in [
            "qps",
            "p50_ms",
            "p99_ms",
            "cache_hit_ratio",
            "servfail_ratio",
            "nxdomain_ratio",
            "replicas",
        ] {
            assert!(json["dns"].get(key).is_some(), "dns.{key}");
        }
        let route = &json["gateways"]["routes"][1];
        for key in [
            "namespace",
            "name",
            "kind",
            "accepted",
            "resolved_refs",
            "reason",
            "ready_backends",
        ] {
            assert!(route.get(key).is_some(), "route.{key}");
        }
        assert_eq!(route["kind"], "HTTPRoute");
        assert_eq!(
            route["reason"],
            "0 of 3 backend pods ready: requests get 503"
        );
        assert_eq!(route["ready_backends"], 0);
        assert_eq!(route["total_backends"], 3);
        for key in ["cross_zone_ratio", "cross_zone_usd_per_month", "edges"] {
            assert!(json["flows"].get(key).is_some(), "flows.{key}");
        }
        for key in [
            "count",
            "spot_share",
            "launched_last_hour",
            "terminated_last_hour",
            "disruption_reasons",
            "pending_pods",
            "provisioning_p95_s",
        ] {
            assert!(json["nodes"].get(key).is_some(), "nodes.{key}");
        }
        let workload = &json["rightsizing"]["workloads"][0];
        for key in [
            "namespace",
            "name",
            "cpu_request_m",
            "cpu_p95_m",
            "memory_request_mib",
            "memory_p95_mib",
            "monthly_waste_usd",
        ] {
            assert!(workload.get(key).is_some(), "rightsizing.workloads.{key}");
        }
        for key in [
            "run_rate_usd_per_hour",
            "by_namespace",
            "idle_usd_per_hour",
            "spot_share",
            "prices",
        ] {
            assert!(json["spend"].get(key).is_some(), "spend.{key}");
        }
        assert_eq!(json["spend"]["prices"], "built-in table, 2026-11");
        assert_eq!(json["spend"]["price_source"]["origin"]["kind"], "table");

        let findings = json["findings"].as_array().expect("array");
        assert!(!findings.is_empty());
        for finding in findings {
            for key in [
                "id", "pane", "severity", "summary", "object", "fix", "fix_id",
            ] {
                assert!(finding.get(key).is_some(), "finding.{key}");
            }
            // The id `kockpit fix apply` takes is the finding's and the fix's together.
            if let Some(slug) = finding["fix"].as_str() {
                let id = finding["id"].as_str().unwrap_or_default();
                assert_eq!(finding["fix_id"], format!("{id}#{slug}"));
            } else {
                assert!(finding["fix_id"].is_null());
            }
        }
        assert_eq!(findings[0]["severity"], "critical");
        let latency = findings
            .iter()
            .find(|f| f["id"] == "dns/latency-p99")
            .expect("latency");
        assert!(latency["fix"].is_null());
        assert_eq!(latency["pane"], "dns");
    }

    #[test]
    fn panes_without_data_are_null() {
        let report = Report::from_cockpit(&empty_cockpit());
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
        for key in [
            "dns",
            "gateways",
            "flows",
            "nodes",
            "rightsizing",
            "spend",
            "at",
        ] {
            assert!(json[key].is_null(), "{key} should be null");
        }
        assert_eq!(json["findings"], serde_json::json!([]));
        let markdown = report.to_markdown();
        assert!(markdown.contains("Nothing to report."));
        assert!(markdown.contains("_Partial:"));
        assert_eq!(markdown.matches("_no data_").count(), 6);
    }

    #[test]
    fn markdown_reads_as_an_incident_summary() {
        let markdown = Report::from_cockpit(&full_cockpit()).to_markdown();
        assert!(markdown.starts_with("# kockpit snapshot: prod-eks\n"));
        assert!(markdown.contains("scenario calm \\| seed 7"), "{markdown}");
        assert!(!markdown.contains("_Partial:"));
        assert!(
            markdown.contains(
                "- **critical** [DNS] CoreDNS p99 latency 142 ms (critical above 100 ms)"
            )
        );
        assert!(markdown.contains(
            "| HTTPRoute shop/checkout | 0 of 3 backend pods ready: requests get 503 | 0/3 |"
        ));
        assert!(markdown.contains("## Spend\n\nRun-rate $"));
        assert!(markdown.contains("Prices: built-in table, 2026-11."));
        for heading in [
            "## Findings",
            "## DNS",
            "## Gateways",
            "## East-West",
            "## Nodes",
            "## Right-sizing",
        ] {
            assert!(markdown.contains(heading), "{heading}");
        }
    }

    #[test]
    fn markdown_neutralises_hostile_names() {
        let mut cockpit = empty_cockpit();
        cockpit.cluster.name = "evil\u{1b}[2J|x".into();
        let markdown = Report::from_cockpit(&cockpit).to_markdown();
        assert!(
            markdown.starts_with("# kockpit snapshot: evil\\|x\n"),
            "{markdown}"
        );
    }
}
