//! Spend fix (§8.4 F-$-1): cost-allocation labels on a namespace. The values are proposed
//! from the namespace's name, and the plan says so; labels already set are left alone.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::context::PlanContext;
use super::object::{guarded_patch, own_target};
use super::plan::{PatchType, Risk, VerifyCondition};
use super::{Draft, PlanError, verification};

const LABELS: [&str; 2] = ["team", "cost-center"];

pub fn cost_labels(object: &Value, _context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let existing = object.pointer("/metadata/labels");
    let current = |key: &str| {
        existing
            .and_then(|labels| labels.get(key))
            .and_then(Value::as_str)
    };
    let verify = verification(
        VerifyCondition::NamespaceLabelled {
            namespace: target.name.clone(),
        },
        Duration::from_secs(5 * 60),
        LABELS
            .iter()
            .map(|key| (*key, current(key).unwrap_or("unset").to_string()))
            .collect(),
    );
    let mut labels = Map::new();
    for key in LABELS {
        if current(key).is_none() {
            labels.insert(key.to_string(), Value::String(target.name.clone()));
        }
    }
    if labels.is_empty() {
        return Ok(Draft::refused(
            target,
            Risk::Low,
            "the namespace already has team and cost-center labels".into(),
            verify,
        ));
    }
    let proposed: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let (operation, precondition, inverse) = guarded_patch(
        object,
        PatchType::Merge,
        json!({"metadata": {"labels": Value::Object(labels)}}),
    )?;
    Ok(Draft {
        blast_radius: format!("namespace {}: labels only, no pod changes", target.name),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Low,
        warnings: vec![format!(
            "{} proposed from the namespace name: export the patch and edit it if the owners differ",
            proposed.join(", ")
        )],
        refusal: None,
        verify,
    })
}
