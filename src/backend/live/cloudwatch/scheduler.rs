//! When each CloudWatch figure is fetched: load balancers every minute (CloudWatch's
//! resolution for them), Container Insights every five minutes, the bill every six hours,
//! and again soon after the gateways or workloads the cluster shows change. Calls share a
//! bounded number of slots and each has a timeout; a failure marks only its own figure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::billing;
use super::client::{self, CloudWatchApi, CloudWatchError};
use super::insights::{self, WorkloadKey};
use super::loadbalancers::{self, Catalogue, LbKey};
use super::queries::{self, MetricSpec, Series, Window};
use crate::domain::model::SourceHealth;
use crate::domain::model::{BilledSpend, LoadBalancerMetrics, Pane, UsageStats};
use crate::domain::time::Timestamp;

/// How the scheduler paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub load_balancers_every: Duration,
    pub insights_every: Duration,
    pub billing_every: Duration,
    /// How often ListMetrics is asked again for the load balancers (sooner while a Gateway's
    /// load balancer is not found).
    pub discovery_every: Duration,
    /// How soon after the gateways or workloads change their figures are fetched.
    pub settle: Duration,
    /// Calls in flight at once, over all figures.
    pub concurrency: usize,
    /// Queries per GetMetricData call (CloudWatch allows 500).
    pub queries_per_call: usize,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            load_balancers_every: Duration::from_secs(60),
            insights_every: Duration::from_secs(300),
            billing_every: Duration::from_secs(6 * 3600),
            discovery_every: Duration::from_secs(600),
            settle: Duration::from_secs(5),
            concurrency: 4,
            queries_per_call: queries::MAX_QUERIES_PER_CALL,
        }
    }
}

/// The figures CloudWatch gives, each failing or succeeding on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// ListMetrics for the load balancers behind the Gateways.
    LoadBalancerList,
    /// Requests, 5xx, host counts, flows and bytes (plain statistics).
    LoadBalancerTraffic,
    /// ALB `TargetResponseTime` p99 (a percentile, fetched apart).
    ResponseTime,
    ContainerInsights,
    Billing,
}

impl Signal {
    pub const ALL: [Signal; 5] = [
        Signal::LoadBalancerList,
        Signal::LoadBalancerTraffic,
        Signal::ResponseTime,
        Signal::ContainerInsights,
        Signal::Billing,
    ];

    pub fn pane(self) -> Pane {
        match self {
            Signal::LoadBalancerList | Signal::LoadBalancerTraffic | Signal::ResponseTime => {
                Pane::Gateways
            }
            Signal::ContainerInsights => Pane::Rightsizing,
            Signal::Billing => Pane::Spend,
        }
    }

    /// The figure as the user knows it, for "no X: cause".
    pub fn figure(self) -> &'static str {
        match self {
            Signal::LoadBalancerList => "load balancer list",
            Signal::LoadBalancerTraffic => "load balancer requests/5xx/hosts",
            Signal::ResponseTime => "p99 response time",
            Signal::ContainerInsights => "Container Insights usage",
            Signal::Billing => "billed month-to-date",
        }
    }
}

/// What the cluster shows that CloudWatch is asked about; `None` until the live task has
/// sent the pane once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    pub hostnames: Option<BTreeSet<String>>,
    pub workloads: Option<BTreeSet<WorkloadKey>>,
}

/// What the scheduler has learned; the live task reads it at each flush.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Load balancer figures by the Gateway address (hostname) they belong to.
    pub load_balancers: BTreeMap<String, LoadBalancerMetrics>,
    pub usage: BTreeMap<WorkloadKey, UsageStats>,
    pub billing: Option<BilledSpend>,
    /// Figures whose latest attempt failed: why, and when.
    pub failing: BTreeMap<Signal, (String, Timestamp)>,
    /// Figures CloudWatch answered for without data: why there is none.
    pub missing: BTreeMap<Signal, String>,
    pub last_ok: BTreeMap<Signal, Timestamp>,
    pub health: SourceHealth,
    /// Bumped whenever anything above changed.
    pub generation: u64,
    pub targets: Targets,
    /// The targets the latest round of each figure was for.
    pub done_hostnames: Option<BTreeSet<String>>,
    pub done_workloads: Option<BTreeSet<WorkloadKey>>,
    pub billing_done: bool,
    /// The clients could not be built: nothing more will come.
    pub stopped: bool,
    /// Container Insights is asked (no Prometheus for usage).
    pub container_insights: bool,
}

