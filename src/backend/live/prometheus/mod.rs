//! The Prometheus side of the live backend: rates, latencies and percentiles the Kubernetes
//! objects cannot give. A scheduler task queries Prometheus; the live task merges what it
//! learned into each pane snapshot it sends (`MetricsHandle::decorate`).
//!
//! Credentials come from the environment, never the command line (which `ps` shows):
//! `KOCKPIT_PROMETHEUS_TOKEN` (bearer), or `KOCKPIT_PROMETHEUS_USERNAME` and
//! `KOCKPIT_PROMETHEUS_PASSWORD` (basic), or, for Amazon Managed Service for Prometheus
//! (`--prometheus-sigv4`), the default AWS credential chain signing every request with SigV4.

pub mod answer;
pub mod client;
pub mod scheduler;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::domain::model::SourceHealth;
use crate::domain::model::{Pane, SourceState, SourceStatus, Update};
use crate::domain::promql::{self, QueryId};
use crate::domain::time::Timestamp;
pub use answer::Bounded;
pub use client::{PrometheusClient, Querier, QueryError};
pub use scheduler::{Collected, Schedule, Shared};

pub const TOKEN_ENV: &str = "KOCKPIT_PROMETHEUS_TOKEN";
pub const USERNAME_ENV: &str = "KOCKPIT_PROMETHEUS_USERNAME";
pub const PASSWORD_ENV: &str = "KOCKPIT_PROMETHEUS_PASSWORD";

/// How requests prove who sends them.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
    /// SigV4 (service `aps`) with the default AWS credential chain. The region is `region`,
    /// else the one in an `aps-workspaces.<region>.amazonaws.com` URL, else the chain's.
    SigV4 {
        region: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    // Never print a secret, not even into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "None"),
            Auth::Bearer(_) => write!(f, "Bearer(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Auth::SigV4 { region } => match region {
                Some(region) => write!(f, "SigV4({region})"),
                None => write!(f, "SigV4"),
            },
        }
    }
}

/// Why the Prometheus settings are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{USERNAME_ENV} is set without {PASSWORD_ENV} (or the other way round)")]
    HalfBasic,
    #[error("set either {TOKEN_ENV} or {USERNAME_ENV}/{PASSWORD_ENV}, not both")]
    BothAuth,
    #[error(
        "--prometheus-sigv4 signs with AWS credentials; unset {TOKEN_ENV}, {USERNAME_ENV} and {PASSWORD_ENV}"
    )]
    SigV4WithOtherAuth,
}

impl Auth {
    /// Reads the credentials from the environment through `get` (tests pass a map).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Auth, ConfigError> {
        let non_empty = |name| get(name).filter(|v| !v.is_empty());
        let token = non_empty(TOKEN_ENV);
        let user = non_empty(USERNAME_ENV);
        let password = non_empty(PASSWORD_ENV);
        for secret in [&token, &password].into_iter().flatten() {
            crate::backend::secrets::register(secret);
        }
        match (token, user, password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ConfigError::BothAuth),
            (Some(token), None, None) => Ok(Auth::Bearer(token)),
            (None, Some(username), Some(password)) => Ok(Auth::Basic { username, password }),
            (None, Some(_), None) | (None, None, Some(_)) => Err(ConfigError::HalfBasic),
            (None, None, None) => Ok(Auth::None),
        }
    }

    /// `--prometheus-sigv4`: SigV4 in `region` (the `--region` flag), refusing a token or
    /// password also set in the environment, since only one can be sent.
    pub fn sigv4(
        region: Option<String>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Auth, ConfigError> {
        match Auth::from_env(get) {
            Ok(Auth::None) => Ok(Auth::SigV4 { region }),
            Ok(_) | Err(_) => Err(ConfigError::SigV4WithOtherAuth),
        }
    }
}

