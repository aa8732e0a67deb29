//! The CloudWatch side of the live backend (`--cloudwatch`): the Gateways' ALB/NLB figures,
//! Container Insights usage for Right-sizing when there is no Prometheus, and the account's
//! billed month-to-date for Spend. A scheduler task asks CloudWatch; the live task merges
//! what it learned into each pane snapshot it sends (`CloudWatchHandle::decorate`) and
//! folds its trouble into the pane states (`combine`), as it does for Prometheus.
//!
//! Credentials and region come from the default AWS chain (environment, SSO and shared
//! profiles, instance roles); the IAM identity needs `cloudwatch:GetMetricData` and
//! `cloudwatch:ListMetrics`.

pub mod billing;
pub mod client;
/// VPC Flow Logs through CloudWatch Logs Insights (`--flow-logs`).
pub mod flowlogs;
pub mod insights;
pub mod loadbalancers;
pub mod queries;
pub mod scheduler;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::client::LiveOptions;
use super::health::PaneHealth;
use crate::domain::model::SourceHealth;
use crate::domain::model::{
    BilledSpend, ClusterInfo, GatewaySnapshot, LoadBalancerMetrics, Pane, SourceState, Update,
};
use crate::domain::time::Timestamp;
pub use client::{CloudWatchApi, CloudWatchError, SdkApi};
pub use scheduler::{Collected, Schedule, Settings, Shared, Signal};

/// Overrides the EKS cluster name Container Insights is asked about (`ClusterName`), when
/// the kubeconfig context does not carry it (a renamed context).
pub const CLUSTER_ENV: &str = "KOCKPIT_CLOUDWATCH_CLUSTER";

/// Where CloudWatch is and how to ask it.
#[derive(Debug, Clone)]
pub struct CloudWatchOptions {
    /// `--region`; the default chain's region when `None`.
    pub region: Option<String>,
    /// The cluster's own region (from its EKS ARN or endpoint): the last resort.
    pub cluster_region: Option<String>,
    /// Container Insights' `ClusterName`.
    pub cluster_name: Option<String>,
    /// Another endpoint than AWS's (`AWS_ENDPOINT_URL` is honoured without this).
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the default chain (tools and tests).
    pub credentials: Option<aws_sdk_cloudwatch::config::Credentials>,
    /// The longest a call (all its attempts) may take.
    pub call_timeout: Duration,
    /// Attempts per call, throttling and transient errors retried with backoff.
    pub max_attempts: u32,
    /// Ask Container Insights for usage (only when Prometheus does not give it).
    pub container_insights: bool,
    pub schedule: Schedule,
}

impl CloudWatchOptions {
    pub fn new(region: Option<String>) -> Self {
        CloudWatchOptions {
            region,
            cluster_region: None,
            cluster_name: None,
            endpoint_url: None,
            credentials: None,
            call_timeout: Duration::from_secs(10),
            max_attempts: 3,
            container_insights: true,
            schedule: Schedule::default(),
        }
    }

    /// The options of a live run against `cluster`.
    pub fn for_cluster(live: &LiveOptions, cluster: &ClusterInfo) -> Self {
        let from_env = std::env::var(CLUSTER_ENV).ok().filter(|n| !n.is_empty());
        CloudWatchOptions {
            cluster_region: Some(cluster.region.clone()).filter(|r| !r.is_empty()),
            cluster_name: from_env.or_else(|| cluster_name(&cluster.name)),
            container_insights: live.prometheus.is_none(),
            ..CloudWatchOptions::new(live.region.clone())
        }
    }
}

/// The EKS cluster name in a context name: the part after `cluster/` of an ARN (what
/// `aws eks update-kubeconfig` names contexts), else the name itself.
pub fn cluster_name(context: &str) -> Option<String> {
    let name = match context.rsplit_once(":cluster/") {
        Some((_, name)) => name,
        None => context,
    };
    (!name.is_empty()).then(|| name.to_string())
}