impl Collected {
    pub fn new(endpoint: String, container_insights: bool) -> Self {
        Collected {
            load_balancers: BTreeMap::new(),
            usage: BTreeMap::new(),
            billing: None,
            failing: BTreeMap::new(),
            missing: BTreeMap::new(),
            last_ok: BTreeMap::new(),
            health: SourceHealth {
                source: "cloudwatch".to_string(),
                endpoint,
                last_success: None,
                latency_ms: None,
                last_error: None,
                last_error_at: None,
                queries_ok: 0,
                queries_failed: 0,
                detail: None,
            },
            generation: 0,
            targets: Targets::default(),
            done_hostnames: None,
            done_workloads: None,
            billing_done: false,
            stopped: false,
            container_insights,
        }
    }

    /// Every figure has had a round for what the cluster shows now.
    pub fn ready(&self) -> bool {
        if self.stopped {
            return true;
        }
        let lb = self.targets.hostnames.is_some() && self.done_hostnames == self.targets.hostnames;
        let insights = !self.container_insights
            || (self.targets.workloads.is_some() && self.done_workloads == self.targets.workloads);
        lb && insights && self.billing_done
    }

    fn succeeded(&mut self, signal: Signal, at: Timestamp) {
        self.failing.remove(&signal);
        self.last_ok.insert(signal, at);
    }

    fn failed(&mut self, signal: Signal, error: &CloudWatchError, at: Timestamp) {
        let text = error.to_string();
        self.failing.insert(signal, (text.clone(), at));
        self.health.last_error = Some(text);
        self.health.last_error_at = Some(at);
    }

    fn record(&mut self, signal: Signal, outcome: Result<(), &CloudWatchError>, at: Timestamp) {
        match outcome {
            Ok(()) => self.succeeded(signal, at),
            Err(error) => self.failed(signal, error, at),
        }
    }

    /// Counts one call for the source-health view.
    fn call(&mut self, ok: bool, latency: Duration, at: Timestamp) {
        if ok {
            self.health.queries_ok += 1;
            self.health.last_success = Some(at);
            self.health.latency_ms = Some(latency.as_secs_f64() * 1000.0);
        } else {
            self.health.queries_failed += 1;
        }
    }

    /// The clients could not be built: every figure says why, and nothing more will come.
    pub fn stop(&mut self, error: &CloudWatchError, at: Timestamp) {
        for signal in Signal::ALL {
            self.failed(signal, error, at);
        }
        self.stopped = true;
        self.generation += 1;
    }
}

pub type Shared = Arc<Mutex<Collected>>;

pub fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Collected> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> Timestamp {
    chrono::Utc::now()
}

/// The fixed inputs of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub schedule: Schedule,
    /// Container Insights' `ClusterName`; Container Insights is not asked without one.
    pub cluster_name: Option<String>,
    pub call_timeout: Duration,
    pub container_insights: bool,
}

/// What came of the calls for a set of queries.
#[derive(Debug, Clone)]
pub struct Fetched<K> {
    pub series: BTreeMap<K, Series>,
    /// Keys of the calls that failed (their figures are unknown, not zero).
    pub failed: BTreeSet<K>,
    pub error: Option<CloudWatchError>,
    pub calls: usize,
}

/// Sends `wanted` in calls of at most `schedule.queries_per_call` queries, at most
/// `slots` at once, and gathers the answers.
pub async fn fetch_all<A: CloudWatchApi, K: Clone + Ord>(
    api: &A,
    wanted: Vec<(K, MetricSpec)>,
    window: &Window,
    settings: &Settings,
    slots: &Semaphore,
    shared: &Shared,
) -> Fetched<K> {
    let calls = queries::batches(wanted, settings.schedule.queries_per_call);
    let count = calls.len();
    let answers: Vec<_> = futures::stream::iter(calls)
        .map(|batch| async move {
            let _slot = slots.acquire().await;
            let started = Instant::now();
            let answer = client::fetch(api, &batch, window, settings.call_timeout).await;
            (batch, answer, started.elapsed())
        })
        .buffer_unordered(settings.schedule.concurrency.max(1))
        .collect()
        .await;
    let mut fetched = Fetched {
        series: BTreeMap::new(),
        failed: BTreeSet::new(),
        error: None,
        calls: count,
    };
    let at = now();
    let mut collected = lock(shared);
    for (batch, answer, latency) in answers {
        collected.call(answer.is_ok(), latency, at);
        match answer {
            Ok(series) => fetched.series.extend(series),
            Err(error) => {
                fetched.failed.extend(batch.keys.into_values());
                fetched.error.get_or_insert(error);
            }
        }
    }
    fetched
}

