//! Triage: turns every pane's findings into the overview's list, one line per cause with
//! its symptoms and same-owner repeats folded under it, ranked by what each costs.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::finding::{Finding, Fold, Impact, Member, Trend};
use super::format::{rate, usd_per_month};
use super::model::{GatewaySnapshot, ObjectRef, Pane};

/// A workload sending at least this share of the NXDOMAIN answers is their cause, and so the
/// cause of the latency and cache misses the storm brings.
const NDOTS_CAUSE_SHARE: f64 = 0.25;

/// The overview's list: grouped, linked to causes, ranked.
pub fn triage(findings: Vec<Finding>, gateways: Option<&GatewaySnapshot>) -> Vec<Finding> {
    let mut lines = group_by_owner(findings);
    link_ndots_storm(&mut lines);
    link_spot_wave(&mut lines);
    link_nodepool_limit(&mut lines);
    link_broken_backends(&mut lines, gateways);
    rank(&mut lines);
    link_gateway_errors(&mut lines, gateways);
    link_cross_zone(&mut lines);
    rank(&mut lines);
    lines
}

/// How an impact compares with another: traffic failing beats pods waiting beats money; a
/// figure getting worse beats a steady one of the same kind; then the larger figure.
fn weight(impact: &Impact) -> (u8, bool, f64) {
    let worsening = impact.trend == Some(Trend::Worsening);
    let traffic = match (impact.requests_per_sec, impact.queries_per_sec) {
        (Some(r), Some(q)) => Some(r.max(q)),
        (r, q) => r.or(q),
    };
    if let Some(per_sec) = traffic {
        (3, worsening, per_sec)
    } else if let Some(pods) = impact.pods_waiting {
        (2, worsening, f64::from(pods))
    } else if let Some(usd) = impact.usd_per_month {
        (1, worsening, usd)
    } else {
        (0, worsening, 0.0)
    }
}

/// Most severe first; within a severity the larger impact, then lines that carry a fix, then
/// by pane and id so the list is stable.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let (a_class, a_worse, a_size) = weight(&a.impact);
        let (b_class, b_worse, b_size) = weight(&b.impact);
        b.severity
            .cmp(&a.severity)
            .then(b_class.cmp(&a_class))
            .then(b_worse.cmp(&a_worse))
            .then(b_size.total_cmp(&a_size))
            .then(b.fix.is_some().cmp(&a.fix.is_some()))
            .then(a.pane.cmp(&b.pane))
            .then(a.id.cmp(&b.id))
    });
}

/// Folds `other` into `lead`: the line takes the worse severity and the larger impact, and
/// lists `other` (with whatever was already folded into it) among its members.
fn fold(lead: &mut Finding, other: Finding, how: Fold) {
    lead.severity = lead.severity.max(other.severity);
    lead.impact = lead.impact.merge(other.impact);
    lead.members.push(Member {
        id: other.id,
        fold: how,
        pane: other.pane,
        severity: other.severity,
        summary: other.summary,
        object: other.object,
        fix: other.fix,
    });
    lead.members.extend(other.members);
}

/// Folds the lines at `others` into the line at `lead`; returns the lead's new index.
fn fold_lines(lines: &mut Vec<Finding>, lead: usize, others: &[usize], how: Fold) -> usize {
    let mut others: Vec<usize> = others.iter().copied().filter(|i| *i != lead).collect();
    others.sort_unstable();
    others.dedup();
    let mut taken = Vec::new();
    for index in others.iter().rev() {
        taken.push(lines.remove(*index));
    }
    let lead = lead - others.iter().filter(|i| **i < lead).count();
    for other in taken.into_iter().rev() {
        fold(&mut lines[lead], other, how);
    }
    lead
}

/// The part of a summary before its thresholds or advice: "CoreDNS p99 latency 199 ms".
fn headline(summary: &str) -> &str {
    let end = [" (", ": "]
        .iter()
        .filter_map(|cut| summary.find(cut))
        .min()
        .unwrap_or(summary.len());
    &summary[..end]
}

// ---------------------------------------------------------------------------------------
// One line per owner

