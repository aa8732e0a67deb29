//! Reading a cluster dump: every `*.yaml`, `*.yml` and `*.json` file under a directory
//! (recursively), or one such file. YAML files may hold several documents; a `kind: List` (the
//! output of `kubectl get -A -o yaml` or `-o json`) contributes its items. A file that cannot be
//! read or parsed is reported and skipped; the others still load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::domain::limits;

/// Why a dump could not be read at all (nothing in it could be found).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no *.yaml, *.yml or *.json files")]
    Empty { path: PathBuf },
}

/// What one file of the dump gave: objects by kind, and what was skipped and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileReport {
    pub path: PathBuf,
    /// Objects kept, counted by kind.
    pub loaded: BTreeMap<String, usize>,
    /// Objects (or the whole file) left out, each with the reason, counted.
    pub skipped: BTreeMap<String, usize>,
}

impl FileReport {
    fn new(path: &Path) -> Self {
        FileReport {
            path: path.to_path_buf(),
            ..FileReport::default()
        }
    }

    pub fn skip(&mut self, why: impl Into<String>) {
        *self.skipped.entry(why.into()).or_default() += 1;
    }

    pub fn keep(&mut self, kind: &str) {
        *self.loaded.entry(kind.to_string()).or_default() += 1;
    }

    /// One line: `FILE: 12 Pod, 3 Service; skipped 2 (Secret: never read)`.
    pub fn line(&self) -> String {
        let loaded: Vec<String> = self
            .loaded
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let mut line = format!(
            "{}: {}",
            self.path.display(),
            if loaded.is_empty() {
                "nothing loaded".to_string()
            } else {
                loaded.join(", ")
            }
        );
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(why, n)| {
                    if *n == 1 {
                        why.clone()
                    } else {
                        format!("{n}× {why}")
                    }
                })
                .collect();
            line.push_str(&format!("; skipped {}", skipped.join("; ")));
        }
        line
    }
}

/// An object of the dump and the file it came from (an index into the reports).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub file: usize,
    pub object: Value,
}

/// Everything read from a dump.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dump {
    pub objects: Vec<Manifest>,
    pub files: Vec<FileReport>,
}

impl Dump {
    /// Counts of loaded objects over every file.
    pub fn loaded(&self) -> usize {
        self.files.iter().flat_map(|f| f.loaded.values()).sum()
    }

    pub fn skipped(&self) -> usize {
        self.files.iter().flat_map(|f| f.skipped.values()).sum()
    }

    /// The per-file lines, for the terminal before the cockpit starts.
    pub fn lines(&self) -> Vec<String> {
        self.files.iter().map(FileReport::line).collect()
    }
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ManifestError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ManifestError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files(&path, out)?;
        } else if is_manifest(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// About how many bytes `value` takes as JSON: strings and keys by length, the rest a few
/// bytes each. Cheap enough to run on every object of a dump.
fn approx_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => items.iter().map(approx_bytes).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(key, value)| key.len() + 3 + approx_bytes(value))
                .sum::<usize>()
                + 2
        }
    }
}

fn flatten(value: Value, out: &mut Vec<Value>, report: &mut FileReport) {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if is_list {
        if let Value::Object(mut map) = value
            && let Some(Value::Array(items)) = map.remove("items")
        {
            for item in items {
                flatten(item, out, report);
            }
        }
    } else if value.get("kind").is_some() && value.get("metadata").is_some() {
        let bytes = approx_bytes(&value);
        if limits::OBJECT_BYTES.allows(bytes as u64) {
            out.push(value);
        } else {
            let kind = value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            report.skip(format!(
                "{kind} {name}: {} is over kockpit's limit of {} for one object",
                crate::domain::format::bytes(bytes as f64),
                limits::OBJECT_BYTES.shown()
            ));
        }
    } else if !value.is_null() {
        report.skip("a document without kind or metadata");
    }
}

