//! The fleet end to end, as the on-call engineer drives it during a regional failover:
//! kockpit in tmux against two `sim serve` clusters through one kubeconfig with two contexts.
//! The fleet screen shows both; Enter opens the failing one; its first finding's fix is
//! previewed naming that cluster, applied, and kubectl on both servers shows the write landed
//! on that cluster only, with the audit line naming its context. Then one cluster's server
//! stops and the other keeps updating.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::servers::{Server, fleet_kubeconfig, free_port, kubectl, spawn, temp_dir};
use support::tmux::TmuxSession;

/// `kockpit sim serve` as a process of its own, so that it can be killed like a region's API
/// server going away. Returns once it has written its kubeconfig.
fn serve(dir: &Path, name: &'static str, scenario: &str) -> (Server, PathBuf) {
    serve_with(dir, name, scenario, &[])
}

/// The same, with `--fault` specs in force from the start.
fn serve_with(
    dir: &Path,
    name: &'static str,
    scenario: &str,
    faults: &[&str],
) -> (Server, PathBuf) {
    let kubeconfig = dir.join(format!("{name}.kubeconfig"));
    let listen = format!("127.0.0.1:{}", free_port());
    let kubeconfig_arg = kubeconfig.display().to_string();
    let mut args = vec![
        "sim",
        "serve",
        "--scenario",
        scenario,
        "--listen",
        &listen,
        "--kubeconfig-out",
        &kubeconfig_arg,
    ];
    for fault in faults {
        args.extend(["--fault", fault]);
    }
    let server = spawn(
        name,
        Path::new(env!("CARGO_BIN_EXE_kockpit")),
        &args,
        &dir.join(format!("{name}.log")),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !kubeconfig.exists() {
        assert!(
            Instant::now() < deadline,
            "sim serve {name} wrote no kubeconfig: {}",
            std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, kubeconfig)
}

/// The canary route's resourceVersion and backend weights, as kubectl reads them.
fn storefront(kubeconfig: &Path) -> String {
    kubectl(
        kubeconfig,
        &[
            "get",
            "httproute",
            "storefront",
            "-n",
            "shop",
            "-o",
            "jsonpath={.metadata.resourceVersion} {.spec.rules[0].backendRefs[*].weight}",
        ],
    )
}

#[test]
fn two_clusters_side_by_side_and_a_fix_lands_on_the_chosen_one_only() {
    let dir = temp_dir("fleet");
    // euw1 is calm enough (a DNS storm, no canary); euc1's canary has no ready pods.
    let (euw1, euw1_config) = serve(&dir, "euw1", "dns-storm");
    let (_euc1, euc1_config) = serve(&dir, "euc1", "broken-route");
    let fleet = fleet_kubeconfig(
        &dir,
        &[
            ("prod-euw1", euw1_config.as_path()),
            ("prod-euc1", euc1_config.as_path()),
        ],
    );
    let (euw1_before, euc1_before) = (storefront(&euw1_config), storefront(&euc1_config));
    assert!(euc1_before.ends_with(" 90 10"), "{euc1_before}");

    let fleet_arg = fleet.display().to_string();
    let session = TmuxSession::start(
        "fleet",
        160,
        48,
        &[
            "--kubeconfig",
            &fleet_arg,
            "--context",
            "prod-euw1",
            "--context",
            "prod-euc1",
            "--allow-writes",
        ],
        &[],
    );
    {
        let screen = session.wait_for("both clusters on the fleet screen", |s| {
            s.contains("Clusters 2")
                && s.contains("Side by side")
                && s.contains("storefront sends 10% of requests to canary")
                && s.lines().filter(|l| l.contains("$/h")).count() >= 1
                && !s.contains("still loading")
        });
        assert!(screen.contains("[prod-euw1 1/2]"), "{screen}");
        let row = |context: &str| {
            screen
                .lines()
                .find(|l| l.trim_start_matches(['›', '•', ' ']).starts_with(context))
                .unwrap_or_else(|| panic!("no row for {context}:\n{screen}"))
                .to_string()
        };
        assert!(
            row("prod-euc1").contains("storefront"),
            "the canary is euc1's top finding:\n{screen}"
        );
        assert!(!row("prod-euw1").contains("storefront"), "{screen}");

        // Enter on the second row opens euc1; its first finding is the canary.
        session.send(&["Down", "Enter"]);
        session.wait_for_all("euc1 in view", &["[prod-euc1 2/2]", "Findings ("]);
        session.send(&["x"]);
        let window = session.wait_for("the fix window", |s| {
            s.contains("Fix: gateway-rollback-canary on prod-euc1") && s.contains("dry run")
        });
        assert!(
            window.contains("cluster      prod-euc1 (context prod-euc1)"),
            "{window}"
        );
        session.send(&["y"]);
        session.wait_for("the apply notice", |s| {
            s.contains("applied gateway-rollback-canary")
        });
    }

    // The write is on euc1 and nowhere else.
    let (euw1_after, euc1_after) = (storefront(&euw1_config), storefront(&euc1_config));
    assert_eq!(euw1_after, euw1_before, "euw1 was not written");
    assert!(
        euc1_after.ends_with(" 100 0"),
        "euc1 was rolled back: {euc1_after}"
    );
    assert_ne!(euc1_after, euc1_before);
    let audit = std::fs::read_to_string(session.state_dir().join("audit.jsonl"))
        .unwrap_or_else(|e| panic!("the audit log: {e}"));
    let applied: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"action\":\"apply\""))
        .collect();
    assert!(!applied.is_empty(), "{audit}");
    assert!(
        applied
            .iter()
            .all(|l| l.contains("\"context\":\"prod-euc1\"")),
        "{audit}"
    );

    // euw1's server goes away: its row says so, euc1 keeps updating.
    drop(euw1);
    session.send(&["c"]);
    session.wait_longer_for("euw1's trouble on its row", Duration::from_secs(60), |s| {
        s.lines().any(|l| {
            l.trim_start_matches(['›', '•', ' '])
                .starts_with("prod-euw1")
                && l.contains("API server not answering")
        })
    });
    {
        let before = session.screen();
        let clock = |s: &str| s.lines().next().unwrap_or("").to_string();
        session.wait_for("euc1's clock moving on", |s| clock(s) != clock(&before));
        session.send(&["q"]);
        session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
    }
}

