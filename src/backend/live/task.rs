//! The live backend's single owner task: starts the watchers (core kinds at once, CRDs after
//! discovery), applies what they report to the projection store, and sends pane snapshots,
//! pane states and the clock at most once a second when something changed.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Client;
use kube::api::Api;
use kube::runtime::watcher;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::client::{self, LiveOptions};
use super::crds::{self, CrdKind};
use super::discovery::{self, Installed};
use super::health::Health;
use super::project;
use super::watch::{self, WatchMessage};
use crate::backend::{Command, UpdateSender};
use crate::domain::assemble::{self, Changed, ClusterObjects, ObjectKind, Projection};
use crate::domain::limits;
use crate::domain::model::{
    ClusterInfo, FlowUnit, ObjectRef, OversizedObject, Pane, RouteKind, SourceHealth, SourceState,
    SourceStatus, Update,
};
use crate::domain::time::Timestamp;

/// How often pane states and the clock go out (and, until the initial list is complete,
/// snapshots).
const TICK: Duration = Duration::from_secs(1);
/// After the initial sync, a change goes out this soon: what else arrives meanwhile joins it.
const COALESCE: Duration = Duration::from_millis(10);
/// While changes keep coming, a pane's snapshot goes out at most this often.
const MIN_FLUSH_INTERVAL: Duration = Duration::from_millis(33);
/// What pane states name as their source.
const SOURCE: &str = "kubernetes";
/// Where EKS runs CoreDNS and its ConfigMap.
const SYSTEM_NAMESPACE: &str = "kube-system";
/// Watcher reports queued for the owner task; watchers wait when it is full.
const WATCH_QUEUE: usize = 1024;

pub const GATEWAY_API: &str = "Gateway API (gateway.networking.k8s.io/v1)";
pub const KARPENTER: &str = "Karpenter (karpenter.sh/v1 NodePool)";

/// How long to wait for the server's clock before assuming it agrees with ours.
const CLOCK_CHECK: Duration = Duration::from_secs(5);
/// How often the API server is asked whether it still answers, once the lists are in.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// How long a probe may take: a hung server shows as stale within about
/// `PROBE_EVERY + PROBE_TIMEOUT`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

fn now() -> Timestamp {
    chrono::Utc::now()
}

enum DiscoveryReport {
    Found(Installed),
    Failed,
}

/// The store, the watchers' health and what was last sent.
struct Live {
    objects: ClusterObjects,
    health: Health,
    cluster: ClusterInfo,
    region_from_nodes: bool,
    dirty: bool,
    sent_states: BTreeMap<Pane, (SourceState, Option<Timestamp>)>,
    sync_sent: bool,
    /// The API server's clock minus ours.
    clock_offset: chrono::Duration,
    /// Prometheus figures, when configured: merged into each flush by `decorate`.
    metrics: Option<super::prometheus::MetricsHandle>,
    /// CloudWatch figures (`--cloudwatch`): merged the same way, its trouble folded into
    /// the pane states.
    cloudwatch: Option<super::cloudwatch::CloudWatchHandle>,
    /// VPC Flow Logs (`--flow-logs`): bytes between IPs, joined to the pods here.
    flow_logs: Option<super::cloudwatch::flowlogs::FlowLogsHandle>,
    /// The API server's URL, as the source-health view names it.
    endpoint: String,
    /// What each source's health was when last sent.
    sent_health: BTreeMap<String, SourceHealth>,
    /// Objects left out for their size (or back within it) since the last flush.
    oversized: Vec<OversizedObject>,
}

/// The pane an object kind matters most to: the first that cannot do without it, else the
/// first it fills in details for.
fn pane_of(kind: ObjectKind) -> Pane {
    let needs = |primary: bool| {
        Pane::ALL.into_iter().find(|pane| {
            let (needed, details) = crate::domain::assemble::pane_kinds(*pane);
            if primary { needed } else { details }.contains(&kind)
        })
    };
    needs(true).or_else(|| needs(false)).unwrap_or(Pane::Nodes)
}

impl Live {
    /// Now, on the API server's clock.
    fn now(&self) -> Timestamp {
        now() + self.clock_offset
    }

