//! Right-sizing analysis: requests against real usage, throttling, OOM kills, VPA advice.
//! The recommendation follows eks-domain.md §5.3 and §8.2 pane 5: requests at the VPA target
//! (or the 7-day p95) plus 20 %, memory limit at max(request × 1.5, p99 × 1.2), no CPU limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::finding::{Finding, FixKind, Severity};
use super::format::{HOURS_PER_MONTH, mib, millicores, percent, usd_per_month};
use super::model::{ObjectRef, Pane, UsageStats, WorkloadSnapshot, WorkloadUsage};
use super::rules::{above, band_text, below, crossed, finding};
use super::spend::UnitCosts;
use super::thresholds::Thresholds;

/// Headroom added to the target for requests (§5.3).
const REQUEST_HEADROOM: f64 = 1.2;
/// Memory limit over the request for a Burstable pod (§5.3).
const LIMIT_OVER_REQUEST: f64 = 1.5;
/// Memory limit over the p99 working set (§5.3).
const LIMIT_OVER_P99: f64 = 1.2;
/// Memory requests are rounded up to this step.
const MEMORY_STEP_MIB: f64 = 64.0;
/// A request of zero would make the pod BestEffort; never recommend less than this.
const MIN_CPU_REQUEST_M: f64 = 10.0;

/// What the recommendation rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The VPA's target.
    Vpa,
    /// The 7-day p95 of usage.
    P95,
}

/// Recommended resources for one container, per replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub cpu_request_m: u32,
    pub memory_request_mib: u32,
    pub memory_limit_mib: u32,
    /// Always `None`: a normal service should run without a CPU limit (§5.3).
    pub cpu_limit_m: Option<u32>,
    pub basis: Basis,
}

/// `ceil` that ignores floating-point dust, so 250 × 1.2 gives 300, not 301.
fn ceil_clean(value: f64) -> f64 {
    ((value * 1e6).round() / 1e6).ceil()
}

fn vpa_owns_requests(w: &WorkloadUsage) -> bool {
    w.vpa.as_ref().is_some_and(|v| {
        let mode = v.update_mode.to_ascii_lowercase();
        mode == "auto" || mode.contains("recreate")
    })
}

/// Requests at target × 1.2 (CPU rounded up to a millicore, memory up to 64 Mi), memory
/// limit at max(request × 1.5, p99 × 1.2). After OOM kills the memory is never lowered:
/// the request keeps at least its current value and the limit grows by at least 20 %,
/// because a p99 measured between kills understates the real need.
/// `None` when there is neither a VPA nor usage history to base it on.
pub fn recommendation(w: &WorkloadUsage) -> Option<Recommendation> {
    let (cpu_target, memory_target, basis) = match (&w.vpa, &w.usage) {
        (Some(vpa), _) => (vpa.cpu_target_m, vpa.memory_target_mib, Basis::Vpa),
        (None, Some(usage)) => (usage.cpu_p95_m, usage.memory_p95_mib, Basis::P95),
        (None, None) => return None,
    };
    let memory_p99 = w.usage.as_ref().map_or(0.0, |usage| usage.memory_p99_mib);
    let cpu_request = ceil_clean(cpu_target.max(0.0) * REQUEST_HEADROOM).max(MIN_CPU_REQUEST_M);
    let mut memory_request = (ceil_clean(memory_target.max(0.0) * REQUEST_HEADROOM)
        / MEMORY_STEP_MIB)
        .ceil()
        .max(1.0)
        * MEMORY_STEP_MIB;
    if w.oom_kills_7d > 0 {
        memory_request =
            memory_request.max((w.memory_request_mib / MEMORY_STEP_MIB).ceil() * MEMORY_STEP_MIB);
    }
    let mut memory_limit =
        ceil_clean((memory_request * LIMIT_OVER_REQUEST).max(memory_p99.max(0.0) * LIMIT_OVER_P99));
    if w.oom_kills_7d > 0
        && let Some(limit) = w.memory_limit_mib
    {
        memory_limit = memory_limit.max(ceil_clean(limit * 1.2));
    }
    Some(Recommendation {
        cpu_request_m: cpu_request as u32,
        memory_request_mib: memory_request as u32,
        memory_limit_mib: memory_limit as u32,
        cpu_limit_m: None,
        basis,
    })
}

