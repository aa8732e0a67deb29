//! A cluster dump as the cockpit's source (`kockpit --objects DIR`): the objects of
//! `kubectl get -A -o yaml|json` output or a support bundle's directory, projected the way the
//! live backend projects watched objects, and shown as they stood at the dump's newest
//! timestamp. Nothing is simulated, nothing moves, and nothing can be written.

pub mod manifests;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::sync::mpsc;

use super::live::crds;
use super::live::manifest::{self, Projected};
use super::{Backend, BackendHandle, Command, UpdateSender};
use crate::domain::assemble::{self, ClusterObjects, ObjectKind};
use crate::domain::model::{ClusterInfo, Pane, SourceHealth, SourceState, SourceStatus, Update};
use crate::domain::time::Timestamp;
pub use manifests::{Dump, FileReport, ManifestError};

/// What the pane states and the source-health view call this source.
pub const SOURCE: &str = "dump";

/// The keys of a Kubernetes object that hold instants; the newest of them is when the dump
/// was taken (as far as the dump can tell).
const TIME_KEYS: &[&str] = &[
    "creationTimestamp",
    "deletionTimestamp",
    "lastTransitionTime",
    "lastHeartbeatTime",
    "lastProbeTime",
    "lastUpdateTime",
    "lastTimestamp",
    "firstTimestamp",
    "eventTime",
    "startTime",
    "startedAt",
    "finishedAt",
    "time",
];

fn newest_in(value: &Value, newest: &mut Option<Timestamp>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text) if TIME_KEYS.contains(&key.as_str()) => {
                        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
                            let at = at.with_timezone(&chrono::Utc);
                            if newest.is_none_or(|n| at > n) {
                                *newest = Some(at);
                            }
                        }
                    }
                    other => newest_in(other, newest),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| newest_in(item, newest)),
        _ => {}
    }
}

/// The newest instant any object of the dump records: the clock the dump is shown at.
pub fn as_of(objects: &[manifests::Manifest]) -> Option<Timestamp> {
    let mut newest = None;
    for manifest in objects {
        newest_in(&manifest.object, &mut newest);
    }
    newest
}

/// A dump read and projected, ready to be shown.
#[derive(Debug)]
pub struct DumpBackend {
    path: PathBuf,
    objects: ClusterObjects,
    kinds: BTreeSet<ObjectKind>,
    /// What each file gave (the objects themselves are in `objects`, projected).
    report: Dump,
    at: Timestamp,
}

impl DumpBackend {
    /// Reads the dump and projects every object kockpit reads, reporting per file what was
    /// kept and what was left out. Fails only when nothing can be found at `path`.
    pub fn open(path: &Path) -> Result<DumpBackend, ManifestError> {
        Ok(DumpBackend::from_dump(path, manifests::load(path)?))
    }

    /// The backend of objects already read from `path`.
    pub(crate) fn from_dump(path: &Path, mut report: Dump) -> DumpBackend {
        let at = as_of(&report.objects).unwrap_or_else(chrono::Utc::now);
        let mut objects = ClusterObjects::default();
        let mut kinds = BTreeSet::new();
        for item in std::mem::take(&mut report.objects) {
            let file = &mut report.files[item.file];
            match manifest::project(&item.object) {
                Projected::Kept(projection) => {
                    let kind = projection.kind();
                    file.keep(item.object["kind"].as_str().unwrap_or_default());
                    kinds.insert(kind);
                    objects.upsert(*projection);
                }
                Projected::Skipped(why) => file.skip(why),
            }
        }
        DumpBackend {
            path: path.to_path_buf(),
            objects,
            kinds,
            report,
            at,
        }
    }

    /// The per-file report: one line a file.
    pub fn report(&self) -> Vec<String> {
        self.report.lines()
    }

