//! The fix flow end to end, as the on-call engineer drives it: kockpit in tmux, live against
//! `kockpit sim serve --scenario dns-storm` scraped by a real Prometheus, with
//! `--allow-writes`. The DNS cache fix is previewed, confirmed by typing the object's name,
//! applied (kubectl sees the new Corefile, the audit log has the line), watched against its
//! success condition, and undone with `u` (the Corefile is back byte for byte). Then the same cockpit
//! without `--allow-writes` previews the fix and the server sees no write at all.

mod support;

use std::path::Path;
use std::time::Duration;

use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use support::servers::{kubectl, start_prometheus, temp_dir};
use support::tmux::TmuxSession;

/// Prometheus needs a few scrapes and a rate window before the DNS figures appear.
const METRICS_DEADLINE: Duration = Duration::from_secs(120);

async fn serve(dir: &Path) -> (Server, std::path::PathBuf) {
    let kubeconfig = dir.join("kubeconfig");
    let scenario = scenarios::load("dns-storm").unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    // CoreDNS's figures follow a change over minutes (5-minute rates): at six times real
    // time the verdict on the cache fix comes within the test's patience.
    options.speed = 6.0;
    options.kubeconfig_out = Some(kubeconfig.clone());
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    (server, kubeconfig)
}

fn corefile(kubeconfig: &Path) -> String {
    kubectl(
        kubeconfig,
        &[
            "get",
            "configmap",
            "coredns",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.data.Corefile}",
        ],
    )
}

/// Selects the finding whose fix is `slug` on the DNS pane and opens its fix window.
fn open_fix(session: &TmuxSession, slug: &str) {
    session.send(&["1"]);
    session.wait_for_all("the DNS pane with its findings", &["CoreDNS", "cache"]);
    session.send(&["Home"]);
    for _ in 0..6 {
        session.send(&["x"]);
        let screen = session.wait_for("the fix window", |s| {
            s.contains("Fix:") || s.contains("No plan")
        });
        if screen.contains(&format!("Fix: {slug}")) {
            return;
        }
        session.send(&["Escape"]);
        session.wait_for("the fix window to close", |s| !s.contains("Fix:"));
        session.send(&["Down"]);
    }
    panic!(
        "no finding on the DNS pane offers {slug}:\n{}",
        session.screen()
    );
}

