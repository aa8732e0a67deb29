//! Scale: kockpit's live mode against `kockpit sim serve --scale NODES,PODS`, with the real
//! app update and the real renderer at 160×48 writing through crossterm into a byte counter.
//! The server runs as its own process, so the resident memory and CPU measured here are
//! kockpit's alone. Phases, in order:
//!
//! 1. sync: from starting the live backend to the first frame drawn with every pane
//!    populated after the backend's initial sync;
//! 2. frames: every screen in turn while the server makes 2000 pod changes a second;
//! 3. latency: the Nodes pane on screen under the same churn, plus probe changes whose
//!    number is looked for in every drawn frame (event-to-screen);
//! 4. steady: one change a second (1 Hz data), bytes written to the terminal per second;
//! 5. idle: no changes at all, CPU over ten seconds; then the peak RSS is read;
//! 6. what single steps of the app cost alone (snapshot clones, `Cockpit::apply`, renders),
//!    for the table only.
//!
//! `cargo bench --bench scale` runs 5000 nodes and 150 000 pods; `-- --nodes N --pods N`
//! other sizes (also `--churn`, `--probes`, `--latency-seconds`, `--idle-seconds`), `--
//! --curve` the 10k/50k/150k series (one process per size). The last line is one JSON
//! object. Under `cargo test` (no `--bench`) it is a small smoke run in process.
//!
//! `-- --soak [MINUTES]` runs the soak instead (see `soak.rs`): churn and the API server's
//! faults in a cycle for 30 minutes, memory, descriptors and tasks sampled throughout.
//! `-- --fleet N` runs the fleet case (see `fleet.rs`): N clusters (2000 nodes and 60 000
//! pods each unless `--nodes`/`--pods` say otherwise) watched side by side.

#[path = "scale/fleet.rs"]
mod fleet;
#[path = "scale/soak.rs"]
mod soak;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use kockpit::app::config::{self, Request};
use kockpit::app::message::Message;
use kockpit::app::runner::{MAX_FRAMES_PER_SECOND, MAX_UPDATES_PER_BATCH, UPDATE_QUEUE};
use kockpit::app::state::State;
use kockpit::app::timeline;
use kockpit::app::update::{footer_hints, update};
use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::{Pane, Update};
use kockpit::ui::theme::Theme;
use kockpit::ui::{self, KeyHint, RenderInput, Screen};
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

/// The system allocator, counting the bytes in use: tells live data from what the
/// allocator keeps (RSS minus this).
struct Counting;