/// What the requests above the recommendation cost per month, across all replicas.
pub fn monthly_waste_usd(workload: &WorkloadUsage, costs: &UnitCosts) -> f64 {
    let Some(rec) = recommendation(workload) else {
        return 0.0;
    };
    let cpu_excess_cores =
        (workload.cpu_request_m - f64::from(rec.cpu_request_m)).max(0.0) / 1000.0;
    let memory_excess_gib =
        (workload.memory_request_mib - f64::from(rec.memory_request_mib)).max(0.0) / 1024.0;
    let per_replica_hour =
        cpu_excess_cores * costs.usd_per_core_hour + memory_excess_gib * costs.usd_per_gib_hour;
    (per_replica_hour * f64::from(workload.replicas) * HOURS_PER_MONTH).max(0.0)
}

fn ratio(used: f64, requested: f64) -> Option<f64> {
    (requested > 0.0).then(|| used.max(0.0) / requested)
}

pub fn analyze(workloads: &WorkloadSnapshot, costs: &UnitCosts, t: &Thresholds) -> Vec<Finding> {
    // Containers of one workload come as separate rows; only then does the id name them.
    let mut rows: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for w in &workloads.workloads {
        *rows.entry((&w.namespace, &w.name)).or_insert(0) += 1;
    }
    let mut found = Vec::new();
    for w in &workloads.workloads {
        let several = rows
            .get(&(w.namespace.as_str(), w.name.as_str()))
            .copied()
            .unwrap_or(1)
            > 1;
        workload_findings(w, several, costs, t, &mut found);
    }
    found
}

struct Subject<'a> {
    w: &'a WorkloadUsage,
    /// `namespace/name`, or `namespace/name/container` when the workload has several rows.
    key: String,
    /// What the user reads: "shop/checkout" or "shop/checkout (container sidecar)".
    label: String,
    object: ObjectRef,
    provisional: Option<String>,
}

impl Subject<'_> {
    fn id(&self, rule: &str) -> String {
        format!("rightsizing/{rule}/{}", self.key)
    }

    fn provisional_note(&self) -> String {
        self.provisional
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    }
}

fn workload_findings(
    w: &WorkloadUsage,
    several: bool,
    costs: &UnitCosts,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    let base = format!("{}/{}", w.namespace, w.name);
    let subject = Subject {
        w,
        key: if several {
            format!("{base}/{}", w.container)
        } else {
            base.clone()
        },
        label: if several {
            format!("{base} (container {})", w.container)
        } else {
            base
        },
        object: ObjectRef::namespaced(&w.kind, &w.namespace, &w.name),
        provisional: w
            .usage
            .as_ref()
            .filter(|usage| usage.history_days < t.min_history_days)
            .map(|usage| {
                format!(
                    "provisional: {:.1} days of history, {:.0} needed",
                    usage.history_days.max(0.0),
                    t.min_history_days
                )
            }),
    };
    let rec = recommendation(w);
    let vpa_owns = vpa_owns_requests(w);

    if vpa_owns && w.hpa_on_cpu {
        let mode = w
            .vpa
            .as_ref()
            .map(|v| v.update_mode.clone())
            .unwrap_or_default();
        found.push(
            finding(
                Pane::Rightsizing,
                subject.id("vpa-hpa-conflict"),
                Severity::Critical,
                format!(
                    "{}: a VPA in {mode} mode and an HPA on CPU both act on it and fight: set the VPA to Off or scale the HPA on another metric",
                    subject.label
                ),
                subject.object.clone(),
            )
            .evidence("VPA update mode", mode, "Off or Initial next to a CPU HPA")
            .evidence("HPA", "scales on CPU utilisation", "")
            .build(),
        );
    }

    let oom = oom_kills(&subject, rec.as_ref(), vpa_owns, t, found);
    // Everything below compares requests with measured usage.
    let (Some(rec), Some(usage)) = (rec, w.usage.as_ref()) else {
        return;
    };
    throttling(&subject, usage, t, found);
    let under = !oom && under_provisioned(&subject, usage, &rec, vpa_owns, found);
    let waste = monthly_waste_usd(w, costs);
    if !oom && !under {
        over_provisioned(&subject, usage, &rec, vpa_owns, waste, t, found);
    }
    // A VPA covers the whole workload, so one suggestion per workload, not per container.
    let vpa_id = format!("rightsizing/create-vpa/{}/{}", w.namespace, w.name);
    let vpa_suggested = found.iter().any(|f| f.id == vpa_id);
    if w.vpa.is_none() && waste >= t.min_monthly_waste_usd && !oom && !under && !vpa_suggested {
        found.push(
            finding(
                Pane::Rightsizing,
                vpa_id,
                Severity::Info,
                format!(
                    "{}/{} has no VPA and wastes {}: create a recommendation-only VPA to confirm the numbers",
                    w.namespace,
                    w.name,
                    usd_per_month(waste)
                ),
                subject.object.clone(),
            )
            .evidence("waste", usd_per_month(waste), format!("reported from {}", usd_per_month(t.min_monthly_waste_usd)))
            .evidence("VPA update mode", "Off", "recommends only; changes no pod")
            .usd_per_month(waste)
            .fix(FixKind::RightsizeCreateVpa)
            .build(),
        );
    }
}