fn audit_lines(session: &TmuxSession) -> String {
    std::fs::read_to_string(session.state_dir().join("audit.jsonl")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_cache_fix_from_the_keyboard_applies_verifies_and_undoes() {
    let dir = temp_dir("fix-keys");
    let (server, kubeconfig) = serve(&dir).await;
    let scrape = format!(
        "  - job_name: coredns\n    static_configs:\n      - targets: ['{}']\n",
        server.addr
    );
    let (_prometheus, prometheus_url, _log) = start_prometheus(&dir, &scrape);
    let original = tokio::task::block_in_place(|| corefile(&kubeconfig));
    assert!(
        !original.contains("prefetch"),
        "the storm's Corefile has no prefetch"
    );

    let kubeconfig_arg = kubeconfig.display().to_string();
    let session = TmuxSession::start(
        "fix-keys",
        160,
        48,
        &[
            "--kubeconfig",
            &kubeconfig_arg,
            "--prometheus",
            &prometheus_url,
            "--prometheus-window",
            "10s",
            "--allow-writes",
        ],
        &[],
    );
    tokio::task::block_in_place(|| {
        session.wait_longer_for("the cache finding from Prometheus", METRICS_DEADLINE, |s| {
            s.contains("cache hit")
        });
        open_fix(&session, "dns-cache-profile");
        session.wait_for_all(
            "the plan with its dry run and permission",
            &[
                "ConfigMap kube-system/coredns",
                "passed (dryRun=All)",
                "allowed",
                "risk: medium",
            ],
        );
        // Medium risk: `y` asks for the name; a wrong name applies nothing.
        session.send(&["y"]);
        session.wait_for_all("the name prompt", &["to apply:"]);
        session.type_text("coredn");
        session.send(&["Enter"]);
        session.wait_for_all("the wrong name refused", &["that is not the name"]);
        assert_eq!(
            corefile(&kubeconfig),
            original,
            "nothing applied on a wrong name"
        );
        session.type_text("s");
        session.send(&["Enter"]);
        session.wait_for_all("the apply notice", &["applied dns-cache-profile"]);
    });

    let applied = tokio::task::block_in_place(|| corefile(&kubeconfig));
    assert!(
        applied.contains("prefetch"),
        "kubectl shows the new Corefile:\n{applied}"
    );
    let audit = audit_lines(&session);
    assert!(
        audit.contains("\"action\":\"apply\"") && audit.contains("\"result\":\"applied\""),
        "the audit log has the apply:\n{audit}"
    );
    assert!(audit.contains("ConfigMap kube-system/coredns"));

    tokio::task::block_in_place(|| {
        // The fix is watched against its success condition and judged: the profile lifts
        // the storm's hit ratio by more than five points with p99 no worse.
        session.send(&["F"]);
        session.wait_for_all(
            "the fixes window",
            &[
                "Fixes this session",
                "dns-cache-profile on ConfigMap kube-system/coredns",
            ],
        );
        let verdict = session.wait_longer_for("the verdict", METRICS_DEADLINE, |s| {
            s.contains("worked") || s.contains("did not work")
        });
        assert!(
            verdict.contains("worked")
                && verdict.contains("cache hit ratio")
                && verdict.contains(" → "),
            "the cache fix is reported as having worked, before and after:\n{verdict}"
        );
        session.send(&["Escape"]);
        session.wait_for("the fixes window to close", |s| {
            !s.contains("Fixes this session")
        });
        session.send(&["u"]);
        session.wait_for_all("the undo window", &["Undo: dns-cache-profile", "y undo"]);
        session.send(&["y"]);
        session.wait_for_all("the undo notice", &["undid dns-cache-profile"]);
    });
    let restored = tokio::task::block_in_place(|| corefile(&kubeconfig));
    assert_eq!(
        restored, original,
        "undo restores the Corefile byte for byte"
    );
    let audit = audit_lines(&session);
    assert!(audit.contains("\"result\":\"undone\""), "{audit}");

    session.send(&["q"]);
    tokio::task::block_in_place(|| {
        session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
    });
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_writes_the_server_sees_only_reads_and_dry_runs() {
    let dir = temp_dir("fix-read-only");
    let (server, kubeconfig) = serve(&dir).await;
    let kubeconfig_arg = kubeconfig.display().to_string();
    let session = TmuxSession::start(
        "fix-read-only",
        160,
        48,
        &["--kubeconfig", &kubeconfig_arg],
        &[],
    );
    tokio::task::block_in_place(|| {
        session.wait_for_all("the live overview with findings", &["Findings ("]);
        // Every finding's fix window, and `y` in each: apply is never offered.
        session.send(&["o", "Home"]);
        for _ in 0..8 {
            session.send(&["x"]);
            session.wait_for("a fix window or a notice", |s| {
                s.contains("Fix:")
                    || s.contains("No plan")
                    || s.contains("no fix in the catalogue")
                    || s.contains("select a finding")
            });
            session.send(&["y"]);
            // Esc and an arrow sent together would read as Alt-[ (the time cursor).
            session.send(&["Escape"]);
            session.wait_for("the window to close", |s| !s.contains("Fix:"));
            session.send(&["Down"]);
        }
        // The source-health window names the API server and when it last answered.
        session.send(&["s"]);
        session.wait_for_all(
            "the source-health window",
            &["Sources", "kubernetes", "http://127.0.0.1:", "last answer"],
        );
        session.send(&["Escape"]);
        session.wait_for("the sources window to close", |s| !s.contains(" Sources "));
        session.send(&["q"]);
        session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
    });
    let tally = server.requests();
    assert_eq!(tally.writes, 0, "a read-only cockpit wrote: {tally:?}");
    assert_eq!(
        tally.reviews, 0,
        "no access review without --allow-writes: {tally:?}"
    );
    assert!(tally.reads > 0, "{tally:?}");
    assert!(
        tally.dry_runs > 0,
        "the previews were dry-run on the server: {tally:?}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