    fn apply(&mut self, message: WatchMessage, at: Timestamp) {
        match message {
            WatchMessage::Relisting { kind } => {
                self.health.relisting(kind);
                self.objects.begin_relist(kind);
            }
            WatchMessage::Page { kind, objects } => {
                self.health.heard(at);
                self.health.received(kind, objects.len());
                objects
                    .into_iter()
                    .for_each(|projection| self.objects.upsert(projection));
            }
            WatchMessage::Listed { kind, objects } => {
                self.health.heard(at);
                self.health.received(kind, objects.len());
                objects
                    .into_iter()
                    .for_each(|projection| self.objects.upsert(projection));
                self.objects.end_relist(kind, at);
                self.health.listed(kind);
                self.dirty = true;
            }
            WatchMessage::Applied(projection) => {
                self.health.heard(at);
                self.objects.upsert(*projection);
            }
            WatchMessage::Deleted { kind, key } => {
                self.health.heard(at);
                self.objects.remove(kind, &key, at);
            }
            // Pane states and the age of every snapshot follow the watchers' health.
            WatchMessage::Failed { kind, failure } => {
                self.health.failed(kind, failure, at);
                self.dirty = true;
            }
            WatchMessage::Recovered { kind } => {
                self.health.recovered(kind);
                self.dirty = true;
            }
            WatchMessage::Oversized { kind, key, bytes } => {
                if bytes > 0 {
                    self.objects.remove(kind, &key, at);
                }
                let namespace = (!key.namespace.is_empty()).then(|| key.namespace.clone());
                self.oversized.push(OversizedObject {
                    pane: pane_of(kind),
                    object: ObjectRef {
                        kind: kind.kind_name().to_string(),
                        namespace,
                        name: key.name,
                    },
                    bytes,
                    limit: limits::OBJECT_BYTES.max,
                });
            }
        }
    }

    /// Each source's health (API server, Prometheus, CloudWatch) that changed since it was
    /// last sent. Called once a second, not per flush: a watch event moves the API server's
    /// counters, and the health view does not need them 30 times a second.
    fn health_updates(&mut self) -> Vec<Update> {
        let mut now = vec![self.health.source(&self.endpoint)];
        now.extend(self.metrics.as_ref().map(|m| m.health()));
        now.extend(self.cloudwatch.as_ref().map(|c| c.health()));
        now.extend(self.flow_logs.as_ref().map(|f| f.health()));
        let mut updates = Vec::new();
        for health in now {
            if self.sent_health.get(&health.source) != Some(&health) {
                self.sent_health
                    .insert(health.source.clone(), health.clone());
                updates.push(Update::Health(health));
            }
        }
        updates
    }

    /// What the best flow source saw: a Prometheus source that counts bytes first (network
    /// costs, a mesh), then flow logs, then one that counts flows (Hubble).
    fn flow_observations(&self) -> Option<crate::domain::traffic::Observed> {
        let metrics = self.metrics.as_ref().and_then(|m| m.flow_observations());
        let logs = self.flow_logs.as_ref().and_then(|f| f.observed());
        match (metrics, logs) {
            (Some(metrics), Some(logs)) if metrics.source.unit != FlowUnit::Bytes => Some(logs),
            (Some(metrics), _) => Some(metrics),
            (None, logs) => logs,
        }
    }

    /// Before the server's clock is known (the first request may wait for a credential
    /// plugin): only the pane states that say something is wrong, and no clock, which would
    /// otherwise run ahead of the server's and hold back every later instant.
    fn early_states(&mut self, at: Timestamp) -> Vec<Update> {
        let mut batch = Vec::new();
        for pane in Pane::ALL {
            let health = self.health.pane(pane);
            if health.state == SourceState::Ok {
                continue;
            }
            let current = (health.state.clone(), health.stale_since);
            if self.sent_states.get(&pane) == Some(&current) {
                continue;
            }
            self.sent_states.insert(pane, current);
            batch.push(Update::Source(SourceStatus {
                pane,
                source: SOURCE.to_string(),
                state: health.state,
                at,
            }));
        }
        batch
    }

