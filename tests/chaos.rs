//! Faults while kockpit runs, against a `kockpit sim serve` process of its own: the API
//! server stopped (SIGSTOP) and continued. The pane must say what is wrong and how old its
//! data is, and recover on its own. Every wait polls with a deadline.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::Cockpit;
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::model::{Pane, SourceState, Update};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::mpsc;

use support::servers::temp_dir;

const DEADLINE: Duration = Duration::from_secs(60);

/// `kockpit sim serve` as a process of its own, so it can be stopped, continued and killed.
struct ServeProcess {
    child: Child,
    kubeconfig: PathBuf,
}

impl ServeProcess {
    fn start(dir: &Path) -> ServeProcess {
        let kubeconfig = dir.join("kubeconfig");
        let log = std::fs::File::create(dir.join("serve.log")).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(env!("CARGO_BIN_EXE_kockpit"))
            .args(["--scenario", "baseline", "sim", "serve"])
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .env("KOCKPIT_STATE_DIR", dir.join("serve-state"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("kockpit sim serve: {e}"));
        let started = Instant::now();
        while !kubeconfig.exists() {
            assert!(
                started.elapsed() < DEADLINE,
                "sim serve wrote no kubeconfig"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ServeProcess { child, kubeconfig }
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        kill(pid, signal).unwrap_or_else(|e| panic!("kill -{signal}: {e}"));
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL cleanly in every kernel.
        let _ = self.child.kill();
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = kill(pid, Signal::SIGCONT);
        let _ = self.child.wait();
    }
}

struct Live {
    handle: BackendHandle,
    updates: mpsc::Receiver<Update>,
    cockpit: Cockpit,
}

impl Live {
    fn start(kubeconfig: &Path) -> Live {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
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

    async fn until_within(
        &mut self,
        what: &str,
        deadline: Duration,
        done: impl Fn(&Cockpit) -> bool,
    ) {
        let until = tokio::time::Instant::now() + deadline;
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
        let finished = tokio::time::timeout(Duration::from_secs(5), self.handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }
}

fn all_ok(cockpit: &Cockpit) -> bool {
    Pane::ALL.iter().all(|pane| {
        matches!(
            cockpit.sources.get(pane).map(|s| &s.state),
            Some(SourceState::Ok)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_api_server_is_noticed_shown_stale_and_recovered_from() {
    let dir = temp_dir("chaos-sigstop");
    let serve = ServeProcess::start(&dir);
    let mut live = Live::start(&serve.kubeconfig);
    live.until_within("the initial sync", DEADLINE, |c| {
        c.initial_sync_done && all_ok(c)
    })
    .await;

    serve.signal(Signal::SIGSTOP);
    // About ten seconds: a probe every 2 s with a 5 s timeout.
    live.until_within(
        "the panes to say the API server is not answering",
        Duration::from_secs(20),
        |c| {
            let stale = c.sources.get(&Pane::Nodes).is_some_and(|s| {
                matches!(&s.state, SourceState::Degraded { cause } if cause.starts_with("API server not answering"))
            });
            stale && c.health.get("kubernetes").is_some_and(|h| h.failing())
        },
    )
    .await;
    let status = &live.cockpit.sources[&Pane::Nodes];
    let now = live.cockpit.now.unwrap_or(status.at);
    assert!(
        status.at < now,
        "the pane's data is as old as the last answer: {status:?} at {now}"
    );

    serve.signal(Signal::SIGCONT);
    live.until_within("every pane to recover", DEADLINE, |c| {
        all_ok(c) && c.health.get("kubernetes").is_some_and(|h| !h.failing())
    })
    .await;
    live.stop().await;
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
