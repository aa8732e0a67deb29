//! A fix written out for a person or a repository instead of applied: a patch file and the
//! equivalent `kubectl` command. Both carry the precondition, so pasting them later still
//! fails safely if the object changed in between.

use serde_json::Value;

use super::plan::{FIELD_MANAGER, FixPlan, Operation, Precondition, Target};

/// The here-doc delimiter; pretty-printed JSON never has a line equal to it.
const HEREDOC_END: &str = "KOCKPIT_EOF";

fn pretty(body: &Value) -> String {
    serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string())
}

fn compact(body: &Value) -> String {
    body.to_string()
}

/// The comment lines every export starts with: what, where, and under which precondition.
fn header(plan: &FixPlan) -> Vec<String> {
    let mut lines = vec![
        format!("# kockpit fix: {} ({})", plan.kind.title(), plan.id),
        format!(
            "# target: {} [{}]",
            plan.target.describe(),
            plan.target.api_version
        ),
        format!(
            "# risk: {}; blast radius: {}",
            plan.risk.as_str(),
            plan.blast_radius
        ),
    ];
    match &plan.operation {
        Operation::Patch { patch_type, .. } => {
            lines.push(format!("# patch type: {}", patch_type.content_type()))
        }
        Operation::Create { .. } => lines.push("# operation: create".into()),
        Operation::Delete => lines.push("# operation: delete".into()),
    }
    lines.push(format!(
        "# precondition: {}",
        describe_precondition(&plan.precondition)
    ));
    for warning in &plan.warnings {
        lines.push(format!("# warning: {}", one_line(warning)));
    }
    if let Some(refusal) = &plan.refusal {
        lines.push(format!("# REFUSED: {}", one_line(refusal)));
    }
    lines
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

pub fn describe_precondition(precondition: &Precondition) -> String {
    match precondition {
        Precondition::ResourceVersion(rv) => {
            format!("metadata.resourceVersion {rv} (in the patch; a newer object is a conflict)")
        }
        Precondition::JsonTest(tests) => {
            let paths: Vec<&str> = tests.iter().map(|t| t.path.as_str()).collect();
            format!("JSON patch test ops on {}", paths.join(", "))
        }
        Precondition::MustNotExist => "the object must not exist yet".into(),
        Precondition::ResourceVersionFromApply => "the resourceVersion the apply returned".into(),
    }
}

/// The patch (or manifest) as a file: comment lines, then the body as JSON, which is also
/// valid YAML, so `kubectl patch --patch-file` and `kubectl create -f` both read it.
pub fn patch_file(plan: &FixPlan) -> String {
    let mut out = header(plan).join("\n");
    out.push('\n');
    match &plan.operation {
        Operation::Patch { body, .. } | Operation::Create { body } => out.push_str(&pretty(body)),
        Operation::Delete => out.push_str("{}"),
    }
    out.push('\n');
    out
}

/// `kubectl`'s name for the resource: plural, qualified by group outside the core group.
fn kubectl_resource(target: &Target) -> String {
    match target.group() {
        "" => target.resource.clone(),
        group => format!("{}.{group}", target.resource),
    }
}

/// Quotes a word for a POSIX shell: bare when it is plainly safe, single-quoted otherwise.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn namespace_flag(target: &Target) -> String {
    match &target.namespace {
        Some(ns) => format!(" -n {}", shell_quote(ns)),
        None => String::new(),
    }
}

/// The `kubectl` command that makes the same change.
pub fn kubectl_command(plan: &FixPlan) -> String {
    let target = &plan.target;
    let resource = kubectl_resource(target);
    match &plan.operation {
        Operation::Patch { patch_type, body } => {
            let subresource = match &target.subresource {
                Some(sub) => format!(" --subresource={}", shell_quote(sub)),
                None => String::new(),
            };
            format!(
                "kubectl patch {resource} {}{}{subresource} --field-manager={FIELD_MANAGER} --type {} -p {}",
                shell_quote(&target.name),
                namespace_flag(target),
                patch_type.kubectl_type(),
                shell_quote(&compact(body)),
            )
        }
        Operation::Create { body } => format!(
            "kubectl create{} --field-manager={FIELD_MANAGER} -f - <<'{HEREDOC_END}'\n{}\n{HEREDOC_END}",
            namespace_flag(target),
            pretty(body)
        ),
        Operation::Delete => format!(
            "kubectl delete {resource} {}{}",
            shell_quote(&target.name),
            namespace_flag(target)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_single_quotes() {
        assert_eq!(shell_quote("coredns"), "coredns");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(r#"{"a":"b c"}"#), r#"'{"a":"b c"}'"#);
        assert_eq!(shell_quote(""), "''");
    }
}
