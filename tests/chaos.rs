//! Chaos: faults while the cockpit runs, against `kockpit sim serve` (in process, or as a
//! process of its own to stop, kill and restart) and a real Prometheus behind a proxy that
//! misbehaves on demand. The cockpit is the app itself (its state, update and render, drawn
//! into ratatui's TestBackend after every batch) or the real binary in tmux. For each fault:
//! frames keep coming, the affected pane says what is wrong and how old its data is, and it
//! recovers on its own. Every wait polls with a deadline; the tests run in parallel.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use kockpit::app::keymap::Keymap;
use kockpit::app::message::Message;
use kockpit::app::state::State;
use kockpit::app::timeline::shown;
use kockpit::app::update::{footer_hints, update};
use kockpit::backend::live::prometheus::PrometheusOptions;
use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{Fault, ServeOptions, Server};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::Cockpit;
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::model::{Pane, SourceState, Update};
use kockpit::domain::prices::PriceTable;
use kockpit::ui::theme::Theme;
use kockpit::ui::{RenderInput, Screen, render};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use support::servers::{free_port, start_prometheus, temp_dir};
use support::tmux::TmuxSession;

const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// The cockpit under test: the app's state, fed by the live backend, drawn after each batch.

struct Watched {
    handle: BackendHandle,
    updates: mpsc::Receiver<Update>,
    state: State,
    terminal: Terminal<TestBackend>,
    /// Frames drawn so far.
    frames: u64,
    /// The last frame, as text.
    screen: String,
}

impl Watched {
    fn start(options: LiveOptions, screen: Screen) -> Watched {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (sender, updates) = mpsc::channel(4096);
        let handle = Box::new(LiveBackend::new(options)).start(sender);
        let mut state = State::new(
            AnalysisConfig {
                prices: PriceTable::builtin(),
                ..AnalysisConfig::default()
            },
            Keymap::default(),
            1.0,
        );
        state.view.screen = screen;
        let terminal =
            Terminal::new(TestBackend::new(140, 40)).unwrap_or_else(|never| match never {});
        Watched {
            handle,
            updates,
            state,
            terminal,
            frames: 0,
            screen: String::new(),
        }
    }

    fn live(kubeconfig: &Path, screen: Screen) -> Watched {
        Watched::start(
            LiveOptions {
                kubeconfig: Some(kubeconfig.to_path_buf()),
                ..LiveOptions::default()
            },
            screen,
        )
    }

    fn cockpit(&self) -> &Cockpit {
        &self.state.cockpit
    }