/// The running scheduler and what the live task has already passed on.
pub struct CloudWatchHandle {
    shared: Shared,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
    seen_generation: u64,
    sent_billing: Option<BilledSpend>,
}

impl Drop for CloudWatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn settings(options: &CloudWatchOptions) -> Settings {
    Settings {
        schedule: options.schedule.clone(),
        cluster_name: options.cluster_name.clone(),
        call_timeout: options.call_timeout,
        container_insights: options.container_insights,
    }
}

/// Loads the AWS configuration and starts asking. Must be called on a tokio runtime; a
/// configuration that cannot work (no region) shows in every CloudWatch figure's state.
pub fn start(options: CloudWatchOptions) -> CloudWatchHandle {
    let endpoint = options
        .endpoint_url
        .clone()
        .unwrap_or_else(|| "CloudWatch".to_string());
    let shared: Shared = Arc::new(std::sync::Mutex::new(Collected::new(
        endpoint,
        options.container_insights,
    )));
    let wake = Arc::new(Notify::new());
    let task = {
        let shared = shared.clone();
        let wake = wake.clone();
        tokio::spawn(async move {
            match client::build(&options).await {
                Ok(clients) => {
                    tracing::info!(region = %clients.region, endpoint = %clients.endpoint, "CloudWatch source started");
                    scheduler::lock(&shared).health.endpoint =
                        format!("{} ({})", clients.endpoint, clients.region);
                    scheduler::run(
                        clients.regional,
                        clients.billing,
                        settings(&options),
                        shared,
                        wake,
                    )
                    .await;
                }
                Err(error) => {
                    tracing::error!(%error, "CloudWatch source not started");
                    scheduler::lock(&shared).stop(&error, chrono::Utc::now());
                }
            }
        })
    };
    CloudWatchHandle {
        shared,
        wake,
        task,
        seen_generation: 0,
        sent_billing: None,
    }
}

/// Starts the scheduler over any API (tests use SDK clients of their own, or fakes).
pub fn start_with<A: CloudWatchApi>(
    regional: A,
    billing: A,
    options: &CloudWatchOptions,
    endpoint: String,
) -> CloudWatchHandle {
    let shared: Shared = Arc::new(std::sync::Mutex::new(Collected::new(
        endpoint,
        options.container_insights,
    )));
    let wake = Arc::new(Notify::new());
    let task = tokio::spawn(scheduler::run(
        regional,
        billing,
        settings(options),
        shared.clone(),
        wake.clone(),
    ));
    CloudWatchHandle {
        shared,
        wake,
        task,
        seen_generation: 0,
        sent_billing: None,
    }
}

/// Puts each Gateway's load balancer figures on it, and its request rate and 5xx share
/// where nothing else gave them.
pub fn merge_gateways(
    snapshot: &mut GatewaySnapshot,
    load_balancers: &BTreeMap<String, LoadBalancerMetrics>,
) {
    for gateway in &mut snapshot.gateways {
        let Some(figures) = gateway
            .address
            .as_ref()
            .and_then(|address| load_balancers.get(address))
        else {
            continue;
        };
        if gateway.requests_per_sec.is_none() {
            gateway.requests_per_sec = figures.requests_per_sec;
        }
        if gateway.error_5xx_ratio.is_none() {
            gateway.error_5xx_ratio = figures.error_5xx_ratio();
        }
        gateway.load_balancer = Some(figures.clone());
    }
}

/// A pane's Kubernetes state with CloudWatch's trouble folded in: Kubernetes trouble comes
/// first; otherwise a failing CloudWatch figure degrades the pane, whose Kubernetes facts
/// still show.
pub fn combine(kube: PaneHealth, cloudwatch: Option<&SourceState>) -> PaneHealth {
    match (&kube.state, cloudwatch) {
        (
            SourceState::Ok,
            Some(SourceState::Degraded { cause } | SourceState::Unavailable { cause }),
        ) => PaneHealth {
            state: SourceState::Degraded {
                cause: cause.clone(),
            },
            stale_since: kube.stale_since,
        },
        _ => kube,
    }
}

