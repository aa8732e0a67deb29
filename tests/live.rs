//! The live backend against `kockpit sim serve` on loopback: data flows through kube-rs
//! watchers into the same panes the demo shows, changes arrive, and every fault the server
//! can inject shows in the panes and clears. Every wait polls with a deadline.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::faults::Fault;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::model::{Pane, SourceState, Update};
use kockpit::domain::{Cockpit, gateways};
use serde_json::Value;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(60);

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kockpit-live-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

async fn serve(scenario: &str) -> (Server, PathBuf) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = scenarios::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    // A still clock: the served objects only change when a test changes them.
    options.speed = 0.0;
    options.bookmark_interval = Duration::from_secs(2);
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    let kubeconfig = scratch("kubeconfig").join("config");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    (server, kubeconfig)
}

/// The live backend, with a cockpit fed from it.
struct Live {
    handle: BackendHandle,
    updates: mpsc::Receiver<Update>,
    cockpit: Cockpit,
}

impl Live {
    fn start(kubeconfig: &std::path::Path) -> Live {
        let (sender, updates) = mpsc::channel(1024);
        let backend = Box::new(LiveBackend::new(LiveOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            ..LiveOptions::default()
        }));
        Live {
            handle: backend.start(sender),
            updates,
            cockpit: Cockpit::new(AnalysisConfig::default()),
        }
    }

    /// Applies updates until `done` holds, or fails after the deadline.
    async fn until(&mut self, what: &str, done: impl Fn(&Cockpit) -> bool) {
        let until = tokio::time::Instant::now() + DEADLINE;
        while !done(&self.cockpit) {
            match tokio::time::timeout_at(until, self.updates.recv()).await {
                Ok(Some(update)) => {
                    self.cockpit.apply(update);
                }
                Ok(None) => panic!("the live backend stopped while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; pane states: {:?}; sources: {:?}",
                    self.cockpit.sources, self.cockpit.health
                ),
            }
        }
    }

    async fn stop(self) {
        self.handle.shutdown();
        let finished = tokio::time::timeout(DEADLINE, self.handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }
}

fn route_reason(cockpit: &Cockpit, namespace: &str, name: &str) -> Option<String> {
    cockpit
        .gateways
        .as_ref()?
        .routes
        .iter()
        .find(|r| r.namespace == namespace && r.name == name)
        .map(gateways::route_reason)
}