    fn draw(&mut self) {
        let theme = Theme::default();
        let keys = self.state.keymap.hints();
        let footer = footer_hints(&self.state);
        let input = RenderInput {
            cockpit: shown(&self.state),
            view: &self.state.view,
            theme: &theme,
            keys: &keys,
            footer: &footer,
            notices: &self.state.notices,
            fleet: None,
        };
        if let Err(error) = self.terminal.draw(|frame| render(frame, &input)) {
            panic!("draw: {error}");
        }
        let buffer = self.terminal.backend().buffer();
        let area = buffer.area;
        self.screen = (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        self.frames += 1;
    }

    /// Applies updates (drawing after every batch, as the app does) until `done` holds.
    async fn until(
        &mut self,
        what: &str,
        deadline: Duration,
        done: impl Fn(&Cockpit, &str) -> bool,
    ) {
        let until = tokio::time::Instant::now() + deadline;
        while !done(&self.state.cockpit, &self.screen) {
            match tokio::time::timeout_at(until, self.updates.recv()).await {
                Ok(Some(first)) => {
                    let mut batch = vec![first];
                    while let Ok(next) = self.updates.try_recv() {
                        batch.push(next);
                    }
                    let _ = update(&mut self.state, Message::Backends(batch));
                    self.draw();
                }
                Ok(None) => panic!("the live backend stopped while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; pane states: {:?}; sources: {:?}\nscreen:\n{}",
                    self.state.cockpit.sources, self.state.cockpit.health, self.screen
                ),
            }
        }
    }

    /// Stops the backend; it must not wait for a request, a plugin or a dead server.
    async fn stop(self) {
        self.handle.shutdown();
        let finished = tokio::time::timeout(Duration::from_secs(5), self.handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }
}

fn state_of(cockpit: &Cockpit, pane: Pane) -> Option<&SourceState> {
    cockpit.sources.get(&pane).map(|s| &s.state)
}

fn cause(cockpit: &Cockpit, pane: Pane) -> String {
    match state_of(cockpit, pane) {
        Some(SourceState::Unavailable { cause } | SourceState::Degraded { cause }) => cause.clone(),
        _ => String::new(),
    }
}

fn all_ok(cockpit: &Cockpit) -> bool {
    Pane::ALL
        .iter()
        .all(|pane| matches!(state_of(cockpit, *pane), Some(SourceState::Ok)))
}

fn api_answering(cockpit: &Cockpit) -> bool {
    cockpit
        .health
        .get("kubernetes")
        .is_some_and(|h| !h.failing() && h.last_success.is_some())
}

fn recovered(cockpit: &Cockpit) -> bool {
    all_ok(cockpit) && api_answering(cockpit)
}

/// Polls `check` until it holds, or fails naming `what`.
fn poll(what: &str, deadline: Duration, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// Servers.

async fn serve(scenario: &str, token: Option<&str>) -> Server {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = scenarios::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    options.speed = 0.0;
    options.bookmark_interval = Duration::from_secs(2);
    if let Some(token) = token {
        options.token = Some(token.to_string());
        options.require_token = true;
    }
    Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"))
}

/// Scales a Deployment through the server's API, as `kubectl scale` would: a change every
/// watcher must deliver.
async fn scale(server: &Server, namespace: &str, name: &str, replicas: u32) {
    let url = format!(
        "http://{}/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        server.addr
    );
    let response = reqwest::Client::new()
        .patch(url)
        .bearer_auth(&server.token)
        .header("content-type", "application/merge-patch+json")
        .body(format!("{{\"spec\":{{\"replicas\":{replicas}}}}}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("scale {namespace}/{name}: {e}"));
    assert!(
        response.status().is_success(),
        "scale {namespace}/{name}: {}",
        response.status()
    );
}

fn write_kubeconfig(server: &Server, dir: &Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// `kockpit sim serve` as a process of its own, so it can be stopped, continued, killed
/// and started again on the same port with the same token.
struct ServeProcess {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    token: String,
    kubeconfig: PathBuf,
}

impl ServeProcess {
    fn start(dir: &Path) -> ServeProcess {
        let mut serve = ServeProcess {
            child: None,
            dir: dir.to_path_buf(),
            port: free_port(),
            token: format!("chaos-token-{}", std::process::id()),
            kubeconfig: dir.join("kubeconfig"),
        };
        serve.launch();
        serve
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
        let log =
            std::fs::File::create(self.dir.join("serve.log")).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(env!("CARGO_BIN_EXE_kockpit"))
            .args(["--scenario", "baseline", "sim", "serve", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--kubeconfig-out")
            .arg(&self.kubeconfig)
            .env("KOCKPIT_SIM_TOKEN", &self.token)
            .env("KOCKPIT_STATE_DIR", self.dir.join("serve-state"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("kockpit sim serve: {e}"));
        self.child = Some(child);
        poll("sim serve to write its kubeconfig", DEADLINE, || {
            self.kubeconfig.exists()
        });
    }

    fn pid(&self) -> Pid {
        let id = self.child.as_ref().map_or(0, Child::id);
        Pid::from_raw(i32::try_from(id).unwrap_or(i32::MAX))
    }

    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap_or_else(|e| panic!("kill -{signal}: {e}"));
    }

    /// Killed without warning, as a crashed or OOM-killed API server.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let pid = self.pid();
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            // A stopped process dies of SIGKILL all the same; continued for good measure.
            let _ = kill(pid, Signal::SIGCONT);
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The API server: stopped, killed and restarted, flaky.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_api_server_is_shown_stale_while_frames_keep_coming_and_recovered_from() {
    let dir = temp_dir("chaos-sigstop");
    let serve = ServeProcess::start(&dir);
    let mut cockpit = Watched::live(&serve.kubeconfig, Screen::Pane(Pane::Nodes));
    cockpit
        .until("the initial sync", DEADLINE, |c, _| {
            c.initial_sync_done && recovered(c)
        })
        .await;

    serve.signal(Signal::SIGSTOP);
    let frames = cockpit.frames;
    // About ten seconds: a probe every 2 s with a 5 s timeout.
    cockpit
        .until(
            "the pane to say the API server is not answering, and how old its data is",
            Duration::from_secs(20),
            |c, screen| {
                cause(c, Pane::Nodes).starts_with("API server not answering")
                    && screen.contains("API server not answering")
                    && screen.contains("last good data")
                    && c.health.get("kubernetes").is_some_and(|h| h.failing())
            },
        )
        .await;
    assert!(
        cockpit.frames > frames + 3,
        "frames kept coming while the server was stopped ({} then {})",
        frames,
        cockpit.frames
    );

    serve.signal(Signal::SIGCONT);
    cockpit
        .until("every pane to recover", DEADLINE, |c, _| recovered(c))
        .await;
    cockpit.stop().await;
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_api_server_is_relisted_from() {
    let dir = temp_dir("chaos-restart");
    let mut serve = ServeProcess::start(&dir);
    // The Nodes pane, whose source line says how old its data is.
    let mut cockpit = Watched::live(&serve.kubeconfig, Screen::Pane(Pane::Nodes));
    cockpit
        .until("the initial sync", DEADLINE, |c, _| {
            c.initial_sync_done
                && recovered(c)
                && c.nodes.as_ref().is_some_and(|n| !n.nodes.is_empty())
        })
        .await;

    serve.kill();
    cockpit
        .until(
            "the panes to say the server is gone, with the age of their data",
            DEADLINE,
            |c, screen| {
                let nodes = state_of(c, Pane::Nodes);
                matches!(
                    nodes,
                    Some(SourceState::Degraded { .. } | SourceState::Unavailable { .. })
                ) && c
                    .sources
                    .get(&Pane::Nodes)
                    .is_some_and(|s| Some(s.at) < c.now)
                    && screen.contains("last good data")
            },
        )
        .await;

    // The same address and token, a new history: watches resuming from the old server's
    // resourceVersions get 410 and list again.
    serve.launch();
    cockpit
        .until(
            "every pane to recover from the new server",
            DEADLINE,
            |c, _| recovered(c) && c.nodes.as_ref().is_some_and(|n| !n.nodes.is_empty()),
        )
        .await;
    cockpit.stop().await;
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_reset_connections_slow_answers_and_410s_are_ridden_out() {
    let server = serve("baseline", None).await;
    let dir = temp_dir("chaos-flaky");
    let kubeconfig = write_kubeconfig(&server, &dir);
    let mut cockpit = Watched::live(&kubeconfig, Screen::Pane(Pane::Nodes));
    cockpit
        .until("the initial sync", DEADLINE, |c, _| {
            c.initial_sync_done && recovered(c)
        })
        .await;
    let set = |specs: &[&str]| {
        server.faults.set(
            specs
                .iter()
                .map(|s| Fault::parse(s).unwrap_or_else(|e| panic!("{e}")))
                .collect(),
        )
    };

    // Watches closed every two seconds, and a relist answered with 410: a Deployment
    // scaled meanwhile still arrives, nothing turns stale.
    let deployment = cockpit
        .cockpit()
        .workloads
        .as_ref()
        .and_then(|w| w.workloads.iter().find(|w| w.kind == "Deployment"))
        .map(|w| (w.namespace.clone(), w.name.clone(), w.replicas))
        .unwrap_or_else(|| panic!("no Deployment in the scenario"));
    for (round, faults) in [&["watch-drop:2s"][..], &["410:watch"][..]]
        .iter()
        .enumerate()
    {
        set(faults);
        let (namespace, name, replicas) = &deployment;
        let wanted = replicas + 1 + round as u32;
        scale(&server, namespace, name, wanted).await;
        cockpit
            .until(
                &format!("a change to arrive despite {faults:?}"),
                DEADLINE,
                |c, _| {
                    let scaled = c.workloads.as_ref().is_some_and(|w| {
                        w.workloads.iter().any(|w| {
                            &w.name == name && &w.namespace == namespace && w.replicas == wanted
                        })
                    });
                    scaled && recovered(c)
                },
            )
            .await;
        set(&[]);
    }

    // Half the requests' connections reset: the panes say so, then recover.
    set(&["reset:0.5", "watch-drop:1s"]);
    cockpit
        .until("reset connections to show", DEADLINE, |c, _| {
            c.health
                .get("kubernetes")
                .is_some_and(|h| h.last_error.as_deref().is_some_and(|e| !e.is_empty()))
                && !all_ok(c)
        })
        .await;
    set(&[]);
    cockpit
        .until("recovery after resets", DEADLINE, |c, _| recovered(c))
        .await;

    // Every answer delayed by 5 s: frames keep coming, the probe notices, then recovery.
    set(&["slow:5s"]);
    let frames = cockpit.frames;
    cockpit
        .until("slow answers to show", DEADLINE, |c, _| {
            c.health
                .get("kubernetes")
                .is_some_and(|h| h.failing() || h.latency_ms.is_some_and(|ms| ms >= 4_000.0))
        })
        .await;
    assert!(cockpit.frames > frames, "frames kept coming");
    set(&[]);
    cockpit
        .until("recovery after slow answers", DEADLINE, |c, _| recovered(c))
        .await;
    cockpit.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Prometheus: a real one, behind a proxy that fails on demand.

const PASS: u8 = 0;
const ERROR_500: u8 = 1;
const HANG: u8 = 2;
const GARBAGE: u8 = 3;
const PARTIAL: u8 = 4;

/// Forwards to `upstream`, or misbehaves as `mode` says.
async fn prometheus_proxy(upstream: String, mode: Arc<AtomicU8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (upstream, mode, client) = (upstream.clone(), mode.clone(), client.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    proxy_answer(
                        request,
                        upstream.clone(),
                        mode.load(Ordering::SeqCst),
                        client.clone(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

async fn proxy_answer(
    request: hyper::Request<hyper::body::Incoming>,
    upstream: String,
    mode: u8,
    client: reqwest::Client,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    use http_body_util::BodyExt as _;
    let reply = |status: u16, body: Vec<u8>| {
        let mut response =
            hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        Ok(response)
    };
    match mode {
        ERROR_500 => return reply(500, b"internal server error".to_vec()),
        HANG => {
            std::future::pending::<()>().await;
        }
        GARBAGE => return reply(200, b"\x00\x01<html>not prometheus</html>".to_vec()),
        _ => {}
    }
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let url = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("", |p| p.as_str())
    );
    let mut forwarded = client.request(parts.method.clone(), url).body(body);
    if let Some(content_type) = parts.headers.get("content-type") {
        forwarded = forwarded.header("content-type", content_type.as_bytes());
    }
    let Ok(answer) = forwarded.send().await else {
        return reply(502, b"bad gateway".to_vec());
    };
    let status = answer.status().as_u16();
    let mut bytes = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    if mode == PARTIAL {
        // The answer breaks off half way, as through a proxy that gave up.
        bytes.truncate(bytes.len() / 2);
    }
    reply(status, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_failing_hanging_garbled_or_cut_short_shows_and_recovers() {
    // The simulator's clock runs here, so its counters move between scrapes.
    let server = {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let scenario = scenarios::load("dns-storm").unwrap_or_else(|e| panic!("{e}"));
        let mut options = ServeOptions::new(scenario);
        options.speed = 20.0;
        Server::start(options)
            .await
            .unwrap_or_else(|e| panic!("sim serve: {e}"))
    };
    let dir = temp_dir("chaos-prometheus");
    let kubeconfig = write_kubeconfig(&server, &dir);
    let (_prometheus, upstream, log) = start_prometheus(
        &dir,
        &format!(
            "  - job_name: sim\n    static_configs:\n      - targets: ['{}']\n",
            server.addr
        ),
    );
    let mode = Arc::new(AtomicU8::new(PASS));
    let proxy = prometheus_proxy(upstream, mode.clone()).await;
    let mut prometheus = PrometheusOptions::new(proxy, Default::default());
    prometheus.query_timeout = Duration::from_secs(2);
    prometheus.schedule.refresh = Duration::from_millis(500);
    prometheus.schedule.rate_window = "8s".into();
    let mut cockpit = Watched::start(
        LiveOptions {
            kubeconfig: Some(kubeconfig),
            prometheus: Some(prometheus),
            ..LiveOptions::default()
        },
        Screen::Pane(Pane::Dns),
    );
    let metrics_flowing = |c: &Cockpit| {
        c.dns
            .as_ref()
            .and_then(|d| d.metrics.as_ref())
            .is_some_and(|m| m.qps > 0.0)
            && matches!(state_of(c, Pane::Dns), Some(SourceState::Ok))
    };
    cockpit
        .until(
            "CoreDNS figures from Prometheus",
            Duration::from_secs(120),
            |c, _| metrics_flowing(c),
        )
        .await;
    let _ = log;
    for (bad, says) in [
        (ERROR_500, "HTTP 500"),
        (HANG, "no answer within"),
        (GARBAGE, "unexpected answer"),
        (PARTIAL, ""),
    ] {
        mode.store(bad, Ordering::SeqCst);
        let frames = cockpit.frames;
        cockpit
            .until(
                &format!("Prometheus fault {bad} to show"),
                DEADLINE,
                |c, screen| {
                    let cause = cause(c, Pane::Dns);
                    cause.contains("Prometheus")
                        && cause.contains(says)
                        && screen.contains("Prometheus")
                },
            )
            .await;
        assert!(cockpit.frames > frames, "frames kept coming");
        mode.store(PASS, Ordering::SeqCst);
        cockpit
            .until(&format!("recovery from fault {bad}"), DEADLINE, |c, _| {
                metrics_flowing(c)
            })
            .await;
    }
    cockpit.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// The exec credential plugin: hanging, failing, and a token that expires mid-session.

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
    let path = dir.join("kubeconfig-plugin");
    std::fs::write(&path, with_token.replace(&token_line, &exec)).unwrap_or_else(|e| panic!("{e}"));
    path
}

const HANGING: &str = "sleep 600";
const FAILING: &str = "echo 'error: SSO session expired, run aws sso login' >&2; exit 255";

fn plugin_options(kubeconfig: PathBuf, exec_timeout: Option<Duration>) -> LiveOptions {
    LiveOptions {
        kubeconfig: Some(kubeconfig),
        exec_timeout,
        ..LiveOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_plugin_is_named_while_it_is_waited_for_and_stopped_at_its_timeout() {
    let server = serve("baseline", Some("hanging-token")).await;
    let dir = temp_dir("chaos-plugin-hang");
    let kubeconfig = kubeconfig_with_plugin(&server, &dir, HANGING);
    let mut cockpit = Watched::start(
        plugin_options(kubeconfig, Some(Duration::from_secs(3))),
        Screen::Pane(Pane::Dns),
    );
    cockpit
        .until(
            "the pane to name the plugin it waits for",
            DEADLINE,
            |c, screen| {
                cause(c, Pane::Dns)
                    .starts_with("credential plugin `sh -c sleep 600` has not answered for")
                    && screen.contains("credential plugin `sh -c sleep 600` has not answered")
            },
        )
        .await;
    assert!(
        cause(cockpit.cockpit(), Pane::Dns).ends_with("(stopped at 3s)"),
        "{}",
        cause(cockpit.cockpit(), Pane::Dns)
    );
    cockpit
        .until("the plugin to be stopped", DEADLINE, |c, _| {
            c.initial_sync_done
                && cause(c, Pane::Nodes)
                    == "credential plugin `sh -c sleep 600` did not answer within 3s and was stopped"
        })
        .await;
    assert!(
        cockpit.cockpit().nothing_read().is_some(),
        "nothing was read: {:?}",
        cockpit.cockpit().sources
    );
    cockpit.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_plugin_is_quoted_in_its_own_words_first() {
    let server = serve("baseline", Some("failing-token")).await;
    let dir = temp_dir("chaos-plugin-fail");
    let kubeconfig = kubeconfig_with_plugin(&server, &dir, FAILING);
    let mut cockpit = Watched::start(plugin_options(kubeconfig, None), Screen::Pane(Pane::Dns));
    cockpit
        .until("the initial sync", DEADLINE, |c, screen| {
            c.initial_sync_done && screen.contains("SSO session expired")
        })
        .await;
    let dns = cause(cockpit.cockpit(), Pane::Dns);
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
    let reason = cockpit.cockpit().nothing_read().unwrap_or_default();
    assert!(reason.starts_with("error: SSO session expired"), "{reason}");
    cockpit.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_server_refuses_makes_kockpit_run_the_plugin_again() {
    let server = serve("baseline", Some("token-one")).await;
    let dir = temp_dir("chaos-plugin-401");
    let token_file = dir.join("token");
    let runs = dir.join("runs");
    std::fs::write(&token_file, "token-one").unwrap_or_else(|e| panic!("{e}"));
    let script = format!(
        "echo run >> {runs}; printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$(cat {token})\"",
        runs = runs.display(),
        token = token_file.display()
    );
    let kubeconfig = kubeconfig_with_plugin(&server, &dir, &script);
    let mut cockpit = Watched::start(plugin_options(kubeconfig, None), Screen::Pane(Pane::Nodes));
    cockpit
        .until("the served cluster", DEADLINE, |c, _| {
            c.initial_sync_done && c.nodes.as_ref().is_some_and(|n| !n.nodes.is_empty())
        })
        .await;
    let run_count = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(run_count(), 1, "one token serves every request");

    // The token expires mid-session: the server accepts only a new one, and the watches
    // are cut so they must come back with it.
    std::fs::write(&token_file, "token-two").unwrap_or_else(|e| panic!("{e}"));
    server.rotate_token("token-two");
    server.faults.set(vec![
        Fault::parse("watch-drop:1s").unwrap_or_else(|e| panic!("{e}")),
    ]);
    cockpit
        .until(
            "a request to be refused with the old token",
            DEADLINE,
            |c, _| {
                c.health
                    .get("kubernetes")
                    .and_then(|h| h.last_error.as_deref())
                    .is_some_and(|e| e.contains("401") || e.contains("Unauthorized"))
                    || Pane::ALL.iter().any(|p| cause(c, *p).contains("401"))
            },
        )
        .await;
    server.faults.set(Vec::new());
    cockpit
        .until("every pane back with the new token", DEADLINE, |c, _| {
            recovered(c)
        })
        .await;
    assert!(run_count() >= 2, "the plugin ran again after the 401");
    cockpit.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The binary quits on `q` while a plugin hangs, and the terminal comes back.
#[test]
fn q_quits_at_once_while_the_plugin_hangs() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let server = runtime.block_on(serve("baseline", Some("tui-hang")));
    let dir = temp_dir("chaos-plugin-tui");
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

/// Exit code 3: the source's state arrived and nothing could be read (README).
const EXIT_NOTHING_READ: i32 = 3;

#[test]
fn snapshot_exits_non_zero_when_the_plugin_hangs_or_fails() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let server = runtime.block_on(serve("baseline", Some("snapshot-token")));
    for (name, script, extra) in [
        ("hang", HANGING, &["--exec-timeout", "2s"][..]),
        ("fail", FAILING, &[][..]),
    ] {
        let dir = temp_dir(&format!("chaos-plugin-snapshot-{name}"));
        let kubeconfig = kubeconfig_with_plugin(&server, &dir, script);
        let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
            .arg("snapshot")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra)
            .env("KOCKPIT_CONFIG_DIR", dir.join("config"))
            .env("KOCKPIT_STATE_DIR", dir.join("state"))
            .env("KOCKPIT_CACHE_DIR", dir.join("cache"))
            .output()
            .unwrap_or_else(|e| panic!("kockpit snapshot: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {stderr}"));
        assert_eq!(
            output.status.code(),
            Some(EXIT_NOTHING_READ),
            "{name}: {stderr}"
        );
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

// ---------------------------------------------------------------------------------------
// The terminal: a resize storm, SIGHUP, SIGTERM and a panic.

/// The pid of kockpit inside the tmux session (the child of the pane's shell).
fn kockpit_pid(tmux: &TmuxSession) -> Pid {
    let shell = tmux.pane_pid();
    let children =
        std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap_or_default();
    let pid = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<i32>().ok())
        .unwrap_or_else(|| panic!("kockpit is not running under pid {shell}"));
    Pid::from_raw(pid)
}

fn recording_is_whole(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let recording =
        kockpit::backend::replay::format::read_recording(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recording.damage, None, "the recording was finished");
    recording.records.len()
}

#[test]
fn a_resize_storm_sighup_sigterm_and_a_panic_leave_the_terminal_and_files_in_order() {
    let dir = temp_dir("chaos-terminal");
    for (name, signal) in [("hup", Signal::SIGHUP), ("term", Signal::SIGTERM)] {
        let recording = dir.join(format!("{name}.kock"));
        let recording_arg = recording.display().to_string();
        let tmux = TmuxSession::start(
            &format!("chaos-{name}"),
            100,
            30,
            &[
                "--demo",
                "--scenario",
                "spot-interruption",
                "--record",
                &recording_arg,
            ],
            &[],
        );
        tmux.wait_for("the cockpit", |s| s.contains("SIMULATED"));
        if signal == Signal::SIGHUP {
            // A resize storm first: the cockpit keeps drawing at whatever size it is left.
            for i in 0..40u16 {
                tmux.resize(60 + (i % 7) * 10, 15 + (i % 5) * 5);
            }
            tmux.resize(90, 25);
            let before = tmux.screen();
            tmux.wait_for("frames at the new size after the storm", |s| {
                s != before && s.lines().next().is_some_and(|l| l.contains("kockpit"))
            });
        }
        kill(kockpit_pid(&tmux), signal).unwrap_or_else(|e| panic!("{e}"));
        tmux.wait_for(&format!("kockpit to exit on {signal}"), |s| {
            s.contains("KOCKPIT-EXITED-0")
        });
        assert_eq!(
            tmux.alternate_screen(),
            "0",
            "the terminal left the cockpit's screen"
        );
        assert!(
            recording_is_whole(&recording) > 1,
            "the recording holds the session"
        );
    }

    let state = dir.join("state");
    let state_arg = state.display().to_string();
    let tmux = TmuxSession::start(
        "chaos-panic",
        100,
        30,
        &["--demo"],
        &[
            ("KOCKPIT_TEST_PANIC", "1"),
            ("KOCKPIT_STATE_DIR", &state_arg),
        ],
    );
    tmux.wait_for("the cockpit", |s| s.contains("SIMULATED"));
    tmux.send(&["!"]);
    let screen = tmux.wait_for("the crash to be reported on a restored terminal", |s| {
        s.contains("a report is in") && s.contains("KOCKPIT-EXITED-101")
    });
    assert_eq!(tmux.alternate_screen(), "0", "{screen}");
    let report = std::fs::read_dir(&state)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("crash-"))
        .unwrap_or_else(|| panic!("no crash report in {}", state.display()));
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    assert!(text.contains("panic: a test panic"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// The audit log: full or unwritable, the fix is refused.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_is_refused_when_its_audit_line_cannot_be_written() {
    use kockpit::app::fixes::{self, FixJob, FixOutcome};
    use kockpit::domain::fix::PlanContext;
    let server = serve("dns-storm", None).await;
    let dir = temp_dir("chaos-audit");
    let kubeconfig = write_kubeconfig(&server, &dir);
    let writer = kockpit::backend::live::writer::cluster_writer(&LiveOptions {
        kubeconfig: Some(kubeconfig.clone()),
        ..LiveOptions::default()
    });
    let mut sim = Cockpit::new(AnalysisConfig {
        prices: PriceTable::builtin(),
        ..AnalysisConfig::default()
    });
    for update in server.updates().await {
        sim.apply(update);
    }
    let finding = sim
        .findings()
        .iter()
        .find(|f| f.fix.is_some())
        .cloned()
        .unwrap_or_else(|| panic!("no fix offered"));
    let context = PlanContext::from_cockpit(&sim, &finding);
    let unwritable = dir.join("not-a-directory");
    std::fs::write(&unwritable, "").unwrap_or_else(|e| panic!("{e}"));
    for audit_log in [PathBuf::from("/dev/full"), unwritable.join("audit.jsonl")] {
        let prepared = fixes::prepare(&writer, &finding, &context, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let before = server.requests();
        let outcome = fixes::run(
            &writer,
            FixJob::Apply {
                prepared: Box::new(prepared),
                finding: Box::new(finding.clone()),
                context: Box::new(context.clone()),
            },
            Some(&audit_log),
        )
        .await;
        let FixOutcome::ApplyFailed { error, .. } = &outcome else {
            panic!(
                "applied without an audit line ({}): {outcome:?}",
                audit_log.display()
            );
        };
        assert!(error.contains("audit log"), "{error}");
        assert!(error.contains("nothing was written"), "{error}");
        assert_eq!(
            server.requests().writes,
            before.writes,
            "a write reached the server with {}",
            audit_log.display()
        );
    }

    // The command line says so and exits non-zero.
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink("/dev/full", state.join("audit.jsonl"))
        .unwrap_or_else(|e| panic!("{e}"));
    let list = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args(["fix", "list", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("KOCKPIT_STATE_DIR", &state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    let id = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|id| id.contains('#'))
        .unwrap_or_else(|| panic!("the live cluster offers no fix:\n{listed}"));
    {
        let before = server.requests();
        let apply = Command::new(env!("CARGO_BIN_EXE_kockpit"))
            .args([
                "fix",
                "apply",
                id,
                "--yes",
                "--allow-writes",
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .env("KOCKPIT_STATE_DIR", &state)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&apply.stderr);
        assert!(!apply.status.success(), "{stderr}");
        assert!(stderr.contains("audit log"), "{stderr}");
        assert_eq!(server.requests().writes, before.writes, "{stderr}");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
