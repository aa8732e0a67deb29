//! The kubeconfig's exec credential plugin, against `kockpit sim serve`: a plugin that
//! hangs is stopped at its timeout and the panes say which plugin they wait for and for how
//! long; a plugin that fails is quoted in its own words; a token the server refuses (401)
//! makes kockpit run the plugin again. The real binary, with such plugins, quits at once on
//! `q` and `kockpit snapshot` exits non-zero saying nothing could be read.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::Cockpit;
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::model::{Pane, SourceState, Update};
use tokio::sync::mpsc;

use support::servers::temp_dir;
use support::tmux::TmuxSession;

const DEADLINE: Duration = Duration::from_secs(60);

async fn serve(token: &str) -> Server {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    options.speed = 0.0;
    options.token = Some(token.to_string());
    // A request without the plugin's token must fail, as on a real cluster.
    options.require_token = true;
    Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"))
}

/// The server's kubeconfig with its user's token replaced by an exec plugin running
/// `sh -c SCRIPT`.
fn kubeconfig_with_plugin(server: &Server, dir: &Path, script: &str) -> PathBuf {
    let with_token = server.kubeconfig();
    let token_line = format!("    token: {}\n", server.token);
    assert!(with_token.contains(&token_line), "{with_token}");
    let quoted = script.replace('\'', "''");
    let exec = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: sh\n      args:\n      - -c\n      - '{quoted}'\n      interactiveMode: Never\n"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, with_token.replace(&token_line, &exec)).unwrap_or_else(|e| panic!("{e}"));
    path
}

const HANGING: &str = "sleep 600";
const FAILING: &str = "echo 'error: SSO session expired, run aws sso login' >&2; exit 255";

struct Live {
    handle: BackendHandle,
    updates: mpsc::Receiver<Update>,
    cockpit: Cockpit,
}

impl Live {
    fn start(kubeconfig: &Path, exec_timeout: Option<Duration>) -> Live {
        let (sender, updates) = mpsc::channel(1024);
        let backend = Box::new(LiveBackend::new(LiveOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            exec_timeout,
            ..LiveOptions::default()
        }));
        Live {
            handle: backend.start(sender),
            updates,
            cockpit: Cockpit::new(AnalysisConfig::default()),
        }
    }

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

    /// Stops the backend; it must not wait for a plugin or a request to finish.
    async fn stop(self) {
        self.handle.shutdown();
        let finished = tokio::time::timeout(Duration::from_secs(5), self.handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }
}

