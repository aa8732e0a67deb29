//! `SimBackend`: runs the simulated cluster on a tokio task. It sends the initial burst,
//! then once a real second advances virtual time by `speed` × the elapsed time, in whole
//! engine steps, and sends the new snapshots and the clock.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::alerts::AlertRules;
use super::engine::{STEP_SECONDS, SimCluster};
use super::history::initial_updates;
use super::serve::Shared;
use super::serve::local::{LocalTransport, SharedSlot};
use crate::backend::writer::{ClusterWriter, Identity};
use crate::backend::{Backend, BackendHandle, Command, UpdateSender};
use crate::domain::model::Update;
use crate::domain::scenario::Scenario;

/// How often the backend wakes up to move the clock.
const TICK: Duration = Duration::from_secs(1);
/// Fastest virtual time may run, in multiples of real time.
pub const MAX_SPEED: f64 = 3600.0;
/// Steps taken per tick at most, so a huge speed cannot stall the task.
const MAX_STEPS_PER_TICK: u64 = 2000;

/// Turns real elapsed time into whole engine steps. Fractions carry over, so the virtual
/// clock never drifts from `speed` × real time; pausing discards elapsed time.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    speed: f64,
    paused: bool,
    carried_s: f64,
}

impl Pacer {
    pub fn new(speed: f64) -> Self {
        let mut pacer = Pacer {
            speed: 1.0,
            paused: false,
            carried_s: 0.0,
        };
        pacer.set_speed(speed);
        pacer
    }

    /// Ignores speeds that are not finite numbers; clamps the rest to 0..=MAX_SPEED.
    pub fn set_speed(&mut self, speed: f64) {
        if speed.is_finite() {
            self.speed = speed.clamp(0.0, MAX_SPEED);
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Engine steps owed for `elapsed` real time.
    pub fn steps_for(&mut self, elapsed: Duration) -> u64 {
        if self.paused {
            return 0;
        }
        self.carried_s += elapsed.as_secs_f64() * self.speed;
        let step = STEP_SECONDS as f64;
        let steps = (self.carried_s / step).floor();
        self.carried_s -= steps * step;
        (steps as u64).min(MAX_STEPS_PER_TICK)
    }
}

/// The built-in simulated cluster as a backend.
pub struct SimBackend {
    scenario: Scenario,
    seed: u64,
    speed: f64,
    start_offset: Duration,
    context: String,
}

impl SimBackend {
    pub fn new(scenario: Scenario, seed: u64, speed: f64, start_offset: Duration) -> Self {
        SimBackend {
            scenario,
            seed,
            speed,
            start_offset,
            context: "kockpit-sim".to_string(),
        }
    }

    /// The context its fixes are written through and audited as (one per simulated cluster
    /// of a demo fleet).
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = context.into();
        self
    }
}

impl Backend for SimBackend {
    fn start(self: Box<Self>, updates: UpdateSender) -> BackendHandle {
        let (commands, receiver) = mpsc::unbounded_channel();
        let slot: SharedSlot = Arc::new(OnceLock::new());
        // Fixes reach the simulator through the same API handlers `sim serve` answers with.
        let writer = ClusterWriter::new(
            Arc::new(LocalTransport::new(slot.clone())),
            Identity {
                user: "demo".to_string(),
                context: self.context.clone(),
            },
        );
        let task = tokio::spawn(run(*self, updates, receiver, slot));
        BackendHandle {
            commands,
            task,
            writer: Some(writer),
        }
    }
}

async fn send_all(updates: &UpdateSender, batch: Vec<Update>) -> bool {
    for update in batch {
        if updates.send(update).await.is_err() {
            return false;
        }
    }
    true
}

async fn run(
    backend: SimBackend,
    updates: UpdateSender,
    mut commands: mpsc::UnboundedReceiver<Command>,
    slot: SharedSlot,
) {
    let SimBackend {
        scenario,
        seed,
        speed,
        start_offset,
        ..
    } = backend;
    // Building an hour of history is CPU work: keep it off the async workers.
    let built =
        tokio::task::spawn_blocking(move || initial_updates(&scenario, seed, start_offset)).await;
    let Ok((cluster, burst)) = built else {
        tracing::error!("the simulator failed while building its history");
        return;
    };
    // Shared with the API handlers that answer fixes; locked only while stepping.
    let shared = Shared::in_process(cluster);
    let _ = slot.set(shared.clone());
    let cluster = &shared.sim;
    // The alerts the incident would fire ride along with the snapshots.
    let mut alert_rules = AlertRules::default();
    let burst = alert_rules.annotate(burst);
    tracing::info!(updates = burst.len(), seed, "simulator started");
    if !send_all(&updates, burst).await || updates.send(Update::InitialSyncDone).await.is_err() {
        return;
    }
    let mut pacer = Pacer::new(speed);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last_tick = Instant::now();
    let mut commands_open = true;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let now = Instant::now();
                let steps = pacer.steps_for(now - last_tick);
                last_tick = now;
                if !advance_and_send(cluster, steps, &updates, &mut alert_rules).await {
                    return;
                }
            }
            command = commands.recv(), if commands_open => match command {
                Some(Command::Pause) => pacer.pause(),
                Some(Command::Resume) => {
                    pacer.resume();
                    last_tick = Instant::now();
                }
                Some(Command::SetSpeed(speed)) => pacer.set_speed(speed),
                Some(Command::Shutdown) => return,
                None => commands_open = false,
            },
            _ = updates.closed() => return,
        }
    }
}