/// The rule a finding comes from: its id without the object it names
/// (`nodes/do-not-disrupt/ns/pod` → `nodes/do-not-disrupt`).
fn rule(finding: &Finding) -> &str {
    let id = finding.id.as_str();
    if let Some(rest) = id.strip_prefix("alerts/") {
        let name = rest.split('/').next().unwrap_or_default();
        return &id[..("alerts/".len() + name.len())];
    }
    let parts = if finding.object.namespace.is_some() {
        2
    } else {
        1
    };
    let mut end = id.len();
    for _ in 0..parts {
        match id[..end].rfind('/') {
            Some(slash) => end = slash,
            None => return id,
        }
    }
    &id[..end]
}

/// The Deployment a pod belongs to, from the name its ReplicaSet gives it
/// (`report-builder-9kcf924wkj-86g55` → `report-builder`).
pub fn pod_owner(pod: &str) -> Option<&str> {
    let (rest, suffix) = pod.rsplit_once('-')?;
    let (owner, hash) = rest.rsplit_once('-')?;
    let alphanumeric = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let looks_generated = suffix.len() == 5
        && alphanumeric(suffix)
        && (6..=10).contains(&hash.len())
        && alphanumeric(hash);
    (looks_generated && !owner.is_empty()).then_some(owner)
}

/// What a finding's object belongs to, when several findings of one rule can share it.
fn owner(finding: &Finding) -> Option<ObjectRef> {
    let object = &finding.object;
    let namespace = object.namespace.as_deref().unwrap_or_default();
    if finding.id.starts_with("alerts/") {
        return finding
            .evidence
            .iter()
            .find(|e| e.label == "nodepool" && e.threshold == "label")
            .map(|e| ObjectRef::cluster_scoped("NodePool", &e.value));
    }
    if object.kind == "Pod" && finding.pane == Pane::Nodes && finding.id != "nodes/pending-pods" {
        return pod_owner(&object.name)
            .map(|name| ObjectRef::namespaced("Deployment", namespace, name));
    }
    if finding.pane == Pane::Rightsizing && object.namespace.is_some() {
        return Some(ObjectRef::cluster_scoped("Namespace", namespace));
    }
    None
}

fn describe(object: &ObjectRef) -> String {
    match &object.namespace {
        Some(namespace) => format!("{} {namespace}/{}", object.kind, object.name),
        None => format!("{} {}", object.kind, object.name),
    }
}

/// Findings of one rule about objects of one owner become one line naming the owner and
/// the count; the first in rank leads and the rest are its members.
fn group_by_owner(findings: Vec<Finding>) -> Vec<Finding> {
    let mut groups: BTreeMap<(String, ObjectRef), Vec<usize>> = BTreeMap::new();
    for (index, finding) in findings.iter().enumerate() {
        if let Some(owner) = owner(finding) {
            groups
                .entry((rule(finding).to_string(), owner))
                .or_default()
                .push(index);
        }
    }
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    let mut lines = Vec::new();
    for ((_, owner), indexes) in &groups {
        if indexes.len() < 2 {
            continue;
        }
        let mut members: Vec<Finding> = indexes.iter().filter_map(|i| slots[*i].take()).collect();
        rank(&mut members);
        let count = members.len();
        let money: f64 = members.iter().filter_map(|m| m.impact.usd_per_month).sum();
        let mut members = members.into_iter();
        let Some(mut lead) = members.next() else {
            continue;
        };
        let lead_summary = lead.summary.clone();
        let kind = lead.object.kind.clone();
        for member in members {
            fold(&mut lead, member, Fold::SameOwner);
        }
        // Money of one owner adds up; traffic and pods are the same users counted again.
        if money > 0.0 {
            lead.impact.usd_per_month = Some(money);
        }
        lead.summary = if lead.pane == Pane::Rightsizing {
            format!(
                "{count} workloads in {}: {} in all; largest: {lead_summary}",
                owner.name,
                usd_per_month(money)
            )
        } else {
            format!("{count} {kind}s of {}: {lead_summary}", describe(owner))
        };
        lines.push(lead);
    }
    lines.extend(slots.into_iter().flatten());
    lines
}