/// The load balancers' state between rounds.
#[derive(Debug, Default)]
struct LoadBalancerPacing {
    catalogue: Catalogue,
    discovered_at: Option<Instant>,
}

/// ListMetrics for the load balancers; the previous catalogue stays on failure.
async fn discover<A: CloudWatchApi>(
    api: &A,
    settings: &Settings,
    slots: &Semaphore,
    shared: &Shared,
) -> Result<Catalogue, CloudWatchError> {
    let mut catalogue = Catalogue::default();
    for request in loadbalancers::discovery_requests() {
        let _slot = slots.acquire().await;
        let started = Instant::now();
        let listed = client::list_all(api, &request, settings.call_timeout).await;
        lock(shared).call(listed.is_ok(), started.elapsed(), now());
        for metric in listed? {
            catalogue.add(&metric);
        }
    }
    Ok(catalogue)
}

async fn load_balancer_round<A: CloudWatchApi>(
    api: &A,
    settings: &Settings,
    slots: &Semaphore,
    shared: &Shared,
    pacing: &mut LoadBalancerPacing,
    hostnames: BTreeSet<String>,
) {
    let elb: Vec<&String> = hostnames
        .iter()
        .filter(|h| loadbalancers::parse_hostname(h).is_some())
        .collect();
    if elb.is_empty() {
        let mut collected = lock(shared);
        collected.load_balancers.clear();
        for signal in [
            Signal::LoadBalancerList,
            Signal::LoadBalancerTraffic,
            Signal::ResponseTime,
        ] {
            collected.failing.remove(&signal);
            collected.missing.remove(&signal);
        }
        collected.done_hostnames = Some(hostnames);
        collected.generation += 1;
        return;
    }
    let unmatched = elb.iter().any(|h| pacing.catalogue.find(h).is_none());
    let due = pacing
        .discovered_at
        .is_none_or(|at| at.elapsed() >= settings.schedule.discovery_every);
    if due || unmatched {
        pacing.discovered_at = Some(Instant::now());
        let found = discover(api, settings, slots, shared).await;
        let mut collected = lock(shared);
        collected.record(Signal::LoadBalancerList, found.as_ref().map(|_| ()), now());
        if let Ok(catalogue) = found {
            pacing.catalogue = catalogue;
        }
    }
    let matched: BTreeMap<&String, String> = elb
        .iter()
        .filter_map(|h| pacing.catalogue.find(h).map(|lb| (*h, lb)))
        .collect();
    let load_balancers: BTreeSet<&String> = matched.values().collect();
    let window = Window::last(
        now(),
        i64::from(loadbalancers::PERIOD_S),
        loadbalancers::LOOKBACK_MINUTES,
    );
    let traffic_specs: Vec<(LbKey, MetricSpec)> = load_balancers
        .iter()
        .flat_map(|lb| loadbalancers::traffic_specs(lb, &pacing.catalogue))
        .collect();
    let latency_specs: Vec<(LbKey, MetricSpec)> = load_balancers
        .iter()
        .flat_map(|lb| loadbalancers::latency_specs(lb))
        .collect();
    let (traffic, latency) = futures::join!(
        fetch_all(api, traffic_specs, &window, settings, slots, shared),
        fetch_all(api, latency_specs, &window, settings, slots, shared),
    );
    let at = now();
    let mut collected = lock(shared);
    let failed =
        |fetched: &Fetched<LbKey>, lb: &str| fetched.failed.iter().any(|k| k.load_balancer == lb);
    let previous = std::mem::take(&mut collected.load_balancers);
    for (hostname, lb) in &matched {
        let traffic_failed = failed(&traffic, lb);
        let latency_failed = failed(&latency, lb);
        let mut figures = loadbalancers::assemble(
            lb,
            (!traffic_failed).then_some(&traffic.series),
            (!latency_failed).then_some(&latency.series),
            &window,
        );
        // A figure that failed keeps its last value (the pane says it is failing).
        if let (Some(figures), Some(before)) = (figures.as_mut(), previous.get(*hostname)) {
            if traffic_failed {
                let p99 = figures.p99_response_ms;
                *figures = LoadBalancerMetrics {
                    p99_response_ms: p99,
                    ..before.clone()
                };
            }
            if latency_failed {
                figures.p99_response_ms = before.p99_response_ms;
            }
        }
        if let Some(figures) = figures {
            collected
                .load_balancers
                .insert((*hostname).clone(), figures);
        }
    }
    collected.record(
        Signal::LoadBalancerTraffic,
        traffic.error.as_ref().map_or(Ok(()), Err),
        at,
    );
    collected.record(
        Signal::ResponseTime,
        latency.error.as_ref().map_or(Ok(()), Err),
        at,
    );
    let not_found: Vec<String> = elb
        .iter()
        .filter(|h| !matched.contains_key(*h))
        .filter_map(|h| loadbalancers::parse_hostname(h).map(|p| p.name))
        .collect();
    if not_found.is_empty() {
        collected.missing.remove(&Signal::LoadBalancerTraffic);
    } else {
        collected.missing.insert(
            Signal::LoadBalancerTraffic,
            format!(
                "no {} or {} metrics for load balancer {}",
                loadbalancers::ALB_NAMESPACE,
                loadbalancers::NLB_NAMESPACE,
                not_found.join(", ")
            ),
        );
    }
    collected.done_hostnames = Some(hostnames);
    collected.generation += 1;
}