/// Parses one file's text into objects.
pub fn parse(text: &str, json: bool) -> Result<Vec<Value>, String> {
    let mut report = FileReport::default();
    parse_into(text, json, &mut report)
}

fn parse_into(text: &str, json: bool, report: &mut FileReport) -> Result<Vec<Value>, String> {
    let documents: Vec<Value> = if json {
        vec![serde_json::from_str(text).map_err(|e| e.to_string())?]
    } else {
        serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?
    };
    let mut out = Vec::new();
    for document in documents {
        flatten(document, &mut out, report);
    }
    Ok(out)
}

/// One file's text as a whole dump (`json`: the file is JSON, else YAML); nothing is read
/// from disk.
pub(crate) fn from_text(name: &str, text: &str, json: bool) -> Dump {
    let mut report = FileReport::new(Path::new(name));
    let mut dump = Dump::default();
    match parse_into(text, json, &mut report) {
        Ok(objects) => dump.objects.extend(
            objects
                .into_iter()
                .map(|object| Manifest { file: 0, object }),
        ),
        Err(problem) => report.skip(format!("the whole file: {problem}")),
    }
    dump.files.push(report);
    dump
}

/// Every object in the dump (a directory, or a single file), in file order. A file that
/// cannot be read or parsed is reported as skipped with its error.
pub fn load(path: &Path) -> Result<Dump, ManifestError> {
    let mut paths = Vec::new();
    if path.is_dir() {
        files(path, &mut paths)?;
    } else {
        std::fs::metadata(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        paths.push(path.to_path_buf());
    }
    if paths.is_empty() {
        return Err(ManifestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut dump = Dump::default();
    for path in paths {
        let mut report = FileReport::new(&path);
        let json = path.extension().is_some_and(|e| e == "json");
        let parsed = crate::backend::files::read_to_string(&path, limits::DUMP_FILE_BYTES)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| parse_into(&text, json, &mut report));
        match parsed {
            Ok(objects) => dump
                .objects
                .extend(objects.into_iter().map(|object| Manifest {
                    file: dump.files.len(),
                    object,
                })),
            Err(problem) => report.skip(format!("the whole file: {problem}")),
        }
        dump.files.push(report);
    }
    Ok(dump)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_documents() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    namespace: x\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n";
        let objects = parse(text, false).unwrap_or_default();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0]["metadata"]["name"], "a");
        assert_eq!(objects[1]["kind"], "Namespace");
    }

    #[test]
    fn an_object_over_the_limit_is_skipped_and_named() {
        let huge = "x".repeat(limits::OBJECT_BYTES.max as usize + 1);
        let text = format!(
            "{{\"kind\":\"List\",\"items\":[{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"coredns\",\"namespace\":\"kube-system\"}},\"data\":{{\"Corefile\":\"{huge}\"}}}}]}}"
        );
        let mut report = FileReport::default();
        let objects = parse_into(&text, true, &mut report).unwrap_or_default();
        assert!(objects.is_empty());
        assert_eq!(
            report.line(),
            ": nothing loaded; skipped ConfigMap coredns: 3.1 MB is over kockpit's limit of 3 MiB for one object"
        );
    }

    #[test]
    fn a_broken_file_is_reported_and_the_rest_loads() {
        let dir = std::env::temp_dir().join(format!("kockpit-manifests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"))
        };
        write(
            "a.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
        );
        write("b.json", "{\"kind\": \"List\", \"items\": [");
        write(
            "sub/c.json",
            "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"data\"}}, {\"just\": 1}]}",
        );
        write("notes.txt", "not a manifest");
        let dump = load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(dump.files.len(), 3, "{:?}", dump.files);
        assert_eq!(dump.objects.len(), 2);
        assert!(
            dump.files[1].line().contains("skipped the whole file: EOF"),
            "{}",
            dump.files[1].line()
        );
        assert!(
            dump.files[2]
                .line()
                .contains("a document without kind or metadata")
        );
    }
}