/// Where Prometheus is and how to ask it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusOptions {
    /// Base URL, e.g. `http://prometheus:9090` or an AMP workspace's
    /// `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>`.
    pub url: String,
    pub auth: Auth,
    pub query_timeout: Duration,
    pub schedule: Schedule,
    /// How much of one answer is read and kept (`domain::limits` by default).
    pub answer_limits: answer::AnswerLimits,
}

impl PrometheusOptions {
    pub fn new(url: impl Into<String>, auth: Auth) -> Self {
        PrometheusOptions {
            url: url.into().trim_end_matches('/').to_string(),
            auth,
            query_timeout: Duration::from_secs(10),
            schedule: Schedule::default(),
            answer_limits: answer::AnswerLimits::default(),
        }
    }

    /// The URL without any user information, for the source-health view.
    pub fn endpoint(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string().trim_end_matches('/').to_string()
            }
            Err(_) => self.url.clone(),
        }
    }
}

/// The running scheduler and what the live task has already passed on.
pub struct MetricsHandle {
    shared: Shared,
    task: JoinHandle<()>,
    /// The rate window of the "now" queries, in seconds.
    window_seconds: u64,
    /// Another flow source (flow logs) is configured: no flow metrics is no trouble.
    pub flows_elsewhere: bool,
    seen_generation: u64,
    sent_states: BTreeMap<Pane, (String, SourceState)>,
}

impl Drop for MetricsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts querying. Must be called on a tokio runtime.
pub fn start(options: &PrometheusOptions) -> Result<MetricsHandle, client::ClientError> {
    let client = PrometheusClient::new(options)?;
    Ok(start_with(
        Arc::new(client),
        options.schedule.clone(),
        options.endpoint(),
    ))
}

/// Starts the scheduler over any querier (tests use a fake).
pub fn start_with<Q: Querier>(
    querier: Arc<Q>,
    schedule: Schedule,
    endpoint: String,
) -> MetricsHandle {
    let shared: Shared = Arc::new(std::sync::Mutex::new(Collected::new(endpoint)));
    let window_seconds =
        crate::domain::time::parse_duration(&schedule.rate_window).map_or(300, |d| d.as_secs());
    let task = tokio::spawn(scheduler::run(querier, schedule, shared.clone()));
    MetricsHandle {
        shared,
        task,
        window_seconds,
        flows_elsewhere: false,
        seen_generation: 0,
        sent_states: BTreeMap::new(),
    }
}

/// Which panes take figures from Prometheus.
fn backed(pane: Pane) -> bool {
    matches!(
        pane,
        Pane::Dns | Pane::Flows | Pane::Nodes | Pane::Rightsizing
    )
}

fn rank(state: &SourceState) -> u8 {
    match state {
        SourceState::Ok => 0,
        SourceState::Degraded { .. } => 1,
        SourceState::Unavailable { .. } => 2,
        SourceState::NotInstalled { .. } => 3,
    }
}

