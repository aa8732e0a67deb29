//! The Prometheus alerts the simulated incidents would fire, with the labels real rules put
//! on them (namespace, service, pod, node), so the cockpit's alert matching has something
//! to match in the demo. Evaluated on the snapshots the simulator sends, never on its
//! internals, the way Prometheus sees only what is exported.

use std::collections::BTreeMap;

use crate::domain::alerts::{Alert, AlertSnapshot};
use crate::domain::gateways::route_reason;
use crate::domain::model::{ChurnKind, Update};
use crate::domain::time::Timestamp;

/// At most this many alerts of one rule, like a rule with `topk` in its expression.
const MAX_PER_RULE: usize = 5;
/// A spot interruption keeps its alert firing this long.
const INTERRUPTION_FIRES_FOR: chrono::Duration = chrono::Duration::minutes(10);

/// Remembers since when each alert has been firing.
#[derive(Debug, Default)]
pub struct AlertRules {
    since: BTreeMap<String, Timestamp>,
}

impl AlertRules {
    /// Adds an `Update::Alerts` after every complete round of snapshots (the simulator
    /// sends workloads last), evaluated on the newest snapshot of each pane.
    pub fn annotate(&mut self, updates: Vec<Update>) -> Vec<Update> {
        let mut out = Vec::with_capacity(updates.len() + updates.len() / 5 + 1);
        let mut latest = Latest::default();
        for update in updates {
            let round_done = matches!(update, Update::Workloads(_));
            latest.note(&update);
            out.push(update);
            if round_done && let Some(alerts) = self.evaluate(&latest) {
                out.push(Update::Alerts(alerts));
            }
        }
        out
    }

    fn evaluate(&mut self, latest: &Latest) -> Option<AlertSnapshot> {
        let at = latest.at?;
        let mut firing: Vec<Alert> = Vec::new();
        if let Some(Update::Dns(dns)) = &latest.dns
            && let Some(metrics) = &dns.metrics
            && metrics.p99_ms > 100.0
        {
            let severity = if metrics.p99_ms > 250.0 {
                "critical"
            } else {
                "warning"
            };
            firing.push(alert(
                "CoreDNSLatencyHigh",
                severity,
                &[("namespace", "kube-system"), ("service", "kube-dns")],
                format!("CoreDNS p99 latency is {:.0} ms", metrics.p99_ms),
            ));
        }
        if let Some(Update::Nodes(nodes)) = &latest.nodes {
            let recent = nodes
                .churn
                .iter()
                .filter(|e| e.kind == ChurnKind::Terminated && e.reason == "SpotInterrupted")
                .filter(|e| at - e.at <= INTERRUPTION_FIRES_FOR)
                .take(MAX_PER_RULE);
            for event in recent {
                firing.push(alert(
                    "KarpenterSpotInterruption",
                    "warning",
                    &[("node", &event.node), ("nodepool", &event.nodepool)],
                    format!("spot capacity reclaimed from node {}", event.node),
                ));
            }
            for pod in nodes.pending_pods.iter().take(MAX_PER_RULE) {
                if at - pod.since > chrono::Duration::minutes(2) {
                    firing.push(alert(
                        "KubePodNotScheduled",
                        "warning",
                        &[("namespace", &pod.namespace), ("pod", &pod.name)],
                        format!("pending: {}", pod.reason),
                    ));
                }
            }
        }
        if let Some(Update::Gateways(gateways)) = &latest.gateways {
            let broken = gateways
                .routes
                .iter()
                .filter(|r| route_reason(r) != "OK")
                .take(MAX_PER_RULE);
            for route in broken {
                let service = route
                    .backends
                    .first()
                    .map_or(route.name.as_str(), |b| &b.name);
                firing.push(alert(
                    "GatewayRouteNotReady",
                    "critical",
                    &[("namespace", &route.namespace), ("service", service)],
                    format!(
                        "{} {}: {}",
                        route.kind.as_str(),
                        route.name,
                        route_reason(route)
                    ),
                ));
            }
        }
        if let Some(Update::Workloads(workloads)) = &latest.workloads {
            let crashing = workloads
                .workloads
                .iter()
                .filter(|w| w.restarts_24h >= 20)
                .take(MAX_PER_RULE);
            for workload in crashing {
                let pod = format!("{}-5c8d7f6b9-k2x7q", workload.name);
                firing.push(alert(
                    "KubePodCrashLooping",
                    "warning",
                    &[("namespace", &workload.namespace), ("pod", &pod)],
                    format!("{} restarts in 24h", workload.restarts_24h),
                ));
            }
        }
        // Since when: the first evaluation that saw it; forgotten once it stops firing.
        let keys: Vec<String> = firing.iter().map(Alert::key).collect();
        self.since.retain(|key, _| keys.contains(key));
        for (alert, key) in firing.iter_mut().zip(keys) {
            alert.active_since = *self.since.entry(key).or_insert(at);
        }
        Some(AlertSnapshot { at, alerts: firing })
    }
}

