//! The fleet case: N clusters of NODES nodes and PODS pods each, against N `kockpit sim serve
//! --scale` processes, watched by one cockpit the way `kockpit --context a --context b …`
//! watches them (one live backend per cluster, the runner's inbox, the real update and
//! renderer at 160×48). Phases: sync (every cluster's panes populated); frames of the fleet
//! screen and of one cluster's overview while every server makes CHURN pod changes a second;
//! steady output on the fleet screen at one change a second per server; idle CPU; then the
//! peak RSS.
//!
//! `cargo bench --bench scale -- --fleet 3 --nodes 2000 --pods 60000`; `--fleet 1` is the
//! single-cluster run the fleet's memory is compared with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use kockpit::app::config::{self, Request};
use kockpit::app::fleet;
use kockpit::app::message::Message;
use kockpit::app::runner::{Delivery, Inbox, MAX_FRAMES_PER_SECOND, UPDATE_QUEUE};
use kockpit::app::state::State;
use kockpit::app::timeline;
use kockpit::app::update::{footer_hints, update};
use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::Cockpit;
use kockpit::ui::{self, RenderInput, Screen};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

use super::{
    Counter, HEIGHT, Options, WIDTH, admin, client_for, cpu_seconds, peak_rss_mib, percentile,
    round, scratch, spawn_server,
};

/// One kubeconfig with a context per server (`c1`, `c2`, …), from each server's own.
fn fleet_kubeconfig(dir: &Path, servers: &[PathBuf]) -> (PathBuf, Vec<String>) {
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_string()
    };
    let (mut clusters, mut users, mut contexts, mut names) =
        (String::new(), String::new(), String::new(), Vec::new());
    for (index, path) in servers.iter().enumerate() {
        let name = format!("c{}", index + 1);
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        let server = field(&text, "server:");
        let token = field(&text, "token:");
        let authority = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("certificate-authority-data:"))
            .map(|ca| format!("    certificate-authority-data: {}\n", ca.trim()))
            .unwrap_or_default();
        clusters += &format!("- name: {name}\n  cluster:\n    server: {server}\n{authority}");
        users += &format!("- name: {name}\n  user:\n    token: {token}\n");
        contexts += &format!("- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n");
        names.push(name);
    }
    let path = dir.join("fleet-kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{contexts}current-context: c1\n"
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    (path, names)
}

fn populated(cockpit: &Cockpit) -> bool {
    cockpit.initial_sync_done
        && cockpit.nodes.is_some()
        && cockpit.workloads.is_some()
        && cockpit.spend.is_some()
        && cockpit.gateways.is_some()
}

struct Watched {
    state: State,
    theme: ui::theme::Theme,
    keys: Vec<ui::KeyHint>,
    terminal: Terminal<CrosstermBackend<Counter>>,
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    inbox: Inbox,
    handles: Vec<BackendHandle>,
    last_frame: Option<tokio::time::Instant>,
    frames: BTreeMap<&'static str, Vec<f64>>,
}

