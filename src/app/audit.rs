//! The audit log: one JSON line per fix applied, undone, failed or verified, appended to
//! `audit.jsonl` in the XDG state directory. It is the record an incident review reads, so
//! it names who (the kubeconfig user), where (the context), what (object and patch) and how
//! it ended.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::fix::FixPlan;

pub const FILE_NAME: &str = "audit.jsonl";

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Wall-clock time, RFC 3339 UTC.
    pub time: String,
    pub user: String,
    pub context: String,
    /// `apply`, `undo` or `verify`.
    pub action: String,
    pub fix_id: String,
    pub fix: String,
    /// "ConfigMap kube-system/coredns".
    pub object: String,
    pub api_version: String,
    /// The write as sent (patch body, object to create, or null for a delete).
    pub patch: Value,
    pub patch_type: Option<String>,
    pub precondition: String,
    /// `applied`, `undone`, `conflict`, `failed`, `verified`, `not-verified`.
    pub result: String,
    /// The server's message, or the verification's figures.
    pub detail: Option<String>,
    /// The object's resourceVersion after the write, when it succeeded.
    pub resource_version: Option<String>,
}

impl AuditEntry {
    /// An entry for `plan`, with the write that was sent.
    pub fn for_write(
        plan: &FixPlan,
        action: &str,
        operation: &crate::domain::fix::Operation,
        identity: (&str, &str),
        result: &str,
    ) -> Self {
        use crate::domain::fix::Operation;
        let (patch, patch_type) = match operation {
            Operation::Patch { patch_type, body } => {
                (body.clone(), Some(patch_type.content_type().to_string()))
            }
            Operation::Create { body } => (body.clone(), None),
            Operation::Delete => (Value::Null, None),
        };
        AuditEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            user: identity.0.to_string(),
            context: identity.1.to_string(),
            action: action.to_string(),
            fix_id: plan.id.clone(),
            fix: plan.kind.slug().to_string(),
            object: plan.target.describe(),
            api_version: plan.target.api_version.clone(),
            patch,
            patch_type,
            precondition: crate::domain::fix::export::describe_precondition(&plan.precondition),
            result: result.to_string(),
            detail: None,
            resource_version: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Where the audit log is written: `KOCKPIT_STATE_DIR` or the XDG state directory.
pub fn default_path() -> Option<PathBuf> {
    super::config::state_dir().map(|dir| dir.join(FILE_NAME))
}

/// Why an entry could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot append to the audit log {path}: {source}")]
pub struct AuditError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Appends one line. The file is opened in append mode for each entry, so lines from two
/// kockpits never interleave within a line and a crash loses nothing already written.
pub fn append(path: &Path, entry: &AuditEntry) -> Result<(), AuditError> {
    let wrap = |source| AuditError {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(wrap)?;
    }
    let mut line =
        serde_json::to_string(entry).map_err(|e| wrap(std::io::Error::other(e.to_string())))?;
    line.push('\n');
    let mut file = crate::backend::files::create_private(path, true).map_err(wrap)?;
    file.write_all(line.as_bytes()).map_err(wrap)?;
    file.sync_data().map_err(wrap)
}

/// Every entry of an audit log, skipping lines that are not entries (tests, `fix` output).
pub fn read(path: &Path) -> Vec<AuditEntry> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
        .unwrap_or_default()
}
