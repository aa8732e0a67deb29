//! Soak: kockpit live against `sim serve` making `SOAK_CHURN` pod changes a second for a long
//! time while the API server's faults come and go in a cycle (watches dropped, 410s, reset
//! connections, slow answers, failing lists). Every stretch with a fault is followed by one
//! without, which lasts until every pane is back (or `RECOVERY_DEADLINE` passes, counted as a
//! fault not recovered from). Sampled at every stretch: resident memory, open file
//! descriptors and live tokio tasks, so a leak shows as growth between the first and the
//! last third.
//!
//! `cargo bench --bench scale -- --soak MINUTES` (30 by default with `--soak` alone); under
//! `cargo test` a short soak runs in process after the smoke run.

use std::time::{Duration, Instant};

use super::{
    Cockpit, Options, ServerSide, admin, client_for, live_mib, populated, rss_mib, scratch,
    spawn_server,
};
use kockpit::domain::SourceState;

/// Pod changes a second, as the hardening issue asks.
const SOAK_CHURN: f64 = 500.0;
/// The faults cycled through, one per stretch.
const FAULTS: [&str; 5] = [
    "watch-drop:2s",
    "410:watch",
    "reset:0.2",
    "slow:2s",
    "500:pods:0.5",
];
const RECOVERY_DEADLINE: Duration = Duration::from_secs(60);

pub struct SoakReport {
    minutes: f64,
    events: u64,
    faults: usize,
    recovered: usize,
    /// Slowest recovery after a fault was cleared, in seconds.
    slowest_recovery: f64,
    samples: Vec<Sample>,
}

/// One look at the process: what a leak would show as growth.
struct Sample {
    seconds: f64,
    rss_mib: f64,
    /// Bytes in use on the heap, most of it the retained hour behind the time cursor
    /// (bounded by the timeline's budget).
    heap_mib: f64,
    retained_updates: usize,
    fds: usize,
    tasks: usize,
}