/// Moves the cluster on and reports it; false when nobody listens any more.
async fn advance_and_send(
    cluster: &Mutex<SimCluster>,
    steps: u64,
    updates: &UpdateSender,
    alert_rules: &mut AlertRules,
) -> bool {
    let batch = {
        let Ok(mut cluster) = cluster.lock() else {
            tracing::error!("the simulator failed while stepping");
            return false;
        };
        let mut batch = Vec::new();
        if steps > 0 {
            cluster.advance(steps);
            batch = alert_rules.annotate(cluster.updates());
            batch.push(Update::Health(cluster.health()));
        }
        batch.push(Update::Clock { at: cluster.now() });
        batch
    };
    send_all(updates, batch).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::scenarios;

    #[test]
    fn pacer_steps_in_whole_steps_and_carries_the_rest() {
        let mut pacer = Pacer::new(1.0);
        assert_eq!(pacer.steps_for(Duration::from_secs(3)), 0);
        assert_eq!(pacer.steps_for(Duration::from_secs(3)), 1);
        assert_eq!(pacer.steps_for(Duration::from_secs(4)), 1);
        pacer.set_speed(10.0);
        assert_eq!(pacer.steps_for(Duration::from_secs(1)), 2);
        pacer.pause();
        assert_eq!(pacer.steps_for(Duration::from_secs(100)), 0);
        pacer.resume();
        pacer.set_speed(f64::NAN);
        assert_eq!(pacer.speed(), 10.0);
        pacer.set_speed(1e9);
        assert_eq!(pacer.speed(), MAX_SPEED);
    }

    #[tokio::test]
    async fn sends_the_burst_then_stops_on_shutdown() {
        let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
        let (sender, mut receiver) = mpsc::channel(64);
        let handle = Box::new(SimBackend::new(scenario, 3, 1.0, Duration::ZERO)).start(sender);
        let deadline = Duration::from_secs(60);
        let first = tokio::time::timeout(deadline, receiver.recv()).await;
        match first {
            Ok(Some(Update::Cluster(info))) => {
                assert_eq!(info.name, "sim-baseline");
                assert_eq!(info.source, "simulated");
            }
            other => panic!("expected the cluster first, got {other:?}"),
        }
        // Read until the burst's closing clock arrives.
        loop {
            match tokio::time::timeout(deadline, receiver.recv()).await {
                Ok(Some(Update::Clock { .. })) => break,
                Ok(Some(_)) => {}
                other => panic!("burst ended early: {other:?}"),
            }
        }
        handle.shutdown();
        let finished = tokio::time::timeout(deadline, handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }

    #[tokio::test]
    async fn stops_when_the_receiver_goes_away() {
        let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
        let (sender, receiver) = mpsc::channel(4);
        let handle = Box::new(SimBackend::new(scenario, 3, 1.0, Duration::ZERO)).start(sender);
        drop(receiver);
        let finished = tokio::time::timeout(Duration::from_secs(60), handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }
}
