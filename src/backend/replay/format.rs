//! The session recording file: what `--record` writes and `kockpit replay` reads.
//!
//! Layout: the 8 magic bytes `KOCKREC\n`, the format version as a little-endian u16, then one
//! gzip stream of records. Each record is a little-endian u32 length followed by that many
//! bytes of JSON: `{"t_ms": …, "entry": {"update": {…}}}`, where `t_ms` counts wall-clock
//! milliseconds since the recording started (what replay paces itself by).
//!
//! Version 2 records several clusters: the start names them (`"clusters": [context, …]`) and
//! each record after it says whose it is (`"cluster": index`, left out for the first). A
//! version 1 file, which has neither, reads as one cluster.
//!
//! JSON rather than a compact binary encoding: `Update` and its snapshots use internally
//! tagged enums (`{"kind": "dns", …}`), which postcard and bincode cannot read back, and a
//! self-describing record lets a newer kockpit read an older file whose structs lacked a
//! field. The repeated keys cost almost nothing after gzip. The writer flushes the gzip
//! stream every second (a sync flush), so a crash loses at most the last second, and a file
//! cut short still replays up to the cut.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::domain::Update;
use crate::domain::limits;
use crate::domain::time::Timestamp;
use crate::domain::timeline::FixAction;

pub const MAGIC: &[u8; 8] = b"KOCKREC\n";
/// Bumped whenever an older kockpit could misread a new file.
pub const FORMAT_VERSION: u16 = 2;

/// One entry of the recording and when it arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Wall-clock milliseconds since the recording started.
    pub t_ms: u64,
    /// The cluster it belongs to, by its place in `StartInfo::clusters`.
    #[serde(default, skip_serializing_if = "is_first")]
    pub cluster: usize,
    pub entry: Entry,
}

fn is_first(cluster: &usize) -> bool {
    *cluster == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entry {
    /// Always the first record: when and by what the file was written.
    Start(StartInfo),
    /// Something the backend delivered.
    Update(Update),
    /// Something the user did to the cluster (apply, verify, undo a fix).
    Fix(FixAction),
}

/// The same shape as `Entry`, borrowing, so recording never clones an update.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum EntryRef<'a> {
    Start(&'a StartInfo),
    Update(&'a Update),
    Fix(&'a FixAction),
}

#[derive(Serialize)]
struct RecordRef<'a> {
    t_ms: u64,
    #[serde(skip_serializing_if = "is_first")]
    cluster: usize,
    entry: EntryRef<'a>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartInfo {
    /// Wall-clock time the recording started.
    pub started_at: Timestamp,
    /// The kockpit version that wrote the file.
    pub writer: String,
    /// The context of each cluster recorded, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
}

/// Why a record could not be encoded (never expected: every value is plain data).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode a record: {0}")]
pub struct EncodeError(#[from] serde_json::Error);

fn encode(record: &RecordRef) -> Result<Vec<u8>, EncodeError> {
    let mut out = vec![0u8; 4];
    serde_json::to_writer(&mut out, record)?;
    let length = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&length.to_le_bytes());
    Ok(out)
}

/// A length-prefixed record of `cluster` (0 for the only one), ready for
/// `RecordWriter::write_encoded`.
pub fn encode_update(t_ms: u64, cluster: usize, update: &Update) -> Result<Vec<u8>, EncodeError> {
    encode(&RecordRef {
        t_ms,
        cluster,
        entry: EntryRef::Update(update),
    })
}

pub fn encode_fix(t_ms: u64, cluster: usize, fix: &FixAction) -> Result<Vec<u8>, EncodeError> {
    encode(&RecordRef {
        t_ms,
        cluster,
        entry: EntryRef::Fix(fix),
    })
}

pub fn encode_start(start: &StartInfo) -> Result<Vec<u8>, EncodeError> {
    encode(&RecordRef {
        t_ms: 0,
        cluster: 0,
        entry: EntryRef::Start(start),
    })
}

/// Writes the header, then compresses encoded records into the file.
pub struct RecordWriter<W: Write> {
    encoder: GzEncoder<W>,
    records: u64,
    uncompressed_bytes: u64,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(MAGIC)?;
        inner.write_all(&FORMAT_VERSION.to_le_bytes())?;
        // Level 3: most of the size gain of the default at a fraction of its CPU.
        Ok(RecordWriter {
            encoder: GzEncoder::new(inner, Compression::new(3)),
            records: 0,
            uncompressed_bytes: 0,
        })
    }

    pub fn write_encoded(&mut self, record: &[u8]) -> io::Result<()> {
        self.encoder.write_all(record)?;
        self.records += 1;
        self.uncompressed_bytes += record.len() as u64;
        Ok(())
    }

    /// Makes everything written so far readable from the file (a gzip sync flush).
    pub fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// What has been written out so far (compressed).
    pub fn get_ref(&self) -> &W {
        self.encoder.get_ref()
    }

    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed_bytes
    }

    /// Ends the gzip stream and hands back the file.
    pub fn finish(self) -> io::Result<W> {
        self.encoder.finish()
    }
}

