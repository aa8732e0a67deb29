//! East-West from flow data in the shapes the upstream projects publish (tests/fixtures/
//! eastwest, written from Kubecost/OpenCost network-costs, Istio, Linkerd, Hubble and AWS VPC
//! Flow Logs documentation, never from the simulator), joined with a cluster dump of the same
//! cluster (cluster.yaml, served alone by `kockpit sim serve --objects`). Each metric fixture
//! is backfilled into a real Prometheus as an hour of history with the fixture's rates; the
//! live backend reads it like any cluster's. The figures must be within 5 % of expected.toml,
//! whose arithmetic is written out by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kockpit::backend::live::manifest::{self, Projected};
use kockpit::backend::live::prometheus::{Auth, PrometheusOptions};
use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::assemble::{self, ClusterObjects};
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::flow_logs::{self, LogFormat};
use kockpit::domain::flows;
use kockpit::domain::model::{FlowSnapshot, FlowUnit, ZoneBasis};
use kockpit::domain::prices::PriceTable;
use kockpit::domain::scenario::Scenario;
use kockpit::domain::traffic::Observed;
use kockpit::domain::{Cockpit, Timestamp};
use serde_json::Value;
use tokio::sync::mpsc;

mod support;

use support::backfill;
use support::servers::temp_dir;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eastwest");
const DEADLINE: Duration = Duration::from_secs(60);
const TOLERANCE: f64 = 0.05;

fn expected() -> toml::Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("expected.toml"))
        .unwrap_or_else(|e| panic!("expected.toml: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("expected.toml: {e}"))
}

fn figure(section: &toml::Value, key: &str) -> f64 {
    section
        .get(key)
        .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .unwrap_or_else(|| panic!("no {key} in {section:?}"))
}

fn close(read: f64, expected: f64) -> bool {
    if expected == 0.0 {
        return read.abs() < 1e-6;
    }
    ((read - expected) / expected).abs() <= TOLERANCE
}

/// cluster.yaml served alone, as `kockpit sim serve --objects` does.
async fn dump_server() -> (Server, PathBuf) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut options = ServeOptions::new(Scenario::default());
    options.objects = Some(Path::new(FIXTURES).join("cluster.yaml"));
    options.simulate = false;
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve --objects: {e}"));
    let kubeconfig = temp_dir("ew-dump").join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    (server, kubeconfig)
}

/// The East-West snapshot the live backend makes of the dump and the fixture's metrics.
async fn read(fixture: &str) -> FlowSnapshot {
    let (_prometheus, url, log) = backfill::prometheus(&Path::new(FIXTURES).join(fixture));
    let (server, kubeconfig) = dump_server().await;
    let mut prometheus = PrometheusOptions::new(&url, Auth::None);
    prometheus.schedule.refresh = Duration::from_secs(1);
    prometheus.schedule.names_every = Duration::from_secs(1);
    let options = LiveOptions {
        kubeconfig: Some(kubeconfig),
        prometheus: Some(prometheus),
        ..LiveOptions::default()
    };
    let (sender, mut updates) = mpsc::channel(4096);
    let handle: BackendHandle = Box::new(LiveBackend::new(options)).start(sender);
    let mut cockpit = Cockpit::new(AnalysisConfig {
        prices: PriceTable::builtin(),
        ..AnalysisConfig::default()
    });
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let flows = loop {
        if let Some(flows) = cockpit
            .flows
            .as_ref()
            .filter(|f| f.source.is_some() && f.has_flow_data())
        {
            break flows.clone();
        }
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Some(update)) => {
                cockpit.apply(update);
            }
            _ => panic!(
                "{fixture}: no flows; sources {:?}; Prometheus log:\n{}",
                cockpit.sources,
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    };
    handle.shutdown();
    server.stop().await;
    flows
}

/// (source, destination) → (per second, cross-zone per second) of the edges that name both.
fn pairs(flows: &FlowSnapshot) -> BTreeMap<(String, String), (f64, f64)> {
    let mut pairs = BTreeMap::new();
    for edge in &flows.edges {
        if let (Some(from), Some(to)) = (edge.source(), edge.destination()) {
            let entry = pairs
                .entry((
                    format!("{}/{}", from.0, from.1),
                    format!("{}/{}", to.0, to.1),
                ))
                .or_insert((0.0, 0.0));
            entry.0 += edge.per_sec;
            entry.1 += edge.cross_zone_per_sec;
        }
    }
    pairs
}

