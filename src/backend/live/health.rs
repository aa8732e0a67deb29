//! How each watcher is doing, and what that means for each pane: a 403 names the permission
//! that is missing, a CRD that is not installed says so, and a broken connection keeps the
//! time the data was last known good so the pane can show its age.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::domain::assemble::{ObjectKind, pane_kinds};
use crate::domain::format::count;
use crate::domain::model::{Pane, SourceHealth, SourceState};
use crate::domain::time::Timestamp;

use super::watch::WatchFailure;

#[derive(Debug, Clone, Default)]
struct KindHealth {
    /// "cluster-wide" or "in namespace X": where the watch lists.
    scope: String,
    listed: bool,
    /// Has reported at least once, good or bad.
    reported: bool,
    failure: Option<WatchFailure>,
    /// When the current run of failures began: the data was last known good then.
    failing_since: Option<Timestamp>,
    /// When the current (re)list began, to time it.
    list_started: Option<Instant>,
    /// Objects the current (re)list has delivered so far.
    received: u64,
}

/// The API server as one source, for the source-health view.
#[derive(Debug, Clone, Default)]
struct ApiServer {
    last_success: Option<Timestamp>,
    /// How long the latest full list took.
    last_list_ms: Option<f64>,
    last_error: Option<(String, Timestamp)>,
    answered: u64,
    failed: u64,
    /// How long the last liveness probe took.
    last_probe_ms: Option<f64>,
}

/// Everything the backend knows about its watchers' health.
#[derive(Debug, Clone, Default)]
pub struct Health {
    kinds: BTreeMap<ObjectKind, KindHealth>,
    not_installed: BTreeMap<Pane, String>,
    discovery_settled: bool,
    api: ApiServer,
    /// "credential plugin `…` has not answered for 12s": every request waits on it.
    credentials_waiting: Option<String>,
    /// The API server stopped answering the probe: since when its data is not known to be
    /// current, and why.
    unresponsive: Option<(Timestamp, String)>,
}

/// A pane's state, and the instant its data was last known to be current (None: now).
#[derive(Debug, Clone, PartialEq)]
pub struct PaneHealth {
    pub state: SourceState,
    pub stale_since: Option<Timestamp>,
}

/// What went wrong with a kind's watch, in words that say what to do.
fn cause(kind: ObjectKind, failure: &WatchFailure, scope: &str) -> String {
    match failure {
        WatchFailure::Forbidden(_) => format!(
            "forbidden: needs list/watch on {} ({scope})",
            rbac_name(kind)
        ),
        WatchFailure::NotFound(_) => format!("{} not found on the server", rbac_name(kind)),
        WatchFailure::Gone => format!("{}: relisting after 410 Gone", kind.resource()),
        // The same for every kind: said once, in the plugin's words.
        WatchFailure::Credentials(message) => message.clone(),
        WatchFailure::Other(error) => format!("{}: {error}", kind.resource()),
    }
}

fn rbac_name(kind: ObjectKind) -> String {
    match kind.group() {
        "" => kind.resource().to_string(),
        group => format!("{}.{group}", kind.resource()),
    }
}

impl Health {
    pub fn started(&mut self, kind: ObjectKind, scope: &str) {
        self.kinds.insert(
            kind,
            KindHealth {
                scope: scope.to_string(),
                list_started: Some(Instant::now()),
                ..KindHealth::default()
            },
        );
    }

    /// A watch event or a page arrived: the API server answers.
    pub fn heard(&mut self, at: Timestamp) {
        self.api.last_success = Some(at);
        self.api.answered += 1;
    }

    /// The kind lists again (after 410 Gone or a broken watch): time the new list.
    pub fn relisting(&mut self, kind: ObjectKind) {
        if let Some(health) = self.kinds.get_mut(&kind) {
            health.list_started = Some(Instant::now());
            health.received = 0;
        }
    }