fn alert(name: &str, severity: &str, labels: &[(&str, &str)], summary: String) -> Alert {
    Alert {
        name: name.to_string(),
        severity: severity.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        active_since: Timestamp::default(),
        summary,
    }
}

/// The newest snapshot of each kind seen so far in a batch.
#[derive(Default)]
struct Latest {
    at: Option<Timestamp>,
    dns: Option<Update>,
    gateways: Option<Update>,
    nodes: Option<Update>,
    workloads: Option<Update>,
}

impl Latest {
    fn note(&mut self, update: &Update) {
        let slot = match update {
            Update::Dns(s) => {
                self.at = Some(s.at);
                &mut self.dns
            }
            Update::Gateways(s) => {
                self.at = Some(s.at);
                &mut self.gateways
            }
            Update::Nodes(s) => {
                self.at = Some(s.at);
                &mut self.nodes
            }
            Update::Workloads(s) => {
                self.at = Some(s.at);
                &mut self.workloads
            }
            _ => return,
        };
        *slot = Some(update.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::{initial_updates, scenarios};

    fn alerts_in(updates: &[Update]) -> Vec<&AlertSnapshot> {
        updates
            .iter()
            .filter_map(|u| match u {
                Update::Alerts(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_broken_route_fires_an_alert_that_lands_on_the_gateways_pane() {
        let scenario = scenarios::load("broken-route").unwrap_or_else(|e| panic!("{e}"));
        let (_, burst) = initial_updates(&scenario, 3, std::time::Duration::from_secs(600));
        let annotated = AlertRules::default().annotate(burst);
        let snapshots = alerts_in(&annotated);
        assert!(!snapshots.is_empty());
        let last = snapshots
            .last()
            .map(|s| s.alerts.clone())
            .unwrap_or_default();
        let route = last
            .iter()
            .find(|a| a.name == "GatewayRouteNotReady")
            .unwrap_or_else(|| panic!("no route alert in {last:?}"));
        // Firing since the route broke, not since the last evaluation.
        let newest = snapshots.last().map(|s| s.at).unwrap_or_default();
        assert!(route.active_since < newest);
        let mut cockpit = crate::domain::Cockpit::new(Default::default());
        for update in annotated {
            cockpit.apply(update);
        }
        assert!(
            cockpit
                .pane_findings(crate::domain::Pane::Gateways)
                .iter()
                .any(|f| f.summary.starts_with("Alert GatewayRouteNotReady"))
        );
    }

    #[test]
    fn a_calm_cluster_fires_nothing() {
        let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
        let (_, burst) = initial_updates(&scenario, 3, std::time::Duration::ZERO);
        let annotated = AlertRules::default().annotate(burst);
        let last = alerts_in(&annotated).last().map(|s| s.alerts.len());
        assert_eq!(last, Some(0));
    }
}