/// OOM kills: 1–2 in 7 days is a warning, 3 or more critical (thresholds count from, not above).
fn oom_kills(
    subject: &Subject,
    rec: Option<&Recommendation>,
    vpa_owns: bool,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) -> bool {
    let w = subject.w;
    let kills = f64::from(w.oom_kills_7d);
    let severity = if kills >= t.oom_kills_7d.critical {
        Severity::Critical
    } else if kills >= t.oom_kills_7d.warning && kills > 0.0 {
        Severity::Warning
    } else {
        return false;
    };
    let limit = w.memory_limit_mib.map(mib).unwrap_or_else(|| "none".into());
    let (advice, fix) = match rec {
        _ if vpa_owns => (
            "the VPA owns requests: raise its maxAllowed or target".to_string(),
            None,
        ),
        Some(rec) => (
            format!(
                "raise memory to {} request / {} limit",
                mib(f64::from(rec.memory_request_mib)),
                mib(f64::from(rec.memory_limit_mib))
            ),
            Some(FixKind::RightsizeRequests),
        ),
        None => (
            "raise its memory limit; usage metrics would size it".to_string(),
            None,
        ),
    };
    let p99 = w.usage.as_ref().map_or_else(
        || "unknown (no metrics)".to_string(),
        |u| mib(u.memory_p99_mib),
    );
    let recommended = rec.map_or_else(
        || "unknown".to_string(),
        |rec| format!("recommended {}", mib(f64::from(rec.memory_request_mib))),
    );
    let threshold = if severity == Severity::Critical {
        format!("critical from {:.0}", t.oom_kills_7d.critical)
    } else {
        format!("warning from {:.0}", t.oom_kills_7d.warning)
    };
    found.push(
        finding(
            Pane::Rightsizing,
            subject.id("oom-kills"),
            severity,
            format!(
                "{} was OOM-killed {} time{} in 7 days ({threshold}): {advice}",
                subject.label,
                w.oom_kills_7d,
                if w.oom_kills_7d == 1 { "" } else { "s" }
            ),
            subject.object.clone(),
        )
        .evidence(
            "OOM kills (7 d)",
            w.oom_kills_7d.to_string(),
            format!(
                "warning from {:.0}, critical from {:.0}",
                t.oom_kills_7d.warning, t.oom_kills_7d.critical
            ),
        )
        .evidence("memory p99", p99, format!("limit {limit}"))
        .evidence("memory request", mib(w.memory_request_mib), recommended)
        .maybe_fix(fix)
        .build(),
    );
    true
}