async fn insights_round<A: CloudWatchApi>(
    api: &A,
    settings: &Settings,
    slots: &Semaphore,
    shared: &Shared,
    workloads: BTreeSet<WorkloadKey>,
) {
    let Some(cluster) = settings.cluster_name.clone().filter(|c| !c.is_empty()) else {
        let mut collected = lock(shared);
        collected.missing.insert(
            Signal::ContainerInsights,
            "the EKS cluster name is unknown: set KOCKPIT_CLOUDWATCH_CLUSTER".to_string(),
        );
        collected.done_workloads = Some(workloads);
        collected.generation += 1;
        return;
    };
    let specs = insights::specs(&cluster, &workloads);
    let window = insights::window(now());
    let fetched = fetch_all(api, specs, &window, settings, slots, shared).await;
    let usage = insights::usage(&fetched.series);
    let at = now();
    let mut collected = lock(shared);
    let failed: BTreeSet<&WorkloadKey> = fetched.failed.iter().map(|(w, _)| w).collect();
    // Failed workloads keep their last usage; the others take the new answer.
    collected
        .usage
        .retain(|w, _| failed.contains(w) && workloads.contains(w));
    let found = usage.len();
    collected.usage.extend(usage);
    collected.record(
        Signal::ContainerInsights,
        fetched.error.as_ref().map_or(Ok(()), Err),
        at,
    );
    if found == 0 && fetched.error.is_none() && !workloads.is_empty() {
        collected.missing.insert(
            Signal::ContainerInsights,
            format!(
                "no {} {}/{} for cluster {cluster} (Container Insights with enhanced observability)",
                insights::NAMESPACE,
                insights::CPU_METRIC,
                insights::MEMORY_METRIC
            ),
        );
    } else {
        collected.missing.remove(&Signal::ContainerInsights);
    }
    collected.done_workloads = Some(workloads);
    collected.generation += 1;
}

async fn billing_round<A: CloudWatchApi>(
    api: &A,
    settings: &Settings,
    slots: &Semaphore,
    shared: &Shared,
) {
    let window = billing::window(now());
    let fetched = fetch_all(
        api,
        vec![((), billing::spec())],
        &window,
        settings,
        slots,
        shared,
    )
    .await;
    let at = now();
    let mut collected = lock(shared);
    collected.record(
        Signal::Billing,
        fetched.error.as_ref().map_or(Ok(()), Err),
        at,
    );
    if fetched.error.is_none() {
        match billing::billed(&fetched.series, at) {
            Some(billed) => {
                collected.billing = Some(billed);
                collected.missing.remove(&Signal::Billing);
            }
            None => {
                collected
                    .missing
                    .insert(Signal::Billing, billing::NO_DATA.to_string());
            }
        }
    }
    collected.billing_done = true;
    collected.generation += 1;
}

/// When each figure last had a round.
#[derive(Debug, Default)]
struct Pacing {
    load_balancers_at: Option<Instant>,
    insights_at: Option<Instant>,
    billing_at: Option<Instant>,
}

/// Whether a figure is due: never fetched, its period is over, or its targets changed
/// and have settled.
fn due(last: Option<Instant>, every: Duration, changed: bool, settle: Duration) -> bool {
    last.is_none_or(|at| at.elapsed() >= every || (changed && at.elapsed() >= settle))
}

fn next_wake(last: Option<Instant>, every: Duration, changed: bool, settle: Duration) -> Instant {
    match last {
        None => Instant::now(),
        Some(at) if changed => at + settle.min(every),
        Some(at) => at + every,
    }
}