// ---------------------------------------------------------------------------------------
// Symptoms under their cause

fn index_of(lines: &[Finding], id: &str) -> Option<usize> {
    lines.iter().position(|f| f.id == id)
}

fn is_on(finding: &Finding, kind: &str, namespace: &str, name: &str) -> bool {
    finding.object.kind == kind
        && finding.object.namespace.as_deref() == Some(namespace)
        && finding.object.name == name
}

fn traffic(finding: &Finding) -> f64 {
    weight(&finding.impact).2
}

/// An ndots storm: the workload sending most of the NXDOMAIN answers is the cause of the
/// NXDOMAIN share, the latency, the cache misses and the load per pod.
fn link_ndots_storm(lines: &mut Vec<Finding>) {
    let Some(nxdomain) = index_of(lines, "dns/nxdomain-ratio") else {
        return;
    };
    let nxdomain_per_sec = traffic(&lines[nxdomain]);
    let Some(cause) = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| f.id.starts_with("dns/ndots/") && f.fix.is_some())
        .max_by(|a, b| traffic(a.1).total_cmp(&traffic(b.1)))
        .map(|(i, _)| i)
    else {
        return;
    };
    if traffic(&lines[cause]) < nxdomain_per_sec * NDOTS_CAUSE_SHARE {
        return;
    }
    let symptoms: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            [
                "dns/latency-p99",
                "dns/cache-hit-ratio",
                "dns/nxdomain-ratio",
                "dns/qps-per-pod",
            ]
            .contains(&f.id.as_str())
                || (f.id.starts_with("alerts/")
                    && (is_on(f, "Service", "kube-system", "kube-dns")
                        || is_on(f, "Deployment", "kube-system", "coredns")))
        })
        .map(|(i, _)| i)
        .collect();
    let headlines: Vec<String> = symptoms
        .iter()
        .filter(|i| !lines[**i].id.starts_with("alerts/"))
        .map(|i| headline(&lines[*i].summary).to_string())
        .collect();
    let cause = fold_lines(lines, cause, &symptoms, Fold::Symptom);
    if !headlines.is_empty() {
        let line = &mut lines[cause];
        line.summary = format!("{}; behind: {}", line.summary, headlines.join(", "));
    }
}

/// A spot interruption wave: the pods it leaves pending, the slow replacement nodes, the
/// fallen spot share and the per-node interruption alerts are its symptoms.
fn link_spot_wave(lines: &mut Vec<Finding>) {
    let Some(cause) = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| f.id.starts_with("nodes/spot-interruptions/"))
        .max_by(|a, b| {
            (a.1.severity, a.1.fix.is_some(), weight(&a.1.impact).2)
                .partial_cmp(&(b.1.severity, b.1.fix.is_some(), weight(&b.1.impact).2))
                .unwrap_or(Ordering::Equal)
        })
        .map(|(i, _)| i)
    else {
        return;
    };
    let pool = lines[cause].object.name.clone();
    let in_pool = |f: &Finding| {
        f.evidence
            .iter()
            .any(|e| e.label == "nodepool" && e.threshold == "label" && e.value == pool)
    };
    let symptoms: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            [
                "nodes/pending-pods",
                "nodes/provisioning-p95",
                "nodes/spot-share",
            ]
            .contains(&f.id.as_str())
                || (f.id.starts_with("alerts/") && in_pool(f))
        })
        .map(|(i, _)| i)
        .collect();
    fold_lines(lines, cause, &symptoms, Fold::Symptom);
}