fn throttling(subject: &Subject, u: &UsageStats, t: &Thresholds, found: &mut Vec<Finding>) {
    let w = subject.w;
    let Some(limit) = w.cpu_limit_m else {
        return;
    };
    let Some(severity) = above(u.throttling_ratio, t.throttling_ratio) else {
        return;
    };
    // The catalogue offers removing the limit only past the critical line (> 10 %).
    let (advice, fix) = if severity == Severity::Critical {
        (
            "remove the CPU limit",
            Some(FixKind::RightsizeRemoveCpuLimit),
        )
    } else {
        ("watch it; past the critical line remove the limit", None)
    };
    found.push(
        finding(
            Pane::Rightsizing,
            subject.id("cpu-throttling"),
            severity,
            format!(
                "{} is CPU-throttled in {} of periods ({}) by its {} limit: {advice}",
                subject.label,
                percent(u.throttling_ratio),
                crossed(severity, t.throttling_ratio, true, percent),
                millicores(limit)
            ),
            subject.object.clone(),
        )
        .evidence(
            "throttled periods",
            percent(u.throttling_ratio),
            band_text(t.throttling_ratio, true, percent),
        )
        .evidence(
            "CPU limit",
            millicores(limit),
            format!("p95 use {}", millicores(u.cpu_p95_m)),
        )
        .maybe_fix(fix)
        .build(),
    );
}

fn under_provisioned(
    subject: &Subject,
    u: &UsageStats,
    rec: &Recommendation,
    vpa_owns: bool,
    found: &mut Vec<Finding>,
) -> bool {
    let w = subject.w;
    let cpu_short = w.cpu_request_m > 0.0 && u.cpu_p95_m > w.cpu_request_m;
    let memory_short = w.memory_request_mib > 0.0 && u.memory_p95_mib > w.memory_request_mib;
    if !cpu_short && !memory_short {
        return false;
    }
    let mut parts = Vec::new();
    if cpu_short {
        parts.push(format!(
            "CPU p95 {} over its {} request",
            millicores(u.cpu_p95_m),
            millicores(w.cpu_request_m)
        ));
    }
    if memory_short {
        parts.push(format!(
            "memory p95 {} over its {} request",
            mib(u.memory_p95_mib),
            mib(w.memory_request_mib)
        ));
    }
    let fix = (!vpa_owns && subject.provisional.is_none()).then_some(FixKind::RightsizeRequests);
    found.push(
        finding(
            Pane::Rightsizing,
            subject.id("under-provisioned"),
            Severity::Warning,
            format!(
                "{} uses more than it requests ({}): raise requests to {} / {}{}",
                subject.label,
                parts.join(", "),
                millicores(f64::from(rec.cpu_request_m)),
                mib(f64::from(rec.memory_request_mib)),
                subject.provisional_note()
            ),
            subject.object.clone(),
        )
        .evidence(
            "CPU p95 / request",
            format!(
                "{} / {}",
                millicores(u.cpu_p95_m),
                millicores(w.cpu_request_m)
            ),
            "p95 above the request",
        )
        .evidence(
            "memory p95 / request",
            format!("{} / {}", mib(u.memory_p95_mib), mib(w.memory_request_mib)),
            "",
        )
        .evidence(
            "history",
            format!("{:.1} days", u.history_days),
            subject.provisional.clone().unwrap_or_default(),
        )
        .maybe_fix(fix)
        .build(),
    );
    true
}