impl MetricsHandle {
    /// A snapshot of what the scheduler knows.
    pub fn collected(&self) -> Collected {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn health(&self) -> SourceHealth {
        self.collected().health
    }

    /// True once per change of the scheduler's findings: the panes must be sent again.
    pub fn changed(&mut self) -> bool {
        let generation = self.collected().generation;
        let changed = generation != self.seen_generation;
        self.seen_generation = generation;
        changed
    }

    /// What the flow metrics in Prometheus say, joined to the pods by the live task.
    pub fn flow_observations(&self) -> Option<crate::domain::traffic::Observed> {
        let collected = self.collected();
        let names = collected.names.as_ref()?;
        crate::domain::flow_metrics::observed(names, &collected.results, self.window_seconds)
    }

    /// Whether the first round of queries has finished (a one-shot snapshot waits for it).
    pub fn ready(&self) -> bool {
        self.collected().first_round_done
    }

    /// How Prometheus is doing for one pane: Ok, Degraded (some figures failing) or
    /// Unavailable (none), and since when its figures are good.
    pub fn pane_state(
        collected: &Collected,
        pane: Pane,
        at: Timestamp,
    ) -> Option<(SourceState, Timestamp)> {
        if !backed(pane) {
            return None;
        }
        let names = collected
            .names
            .clone()
            .unwrap_or_else(|| promql::MetricNames::detect(&std::collections::BTreeSet::new()));
        // Prometheus listed its names and the pane's exporter is not among them: say what was
        // looked for and what provides it.
        if let Some(cause) = names.absent.get(&pane) {
            return Some((
                SourceState::Degraded {
                    cause: cause.clone(),
                },
                at,
            ));
        }
        let ids: Vec<QueryId> = promql::catalogue(&names, promql::RATE_WINDOW)
            .into_iter()
            .filter(|q| q.pane == pane && q.id != QueryId::Alerts)
            .map(|q| q.id)
            .collect();
        let failing: Vec<(QueryId, &String)> = ids
            .iter()
            .filter_map(|id| collected.failing.get(id).map(|(e, _)| (*id, e)))
            .collect();
        let oldest_ok = ids
            .iter()
            .filter_map(|id| collected.last_ok.get(id))
            .min()
            .copied();
        if failing.is_empty() {
            // Figures from a cut answer are partial: the pane says so.
            let truncated: Vec<(&str, &String)> = ids
                .iter()
                .filter_map(|id| collected.truncated.get(id).map(|note| (id.figure(), note)))
                .collect();
            if let Some((_, note)) = truncated.first() {
                let figures: Vec<&str> = truncated.iter().map(|(figure, _)| *figure).collect();
                let state = SourceState::Degraded {
                    cause: format!("Prometheus: {} partial, answer {note}", figures.join(", ")),
                };
                return Some((state, oldest_ok.unwrap_or(at)));
            }
            return Some((SourceState::Ok, oldest_ok.unwrap_or(at)));
        }
        let figures: Vec<&str> = failing.iter().map(|(id, _)| id.figure()).collect();
        let error = failing[0].1;
        let since = collected
            .last_ok
            .values()
            .max()
            .map(|t| format!(", last good {}", t.format("%H:%M:%S")))
            .unwrap_or_default();
        let state = if failing.len() == ids.len() {
            SourceState::Unavailable {
                cause: format!("Prometheus: {error}{since}"),
            }
        } else {
            SourceState::Degraded {
                cause: format!("Prometheus: no {}: {error}", figures.join(", ")),
            }
        };
        Some((state, oldest_ok.unwrap_or(at)))
    }

    /// Merges the metric figures into the snapshots of `batch`, puts an hour of DNS history
    /// (once) before the first DNS snapshot, adds firing alerts, and replaces each pane's
    /// Kubernetes-only state by the combined one: Prometheus trouble degrades a pane, as its
    /// Kubernetes facts still show. `kube_state` gives the Kubernetes state of a pane.
    pub fn decorate(
        &mut self,
        batch: &mut Vec<Update>,
        kube_state: &dyn Fn(Pane) -> (SourceState, Timestamp),
        at: Timestamp,
    ) {
        let (collected, history) = {
            let mut guard = self
                .shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // History goes before a DNS snapshot; without one in this batch it waits.
            let has_dns = batch.iter().any(|u| matches!(u, Update::Dns(_)));
            let history = if has_dns {
                std::mem::take(&mut guard.history)
            } else {
                Vec::new()
            };
            (guard.clone(), history)
        };
        let results = &collected.results;
        let mut out = Vec::with_capacity(batch.len() + history.len() + 8);
        for update in batch.drain(..) {
            match update {
                Update::Dns(mut snapshot) => {
                    for point in &history {
                        let mut past = snapshot.clone();
                        past.at = point.at;
                        past.metrics = None;
                        promql::merge_dns(&mut past, &point.results);
                        if past.metrics.is_some() {
                            out.push(Update::Dns(past));
                        }
                    }
                    promql::merge_dns(&mut snapshot, results);
                    out.push(Update::Dns(snapshot));
                }
                Update::Nodes(mut snapshot) => {
                    promql::merge_nodes(&mut snapshot, results);
                    out.push(Update::Nodes(snapshot));
                }
                Update::Workloads(mut snapshot) => {
                    promql::merge_workloads(&mut snapshot, results);
                    out.push(Update::Workloads(snapshot));
                }
                // Sent below, combined with Prometheus's state.
                Update::Source(_) => {}
                other => out.push(other),
            }
        }
        if let Some(alerts) = promql::alerts(results, at)
            && !alerts.alerts.is_empty()
        {
            out.push(Update::Alerts(alerts));
        }
        let clock = out
            .iter()
            .position(|u| matches!(u, Update::Clock { .. }))
            .unwrap_or(out.len());
        let mut states = Vec::new();
        for pane in Pane::ALL {
            let (kube, kube_at) = kube_state(pane);
            let own = Self::pane_state(&collected, pane, at).filter(|_| {
                !(pane == Pane::Flows
                    && self.flows_elsewhere
                    && collected.names.as_ref().is_some_and(|n| n.flows.is_none()))
            });
            let (source, state, since) = match own {
                None => ("kubernetes".to_string(), kube, kube_at),
                Some((prom, prom_at)) => {
                    let source = "kubernetes+prometheus".to_string();
                    if rank(&kube) > 0 || rank(&prom) == 0 {
                        (source, kube, kube_at)
                    } else {
                        // Without metrics the pane still shows its Kubernetes facts.
                        let cause = match prom {
                            SourceState::Degraded { cause }
                            | SourceState::Unavailable { cause } => cause,
                            _ => String::new(),
                        };
                        (source, SourceState::Degraded { cause }, prom_at)
                    }
                }
            };
            let key = (source.clone(), state.clone());
            if self.sent_states.get(&pane) == Some(&key) {
                continue;
            }
            self.sent_states.insert(pane, key);
            states.push(Update::Source(SourceStatus {
                pane,
                source,
                state,
                at: since,
            }));
        }
        out.splice(clock..clock, states);
        *batch = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Auth::from_env(env(&[])), Ok(Auth::None));
        assert_eq!(
            Auth::from_env(env(&[(TOKEN_ENV, "t")])),
            Ok(Auth::Bearer("t".to_string()))
        );
        assert_eq!(
            Auth::from_env(env(&[(USERNAME_ENV, "u"), (PASSWORD_ENV, "p")])),
            Ok(Auth::Basic {
                username: "u".to_string(),
                password: "p".to_string()
            })
        );
        assert_eq!(
            Auth::from_env(env(&[(USERNAME_ENV, "u")])),
            Err(ConfigError::HalfBasic)
        );
        assert_eq!(
            Auth::from_env(env(&[(TOKEN_ENV, "t"), (PASSWORD_ENV, "p")])),
            Err(ConfigError::BothAuth)
        );
        assert!(!format!("{:?}", Auth::Bearer("secret".to_string())).contains("secret"));
        assert_eq!(
            Auth::sigv4(Some("eu-west-1".to_string()), env(&[])),
            Ok(Auth::SigV4 {
                region: Some("eu-west-1".to_string())
            })
        );
        assert_eq!(
            Auth::sigv4(None, env(&[(TOKEN_ENV, "t")])),
            Err(ConfigError::SigV4WithOtherAuth)
        );
        assert_eq!(
            format!(
                "{:?}",
                Auth::SigV4 {
                    region: Some("eu-west-1".to_string())
                }
            ),
            "SigV4(eu-west-1)"
        );
    }

    #[test]
    fn endpoint_hides_user_information() {
        let options = PrometheusOptions::new("https://u:p@prom.example:9090/", Auth::None);
        assert_eq!(options.endpoint(), "https://prom.example:9090");
    }
}