/// A NodePool at its limit: the pods it cannot place are its symptom, and so are the
/// "not scheduled" alerts that name it. Raising the limit (its fix) is what places them.
/// A spot wave, linked first, keeps the pending pods it caused.
fn link_nodepool_limit(lines: &mut Vec<Finding>) {
    let Some(cause) = lines
        .iter()
        .position(|f| f.id.starts_with("nodes/nodepool-at-limit/"))
    else {
        return;
    };
    let pool = lines[cause].object.name.clone();
    let names_pool = format!("NodePool {pool} ");
    let symptoms: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            (f.id == "nodes/pending-pods" && f.summary.contains(&names_pool))
                || (f.id.starts_with("alerts/KubePodNotScheduled")
                    && f.summary.contains(&names_pool))
        })
        .map(|(i, _)| i)
        .collect();
    fold_lines(lines, cause, &symptoms, Fold::Symptom);
}

/// The backends (namespace, Service) of a route that take traffic but have no ready pod.
fn broken_backends(gateways: &GatewaySnapshot, route: &ObjectRef) -> BTreeSet<(String, String)> {
    gateways
        .routes
        .iter()
        .filter(|r| {
            r.kind.as_str() == route.kind
                && Some(r.namespace.as_str()) == route.namespace.as_deref()
                && r.name == route.name
        })
        .flat_map(|r| r.backends.iter())
        .filter(|b| b.weight > 0 && b.service_exists && b.ready_endpoints == 0)
        .map(|b| (b.namespace.clone(), b.name.clone()))
        .collect()
}

/// Routes that fail because one backend has no ready pod are one cause: the line with a fix
/// (a canary to roll back) leads, the other routes and the alerts about that backend's
/// Service or Deployment fold under it.
fn link_broken_backends(lines: &mut Vec<Finding>, gateways: Option<&GatewaySnapshot>) {
    let Some(gateways) = gateways else {
        return;
    };
    let mut by_backend: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (index, finding) in lines.iter().enumerate() {
        if finding.pane == Pane::Gateways && finding.object.kind.ends_with("Route") {
            for backend in broken_backends(gateways, &finding.object) {
                by_backend.entry(backend).or_default().push(index);
            }
        }
    }
    // One backend at a time; indexes move as lines are folded, so look them up by id.
    let groups: Vec<((String, String), Vec<String>)> = by_backend
        .into_iter()
        .map(|(backend, indexes)| {
            let ids = indexes.iter().map(|i| lines[*i].id.clone()).collect();
            (backend, ids)
        })
        .collect();
    for ((namespace, service), ids) in groups {
        let mut indexes: Vec<usize> = ids.iter().filter_map(|id| index_of(lines, id)).collect();
        indexes.sort_by(|a, b| {
            let (a, b) = (&lines[*a], &lines[*b]);
            (b.fix.is_some(), b.severity)
                .cmp(&(a.fix.is_some(), a.severity))
                .then(traffic(b).total_cmp(&traffic(a)))
        });
        let Some(&lead) = indexes.first() else {
            continue;
        };
        let alerts = lines.iter().enumerate().filter(|(_, f)| {
            f.id.starts_with("alerts/")
                && (is_on(f, "Service", &namespace, &service)
                    || is_on(f, "Deployment", &namespace, &service))
        });
        let mut symptoms: Vec<usize> = alerts.map(|(i, _)| i).collect();
        symptoms.extend(indexes.iter().skip(1));
        fold_lines(lines, lead, &symptoms, Fold::Symptom);
    }
}

/// A Gateway's 5xx are its routes' 5xx: they fold under the highest-ranked line about a
/// route attached to that Gateway. Expects `lines` ranked.
fn link_gateway_errors(lines: &mut Vec<Finding>, gateways: Option<&GatewaySnapshot>) {
    let Some(gateways) = gateways else {
        return;
    };
    let gateway_lines: Vec<String> = lines
        .iter()
        .filter(|f| f.id.starts_with("gateways/gateway-5xx/"))
        .map(|f| f.id.clone())
        .collect();
    for id in gateway_lines {
        let Some(index) = index_of(lines, &id) else {
            continue;
        };
        let gateway = lines[index].object.clone();
        let attached = |f: &Finding| {
            gateways.routes.iter().any(|r| {
                r.kind.as_str() == f.object.kind
                    && Some(r.namespace.as_str()) == f.object.namespace.as_deref()
                    && r.name == f.object.name
                    && r.parents.iter().any(|p| {
                        Some(p.namespace.as_str()) == gateway.namespace.as_deref()
                            && p.name == gateway.name
                    })
            })
        };
        if let Some(lead) = lines.iter().position(attached) {
            fold_lines(lines, lead, &[index], Fold::Symptom);
        }
    }
}

