//! `kockpit doctor` as a user runs it, against `kockpit sim serve`: healthy it exits 0; a
//! permission denied (403 fault), a CRD not installed (`--without-api`) and Prometheus down
//! each give their own line, and the exit status says whether kockpit has what it needs.
//! With a real Prometheus scraping the simulator it lists the exporters it finds.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::servers::{Server, free_port, spawn, start_prometheus, temp_dir};

const KOCKPIT: &str = env!("CARGO_BIN_EXE_kockpit");

/// `kockpit sim serve` with `extra` options, and the kubeconfig it wrote.
fn serve(dir: &Path, extra: &[&str]) -> (Server, PathBuf, u16) {
    let kubeconfig = dir.join("kubeconfig");
    let log = dir.join("serve.log");
    let port = free_port();
    let mut args = vec![
        "sim".to_string(),
        "serve".to_string(),
        "--listen".to_string(),
        format!("127.0.0.1:{port}"),
        "--kubeconfig-out".to_string(),
        kubeconfig.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = spawn("kockpit sim serve", Path::new(KOCKPIT), &args, &log);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(
            Instant::now() < deadline,
            "sim serve did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, kubeconfig, port)
}

/// Runs `kockpit doctor --kubeconfig K ARGS`: exit code and what it printed.
fn doctor(dir: &Path, kubeconfig: &Path, args: &[&str]) -> (i32, String) {
    let started = Instant::now();
    let output = Command::new(KOCKPIT)
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("KOCKPIT_CONFIG_DIR", dir.join("config"))
        .env("KOCKPIT_STATE_DIR", dir.join("state"))
        .env_remove("KUBECONFIG")
        .output()
        .unwrap_or_else(|e| panic!("kockpit doctor: {e}"));
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    println!(
        "doctor {args:?} took {took:?}, exit {:?}\n{text}",
        output.status.code()
    );
    (output.status.code().unwrap_or(-1), text)
}

fn line<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with `{needle}` in:\n{text}"))
}

#[test]
fn a_healthy_cluster_passes_and_json_says_so() {
    let dir = temp_dir("doctor-healthy");
    let (_serve, kubeconfig, _) = serve(&dir, &[]);
    let (code, text) = doctor(&dir, &kubeconfig, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(line(&text, "list pods (cluster-wide)").starts_with("  ok "));
    assert!(line(&text, "Karpenter:").starts_with("  ok "));
    assert!(
        text.contains("Kubernetes v1.33.1-eks-kockpit-sim"),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");

    let (code, json) = doctor(&dir, &kubeconfig, &["--format", "json", "--allow-writes"]);
    assert_eq!(code, 0, "{json}");
    let report: Value = serde_json::from_str(&json).expect("doctor prints JSON");
    assert_eq!(report["passed"], true);
    let checks = report["checks"].as_array().expect("checks");
    let write = checks
        .iter()
        .find(|c| c["subject"] == "patch configmaps in namespace kube-system for dns-cache-profile")
        .unwrap_or_else(|| panic!("no write check for the cache profile in {json}"));
    assert_eq!(write["area"], "write-access");
    assert_eq!(write["status"], "ok");
}

#[test]
fn a_denied_permission_fails_and_is_named() {
    let dir = temp_dir("doctor-403");
    let (_serve, kubeconfig, _) = serve(&dir, &["--fault", "403:pods"]);
    let (code, text) = doctor(&dir, &kubeconfig, &[]);
    assert_eq!(code, 1, "{text}");
    let denied = line(&text, "list pods (cluster-wide)");
    assert!(
        denied.starts_with("  FAIL  list pods (cluster-wide): denied"),
        "{denied}"
    );
    assert!(denied.contains("the DNS pane cannot show anything without it"));
    // Other reads are unaffected.
    assert!(line(&text, "list nodes (cluster-wide)").starts_with("  ok "));
}

#[test]
fn a_missing_crd_warns_and_still_passes() {
    let dir = temp_dir("doctor-crd");
    let (_serve, kubeconfig, _) = serve(
        &dir,
        &[
            "--without-api",
            "karpenter.sh",
            "--without-api",
            "karpenter.k8s.aws",
        ],
    );
    let (code, text) = doctor(&dir, &kubeconfig, &[]);
    assert_eq!(code, 0, "kockpit runs without Karpenter:\n{text}");
    assert_eq!(
        line(&text, "Karpenter:"),
        "  warn  Karpenter: not installed; the Nodes pane says so"
    );
    // Not installed, so its permissions are not asked about.
    assert!(!text.contains("nodepools"), "{text}");
}

#[test]
fn prometheus_down_fails_and_up_lists_its_exporters() {
    let dir = temp_dir("doctor-prometheus");
    let (_serve, kubeconfig, serve_port) = serve(&dir, &[]);
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let (code, text) = doctor(&dir, &kubeconfig, &["--prometheus", &nobody]);
    assert_eq!(code, 1, "{text}");
    let down = line(&text, &nobody);
    assert!(down.starts_with("  FAIL  "), "{down}");
    assert!(down.contains("unreachable"), "{down}");

    let (_prometheus, prom, _log) = start_prometheus(
        &dir,
        &format!(
            "  - job_name: kockpit-sim\n    static_configs:\n      - targets: ['127.0.0.1:{serve_port}']\n"
        ),
    );
    // Prometheus takes a few seconds to scrape for the first time: ask until it has.
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (code, text) = doctor(&dir, &kubeconfig, &["--prometheus", &prom]);
        if text.contains("CoreDNS: found") {
            assert_eq!(code, 0, "{text}");
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no exporter found in time:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(line(&text, &prom).contains("metric names"), "{text}");
    assert!(
        line(&text, "CoreDNS: found").contains("1.11 or later"),
        "{text}"
    );
    assert!(line(&text, "Karpenter: found").contains("v1 metric names"));
    assert!(line(&text, "cAdvisor: found").starts_with("  ok "));
    assert!(line(&text, "flows: found").starts_with("  ok "));
}
