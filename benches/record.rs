//! What `--record` costs: CPU time and file bytes per minute of a session, at the demo's
//! scale and at about 20 000 pods. The simulator runs faster than real time; each engine
//! step (5 s of virtual time) is what a 1× session delivers every 5 s, so a minute is 12
//! steps. Encoding and compression run on one thread here as they do in the recorder, so
//! the elapsed time is the CPU time. Run with `cargo bench --bench record`.

use std::time::{Duration, Instant};

use kockpit::backend::replay::format::{RecordWriter, encode_update};
use kockpit::backend::sim::{self, STEP_SECONDS};
use kockpit::domain::Update;
use kockpit::domain::scenario::{Scenario, WorkloadKind};

/// Virtual minutes recorded after the initial burst.
const MINUTES: u64 = 10;

/// The scenario with every workload copied into `copies` namespaces and the node groups
/// grown to match, so the cluster holds about `copies` × the pods.
fn scaled(mut scenario: Scenario, copies: u32) -> Scenario {
    let workloads = scenario.workloads.clone();
    let namespaces = scenario.namespaces.clone();
    for copy in 1..copies {
        for (name, namespace) in &namespaces {
            scenario
                .namespaces
                .insert(format!("{name}-{copy}"), namespace.clone());
        }
        // A DaemonSet already runs on every node: copying it would multiply pods per node.
        let copied = workloads
            .iter()
            .filter(|(_, w)| w.kind != WorkloadKind::DaemonSet);
        for (name, workload) in copied {
            let mut workload = workload.clone();
            workload.namespace = format!("{}-{copy}", workload.namespace);
            scenario
                .workloads
                .insert(format!("{name}-{copy}"), workload);
        }
    }
    for group in scenario.node_groups.values_mut() {
        group.nodes *= copies;
    }
    for pool in scenario.nodepools.values_mut() {
        pool.cpu_limit = None;
    }
    scenario
}

struct Cost {
    pods: u64,
    nodes: usize,
    workloads: usize,
    burst_bytes: usize,
    burst_time: Duration,
    bytes_per_minute: f64,
    cpu_per_minute: Duration,
    uncompressed_per_minute: f64,
}

fn measure(scenario: &Scenario) -> Cost {
    let (mut cluster, burst) = sim::initial_updates(scenario, 1, Duration::ZERO);
    let mut writer = RecordWriter::new(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    for update in &burst {
        let encoded = encode_update(0, 0, update).unwrap_or_else(|e| panic!("{e}"));
        writer
            .write_encoded(&encoded)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    writer.flush().unwrap_or_else(|e| panic!("{e}"));
    let burst_time = started.elapsed();
    let burst_bytes = writer_len(&writer);
    let burst_uncompressed = writer.uncompressed_bytes();

    let steps = MINUTES * 60 / STEP_SECONDS as u64;
    let mut spent = Duration::ZERO;
    let mut last = Vec::new();
    for step in 0..steps {
        cluster.advance(1);
        let mut batch = cluster.updates();
        batch.push(Update::Clock { at: cluster.now() });
        let started = Instant::now();
        for update in &batch {
            let encoded = encode_update(step * 5000, 0, update).unwrap_or_else(|e| panic!("{e}"));
            writer
                .write_encoded(&encoded)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // The recorder flushes once a second; at 1× that is after every step.
        writer.flush().unwrap_or_else(|e| panic!("{e}"));
        spent += started.elapsed();
        last = batch;
    }
    let run_bytes = writer_len(&writer) - burst_bytes;
    let run_uncompressed = writer.uncompressed_bytes() - burst_uncompressed;
    let (pods, nodes) = last
        .iter()
        .find_map(|u| match u {
            Update::Nodes(n) => Some((
                n.nodes.iter().map(|node| u64::from(node.pods)).sum(),
                n.nodes.len(),
            )),
            _ => None,
        })
        .unwrap_or_default();
    let workloads = last
        .iter()
        .find_map(|u| match u {
            Update::Workloads(w) => Some(w.workloads.len()),
            _ => None,
        })
        .unwrap_or_default();
    Cost {
        pods,
        nodes,
        workloads,
        burst_bytes,
        burst_time,
        bytes_per_minute: run_bytes as f64 / MINUTES as f64,
        cpu_per_minute: spent / MINUTES as u32,
        uncompressed_per_minute: run_uncompressed as f64 / MINUTES as f64,
    }
}

fn writer_len(writer: &RecordWriter<Vec<u8>>) -> usize {
    writer.get_ref().len()
}

fn main() {
    let base = sim::scenarios::load("spot-interruption").unwrap_or_else(|e| panic!("{e}"));
    let demo = measure(&base);
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test
    // in a debug build, where the 20k-pod measurement would only cost time.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!(
            "record bench smoke test: {} pods, {:.0} bytes/min (run `cargo bench --bench record` for the figures)",
            demo.pods, demo.bytes_per_minute
        );
        return;
    }
    // DaemonSet pods grow with the nodes rather than with the copies: aim a little low.
    let copies = (18_000 / demo.pods.max(1)).max(1) as u32;
    let large = measure(&scaled(base, copies));
    println!(
        "{:<28} {:>7} {:>6} {:>9} {:>12} {:>10} {:>14} {:>14} {:>12} {:>9}",
        "scale",
        "pods",
        "nodes",
        "workloads",
        "burst bytes",
        "burst ms",
        "raw bytes/min",
        "file bytes/min",
        "CPU ms/min",
        "% of core"
    );
    for (label, cost) in [
        ("demo (spot-interruption)", demo),
        (&*format!("×{copies} (~20k pods)"), large),
    ] {
        println!(
            "{:<28} {:>7} {:>6} {:>9} {:>12} {:>10.1} {:>14.0} {:>14.0} {:>12.2} {:>8.3}%",
            label,
            cost.pods,
            cost.nodes,
            cost.workloads,
            cost.burst_bytes,
            cost.burst_time.as_secs_f64() * 1000.0,
            cost.uncompressed_per_minute,
            cost.bytes_per_minute,
            cost.cpu_per_minute.as_secs_f64() * 1000.0,
            cost.cpu_per_minute.as_secs_f64() / 60.0 * 100.0
        );
    }
}
