//! The replay backend: reads a session recording and sends its updates again, paced by the
//! wall-clock times they were recorded at (× speed), with pause and speed control. A
//! damaged file replays up to the damage and then says where it stopped.

pub mod format;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::backend::{Backend, BackendHandle, Command, UpdateSender};
use crate::domain::model::{Pane, SourceState, SourceStatus, Update};
use crate::domain::time::Timestamp;
use crate::domain::timeline::update_time;
use format::{Damage, Entry, OpenError, Record, Recording, read_recording};

/// Fastest a replay may run, in multiples of the recorded pace.
pub const MAX_SPEED: f64 = 3600.0;

/// Why `kockpit replay FILE` cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct ReplayError {
    pub path: PathBuf,
    pub problem: OpenError,
}

pub struct ReplayBackend {
    recording: Recording,
    /// The file name, for the banner.
    name: String,
    speed: f64,
}

impl ReplayBackend {
    /// Reads the whole recording. Fails only when the file cannot be a recording at all or
    /// comes from a newer kockpit; damage further in is reported during the replay.
    pub fn open(path: &Path, speed: f64) -> Result<Self, ReplayError> {
        let error = |problem| ReplayError {
            path: path.to_path_buf(),
            problem,
        };
        let file = std::fs::File::open(path).map_err(|e| error(OpenError::Io(e)))?;
        let recording = read_recording(std::io::BufReader::new(file)).map_err(error)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Self::from_recording(recording, name, speed))
    }

    pub fn from_recording(recording: Recording, name: String, speed: f64) -> Self {
        ReplayBackend {
            recording,
            name,
            speed: clamp_speed(speed).unwrap_or(1.0),
        }
    }

    pub fn damage(&self) -> Option<&Damage> {
        self.recording.damage.as_ref()
    }

    /// The recording of each cluster, named by its context, in the order they were recorded;
    /// one unnamed cluster for a recording of one. Each replays on its own, from the same
    /// start, so the clusters stay side by side as they were.
    pub fn into_clusters(self) -> Vec<(String, ReplayBackend)> {
        let contexts = self
            .recording
            .start
            .as_ref()
            .map(|start| start.clusters.clone())
            .unwrap_or_default();
        if contexts.len() < 2 {
            return vec![(String::new(), self)];
        }
        let ReplayBackend {
            mut recording,
            name,
            speed,
        } = self;
        let mut by_cluster: Vec<Vec<Record>> = vec![Vec::new(); contexts.len()];
        for record in std::mem::take(&mut recording.records) {
            // A record of a cluster the start does not name has nowhere to go.
            if let Some(records) = by_cluster.get_mut(record.cluster) {
                records.push(record);
            }
        }
        contexts
            .into_iter()
            .zip(by_cluster)
            .map(|(context, records)| {
                let one = Recording {
                    records,
                    ..recording.clone()
                };
                let backend = ReplayBackend {
                    recording: one,
                    name: format!("{name} · {context}"),
                    speed,
                };
                (context, backend)
            })
            .collect()
    }

    /// How long the recording runs at 1×.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.recording.records.last().map_or(0, |r| r.t_ms))
    }
}

fn clamp_speed(speed: f64) -> Option<f64> {
    (speed.is_finite() && speed > 0.0).then(|| speed.min(MAX_SPEED))
}

impl Backend for ReplayBackend {
    fn start(self: Box<Self>, updates: UpdateSender) -> BackendHandle {
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(*self, updates, receiver));
        // A recording is history: nothing in it can be changed.
        BackendHandle {
            commands,
            task,
            writer: None,
        }
    }
}

/// Recorded time that has passed, in milliseconds: real time × speed, stopped while paused.
struct Clock {
    speed: f64,
    paused: bool,
    recorded_ms: f64,
    since: Instant,
}

impl Clock {
    fn now_ms(&self) -> f64 {
        if self.paused {
            self.recorded_ms
        } else {
            self.recorded_ms + self.since.elapsed().as_secs_f64() * 1000.0 * self.speed
        }
    }

    /// Folds the time run so far into `recorded_ms`, before the pace changes.
    fn settle(&mut self) {
        self.recorded_ms = self.now_ms();
        self.since = Instant::now();
    }

    /// When, in real time, the recorded instant `t_ms` comes round (None while paused).
    fn due(&self, t_ms: u64) -> Option<Instant> {
        if self.paused {
            return None;
        }
        let ahead_ms = (t_ms as f64 - self.now_ms()).max(0.0);
        Some(Instant::now() + Duration::from_secs_f64(ahead_ms / 1000.0 / self.speed))
    }
}