impl CloudWatchHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        scheduler::lock(&self.shared)
    }

    /// A snapshot of what the scheduler knows.
    pub fn collected(&self) -> Collected {
        self.lock().clone()
    }

    pub fn health(&self) -> SourceHealth {
        self.lock().health.clone()
    }

    /// True once per change of the scheduler's findings: the panes must be sent again.
    pub fn changed(&mut self) -> bool {
        let generation = self.lock().generation;
        let changed = generation != self.seen_generation;
        self.seen_generation = generation;
        changed
    }

    /// Every figure has had a round for the gateways and workloads last sent.
    pub fn ready(&self) -> bool {
        self.lock().ready()
    }

    /// CloudWatch's state for each pane it gives figures to.
    pub fn pane_states(&self) -> BTreeMap<Pane, SourceState> {
        pane_states(&self.lock())
    }

    /// Merges the figures into the snapshots of `batch`, notes the gateways and workloads
    /// it shows for the next round, and adds the billed month-to-date when it is new.
    pub fn decorate(&mut self, batch: &mut Vec<Update>, at: Timestamp) {
        let mut collected = self.lock();
        let mut targets = collected.targets.clone();
        for update in batch.iter_mut() {
            match update {
                Update::Gateways(snapshot) => {
                    targets.hostnames = Some(
                        snapshot
                            .gateways
                            .iter()
                            .filter_map(|g| g.address.clone())
                            .collect(),
                    );
                    merge_gateways(snapshot, &collected.load_balancers);
                }
                Update::Workloads(snapshot) if collected.container_insights => {
                    targets.workloads = Some(insights::workloads(snapshot));
                    insights::merge(snapshot, &collected.usage);
                }
                _ => {}
            }
        }
        let billing = collected.billing.clone();
        if targets != collected.targets {
            collected.targets = targets;
            self.wake.notify_one();
        }
        drop(collected);
        if let Some(billing) = billing
            && self.sent_billing.as_ref() != Some(&billing)
        {
            self.sent_billing = Some(billing.clone());
            let clock = batch
                .iter()
                .position(|u| matches!(u, Update::Clock { .. }))
                .unwrap_or(batch.len());
            batch.insert(clock, Update::Billing(BilledSpend { at, ..billing }));
        }
    }
}

/// Which panes take figures from CloudWatch.
fn backed(collected: &Collected, pane: Pane) -> bool {
    match pane {
        Pane::Gateways | Pane::Spend => true,
        Pane::Rightsizing => collected.container_insights,
        _ => false,
    }
}