fn cause(cockpit: &Cockpit, pane: Pane) -> String {
    match cockpit.sources.get(&pane).map(|s| &s.state) {
        Some(SourceState::Unavailable { cause } | SourceState::Degraded { cause }) => cause.clone(),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_plugin_is_named_while_it_is_waited_for_and_stopped_at_its_timeout() {
    let server = serve("hanging-token").await;
    let dir = temp_dir("plugin-hang");
    let kubeconfig = kubeconfig_with_plugin(&server, &dir, HANGING);
    let mut live = Live::start(&kubeconfig, Some(Duration::from_secs(3)));
    live.until("the panes to name the plugin they wait for", |c| {
        cause(c, Pane::Dns).starts_with("credential plugin `sh -c sleep 600` has not answered for")
    })
    .await;
    assert!(
        cause(&live.cockpit, Pane::Dns).ends_with("(stopped at 3s)"),
        "{}",
        cause(&live.cockpit, Pane::Dns)
    );
    live.until("the plugin to be stopped", |c| {
        c.initial_sync_done
            && cause(c, Pane::Nodes)
                == "credential plugin `sh -c sleep 600` did not answer within 3s and was stopped"
    })
    .await;
    assert!(
        live.cockpit.nothing_read().is_some(),
        "nothing was read: {:?}",
        live.cockpit.sources
    );
    live.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_plugin_is_quoted_in_its_own_words_first() {
    let server = serve("failing-token").await;
    let dir = temp_dir("plugin-fail");
    let kubeconfig = kubeconfig_with_plugin(&server, &dir, FAILING);
    let mut live = Live::start(&kubeconfig, None);
    live.until("the initial sync", |c| c.initial_sync_done)
        .await;
    let dns = cause(&live.cockpit, Pane::Dns);
    assert!(
        dns.starts_with("error: SSO session expired, run aws sso login (credential plugin `sh -c"),
        "{dns}"
    );
    assert!(dns.contains("exit 255"), "{dns}");
    assert!(!dns.contains("KUBERNETES_EXEC_INFO"), "{dns}");
    assert!(
        !dns.contains("; error"),
        "said once, not once per kind: {dns}"
    );
    let reason = live.cockpit.nothing_read().unwrap_or_default();
    assert!(reason.starts_with("error: SSO session expired"), "{reason}");
    live.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls `check` until it holds or the deadline passes.
fn poll(what: &str, deadline: Duration, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The binary quits on `q` while a plugin hangs, and its terminal comes back.
#[test]
fn q_quits_at_once_while_the_plugin_hangs() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let server = runtime.block_on(serve("tui-hang"));
    let dir = temp_dir("plugin-tui");
    let kubeconfig = kubeconfig_with_plugin(&server, &dir, HANGING);
    let kubeconfig_arg = kubeconfig.display().to_string();
    let tmux = TmuxSession::start(
        "plugin-hang",
        120,
        30,
        &["--kubeconfig", &kubeconfig_arg],
        &[],
    );
    tmux.wait_for("the plugin named in the panes", |screen| {
        screen.contains("credential plugin `sh -c sleep 600` has not")
    });
    tmux.send(&["q"]);
    let asked = Instant::now();
    // Far less than the plugin's 20 s: nothing waits for it.
    poll("kockpit to exit", Duration::from_secs(5), || {
        tmux.screen().contains("KOCKPIT-EXITED-0")
    });
    eprintln!("exited {} ms after q", asked.elapsed().as_millis());
    runtime.block_on(server.stop());
    let _ = std::fs::remove_dir_all(&dir);
}

fn snapshot(kubeconfig: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let home = kubeconfig.parent().unwrap_or(Path::new("/tmp"));
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .arg("snapshot")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(extra)
        .env("KOCKPIT_CONFIG_DIR", home.join("config"))
        .env("KOCKPIT_STATE_DIR", home.join("state"))
        .env("KOCKPIT_CACHE_DIR", home.join("cache"))
        .output()
        .unwrap_or_else(|e| panic!("kockpit snapshot: {e}"));
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (
        output.status.code(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Exit code 3: the source's state arrived and nothing could be read (README).
const EXIT_NOTHING_READ: i32 = 3;

#[test]
fn snapshot_exits_non_zero_when_the_plugin_hangs_or_fails() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let server = runtime.block_on(serve("snapshot-token"));
    for (name, script, extra) in [
        ("hang", HANGING, &["--exec-timeout", "2s"][..]),
        ("fail", FAILING, &[][..]),
    ] {
        let dir = temp_dir(&format!("plugin-snapshot-{name}"));
        let kubeconfig = kubeconfig_with_plugin(&server, &dir, script);
        let (code, json, stderr) = snapshot(&kubeconfig, extra);
        assert_eq!(code, Some(EXIT_NOTHING_READ), "{name}: {stderr}");
        assert_eq!(json["complete"], false, "{name}");
        let reason = json["incomplete_reason"].as_str().unwrap_or_default();
        let expected = match name {
            "hang" => "credential plugin `sh -c sleep 600` did not answer within 2s",
            _ => "error: SSO session expired, run aws sso login",
        };
        assert!(
            reason.starts_with(&format!(
                "nothing could be read from the cluster: {expected}"
            )),
            "{name}: {reason}"
        );
        assert!(stderr.contains(expected), "{name}: {stderr}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    runtime.block_on(server.stop());
}