/// The banner says REPLAY, which file, and what was recorded.
fn as_replayed(update: Update, file: &str) -> Update {
    match update {
        Update::Cluster(mut info) => {
            let recorded = [info.source.as_str(), info.detail.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            info.detail = if recorded.is_empty() {
                file.to_string()
            } else {
                format!("{file} (recorded {recorded})")
            };
            info.source = "replay".to_string();
            Update::Cluster(info)
        }
        other => other,
    }
}

async fn run(
    backend: ReplayBackend,
    updates: UpdateSender,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let ReplayBackend {
        recording,
        name,
        speed,
    } = backend;
    let mut clock = Clock {
        speed,
        paused: false,
        recorded_ms: 0.0,
        since: Instant::now(),
    };
    let mut records = recording
        .records
        .into_iter()
        .filter_map(|Record { t_ms, entry, .. }| match entry {
            Entry::Update(update) => Some((t_ms, update)),
            // Fix actions are shown by the app from the recording's markers once fixes
            // exist; they are never re-applied.
            Entry::Fix(_) | Entry::Start(_) => None,
        })
        .peekable();
    let mut finished = false;
    let mut commands_open = true;
    // The recording's own clock, to stamp the damage notice with.
    let mut last_at = None;
    loop {
        // Send everything that is due, then sleep until the next record (or a command).
        let now_ms = clock.now_ms();
        while let Some((t_ms, _)) = records.peek() {
            if clock.paused || *t_ms as f64 > now_ms {
                break;
            }
            let Some((_, update)) = records.next() else {
                break;
            };
            if let Some(at) = update_time(&update) {
                last_at = Some(at);
            }
            if updates.send(as_replayed(update, &name)).await.is_err() {
                return;
            }
        }
        if records.peek().is_none() && !finished {
            finished = true;
            if !send_ending(&updates, recording.damage.as_ref(), last_at).await {
                return;
            }
        }
        let next_due = records.peek().and_then(|(t_ms, _)| clock.due(*t_ms));
        tokio::select! {
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {}
            command = commands.recv(), if commands_open => match command {
                Some(Command::Pause) => {
                    clock.settle();
                    clock.paused = true;
                }
                Some(Command::Resume) => {
                    clock.settle();
                    clock.paused = false;
                }
                Some(Command::SetSpeed(speed)) => {
                    if let Some(speed) = clamp_speed(speed) {
                        clock.settle();
                        clock.speed = speed;
                    }
                }
                Some(Command::Shutdown) => return,
                None => commands_open = false,
            },
            _ = updates.closed() => return,
        }
        if !commands_open && records.peek().is_none() {
            return;
        }
    }
}

/// Says the recording is over, and if it was damaged, where, on every pane's source line too.
async fn send_ending(
    updates: &UpdateSender,
    damage: Option<&Damage>,
    last_at: Option<Timestamp>,
) -> bool {
    let Some(damage) = damage else {
        let text = "end of the recording: showing its last state".to_string();
        return updates.send(Update::Notice { text }).await.is_ok();
    };
    let cause = damage.to_string();
    let text = cause.clone();
    if updates.send(Update::Notice { text }).await.is_err() {
        return false;
    }
    // Stamped with the recording's own clock: a wall-clock stamp would look like a jump in
    // the source's time. Without any time there is no pane data to mark either.
    let Some(at) = last_at else { return true };
    for pane in Pane::ALL {
        let status = SourceStatus {
            pane,
            source: "replay".to_string(),
            state: SourceState::Degraded {
                cause: cause.clone(),
            },
            at,
        };
        if updates.send(Update::Source(status)).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::format::{Entry, Record, Recording};
    use super::*;
    use crate::domain::ClusterInfo;
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    fn recording(damage: Option<Damage>) -> Recording {
        let mut records = vec![Record {
            cluster: 0,
            t_ms: 0,
            entry: Entry::Update(Update::Cluster(ClusterInfo {
                name: "prod".into(),
                region: "eu-west-1".into(),
                source: "simulated".into(),
                detail: "scenario baseline".into(),
            })),
        }];
        for s in 0..20 {
            records.push(Record {
                cluster: 0,
                t_ms: s as u64 * 50,
                entry: Entry::Update(Update::Clock { at: at(s * 5) }),
            });
        }
        Recording {
            version: format::FORMAT_VERSION,
            start: None,
            records,
            damage,
        }
    }

    #[tokio::test]
    async fn a_fleet_recording_replays_each_cluster_on_its_own() {
        let mut fleet = recording(None);
        fleet.start = Some(format::StartInfo {
            started_at: at(0),
            writer: "test".into(),
            clusters: vec!["prod-euw1".into(), "prod-euc1".into()],
        });
        // Every other record belongs to the second cluster.
        for (index, record) in fleet.records.iter_mut().enumerate() {
            record.cluster = index % 2;
        }
        let total = fleet.records.len();
        let clusters =
            ReplayBackend::from_recording(fleet, "r.kock".into(), 1000.0).into_clusters();
        let names: Vec<&str> = clusters.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["prod-euw1", "prod-euc1"]);
        let counts: Vec<usize> = clusters
            .iter()
            .map(|(_, b)| b.recording.records.len())
            .collect();
        assert_eq!(counts.iter().sum::<usize>(), total);
        assert!(
            clusters.iter().enumerate().all(|(i, (_, b))| b
                .recording
                .records
                .iter()
                .all(|r| r.cluster == i))
        );
        assert_eq!(clusters[1].1.name, "r.kock · prod-euc1");
        // The first cluster's replay sends its own records and nothing of the other's.
        let Some((_, first)) = clusters.into_iter().next() else {
            panic!("no cluster");
        };
        let sent = replay(first.recording).await;
        assert!(matches!(&sent[0], Update::Cluster(info) if info.name == "prod"));
        assert_eq!(
            sent.len(),
            total.div_ceil(2) + 1,
            "its records and the end notice"
        );
    }

    #[test]
    fn a_recording_of_one_cluster_is_one_unnamed_cluster() {
        let clusters =
            ReplayBackend::from_recording(recording(None), "r.kock".into(), 1.0).into_clusters();
        assert_eq!(clusters.len(), 1);
        assert_eq!(clusters[0].0, "");
    }

    /// Runs a replay to its end (the closing notice) and returns what it sent.
    async fn replay(recording: Recording) -> Vec<Update> {
        let backend = ReplayBackend::from_recording(recording, "r.kock".into(), 1000.0);
        let (sender, mut receiver) = mpsc::channel(64);
        let handle = Box::new(backend).start(sender);
        let mut received = Vec::new();
        let deadline = Duration::from_secs(30);
        loop {
            match tokio::time::timeout(deadline, receiver.recv()).await {
                Ok(Some(update)) => {
                    let done = matches!(update, Update::Notice { .. });
                    received.push(update);
                    if done {
                        break;
                    }
                }
                other => panic!("replay ended early: {other:?}"),
            }
        }
        // Damage statuses follow the notice.
        while let Ok(update) = receiver.try_recv() {
            received.push(update);
        }
        handle.shutdown();
        let finished = tokio::time::timeout(deadline, handle.task).await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
        received
    }

    #[tokio::test]
    async fn replays_every_update_in_order_as_replay() {
        let received = replay(recording(None)).await;
        let Update::Cluster(info) = &received[0] else {
            panic!("expected the cluster first: {:?}", received[0]);
        };
        assert_eq!(info.source, "replay");
        assert_eq!(info.detail, "r.kock (recorded simulated scenario baseline)");
        let clocks: Vec<Timestamp> = received
            .iter()
            .filter_map(|u| match u {
                Update::Clock { at } => Some(*at),
                _ => None,
            })
            .collect();
        assert_eq!(clocks, (0..20).map(|s| at(s * 5)).collect::<Vec<_>>());
        assert!(matches!(
            received.last(),
            Some(Update::Notice { text }) if text.contains("end of the recording")
        ));
    }

    #[tokio::test]
    async fn a_damaged_recording_says_where_replay_stopped() {
        let damage = Damage {
            byte: 4242,
            record: 21,
            cause: "the file is cut short".into(),
        };
        let received = replay(recording(Some(damage))).await;
        let notice = received.iter().find_map(|u| match u {
            Update::Notice { text } => Some(text.clone()),
            _ => None,
        });
        assert_eq!(
            notice.as_deref(),
            Some(
                "recording damaged at byte 4242 (record 21): the file is cut short; replay stopped there"
            )
        );
        let degraded = received
            .iter()
            .filter(|u| {
                matches!(u, Update::Source(s) if s.at == at(95)
                    && matches!(&s.state, SourceState::Degraded { cause } if cause.contains("byte 4242")))
            })
            .count();
        assert_eq!(degraded, Pane::ALL.len());
    }

    #[test]
    fn opening_a_newer_file_fails_before_anything_starts() {
        let dir = std::env::temp_dir().join(format!("kockpit-replay-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("newer.kock");
        let mut bytes = format::MAGIC.to_vec();
        bytes.extend_from_slice(&(format::FORMAT_VERSION + 7).to_le_bytes());
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
        let error = ReplayBackend::open(&path, 1.0).err().map(|e| e.to_string());
        let error = error.unwrap_or_else(|| panic!("a newer file was accepted"));
        assert!(error.contains("newer.kock"), "{error}");
        assert!(error.contains("newer kockpit"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
