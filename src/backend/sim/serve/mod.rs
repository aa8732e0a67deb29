//! `kockpit sim serve`: the simulated cluster behind a Kubernetes API server of our own
//! (plain HTTP on loopback, bearer token), so kubectl, kube-rs and kockpit's live mode can
//! be pointed at it, plus a Prometheus exposition at `/metrics`.
//!
//! The simulator advances like `SimBackend` does (speed × real time, in whole steps); after
//! each batch of steps its objects are re-rendered into the store and only the changed ones
//! become watch events.

mod api;
pub mod discovery;
pub mod faults;
pub mod kubeconfig;
pub mod local;
pub mod patch;
mod protobuf;
pub mod requests;
mod router;
pub mod scale;
pub mod select;
pub mod status;
pub mod store;
pub mod stored;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

use super::engine::{SimCluster, scenario_t0};
use super::objects::{self, timestamp, uid_for};
use super::rng::mix;
use super::runner::Pacer;
use crate::backend::dump::{self, Dump, ManifestError};
use crate::domain::Timestamp;
use crate::domain::scenario::Scenario;
pub use faults::{Fault, FaultError, Faults};
use store::{Origin, Store};

/// What `/metrics` serves: the exposition text for the cluster as it stands.
pub type MetricsFn = fn(&SimCluster) -> String;

/// The placeholder exposition until the simulator's metrics are written.
pub fn placeholder_metrics(cluster: &SimCluster) -> String {
    format!(
        "# HELP kockpit_sim_time_seconds The simulated cluster's clock.\n# TYPE kockpit_sim_time_seconds gauge\nkockpit_sim_time_seconds {}\n",
        cluster.now().timestamp()
    )
}

/// `/metrics` of a dump served alone: a dump has no metrics.
fn no_metrics(_: &SimCluster) -> String {
    String::new()
}

/// How often the stepping task wakes up.
const TICK: Duration = Duration::from_millis(250);
/// The simulator runs this long before it is served, so logs and claims have content.
const WARM_UP_MINUTES: i64 = 10;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub scenario: Scenario,
    pub seed: u64,
    /// Virtual seconds per real second; 0 keeps the clock still.
    pub speed: f64,
    /// Must be a loopback address; port 0 picks a free one.
    pub listen: SocketAddr,
    pub kubeconfig_out: Option<PathBuf>,
    /// A cluster dump to serve (`kubectl get -A -o yaml` output, or a directory of files).
    pub objects: Option<PathBuf>,
    /// Run the simulated cluster beside the dump. Off, the server holds exactly the dump,
    /// its clock frozen at the dump's newest timestamp, and `/metrics` is empty.
    pub simulate: bool,
    pub scale: Option<(u32, u32)>,
    pub faults: Vec<Fault>,
    /// CRD APIs not to serve (`--without-api`): a group, or `plural.group`.
    pub without_apis: Vec<String>,
    /// The bearer token clients must send; a fresh one when `None`.
    pub token: Option<String>,
    /// Refuse requests without credentials too. Off by default: kubectl (client-go) sends
    /// no token over plain HTTP, so it could not talk to the server at all.
    pub require_token: bool,
    pub metrics: MetricsFn,
    pub bookmark_interval: Duration,
    /// Change events kept for watches; older resourceVersions get 410 Expired.
    pub event_window: usize,
}

impl ServeOptions {
    pub fn new(scenario: Scenario) -> Self {
        ServeOptions {
            scenario,
            seed: 1,
            speed: 1.0,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kubeconfig_out: None,
            objects: None,
            simulate: true,
            scale: None,
            faults: Vec::new(),
            without_apis: Vec::new(),
            token: None,
            require_token: false,
            metrics: super::exposition::render,
            bookmark_interval: Duration::from_secs(30),
            event_window: 50_000,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {0}: only loopback addresses are allowed")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifests(#[from] ManifestError),
    #[error("cannot write the kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the simulator task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Options(String),
}

/// State shared by the connections, the watches and the stepping task.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub sim: Mutex<SimCluster>,
    pub faults: Faults,
    /// The bearer token requests must carry; `Server::rotate_token` replaces it, as an
    /// expired token is replaced.
    pub token: Mutex<String>,
    pub require_token: bool,
    pub addr: SocketAddr,
    /// The store's resourceVersion after each change, to wake watches.
    pub changes: signal::Sender<u64>,
    pub shutdown: signal::Receiver<bool>,
    /// Set when the server holds a dump alone: its clock stands still at this instant.
    pub frozen_at: Option<Timestamp>,
    pub metrics: MetricsFn,
    pub bookmark_interval: Duration,
    pub requests: requests::RequestCounts,
}

impl Shared {
    /// The simulator behind the API handlers with no listener, for the demo's fixes. The
    /// store starts empty and is rendered on each request.
    pub(crate) fn in_process(cluster: SimCluster) -> Arc<Shared> {
        let (changes, _) = signal::channel(0);
        // Nothing ever stops an in-process store's (absent) watches.
        let (_stop, shutdown) = signal::channel(false);
        Arc::new(Shared {
            store: Mutex::new(Store::new(discovery::Registry::default(), 1_000)),
            sim: Mutex::new(cluster),
            faults: Faults::new(Vec::new()),
            token: Mutex::new(String::new()),
            require_token: false,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            changes,
            shutdown,
            frozen_at: None,
            metrics: super::exposition::render,
            bookmark_interval: Duration::from_secs(30),
            requests: requests::RequestCounts::default(),
        })
    }

