//! The live backend at a moderate scale (20 000 pods on `sim serve --scale`): it syncs, every
//! pane fills with the counts the server holds, and restarts and a probe pod made by the
//! server's churn reach the snapshots. No timings are asserted (BENCHMARKS.md has them);
//! every wait polls with a deadline.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kockpit::backend::live::slim;
use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::{Cockpit, Update};
use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

const NODES: u32 = 800;
const PODS: u32 = 20_000;
const DEADLINE: Duration = Duration::from_secs(120);

async fn serve() -> (Server, PathBuf) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    // A still clock: only the churn changes anything.
    options.speed = 0.0;
    options.scale = Some((NODES, PODS));
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    let dir = std::env::temp_dir().join(format!("kockpit-scale-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    (server, kubeconfig)
}

async fn client(kubeconfig: &std::path::Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap_or_else(|e| panic!("{e}")),
        &Default::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    kube::Client::try_from(config).unwrap_or_else(|e| panic!("{e}"))
}

/// Every object of a kind, page by page as the watcher lists them.
async fn list_all<K>(api: &Api<K>) -> Vec<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(500);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let page = api.list(&params).await.unwrap_or_else(|e| panic!("{e}"));
        all.extend(page.items);
        match page.metadata.continue_ {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return all,
        }
    }
}

async fn churn(client: &kube::Client, method: &str, body: &str) -> serde_json::Value {
    let request = hyper::Request::builder()
        .method(method)
        .uri("/_kockpit/churn")
        .body(body.as_bytes().to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    let text = client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

struct Live {
    handle: BackendHandle,
    updates: mpsc::Receiver<Update>,
    cockpit: Cockpit,
}

impl Live {
    async fn until(&mut self, what: &str, done: impl Fn(&Cockpit) -> bool) {
        let until = tokio::time::Instant::now() + DEADLINE;
        while !done(&self.cockpit) {
            match tokio::time::timeout_at(until, self.updates.recv()).await {
                Ok(Some(update)) => {
                    self.cockpit.apply(update);
                }
                Ok(None) => panic!("the live backend stopped while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }
}

fn restarts(cockpit: &Cockpit) -> u64 {
    cockpit.workloads.as_ref().map_or(0, |w| {
        w.workloads
            .iter()
            .map(|row| u64::from(row.restarts_24h))
            .sum()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_pods_sync_into_every_pane_and_churn_follows() {
    let (server, kubeconfig) = serve().await;
    let client = client(&kubeconfig).await;
    let (sender, updates) = mpsc::channel(4096);
    let backend = Box::new(LiveBackend::new(LiveOptions {
        kubeconfig: Some(kubeconfig.clone()),
        ..LiveOptions::default()
    }));
    let mut live = Live {
        handle: backend.start(sender),
        updates,
        cockpit: Cockpit::new(AnalysisConfig::default()),
    };
    live.until("every pane after the initial sync", |c| {
        c.initial_sync_done
            && c.dns.is_some()
            && c.gateways.is_some()
            && c.flows.is_some()
            && c.nodes.is_some()
            && c.workloads.is_some()
            && c.spend.is_some()
    })
    .await;

    // What the server holds, listed the way the watchers list it.
    let nodes: Vec<Node> = list_all(&Api::all(client.clone())).await;
    let pods: Vec<slim::Pod> = list_all(&Api::all(client.clone())).await;
    assert!(pods.len() >= PODS as usize, "{} pods served", pods.len());
    let placed: Vec<&slim::Pod> = pods
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect();
    let requested_cpu: f64 = placed
        .iter()
        .map(|p| kockpit::backend::live::project::pod(p))
        .flat_map(|p| p.containers)
        .map(|c| c.resources.cpu_request_m.unwrap_or(0.0))
        .sum();

    let cockpit = &live.cockpit;
    let snapshot = cockpit.nodes.as_ref().expect("nodes");
    assert_eq!(snapshot.nodes.len(), nodes.len(), "one row per Node");
    let counted: u64 = snapshot.nodes.iter().map(|n| u64::from(n.pods)).sum();
    assert_eq!(counted, placed.len() as u64, "every placed pod on its node");
    let summed: f64 = snapshot.nodes.iter().map(|n| n.cpu_requested_m).sum();
    assert!(
        (summed - requested_cpu).abs() < 1e-6 * requested_cpu.max(1.0),
        "{summed} m requested on nodes, {requested_cpu} m by the pods"
    );
    let workloads = cockpit.workloads.as_ref().expect("workloads");
    let generated = workloads
        .workloads
        .iter()
        .filter(|w| w.name.starts_with("bench-"))
        .count();
    assert_eq!(
        generated,
        PODS.div_ceil(100) as usize,
        "one row per bench Deployment"
    );
    let coredns = pods
        .iter()
        .filter(|p| {
            p.metadata.namespace.as_deref() == Some("kube-system")
                && p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("k8s-app"))
                    .is_some_and(|app| app == "kube-dns")
        })
        .count();
    let dns = cockpit.dns.as_ref().expect("dns");
    assert_eq!(dns.pods.len(), coredns, "every CoreDNS pod");
    let spend = cockpit.spend.as_ref().expect("spend");
    assert_eq!(spend.by_node.len(), nodes.len());

    // Churn: restarts reach the Right-sizing rows, the probe the Nodes pane's pending list.
    let before = restarts(&live.cockpit);
    churn(&client, "PUT", "rate=400 probes=5").await;
    live.until("the first probe", |c| {
        c.nodes
            .as_ref()
            .is_some_and(|n| n.pending_pods.iter().any(|p| p.reason.contains("probe")))
    })
    .await;
    let stopped = churn(&client, "DELETE", "").await;
    let events = stopped["events"].as_u64().unwrap_or(0);
    let last_probe = stopped["probes"]
        .as_array()
        .and_then(|p| p.last())
        .and_then(|p| p[0].as_u64())
        .expect("a probe was sent");
    let wanted = format!("Unschedulable: probe {last_probe}");
    assert!(events > 0);
    live.until("the last probe and every restart", |c| {
        let probe_seen = c
            .nodes
            .as_ref()
            .is_some_and(|n| n.pending_pods.iter().any(|p| p.reason == wanted));
        // Every churned pod belongs to a workload row: each restart is counted once.
        probe_seen && restarts(c) == before + events
    })
    .await;

    live.handle.shutdown();
    server.stop().await;
}
