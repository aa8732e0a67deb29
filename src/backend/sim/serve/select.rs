//! Label and field selectors of list and watch requests, in the forms kubectl and kube-rs
//! send: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)` for labels, and
//! `path=value` / `path!=value` on any dotted field path (`metadata.name`, `spec.nodeName`,
//! `status.phase`, `involvedObject.name`) for fields.

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Missing(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// Splits on commas outside parentheses.
fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn parse_term(term: &str, labels: bool) -> Result<Requirement, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: `{term}`"));
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key.trim().into(),
            value.trim().into(),
        ));
    }
    if let Some((key, value)) = term.split_once("==") {
        return Ok(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    if let Some((key, value)) = term.split_once('=') {
        return Ok(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    if !labels {
        return Err(bad());
    }
    if let Some((key, values)) = term.split_once(" notin ") {
        return Ok(Requirement::NotIn(
            key.trim().into(),
            set_values(values).ok_or_else(bad)?,
        ));
    }
    if let Some((key, values)) = term.split_once(" in ") {
        return Ok(Requirement::In(
            key.trim().into(),
            set_values(values).ok_or_else(bad)?,
        ));
    }
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::Missing(key.trim().into()));
    }
    if term.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(Requirement::Exists(term.into()))
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

fn field_value(object: &Value, path: &str) -> Option<String> {
    let mut current = object;
    for part in path.split('.') {
        current = current.get(part)?;
    }
    match current {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn check(requirement: &Requirement, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    match requirement {
        Requirement::Equals(k, v) => lookup(k).unwrap_or_default() == *v,
        Requirement::NotEquals(k, v) => lookup(k).unwrap_or_default() != *v,
        Requirement::Exists(k) => lookup(k).is_some(),
        Requirement::Missing(k) => lookup(k).is_none(),
        Requirement::In(k, vs) => lookup(k).is_some_and(|v| vs.contains(&v)),
        Requirement::NotIn(k, vs) => lookup(k).is_none_or(|v| !vs.contains(&v)),
    }
}

impl Selector {
    pub fn parse(label: Option<&str>, field: Option<&str>) -> Result<Self, ApiError> {
        let labels = terms(label.unwrap_or(""))
            .iter()
            .map(|t| parse_term(t, true))
            .collect::<Result<_, _>>()?;
        let fields = terms(field.unwrap_or(""))
            .iter()
            .map(|t| parse_term(t, false))
            .collect::<Result<_, _>>()?;
        Ok(Selector { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.get("metadata").and_then(|m| m.get("labels"));
        let label = |key: &str| {
            labels
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let field = |path: &str| field_value(object, path);
        self.labels.iter().all(|r| check(r, &label)) && self.fields.iter().all(|r| check(r, &field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_forms() {
        let pod = json!({"metadata": {"name": "a", "labels": {"app": "web", "tier": "front"}}, "spec": {"nodeName": "n1"}});
        let yes = |l: Option<&str>, f: Option<&str>| {
            Selector::parse(l, f)
                .map(|s| s.matches(&pod))
                .unwrap_or(false)
        };
        assert!(yes(Some("app=web"), None));
        assert!(yes(Some("app in (web, api),tier"), None));
        assert!(yes(Some("!missing,app!=api"), None));
        assert!(!yes(Some("app notin (web)"), None));
        assert!(yes(None, Some("metadata.name=a,spec.nodeName=n1")));
        assert!(!yes(None, Some("spec.nodeName!=n1")));
        assert!(Selector::parse(None, Some("weird")).is_err());
    }
}