/// Checks totals, share and cost (for bytes) against a section of expected.toml.
fn check_totals(what: &str, flows: &FlowSnapshot, section: &toml::Value) {
    let (total, cross) = match flows.unit() {
        FlowUnit::Bytes => ("total_bytes_per_sec", "cross_zone_bytes_per_sec"),
        FlowUnit::Flows => ("total_flows_per_sec", "cross_zone_flows_per_sec"),
    };
    assert!(
        close(flows.total_per_sec(), figure(section, total)),
        "{what}: total {} vs {}",
        flows.total_per_sec(),
        figure(section, total)
    );
    assert!(
        close(flows.cross_zone_per_sec(), figure(section, cross)),
        "{what}: cross-zone {} vs {}",
        flows.cross_zone_per_sec(),
        figure(section, cross)
    );
    assert!(
        close(
            flows.cross_zone_ratio(),
            figure(section, "cross_zone_share")
        ),
        "{what}: share {}",
        flows.cross_zone_ratio()
    );
    match flows.unit() {
        FlowUnit::Bytes => {
            let usd = flows::cross_zone_usd_per_month(flows, None).unwrap_or_default();
            assert!(
                close(usd, figure(section, "cross_zone_usd_per_month")),
                "{what}: ${usd}/month"
            );
        }
        FlowUnit::Flows => assert_eq!(flows::cross_zone_usd_per_month(flows, None), None),
    }
}

/// Checks each expected pair; `ambiguous` pairs may be read either way round.
fn check_pairs(what: &str, flows: &FlowSnapshot, expected: &[toml::Value], ambiguous: &[&str]) {
    let read = pairs(flows);
    for pair in expected {
        let source = pair["source"].as_str().unwrap_or_default().to_string();
        let destination = pair["destination"].as_str().unwrap_or_default().to_string();
        let (per_sec, cross) = match flows.unit() {
            FlowUnit::Bytes => ("bytes_per_sec", "cross_zone_bytes_per_sec"),
            FlowUnit::Flows => ("flows_per_sec", "cross_zone_flows_per_sec"),
        };
        let mut found = read
            .get(&(source.clone(), destination.clone()))
            .copied()
            .unwrap_or_default();
        if ambiguous.contains(&source.as_str()) {
            let back = read
                .get(&(destination.clone(), source.clone()))
                .copied()
                .unwrap_or_default();
            found = (found.0 + back.0, found.1 + back.1);
        }
        assert!(
            close(found.0, figure(pair, per_sec)) && close(found.1, figure(pair, cross)),
            "{what}: {source} -> {destination} read {found:?}, expected {pair:?}; all {read:#?}"
        );
    }
}