    fn cluster(&self) -> ClusterInfo {
        let region = self
            .objects
            .nodes
            .values()
            .find_map(|n| n.region.clone())
            .unwrap_or_default();
        let name = self
            .path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dump".to_string());
        ClusterInfo {
            name,
            region,
            source: SOURCE.to_string(),
            detail: format!(
                "{}: {} objects, frozen at {}",
                self.path.display(),
                self.report.loaded(),
                self.at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        }
    }

    /// A pane whose kinds are absent from the dump says so instead of showing an empty pane.
    fn pane_state(&self, pane: Pane) -> SourceState {
        let missing = |what: &str| SourceState::NotInstalled {
            what: format!("{what} (none in the dump)"),
        };
        match pane {
            Pane::Gateways if !self.kinds.contains(&ObjectKind::Gateway) => missing(&format!(
                "Gateway API ({}/{} Gateway)",
                crds::GATEWAY.group,
                crds::GATEWAY.version
            )),
            Pane::Nodes if !self.kinds.contains(&ObjectKind::NodePool) => missing(&format!(
                "Karpenter ({}/{} NodePool)",
                crds::NODE_POOL.group,
                crds::NODE_POOL.version
            )),
            _ if !self.kinds.contains(&ObjectKind::Node) => SourceState::Degraded {
                cause: "the dump holds no Nodes: zones, prices and spend are unknown".to_string(),
            },
            _ => SourceState::Ok,
        }
    }

    fn health(&self) -> SourceHealth {
        let mut health = SourceHealth::new(SOURCE, &self.path.display().to_string());
        health.last_success = Some(self.at);
        health.queries_ok = self.report.loaded() as u64;
        health.queries_failed = self.report.skipped() as u64;
        if let Some(file) = self.report.files.iter().find(|f| {
            f.skipped
                .keys()
                .any(|why| why.starts_with("the whole file"))
        }) {
            health.last_error = Some(file.line());
            health.last_error_at = Some(self.at);
        }
        health
    }

    /// Everything the cockpit needs, in the order a live source would send it.
    pub fn updates(&self) -> Vec<Update> {
        let at = self.at;
        let objects = &self.objects;
        let mut updates = vec![
            Update::Cluster(self.cluster()),
            Update::Health(self.health()),
        ];
        for pane in Pane::ALL {
            updates.push(Update::Source(SourceStatus {
                pane,
                source: SOURCE.to_string(),
                state: self.pane_state(pane),
                at,
            }));
        }
        updates.extend([
            Update::Dns(assemble::dns(objects, at)),
            Update::Gateways(assemble::gateways(objects, at)),
            Update::Flows(assemble::flows(objects, at)),
            Update::Nodes(assemble::nodes(objects, at)),
            Update::Workloads(assemble::workloads(objects, at)),
            Update::Clock { at },
            Update::InitialSyncDone,
        ]);
        let skipped = self.report.skipped();
        updates.push(Update::Notice {
            text: format!(
                "read {} objects from {} files of {}{}",
                self.report.loaded(),
                self.report.files.len(),
                self.path.display(),
                if skipped > 0 {
                    format!("; {skipped} left out (the per-file report is printed at start)")
                } else {
                    String::new()
                }
            ),
        });
        updates
    }
}

impl Backend for DumpBackend {
    fn start(self: Box<Self>, updates: UpdateSender) -> BackendHandle {
        let (commands, mut receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            for update in self.updates() {
                if updates.send(update).await.is_err() {
                    return;
                }
            }
            // The dump never changes: wait to be told to stop.
            loop {
                tokio::select! {
                    command = receiver.recv() => match command {
                        Some(Command::Shutdown) | None => return,
                        Some(_) => {}
                    },
                    () = updates.closed() => return,
                }
            }
        });
        BackendHandle {
            commands,
            task,
            // A dump is a record of the past: there is nothing to apply a fix to.
            writer: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_newest_instant_anywhere_in_the_objects() {
        let objects = vec![
            manifests::Manifest {
                file: 0,
                object: json!({"metadata": {"creationTimestamp": "2026-03-02T09:00:00Z"},
                    "status": {"conditions": [{"lastTransitionTime": "2026-03-02T09:58:30Z"}]}}),
            },
            manifests::Manifest {
                file: 0,
                object: json!({"metadata": {"creationTimestamp": "2026-03-01T09:00:00Z",
                    "managedFields": [{"time": "2026-03-02T09:59:00Z"}]},
                    "note": "2027-01-01T00:00:00Z"}),
            },
        ];
        assert_eq!(
            as_of(&objects).map(|t| t.to_rfc3339()),
            Some("2026-03-02T09:59:00+00:00".to_string())
        );
    }
}
