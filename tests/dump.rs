//! A cluster dump on its own: `kockpit --objects DIR` and `kockpit sim serve --objects DIR`
//! show exactly what the dump holds (real-shaped manifests from tests/fixtures, as YAML lists,
//! a `kubectl get -o json` list and a file that does not parse), at the dump's own time, and
//! say per file what was read and what was left out. kubectl checks the served dump.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::servers::kubectl;

const KOCKPIT: &str = env!("CARGO_BIN_EXE_kockpit");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
/// The newest instant recorded in the fixtures (a route's status condition).
const DUMP_TIME: &str = "2026-03-02T09:59:00Z";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kockpit-dump-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A dump as an engineer is handed it: YAML lists in a sub-directory, one resource type as a
/// `kubectl get -o json` list, a Secret (never read), and a file cut off mid-way.
fn dump_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("namespaced")).unwrap_or_else(|e| panic!("{e}"));
    for file in ["live-core.yaml", "live-gateway-api.yaml"] {
        std::fs::copy(
            Path::new(FIXTURES).join(file),
            dir.join("namespaced").join(file),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let karpenter = std::fs::read_to_string(Path::new(FIXTURES).join("live-karpenter.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut list: Value = serde_saphyr::from_str(&karpenter).unwrap_or_else(|e| panic!("{e}"));
    list["metadata"] = serde_json::json!({"resourceVersion": ""});
    std::fs::write(
        dir.join("karpenter.json"),
        serde_json::to_string_pretty(&list).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("secrets.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-password\n  namespace: shop\ndata:\n  password: aHVudGVyMg==\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("truncated.json"),
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"kind\": \"Pod\"",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// `kockpit ARGS`, its JSON on stdout and its stderr.
fn snapshot(args: &[&str]) -> (Value, String) {
    let output = Command::new(KOCKPIT)
        .args(["snapshot", "--format", "json"])
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap_or_else(|e| panic!("kockpit: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "kockpit snapshot {args:?} failed: {stderr}"
    );
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (json, stderr)
}

/// The names of one kind in the fixture files, as `namespace/name` or `name`.
fn fixture_names(kind: &str) -> Vec<String> {
    let mut names = Vec::new();
    for file in [
        "live-core.yaml",
        "live-gateway-api.yaml",
        "live-karpenter.yaml",
    ] {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(file))
            .unwrap_or_else(|e| panic!("{e}"));
        let list: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        for item in list["items"].as_array().into_iter().flatten() {
            if item["kind"] == kind {
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                names.push(match item["metadata"]["namespace"].as_str() {
                    Some(ns) => format!("{ns}/{name}"),
                    None => name.to_string(),
                });
            }
        }
    }
    names.sort();
    names
}

fn sorted(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut values: Vec<String> = values.collect();
    values.sort();
    values
}

/// Checks that every figure of the report comes from the dump and nothing simulated.
fn assert_only_the_dump(report: &Value) {
    // Live mode reads the served clock from the `Date` header, to the second.
    let at = chrono::DateTime::parse_from_rfc3339(report["at"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("at: {e}"));
    let dump_time =
        chrono::DateTime::parse_from_rfc3339(DUMP_TIME).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        (at - dump_time).num_seconds().abs() <= 5,
        "the clock stands at the dump's time, not {at}"
    );
    assert_eq!(report["complete"], true);
    assert_eq!(report["nodes"]["count"], 3, "the fixtures' three nodes");
    let gateways = report["gateways"]["gateways"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        sorted(gateways.iter().map(|g| format!(
            "{}/{}",
            g["namespace"].as_str().unwrap_or_default(),
            g["name"].as_str().unwrap_or_default()
        ))),
        fixture_names("Gateway")
    );
    let routes = report["gateways"]["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut expected_routes = fixture_names("HTTPRoute");
    expected_routes.extend(fixture_names("GRPCRoute"));
    expected_routes.sort();
    assert_eq!(
        sorted(routes.iter().map(|r| format!(
            "{}/{}",
            r["namespace"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default()
        ))),
        expected_routes
    );
    // The dump's own endpoints: 2 of the storefront's 5 backend pods are ready, not the
    // simulator's.
    let storefront = routes
        .iter()
        .find(|r| r["name"] == "storefront")
        .unwrap_or_else(|| panic!("no storefront route: {routes:?}"));
    assert_eq!(storefront["ready_backends"], 2);
    assert_eq!(storefront["total_backends"], 5);
    let deployments = fixture_names("Deployment");
    for workload in report["rightsizing"]["workloads"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = format!(
            "{}/{}",
            workload["namespace"].as_str().unwrap_or_default(),
            workload["name"].as_str().unwrap_or_default()
        );
        let known = deployments.contains(&name)
            || fixture_names(workload["kind"].as_str().unwrap_or_default()).contains(&name);
        assert!(known, "{name} is not in the dump");
    }
    // A dump has no metrics: those figures are missing, not guessed.
    assert!(report["dns"]["qps"].is_null());
    assert!(report["flows"]["total_bytes_per_sec"].is_null());
}

#[test]
fn the_dump_alone_with_a_report_per_file() {
    let dir = dump_dir("alone");
    let path = dir.to_string_lossy().into_owned();
    let (report, stderr) = snapshot(&["--objects", &path]);
    assert_eq!(report["source"], "dump");
    assert_only_the_dump(&report);
    for expected in [
        "karpenter.json: 1 EC2NodeClass, 3 NodeClaim, 2 NodePool, 1 VerticalPodAutoscaler",
        "secrets.yaml: nothing loaded; skipped Secret: kockpit never reads Secrets",
        "truncated.json: nothing loaded; skipped the whole file: EOF while parsing",
        "live-gateway-api.yaml: 3 EndpointSlice, 1 GRPCRoute, 1 Gateway",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kockpit sim serve` in a child process, stopped when dropped.
struct Served {
    child: Child,
    kubeconfig: PathBuf,
    stdout: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Served {
    let kubeconfig = dir.join("kubeconfig");
    let stdout = dir.join("serve.log");
    let log = std::fs::File::create(&stdout).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(KOCKPIT)
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--objects"])
        .arg(dir.join("dump"))
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("kockpit sim serve: {e}"));
    let served = Served {
        child,
        kubeconfig,
        stdout,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&served.stdout)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(Instant::now() < deadline, "sim serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

#[test]
fn sim_serve_holds_exactly_the_dump_unless_a_scenario_is_named() {
    let dir = scratch("served");
    let dump = dump_dir("served-dump");
    std::fs::rename(&dump, dir.join("dump")).unwrap_or_else(|e| panic!("{e}"));
    let (direct, _) = snapshot(&["--objects", &dir.join("dump").to_string_lossy()]);

    let served = serve(&dir, &[]);
    let log = std::fs::read_to_string(&served.stdout).unwrap_or_default();
    assert!(log.contains("secrets.yaml: nothing loaded"), "{log}");
    let pods = kubectl(
        &served.kubeconfig,
        &[
            "get",
            "pods",
            "-A",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    );
    let mut pods: Vec<String> = pods.split_whitespace().map(str::to_string).collect();
    pods.sort();
    let expected: Vec<String> = fixture_names("Pod")
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(pods, expected, "kubectl sees the dump's pods and no others");
    let (live, _) = snapshot(&["--kubeconfig", &served.kubeconfig.to_string_lossy()]);
    assert_eq!(live["source"], "live");
    assert_only_the_dump(&live);
    for part in [
        "dns",
        "gateways",
        "flows",
        "nodes",
        "rightsizing",
        "spend",
        "findings",
    ] {
        assert_eq!(
            live[part], direct[part],
            "{part} differs between served and read"
        );
    }
    drop(served);

    // Named explicitly, a scenario mixes the simulated cluster in.
    let mixed = serve(&dir, &["--scenario", "baseline"]);
    let nodes = kubectl(&mixed.kubeconfig, &["get", "nodes", "-o", "name"]);
    assert!(
        nodes.lines().count() > 3,
        "a scenario adds simulated nodes: {nodes}"
    );
    drop(mixed);
    let _ = std::fs::remove_dir_all(&dir);
}
