//! `--objects DIR`: loads every `*.yaml`, `*.yml` and `*.json` file under DIR (recursively)
//! into the store. YAML files may hold several documents; a `kind: List` (the output of
//! `kubectl get -A -o yaml`) contributes its items. Loaded objects are foreign to the
//! simulator: they win over a simulated object of the same kind, namespace and name.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why a manifest directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Parse { path: PathBuf, problem: String },
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
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn flatten(value: Value, out: &mut Vec<Value>) {
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
                flatten(item, out);
            }
        }
    } else if value.get("kind").is_some() && value.get("metadata").is_some() {
        out.push(value);
    }
}

/// Parses one file's text into objects.
pub fn parse(text: &str, json: bool) -> Result<Vec<Value>, String> {
    let documents: Vec<Value> = if json {
        vec![serde_json::from_str(text).map_err(|e| e.to_string())?]
    } else {
        serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?
    };
    let mut out = Vec::new();
    for document in documents {
        flatten(document, &mut out);
    }
    Ok(out)
}

/// Every object in the directory's manifest files, in file order.
pub fn load(dir: &Path) -> Result<Vec<Value>, ManifestError> {
    let mut paths = Vec::new();
    files(dir, &mut paths)?;
    let mut objects = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io {
            path: path.clone(),
            source,
        })?;
        let json = path.extension().is_some_and(|e| e == "json");
        let parsed = parse(&text, json).map_err(|problem| ManifestError::Parse {
            path: path.clone(),
            problem,
        })?;
        objects.extend(parsed);
    }
    Ok(objects)
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
}