impl Watched {
    fn start(kubeconfig: &Path, contexts: &[String]) -> Watched {
        let settings = config::load(&Request::default());
        let mut state = State::new(settings.analysis.clone(), settings.keymap, 1.0);
        fleet::start(&mut state, contexts.to_vec(), &settings.analysis);
        let keys = state.keymap.hints();
        let mut handles = Vec::new();
        let mut receivers = Vec::new();
        for context in contexts {
            let (sender, updates) = mpsc::channel(UPDATE_QUEUE);
            let backend = Box::new(LiveBackend::new(LiveOptions {
                kubeconfig: Some(kubeconfig.to_path_buf()),
                context: Some(context.clone()),
                ..LiveOptions::default()
            }));
            handles.push(backend.start(sender));
            receivers.push(updates);
        }
        let counter = Counter::default();
        let bytes = counter.0.clone();
        let terminal = Terminal::with_options(
            CrosstermBackend::new(counter),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
            },
        )
        .unwrap_or_else(|e| panic!("terminal: {e}"));
        Watched {
            state,
            theme: settings.theme,
            keys,
            terminal,
            bytes,
            inbox: Inbox::new(receivers),
            handles,
            last_frame: None,
            frames: BTreeMap::new(),
        }
    }

    fn draw(&mut self) {
        let started = Instant::now();
        let footer = footer_hints(&self.state);
        let _ = execute!(self.terminal.backend_mut(), BeginSynchronizedUpdate);
        let state = &self.state;
        self.terminal
            .draw(|frame| {
                ui::render(
                    frame,
                    &RenderInput {
                        cockpit: timeline::shown(state),
                        view: &state.view,
                        theme: &self.theme,
                        keys: &self.keys,
                        footer: &footer,
                        notices: &state.notices,
                        fleet: fleet::render_input(state),
                    },
                )
            })
            .unwrap_or_else(|e| panic!("draw: {e}"));
        let _ = execute!(self.terminal.backend_mut(), EndSynchronizedUpdate);
        self.state.dirty = false;
        self.frames
            .entry(self.state.view.screen.title())
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
    }

    async fn run(&mut self, deadline: Instant, done: &dyn Fn(&State) -> bool) -> bool {
        let frame_interval = Duration::from_secs(1) / MAX_FRAMES_PER_SECOND;
        let deadline = tokio::time::Instant::from_std(deadline);
        loop {
            if self.state.dirty
                && self
                    .last_frame
                    .is_none_or(|at| at.elapsed() >= frame_interval)
            {
                self.draw();
                self.last_frame = Some(tokio::time::Instant::now());
            }
            if !self.state.dirty && done(&self.state) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            let next_frame = match (self.state.dirty, self.last_frame) {
                (true, Some(at)) => Some(at + frame_interval),
                _ => None,
            };
            tokio::select! {
                delivery = self.inbox.recv(), if self.inbox.open() => match delivery {
                    Delivery::Updates(cluster, batch) => {
                        update(&mut self.state, Message::ClusterUpdates(cluster, batch));
                    }
                    Delivery::Stopped(cluster) => panic!("cluster {} stopped", cluster.0),
                },
                _ = tokio::time::sleep_until(next_frame.unwrap_or(deadline)), if next_frame.is_some() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    fn show(&mut self, screen: Screen) {
        self.state.view.screen = screen;
        self.state.view.selected = 0;
        self.state.dirty = true;
    }
}

pub async fn measure(clusters: usize, options: Options) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = scratch().join("fleet");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut servers = Vec::new();
    let mut configs = Vec::new();
    for index in 0..clusters {
        let kubeconfig = dir.join(format!("server-{index}"));
        let (child, _) = spawn_server(&options, &kubeconfig);
        servers.push(child);
        configs.push(kubeconfig);
    }
    let mut admins = Vec::new();
    for config in &configs {
        admins.push(client_for(config).await);
    }
    let (kubeconfig, contexts) = fleet_kubeconfig(&dir, &configs);

    // 1. sync: every cluster's panes populated.
    let started = Instant::now();
    let mut watched = Watched::start(&kubeconfig, &contexts);
    let all_populated = |state: &State| fleet::clusters(state).iter().all(|(_, c)| populated(c));
    let synced = watched
        .run(started + Duration::from_secs(600), &all_populated)
        .await;
    assert!(synced, "the clusters did not populate within ten minutes");
    let sync_seconds = started.elapsed().as_secs_f64();
    let rss_after_sync = peak_rss_mib();
    let nodes_seen: Vec<usize> = fleet::clusters(&watched.state)
        .iter()
        .map(|(_, c)| c.nodes.as_ref().map_or(0, |n| n.nodes.len()))
        .collect();

    // 2. frames under churn: the fleet screen, then the first cluster's overview.
    for client in &admins {
        admin(client, "PUT", &format!("rate={} probes=0", options.churn)).await;
    }
    let busy_cpu = cpu_seconds();
    let busy_started = Instant::now();
    let screens = if clusters > 1 {
        vec![Screen::Fleet, Screen::Overview]
    } else {
        vec![Screen::Overview]
    };
    for screen in &screens {
        watched.show(*screen);
        let until = Instant::now() + Duration::from_secs_f64(3.0 * options.frames_seconds);
        watched.run(until, &|_| false).await;
    }
    let busy_cpu_percent =
        (cpu_seconds() - busy_cpu) / busy_started.elapsed().as_secs_f64() * 100.0;

    // 3. steady: one change a second per cluster, on the first screen.
    for client in &admins {
        admin(client, "PUT", "rate=1 probes=0").await;
    }
    watched.show(screens[0]);
    let settle = Duration::from_secs_f64(options.settle_seconds);
    watched.run(Instant::now() + settle, &|_| false).await;
    let bytes = watched.bytes.load(Ordering::Relaxed);
    let steady_started = Instant::now();
    watched
        .run(
            steady_started + Duration::from_secs_f64(2.0 * options.steady_seconds),
            &|_| false,
        )
        .await;
    let steady_bytes_per_sec = (watched.bytes.load(Ordering::Relaxed) - bytes) as f64
        / steady_started.elapsed().as_secs_f64();

    // 4. idle.
    for client in &admins {
        admin(client, "DELETE", "").await;
    }
    watched.run(Instant::now() + 2 * settle, &|_| false).await;
    let idle_cpu = cpu_seconds();
    let idle_started = Instant::now();
    watched
        .run(
            idle_started + Duration::from_secs_f64(options.idle_seconds),
            &|_| false,
        )
        .await;
    let idle_cpu_percent =
        (cpu_seconds() - idle_cpu) / idle_started.elapsed().as_secs_f64() * 100.0;
    let peak = peak_rss_mib();

    for handle in &watched.handles {
        handle.shutdown();
    }
    for mut child in servers {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "fleet bench: {clusters} clusters of {} nodes, {} pods (load average before: {})",
        options.nodes,
        options.pods,
        load.trim()
    );
    let mut frames = serde_json::Map::new();
    for (screen, times) in &watched.frames {
        println!(
            "  frames {screen:<10} {:>5}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
            times.len(),
            percentile(times, 50.0),
            percentile(times, 99.0),
            times.iter().copied().fold(0.0, f64::max)
        );
        frames.insert(
            (*screen).to_string(),
            serde_json::json!(round(percentile(times, 99.0), 2)),
        );
    }
    println!(
        "  sync {sync_seconds:.2} s; nodes seen {nodes_seen:?}; peak RSS {peak:.0} MiB \
         ({rss_after_sync:.0} after sync); steady {steady_bytes_per_sec:.0} B/s; \
         busy CPU {busy_cpu_percent:.0}%; idle CPU {idle_cpu_percent:.1}%"
    );
    println!(
        "{}",
        serde_json::json!({
            "clusters": clusters,
            "nodes": options.nodes,
            "pods": options.pods,
            "churn_per_cluster": options.churn,
            "sync_seconds": round(sync_seconds, 2),
            "nodes_seen": nodes_seen,
            "peak_rss_mib": round(peak, 1),
            "frame_p99_ms": frames,
            "steady_bytes_per_sec": round(steady_bytes_per_sec, 0),
            "busy_cpu_percent": round(busy_cpu_percent, 1),
            "idle_cpu_percent": round(idle_cpu_percent, 2),
        })
    );
}
