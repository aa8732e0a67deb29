//! The field-level diff a plan shows: the leaves that differ between the object now and the
//! object after the fix, by dotted path. Lists whose items carry a `name` are compared item
//! by item (`containers[coredns].resources.limits.memory`), lists of the same length index by
//! index (`rules[0]`), and lists that grew or shrank as one value.

use serde_json::{Map, Value};

use super::plan::FieldChange;

/// Fields that change on every write and say nothing about the fix.
const IGNORED: [&str; 3] = [
    "metadata.resourceVersion",
    "metadata.managedFields",
    "metadata.generation",
];

/// The changes from `before` to `after`; `Value::Null` stands for "no object".
pub fn field_changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk(
        "",
        (!before.is_null()).then_some(before),
        (!after.is_null()).then_some(after),
        &mut changes,
    );
    changes
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    if IGNORED.contains(&path) || before == after {
        return;
    }
    let empty = Map::new();
    match (before, after) {
        (Some(Value::Object(_)) | None, Some(Value::Object(_)) | None) => {
            let b = before.and_then(Value::as_object).unwrap_or(&empty);
            let a = after.and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                walk(&join(path, key), b.get(key), a.get(key), out);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if named(b) && named(a) => {
            let mut names: Vec<&str> = Vec::new();
            for item in b.iter().chain(a.iter()) {
                if let Some(name) = item.get("name").and_then(Value::as_str)
                    && !names.contains(&name)
                {
                    names.push(name);
                }
            }
            for name in names {
                walk(
                    &format!("{path}[{name}]"),
                    find_named(b, name),
                    find_named(a, name),
                    out,
                );
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if b.len() == a.len() => {
            for (index, (b, a)) in b.iter().zip(a).enumerate() {
                walk(&format!("{path}[{index}]"), Some(b), Some(a), out);
            }
        }
        _ => out.push(FieldChange {
            path: path.to_string(),
            before: before.cloned(),
            after: after.cloned(),
        }),
    }
}

fn find_named<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
}

fn named(list: &[Value]) -> bool {
    !list.is_empty()
        && list
            .iter()
            .all(|i| i.get("name").and_then(Value::as_str).is_some())
}

/// A line diff of two texts (a Corefile before and after), `-`/`+`/` ` prefixed, for the
/// preview. Longest common subsequence; Corefiles are small.
pub fn text_lines(before: &str, after: &str) -> Vec<String> {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let mut lcs = vec![vec![0usize; a.len() + 1]; b.len() + 1];
    for i in (0..b.len()).rev() {
        for j in (0..a.len()).rev() {
            lcs[i][j] = if b[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < b.len() || j < a.len() {
        if i < b.len() && j < a.len() && b[i] == a[j] {
            out.push(format!("  {}", b[i]));
            i += 1;
            j += 1;
        } else if j < a.len() && (i == b.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", a[j]));
            j += 1;
        } else {
            out.push(format!("- {}", b[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_list_items_are_diffed_by_name() {
        let before = json!({"spec": {"containers": [{"name": "coredns", "resources": {"limits": {"memory": "170Mi"}}}]}});
        let after = json!({"spec": {"containers": [{"name": "coredns", "resources": {"limits": {"memory": "256Mi"}}}]}});
        assert_eq!(
            field_changes(&before, &after),
            vec![FieldChange {
                path: "spec.containers[coredns].resources.limits.memory".into(),
                before: Some(json!("170Mi")),
                after: Some(json!("256Mi")),
            }]
        );
    }

    #[test]
    fn added_and_removed_fields_have_one_side() {
        let before = json!({"metadata": {"resourceVersion": "1", "labels": {"a": "1"}}});
        let after = json!({"metadata": {"resourceVersion": "2", "labels": {"b": "2"}}});
        let changes = field_changes(&before, &after);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].path, "metadata.labels.a");
        assert_eq!(changes[0].after, None);
        assert_eq!(changes[1].before, None);
    }

    #[test]
    fn line_diff_marks_added_lines() {
        let lines = text_lines("a\nb\n", "a\nx\nb\n");
        assert_eq!(lines, vec!["  a", "+ x", "  b"]);
    }
}