fn state(cockpit: &Cockpit, pane: Pane) -> Option<&SourceState> {
    cockpit.sources.get(&pane).map(|s| &s.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_panes_show_the_served_cluster() {
    let (server, kubeconfig) = serve("broken-route").await;
    let mut live = Live::start(&kubeconfig);
    live.until("the initial sync", |c| c.initial_sync_done)
        .await;
    let cockpit = &live.cockpit;
    assert_eq!(cockpit.cluster.source, "live");
    assert_eq!(cockpit.cluster.name, "kockpit-sim");
    let reason = route_reason(cockpit, "shop", "search-suggest").unwrap_or_default();
    assert!(reason.contains("RefNotPermitted"), "reason: {reason}");
    let nodes = cockpit.nodes.as_ref().expect("nodes");
    assert!(!nodes.nodes.is_empty());
    assert!(
        !nodes.nodepools.is_empty(),
        "NodePools come from karpenter.sh/v1"
    );
    let dns = cockpit.dns.as_ref().expect("dns");
    assert!(dns.replicas > 0 && !dns.pods.is_empty(), "{dns:?}");
    assert!(
        dns.corefile
            .as_deref()
            .unwrap_or_default()
            .contains("forward")
    );
    assert!(dns.metrics.is_none(), "no metrics source in live mode yet");
    let flows = cockpit.flows.as_ref().expect("flows");
    assert!(flows.zones.len() >= 2, "{:?}", flows.zones);
    assert!(flows.edges.is_empty(), "no edges without flow metrics");
    let workloads = cockpit.workloads.as_ref().expect("workloads");
    assert!(workloads.workloads.iter().any(|w| w.name == "frontend"));
    assert!(workloads.workloads.iter().all(|w| w.usage.is_none()));
    for pane in [Pane::Dns, Pane::Gateways, Pane::Flows, Pane::Nodes] {
        assert_eq!(state(cockpit, pane), Some(&SourceState::Ok), "{pane:?}");
    }
    live.stop().await;
    server.stop().await;
}

fn snapshot_json(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("XDG_STATE_HOME", scratch("state"))
        .env("XDG_CONFIG_HOME", scratch("config"))
        .output()
        .unwrap_or_else(|e| panic!("kockpit: {e}"));
    assert!(
        output.status.success(),
        "kockpit {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"))
}

fn refused_route(report: &Value) -> (String, String) {
    let routes = report["gateways"]["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused = routes
        .iter()
        .find(|r| r["resolved_refs"] == false)
        .unwrap_or_else(|| panic!("no route with unresolved refs in {routes:?}"));
    (
        format!(
            "{}/{}",
            refused["namespace"].as_str().unwrap_or_default(),
            refused["name"].as_str().unwrap_or_default()
        ),
        refused["reason"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_through_kubeconfig_names_the_broken_route_as_the_demo_does() {
    let (server, kubeconfig) = serve("broken-route").await;
    let path = kubeconfig.to_string_lossy().to_string();
    let live = tokio::task::spawn_blocking(move || {
        snapshot_json(&["snapshot", "--kubeconfig", &path, "--format", "json"])
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let demo = tokio::task::spawn_blocking(|| {
        snapshot_json(&[
            "snapshot",
            "--demo",
            "--scenario",
            "broken-route",
            "--format",
            "json",
        ])
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (live_route, live_reason) = refused_route(&live);
    let (demo_route, demo_reason) = refused_route(&demo);
    assert_eq!(live_route, "shop/search-suggest");
    assert_eq!(live_route, demo_route);
    assert!(live_reason.contains("RefNotPermitted"), "{live_reason}");
    assert_eq!(live_reason, demo_reason);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_two_contexts_has_each_cluster_as_its_own_snapshot_shows_it() {
    let (failing, failing_config) = serve("broken-route").await;
    let (healthy, healthy_config) = serve("dns-storm").await;
    let fleet = support::servers::fleet_kubeconfig(
        &scratch("fleet"),
        &[
            ("prod-euw1", failing_config.as_path()),
            ("prod-euc1", healthy_config.as_path()),
        ],
    );
    let path = fleet.to_string_lossy().to_string();
    // The same fleet named in config.toml instead of on the command line.
    let config = scratch("fleet-config").join("config.toml");
    std::fs::write(
        &config,
        "[fleet]\ncontexts = [\"prod-euw1\", \"prod-euc1\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let from_config_args = [
        "snapshot".to_string(),
        "--kubeconfig".to_string(),
        path.clone(),
        "--config".to_string(),
        config.display().to_string(),
        "--format".to_string(),
        "json".to_string(),
    ];
    let read = move |contexts: &[&str]| {
        let mut args = vec![
            "snapshot",
            "--kubeconfig",
            path.as_str(),
            "--format",
            "json",
        ];
        for context in contexts {
            args.extend(["--context", context]);
        }
        snapshot_json(&args)
    };
    let (both, alone, from_config) = tokio::task::spawn_blocking(move || {
        let both = read(&["prod-euw1", "prod-euc1"]);
        let alone = [read(&["prod-euw1"]), read(&["prod-euc1"])];
        let args: Vec<&str> = from_config_args.iter().map(String::as_str).collect();
        (both, alone, snapshot_json(&args))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let clusters = both["clusters"].as_array().cloned().unwrap_or_default();
    assert_eq!(clusters.len(), 2, "{both}");
    assert_eq!(
        from_config["comparison"], both["comparison"],
        "[fleet] contexts in config.toml read the same clusters"
    );
    assert_eq!(clusters[0]["context"], "prod-euw1");
    assert_eq!(clusters[1]["context"], "prod-euc1");
    // Each cluster's figures are those of its own snapshot (the clocks stand still).
    for (cluster, alone) in clusters.iter().zip(&alone) {
        for section in [
            "dns",
            "gateways",
            "flows",
            "nodes",
            "rightsizing",
            "spend",
            "findings",
        ] {
            assert_eq!(
                cluster[section], alone[section],
                "{section} of {}",
                cluster["context"]
            );
        }
    }
    let (route, _) = refused_route(&clusters[0]);
    assert_eq!(
        route, "shop/search-suggest",
        "the failing region's broken route"
    );
    let unresolved = |cluster: &Value| {
        cluster["gateways"]["routes"]
            .as_array()
            .is_some_and(|routes| routes.iter().any(|r| r["resolved_refs"] == false))
    };
    assert!(
        !unresolved(&clusters[1]),
        "the other region's routes are fine: two clusters, not one read twice"
    );
    let comparison = both["comparison"].as_array().cloned().unwrap_or_default();
    assert_eq!(comparison.len(), 2);
    for (row, alone) in comparison.iter().zip(&alone) {
        assert_eq!(row["nodes"], alone["nodes"]["count"]);
        assert_eq!(row["pending_pods"], alone["nodes"]["pending_pods"]);
        assert_eq!(
            row["run_rate_usd_per_hour"],
            alone["spend"]["run_rate_usd_per_hour"]
        );
        assert_eq!(
            row["dns_p99_ms"],
            Value::Null,
            "no Prometheus here: DNS latency is missing, not zero"
        );
    }

    failing.stop().await;
    healthy.stop().await;
}

async fn client_for(kubeconfig: &std::path::Path) -> kube::Client {
    let config = kube::config::Kubeconfig::read_from(kubeconfig).unwrap_or_else(|e| panic!("{e}"));
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    kube::Client::try_from(config).unwrap_or_else(|e| panic!("{e}"))
}

fn has_service(cockpit: &Cockpit, namespace: &str, name: &str) -> bool {
    cockpit.flows.as_ref().is_some_and(|f| {
        f.services
            .iter()
            .any(|s| s.namespace == namespace && s.name == name)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_the_api_reaches_the_panes() {
    use k8s_openapi::api::core::v1::Service;
    use kube::api::{Api, DeleteParams, PostParams};

    let (server, kubeconfig) = serve("broken-route").await;
    let mut live = Live::start(&kubeconfig);
    live.until("the initial sync", |c| c.initial_sync_done)
        .await;
    assert!(!has_service(&live.cockpit, "shop", "probe"));
    let services: Api<Service> = Api::namespaced(client_for(&kubeconfig).await, "shop");
    let probe: Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "probe", "namespace": "shop",
                     "annotations": {"service.kubernetes.io/topology-mode": "Auto"}},
        "spec": {"selector": {"app": "probe"}, "ports": [{"port": 80}]},
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    services
        .create(&PostParams::default(), &probe)
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    live.until("the new Service in the East-West pane", |c| {
        c.flows.as_ref().is_some_and(|f| {
            f.services.iter().any(|s| {
                s.name == "probe" && s.routing == kockpit::domain::model::ZoneRouting::TopologyAware
            })
        })
    })
    .await;
    services
        .delete("probe", &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    live.until("the Service to leave the pane", |c| {
        !has_service(c, "shop", "probe")
    })
    .await;
    live.stop().await;
    server.stop().await;
}

fn faults(specs: &[&str]) -> Vec<Fault> {
    specs
        .iter()
        .map(|spec| Fault::parse(spec).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn cause(cockpit: &Cockpit, pane: Pane) -> String {
    match state(cockpit, pane) {
        Some(SourceState::Degraded { cause } | SourceState::Unavailable { cause }) => cause.clone(),
        Some(SourceState::NotInstalled { what }) => what.clone(),
        _ => String::new(),
    }
}

/// Runs the broken-route cluster with `specs` injected after the initial sync, waits for
/// `during` to hold, clears the faults and waits for every pane to be Ok again.
async fn fault_shows_and_clears(specs: &[&str], what: &str, during: impl Fn(&Cockpit) -> bool) {
    let (server, kubeconfig) = serve("broken-route").await;
    let mut live = Live::start(&kubeconfig);
    live.until("the initial sync", |c| c.initial_sync_done)
        .await;
    server.faults.set(faults(specs));
    live.until(what, during).await;
    server.faults.set(Vec::new());
    live.until("every pane to recover", |c| {
        Pane::ALL
            .iter()
            .all(|p| matches!(state(c, *p), Some(SourceState::Ok)))
    })
    .await;
    live.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_pods_name_the_missing_permission_and_the_rest_works() {
    fault_shows_and_clears(
        &["403:pods", "watch-drop:300ms"],
        "the DNS pane to name the missing permission",
        |c| {
            // The source-health view names the API server, its last answer and the 403.
            let api = c.health.get("kubernetes").is_some_and(|h| {
                h.endpoint.starts_with("http://127.0.0.1:")
                    && h.last_success.is_some()
                    && h.queries_failed > 0
                    && h.last_error.as_deref()
                        == Some("forbidden: needs list/watch on pods (cluster-wide)")
            });
            cause(c, Pane::Dns) == "forbidden: needs list/watch on pods (cluster-wide)"
                && matches!(state(c, Pane::Dns), Some(SourceState::Unavailable { .. }))
                && matches!(state(c, Pane::Gateways), Some(SourceState::Ok))
                && api
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_degrade_the_pane_and_show_the_age_of_its_data() {
    fault_shows_and_clears(
        &["500:pods", "watch-drop:300ms"],
        "the DNS pane to show stale data with the error",
        |c| {
            let aged = match (c.sources.get(&Pane::Dns), c.now) {
                (Some(status), Some(now)) => now - status.at >= chrono::Duration::seconds(2),
                _ => false,
            };
            matches!(state(c, Pane::Dns), Some(SourceState::Degraded { .. }))
                && cause(c, Pane::Dns).contains("500")
                && aged
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_watches_relist_and_show_it() {
    fault_shows_and_clears(
        &["410:watch", "watch-drop:300ms"],
        "a pane to say it is relisting after 410 Gone",
        |c| Pane::ALL.iter().any(|p| cause(c, *p).contains("410 Gone")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_slow_watches_keep_the_panes_current() {
    use k8s_openapi::api::core::v1::Service;
    use kube::api::{Api, PostParams};

    let (server, kubeconfig) = serve("broken-route").await;
    let mut live = Live::start(&kubeconfig);
    live.until("the initial sync", |c| c.initial_sync_done)
        .await;
    server
        .faults
        .set(faults(&["watch-drop:300ms", "slow:200ms"]));
    let services: Api<Service> = Api::namespaced(client_for(&kubeconfig).await, "shop");
    let probe: Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "after-drop", "namespace": "shop"},
        "spec": {"selector": {"app": "after-drop"}, "ports": [{"port": 80}]},
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    services
        .create(&PostParams::default(), &probe)
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    live.until("the change despite dropped watches", |c| {
        has_service(c, "shop", "after-drop")
    })
    .await;
    // Dropped and slow watches are routine: no pane reports a problem for them.
    for pane in Pane::ALL {
        assert_eq!(
            state(&live.cockpit, pane),
            Some(&SourceState::Ok),
            "{pane:?}"
        );
    }
    server.faults.set(Vec::new());
    live.stop().await;
    server.stop().await;
}