/// Runs until the task is aborted. `regional` answers in the cluster's region, `billing`
/// in us-east-1. `wake` is notified when the targets change.
pub async fn run<A: CloudWatchApi>(
    regional: A,
    billing_api: A,
    settings: Settings,
    shared: Shared,
    wake: Arc<Notify>,
) {
    let slots = Semaphore::new(settings.schedule.concurrency.max(1));
    let mut pacing = Pacing::default();
    let mut lb_pacing = LoadBalancerPacing::default();
    let schedule = settings.schedule.clone();
    loop {
        let (targets, done_hostnames, done_workloads) = {
            let collected = lock(&shared);
            (
                collected.targets.clone(),
                collected.done_hostnames.clone(),
                collected.done_workloads.clone(),
            )
        };
        let lb_changed = targets.hostnames != done_hostnames;
        let insights_changed = targets.workloads != done_workloads;
        let lb_targets = targets.hostnames.clone().filter(|_| {
            due(
                pacing.load_balancers_at,
                schedule.load_balancers_every,
                lb_changed,
                schedule.settle,
            )
        });
        let insights_targets = targets
            .workloads
            .clone()
            .filter(|_| settings.container_insights)
            .filter(|_| {
                due(
                    pacing.insights_at,
                    schedule.insights_every,
                    insights_changed,
                    schedule.settle,
                )
            });
        let billing_due = due(
            pacing.billing_at,
            schedule.billing_every,
            false,
            schedule.settle,
        );
        if lb_targets.is_some() {
            pacing.load_balancers_at = Some(Instant::now());
        }
        if insights_targets.is_some() {
            pacing.insights_at = Some(Instant::now());
        }
        if billing_due {
            pacing.billing_at = Some(Instant::now());
        }
        let lb = async {
            if let Some(hostnames) = lb_targets {
                load_balancer_round(
                    &regional,
                    &settings,
                    &slots,
                    &shared,
                    &mut lb_pacing,
                    hostnames,
                )
                .await;
            }
        };
        let usage = async {
            if let Some(workloads) = insights_targets {
                insights_round(&regional, &settings, &slots, &shared, workloads).await;
            }
        };
        let bill = async {
            if billing_due {
                billing_round(&billing_api, &settings, &slots, &shared).await;
            }
        };
        futures::join!(lb, usage, bill);

        let (targets, done_hostnames, done_workloads) = {
            let collected = lock(&shared);
            (
                collected.targets.clone(),
                collected.done_hostnames.clone(),
                collected.done_workloads.clone(),
            )
        };
        let mut wake_at = next_wake(
            pacing.billing_at,
            schedule.billing_every,
            false,
            schedule.settle,
        );
        if targets.hostnames.is_some() {
            wake_at = wake_at.min(next_wake(
                pacing.load_balancers_at,
                schedule.load_balancers_every,
                targets.hostnames != done_hostnames,
                schedule.settle,
            ));
        }
        if settings.container_insights && targets.workloads.is_some() {
            wake_at = wake_at.min(next_wake(
                pacing.insights_at,
                schedule.insights_every,
                targets.workloads != done_workloads,
                schedule.settle,
            ));
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake_at) => {}
            () = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_due_on_their_period_or_soon_after_a_change() {
        let every = Duration::from_secs(60);
        let settle = Duration::from_secs(5);
        assert!(due(None, every, false, settle));
        let just_now = Some(Instant::now());
        assert!(!due(just_now, every, false, settle));
        assert!(!due(just_now, every, true, settle));
        let a_while_ago = Instant::now().checked_sub(Duration::from_secs(10));
        assert!(due(a_while_ago, every, true, settle));
        assert!(!due(a_while_ago, every, false, settle));
    }

    #[test]
    fn ready_once_every_figure_had_a_round_for_the_current_targets() {
        let mut collected = Collected::new("test".into(), true);
        assert!(!collected.ready());
        let hosts: BTreeSet<String> = ["a".to_string()].into();
        collected.targets.hostnames = Some(hosts.clone());
        collected.targets.workloads = Some(BTreeSet::new());
        collected.done_hostnames = Some(hosts);
        collected.done_workloads = Some(BTreeSet::new());
        assert!(!collected.ready());
        collected.billing_done = true;
        assert!(collected.ready());
        collected.targets.hostnames = Some(BTreeSet::new());
        assert!(!collected.ready());
        collected.stop(&CloudWatchError::NoRegion, now());
        assert!(collected.ready());
        assert_eq!(collected.failing.len(), Signal::ALL.len());
    }
}
