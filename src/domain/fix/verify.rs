//! Whether an applied fix worked, judged on the cockpit's snapshots. Only snapshots taken
//! after the apply count. The caller owns the deadline: a verdict still `Pending` when the
//! plan's `within` has passed is a failure.

use serde::{Deserialize, Serialize};

use super::plan::VerifyCondition;
use crate::domain::Cockpit;
use crate::domain::format::percent;
use crate::domain::model::{ConditionStatus, RouteStatus};
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Not yet: no fresh data, or the condition does not hold yet.
    Pending,
    Succeeded {
        after: Vec<(String, String)>,
    },
    /// The condition cannot be met any more (e.g. the controller rejected the route).
    Failed {
        why: String,
    },
}

fn figures(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(label, value)| (label.to_string(), value.clone()))
        .collect()
}

/// How far the cache hit ratio must rise for a fix that does not reach its target to count
/// as having worked: more than the wobble of a 5-minute rate.
pub const CACHE_HIT_GAIN: f64 = 0.05;

/// Topology-aware routing worked when a measured cross-zone rate falls to this share of what
/// it was (the reference's "target ≤ 30 % of the previous value").
pub const CROSS_ZONE_FALL: f64 = 0.3;

/// "p99 no worse": within 10 % of what it was, the noise of a histogram quantile.
const P99_TOLERANCE: f64 = 1.1;

fn fresh(at: Timestamp, applied_at: Timestamp) -> bool {
    at >= applied_at
}