    /// A page of the kind's (re)list arrived with `objects` objects.
    pub fn received(&mut self, kind: ObjectKind, objects: usize) {
        if let Some(health) = self.kinds.get_mut(&kind) {
            health.received += objects as u64;
        }
    }

    /// While the first lists run: which kinds are still listing and how far they are, for
    /// the panes' "waiting for data" and the Sources window. On a large cluster the pod list
    /// alone takes tens of seconds; this says it is under way.
    /// "listing pods (412,000 so far), nodeclaims · 14 of 22 kinds listed, 105,310 objects".
    pub fn sync_progress(&self) -> Option<String> {
        if self.initial_sync_done() || self.kinds.is_empty() {
            return None;
        }
        let listing: Vec<String> = self
            .kinds
            .iter()
            .filter(|(_, k)| !k.listed && k.failure.is_none())
            .map(|(kind, k)| match k.received {
                0 => kind.resource().to_string(),
                n => format!("{} ({} so far)", kind.resource(), count(n as usize)),
            })
            .collect();
        let listed: Vec<&KindHealth> = self.kinds.values().filter(|k| k.listed).collect();
        let objects: u64 = listed.iter().map(|k| k.received).sum();
        let waiting = if listing.is_empty() {
            "discovering the optional APIs".to_string()
        } else {
            format!("listing {}", listing.join(", "))
        };
        Some(format!(
            "{waiting} · {} of {} kinds listed, {} objects",
            listed.len(),
            self.kinds.len(),
            count(objects as usize)
        ))
    }

    pub fn listed(&mut self, kind: ObjectKind) {
        if let Some(health) = self.kinds.get_mut(&kind) {
            if let Some(started) = health.list_started.take() {
                self.api.last_list_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            }
            health.listed = true;
            health.reported = true;
            health.failure = None;
            health.failing_since = None;
        }
    }

    pub fn failed(&mut self, kind: ObjectKind, failure: WatchFailure, at: Timestamp) {
        if matches!(failure, WatchFailure::Credentials(_)) {
            // The plugin has given its answer: no longer waited for.
            self.credentials_waiting = None;
        }
        if let Some(health) = self.kinds.get_mut(&kind) {
            self.api.failed += 1;
            self.api.last_error = Some((cause(kind, &failure, &health.scope), at));
            health.reported = true;
            health.failing_since.get_or_insert(at);
            health.failure = Some(failure);
        }
    }

    pub fn recovered(&mut self, kind: ObjectKind) {
        if let Some(health) = self.kinds.get_mut(&kind) {
            health.failure = None;
            health.failing_since = None;
        }
    }

    /// The credential plugin is running (the note says which and for how long), or not.
    pub fn credentials_waiting(&mut self, note: Option<String>, at: Timestamp) {
        if let Some(note) = &note {
            self.api.last_error = Some((note.clone(), at));
        }
        self.credentials_waiting = note;
    }

    /// The API server answered the liveness probe. True when it had stopped answering
    /// before, so the panes change.
    pub fn probe_answered(&mut self, at: Timestamp, latency_ms: f64) -> bool {
        self.heard(at);
        self.api.last_probe_ms = Some(latency_ms);
        self.unresponsive.take().is_some()
    }

    /// The probe got no answer in time: every pane's data is as old as the last answer.
    /// True when the server had been answering until now, so the panes change.
    pub fn probe_failed(&mut self, cause: String, at: Timestamp) -> bool {
        let was_answering = self.unresponsive.is_none();
        self.api.failed += 1;
        let cause = format!("API server not answering: {cause}");
        self.api.last_error = Some((cause.clone(), at));
        let since = self
            .unresponsive
            .as_ref()
            .map(|(since, _)| *since)
            .or(self.api.last_success)
            .unwrap_or(at);
        self.unresponsive = Some((since, cause));
        was_answering
    }

    /// The pane's source is not installed: `what` names it for the user.
    pub fn not_installed(&mut self, pane: Pane, what: &str) {
        self.not_installed.insert(pane, what.to_string());
    }