/// The cluster's cross-zone share is made of its Services' traffic: the line leads with the
/// largest Service that topology-aware routing can fix, the others fold under it.
fn link_cross_zone(lines: &mut Vec<Finding>) {
    let Some(ratio) = index_of(lines, "flows/cross-zone-ratio") else {
        return;
    };
    let is_contributor = |f: &Finding| {
        f.id.starts_with("flows/topology-aware-routing/")
            || f.id.starts_with("flows/topology-blocked/")
    };
    let money = |f: &Finding| f.impact.usd_per_month.unwrap_or(0.0);
    let lead = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| is_contributor(f) && f.fix.is_some())
        .max_by(|a, b| money(a.1).total_cmp(&money(b.1)))
        .map(|(i, _)| i)
        .unwrap_or(ratio);
    let ratio_summary = lines[ratio].summary.clone();
    let lead_summary = lines[lead].summary.clone();
    let mut others: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, f)| is_contributor(f))
        .map(|(i, _)| i)
        .collect();
    others.push(ratio);
    let lead = fold_lines(lines, lead, &others, Fold::Symptom);
    if lines[lead].id != "flows/cross-zone-ratio" {
        lines[lead].summary = format!("{ratio_summary}; largest fixable: {lead_summary}");
    }
}

/// The impact in the words the overview shows after a line, e.g. "~1,200 req/s affected".
pub fn impact_text(impact: &Impact) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(rps) = impact.requests_per_sec {
        parts.push(format!("~{} req/s affected", rate(rps)));
    }
    if let Some(qps) = impact.queries_per_sec {
        parts.push(format!("~{} q/s affected", rate(qps)));
    }
    if let Some(pods) = impact.pods_waiting {
        parts.push(format!(
            "{pods} pod{} waiting",
            if pods == 1 { "" } else { "s" }
        ));
    }
    if let Some(usd) = impact.usd_per_month {
        parts.push(usd_per_month(usd));
    }
    if parts.is_empty() {
        return None;
    }
    if impact.trend == Some(Trend::Worsening) {
        parts.push("worsening".into());
    }
    Some(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::{Evidence, FixKind, Severity};

    fn line(id: &str, severity: Severity, object: ObjectRef) -> Finding {
        let pane = match id.split('/').next() {
            Some("dns") => Pane::Dns,
            Some("gateways") => Pane::Gateways,
            Some("flows") => Pane::Flows,
            Some("rightsizing") => Pane::Rightsizing,
            Some("spend") => Pane::Spend,
            _ => Pane::Nodes,
        };
        Finding {
            id: id.into(),
            pane,
            severity,
            summary: format!("{id}: summary"),
            evidence: Vec::new(),
            object,
            fix: None,
            impact: Impact::default(),
            members: Vec::new(),
        }
    }

    fn cluster() -> ObjectRef {
        ObjectRef::cluster_scoped("Cluster", "prod")
    }

    fn ids(lines: &[Finding]) -> Vec<&str> {
        lines.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn impact_orders_findings_within_a_severity_never_across() {
        let mut pods = line("nodes/pdb-blocks/a/b", Severity::Warning, cluster());
        pods.impact.pods_waiting = Some(3);
        let mut money = line("rightsizing/over/a/b", Severity::Warning, cluster());
        money.impact.usd_per_month = Some(500.0);
        let mut small_traffic = line("dns/x", Severity::Warning, cluster());
        small_traffic.impact.queries_per_sec = Some(10.0);
        let mut big_traffic = line("gateways/y", Severity::Warning, cluster());
        big_traffic.impact.requests_per_sec = Some(1_200.0);
        let nothing = line("nodes/do-not-disrupt/a/b", Severity::Warning, cluster());
        let critical = line("nodes/spot-share", Severity::Critical, cluster());
        let mut lines = vec![nothing, money, small_traffic, pods, critical, big_traffic];
        rank(&mut lines);
        assert_eq!(
            ids(&lines),
            [
                "nodes/spot-share",
                "gateways/y",
                "dns/x",
                "nodes/pdb-blocks/a/b",
                "rightsizing/over/a/b",
                "nodes/do-not-disrupt/a/b"
            ]
        );
    }

    #[test]
    fn a_worsening_figure_outranks_a_steady_one_of_its_kind_and_a_fix_breaks_ties() {
        let mut steady = line("a", Severity::Warning, cluster());
        steady.impact.usd_per_month = Some(300.0);
        let mut worse = line("b", Severity::Warning, cluster());
        worse.impact.usd_per_month = Some(100.0);
        worse.impact.trend = Some(Trend::Worsening);
        let mut lines = vec![steady.clone(), worse];
        rank(&mut lines);
        assert_eq!(ids(&lines), ["b", "a"]);

        let mut fixable = line("z", Severity::Warning, cluster());
        fixable.impact.usd_per_month = Some(300.0);
        fixable.fix = Some(FixKind::RightsizeRequests);
        let mut lines = vec![steady, fixable];
        rank(&mut lines);
        assert_eq!(ids(&lines), ["z", "a"]);
    }

    #[test]
    fn pods_of_one_deployment_are_one_line_naming_the_owner_and_the_count() {
        assert_eq!(
            pod_owner("report-builder-9kcf924wkj-86g55"),
            Some("report-builder")
        );
        assert_eq!(pod_owner("redis-0"), None);
        assert_eq!(pod_owner("plain"), None);
        let pod = |name: &str| {
            line(
                &format!("nodes/do-not-disrupt/analytics/{name}"),
                Severity::Warning,
                ObjectRef::namespaced("Pod", "analytics", name),
            )
        };
        let lines = triage(
            vec![
                pod("report-builder-9kcf924wkj-86g55"),
                pod("report-builder-9kcf924wkj-fpgxb"),
                pod("etl-worker-5d8f7c9b4-x2x7q"),
            ],
            None,
        );
        assert_eq!(lines.len(), 2);
        let group = &lines[1];
        assert!(
            group
                .summary
                .starts_with("2 Pods of Deployment analytics/report-builder: "),
            "{}",
            group.summary
        );
        assert_eq!(group.members.len(), 1);
        assert_eq!(group.members[0].fold, Fold::SameOwner);
        assert!(lines[0].members.is_empty());
    }

    #[test]
    fn over_requests_of_one_namespace_add_their_money_and_lead_with_the_largest() {
        let workload = |name: &str, usd: f64| {
            let mut f = line(
                &format!("rightsizing/over-provisioned/analytics/{name}"),
                Severity::Warning,
                ObjectRef::namespaced("Deployment", "analytics", name),
            );
            f.impact.usd_per_month = Some(usd);
            f.fix = Some(FixKind::RightsizeRequests);
            f
        };
        let mut blocker = line(
            "nodes/do-not-disrupt/analytics/report-builder-9kcf924wkj-86g55",
            Severity::Warning,
            ObjectRef::namespaced("Pod", "analytics", "report-builder-9kcf924wkj-86g55"),
        );
        blocker.summary = "Pod is marked do-not-disrupt".into();
        let lines = triage(
            vec![
                blocker,
                workload("etl-worker", 37.0),
                workload("report-builder", 45.0),
                workload("clickstream-consumer", 29.0),
            ],
            None,
        );
        let first = &lines[0];
        assert_eq!(
            first.id,
            "rightsizing/over-provisioned/analytics/report-builder"
        );
        assert_eq!(first.fix, Some(FixKind::RightsizeRequests));
        assert_eq!(first.impact.usd_per_month, Some(111.0));
        assert!(
            first
                .summary
                .starts_with("3 workloads in analytics: $111/month in all"),
            "{}",
            first.summary
        );
        assert_eq!(first.members.len(), 2);
    }

    #[test]
    fn an_ndots_storm_leads_with_its_workload_and_folds_the_symptoms() {
        let coredns = ObjectRef::namespaced("Deployment", "kube-system", "coredns");
        let mut latency = line("dns/latency-p99", Severity::Critical, coredns.clone());
        latency.summary = "CoreDNS p99 latency 199 ms (critical above 100 ms)".into();
        latency.impact.queries_per_sec = Some(20_000.0);
        let mut cache = line("dns/cache-hit-ratio", Severity::Critical, coredns.clone());
        cache.fix = Some(FixKind::DnsCacheProfile);
        cache.impact.queries_per_sec = Some(10_000.0);
        let mut nxdomain = line("dns/nxdomain-ratio", Severity::Critical, coredns.clone());
        nxdomain.impact.queries_per_sec = Some(14_000.0);
        let mut crawler = line(
            "dns/ndots/search/feed-crawler",
            Severity::Warning,
            ObjectRef::namespaced("Deployment", "search", "feed-crawler"),
        );
        crawler.fix = Some(FixKind::DnsLowerNdots);
        crawler.impact.queries_per_sec = Some(14_216.0);
        let mut small = line(
            "dns/ndots/analytics/etl-worker",
            Severity::Warning,
            ObjectRef::namespaced("Deployment", "analytics", "etl-worker"),
        );
        small.fix = Some(FixKind::DnsLowerNdots);
        small.impact.queries_per_sec = Some(70.0);
        let mut alert = line(
            "alerts/CoreDNSLatencyHigh/service=kube-dns",
            Severity::Warning,
            ObjectRef::namespaced("Service", "kube-system", "kube-dns"),
        );
        alert.summary = "Alert".into();
        let lines = triage(vec![latency, cache, nxdomain, small, crawler, alert], None);
        assert_eq!(
            ids(&lines),
            [
                "dns/ndots/search/feed-crawler",
                "dns/ndots/analytics/etl-worker"
            ]
        );
        let cause = &lines[0];
        assert_eq!(cause.severity, Severity::Critical);
        assert_eq!(cause.fix, Some(FixKind::DnsLowerNdots));
        assert_eq!(cause.impact.queries_per_sec, Some(20_000.0));
        assert_eq!(cause.members.len(), 4);
        assert!(cause.members.iter().all(|m| m.fold == Fold::Symptom));
        assert!(
            cause.summary.contains("behind: CoreDNS p99 latency 199 ms"),
            "{}",
            cause.summary
        );
    }

    #[test]
    fn a_small_ndots_workload_is_not_the_cause_of_a_storm() {
        let coredns = ObjectRef::namespaced("Deployment", "kube-system", "coredns");
        let mut nxdomain = line("dns/nxdomain-ratio", Severity::Critical, coredns);
        nxdomain.impact.queries_per_sec = Some(14_000.0);
        let mut small = line(
            "dns/ndots/analytics/etl-worker",
            Severity::Warning,
            ObjectRef::namespaced("Deployment", "analytics", "etl-worker"),
        );
        small.fix = Some(FixKind::DnsLowerNdots);
        small.impact.queries_per_sec = Some(70.0);
        let lines = triage(vec![nxdomain, small], None);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].id, "dns/nxdomain-ratio");
    }

    #[test]
    fn a_spot_wave_folds_its_pending_pods_slow_nodes_and_alerts_of_its_pool() {
        let mut wave = line(
            "nodes/spot-interruptions/general",
            Severity::Critical,
            ObjectRef::cluster_scoped("NodePool", "general"),
        );
        wave.fix = Some(FixKind::NodesFreezeDisruption);
        let mut slow = line("nodes/provisioning-p95", Severity::Critical, cluster());
        slow.impact.pods_waiting = Some(6);
        let alert = |node: &str, pool: &str| {
            let mut a = line(
                &format!("alerts/KarpenterSpotInterruption/node={node},nodepool={pool}"),
                Severity::Warning,
                ObjectRef::cluster_scoped("Node", node),
            );
            a.evidence.push(Evidence::new("nodepool", pool, "label"));
            a
        };
        let lines = triage(
            vec![
                slow,
                alert("n1", "general"),
                alert("n2", "general"),
                alert("n3", "batch"),
                wave,
            ],
            None,
        );
        assert_eq!(lines[0].id, "nodes/spot-interruptions/general");
        assert_eq!(lines[0].impact.pods_waiting, Some(6));
        // The provisioning finding and the two alerts of the pool (one line of two).
        assert_eq!(lines[0].members.len(), 3);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].id.contains("nodepool=batch"));
    }

    #[test]
    fn a_nodepool_at_its_limit_folds_the_pods_it_cannot_place_and_their_alerts() {
        let mut limit = line(
            "nodes/nodepool-at-limit/general",
            Severity::Critical,
            ObjectRef::cluster_scoped("NodePool", "general"),
        );
        limit.fix = Some(FixKind::NodesRaiseLimit);
        let mut pending = line("nodes/pending-pods", Severity::Critical, cluster());
        pending.summary =
            "14 pods pending: Unschedulable: no room in NodePool general and it may not grow"
                .to_string();
        pending.impact.pods_waiting = Some(14);
        let mut alert = line(
            "alerts/KubePodNotScheduled/search/search-api",
            Severity::Warning,
            ObjectRef::namespaced("Deployment", "search", "search-api"),
        );
        alert.summary = "pending: no room in NodePool general and it may not grow".to_string();
        let mut elsewhere = line(
            "alerts/KubePodNotScheduled/batch/etl",
            Severity::Warning,
            ObjectRef::namespaced("Deployment", "batch", "etl"),
        );
        elsewhere.summary = "pending: no room in NodePool batch and it may not grow".to_string();
        let lines = triage(vec![pending, alert, elsewhere, limit], None);
        assert_eq!(lines[0].id, "nodes/nodepool-at-limit/general");
        assert_eq!(lines[0].fix, Some(FixKind::NodesRaiseLimit));
        assert_eq!(lines[0].impact.pods_waiting, Some(14));
        assert_eq!(lines[0].members.len(), 2);
        assert_eq!(lines.len(), 2, "another pool's alert stays its own line");
    }

    #[test]
    fn cross_zone_share_leads_with_the_largest_fixable_service() {
        let service = |name: &str, usd: f64, fix: bool| {
            let id = if fix {
                "topology-aware-routing"
            } else {
                "topology-blocked"
            };
            let mut f = line(
                &format!("flows/{id}/shop/{name}"),
                Severity::Warning,
                ObjectRef::namespaced("Service", "shop", name),
            );
            f.impact.usd_per_month = Some(usd);
            f.fix = fix.then_some(FixKind::FlowsTopologyAwareRouting);
            f
        };
        let mut ratio = line("flows/cross-zone-ratio", Severity::Critical, cluster());
        ratio.summary = "67% of east-west bytes cross zones".into();
        ratio.impact.usd_per_month = Some(541.0);
        let lines = triage(
            vec![
                ratio,
                service("cart", 300.0, false),
                service("catalog", 146.0, true),
                service("search", 186.0, true),
            ],
            None,
        );
        assert_eq!(lines.len(), 1);
        let first = &lines[0];
        assert_eq!(first.id, "flows/topology-aware-routing/shop/search");
        assert_eq!(first.severity, Severity::Critical);
        assert_eq!(first.fix, Some(FixKind::FlowsTopologyAwareRouting));
        assert_eq!(first.impact.usd_per_month, Some(541.0));
        assert!(
            first
                .summary
                .starts_with("67% of east-west bytes cross zones; largest fixable: ")
        );
        assert_eq!(first.members.len(), 3);
    }

    #[test]
    fn impact_reads_in_units_a_user_compares() {
        let impact = Impact {
            requests_per_sec: Some(1_200.0),
            usd_per_month: Some(174.0),
            trend: Some(Trend::Worsening),
            ..Impact::default()
        };
        assert_eq!(
            impact_text(&impact).as_deref(),
            Some("~1,200 req/s affected, $174/month, worsening")
        );
        assert_eq!(impact_text(&Impact::default()), None);
    }
}