    /// The served cluster's clock: the simulator's, or the dump's instant. Read before the
    /// store is locked: the stepping task holds the simulator while it locks the store.
    pub fn now(&self) -> Timestamp {
        match self.frozen_at {
            Some(at) => at,
            None => self.sim.lock().map(|s| s.now()).unwrap_or_default(),
        }
    }

    /// Renders the simulator into the store and wakes the watches.
    pub fn render(&self) {
        let rv = {
            let (Ok(sim), Ok(mut store)) = (self.sim.lock(), self.store.lock()) else {
                return;
            };
            let mut sink = store.begin_pass();
            objects::render(&sim, &mut sink);
            sink.finish();
            store.resource_version()
        };
        self.changes.send_replace(rv);
    }

    pub fn notify(&self) {
        if let Ok(store) = self.store.lock() {
            self.changes.send_replace(store.resource_version());
        }
    }
}

/// A running server; dropping it does not stop it, `stop` does.
pub struct Server {
    pub addr: SocketAddr,
    pub token: String,
    /// What each file of `--objects` gave (empty without one).
    pub loaded: Vec<dump::FileReport>,
    /// Switch faults at runtime (tests; the admin endpoint does the same over HTTP).
    pub faults: Faults,
    shared: Arc<Shared>,
    stop: signal::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "kockpit-{:016x}{:016x}",
        mix(nanos, u64::from(std::process::id())),
        mix(nanos, 0x5eed)
    )
}

/// Puts a manifest's object into the store; objects without kind or name are skipped.
fn load_object(store: &mut Store, mut object: Value, created: Timestamp) -> bool {
    let (Some(api_version), Some(kind), Some(name)) = (
        object
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        object
            .get("kind")
            .and_then(Value::as_str)
            .map(str::to_string),
        object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_string),
    ) else {
        return false;
    };
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let index = store
        .registry
        .ensure(&api_version, &kind, namespace.is_some());
    let namespaced = store.registry.get(index).is_some_and(|r| r.namespaced);
    let namespace = if namespaced {
        namespace.unwrap_or_else(|| "default".to_string())
    } else {
        String::new()
    };
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if namespaced {
            meta.insert("namespace".into(), Value::from(namespace.clone()));
        }
        meta.entry("uid")
            .or_insert_with(|| Value::from(uid_for(&kind, &namespace, &name)));
        meta.entry("creationTimestamp")
            .or_insert_with(|| Value::from(timestamp(created)));
    }
    store.put((index, namespace, name), object, Origin::Foreign);
    true
}