/// Why a recording cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    #[error("not a kockpit recording (the file does not start with kockpit's header)")]
    NotARecording,
    #[error(
        "this recording was written by a newer kockpit (format version {found}; this kockpit \
         reads up to version {supported}); upgrade kockpit to replay it"
    )]
    NewerVersion { found: u16, supported: u16 },
}

/// Where a damaged recording stops making sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset in the uncompressed record stream where the bad record starts.
    pub byte: u64,
    /// Index of the first record that could not be read (0-based, `Start` included).
    pub record: u64,
    pub cause: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recording damaged at byte {} (record {}): {}; replay stopped there",
            self.byte, self.record, self.cause
        )
    }
}

/// A recording read back: every good record, and where reading stopped if the file is damaged.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub version: u16,
    pub start: Option<StartInfo>,
    pub records: Vec<Record>,
    pub damage: Option<Damage>,
}

/// Reads a whole recording. Only a missing or foreign header, or a newer version, is an
/// error; damage further in keeps the records before it.
pub fn read_recording(mut input: impl Read) -> Result<Recording, OpenError> {
    let mut header = [0u8; 10];
    read_header(&mut input, &mut header)?;
    if &header[..8] != MAGIC {
        return Err(OpenError::NotARecording);
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version > FORMAT_VERSION {
        return Err(OpenError::NewerVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let mut stream = GzDecoder::new(input);
    let mut recording = Recording {
        version,
        start: None,
        records: Vec::new(),
        damage: None,
    };
    let mut offset = 0u64;
    let mut index = 0u64;
    loop {
        let damage = |cause: String| Damage {
            byte: offset,
            record: index,
            cause,
        };
        let mut length = [0u8; 4];
        match read_full(&mut stream, &mut length) {
            Ok(0) => break,
            Ok(4) => {}
            Ok(_) => {
                recording.damage = Some(damage("the file ends inside a record".into()));
                break;
            }
            Err(error) => {
                recording.damage = Some(damage(describe(&error)));
                break;
            }
        }
        let length = u32::from_le_bytes(length);
        // No sane record is this large: a length beyond it means the stream is damaged.
        if !limits::RECORD_BYTES.allows(u64::from(length)) {
            recording.damage = Some(damage(format!("impossible record length {length}")));
            break;
        }
        if !limits::RECORDING_BYTES.allows(offset + 4 + u64::from(length)) {
            recording.damage = Some(damage(
                limits::RECORDING_BYTES.exceeded("the recording", "size"),
            ));
            break;
        }
        // Grown as bytes arrive, never allocated from the length alone: a damaged length
        // within the limit costs only what the file really holds.
        let mut body = Vec::new();
        let read = (&mut stream).take(u64::from(length)).read_to_end(&mut body);
        match read {
            Ok(n) if n == length as usize => {}
            Ok(_) => {
                recording.damage = Some(damage("the file ends inside a record".into()));
                break;
            }
            Err(error) => {
                recording.damage = Some(damage(describe(&error)));
                break;
            }
        }
        let record: Record = match serde_json::from_slice(&body) {
            Ok(record) => record,
            Err(error) => {
                recording.damage = Some(damage(format!("unreadable record ({error})")));
                break;
            }
        };
        match record.entry {
            Entry::Start(start) if recording.start.is_none() => recording.start = Some(start),
            _ => recording.records.push(record),
        }
        offset += 4 + u64::from(length);
        index += 1;
    }
    Ok(recording)
}

fn read_header(input: &mut impl Read, header: &mut [u8; 10]) -> Result<(), OpenError> {
    match read_full(input, header) {
        Ok(10) => Ok(()),
        Ok(_) => Err(OpenError::NotARecording),
        Err(error) => Err(OpenError::Io(error)),
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::UnexpectedEof => "the file is cut short".to_string(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            format!("corrupt compressed data ({error})")
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClusterInfo;
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    fn sample_updates() -> Vec<Update> {
        let mut updates = vec![Update::Cluster(ClusterInfo {
            name: "prod-eu".into(),
            region: "eu-west-1".into(),
            source: "simulated".into(),
            detail: "scenario baseline".into(),
        })];
        for s in 0..200 {
            updates.push(Update::Clock { at: at(s * 5) });
        }
        updates.push(Update::InitialSyncDone);
        updates
    }

    /// A complete file (stream finished) holding `sample_updates`.
    fn file(finish: bool) -> Vec<u8> {
        let mut writer = RecordWriter::new(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        let start = StartInfo {
            started_at: at(0),
            writer: "test".into(),
            clusters: Vec::new(),
        };
        let encoded = encode_start(&start).unwrap_or_else(|e| panic!("{e}"));
        writer
            .write_encoded(&encoded)
            .unwrap_or_else(|e| panic!("{e}"));
        for (i, update) in sample_updates().iter().enumerate() {
            let encoded = encode_update(i as u64 * 10, 0, update).unwrap_or_else(|e| panic!("{e}"));
            writer
                .write_encoded(&encoded)
                .unwrap_or_else(|e| panic!("{e}"));
            if i % 50 == 0 {
                writer.flush().unwrap_or_else(|e| panic!("{e}"));
            }
        }
        writer.flush().unwrap_or_else(|e| panic!("{e}"));
        if finish {
            writer.finish().unwrap_or_else(|e| panic!("{e}"))
        } else {
            // What a crashed writer leaves: everything flushed, no gzip trailer.
            writer.get_ref().clone()
        }
    }

    fn read(bytes: &[u8]) -> Recording {
        read_recording(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    fn updates_of(recording: &Recording) -> Vec<Update> {
        recording
            .records
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Update(u) => Some(u.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn round_trips_updates_times_and_fixes() {
        let bytes = file(true);
        assert_eq!(&bytes[..8], MAGIC);
        let recording = read(&bytes);
        assert_eq!(recording.damage, None);
        assert_eq!(recording.version, FORMAT_VERSION);
        assert_eq!(recording.start.as_ref().map(|s| s.started_at), Some(at(0)));
        assert_eq!(updates_of(&recording), sample_updates());
        assert_eq!(recording.records[3].t_ms, 30);
    }

    #[test]
    fn a_fix_action_round_trips() {
        let fix = FixAction {
            at: at(60),
            finding_id: "dns/latency-p99".into(),
            fix: crate::domain::FixKind::DnsScaleReplicas,
            object: crate::domain::ObjectRef::namespaced("Deployment", "kube-system", "coredns"),
            step: crate::domain::timeline::FixStep::Applied,
            verdict: None,
        };
        let mut writer = RecordWriter::new(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        let encoded = encode_fix(5, 0, &fix).unwrap_or_else(|e| panic!("{e}"));
        writer
            .write_encoded(&encoded)
            .unwrap_or_else(|e| panic!("{e}"));
        let bytes = writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let recording = read(&bytes);
        assert_eq!(recording.records.len(), 1);
        assert_eq!(recording.records[0].entry, Entry::Fix(fix));
    }

    #[test]
    fn a_truncated_file_keeps_the_records_before_the_cut() {
        let bytes = file(true);
        let cut = &bytes[..bytes.len() * 2 / 3];
        let recording = read(cut);
        let damage = recording
            .damage
            .clone()
            .unwrap_or_else(|| panic!("no damage"));
        let kept = recording.records.len() as u64;
        assert!(kept > 10 && kept < 202, "kept {kept}");
        // The Start record counts as record 0.
        assert_eq!(damage.record, kept + 1);
        assert!(
            damage.to_string().contains("replay stopped there"),
            "{damage}"
        );
        assert_eq!(
            updates_of(&recording)[..],
            sample_updates()[..recording.records.len()]
        );
    }

    #[test]
    fn a_crashed_writer_leaves_a_file_that_replays_to_the_last_flush() {
        let bytes = file(false);
        let recording = read(&bytes);
        assert_eq!(recording.records.len(), sample_updates().len());
        let damage = recording.damage.unwrap_or_else(|| panic!("no damage"));
        assert!(damage.cause.contains("cut short"), "{}", damage.cause);
    }

    #[test]
    fn a_corrupted_file_replays_up_to_the_damage() {
        let mut bytes = file(true);
        let middle = bytes.len() / 2;
        for byte in &mut bytes[middle..middle + 16] {
            *byte ^= 0x5a;
        }
        let recording = read(&bytes);
        let damage = recording
            .damage
            .clone()
            .unwrap_or_else(|| panic!("no damage"));
        assert!(recording.records.len() < sample_updates().len());
        assert!(damage.byte > 0);
        let good = updates_of(&recording);
        assert_eq!(good[..], sample_updates()[..good.len()]);
    }

    #[test]
    fn a_newer_version_is_refused_with_a_clear_error() {
        let mut bytes = file(true);
        bytes[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let error = read_recording(&bytes[..]).err().map(|e| e.to_string());
        let error = error.unwrap_or_else(|| panic!("accepted a newer version"));
        assert!(error.contains("newer kockpit"), "{error}");
        assert!(
            error.contains(&format!("version {}", FORMAT_VERSION + 1)),
            "{error}"
        );
    }

    #[test]
    fn a_version_1_recording_still_reads_as_one_cluster() {
        // Version 1 had no `cluster` and no `clusters`: exactly what version 2 writes for
        // a single cluster, under the old version number.
        let mut bytes = file(true);
        bytes[8..10].copy_from_slice(&1u16.to_le_bytes());
        let recording = read_recording(&bytes[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recording.version, 1);
        assert_eq!(recording.damage, None);
        assert!(recording.records.iter().all(|r| r.cluster == 0));
        assert_eq!(updates_of(&recording), sample_updates());
        assert!(recording.start.is_some_and(|s| s.clusters.is_empty()));
    }

    #[test]
    fn a_foreign_file_is_not_a_recording() {
        assert!(matches!(
            read_recording(&b"{\"hello\": 1}"[..]),
            Err(OpenError::NotARecording)
        ));
        assert!(matches!(
            read_recording(&b"KOCK"[..]),
            Err(OpenError::NotARecording)
        ));
    }
}