    pub fn discovery_settled(&mut self) {
        self.discovery_settled = true;
    }

    /// Every started watcher has delivered its list or failed, and discovery is done.
    pub fn initial_sync_done(&self) -> bool {
        self.discovery_settled && self.kinds.values().all(|k| k.reported)
    }

    /// The API server as the source-health view shows it.
    pub fn source(&self, endpoint: &str) -> SourceHealth {
        let mut health = SourceHealth::new("kubernetes", endpoint);
        health.detail = self.sync_progress();
        health.last_success = self.api.last_success;
        health.latency_ms = self.api.last_list_ms.or(self.api.last_probe_ms);
        health.queries_ok = self.api.answered;
        health.queries_failed = self.api.failed;
        if let Some((error, at)) = &self.api.last_error {
            health.last_error = Some(error.clone());
            health.last_error_at = Some(*at);
        }
        health
    }

    pub fn pane(&self, pane: Pane) -> PaneHealth {
        let (primary, secondary) = pane_kinds(pane);
        let mut unavailable = Vec::new();
        let mut degraded = Vec::new();
        let mut stale_since: Option<Timestamp> = None;
        // Other failures, by error: (error, fatal, the kinds that failed with it).
        let mut alike: Vec<(String, bool, Vec<&str>)> = Vec::new();
        let listed = |kind: &ObjectKind| self.kinds.get(kind).is_some_and(|k| k.listed);
        if let Some(note) = &self.credentials_waiting
            && !primary.iter().any(listed)
        {
            unavailable.push(note.clone());
        }
        if let Some((since, cause)) = &self.unresponsive
            && primary.iter().any(listed)
        {
            stale_since = Some(*since);
            degraded.push(cause.clone());
        }
        for (kind, is_primary) in primary
            .iter()
            .map(|k| (*k, true))
            .chain(secondary.iter().map(|k| (*k, false)))
        {
            let Some(health) = self.kinds.get(&kind) else {
                continue;
            };
            let Some(failure) = &health.failure else {
                continue;
            };
            // Data that was good before a connection problem is going stale; a kind that was
            // never readable (403) is simply missing and does not age the rest.
            if !matches!(failure, WatchFailure::Forbidden(_))
                && health.listed
                && let Some(since) = health.failing_since
            {
                stale_since = Some(stale_since.map_or(since, |s| s.min(since)));
            }
            let fatal =
                is_primary && (matches!(failure, WatchFailure::Forbidden(_)) || !health.listed);
            if let WatchFailure::Other(error) = failure {
                // A server that does not answer fails every request alike: the probe's line
                // says it once. Otherwise kinds that fail alike are named together.
                if self.unresponsive.is_none() {
                    let error = error.to_string();
                    match alike
                        .iter_mut()
                        .find(|(e, f, _)| *e == error && *f == fatal)
                    {
                        Some((_, _, kinds)) => kinds.push(kind.resource()),
                        None => alike.push((error, fatal, vec![kind.resource()])),
                    }
                }
                continue;
            }
            let cause = cause(kind, failure, &health.scope);
            let causes = if fatal {
                &mut unavailable
            } else {
                &mut degraded
            };
            // Every kind fails alike when the plugin or the connection does: said once.
            if !causes.contains(&cause) {
                causes.push(cause);
            }
        }
        for (error, fatal, kinds) in alike {
            let cause = format!("{}: {error}", kinds.join(", "));
            if fatal {
                unavailable.push(cause);
            } else {
                degraded.push(cause);
            }
        }
        let state = if !unavailable.is_empty() {
            SourceState::Unavailable {
                cause: unavailable.join("; "),
            }
        } else if let Some(what) = self.not_installed.get(&pane) {
            SourceState::NotInstalled { what: what.clone() }
        } else if !degraded.is_empty() {
            SourceState::Degraded {
                cause: degraded.join("; "),
            }
        } else {
            SourceState::Ok
        };
        PaneHealth { state, stale_since }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn a_forbidden_primary_kind_makes_the_pane_unavailable_and_names_the_permission() {
        let mut health = Health::default();
        health.started(ObjectKind::Pod, "cluster-wide");
        health.started(ObjectKind::Deployment, "cluster-wide");
        health.listed(ObjectKind::Deployment);
        health.failed(
            ObjectKind::Pod,
            WatchFailure::Forbidden("pods is forbidden".into()),
            at(0),
        );
        let dns = health.pane(Pane::Dns);
        assert_eq!(
            dns.state,
            SourceState::Unavailable {
                cause: "forbidden: needs list/watch on pods (cluster-wide)".into()
            }
        );
        assert_eq!(dns.stale_since, None);
        // Pods only fill in details of the Nodes pane.
        assert!(matches!(
            health.pane(Pane::Nodes).state,
            SourceState::Degraded { .. }
        ));
        assert_eq!(health.pane(Pane::Flows).state, SourceState::Ok);
    }

    #[test]
    fn a_broken_connection_degrades_with_the_time_of_the_last_good_data() {
        let mut health = Health::default();
        health.started(ObjectKind::Node, "cluster-wide");
        health.listed(ObjectKind::Node);
        health.failed(
            ObjectKind::Node,
            WatchFailure::Other("connection refused".into()),
            at(10),
        );
        health.failed(
            ObjectKind::Node,
            WatchFailure::Other("connection refused".into()),
            at(20),
        );
        let nodes = health.pane(Pane::Nodes);
        assert_eq!(
            nodes.state,
            SourceState::Degraded {
                cause: "nodes: connection refused".into()
            }
        );
        assert_eq!(nodes.stale_since, Some(at(10)));
        health.recovered(ObjectKind::Node);
        assert_eq!(health.pane(Pane::Nodes).state, SourceState::Ok);
    }

    #[test]
    fn the_first_lists_say_what_is_still_listing_and_how_far() {
        let mut health = Health::default();
        health.started(ObjectKind::Node, "cluster-wide");
        health.started(ObjectKind::Pod, "cluster-wide");
        health.received(ObjectKind::Node, 1_500);
        health.listed(ObjectKind::Node);
        health.received(ObjectKind::Pod, 250_000);
        health.received(ObjectKind::Pod, 162_000);
        assert_eq!(
            health.sync_progress().as_deref(),
            Some("listing pods (412,000 so far) · 1 of 2 kinds listed, 1,500 objects")
        );
        assert_eq!(health.source("https://api").detail, health.sync_progress());
        health.listed(ObjectKind::Pod);
        health.discovery_settled();
        assert_eq!(health.sync_progress(), None, "said no more once synced");
    }

    #[test]
    fn kinds_failing_alike_are_named_together_and_not_at_all_when_the_server_is_silent() {
        let mut health = Health::default();
        for kind in [ObjectKind::Node, ObjectKind::Pod] {
            health.started(kind, "cluster-wide");
            health.listed(kind);
            health.failed(
                kind,
                WatchFailure::Other("connection refused".into()),
                at(10),
            );
        }
        assert_eq!(
            health.pane(Pane::Nodes).state,
            SourceState::Degraded {
                cause: "nodes, pods: connection refused".into()
            }
        );
        health.probe_failed("no answer within 5s".into(), at(12));
        assert_eq!(
            health.pane(Pane::Nodes).state,
            SourceState::Degraded {
                cause: "API server not answering: no answer within 5s".into()
            }
        );
    }

    #[test]
    fn the_api_server_as_a_source_counts_answers_times_lists_and_keeps_the_last_error() {
        let mut health = Health::default();
        health.started(ObjectKind::Node, "cluster-wide");
        health.heard(at(1));
        health.listed(ObjectKind::Node);
        let ok = health.source("https://api.example:443/");
        assert_eq!(ok.endpoint, "https://api.example:443/");
        assert_eq!((ok.queries_ok, ok.queries_failed), (1, 0));
        assert_eq!(ok.last_success, Some(at(1)));
        assert!(ok.latency_ms.is_some(), "the list was timed");
        assert!(!ok.failing());

        health.failed(
            ObjectKind::Node,
            WatchFailure::Other("connection refused".into()),
            at(5),
        );
        let down = health.source("https://api.example:443/");
        assert_eq!(
            down.last_error.as_deref(),
            Some("nodes: connection refused")
        );
        assert_eq!(down.last_error_at, Some(at(5)));
        assert!(down.failing());

        health.heard(at(9));
        let back = health.source("https://api.example:443/");
        assert!(
            !back.failing(),
            "answering again, the error stays as history"
        );
        assert_eq!(
            back.last_error.as_deref(),
            Some("nodes: connection refused")
        );
    }

    #[test]
    fn a_credential_plugin_is_named_once_in_its_own_words() {
        let mut health = Health::default();
        health.started(ObjectKind::Deployment, "cluster-wide");
        health.started(ObjectKind::Pod, "cluster-wide");
        health.credentials_waiting(
            Some("credential plugin `aws eks get-token` has not answered for 3s".into()),
            at(3),
        );
        assert_eq!(
            health.pane(Pane::Dns).state,
            SourceState::Unavailable {
                cause: "credential plugin `aws eks get-token` has not answered for 3s".into()
            }
        );
        assert!(health.source("https://api").failing());
        health.credentials_waiting(None, at(20));
        let message =
            "error: SSO session expired (credential plugin `aws eks get-token`, exit 255)";
        for kind in [ObjectKind::Deployment, ObjectKind::Pod] {
            health.failed(kind, WatchFailure::Credentials(message.into()), at(20));
        }
        assert_eq!(
            health.pane(Pane::Dns).state,
            SourceState::Unavailable {
                cause: message.into()
            }
        );
    }

    #[test]
    fn an_api_server_that_stops_answering_makes_every_listed_pane_stale() {
        let mut health = Health::default();
        health.started(ObjectKind::Node, "cluster-wide");
        health.heard(at(1));
        health.listed(ObjectKind::Node);
        assert!(!health.probe_answered(at(5), 3.0), "nothing changed");
        assert!(health.probe_failed("no answer within 5s".into(), at(12)));
        let nodes = health.pane(Pane::Nodes);
        assert_eq!(
            nodes.state,
            SourceState::Degraded {
                cause: "API server not answering: no answer within 5s".into()
            }
        );
        assert_eq!(nodes.stale_since, Some(at(5)), "as old as the last answer");
        assert!(!health.probe_failed("no answer within 5s".into(), at(20)));
        assert_eq!(health.pane(Pane::Nodes).stale_since, Some(at(5)));
        assert!(health.source("https://api").failing());
        assert!(health.probe_answered(at(25), 2.0));
        assert_eq!(health.pane(Pane::Nodes).state, SourceState::Ok);
        assert!(!health.source("https://api").failing());
    }

    #[test]
    fn sync_waits_for_discovery_and_every_watcher() {
        let mut health = Health::default();
        health.started(ObjectKind::Node, "cluster-wide");
        health.started(ObjectKind::Pod, "cluster-wide");
        health.listed(ObjectKind::Node);
        health.discovery_settled();
        assert!(!health.initial_sync_done());
        health.failed(ObjectKind::Pod, WatchFailure::Gone, at(0));
        assert!(health.initial_sync_done());
        health.not_installed(Pane::Nodes, "Karpenter (karpenter.sh/v1 NodePool)");
        assert_eq!(
            health.pane(Pane::Nodes).state,
            SourceState::NotInstalled {
                what: "Karpenter (karpenter.sh/v1 NodePool)".into()
            }
        );
    }
}