static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(size as u64, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_mib() -> f64 {
    LIVE_BYTES.load(Ordering::Relaxed) as f64 / 1_048_576.0
}

const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;

#[derive(Debug, Clone)]
struct Options {
    nodes: u32,
    pods: u32,
    /// Pod changes per second during the frame and latency phases.
    churn: f64,
    /// Probe changes per second during the latency phase.
    probes: f64,
    frames_seconds: f64,
    latency_seconds: f64,
    steady_seconds: f64,
    idle_seconds: f64,
    /// Time for a screen switch or a churn change to settle before counting.
    settle_seconds: f64,
    /// A small in-process run (cargo test).
    smoke: bool,
}

impl Options {
    fn full() -> Self {
        Options {
            nodes: 5000,
            pods: 150_000,
            churn: 2000.0,
            probes: 10.0,
            frames_seconds: 5.0,
            latency_seconds: 30.0,
            steady_seconds: 5.0,
            idle_seconds: 10.0,
            settle_seconds: 1.0,
            smoke: false,
        }
    }

    fn smoke() -> Self {
        Options {
            nodes: 20,
            pods: 600,
            churn: 200.0,
            probes: 10.0,
            frames_seconds: 0.2,
            latency_seconds: 1.5,
            steady_seconds: 0.5,
            idle_seconds: 1.0,
            settle_seconds: 0.1,
            smoke: true,
        }
    }
}

fn parse_args(args: &[String]) -> Options {
    let mut options = Options::full();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let number = || -> f64 {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{} needs a number, got `{value}`", args[i]))
        };
        match args[i].as_str() {
            "--nodes" => options.nodes = number() as u32,
            "--pods" => options.pods = number() as u32,
            "--churn" => options.churn = number(),
            "--probes" => options.probes = number(),
            "--latency-seconds" => options.latency_seconds = number(),
            "--idle-seconds" => options.idle_seconds = number(),
            "--steady-seconds" => options.steady_seconds = number(),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

/// Counts what would have gone to the terminal.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// (user + system CPU seconds, peak resident MiB) of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time this thread has run, in ms (excludes time it waited for a core).
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e6)
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The number after "probe " on screen, if a whole one is shown.
fn probe_on_screen(buffer: &Buffer) -> Option<u64> {
    let width = buffer.area.width as usize;
    let mut best = None;
    for row in buffer.content.chunks(width) {
        let line: String = row.iter().map(|c| c.symbol()).collect();
        let mut rest = line.as_str();
        while let Some(at) = rest.find("probe ") {
            let after = &rest[at + 6..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let next = after[digits.len()..].chars().next();
            // A truncated number ends in an ellipsis: not a whole probe number.
            if !digits.is_empty()
                && next != Some('…')
                && let Ok(number) = digits.parse::<u64>()
            {
                best = best.max(Some(number));
            }
            rest = after;
        }
    }
    best
}

/// The app side: state, update, the renderer and the terminal, driven as `runner` drives
/// them (drain every queued update, then one frame, at most MAX_FRAMES_PER_SECOND).
struct Cockpit {
    state: State,
    theme: Theme,
    keys: Vec<KeyHint>,
    terminal: Terminal<CrosstermBackend<Counter>>,
    bytes: Arc<AtomicU64>,
    updates: mpsc::Receiver<Update>,
    handle: BackendHandle,
    last_frame: Option<tokio::time::Instant>,
    /// Draw time of every frame, by screen.
    frames: BTreeMap<&'static str, Vec<f64>>,
    /// Updates applied (all kinds).
    applied: u64,
    /// Time `update` took per wake-up, by the heaviest kind of update it took in:
    /// (count, total ms, max ms, total CPU ms).
    update_cost: BTreeMap<&'static str, (u64, f64, f64, f64)>,
    /// Time of every wake-up's `update` while `timing_updates` is on (the churn phases).
    update_ms: Vec<f64>,
    timing_updates: bool,
    /// When the backend was started, and how long until the first frame that showed a
    /// useful overview (the sync's progress line, or data).
    started: Instant,
    first_overview: Option<f64>,
    scan_probes: bool,
    /// (probe number, microseconds since the epoch) when first seen on screen.
    seen: Vec<(u64, u64)>,
}

impl Cockpit {
    fn start(kubeconfig: &Path) -> Cockpit {
        let settings = config::load(&Request::default());
        let state = State::new(settings.analysis, settings.keymap, 1.0);
        let keys = state.keymap.hints();
        let (sender, updates) = mpsc::channel(UPDATE_QUEUE);
        let backend = Box::new(LiveBackend::new(LiveOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            ..LiveOptions::default()
        }));
        let handle = backend.start(sender);
        let counter = Counter::default();
        let bytes = counter.0.clone();
        let terminal = Terminal::with_options(
            CrosstermBackend::new(counter),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
            },
        )
        .unwrap_or_else(|e| panic!("terminal: {e}"));
        Cockpit {
            state,
            theme: settings.theme,
            keys,
            terminal,
            bytes,
            updates,
            handle,
            last_frame: None,
            frames: BTreeMap::new(),
            applied: 0,
            update_cost: BTreeMap::new(),
            update_ms: Vec::new(),
            timing_updates: false,
            started: Instant::now(),
            first_overview: None,
            scan_probes: false,
            seen: Vec::new(),
        }
    }

    fn show(&mut self, screen: Screen) {
        self.state.view.screen = screen;
        self.state.view.table_offset = 0;
        self.state.view.selected = 0;
        self.state.dirty = true;
    }

    /// One frame, as `runner::draw` draws it.
    fn draw(&mut self) {
        let started = Instant::now();
        let footer = footer_hints(&self.state);
        let _ = execute!(self.terminal.backend_mut(), BeginSynchronizedUpdate);
        let state = &self.state;
        let completed = self
            .terminal
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
                        fleet: None,
                    },
                )
            })
            .unwrap_or_else(|e| panic!("draw: {e}"));
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let shown = if self.scan_probes {
            probe_on_screen(completed.buffer)
        } else {
            None
        };
        let _ = execute!(self.terminal.backend_mut(), EndSynchronizedUpdate);
        let at = unix_micros();
        if self.first_overview.is_none() && useful(&self.state) {
            self.first_overview = Some(self.started.elapsed().as_secs_f64());
        }
        self.state.dirty = false;
        self.frames
            .entry(self.state.view.screen.title())
            .or_default()
            .push(elapsed);
        if let Some(number) = shown
            && self.seen.last().is_none_or(|(last, _)| number > *last)
        {
            self.seen.push((number, at));
        }
    }

    /// Takes in one wake-up's queued updates as the app does (`Message::Backends`: each
    /// taken in, then one analysis), timed as one step under the name of its heaviest kind.
    fn apply(&mut self, batch: Vec<Update>) {
        let has = |wanted: fn(&Update) -> bool| batch.iter().any(wanted);
        let nodes = has(|u| matches!(u, Update::Nodes(_)));
        let workloads = has(|u| matches!(u, Update::Workloads(_)));
        let kind = match (nodes, workloads) {
            (true, true) => "nodes+workloads",
            (true, false) => "nodes",
            (false, true) => "workloads",
            _ if has(|u| matches!(u, Update::Dns(_) | Update::Gateways(_) | Update::Flows(_))) => {
                "dns/gw/flows"
            }
            _ => "clock/other",
        };
        self.applied += batch.len() as u64;
        let cpu = thread_cpu_ms();
        let started = Instant::now();
        update(&mut self.state, Message::Backends(batch));
        let took = started.elapsed().as_secs_f64() * 1000.0;
        let cpu = thread_cpu_ms() - cpu;
        if self.timing_updates {
            self.update_ms.push(took);
        }
        let cost = self.update_cost.entry(kind).or_default();
        cost.0 += 1;
        cost.1 += took;
        cost.2 = cost.2.max(took);
        cost.3 += cpu;
    }

    /// Runs the loop until `deadline`, or until `done` holds with nothing left to draw.
    async fn run(&mut self, deadline: Instant, done: &dyn Fn(&State) -> bool) -> bool {
        let frame_interval = Duration::from_secs(1) / MAX_FRAMES_PER_SECOND;
        let deadline = tokio::time::Instant::from_std(deadline);
        loop {
            if self.state.dirty {
                let due = self
                    .last_frame
                    .is_none_or(|at| at.elapsed() >= frame_interval);
                if due {
                    self.draw();
                    self.last_frame = Some(tokio::time::Instant::now());
                }
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
                received = self.updates.recv() => match received {
                    Some(first) => {
                        let mut batch = vec![first];
                        while batch.len() < MAX_UPDATES_PER_BATCH {
                            let Ok(next) = self.updates.try_recv() else { break };
                            batch.push(next);
                        }
                        self.apply(batch);
                    }
                    None => panic!("the live backend stopped"),
                },
                _ = tokio::time::sleep_until(next_frame.unwrap_or(deadline)), if next_frame.is_some() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// The fastest of `runs` runs of `work`, in ms: what one step costs without interference.
fn fastest(runs: usize, mut work: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min)
}

/// Where the app's time goes with this cluster's snapshots: each step alone.
fn diagnose(cockpit: &mut Cockpit) -> Vec<(String, f64)> {
    use kockpit::domain::{rightsizing, spend};
    let model = cockpit.state.cockpit.clone();
    let (Some(nodes), Some(workloads)) = (model.nodes.clone(), model.workloads.clone()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    out.push((
        "clone nodes snapshot".into(),
        fastest(10, || drop(std::hint::black_box(nodes.clone()))),
    ));
    out.push((
        "clone workloads snapshot".into(),
        fastest(10, || drop(std::hint::black_box(workloads.clone()))),
    ));
    let region = model.cluster.region.clone();
    out.push((
        "spend::compute".into(),
        fastest(10, || {
            drop(std::hint::black_box(spend::compute(
                &nodes,
                Some(&workloads),
                &model.config.prices,
                &region,
            )))
        }),
    ));
    let costs = model
        .spend
        .as_ref()
        .map(spend::unit_costs)
        .unwrap_or_default();
    out.push((
        "rightsizing::analyze".into(),
        fastest(10, || {
            drop(std::hint::black_box(rightsizing::analyze(
                &workloads,
                &costs,
                &model.config.thresholds,
            )))
        }),
    ));
    for (name, update) in [
        ("Cockpit::apply nodes", Update::Nodes(nodes.clone())),
        (
            "Cockpit::apply workloads",
            Update::Workloads(workloads.clone()),
        ),
    ] {
        let mut copies: Vec<(kockpit::domain::Cockpit, Update)> =
            (0..10).map(|_| (model.clone(), update.clone())).collect();
        out.push((
            name.into(),
            fastest(10, || {
                if let Some((mut c, u)) = copies.pop() {
                    c.apply(u);
                }
            }),
        ));
    }
    for screen in Screen::ALL {
        cockpit.show(screen);
        let frames = cockpit.frames.entry(screen.title()).or_default().len();
        let mut times = Vec::new();
        for _ in 0..20 {
            cockpit.state.dirty = true;
            // A changed screen each time: draw what the diff would send after a screen switch.
            cockpit.draw();
            times.push(
                cockpit.frames[screen.title()]
                    .last()
                    .copied()
                    .unwrap_or(f64::NAN),
            );
        }
        cockpit
            .frames
            .entry(screen.title())
            .or_default()
            .truncate(frames);
        out.push((
            format!("render {}", screen.title()),
            times.iter().copied().fold(f64::INFINITY, f64::min),
        ));
    }
    cockpit.show(Screen::Overview);
    out
}

/// The overview says something an engineer can use: what is still loading, or data.
fn useful(state: &State) -> bool {
    let c = &state.cockpit;
    let progress = c
        .health
        .get("kubernetes")
        .and_then(|h| h.detail.as_deref())
        .is_some_and(|d| d.contains("kinds listed"));
    c.initial_sync_done
        || progress
        || c.dns.is_some()
        || c.gateways.is_some()
        || c.flows.is_some()
        || c.nodes.is_some()
        || c.workloads.is_some()
}

fn populated(state: &State) -> bool {
    let c = &state.cockpit;
    c.initial_sync_done
        && c.dns.is_some()
        && c.gateways.is_some()
        && c.flows.is_some()
        && c.nodes.is_some()
        && c.workloads.is_some()
        && c.spend.is_some()
}

/// The server side: a child process running the release binary, or (smoke) in process.
enum ServerSide {
    Process(Child),
    InProcess(kockpit::backend::sim::serve::Server),
}

impl ServerSide {
    async fn stop(self) {
        match self {
            ServerSide::Process(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            ServerSide::InProcess(server) => server.stop().await,
        }
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kockpit-scale-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn spawn_server(options: &Options, kubeconfig: &Path) -> (Child, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args([
            "sim",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "0.0001",
        ])
        .arg("--scale")
        .arg(format!("{},{}", options.nodes, options.pods))
        .arg("--kubeconfig-out")
        .arg(kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start kockpit sim serve: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("listening on") => break,
            Some(_) => continue,
            None => panic!("kockpit sim serve exited before listening"),
        }
    }
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, started.elapsed())
}

async fn admin(client: &kube::Client, method: &str, body: &str) -> serde_json::Value {
    let request = hyper::Request::builder()
        .method(method)
        .uri("/_kockpit/churn")
        .body(body.as_bytes().to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    let text = client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("/_kockpit/churn: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("/_kockpit/churn: {e}: {text}"))
}

/// How many objects the server holds at `path` (a list URL): one item asked for, plus the
/// `remainingItemCount` the server reports after it.
async fn server_count(client: &kube::Client, path: &str) -> u64 {
    let request = hyper::Request::builder()
        .uri(format!("{path}?limit=1"))
        .body(Vec::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let text = client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let list: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let first = list["items"].as_array().map_or(0, Vec::len) as u64;
    first + list["metadata"]["remainingItemCount"].as_u64().unwrap_or(0)
}

async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap_or_else(|e| panic!("{e}"));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    kube::Client::try_from(config).unwrap_or_else(|e| panic!("{e}"))
}

struct Report {
    options: Options,
    server_start_seconds: f64,
    first_overview_seconds: f64,
    sync_seconds: f64,
    nodes_seen: usize,
    pods_on_nodes: u64,
    /// Pods the Nodes pane lists as pending.
    pending_seen: u64,
    /// What the server holds, counted with `remainingItemCount`.
    server_nodes: u64,
    server_pods: u64,
    workloads_seen: usize,
    peak_rss_mib: f64,
    /// (resident, peak) MiB after the sync and after the churn.
    rss_after_sync: (f64, f64),
    rss_after_churn: (f64, f64),
    frames: BTreeMap<&'static str, Vec<f64>>,
    latencies_ms: Vec<f64>,
    update_cost: BTreeMap<&'static str, (u64, f64, f64, f64)>,
    /// Every wake-up's `update` cost under churn, ms.
    update_ms: Vec<f64>,
    /// What single steps cost alone (fastest of several runs), in ms.
    steps: Vec<(String, f64)>,
    /// (when, resident MiB, heap MiB in use, retained timeline updates).
    memory: Vec<(&'static str, f64, f64, usize)>,
    probes_sent: usize,
    events_per_sec: f64,
    steady: Vec<(&'static str, f64)>,
    idle_cpu_percent: f64,
    busy_cpu_percent: f64,
}

async fn measure(options: Options) -> Report {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = scratch();
    let kubeconfig = dir.join("kubeconfig");
    let (server, server_start) = if options.smoke {
        let scenario =
            kockpit::backend::sim::scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
        let mut serve = kockpit::backend::sim::serve::ServeOptions::new(scenario);
        serve.speed = 0.0;
        serve.scale = Some((options.nodes, options.pods));
        let started = Instant::now();
        let server = kockpit::backend::sim::serve::Server::start(serve)
            .await
            .unwrap_or_else(|e| panic!("sim serve: {e}"));
        std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
        (ServerSide::InProcess(server), started.elapsed())
    } else {
        let (child, took) = spawn_server(&options, &kubeconfig);
        (ServerSide::Process(child), took)
    };
    let client = client_for(&kubeconfig).await;

    // 1. sync
    let started = Instant::now();
    let mut cockpit = Cockpit::start(&kubeconfig);
    let synced = cockpit
        .run(started + Duration::from_secs(600), &populated)
        .await;
    assert!(synced, "the panes did not populate within ten minutes");
    let sync_seconds = started.elapsed().as_secs_f64();
    let rss_after_sync = (rss_mib(), peak_rss_mib());
    let mut memory = Vec::new();
    let mut remember = |when: &'static str, cockpit: &Cockpit| {
        memory.push((when, rss_mib(), live_mib(), cockpit.state.timeline.len()));
    };
    remember("after sync", &cockpit);
    let nodes = cockpit.state.cockpit.nodes.as_ref().expect("nodes");
    let nodes_seen = nodes.nodes.len();
    let pods_on_nodes: u64 = nodes.nodes.iter().map(|n| u64::from(n.pods)).sum();
    let pending_seen = nodes.pending_pods.len() as u64;
    let workloads_seen = cockpit
        .state
        .cockpit
        .workloads
        .as_ref()
        .map_or(0, |w| w.workloads.len());
    // Correctness: what the panes hold against what the server holds (the clock is still).
    let server_nodes = server_count(&client, "/api/v1/nodes").await;
    let server_pods = server_count(&client, "/api/v1/pods").await;

    // 2. every screen under churn
    cockpit.timing_updates = true;
    admin(&client, "PUT", &format!("rate={} probes=0", options.churn)).await;
    let busy_cpu_start = cpu_seconds();
    let busy_started = Instant::now();
    for screen in Screen::ALL {
        cockpit.show(screen);
        let until = Instant::now() + Duration::from_secs_f64(options.frames_seconds);
        cockpit.run(until, &|_| false).await;
    }

    remember("after the frames phase", &cockpit);

    // 3. event to screen on the Nodes pane
    cockpit.show(Screen::Pane(Pane::Nodes));
    cockpit.scan_probes = true;
    let before = admin(&client, "GET", "").await;
    let events_before = before["events"].as_u64().unwrap_or(0);
    let latency_started = Instant::now();
    admin(
        &client,
        "PUT",
        &format!("rate={} probes={}", options.churn, options.probes),
    )
    .await;
    let until = Instant::now() + Duration::from_secs_f64(options.latency_seconds);
    cockpit.run(until, &|_| false).await;
    let log = admin(&client, "PUT", "rate=0 probes=0").await;
    let churn_elapsed = latency_started.elapsed().as_secs_f64();
    let busy_cpu_percent =
        (cpu_seconds() - busy_cpu_start) / busy_started.elapsed().as_secs_f64() * 100.0;
    // Let the last probes reach the screen.
    cockpit
        .run(Instant::now() + Duration::from_millis(500), &|_| false)
        .await;
    cockpit.scan_probes = false;
    cockpit.timing_updates = false;
    let events_per_sec =
        (log["events"].as_u64().unwrap_or(0) - events_before) as f64 / churn_elapsed;
    let sent: Vec<(u64, u64)> = log["probes"]
        .as_array()
        .map(|probes| {
            probes
                .iter()
                .filter_map(|p| Some((p[0].as_u64()?, p[1].as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    // A probe that a later one replaced before a frame showed it reached the screen with
    // that later one: its state was on screen from then on.
    let latencies_ms: Vec<f64> = sent
        .iter()
        .filter_map(|(number, sent_at)| {
            let shown = cockpit.seen.iter().find(|(seen, _)| seen >= number)?;
            Some(shown.1.saturating_sub(*sent_at) as f64 / 1000.0)
        })
        .collect();
    let probes_sent = sent.len();
    remember("after the latency phase", &cockpit);
    let rss_after_churn = (rss_mib(), peak_rss_mib());

    // 4. steady state: one change a second
    admin(&client, "PUT", "rate=1 probes=0").await;
    let mut steady = Vec::new();
    for screen in Screen::ALL {
        cockpit.show(screen);
        // The switch itself redraws the whole screen: count from the next second on.
        let settle = Duration::from_secs_f64(options.settle_seconds);
        cockpit.run(Instant::now() + settle, &|_| false).await;
        let bytes = cockpit.bytes.load(Ordering::Relaxed);
        let started = Instant::now();
        let until = started + Duration::from_secs_f64(options.steady_seconds);
        cockpit.run(until, &|_| false).await;
        let written = cockpit.bytes.load(Ordering::Relaxed) - bytes;
        steady.push((
            screen.title(),
            written as f64 / started.elapsed().as_secs_f64(),
        ));
    }

    // 5. idle: nothing changes
    admin(&client, "DELETE", "").await;
    cockpit.show(Screen::Overview);
    let settle = Duration::from_secs_f64(2.0 * options.settle_seconds);
    cockpit.run(Instant::now() + settle, &|_| false).await;
    let cpu_before = cpu_seconds();
    let idle_started = Instant::now();
    cockpit
        .run(
            idle_started + Duration::from_secs_f64(options.idle_seconds),
            &|_| false,
        )
        .await;
    let idle_cpu_percent =
        (cpu_seconds() - cpu_before) / idle_started.elapsed().as_secs_f64() * 100.0;
    let peak_rss_mib = peak_rss_mib();
    remember("after the idle phase", &cockpit);
    // Last, so that its copies of the model do not count in the peak above.
    let steps = diagnose(&mut cockpit);

    cockpit.handle.shutdown();
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Report {
        options,
        server_start_seconds: server_start.as_secs_f64(),
        first_overview_seconds: cockpit.first_overview.unwrap_or(f64::NAN),
        sync_seconds,
        nodes_seen,
        pods_on_nodes,
        pending_seen,
        server_nodes,
        server_pods,
        workloads_seen,
        peak_rss_mib,
        rss_after_sync,
        rss_after_churn,
        frames: cockpit.frames,
        latencies_ms,
        update_cost: cockpit.update_cost.clone(),
        update_ms: std::mem::take(&mut cockpit.update_ms),
        steps,
        memory,
        probes_sent,
        events_per_sec,
        steady,
        idle_cpu_percent,
        busy_cpu_percent,
    }
}

fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

fn print(report: &Report) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "scale bench: {} nodes, {} pods (load average before: {})",
        report.options.nodes,
        report.options.pods,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  server start {:.1} s; seen {} nodes, {} pods on nodes, {} pending, {} workload rows",
        report.server_start_seconds,
        report.nodes_seen,
        report.pods_on_nodes,
        report.pending_seen,
        report.workloads_seen
    );
    println!(
        "  the server holds {} nodes and {} pods: nodes {}, pods on nodes + pending {}",
        report.server_nodes,
        report.server_pods,
        if report.nodes_seen as u64 == report.server_nodes {
            "match"
        } else {
            "DIFFER"
        },
        if report.pods_on_nodes + report.pending_seen == report.server_pods {
            "match".to_string()
        } else {
            format!(
                "differ by {}",
                report.server_pods as i64 - (report.pods_on_nodes + report.pending_seen) as i64
            )
        }
    );
    println!("  {:<32} {:>12}", "measure", "value");
    println!(
        "  {:<32} {:>12.2}",
        "first useful overview s", report.first_overview_seconds
    );
    println!(
        "  {:<32} {:>12.2}",
        "sync s (target ≤ 5)", report.sync_seconds
    );
    println!(
        "  {:<32} {:>12.1}",
        "peak RSS MiB (target ≤ 300)", report.peak_rss_mib
    );
    println!(
        "  {:<32} {:>12}",
        "RSS/peak MiB after sync",
        format!(
            "{:.0}/{:.0}",
            report.rss_after_sync.0, report.rss_after_sync.1
        )
    );
    println!(
        "  {:<32} {:>12}",
        "RSS/peak MiB after churn",
        format!(
            "{:.0}/{:.0}",
            report.rss_after_churn.0, report.rss_after_churn.1
        )
    );
    println!(
        "  {:<32} {:>12.0}",
        "watch events/s sustained", report.events_per_sec
    );
    println!(
        "  {:<32} {:>12.1}",
        "CPU % of a core under churn", report.busy_cpu_percent
    );
    println!(
        "  {:<32} {:>12.1}",
        "event→screen p50 ms",
        percentile(&report.latencies_ms, 50.0)
    );
    println!(
        "  {:<32} {:>12.1}",
        "event→screen p99 ms (≤ 100)",
        percentile(&report.latencies_ms, 99.0)
    );
    println!(
        "  {:<32} {:>12}",
        "probes sent / timed",
        format!("{}/{}", report.probes_sent, report.latencies_ms.len())
    );
    println!(
        "  {:<32} {:>12.2}",
        "idle CPU % (target ≤ 2)", report.idle_cpu_percent
    );
    println!(
        "  {:<14} {:>7} {:>9} {:>9} {:>9} {:>12}",
        "screen", "frames", "p50 ms", "p99 ms", "max ms", "steady B/s"
    );
    for screen in Screen::ALL {
        let title = screen.title();
        let frames = report.frames.get(title).cloned().unwrap_or_default();
        let steady = report
            .steady
            .iter()
            .find(|(s, _)| *s == title)
            .map_or(f64::NAN, |(_, b)| *b);
        println!(
            "  {:<14} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>12.0}",
            title,
            frames.len(),
            percentile(&frames, 50.0),
            percentile(&frames, 99.0),
            percentile(&frames, 100.0),
            steady
        );
    }
    println!(
        "  {:<14} {:>7} {:>9} {:>9} {:>9} {:>12}",
        "update (batch)", "count", "mean ms", "max ms", "total ms", "CPU mean ms"
    );
    println!(
        "  {:<14} {:>7} {:>9.3} p99 {:>5.2}",
        "(under churn)",
        report.update_ms.len(),
        report.update_ms.iter().sum::<f64>() / report.update_ms.len().max(1) as f64,
        percentile(&report.update_ms, 99.0)
    );
    for (kind, (count, total, max, cpu)) in &report.update_cost {
        println!(
            "  {:<14} {:>7} {:>9.3} {:>9.2} {:>9.0} {:>12.3}",
            kind,
            count,
            total / *count as f64,
            max,
            total,
            cpu / *count as f64
        );
    }
    println!("  {:<32} {:>9}", "one step alone (fastest of 10)", "ms");
    for (what, ms) in &report.steps {
        println!("  {:<32} {:>9.2}", what, ms);
    }
    println!(
        "  {:<32} {:>9} {:>9} {:>9}",
        "memory", "RSS MiB", "heap MiB", "timeline"
    );
    for (when, rss, heap, retained) in &report.memory {
        println!("  {:<32} {:>9.0} {:>9.0} {:>9}", when, rss, heap, retained);
    }
    let all: Vec<f64> = report.frames.values().flatten().copied().collect();
    // "Every pane" under the target: the worst pane's p99, not the p99 of all frames pooled.
    let worst_p99 = report
        .frames
        .values()
        .map(|f| percentile(f, 99.0))
        .fold(0.0, f64::max);
    let steady_worst = report.steady.iter().map(|(_, b)| *b).fold(0.0, f64::max);
    let json = serde_json::json!({
        "pods": report.options.pods,
        "nodes": report.options.nodes,
        "sync_seconds": round(report.sync_seconds, 2),
        "peak_rss_mib": round(report.peak_rss_mib, 1),
        "frame_p50_ms": round(percentile(&all, 50.0), 2),
        "frame_p99_ms": round(worst_p99, 2),
        "event_to_screen_p99_ms": round(percentile(&report.latencies_ms, 99.0), 1),
        "steady_bytes_per_sec": round(steady_worst, 0),
        "idle_cpu_percent": round(report.idle_cpu_percent, 2),
        "first_overview_seconds": round(report.first_overview_seconds, 2),
        "update_p99_ms": round(percentile(&report.update_ms, 99.0), 2),
        "events_per_sec": round(report.events_per_sec, 0),
        "counts": {
            "nodes_seen": report.nodes_seen,
            "server_nodes": report.server_nodes,
            "pods_on_nodes": report.pods_on_nodes,
            "pending_seen": report.pending_seen,
            "server_pods": report.server_pods,
        },
    });
    println!("{json}");
}

/// One process per size, so each peak RSS is that size's own.
fn curve(extra: &[String]) {
    let sizes = [
        (400u32, 10_000u32),
        (1700, 50_000),
        (5000, 150_000),
        (100_000, 1_000_000),
    ];
    let mut lines = Vec::new();
    for (nodes, pods) in sizes {
        let output = Command::new(std::env::current_exe().expect("own path"))
            .arg("--bench")
            .args(["--nodes", &nodes.to_string(), "--pods", &pods.to_string()])
            .args(extra)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        print!("{text}");
        let _ = std::io::stdout().flush();
        if let Some(last) = text.lines().last() {
            lines.push(last.to_string());
        }
    }
    println!("curve:");
    for line in lines {
        println!("{line}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` builds and runs this without --bench: a quick smoke
        // run in process, at a size where a debug build takes seconds.
        let options = Options::smoke();
        let report = tokio_runtime().block_on(measure(options));
        assert!(report.nodes_seen >= 20, "the scaled nodes are there");
        print(&report);
        // The short soak: every fault once, each held a second.
        let soaked =
            tokio_runtime().block_on(soak::soak(Options::smoke(), 0.0, Duration::from_secs(1)));
        soaked.print();
        assert!(soaked.all_recovered(), "every fault is recovered from");
        // Two small clusters side by side, through the fleet path.
        tokio_runtime().block_on(fleet::measure(2, Options::smoke()));
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--soak") {
        let minutes = args
            .get(at + 1)
            .and_then(|m| m.parse::<f64>().ok())
            .unwrap_or(30.0);
        // A mid-sized cluster unless --nodes and --pods say otherwise.
        let mut options = parse_args(&args);
        if !args.iter().any(|a| a == "--nodes") {
            options.nodes = 2000;
        }
        if !args.iter().any(|a| a == "--pods") {
            options.pods = 30_000;
        }
        let soaked =
            tokio_runtime().block_on(soak::soak(options, minutes, Duration::from_secs(30)));
        soaked.print();
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--fleet") {
        let clusters = args
            .get(at + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(3);
        let mut options = parse_args(&args);
        if !args.iter().any(|a| a == "--nodes") {
            options.nodes = 2000;
        }
        if !args.iter().any(|a| a == "--pods") {
            options.pods = 60_000;
        }
        if !args.iter().any(|a| a == "--churn") {
            options.churn = 200.0;
        }
        tokio_runtime().block_on(fleet::measure(clusters, options));
        return;
    }
    if args.iter().any(|a| a == "--curve") {
        let extra: Vec<String> = args
            .iter()
            .filter(|a| *a != "--bench" && *a != "--curve")
            .cloned()
            .collect();
        curve(&extra);
        return;
    }
    let options = parse_args(&args);
    let report = tokio_runtime().block_on(measure(options));
    print(&report);
}

/// As `main.rs` builds it: two workers.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}