    /// Something waits to go out: changed objects, or a change that touches every pane.
    fn pending(&self) -> bool {
        self.dirty || self.objects.changed().any()
    }

    /// Everything to send now: the cluster (once its region is known), snapshots when
    /// something changed, pane states that changed, and the clock.
    fn flush(&mut self, at: Timestamp) -> Vec<Update> {
        let mut batch = Vec::new();
        let mut changed_flows = false;
        if self.metrics.as_mut().is_some_and(|m| m.changed()) {
            self.dirty = true;
        }
        if self.cloudwatch.as_mut().is_some_and(|c| c.changed()) {
            self.dirty = true;
        }
        if self.flow_logs.as_mut().is_some_and(|f| f.changed()) {
            changed_flows = true;
        }
        if !self.region_from_nodes
            && let Some(region) = self.objects.nodes.values().find_map(|n| n.region.clone())
        {
            self.region_from_nodes = true;
            self.cluster.region = region;
            batch.push(Update::Cluster(self.cluster.clone()));
        }
        // Only the snapshots whose objects changed are assembled and sent.
        let mut changed = self.objects.take_changed();
        if std::mem::take(&mut self.dirty) {
            changed = Changed::ALL;
        }
        let at_of = |pane| self.health.pane(pane).stale_since.unwrap_or(at);
        if changed.dns {
            batch.push(Update::Dns(assemble::dns(&self.objects, at_of(Pane::Dns))));
        }
        if changed.gateways {
            batch.push(Update::Gateways(assemble::gateways(
                &self.objects,
                at_of(Pane::Gateways),
            )));
        }
        if changed.flows || changed_flows {
            let observed = self.flow_observations();
            batch.push(Update::Flows(assemble::flows_observed(
                &self.objects,
                at_of(Pane::Flows),
                observed.as_ref(),
            )));
        }
        if changed.nodes {
            batch.push(Update::Nodes(assemble::nodes(
                &self.objects,
                at_of(Pane::Nodes),
            )));
        }
        if changed.workloads {
            batch.push(Update::Workloads(assemble::workloads(
                &self.objects,
                at_of(Pane::Rightsizing),
            )));
        }
        let cloudwatch_states = self
            .cloudwatch
            .as_ref()
            .map(|c| c.pane_states())
            .unwrap_or_default();
        let health = &self.health;
        let pane_health =
            |pane| super::cloudwatch::combine(health.pane(pane), cloudwatch_states.get(&pane));
        for pane in Pane::ALL {
            let health = pane_health(pane);
            let current = (health.state.clone(), health.stale_since);
            if self.sent_states.get(&pane) == Some(&current) {
                continue;
            }
            self.sent_states.insert(pane, current);
            let source = if cloudwatch_states.contains_key(&pane) {
                "kubernetes+cloudwatch"
            } else {
                SOURCE
            };
            batch.push(Update::Source(SourceStatus {
                pane,
                source: source.to_string(),
                state: health.state,
                at: health.stale_since.unwrap_or(at),
            }));
        }
        batch.extend(self.oversized.drain(..).map(Update::Oversized));
        batch.push(Update::Clock { at });
        // CloudWatch: load balancer, usage and billing figures into the snapshots.
        if let Some(cloudwatch) = self.cloudwatch.as_mut() {
            cloudwatch.decorate(&mut batch, at);
        }
        // Prometheus: metric figures into the snapshots, pane states combined with its own.
        if let Some(metrics) = self.metrics.as_mut() {
            let kube_state = |pane| {
                let pane_health = pane_health(pane);
                (pane_health.state, pane_health.stale_since.unwrap_or(at))
            };
            metrics.decorate(&mut batch, &kube_state, at);
        }
        batch
    }
}

fn scope(namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!("in namespace {namespace}"),
        None => "cluster-wide".to_string(),
    }
}