/// The verdict on `condition`, from snapshots taken at or after `applied_at`.
pub fn evaluate(condition: &VerifyCondition, cockpit: &Cockpit, applied_at: Timestamp) -> Verdict {
    match condition {
        VerifyCondition::DnsCacheHitRises {
            target,
            from,
            p99_from_ms,
        } => {
            let Some(dns) = cockpit.dns.as_ref().filter(|d| fresh(d.at, applied_at)) else {
                return Verdict::Pending;
            };
            let Some(m) = &dns.metrics else {
                return Verdict::Pending;
            };
            let reached = m.cache_hit_ratio >= *target;
            let risen = from.is_some_and(|from| m.cache_hit_ratio >= from + CACHE_HIT_GAIN)
                && p99_from_ms.is_none_or(|was| m.p99_ms <= was * P99_TOLERANCE);
            if reached || risen {
                Verdict::Succeeded {
                    after: figures(&[
                        ("cache hit ratio", percent(m.cache_hit_ratio)),
                        ("p99 latency", format!("{:.0} ms", m.p99_ms)),
                    ]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::ReadyReplicasAtLeast { replicas } => {
            let Some(dns) = cockpit.dns.as_ref().filter(|d| fresh(d.at, applied_at)) else {
                return Verdict::Pending;
            };
            if dns.ready_replicas >= *replicas {
                Verdict::Succeeded {
                    after: figures(&[(
                        "ready replicas",
                        format!("{}/{}", dns.ready_replicas, dns.replicas),
                    )]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::DnsReplicasOnDistinctNodes => {
            let Some(dns) = cockpit.dns.as_ref().filter(|d| fresh(d.at, applied_at)) else {
                return Verdict::Pending;
            };
            let mut nodes: Vec<&str> = dns.pods.iter().map(|p| p.node.as_str()).collect();
            nodes.sort();
            nodes.dedup();
            let mut zones: Vec<&str> = dns.pods.iter().map(|p| p.zone.as_str()).collect();
            zones.sort();
            zones.dedup();
            if !dns.pods.is_empty()
                && nodes.len() == dns.pods.len()
                && dns.ready_replicas >= dns.replicas
            {
                Verdict::Succeeded {
                    after: figures(&[
                        ("distinct nodes", nodes.len().to_string()),
                        ("distinct zones", zones.len().to_string()),
                    ]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::DnsMemoryBelowLimit { limit_mib, share } => {
            let Some(dns) = cockpit.dns.as_ref().filter(|d| fresh(d.at, applied_at)) else {
                return Verdict::Pending;
            };
            let limit_applied = dns
                .memory_limit_mib
                .is_some_and(|l| (l - f64::from(*limit_mib)).abs() < 1.0);
            let peak = dns
                .pods
                .iter()
                .filter_map(|p| p.memory_mib)
                .max_by(f64::total_cmp);
            match peak {
                Some(peak) if limit_applied && peak < f64::from(*limit_mib) * share => {
                    Verdict::Succeeded {
                        after: figures(&[
                            ("memory limit", format!("{limit_mib} MiB")),
                            ("peak working set", format!("{peak:.0} MiB")),
                        ]),
                    }
                }
                _ => Verdict::Pending,
            }
        }
        VerifyCondition::NxdomainBelow {
            namespace,
            workload,
            ratio,
        } => {
            let Some(dns) = cockpit.dns.as_ref().filter(|d| fresh(d.at, applied_at)) else {
                return Verdict::Pending;
            };
            let Some(metrics) = &dns.metrics else {
                return Verdict::Pending;
            };
            let source = metrics
                .nxdomain_sources
                .iter()
                .find(|c| &c.namespace == namespace && &c.workload == workload);
            let now = source.map_or(0.0, |c| c.nxdomain_ratio);
            if now < *ratio {
                Verdict::Succeeded {
                    after: figures(&[("NXDOMAIN share", percent(now))]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::RouteAccepted { namespace, name } => {
            // A grant does not bump the route's generation: False may just be not reconciled yet.
            route_verdict(cockpit, applied_at, namespace, name, &[], false)
        }
        VerifyCondition::CanaryDrained {
            namespace,
            name,
            canaries,
        } => route_verdict(cockpit, applied_at, namespace, name, canaries, true),
        VerifyCondition::ZoneHintsPresent {
            namespace,
            name,
            cross_zone_before,
        } => {
            let Some(flows) = cockpit.flows.as_ref().filter(|f| fresh(f.at, applied_at)) else {
                return Verdict::Pending;
            };
            let hinted = flows
                .services
                .iter()
                .any(|s| &s.namespace == namespace && &s.name == name && s.hints);
            if !hinted {
                return Verdict::Pending;
            }
            let now = crate::domain::flows::service_cross_zone_per_sec(flows, namespace, name);
            let amount = crate::domain::flows::amount(flows, now);
            match cross_zone_before {
                Some(before) if now > before * CROSS_ZONE_FALL => Verdict::Pending,
                _ => Verdict::Succeeded {
                    after: figures(&[("cross-zone traffic", amount)]),
                },
            }
        }
        VerifyCondition::DisruptionsStopped { nodepool } => {
            let Some(nodes) = cockpit.nodes.as_ref().filter(|n| fresh(n.at, applied_at)) else {
                return Verdict::Pending;
            };
            let voluntary = nodes
                .churn
                .iter()
                .filter(|e| {
                    &e.nodepool == nodepool
                        && e.at > applied_at
                        && e.kind == crate::domain::model::ChurnKind::Terminated
                        && is_voluntary(&e.reason)
                })
                .count();
            if voluntary > 0 {
                return Verdict::Failed {
                    why: format!(
                        "{voluntary} node(s) of NodePool {nodepool} were disrupted voluntarily after the freeze"
                    ),
                };
            }
            let frozen = nodes.nodepools.iter().any(|p| {
                &p.name == nodepool
                    && p.budgets
                        .iter()
                        .any(|b| b.nodes.trim() == "0" && b.schedule.is_none())
            });
            if frozen {
                Verdict::Succeeded {
                    after: figures(&[
                        ("budget", "nodes 0".into()),
                        ("voluntary disruptions since", "0".into()),
                    ]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::ConsolidationPolicyIs {
            nodepool,
            policy,
            consolidate_after,
        } => {
            let Some(nodes) = cockpit.nodes.as_ref().filter(|n| fresh(n.at, applied_at)) else {
                return Verdict::Pending;
            };
            let pool = nodes.nodepools.iter().find(|p| &p.name == nodepool);
            match pool {
                Some(p)
                    if &p.consolidation_policy == policy
                        && p.consolidate_after.as_deref() == Some(consolidate_after.as_str()) =>
                {
                    Verdict::Succeeded {
                        after: figures(&[(
                            "consolidation",
                            format!("{policy}, consolidateAfter {consolidate_after}"),
                        )]),
                    }
                }
                _ => Verdict::Pending,
            }
        }
        VerifyCondition::NoPendingPodsFor {
            nodepool,
            cpu_limit,
        } => {
            let Some(nodes) = cockpit.nodes.as_ref().filter(|n| fresh(n.at, applied_at)) else {
                return Verdict::Pending;
            };
            let raised = nodes.nodepools.iter().any(|p| {
                &p.name == nodepool && p.cpu_limit.is_some_and(|l| (l - cpu_limit).abs() < 0.5)
            });
            if raised && nodes.pending_pods.is_empty() {
                Verdict::Succeeded {
                    after: figures(&[
                        ("CPU limit", format!("{cpu_limit:.0} cores")),
                        ("pending pods", "0".into()),
                    ]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::RequestsApplied {
            namespace,
            workload,
            container,
            cpu_request_m,
            memory_request_mib,
            oom_kills_before,
        } => {
            let Some(row) = workload_row(cockpit, applied_at, namespace, workload, container)
            else {
                return Verdict::Pending;
            };
            if row.oom_kills_7d > *oom_kills_before {
                return Verdict::Failed {
                    why: format!(
                        "OOM kills rose from {oom_kills_before} to {} after the change",
                        row.oom_kills_7d
                    ),
                };
            }
            let applied = (row.cpu_request_m - f64::from(*cpu_request_m)).abs() < 1.0
                && (row.memory_request_mib - f64::from(*memory_request_mib)).abs() < 1.0;
            if applied {
                Verdict::Succeeded {
                    after: figures(&[
                        ("CPU request", format!("{cpu_request_m}m")),
                        ("memory request", format!("{memory_request_mib} MiB")),
                        ("OOM kills (7 d)", row.oom_kills_7d.to_string()),
                    ]),
                }
            } else {
                Verdict::Pending
            }
        }
        VerifyCondition::ThrottlingBelow {
            namespace,
            workload,
            container,
            ratio,
        } => {
            let Some(row) = workload_row(cockpit, applied_at, namespace, workload, container)
            else {
                return Verdict::Pending;
            };
            let throttling = row.usage.as_ref().map(|u| u.throttling_ratio);
            match throttling {
                Some(t) if row.cpu_limit_m.is_none() && t < *ratio => Verdict::Succeeded {
                    after: figures(&[("CPU limit", "none".into()), ("throttling", percent(t))]),
                },
                _ => Verdict::Pending,
            }
        }
        VerifyCondition::VpaRecommending {
            namespace,
            workload,
        } => {
            let Some(workloads) = cockpit
                .workloads
                .as_ref()
                .filter(|w| fresh(w.at, applied_at))
            else {
                return Verdict::Pending;
            };
            let advice = workloads
                .workloads
                .iter()
                .filter(|w| &w.namespace == namespace && &w.name == workload)
                .find_map(|w| w.vpa.as_ref());
            match advice {
                Some(vpa) => Verdict::Succeeded {
                    after: figures(&[
                        ("VPA CPU target", format!("{:.0}m", vpa.cpu_target_m)),
                        (
                            "VPA memory target",
                            format!("{:.0} MiB", vpa.memory_target_mib),
                        ),
                    ]),
                },
                None => Verdict::Pending,
            }
        }
        VerifyCondition::NamespaceLabelled { namespace } => {
            let Some(workloads) = cockpit
                .workloads
                .as_ref()
                .filter(|w| fresh(w.at, applied_at))
            else {
                return Verdict::Pending;
            };
            match workloads.namespaces.iter().find(|n| &n.name == namespace) {
                Some(ns) if ns.team.is_some() && ns.cost_center.is_some() => Verdict::Succeeded {
                    after: figures(&[
                        ("team", ns.team.clone().unwrap_or_default()),
                        ("cost-center", ns.cost_center.clone().unwrap_or_default()),
                    ]),
                },
                _ => Verdict::Pending,
            }
        }
    }
}

/// Karpenter's voluntary disruption reasons (v1; older releases spell them differently).
fn is_voluntary(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason == "underutilized"
        || reason == "empty"
        || reason == "drifted"
        || reason.contains("consolidat")
}

fn workload_row<'a>(
    cockpit: &'a Cockpit,
    applied_at: Timestamp,
    namespace: &str,
    workload: &str,
    container: &str,
) -> Option<&'a crate::domain::model::WorkloadUsage> {
    cockpit
        .workloads
        .as_ref()
        .filter(|w| fresh(w.at, applied_at))?
        .workloads
        .iter()
        .find(|w| w.namespace == namespace && w.name == workload && w.container == container)
}

fn route_verdict(
    cockpit: &Cockpit,
    applied_at: Timestamp,
    namespace: &str,
    name: &str,
    canaries: &[String],
    fail_on_rejection: bool,
) -> Verdict {
    let Some(gateways) = cockpit
        .gateways
        .as_ref()
        .filter(|g| fresh(g.at, applied_at))
    else {
        return Verdict::Pending;
    };
    let Some(route) = gateways
        .routes
        .iter()
        .find(|r| r.namespace == namespace && r.name == name)
    else {
        return Verdict::Pending;
    };
    // A status from before the change says nothing about it.
    if route.observed_generation != Some(route.generation) {
        return Verdict::Pending;
    }
    if fail_on_rejection && let Some(why) = rejected(route) {
        return Verdict::Failed { why };
    }
    let accepted = !route.parents.is_empty()
        && route.parents.iter().all(|p| {
            p.accepted.as_ref().is_some_and(|c| c.is_true())
                && p.resolved_refs.as_ref().is_some_and(|c| c.is_true())
        });
    let drained = route
        .backends
        .iter()
        .filter(|b| canaries.contains(&b.name))
        .all(|b| b.weight == 0);
    if accepted && drained {
        let mut after = vec![("route", "Accepted=True, ResolvedRefs=True".to_string())];
        if let Some(ratio) = route.error_5xx_ratio {
            after.push(("5xx share", percent(ratio)));
        }
        Verdict::Succeeded {
            after: figures(&after),
        }
    } else {
        Verdict::Pending
    }
}

/// A route the controller has looked at since the change and still refuses.
fn rejected(route: &RouteStatus) -> Option<String> {
    route.parents.iter().find_map(|p| {
        [
            ("Accepted", &p.accepted),
            ("ResolvedRefs", &p.resolved_refs),
        ]
        .into_iter()
        .find_map(|(name, condition)| {
            condition
                .as_ref()
                .filter(|c| c.status == ConditionStatus::False)
                .map(|c| {
                    format!(
                        "{name}=False ({}) on parent {}/{}",
                        c.reason, p.namespace, p.name
                    )
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::fix::fixtures::{at, backend, dns_snapshot, route};
    use crate::domain::model::{Condition, GatewaySnapshot, RouteParent, Update};

    fn cockpit_with(updates: Vec<Update>) -> Cockpit {
        let mut cockpit = Cockpit::new(AnalysisConfig::default());
        for update in updates {
            cockpit.apply(update);
        }
        cockpit
    }

    #[test]
    fn cache_hit_ratio_succeeds_only_on_fresh_data_above_the_bar() {
        let applied = at();
        let mut snapshot = dns_snapshot();
        let condition = VerifyCondition::DnsCacheHitRises {
            target: 0.8,
            from: None,
            p99_from_ms: None,
        };
        let cockpit = cockpit_with(vec![Update::Dns(snapshot.clone())]);
        assert_eq!(evaluate(&condition, &cockpit, applied), Verdict::Pending);

        snapshot.at = applied + chrono::Duration::minutes(3);
        if let Some(m) = snapshot.metrics.as_mut() {
            m.cache_hit_ratio = 0.86;
        }
        let cockpit = cockpit_with(vec![Update::Dns(snapshot.clone())]);
        assert!(matches!(
            evaluate(&condition, &cockpit, applied),
            Verdict::Succeeded { after } if after[0] == ("cache hit ratio".to_string(), "86%".to_string())
        ));
        // Data from before the apply never counts.
        let later = applied + chrono::Duration::minutes(10);
        assert_eq!(evaluate(&condition, &cockpit, later), Verdict::Pending);
    }

    #[test]
    fn a_cache_hit_ratio_that_rises_enough_with_p99_no_worse_counts_as_worked() {
        let applied = at();
        let condition = VerifyCondition::DnsCacheHitRises {
            target: 0.8,
            from: Some(0.47),
            p99_from_ms: Some(170.0),
        };
        let judged = |hit: f64, p99: f64| {
            let mut snapshot = dns_snapshot();
            snapshot.at = applied + chrono::Duration::minutes(5);
            if let Some(m) = snapshot.metrics.as_mut() {
                m.cache_hit_ratio = hit;
                m.p99_ms = p99;
            }
            evaluate(
                &condition,
                &cockpit_with(vec![Update::Dns(snapshot)]),
                applied,
            )
        };
        // Three points up is the wobble of a rate, not a result.
        assert_eq!(judged(0.50, 120.0), Verdict::Pending);
        // Up eleven points and p99 down: it worked, though 80% is out of reach.
        assert!(matches!(judged(0.58, 101.0), Verdict::Succeeded { .. }));
        // Up, but p99 worse: not yet.
        assert_eq!(judged(0.58, 240.0), Verdict::Pending);
        // The target alone is enough.
        assert!(matches!(judged(0.85, 240.0), Verdict::Succeeded { .. }));
    }

    #[test]
    fn a_condition_recorded_before_the_rename_still_reads() {
        let old = r#"{"condition":"dns-cache-hit-above","ratio":0.8}"#;
        let condition: VerifyCondition = serde_json::from_str(old).expect("old form");
        assert_eq!(
            condition,
            VerifyCondition::DnsCacheHitRises {
                target: 0.8,
                from: None,
                p99_from_ms: None
            }
        );
    }

    fn condition(status: ConditionStatus, reason: &str) -> Option<Condition> {
        Some(Condition {
            status,
            reason: reason.into(),
            message: String::new(),
        })
    }

    fn gateways(weight: u32, resolved: ConditionStatus, observed: i64) -> Update {
        let mut status = route(
            "checkout",
            vec![
                backend("checkout", "shop", 100, 3),
                backend("checkout-canary", "shop", weight, 0),
            ],
        );
        status.generation = 7;
        status.observed_generation = Some(observed);
        status.parents = vec![RouteParent {
            kind: "Gateway".into(),
            namespace: "gateways".into(),
            name: "public".into(),
            section: None,
            accepted: condition(ConditionStatus::True, "Accepted"),
            resolved_refs: condition(resolved, "BackendNotFound"),
        }];
        Update::Gateways(GatewaySnapshot {
            at: at() + chrono::Duration::seconds(20),
            gateways: Vec::new(),
            routes: vec![status],
        })
    }

    #[test]
    fn canary_drain_waits_for_the_controller_then_judges() {
        let drained = VerifyCondition::CanaryDrained {
            namespace: "shop".into(),
            name: "checkout".into(),
            canaries: vec!["checkout-canary".into()],
        };
        let stale = cockpit_with(vec![gateways(0, ConditionStatus::True, 6)]);
        assert_eq!(evaluate(&drained, &stale, at()), Verdict::Pending);
        let done = cockpit_with(vec![gateways(0, ConditionStatus::True, 7)]);
        assert!(matches!(
            evaluate(&drained, &done, at()),
            Verdict::Succeeded { .. }
        ));
        let broken = cockpit_with(vec![gateways(0, ConditionStatus::False, 7)]);
        assert!(
            matches!(evaluate(&drained, &broken, at()), Verdict::Failed { why } if why.contains("ResolvedRefs=False"))
        );
        // A ReferenceGrant does not bump the generation: False is "not yet", not a failure.
        let accepted = VerifyCondition::RouteAccepted {
            namespace: "shop".into(),
            name: "checkout".into(),
        };
        assert_eq!(evaluate(&accepted, &broken, at()), Verdict::Pending);
    }

    #[test]
    fn replicas_count_when_ready() {
        let mut snapshot = dns_snapshot();
        snapshot.replicas = 3;
        snapshot.ready_replicas = 3;
        let cockpit = cockpit_with(vec![Update::Dns(snapshot)]);
        let condition = VerifyCondition::ReadyReplicasAtLeast { replicas: 3 };
        assert!(matches!(
            evaluate(&condition, &cockpit, at()),
            Verdict::Succeeded { .. }
        ));
        let more = VerifyCondition::ReadyReplicasAtLeast { replicas: 4 };
        assert_eq!(evaluate(&more, &cockpit, at()), Verdict::Pending);
    }
}