impl Server {
    /// Builds the cluster, binds the listener and starts serving on the current runtime.
    pub async fn start(options: ServeOptions) -> Result<Server, ServeError> {
        if !options.listen.ip().is_loopback() {
            return Err(ServeError::NotLoopback(options.listen));
        }
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
        let token = options.token.clone().unwrap_or_else(fresh_token);
        let mut loaded = match &options.objects {
            Some(dir) => dump::manifests::load(dir)?,
            None => Dump::default(),
        };
        // A dump served alone shows the cluster as it was when the dump was taken.
        let frozen_at = (!options.simulate)
            .then(|| dump::as_of(&loaded.objects).unwrap_or_else(chrono::Utc::now));
        let mut scenario = if options.simulate {
            options.scenario.clone()
        } else {
            Scenario::default()
        };
        let seed = options.seed;
        let scaled = options.scale.is_some();
        if let Some((nodes, pods)) = options.scale {
            scale::apply(&mut scenario, nodes, pods);
        }
        // Building a large cluster takes a while: keep it off the async workers.
        let built = tokio::task::spawn_blocking(move || {
            let t0 = scenario_t0();
            let warm_up = if scaled { 0 } else { WARM_UP_MINUTES };
            let mut cluster =
                SimCluster::new(&scenario, seed, t0 - chrono::Duration::minutes(warm_up));
            cluster.advance_to(t0);
            cluster
        })
        .await
        .map_err(|e| ServeError::Task(e.to_string()))?;
        let mut registry = discovery::Registry::default();
        for spec in &options.without_apis {
            registry.hide(spec).map_err(ServeError::Options)?;
        }
        let mut store = Store::new(registry, options.event_window);
        for item in std::mem::take(&mut loaded.objects) {
            let kind = item.object["kind"].as_str().unwrap_or_default().to_string();
            let report = &mut loaded.files[item.file];
            // A dump's Secrets stay in the dump: kockpit neither reads nor serves them.
            if kind == "Secret" && item.object["apiVersion"] == "v1" {
                report.skip("Secret: kockpit never reads Secrets");
                continue;
            }
            if load_object(
                &mut store,
                item.object,
                frozen_at.unwrap_or_else(scenario_t0),
            ) {
                report.keep(&kind);
            } else {
                report.skip("an object without apiVersion, kind or metadata.name");
            }
        }
        let (changes, _) = signal::channel(0);
        let (stop, shutdown) = signal::channel(false);
        let faults = Faults::new(options.faults.clone());
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            sim: Mutex::new(built),
            faults: faults.clone(),
            token: Mutex::new(token.clone()),
            require_token: options.require_token,
            addr,
            changes,
            shutdown: shutdown.clone(),
            frozen_at,
            metrics: if options.simulate {
                options.metrics
            } else {
                no_metrics
            },
            bookmark_interval: options.bookmark_interval,
            requests: requests::RequestCounts::default(),
        });
        {
            let shared = shared.clone();
            let simulate = options.simulate;
            tokio::task::spawn_blocking(move || {
                if simulate {
                    shared.render();
                } else {
                    shared.notify();
                }
                if let Ok(mut store) = shared.store.lock() {
                    store.compact_all();
                }
            })
            .await
            .map_err(|e| ServeError::Task(e.to_string()))?;
        }
        if let Some(path) = &options.kubeconfig_out {
            kubeconfig::write(path, addr, &token).map_err(|source| ServeError::Kubeconfig {
                path: path.clone(),
                source,
            })?;
        }
        let mut tasks = vec![tokio::spawn(router::accept_loop(listener, shared.clone()))];
        if options.simulate {
            tasks.push(tokio::spawn(step_loop(shared.clone(), options.speed)));
            tasks.push(tokio::spawn(scale::churn_loop(shared.clone())));
        }
        Ok(Server {
            addr,
            token,
            loaded: loaded.files,
            faults,
            shared,
            stop,
            tasks,
        })
    }

    pub fn kubeconfig(&self) -> String {
        kubeconfig::render(self.addr, &self.token)
    }

    /// From now on only `token` is accepted: the one clients hold has expired (401).
    pub fn rotate_token(&self, token: &str) {
        if let Ok(mut current) = self.shared.token.lock() {
            *current = token.to_string();
        }
    }

    /// The store's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared
            .store
            .lock()
            .map(|s| s.resource_version())
            .unwrap_or(0)
    }

    /// What the server has been asked so far, by kind of request.
    pub fn requests(&self) -> requests::RequestTally {
        self.shared.requests.tally()
    }

    /// The simulator's own view of the cluster now, as the demo's backend reports it: every
    /// pane's snapshot (metrics included) and the clock. Tests judge fixes on it where the
    /// served objects alone cannot tell (cache hit ratio, NXDOMAIN share, throttling).
    pub async fn updates(&self) -> Vec<crate::domain::model::Update> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let Ok(sim) = shared.sim.lock() else {
                return Vec::new();
            };
            let mut updates = vec![crate::domain::model::Update::Cluster(sim.cluster_info())];
            updates.extend(sim.updates());
            updates.push(crate::domain::model::Update::Clock { at: sim.now() });
            updates
        })
        .await
        .unwrap_or_default()
    }

    /// The simulator's spec as client writes have left it (tests).
    pub async fn spec(&self) -> Scenario {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            shared
                .sim
                .lock()
                .map(|sim| sim.spec().clone())
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default()
    }

    /// Advances the simulator by `steps` now, whatever the speed (tests).
    pub async fn step(&self, steps: u64) {
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(mut sim) = shared.sim.lock() {
                sim.advance(steps);
            }
            shared.render();
        })
        .await;
    }

    /// Stops accepting, ends every watch and the stepping task.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

async fn step_loop(shared: Arc<Shared>, speed: f64) {
    let mut pacer = Pacer::new(speed);
    let mut shutdown = shared.shutdown.clone();
    let mut last = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = tokio::time::Instant::now();
        let steps = pacer.steps_for(now - last);
        last = now;
        if steps == 0 {
            continue;
        }
        let shared = shared.clone();
        let done = tokio::task::spawn_blocking(move || {
            if let Ok(mut sim) = shared.sim.lock() {
                sim.advance(steps);
            }
            shared.render();
        })
        .await;
        if done.is_err() {
            return;
        }
    }
}

/// Runs the server until SIGINT or SIGTERM, printing where it listens.
pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let kubeconfig_out = options.kubeconfig_out.clone();
    let server = Server::start(options).await?;
    for file in &server.loaded {
        println!("{}", file.line());
    }
    println!("kockpit sim serve: listening on http://{}", server.addr);
    match &kubeconfig_out {
        Some(path) => println!(
            "kubeconfig written to {} (kubectl --kubeconfig {} get pods -A)",
            path.display(),
            path.display()
        ),
        None => println!("bearer token: {}", server.token),
    }
    wait_for_signal().await;
    server.stop().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