fn namespaced<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Watchers of the built-in kinds every cluster serves.
fn start_core(
    client: &Client,
    namespace: Option<&str>,
    sender: &mpsc::Sender<WatchMessage>,
    health: &mut Health,
) -> Vec<JoinHandle<()>> {
    let config = watcher::Config::default;
    let ns_scope = scope(namespace);
    let mut handles = Vec::new();
    let mut add = |kind: ObjectKind, scope: &str, handle: JoinHandle<()>| {
        health.started(kind, scope);
        handles.push(handle);
    };
    add(
        ObjectKind::Node,
        "cluster-wide",
        watch::spawn(
            Api::<Node>::all(client.clone()),
            ObjectKind::Node,
            config(),
            |o| Some(Projection::Node(project::node(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::Namespace,
        "cluster-wide",
        watch::spawn(
            Api::<Namespace>::all(client.clone()),
            ObjectKind::Namespace,
            config(),
            |o| Some(Projection::Namespace(project::namespace(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::Pod,
        &ns_scope,
        watch::spawn(
            namespaced::<super::slim::Pod>(client, namespace),
            ObjectKind::Pod,
            config(),
            |o| Some(Projection::Pod(project::pod(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::Service,
        &ns_scope,
        watch::spawn(
            namespaced::<Service>(client, namespace),
            ObjectKind::Service,
            config(),
            |o| Some(Projection::Service(project::service(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::EndpointSlice,
        &ns_scope,
        watch::spawn(
            namespaced::<EndpointSlice>(client, namespace),
            ObjectKind::EndpointSlice,
            config(),
            |o| Some(Projection::EndpointSlice(project::endpoint_slice(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::Deployment,
        &ns_scope,
        watch::spawn(
            namespaced::<Deployment>(client, namespace),
            ObjectKind::Deployment,
            config(),
            |o| Some(Projection::Workload(project::deployment(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::StatefulSet,
        &ns_scope,
        watch::spawn(
            namespaced::<StatefulSet>(client, namespace),
            ObjectKind::StatefulSet,
            config(),
            |o| Some(Projection::Workload(project::stateful_set(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::DaemonSet,
        &ns_scope,
        watch::spawn(
            namespaced::<DaemonSet>(client, namespace),
            ObjectKind::DaemonSet,
            config(),
            |o| Some(Projection::Workload(project::daemon_set(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::ReplicaSet,
        &ns_scope,
        watch::spawn(
            namespaced::<ReplicaSet>(client, namespace),
            ObjectKind::ReplicaSet,
            config(),
            |o| Some(Projection::ReplicaSet(project::replica_set(o))),
            sender.clone(),
        ),
    );
    // Only kube-system/coredns is kept, whatever namespace the user chose.
    add(
        ObjectKind::ConfigMap,
        &scope(Some(SYSTEM_NAMESPACE)),
        watch::spawn(
            Api::<ConfigMap>::namespaced(client.clone(), SYSTEM_NAMESPACE),
            ObjectKind::ConfigMap,
            config(),
            |o| {
                (o.metadata.name.as_deref() == Some("coredns"))
                    .then(|| Projection::ConfigMap(project::config_map(o)))
            },
            sender.clone(),
        ),
    );
    add(
        ObjectKind::Event,
        &ns_scope,
        watch::spawn(
            namespaced::<Event>(client, namespace),
            ObjectKind::Event,
            config(),
            |o| project::event(o).map(Projection::Event),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::HorizontalPodAutoscaler,
        &ns_scope,
        watch::spawn(
            namespaced::<HorizontalPodAutoscaler>(client, namespace),
            ObjectKind::HorizontalPodAutoscaler,
            config(),
            |o| Some(Projection::Hpa(project::hpa(o))),
            sender.clone(),
        ),
    );
    add(
        ObjectKind::PodDisruptionBudget,
        &ns_scope,
        watch::spawn(
            namespaced::<PodDisruptionBudget>(client, namespace),
            ObjectKind::PodDisruptionBudget,
            config(),
            |o| Some(Projection::Pdb(project::pdb(o))),
            sender.clone(),
        ),
    );
    handles
}

fn crd_api<S, U>(
    client: &Client,
    kind: CrdKind,
    namespaced: bool,
    namespace: Option<&str>,
) -> Api<kube::core::Object<S, U>>
where
    S: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    U: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let resource = kind.api_resource();
    match namespace.filter(|_| namespaced) {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Watchers of the CRD kinds discovery found; pane states for those it did not.
fn start_crds(
    client: &Client,
    namespace: Option<&str>,
    installed: &Installed,
    sender: &mpsc::Sender<WatchMessage>,
    health: &mut Health,
) -> Vec<JoinHandle<()>> {
    if !(installed.has(crds::GATEWAY) && installed.has(crds::HTTP_ROUTE)) {
        health.not_installed(Pane::Gateways, GATEWAY_API);
    }
    if !installed.has(crds::NODE_POOL) {
        health.not_installed(Pane::Nodes, KARPENTER);
    }
    let config = watcher::Config::default;
    let ns_scope = scope(namespace);
    let mut handles = Vec::new();
    for kind in &installed.kinds {
        let (object_kind, handle) = match *kind {
            crds::GATEWAY_CLASS => (
                ObjectKind::GatewayClass,
                watch::spawn(
                    crd_api(client, *kind, false, namespace),
                    ObjectKind::GatewayClass,
                    config(),
                    |o| Some(Projection::GatewayClass(crds::gateway_class(o))),
                    sender.clone(),
                ),
            ),
            crds::GATEWAY => (
                ObjectKind::Gateway,
                watch::spawn(
                    crd_api(client, *kind, true, namespace),
                    ObjectKind::Gateway,
                    config(),
                    |o| Some(Projection::Gateway(crds::gateway(o))),
                    sender.clone(),
                ),
            ),
            crds::HTTP_ROUTE => (
                ObjectKind::HttpRoute,
                watch::spawn(
                    crd_api(client, *kind, true, namespace),
                    ObjectKind::HttpRoute,
                    config(),
                    |o| Some(Projection::Route(crds::route(RouteKind::Http, o))),
                    sender.clone(),
                ),
            ),
            crds::GRPC_ROUTE => (
                ObjectKind::GrpcRoute,
                watch::spawn(
                    crd_api(client, *kind, true, namespace),
                    ObjectKind::GrpcRoute,
                    config(),
                    |o| Some(Projection::Route(crds::route(RouteKind::Grpc, o))),
                    sender.clone(),
                ),
            ),
            crds::REFERENCE_GRANT => (
                ObjectKind::ReferenceGrant,
                watch::spawn(
                    crd_api(client, *kind, true, namespace),
                    ObjectKind::ReferenceGrant,
                    config(),
                    |o| Some(Projection::ReferenceGrant(crds::reference_grant(o))),
                    sender.clone(),
                ),
            ),
            crds::NODE_POOL => (
                ObjectKind::NodePool,
                watch::spawn(
                    crd_api(client, *kind, false, namespace),
                    ObjectKind::NodePool,
                    config(),
                    |o| Some(Projection::NodePool(crds::node_pool(o))),
                    sender.clone(),
                ),
            ),
            crds::NODE_CLAIM => (
                ObjectKind::NodeClaim,
                watch::spawn(
                    crd_api(client, *kind, false, namespace),
                    ObjectKind::NodeClaim,
                    config(),
                    |o| Some(Projection::NodeClaim(crds::node_claim(o))),
                    sender.clone(),
                ),
            ),
            crds::EC2_NODE_CLASS => (
                ObjectKind::Ec2NodeClass,
                watch::spawn(
                    crd_api(client, *kind, false, namespace),
                    ObjectKind::Ec2NodeClass,
                    config(),
                    |o| Some(Projection::Ec2NodeClass(crds::ec2_node_class(o))),
                    sender.clone(),
                ),
            ),
            crds::VPA => (
                ObjectKind::VerticalPodAutoscaler,
                watch::spawn(
                    crd_api(client, *kind, true, namespace),
                    ObjectKind::VerticalPodAutoscaler,
                    config(),
                    |o| Some(Projection::Vpa(crds::vpa(o))),
                    sender.clone(),
                ),
            ),
            _ => continue,
        };
        let scope = if object_kind.namespaced() {
            ns_scope.as_str()
        } else {
            "cluster-wide"
        };
        health.started(object_kind, scope);
        handles.push(handle);
    }
    handles
}

/// Asks for the optional APIs until the server answers, reporting each failure.
fn spawn_discovery(client: Client, reports: mpsc::Sender<DiscoveryReport>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        loop {
            match discovery::discover(&client).await {
                Ok(installed) => {
                    let _ = reports.send(DiscoveryReport::Found(installed)).await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "API discovery failed");
                    if reports.send(DiscoveryReport::Failed).await.is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    })
}

/// Runs the checks `kockpit doctor` makes, once, for the Sources window: the same lines,
/// so the window and the doctor never disagree. Access reviews are the doctor's to ask: the
/// cockpit's own lists and watches say what is refused, and without --allow-writes the
/// server sees nothing from it but reads and dry runs.
fn spawn_checks(
    options: &LiveOptions,
    connected: super::checks::Connected,
    updates: &UpdateSender,
) -> JoinHandle<()> {
    let options = super::checks::CheckOptions {
        live: options.clone(),
        allow_writes: false,
        plugin_timeout: options.exec_timeout,
        ask_access: false,
    };
    let updates = updates.clone();
    tokio::spawn(async move {
        let checks = super::checks::run_with(&options, Some(connected)).await;
        let _ = updates.send(Update::Checks(checks)).await;
    })
}

/// Waits until `at`; never, without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn send_all(updates: &UpdateSender, batch: Vec<Update>) -> bool {
    for update in batch {
        if updates.send(update).await.is_err() {
            return false;
        }
    }
    true
}

/// Without a connection every pane says why, and the one-shot snapshot can still finish.
async fn report_unreachable(options: &LiveOptions, updates: &UpdateSender, cause: String) -> bool {
    let at = now();
    let mut batch = vec![
        Update::Cluster(ClusterInfo {
            name: options.context.clone().unwrap_or_default(),
            region: String::new(),
            source: "live".to_string(),
            detail: "not connected".to_string(),
        }),
        Update::Notice {
            text: format!("cannot connect to the cluster: {cause}"),
        },
    ];
    for pane in Pane::ALL {
        batch.push(Update::Source(SourceStatus {
            pane,
            source: SOURCE.to_string(),
            state: SourceState::Unavailable {
                cause: cause.clone(),
            },
            at,
        }));
    }
    batch.push(Update::Clock { at });
    batch.push(Update::InitialSyncDone);
    send_all(updates, batch).await
}

/// What runs once the server's clock is known: the watchers, discovery and, after the
/// initial sync, the liveness probe.
#[derive(Default)]
struct Tasks {
    watchers: Vec<JoinHandle<()>>,
    discovery: Option<JoinHandle<()>>,
    probe: Option<JoinHandle<()>>,
}

impl Tasks {
    fn stop(&self) {
        self.watchers.iter().for_each(JoinHandle::abort);
        self.discovery.iter().for_each(JoinHandle::abort);
        self.probe.iter().for_each(JoinHandle::abort);
    }
}

/// What the probe found.
enum ProbeReport {
    Answered { latency_ms: f64 },
    Failed { cause: String },
}

/// Asks the API server a cheap question every `PROBE_EVERY`: a watch is silent when
/// nothing changes, so without this a server that hangs (SIGSTOP, a wedged etcd) would go
/// unnoticed while every pane looked current.
fn spawn_probe(
    client: Client,
    plugin: Option<std::sync::Arc<super::credential_plugin::ExecPlugin>>,
    reports: mpsc::Sender<ProbeReport>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let started = tokio::time::Instant::now();
            let report = match tokio::time::timeout(PROBE_TIMEOUT, client::probe(&client)).await {
                Ok(Ok(())) => ProbeReport::Answered {
                    latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                },
                Ok(Err(cause)) => ProbeReport::Failed { cause },
                Err(_) => ProbeReport::Failed {
                    // A request that waited for the plugin is the plugin's fault.
                    cause: plugin
                        .as_ref()
                        .and_then(|p| p.status().waiting_note(p.timeout()))
                        .unwrap_or_else(|| {
                            format!("no answer within {}s", PROBE_TIMEOUT.as_secs())
                        }),
                },
            };
            if reports.send(report).await.is_err() {
                return;
            }
        }
    })
}

pub async fn run(
    options: LiveOptions,
    updates: UpdateSender,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let connection = match client::connect(&options).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(%error, "cannot connect to the cluster");
            if report_unreachable(&options, &updates, error.to_string()).await {
                wait_for_shutdown(&mut commands, &updates).await;
            }
            return;
        }
    };
    let client = connection.client;
    let plugin = connection.plugin;
    let namespace = options.namespace.as_deref();
    let mut live = Live {
        objects: ClusterObjects::default(),
        health: Health::default(),
        cluster: connection.cluster.clone(),
        region_from_nodes: false,
        dirty: false,
        sent_states: BTreeMap::new(),
        sync_sent: false,
        clock_offset: chrono::Duration::zero(),
        metrics: options
            .prometheus
            .as_ref()
            .and_then(|prometheus| match super::prometheus::start(prometheus) {
                Ok(mut handle) => {
                    handle.flows_elsewhere = options.flow_logs.is_some();
                    Some(handle)
                }
                Err(error) => {
                    tracing::error!(%error, "Prometheus source not started");
                    None
                }
            }),
        cloudwatch: options.cloudwatch.then(|| {
            super::cloudwatch::start(super::cloudwatch::CloudWatchOptions::for_cluster(
                &options,
                &connection.cluster,
            ))
        }),
        flow_logs: options.flow_logs.clone().map(|mut flow_logs| {
            flow_logs.region = flow_logs.region.or_else(|| options.region.clone());
            super::cloudwatch::flowlogs::start(flow_logs)
        }),
        endpoint: connection.endpoint.clone(),
        sent_health: BTreeMap::new(),
        oversized: Vec::new(),
    };
    if updates
        .send(Update::Cluster(connection.cluster))
        .await
        .is_err()
    {
        return;
    }
    // The server's clock first (a credential plugin may make that wait): the watchers start
    // when it is known, while the loop below already answers commands and shows the wait.
    let (clock_sender, mut clock) = tokio::sync::oneshot::channel();
    let clock_task = tokio::spawn({
        let client = client.clone();
        async move {
            let offset = tokio::time::timeout(CLOCK_CHECK, client::server_clock_offset(&client))
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let _ = clock_sender.send(offset);
        }
    });
    let mut clock_known = false;
    let (sender, mut reports) = mpsc::channel(WATCH_QUEUE);
    let (discovery_sender, mut discoveries) = mpsc::channel(4);
    let (probe_sender, mut probes) = mpsc::channel(4);
    let mut tasks = Tasks::default();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut commands_open = true;
    let mut discovery_open = true;
    // When the changes applied so far go out (after the initial sync; before it, each tick).
    let mut flush_at: Option<tokio::time::Instant> = None;
    let mut last_flush = tokio::time::Instant::now();
    let stop = |tasks: &Tasks| {
        clock_task.abort();
        tasks.stop();
    };
    loop {
        let mut batch = Vec::new();
        tokio::select! {
            offset = &mut clock, if !clock_known => {
                clock_known = true;
                live.clock_offset = offset.unwrap_or_default();
                // Sent again on the server's clock.
                live.sent_states.clear();
                tasks.watchers = start_core(&client, namespace, &sender, &mut live.health);
                // The doctor's checks for the Sources window, once credentials are settled.
                let connected = super::checks::Connected {
                    client: client.clone(),
                    endpoint: live.endpoint.clone(),
                };
                tasks.watchers.push(spawn_checks(&options, connected, &updates));
                tasks.discovery = Some(spawn_discovery(client.clone(), discovery_sender.clone()));
            }
            Some(message) = reports.recv() => {
                let at = live.now();
                live.apply(message, at);
            }
            report = discoveries.recv(), if discovery_open => match report {
                Some(DiscoveryReport::Found(installed)) => {
                    tracing::info!(kinds = installed.kinds.len(), "optional APIs discovered");
                    tasks.watchers.extend(start_crds(&client, namespace, &installed, &sender, &mut live.health));
                    live.health.discovery_settled();
                    live.dirty = true;
                }
                // The core watchers report the same outage; the snapshot need not wait.
                Some(DiscoveryReport::Failed) => live.health.discovery_settled(),
                None => discovery_open = false,
            },
            Some(report) = probes.recv() => {
                let at = live.now();
                let changed = match report {
                    ProbeReport::Answered { latency_ms } => live.health.probe_answered(at, latency_ms),
                    ProbeReport::Failed { cause } => {
                        tracing::warn!(%cause, "API server probe failed");
                        live.health.probe_failed(cause, at)
                    }
                };
                // Every pane's age follows the server's: sent again only when that changes.
                live.dirty |= changed;
            }
            _ = ticker.tick() => {
                let at = live.now();
                let waiting = plugin.as_ref().and_then(|p| p.status().waiting_note(p.timeout()));
                live.health.credentials_waiting(waiting, at);
                batch = if clock_known { live.flush(at) } else { live.early_states(at) };
                batch.extend(live.health_updates());
                flush_at = None;
                last_flush = tokio::time::Instant::now();
            }
            () = sleep_until(flush_at), if flush_at.is_some() => {
                batch = live.flush(live.now());
                flush_at = None;
                last_flush = tokio::time::Instant::now();
            }
            command = commands.recv(), if commands_open => match command {
                Some(Command::Shutdown) => {
                    stop(&tasks);
                    return;
                }
                Some(_) => {}
                None => commands_open = false,
            },
            () = updates.closed() => {
                stop(&tasks);
                return;
            }
        }
        // With Prometheus, the initial state includes its first round of figures.
        let metrics_ready = live.metrics.as_ref().is_none_or(|m| m.ready())
            && live.cloudwatch.as_ref().is_none_or(|c| c.ready())
            && live.flow_logs.as_ref().is_none_or(|f| f.ready());
        if !live.sync_sent && live.health.initial_sync_done() && metrics_ready {
            live.sync_sent = true;
            // Extend, not replace: this may follow a tick whose flush is still in `batch`.
            batch.extend(live.flush(live.now()));
            batch.push(Update::InitialSyncDone);
            last_flush = tokio::time::Instant::now();
            tasks.probe = Some(spawn_probe(
                client.clone(),
                plugin.clone(),
                probe_sender.clone(),
            ));
        }
        if live.sync_sent && flush_at.is_none() && live.pending() {
            let soon = tokio::time::Instant::now() + COALESCE;
            flush_at = Some(soon.max(last_flush + MIN_FLUSH_INTERVAL));
        }
        if !batch.is_empty() && !send_all(&updates, batch).await {
            stop(&tasks);
            return;
        }
    }
}

async fn wait_for_shutdown(
    commands: &mut mpsc::UnboundedReceiver<Command>,
    updates: &UpdateSender,
) {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Shutdown) | None => return,
                Some(_) => {}
            },
            () = updates.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_crds_make_their_panes_say_so_and_start_no_watchers() {
        // Nothing listens here: with nothing installed no request is ever made.
        let url = "http://127.0.0.1:9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let client = Client::try_from(kube::Config::new(url)).unwrap_or_else(|e| panic!("{e}"));
        let (sender, _reports) = mpsc::channel(4);
        let mut health = Health::default();
        let only_vpa = Installed {
            kinds: vec![crds::VPA],
            ..Installed::default()
        };
        let handles = start_crds(&client, None, &only_vpa, &sender, &mut health);
        assert_eq!(handles.len(), 1);
        handles.iter().for_each(JoinHandle::abort);
        assert_eq!(
            health.pane(Pane::Nodes).state,
            SourceState::NotInstalled {
                what: KARPENTER.to_string()
            }
        );
        assert_eq!(
            health.pane(Pane::Gateways).state,
            SourceState::NotInstalled {
                what: GATEWAY_API.to_string()
            }
        );
        assert_eq!(health.pane(Pane::Rightsizing).state, SourceState::Ok);
    }
}