/// The row of `context` on the fleet screen.
fn row<'a>(screen: &'a str, context: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.trim_start_matches(['›', '•', ' ']).starts_with(context))
        .unwrap_or_else(|| panic!("no row for {context}:\n{screen}"))
}

#[test]
fn a_forbidden_and_a_failing_cluster_degrade_their_own_rows_while_the_third_keeps_updating() {
    let dir = temp_dir("fleet-faults");
    let (_euw1, euw1_config) = serve_with(&dir, "euw1", "dns-storm", &["403:*"]);
    let (_euc1, euc1_config) = serve_with(&dir, "euc1", "broken-route", &["500:pods"]);
    let (_use1, use1_config) = serve(&dir, "use1", "baseline");
    let fleet = fleet_kubeconfig(
        &dir,
        &[
            ("prod-euw1", euw1_config.as_path()),
            ("prod-euc1", euc1_config.as_path()),
            ("prod-use1", use1_config.as_path()),
        ],
    );
    let fleet_arg = fleet.display().to_string();
    let session = TmuxSession::start(
        "fleet-faults",
        160,
        48,
        &["--kubeconfig", &fleet_arg, "--all-contexts"],
        &[],
    );
    let screen = session.wait_longer_for(
        "each cluster's own state on its row",
        Duration::from_secs(60),
        |s| {
            s.contains("Clusters 3")
                && s.lines()
                    .any(|l| l.contains("prod-euw1") && l.contains("forbidden"))
                && s.lines()
                    .any(|l| l.contains("prod-euc1") && l.contains('~'))
                && s.lines()
                    .any(|l| l.contains("prod-use1") && l.contains('$'))
        },
    );
    // Nothing could be read from euw1: its figures are missing, not zero.
    let forbidden = row(&screen, "prod-euw1");
    assert!(
        !forbidden.contains('$') && !forbidden.contains(" 0 "),
        "{screen}"
    );
    let healthy = row(&screen, "prod-use1");
    assert!(
        !healthy.contains('×') && !healthy.contains('~'),
        "the healthy cluster is untouched:\n{screen}"
    );
    // The healthy cluster, brought into view, keeps updating.
    session.send(&["Down", "Down", "Enter"]);
    let before = session.wait_for_all("use1 in view", &["[prod-use1 3/3]"]);
    let clock = |s: &str| s.lines().next().unwrap_or("").to_string();
    session.wait_for("use1's clock moving on", |s| clock(s) != clock(&before));
    session.send(&["q"]);
    session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
}