impl Sample {
    fn now(started: Instant, cockpit: &Cockpit) -> Sample {
        Sample {
            seconds: started.elapsed().as_secs_f64(),
            rss_mib: rss_mib(),
            heap_mib: live_mib(),
            retained_updates: cockpit.state.timeline.len(),
            fds: open_fds(),
            tasks: live_tasks(),
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn live_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn recovered(state: &kockpit::app::state::State) -> bool {
    let c = &state.cockpit;
    !c.sources.is_empty()
        && c.sources
            .values()
            .all(|s| matches!(s.state, SourceState::Ok))
        && c.health.get("kubernetes").is_none_or(|h| !h.failing())
}

async fn set_faults(client: &kube::Client, spec: &str) {
    let request = hyper::Request::builder()
        .method("PUT")
        .uri("/_kockpit/faults")
        .body(spec.as_bytes().to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("/_kockpit/faults: {e}"));
}

/// Soaks for `minutes`, each fault held for `stretch`.
pub async fn soak(options: Options, minutes: f64, stretch: Duration) -> SoakReport {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = scratch();
    let kubeconfig = dir.join("kubeconfig");
    let server = if options.smoke {
        let scenario =
            kockpit::backend::sim::scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
        let mut serve = kockpit::backend::sim::serve::ServeOptions::new(scenario);
        serve.speed = 0.0;
        serve.scale = Some((options.nodes, options.pods));
        let server = kockpit::backend::sim::serve::Server::start(serve)
            .await
            .unwrap_or_else(|e| panic!("sim serve: {e}"));
        std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
        ServerSide::InProcess(server)
    } else {
        ServerSide::Process(spawn_server(&options, &kubeconfig).0)
    };
    let client = client_for(&kubeconfig).await;
    let mut cockpit = Cockpit::start(&kubeconfig);
    let synced = cockpit
        .run(Instant::now() + Duration::from_secs(600), &populated)
        .await;
    assert!(synced, "the panes did not populate within ten minutes");

    let started = Instant::now();
    let total = Duration::from_secs_f64(minutes * 60.0);
    let before = admin(&client, "PUT", &format!("rate={SOAK_CHURN} probes=0")).await;
    let events_before = before["events"].as_u64().unwrap_or(0);
    let mut samples = vec![Sample::now(started, &cockpit)];
    let (mut faults, mut recovered_count, mut slowest) = (0, 0, 0.0f64);
    for fault in FAULTS.iter().cycle() {
        if started.elapsed() >= total && faults >= FAULTS.len() {
            break;
        }
        set_faults(&client, fault).await;
        faults += 1;
        cockpit.run(Instant::now() + stretch, &|_| false).await;
        set_faults(&client, "").await;
        let cleared = Instant::now();
        let back = cockpit
            .run(cleared + RECOVERY_DEADLINE, &|state| recovered(state))
            .await;
        if back {
            recovered_count += 1;
            slowest = slowest.max(cleared.elapsed().as_secs_f64());
        } else {
            eprintln!("not recovered within {RECOVERY_DEADLINE:?} after {fault}");
        }
        // The rest of the clear stretch, churn going on.
        cockpit.run(cleared + stretch, &|_| false).await;
        samples.push(Sample::now(started, &cockpit));
    }
    let log = admin(&client, "PUT", "rate=0 probes=0").await;
    cockpit.handle.shutdown();
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    SoakReport {
        minutes: started.elapsed().as_secs_f64() / 60.0,
        events: log["events"].as_u64().unwrap_or(0) - events_before,
        faults,
        recovered: recovered_count,
        slowest_recovery: slowest,
        samples,
    }
}

impl SoakReport {
    /// The highest value of `pick` in the first and the last third of the samples.
    fn thirds(&self, pick: impl Fn(&Sample) -> f64) -> (f64, f64) {
        let third = (self.samples.len() / 3).max(1);
        let peak = |part: &[Sample]| part.iter().map(&pick).fold(f64::NAN, f64::max);
        (
            peak(&self.samples[..third]),
            peak(&self.samples[self.samples.len() - third..]),
        )
    }

    pub fn all_recovered(&self) -> bool {
        self.recovered == self.faults
    }

    pub fn print(&self) {
        let round = |value: f64| (value * 10.0).round() / 10.0;
        let (rss_first, rss_last) = self.thirds(|s| s.rss_mib);
        let (heap_first, heap_last) = self.thirds(|s| s.heap_mib);
        let (fds_first, fds_last) = self.thirds(|s| s.fds as f64);
        let (tasks_first, tasks_last) = self.thirds(|s| s.tasks as f64);
        println!("soak: {:.1} min, {} pod events", self.minutes, self.events);
        println!(
            "  faults {} recovered {} (slowest {:.1}s after clearing)",
            self.faults, self.recovered, self.slowest_recovery
        );
        println!(
            "  {:>8} {:>9} {:>9} {:>9} {:>5} {:>6}",
            "t (s)", "RSS MiB", "heap MiB", "retained", "fds", "tasks"
        );
        for s in &self.samples {
            println!(
                "  {:>8.0} {:>9.1} {:>9.1} {:>9} {:>5} {:>6}",
                s.seconds, s.rss_mib, s.heap_mib, s.retained_updates, s.fds, s.tasks
            );
        }
        println!(
            "{}",
            serde_json::json!({
                "soak_minutes": round(self.minutes),
                "events_per_sec": (self.events as f64 / (self.minutes * 60.0)).round(),
                "faults": self.faults,
                "recovered": self.recovered,
                "slowest_recovery_seconds": round(self.slowest_recovery),
                "rss_peak_first_third_mib": round(rss_first),
                "rss_peak_last_third_mib": round(rss_last),
                "rss_growth_percent": round((rss_last / rss_first - 1.0) * 100.0),
                "heap_peak_first_third_mib": round(heap_first),
                "heap_peak_last_third_mib": round(heap_last),
                "fds_first_third": fds_first,
                "fds_last_third": fds_last,
                "tasks_first_third": tasks_first,
                "tasks_last_third": tasks_last,
            })
        );
    }
}