fn biggest_destination(flows: &FlowSnapshot) -> String {
    flows::cross_zone_by_service(flows)
        .first()
        .map(|((ns, name), _)| format!("{ns}/{name}"))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_costs_in_its_upstream_shape() {
    let expected = expected();
    let section = &expected["network_costs"];
    let flows = read("kubecost-network-costs.prom").await;
    let source = flows.source.clone().unwrap_or_else(|| panic!("no source"));
    assert_eq!(source.zones, ZoneBasis::Measured);
    assert!(!source.destinations);
    check_totals("network-costs", &flows, section);
    // Without destinations, a pod's bytes count toward the Service it backs: catalog's pods
    // send the most across zones.
    assert_eq!(
        biggest_destination(&flows),
        expected["model"]["biggest_cross_zone_destination"]
            .as_str()
            .unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_in_its_upstream_shape() {
    let expected = expected();
    let flows = read("istio.prom").await;
    assert_eq!(
        flows.source.as_ref().map(|s| s.zones),
        Some(ZoneBasis::Placement)
    );
    check_totals("istio", &flows, &expected["istio"]);
    let model_pairs = expected["model"]["pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check_pairs("istio", &flows, &model_pairs, &[]);
    assert_eq!(biggest_destination(&flows), "shop/catalog");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkerd_in_its_upstream_shape() {
    let expected = expected();
    let flows = read("linkerd.prom").await;
    assert_eq!(
        flows.source.as_ref().map(|s| s.zones),
        Some(ZoneBasis::Measured)
    );
    check_totals("linkerd", &flows, &expected["linkerd"]);
    let model_pairs = expected["model"]["pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check_pairs("linkerd", &flows, &model_pairs, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubble_with_workload_labels_in_its_upstream_shape() {
    let expected = expected();
    let section = &expected["hubble_workload"];
    let flows = read("hubble-workload.prom").await;
    assert_eq!(flows.unit(), FlowUnit::Flows);
    assert_eq!(
        flows.source.as_ref().map(|s| s.zones),
        Some(ZoneBasis::Placement)
    );
    assert!(close(
        flows.total_per_sec(),
        figure(section, "total_flows_per_sec")
    ));
    let expected_pairs = section["pairs"].as_array().cloned().unwrap_or_default();
    // With workload labels only, which end called is not said; where both back a Service
    // (frontend is the Gateway's backend) and flows go as many each way, the pair is read
    // whole but its direction cannot be. Its cross-zone estimate can follow the direction:
    // api → opensearch (hinted, stays in zone) crosses nothing; read the other way round,
    // opensearch's three zones calling api's two cross for 2/3 of its 16 flows.
    let (search, others): (Vec<toml::Value>, Vec<toml::Value>) = expected_pairs
        .into_iter()
        .partition(|p| p["source"].as_str() == Some("search/api"));
    check_pairs("hubble workload", &flows, &others, &["shop/frontend"]);
    let read = pairs(&flows);
    let either_way = ["search/api", "search/opensearch"];
    let search_flows: f64 = read
        .iter()
        .filter(|((a, b), _)| either_way.contains(&a.as_str()) && either_way.contains(&b.as_str()))
        .map(|(_, (per_sec, _))| per_sec)
        .sum();
    assert!(
        close(search_flows, figure(&search[0], "flows_per_sec")),
        "{read:?}"
    );
    let cross = flows.cross_zone_per_sec();
    let expected_cross = figure(section, "cross_zone_flows_per_sec");
    assert!(
        close(cross, expected_cross) || close(cross, expected_cross + 16.0 * 2.0 / 3.0),
        "cross-zone {cross} flows/s"
    );
    assert_eq!(flows::cross_zone_usd_per_month(&flows, None), None);
    let drops: f64 = flows.edges.iter().map(|e| e.drops_per_sec).sum();
    assert!(
        close(drops, figure(section, "dropped_flows_per_sec")),
        "{drops}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubble_with_pod_context_in_its_upstream_shape() {
    let expected = expected();
    let flows = read("hubble-pod.prom").await;
    assert_eq!(
        flows.source.as_ref().map(|s| s.zones),
        Some(ZoneBasis::Measured)
    );
    check_totals("hubble pod", &flows, &expected["hubble_pod"]);
    let expected_pairs = expected["hubble_workload"]["pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check_pairs("hubble pod", &flows, &expected_pairs, &[]);
}

/// The dump's objects as the live backend would hold them.
fn cluster_objects() -> (ClusterObjects, Timestamp) {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("cluster.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let list: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut objects = ClusterObjects::default();
    for item in list["items"].as_array().into_iter().flatten() {
        if let Projected::Kept(projection) = manifest::project(item) {
            objects.upsert(*projection);
        }
    }
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:10:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|e| panic!("{e}"));
    (objects, at)
}

/// Default-format records as Logs Insights hands them back, summed over their 600-second
/// window and joined to the dump's pods: the copies receiving interfaces write (which name
/// the node, not the pod), the RDS database, the NAT gateway and NODATA/SKIPDATA lines are
/// no east-west traffic.
#[test]
fn vpc_flow_logs_in_their_upstream_shape() {
    let expected = expected();
    let section = &expected["vpc_flow_logs"];
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("vpc-flow-logs.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    let format = LogFormat::default();
    let records: Vec<_> = text.lines().filter_map(|l| format.record(l)).collect();
    assert_eq!(
        records.len() as i64,
        section["accept_records"].as_integer().unwrap_or_default()
            + section["reject_records"].as_integer().unwrap_or_default()
    );
    let observed = Observed {
        source: kockpit::backend::live::cloudwatch::flowlogs::FlowLogsOptions::new("/vpc").source(),
        observations: flow_logs::from_records(&records, figure(section, "window_seconds")),
    };
    let (objects, at) = cluster_objects();
    let flows = assemble::flows_observed(&objects, at, Some(&observed));
    check_totals("flow logs", &flows, section);
    let model_pairs = expected["model"]["pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check_pairs("flow logs", &flows, &model_pairs, &[]);
    assert_eq!(biggest_destination(&flows), "shop/catalog");
}

/// The same records as a `stats sum(bytes) by srcAddr, dstAddr, interfaceId, action` answer.
#[test]
fn vpc_flow_logs_summed_by_logs_insights() {
    let expected = expected();
    let section = &expected["vpc_flow_logs"];
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("vpc-flow-logs.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    let format = LogFormat::default();
    let mut rows: BTreeMap<(String, String, String, String), (u64, u64)> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(record) = format.record(line) else {
            continue;
        };
        let entry = rows
            .entry((
                record.src.to_string(),
                record.dst.to_string(),
                fields[2].to_string(),
                if record.accepted { "ACCEPT" } else { "REJECT" }.to_string(),
            ))
            .or_default();
        entry.0 += record.bytes;
        entry.1 += record.packets;
    }
    let rows: Vec<BTreeMap<String, String>> = rows
        .into_iter()
        .map(|((src, dst, eni, action), (bytes, packets))| {
            BTreeMap::from([
                ("srcAddr".to_string(), src),
                ("dstAddr".to_string(), dst),
                ("interfaceId".to_string(), eni),
                ("action".to_string(), action),
                ("bytes".to_string(), bytes.to_string()),
                ("packets".to_string(), packets.to_string()),
            ])
        })
        .collect();
    let observed = Observed {
        source: kockpit::backend::live::cloudwatch::flowlogs::FlowLogsOptions::new("/vpc").source(),
        observations: flow_logs::from_stats(&rows, figure(section, "window_seconds")),
    };
    let (objects, at) = cluster_objects();
    let flows = assemble::flows_observed(&objects, at, Some(&observed));
    check_totals("flow logs (stats)", &flows, section);
    let model_pairs = expected["model"]["pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Without ports, which end of two Services' pods called is judged by who sent more.
    check_pairs("flow logs (stats)", &flows, &model_pairs, &[]);
}
