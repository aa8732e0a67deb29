//! `--record FILE`: a copy of everything the backend delivers, with the wall-clock time it
//! arrived, plus the user's fix actions, written to a session recording (format in
//! `backend::replay::format`). Updates pass through a small task that encodes each one and
//! forwards it to the app untouched; compression and file writes happen on a thread of
//! their own, so the cockpit never waits on the disk.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::backend::replay::format::{self, RecordWriter, StartInfo};
use crate::domain::Update;
use crate::domain::timeline::FixAction;

/// How often buffered records are made durable: a crash loses at most this much.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create the recording {}: {cause}", path.display())]
    Create {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot write the recording {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("the recording writer stopped unexpectedly")]
    WriterGone,
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordStats {
    pub records: u64,
    /// Encoded record bytes before compression.
    pub uncompressed_bytes: u64,
    /// Size of the file.
    pub file_bytes: u64,
}

enum ToWriter {
    Record(Vec<u8>),
    Finish,
}

/// A recording in progress: feed it updates with `tee`, fix actions with `fix`.
pub struct Recorder {
    path: PathBuf,
    writer: std_mpsc::Sender<ToWriter>,
    thread: Option<JoinHandle<Result<RecordStats, RecordError>>>,
    started: Instant,
}

impl Recorder {
    /// Creates the file and writes its header at once, so a bad path fails before the
    /// cockpit starts. `clusters` names each cluster when several are recorded.
    pub fn create(path: &Path, clusters: &[String]) -> Result<Recorder, RecordError> {
        let create_error = |cause| RecordError::Create {
            path: path.to_path_buf(),
            cause,
        };
        // Private: a recording holds everything the cluster showed.
        let file = crate::backend::files::create_private(path, false).map_err(create_error)?;
        let mut writer = RecordWriter::new(BufWriter::new(file)).map_err(create_error)?;
        let start = StartInfo {
            started_at: chrono::Utc::now(),
            writer: format!("kockpit {}", env!("CARGO_PKG_VERSION")),
            clusters: if clusters.len() > 1 {
                clusters.to_vec()
            } else {
                Vec::new()
            },
        };
        if let Ok(encoded) = format::encode_start(&start) {
            writer.write_encoded(&encoded).map_err(create_error)?;
        }
        writer.flush().map_err(create_error)?;
        let (sender, receiver) = std_mpsc::channel();
        let thread_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("kockpit-record".into())
            .spawn(move || write_loop(writer, receiver, thread_path))
            .map_err(create_error)?;
        Ok(Recorder {
            path: path.to_path_buf(),
            writer: sender,
            thread: Some(thread),
            started: Instant::now(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Records one update of `cluster` as it passes by.
    pub fn record(&self, cluster: usize, update: &Update) {
        match format::encode_update(self.elapsed_ms(), cluster, update) {
            Ok(encoded) => {
                let _ = self.writer.send(ToWriter::Record(encoded));
            }
            Err(error) => tracing::warn!("not recorded: {error}"),
        }
    }

    /// Records a fix the user applied, verified or undid on `cluster`.
    pub fn fix(&self, cluster: usize, fix: &FixAction) {
        match format::encode_fix(self.elapsed_ms(), cluster, fix) {
            Ok(encoded) => {
                let _ = self.writer.send(ToWriter::Record(encoded));
            }
            Err(error) => tracing::warn!("fix not recorded: {error}"),
        }
    }

    /// Puts the recorder between a backend and the app: every update is recorded, then
    /// forwarded unchanged. The returned receiver is what the app reads.
    pub fn tee(self, upstream: mpsc::Receiver<Update>) -> (mpsc::Receiver<Update>, Recording) {
        let (mut downstreams, recording) = self.tee_clusters(vec![upstream]);
        let downstream = downstreams.pop().unwrap_or_else(|| mpsc::channel(1).1);
        (downstream, recording)
    }

    /// `tee` for each cluster's updates, in the order of the clusters the recording names.
    pub fn tee_clusters(
        self,
        upstreams: Vec<mpsc::Receiver<Update>>,
    ) -> (Vec<mpsc::Receiver<Update>>, Recording) {
        let recorder = std::sync::Arc::new(self);
        let mut downstreams = Vec::new();
        let mut tasks = Vec::new();
        for (cluster, mut upstream) in upstreams.into_iter().enumerate() {
            let (sender, downstream) = mpsc::channel(upstream.max_capacity());
            let task_recorder = recorder.clone();
            tasks.push(tokio::spawn(async move {
                let mut app_reading = true;
                while let Some(update) = upstream.recv().await {
                    task_recorder.record(cluster, &update);
                    if app_reading && sender.send(update).await.is_err() {
                        app_reading = false;
                    }
                }
            }));
            downstreams.push(downstream);
        }
        (downstreams, Recording { recorder, tasks })
    }

    pub fn finish(mut self) -> Result<RecordStats, RecordError> {
        let _ = self.writer.send(ToWriter::Finish);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(RecordError::WriterGone),
        }
    }
}

/// A running tee: the recorder and the task that forwards updates.
pub struct Recording {
    recorder: std::sync::Arc<Recorder>,
    /// One per cluster recorded.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Recording {
    pub fn fix(&self, cluster: usize, fix: &FixAction) {
        self.recorder.fix(cluster, fix);
    }

    pub fn path(&self) -> &Path {
        self.recorder.path()
    }

    /// Lets the updates already on their way be recorded (the backend has been told to
    /// stop and the app no longer reads), then finishes the file.
    pub async fn finish(mut self) -> Result<RecordStats, RecordError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for task in &mut self.tasks {
            if tokio::time::timeout_at(deadline, &mut *task).await.is_err() {
                task.abort();
                let _ = (&mut *task).await;
            }
        }
        match std::sync::Arc::try_unwrap(self.recorder) {
            Ok(recorder) => tokio::task::spawn_blocking(move || recorder.finish())
                .await
                .unwrap_or(Err(RecordError::WriterGone)),
            Err(_) => Err(RecordError::WriterGone),
        }
    }
}

fn write_loop(
    mut writer: RecordWriter<BufWriter<File>>,
    receiver: std_mpsc::Receiver<ToWriter>,
    path: PathBuf,
) -> Result<RecordStats, RecordError> {
    let write_error = |cause| RecordError::Write {
        path: path.clone(),
        cause,
    };
    let mut last_flush = Instant::now();
    let mut unflushed = false;
    loop {
        let wait = FLUSH_EVERY.saturating_sub(last_flush.elapsed());
        match receiver.recv_timeout(wait) {
            Ok(ToWriter::Record(bytes)) => {
                writer.write_encoded(&bytes).map_err(write_error)?;
                unflushed = true;
            }
            Ok(ToWriter::Finish) | Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
        }
        if unflushed && last_flush.elapsed() >= FLUSH_EVERY {
            writer.flush().map_err(write_error)?;
            last_flush = Instant::now();
            unflushed = false;
        }
    }
    let records = writer.records();
    let uncompressed_bytes = writer.uncompressed_bytes();
    let buffered = writer.finish().map_err(write_error)?;
    let file = buffered
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    file.sync_all().map_err(write_error)?;
    let file_bytes = file.metadata().map(|m| m.len()).unwrap_or_default();
    Ok(RecordStats {
        records,
        uncompressed_bytes,
        file_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::replay::format::{Entry, read_recording};
    use crate::domain::ClusterInfo;

    #[tokio::test]
    async fn tee_forwards_everything_and_the_file_reads_back() {
        let dir = std::env::temp_dir().join(format!("kockpit-record-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("tee.kock");
        let recorder = Recorder::create(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
        let (sender, upstream) = mpsc::channel(8);
        let (mut downstream, recording) = recorder.tee(upstream);
        let sent = vec![
            Update::Cluster(ClusterInfo {
                name: "c".into(),
                ..ClusterInfo::default()
            }),
            Update::InitialSyncDone,
        ];
        for update in &sent {
            sender
                .send(update.clone())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut received = Vec::new();
        for _ in 0..sent.len() {
            received.push(downstream.recv().await);
        }
        assert_eq!(received, sent.iter().cloned().map(Some).collect::<Vec<_>>());
        drop(sender);
        drop(downstream);
        let stats = recording.finish().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stats.records, 3, "start + two updates");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stats.file_bytes, bytes.len() as u64);
        let read = read_recording(&bytes[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.damage, None);
        let updates: Vec<Update> = read
            .records
            .into_iter()
            .filter_map(|r| match r.entry {
                Entry::Update(u) => Some(u),
                _ => None,
            })
            .collect();
        assert_eq!(updates, sent);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