fn over_provisioned(
    subject: &Subject,
    u: &UsageStats,
    rec: &Recommendation,
    vpa_owns: bool,
    waste: f64,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    let w = subject.w;
    let cpu_ratio = ratio(u.cpu_p95_m, w.cpu_request_m);
    let memory_ratio = ratio(u.memory_p95_mib, w.memory_request_mib);
    let cpu_severity = cpu_ratio.and_then(|r| below(r, t.cpu_use_ratio));
    let memory_severity = memory_ratio.and_then(|r| below(r, t.memory_use_ratio));
    let Some(band_severity) = cpu_severity.max(memory_severity) else {
        return;
    };
    if waste < t.min_monthly_waste_usd {
        return;
    }
    // Money, not an outage: the red band is a warning, the amber band information.
    let severity = if band_severity == Severity::Critical {
        Severity::Warning
    } else {
        Severity::Info
    };
    let fix = (!vpa_owns && subject.provisional.is_none()).then_some(FixKind::RightsizeRequests);
    let use_text = match (cpu_ratio, memory_ratio) {
        (Some(c), Some(m)) => format!(
            "{} of its CPU and {} of its memory requests",
            percent(c),
            percent(m)
        ),
        (Some(c), None) => format!("{} of its CPU request", percent(c)),
        (None, Some(m)) => format!("{} of its memory request", percent(m)),
        (None, None) => "little of its requests".into(),
    };
    let advice = if vpa_owns {
        "the VPA owns requests".to_string()
    } else {
        format!(
            "apply {} / {}",
            millicores(f64::from(rec.cpu_request_m)),
            mib(f64::from(rec.memory_request_mib))
        )
    };
    let basis = match rec.basis {
        Basis::Vpa => "VPA target × 1.2",
        Basis::P95 => "7-day p95 × 1.2",
    };
    found.push(
        finding(
            Pane::Rightsizing,
            subject.id("over-provisioned"),
            severity,
            format!(
                "{} uses {use_text}: {} wasted; {advice}{}",
                subject.label,
                usd_per_month(waste),
                subject.provisional_note()
            ),
            subject.object.clone(),
        )
        .evidence(
            "CPU p95 / request",
            format!(
                "{} / {}",
                millicores(u.cpu_p95_m),
                millicores(w.cpu_request_m)
            ),
            band_text(t.cpu_use_ratio, false, percent),
        )
        .usd_per_month(waste)
        .evidence(
            "memory p95 / request",
            format!("{} / {}", mib(u.memory_p95_mib), mib(w.memory_request_mib)),
            band_text(t.memory_use_ratio, false, percent),
        )
        .evidence(
            "recommended",
            format!(
                "{} CPU, {} memory request, {} memory limit, no CPU limit",
                millicores(f64::from(rec.cpu_request_m)),
                mib(f64::from(rec.memory_request_mib)),
                mib(f64::from(rec.memory_limit_mib))
            ),
            basis,
        )
        .evidence(
            "waste",
            usd_per_month(waste),
            format!("reported from {}", usd_per_month(t.min_monthly_waste_usd)),
        )
        .evidence(
            "history",
            format!("{:.1} days", u.history_days),
            subject.provisional.clone().unwrap_or_default(),
        )
        .maybe_fix(fix)
        .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::VpaAdvice;
    use chrono::{TimeZone, Utc};

    /// About $0.035 per core-hour and $0.0044 per GiB-hour: m6i-like unit costs.
    const COSTS: UnitCosts = UnitCosts {
        usd_per_core_hour: 0.035,
        usd_per_gib_hour: 0.0044,
    };

    /// A well-sized workload: nothing should fire.
    fn fitting() -> WorkloadUsage {
        WorkloadUsage {
            namespace: "shop".into(),
            name: "checkout".into(),
            kind: "Deployment".into(),
            container: "app".into(),
            replicas: 4,
            cpu_request_m: 500.0,
            cpu_limit_m: None,
            memory_request_mib: 512.0,
            memory_limit_mib: Some(768.0),
            oom_kills_7d: 0,
            restarts_24h: 0,
            vpa: None,
            hpa_on_cpu: false,
            usage: Some(UsageStats {
                cpu_p95_m: 400.0,
                memory_p95_mib: 420.0,
                memory_p99_mib: 450.0,
                throttling_ratio: 0.0,
                history_days: 14.0,
            }),
        }
    }

    /// The usage figures of a test workload, to change them in place.
    fn usage(w: &mut WorkloadUsage) -> &mut UsageStats {
        w.usage.as_mut().expect("test workloads carry usage")
    }

    fn oversized() -> WorkloadUsage {
        WorkloadUsage {
            replicas: 10,
            cpu_request_m: 2000.0,
            memory_request_mib: 4096.0,
            memory_limit_mib: Some(4096.0),
            usage: Some(UsageStats {
                cpu_p95_m: 250.0,
                memory_p95_mib: 350.0,
                memory_p99_mib: 400.0,
                throttling_ratio: 0.0,
                history_days: 14.0,
            }),
            ..fitting()
        }
    }

    fn run(rows: Vec<WorkloadUsage>) -> Vec<Finding> {
        let snapshot = WorkloadSnapshot {
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            window: "7d".into(),
            workloads: rows,
            namespaces: vec![],
        };
        analyze(&snapshot, &COSTS, &Thresholds::default())
    }

    fn ids(found: &[Finding]) -> Vec<&str> {
        found.iter().map(|f| f.id.as_str()).collect()
    }

    fn get<'a>(found: &'a [Finding], id: &str) -> &'a Finding {
        found
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no {id} in {:?}", ids(found)))
    }

    #[test]
    fn recommendation_follows_the_formula() {
        let rec = recommendation(&oversized()).expect("usage gives a recommendation");
        assert_eq!(rec.cpu_request_m, 300, "ceil(250 × 1.2)");
        assert_eq!(rec.memory_request_mib, 448, "350 × 1.2 = 420, up to 64 Mi");
        assert_eq!(rec.memory_limit_mib, 672, "max(448 × 1.5, 400 × 1.2)");
        assert_eq!(rec.cpu_limit_m, None);
        assert_eq!(rec.basis, Basis::P95);

        let mut spiky = oversized();
        usage(&mut spiky).memory_p99_mib = 900.0;
        assert_eq!(
            recommendation(&spiky)
                .expect("usage gives a recommendation")
                .memory_limit_mib,
            1080,
            "p99 × 1.2 wins"
        );

        let mut with_vpa = oversized();
        with_vpa.vpa = Some(VpaAdvice {
            update_mode: "Off".into(),
            cpu_target_m: 100.0,
            memory_target_mib: 200.0,
        });
        let rec = recommendation(&with_vpa).expect("usage gives a recommendation");
        assert_eq!(
            (rec.cpu_request_m, rec.memory_request_mib, rec.basis),
            (120, 256, Basis::Vpa)
        );

        let mut idle = oversized();
        usage(&mut idle).cpu_p95_m = 0.0;
        usage(&mut idle).memory_p95_mib = 0.0;
        usage(&mut idle).memory_p99_mib = 0.0;
        let rec = recommendation(&idle).expect("usage gives a recommendation");
        assert_eq!(
            (
                rec.cpu_request_m,
                rec.memory_request_mib,
                rec.memory_limit_mib
            ),
            (10, 64, 96)
        );
    }

    #[test]
    fn oom_kills_never_lower_memory() {
        let mut w = fitting();
        w.oom_kills_7d = 2;
        usage(&mut w).memory_p95_mib = 200.0;
        usage(&mut w).memory_p99_mib = 300.0;
        let rec = recommendation(&w).expect("usage gives a recommendation");
        assert_eq!(rec.memory_request_mib, 512);
        assert_eq!(rec.memory_limit_mib, 922, "768 × 1.2, rounded up");
    }

    #[test]
    fn waste_prices_only_the_excess() {
        let w = oversized();
        // (2000 - 300) m and (4096 - 448) Mi per replica, 10 replicas, 730 h.
        let expected = (1.7 * 0.035 + 3648.0 / 1024.0 * 0.0044) * 10.0 * 730.0;
        assert!((monthly_waste_usd(&w, &COSTS) - expected).abs() < 1e-6);
        let mut tight = fitting();
        tight.cpu_request_m = 100.0;
        tight.memory_request_mib = 128.0;
        assert_eq!(monthly_waste_usd(&tight, &COSTS), 0.0);
        assert_eq!(monthly_waste_usd(&w, &UnitCosts::default()), 0.0);
    }

    #[test]
    fn a_fitting_workload_is_quiet() {
        assert!(
            run(vec![fitting()]).is_empty(),
            "{:?}",
            ids(&run(vec![fitting()]))
        );
    }

    #[test]
    fn over_provisioning_with_real_waste_offers_requests_and_a_vpa() {
        let found = run(vec![oversized()]);
        let over = get(&found, "rightsizing/over-provisioned/shop/checkout");
        assert_eq!(over.severity, Severity::Warning);
        assert_eq!(over.fix, Some(FixKind::RightsizeRequests));
        assert_eq!(
            over.object,
            ObjectRef::namespaced("Deployment", "shop", "checkout")
        );
        assert!(
            over.summary
                .contains("12% of its CPU and 8.5% of its memory requests"),
            "{}",
            over.summary
        );
        assert!(
            over.summary.contains("apply 300m / 448 Mi"),
            "{}",
            over.summary
        );
        let vpa = get(&found, "rightsizing/create-vpa/shop/checkout");
        assert_eq!(
            (vpa.severity, vpa.fix),
            (Severity::Info, Some(FixKind::RightsizeCreateVpa))
        );

        // The same ratios on a single small replica waste too little to mention.
        let mut small = oversized();
        small.replicas = 1;
        small.cpu_request_m = 400.0;
        small.memory_request_mib = 1024.0;
        assert!(run(vec![small]).is_empty());
    }

    #[test]
    fn short_history_makes_the_advice_provisional() {
        let mut young = oversized();
        usage(&mut young).history_days = 3.0;
        let found = run(vec![young]);
        let over = get(&found, "rightsizing/over-provisioned/shop/checkout");
        assert!(
            over.summary
                .contains("provisional: 3.0 days of history, 7 needed"),
            "{}",
            over.summary
        );
        assert_eq!(over.fix, None);
    }

    #[test]
    fn throttling_with_a_cpu_limit() {
        let mut w = fitting();
        w.cpu_limit_m = Some(500.0);
        usage(&mut w).throttling_ratio = 0.07;
        let found = run(vec![w.clone()]);
        let warn = get(&found, "rightsizing/cpu-throttling/shop/checkout");
        assert_eq!((warn.severity, warn.fix), (Severity::Warning, None));
        usage(&mut w).throttling_ratio = 0.14;
        let found = run(vec![w.clone()]);
        let critical = get(&found, "rightsizing/cpu-throttling/shop/checkout");
        assert_eq!(critical.fix, Some(FixKind::RightsizeRemoveCpuLimit));
        assert!(
            critical
                .summary
                .contains("14% of periods (critical above 10%) by its 500m limit"),
            "{}",
            critical.summary
        );
        w.cpu_limit_m = None;
        assert!(run(vec![w]).is_empty());
    }

    #[test]
    fn oom_kills_raise_memory() {
        let mut w = fitting();
        w.oom_kills_7d = 1;
        let found = run(vec![w.clone()]);
        let oom = get(&found, "rightsizing/oom-kills/shop/checkout");
        assert_eq!(
            (oom.severity, oom.fix),
            (Severity::Warning, Some(FixKind::RightsizeRequests))
        );
        w.oom_kills_7d = 4;
        let found = run(vec![w]);
        let oom = get(&found, "rightsizing/oom-kills/shop/checkout");
        assert_eq!(oom.severity, Severity::Critical);
        assert!(
            oom.summary.contains("4 times in 7 days (critical from 3)"),
            "{}",
            oom.summary
        );
    }

    #[test]
    fn usage_above_requests_is_under_provisioned() {
        let mut w = fitting();
        usage(&mut w).cpu_p95_m = 800.0;
        let found = run(vec![w]);
        let under = get(&found, "rightsizing/under-provisioned/shop/checkout");
        assert_eq!(
            (under.severity, under.fix),
            (Severity::Warning, Some(FixKind::RightsizeRequests))
        );
        assert!(
            under.summary.contains("raise requests to 960m / 512 Mi"),
            "{}",
            under.summary
        );
    }

    #[test]
    fn vpa_in_auto_with_a_cpu_hpa_is_a_conflict() {
        let mut w = oversized();
        w.vpa = Some(VpaAdvice {
            update_mode: "Auto".into(),
            cpu_target_m: 250.0,
            memory_target_mib: 350.0,
        });
        w.hpa_on_cpu = true;
        let found = run(vec![w.clone()]);
        let conflict = get(&found, "rightsizing/vpa-hpa-conflict/shop/checkout");
        assert_eq!(
            (conflict.severity, conflict.fix),
            (Severity::Critical, None)
        );
        // The VPA owns requests: no request patch, no second VPA.
        assert_eq!(
            get(&found, "rightsizing/over-provisioned/shop/checkout").fix,
            None
        );
        assert!(!ids(&found).contains(&"rightsizing/create-vpa/shop/checkout"));
        w.hpa_on_cpu = false;
        assert!(!ids(&run(vec![w])).contains(&"rightsizing/vpa-hpa-conflict/shop/checkout"));
    }

    #[test]
    fn several_containers_get_their_own_ids() {
        let mut sidecar = oversized();
        sidecar.container = "proxy".into();
        let found = run(vec![oversized(), sidecar]);
        assert!(ids(&found).contains(&"rightsizing/over-provisioned/shop/checkout/app"));
        assert!(ids(&found).contains(&"rightsizing/over-provisioned/shop/checkout/proxy"));
        let vpas = ids(&found)
            .into_iter()
            .filter(|id| id.contains("create-vpa"))
            .count();
        assert_eq!(vpas, 1);
        assert!(ids(&found).contains(&"rightsizing/create-vpa/shop/checkout"));
    }
}
