//! The scenario registry: the built-in scenarios (embedded in the binary) and scenario
//! files on disk, with `extends` resolved against both.

use std::path::{Path, PathBuf};

use super::catalog;
use crate::domain::limits;
use crate::domain::scenario::{self, ParentText, ParseContext, Scenario, ScenarioError};

/// Built-in scenarios, in the order they are listed.
const BUILTIN: &[(&str, &str)] = &[
    (
        "baseline",
        include_str!("../../../assets/scenarios/baseline.toml"),
    ),
    (
        "dns-storm",
        include_str!("../../../assets/scenarios/dns-storm.toml"),
    ),
    (
        "spot-interruption",
        include_str!("../../../assets/scenarios/spot-interruption.toml"),
    ),
    (
        "broken-route",
        include_str!("../../../assets/scenarios/broken-route.toml"),
    ),
    (
        "cross-zone",
        include_str!("../../../assets/scenarios/cross-zone.toml"),
    ),
    (
        "overprovisioned",
        include_str!("../../../assets/scenarios/overprovisioned.toml"),
    ),
    // A pair, watched side by side: `--demo --scenario regional-failover-euw1,regional-failover-euc1`.
    (
        "regional-failover-euw1",
        include_str!("../../../assets/scenarios/regional-failover-euw1.toml"),
    ),
    (
        "regional-failover-euc1",
        include_str!("../../../assets/scenarios/regional-failover-euc1.toml"),
    ),
];

/// A scenario as a picker lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSummary {
    pub name: String,
    pub description: String,
}

fn builtin_origin(name: &str) -> String {
    format!("builtin scenario {name}")
}

/// The text of a built-in scenario.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// The built-in scenarios with their one-line descriptions.
pub fn list() -> Vec<ScenarioSummary> {
    BUILTIN
        .iter()
        .map(|(name, _)| ScenarioSummary {
            name: name.to_string(),
            description: match load(name) {
                Ok(scenario) => scenario.description,
                Err(error) => format!("(does not load: {error})"),
            },
        })
        .collect()
}

fn looks_like_path(value: &str) -> bool {
    value.ends_with(".toml") || value.contains('/')
}

/// Finds an `extends` parent: a path (relative to the child's file) or a built-in name.
fn resolve(parent: &str, child_origin: &str) -> Result<ParentText, String> {
    if looks_like_path(parent) {
        let base = Path::new(child_origin).parent().unwrap_or(Path::new(""));
        let path: PathBuf = if Path::new(parent).is_absolute() {
            PathBuf::from(parent)
        } else {
            base.join(parent)
        };
        let origin = path.display().to_string();
        return crate::backend::files::read_to_string(&path, limits::USER_FILE_BYTES)
            .map(|text| ParentText {
                text,
                origin: origin.clone(),
            })
            .map_err(|e| format!("cannot read parent scenario {origin}: {e}"));
    }
    builtin_parent(parent)
}

/// A built-in scenario as an `extends` parent.
pub(crate) fn builtin_parent(parent: &str) -> Result<ParentText, String> {
    builtin_text(parent)
        .map(|text| ParentText {
            text: text.to_string(),
            origin: builtin_origin(parent),
        })
        .ok_or_else(|| {
            format!(
                "`extends = \"{parent}\"` names no built-in scenario; known: {}",
                builtin_names().join(", ")
            )
        })
}

/// Parses a scenario file's text; `extends` parents are files beside `origin` or built-ins.
pub(crate) fn parse_text(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let known = catalog::names();
    let mut resolver = resolve;
    scenario::parse_with(
        text,
        origin,
        &mut ParseContext {
            resolve_parent: &mut resolver,
            known_instance_types: Some(&known),
        },
    )
}

/// Loads a scenario: a value ending in `.toml` or containing `/` is a file (its path is
/// the origin in error messages); anything else names a built-in scenario.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if looks_like_path(name_or_path) {
        let text =
            crate::backend::files::read_to_string(Path::new(name_or_path), limits::USER_FILE_BYTES)
                .map_err(|e| ScenarioError::Unreadable {
                    origin: name_or_path.to_string(),
                    problem: format!("cannot read scenario file: {e}"),
                })?;
        return parse_text(&text, name_or_path);
    }
    let text = builtin_text(name_or_path).ok_or_else(|| ScenarioError::Unknown {
        name: name_or_path.to_string(),
        known: builtin_names().iter().map(|n| n.to_string()).collect(),
    })?;
    parse_text(text, &builtin_origin(name_or_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads() {
        for name in builtin_names() {
            let scenario = load(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(scenario.name, name);
            assert!(!scenario.description.is_empty());
        }
        assert_eq!(list().len(), BUILTIN.len());
        assert!(
            list()
                .iter()
                .all(|s| !s.description.starts_with("(does not load"))
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let error = load("no-such-scenario")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no-such-scenario") && error.contains("baseline"),
            "{error}"
        );
    }

    #[test]
    fn missing_files_name_the_path() {
        let error = load("/nonexistent/dir/storm.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("/nonexistent/dir/storm.toml:"), "{error}");
    }

    #[test]
    fn files_on_disk_can_extend_builtins() {
        let dir = std::env::temp_dir().join(format!("kockpit-scenarios-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("mine.toml");
        let text = "name = \"mine\"\ndescription = \"Baseline with more frontends.\"\nextends = \"baseline\"\n\n[workloads.frontend]\nreplicas = 9\n";
        std::fs::write(&path, text).unwrap_or_default();
        let loaded = load(&path.display().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        let scenario = loaded.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.workloads["frontend"].replicas, 9);
        assert_eq!(scenario.workloads["frontend"].namespace, "shop");
    }

    #[test]
    fn a_bad_file_names_its_line() {
        let dir = std::env::temp_dir().join(format!("kockpit-bad-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("bad.toml");
        let text = "name = \"bad\"\ndescription = \"x\"\nextends = \"baseline\"\n\n[dns]\nreplicas = \"many\"\n";
        std::fs::write(&path, text).unwrap_or_default();
        let origin = path.display().to_string();
        let error = load(&origin).map(|_| ()).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            error.starts_with(&format!("{origin}: line 6, column ")),
            "{error}"
        );
    }
}