/// Ok, or Degraded naming the figures that fail (and why) or have no data.
pub fn pane_states(collected: &Collected) -> BTreeMap<Pane, SourceState> {
    let mut states = BTreeMap::new();
    for pane in Pane::ALL {
        if !backed(collected, pane) {
            continue;
        }
        let signals: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| s.pane() == pane)
            .filter(|s| collected.container_insights || *s != Signal::ContainerInsights)
            .collect();
        let failing: Vec<(Signal, &String)> = signals
            .iter()
            .filter_map(|s| collected.failing.get(s).map(|(e, _)| (*s, e)))
            .collect();
        let state = if let Some((_, error)) = failing.first() {
            let figures: Vec<&str> = failing.iter().map(|(s, _)| s.figure()).collect();
            let since = signals
                .iter()
                .filter_map(|s| collected.last_ok.get(s))
                .max()
                .map(|t| format!(", last good {}", t.format("%H:%M:%S")))
                .unwrap_or_default();
            SourceState::Degraded {
                cause: format!("CloudWatch: no {}: {error}{since}", figures.join(", ")),
            }
        } else if let Some(note) = signals.iter().find_map(|s| collected.missing.get(s)) {
            SourceState::Degraded {
                cause: format!("CloudWatch: {note}"),
            }
        } else {
            SourceState::Ok
        };
        states.insert(pane, state);
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{GatewayStatus, LoadBalancerKind};

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn cluster_names_from_eks_context_names() {
        assert_eq!(
            cluster_name("arn:aws:eks:eu-west-1:123456789012:cluster/prod"),
            Some("prod".into())
        );
        assert_eq!(cluster_name("staging"), Some("staging".into()));
        assert_eq!(cluster_name(""), None);
    }

    fn figures() -> LoadBalancerMetrics {
        LoadBalancerMetrics {
            name: "app/web/1".into(),
            kind: LoadBalancerKind::Application,
            source: "CloudWatch AWS/ApplicationELB".into(),
            minute: at(0),
            requests_per_sec: Some(100.0),
            target_5xx_per_sec: Some(1.0),
            elb_5xx_per_sec: Some(1.0),
            p99_response_ms: Some(80.0),
            healthy_hosts: Some(3.0),
            unhealthy_hosts: Some(0.0),
            active_flows: None,
            processed_bytes_per_sec: None,
        }
    }

    fn gateway(address: &str) -> GatewayStatus {
        GatewayStatus {
            namespace: "shop".into(),
            name: "web".into(),
            class: "alb".into(),
            address: Some(address.into()),
            accepted: None,
            programmed: None,
            attached_routes: 1,
            requests_per_sec: None,
            error_5xx_ratio: None,
            load_balancer: None,
        }
    }

    #[test]
    fn gateways_take_their_load_balancers_figures() {
        let host = "web-1.us-east-1.elb.amazonaws.com";
        let mut snapshot = GatewaySnapshot {
            at: at(0),
            gateways: vec![gateway(host), gateway("10.0.0.1")],
            routes: Vec::new(),
        };
        let load_balancers: BTreeMap<String, LoadBalancerMetrics> =
            [(host.to_string(), figures())].into();
        merge_gateways(&mut snapshot, &load_balancers);
        let merged = &snapshot.gateways[0];
        assert_eq!(merged.requests_per_sec, Some(100.0));
        assert_eq!(merged.error_5xx_ratio, Some(0.02));
        assert_eq!(merged.load_balancer.as_ref(), Some(&figures()));
        assert_eq!(snapshot.gateways[1].load_balancer, None);
    }

    #[test]
    fn failing_figures_degrade_only_their_pane() {
        let mut collected = Collected::new("test".into(), false);
        collected.failing.insert(
            Signal::ResponseTime,
            ("CloudWatch error HTTP 500: boom".into(), at(0)),
        );
        collected
            .missing
            .insert(Signal::Billing, billing::NO_DATA.to_string());
        let states = pane_states(&collected);
        assert_eq!(
            states.get(&Pane::Gateways),
            Some(&SourceState::Degraded {
                cause: "CloudWatch: no p99 response time: CloudWatch error HTTP 500: boom".into()
            })
        );
        assert!(matches!(
            states.get(&Pane::Spend),
            Some(SourceState::Degraded { cause }) if cause.contains("billing alerts")
        ));
        // Without Container Insights, Right-sizing does not depend on CloudWatch.
        assert_eq!(states.get(&Pane::Rightsizing), None);
        assert_eq!(states.get(&Pane::Dns), None);

        let ok = PaneHealth {
            state: SourceState::Ok,
            stale_since: None,
        };
        let combined = combine(ok.clone(), states.get(&Pane::Gateways));
        assert!(matches!(combined.state, SourceState::Degraded { .. }));
        assert_eq!(combine(ok.clone(), None), ok);
        let kube_trouble = PaneHealth {
            state: SourceState::Unavailable {
                cause: "forbidden".into(),
            },
            stale_since: Some(at(5)),
        };
        assert_eq!(
            combine(kube_trouble.clone(), states.get(&Pane::Gateways)),
            kube_trouble
        );
    }
}
