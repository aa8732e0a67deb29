//! The checks `kockpit doctor` prints and the Sources window shows: one line each for the
//! kubeconfig, the credentials, the API server, every permission kockpit reads (and, with
//! writes allowed, writes) with, the optional APIs, Prometheus and its exporters, and
//! CloudWatch. The words live here, once; the backend only gathers the facts.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::exporters::Exporter;
use super::finding::FixKind;
use super::model::Pane;
use super::permissions::{Permission, Read};
use super::sanitize::sanitize;

/// How one check came out, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    /// Not asked for (no --prometheus), or not possible after an earlier failure.
    Skipped,
    /// kockpit works, with less: a pane or a figure goes without.
    Warn,
    /// Something kockpit needs is missing.
    Fail,
}

impl Status {
    /// The marker at the start of a line: the same width for every status.
    pub fn marker(self) -> &'static str {
        match self {
            Status::Ok => "ok  ",
            Status::Skipped => "skip",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// What a check is about; checks are listed in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Kubeconfig,
    Credentials,
    ApiServer,
    ReadAccess,
    WriteAccess,
    Apis,
    Prometheus,
    Cloudwatch,
}

impl Area {
    pub fn title(self) -> &'static str {
        match self {
            Area::Kubeconfig => "kubeconfig",
            Area::Credentials => "credentials",
            Area::ApiServer => "API server",
            Area::ReadAccess => "read access",
            Area::WriteAccess => "write access (fixes)",
            Area::Apis => "optional APIs",
            Area::Prometheus => "Prometheus",
            Area::Cloudwatch => "CloudWatch",
        }
    }
}

/// One check: what it is about, how it came out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub area: Area,
    pub status: Status,
    /// What was checked: `list pods (cluster-wide)`, `context prod`, `CoreDNS`.
    pub subject: String,
    /// What came of it, or empty: `denied: the DNS pane cannot show anything without it`.
    pub detail: String,
    /// How long it took, when that is worth knowing (a credential plugin, the API server).
    pub took_ms: Option<f64>,
}

impl Check {
    pub fn new(
        area: Area,
        status: Status,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Check {
            area,
            status,
            subject: sanitize(&subject.into()).into_owned(),
            detail: sanitize(&detail.into()).into_owned(),
            took_ms: None,
        }
    }

    pub fn took(mut self, took: std::time::Duration) -> Self {
        self.took_ms = Some(took.as_secs_f64() * 1000.0);
        self
    }

    /// `list pods (cluster-wide): denied; …`, without the marker.
    pub fn line(&self) -> String {
        let mut line = self.subject.clone();
        if !self.detail.is_empty() {
            line.push_str(": ");
            line.push_str(&self.detail);
        }
        if let Some(ms) = self.took_ms {
            line.push_str(&format!(" ({})", duration(ms)));
        }
        line
    }
}

/// `12 ms`, `1.4 s`.
fn duration(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// Every check of one run, in area order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    pub checks: Vec<Check>,
}

impl Checks {
    pub fn new(mut checks: Vec<Check>) -> Self {
        // Stable: within an area, the order the checks were made in.
        checks.sort_by_key(|c| c.area);
        Checks { checks }
    }

    /// Everything kockpit needs is there: no check failed.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// `52 checks: 50 ok, 2 warnings, 1 failed`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} ok", self.count(Status::Ok))];
        let warnings = self.count(Status::Warn);
        if warnings > 0 {
            parts.push(format!(
                "{warnings} warning{}",
                if warnings == 1 { "" } else { "s" }
            ));
        }
        let failed = self.count(Status::Fail);
        if failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        let skipped = self.count(Status::Skipped);
        if skipped > 0 {
            parts.push(format!("{skipped} skipped"));
        }
        format!("{} checks: {}", self.checks.len(), parts.join(", "))
    }

    /// The areas in order, each with its checks.
    pub fn by_area(&self) -> Vec<(Area, Vec<&Check>)> {
        let mut areas: Vec<(Area, Vec<&Check>)> = Vec::new();
        for check in &self.checks {
            match areas.last_mut() {
                Some((area, checks)) if *area == check.area => checks.push(check),
                _ => areas.push((check.area, vec![check])),
            }
        }
        areas
    }

    /// What `kockpit doctor` prints: each area, a line per check, and the verdict.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (area, checks) in self.by_area() {
            let _ = writeln!(out, "{}", area.title());
            for check in checks {
                let _ = writeln!(out, "  {}  {}", check.status.marker(), check.line());
            }
        }
        let verdict = if self.passed() {
            "everything kockpit needs is there"
        } else {
            "kockpit cannot show everything: see the FAIL lines"
        };
        let _ = writeln!(out, "\n{}; {verdict}", self.summary());
        out
    }

    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "passed": self.passed(),
            "summary": self.summary(),
            "checks": self.checks,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

/// "the DNS and Spend panes".
fn panes(panes: &[Pane]) -> String {
    let titles: Vec<&str> = panes.iter().map(|p| p.title()).collect();
    let list = match titles.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    format!("the {list} pane{}", if panes.len() == 1 { "" } else { "s" })
}

/// What a SelfSubjectAccessReview answered, or why it could not be asked.
pub type Review = Result<(bool, Option<String>), String>;

/// One permission kockpit reads with: denied fails when a pane cannot do without it.
pub fn read_access(read: &Read, review: &Review) -> Check {
    let subject = read.permission.describe();
    match review {
        Ok((true, _)) => Check::new(Area::ReadAccess, Status::Ok, subject, ""),
        Ok((false, reason)) => {
            let reason = reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            if read.needed_by.is_empty() {
                Check::new(
                    Area::ReadAccess,
                    Status::Warn,
                    subject,
                    format!(
                        "denied{reason}; {} lose details without it",
                        panes(&read.detail_for)
                    ),
                )
            } else {
                Check::new(
                    Area::ReadAccess,
                    Status::Fail,
                    subject,
                    format!(
                        "denied{reason}; {} cannot show anything without it",
                        panes(&read.needed_by)
                    ),
                )
            }
        }
        Err(error) => Check::new(
            Area::ReadAccess,
            Status::Fail,
            subject,
            format!("cannot ask the API server: {error}"),
        ),
    }
}

/// One permission a fix writes with (`--allow-writes`).
pub fn write_access(fix: FixKind, permission: &Permission, review: &Review) -> Check {
    let subject = format!("{} for {}", permission.describe(), fix.slug());
    match review {
        Ok((true, _)) => Check::new(Area::WriteAccess, Status::Ok, subject, ""),
        Ok((false, _)) => Check::new(
            Area::WriteAccess,
            Status::Fail,
            subject,
            format!("denied; \"{}\" cannot be applied", fix.title()),
        ),
        Err(error) => Check::new(
            Area::WriteAccess,
            Status::Fail,
            subject,
            format!("cannot ask the API server: {error}"),
        ),
    }
}

/// An optional API (a family of CRDs) as discovery found it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFamily {
    /// "Gateway API".
    pub name: &'static str,
    /// The groups and the versions kockpit reads in each: `("karpenter.sh", "v1")`.
    pub wanted: Vec<(&'static str, &'static str)>,
    /// The versions the server serves for each wanted group (empty: not installed).
    pub served: Vec<(&'static str, Vec<String>)>,
    /// What goes without it.
    pub pane: Pane,
    /// The bundle or release version the CRDs carry, when they say.
    pub release: Option<String>,
}

/// Installed, installed at versions kockpit does not read, or not installed.
pub fn api_family(family: &ApiFamily) -> Check {
    let served_text: Vec<String> = family
        .served
        .iter()
        .filter(|(_, versions)| !versions.is_empty())
        .map(|(group, versions)| format!("{group} {}", versions.join(", ")))
        .collect();
    let missing: Vec<String> = family
        .wanted
        .iter()
        .filter(|(group, version)| {
            !family
                .served
                .iter()
                .any(|(g, versions)| g == group && versions.iter().any(|v| v == version))
        })
        .map(|(group, version)| format!("{group}/{version}"))
        .collect();
    let release = family
        .release
        .as_deref()
        .map(|r| format!(", release {r}"))
        .unwrap_or_default();
    if served_text.is_empty() {
        return Check::new(
            Area::Apis,
            Status::Warn,
            family.name,
            format!("not installed; the {} pane says so", family.pane.title()),
        );
    }
    if missing.is_empty() {
        Check::new(
            Area::Apis,
            Status::Ok,
            family.name,
            format!("{}{release}", served_text.join("; ")),
        )
    } else {
        Check::new(
            Area::Apis,
            Status::Warn,
            family.name,
            format!(
                "{}{release} served, but kockpit reads {}; the {} pane goes without it",
                served_text.join("; "),
                missing.join(" and "),
                family.pane.title()
            ),
        )
    }
}

/// One exporter in Prometheus.
pub fn exporter(exporter: &Exporter) -> Check {
    let version = exporter
        .version
        .as_deref()
        .map(|v| format!(", {v}"))
        .unwrap_or_default();
    if exporter.found {
        Check::new(
            Area::Prometheus,
            Status::Ok,
            exporter.name,
            format!("found ({}{version})", exporter.evidence),
        )
    } else if exporter.optional {
        Check::new(
            Area::Prometheus,
            Status::Ok,
            exporter.name,
            format!("not found ({} needed)", exporter.used_for),
        )
    } else {
        Check::new(
            Area::Prometheus,
            Status::Warn,
            exporter.name,
            format!(
                "not found (looked for {}); no {}",
                exporter.evidence, exporter.used_for
            ),
        )
    }
}

/// Every check of an area that could not run because an earlier one failed.
pub fn skipped(area: Area, subject: &str, because: &str) -> Check {
    Check::new(
        area,
        Status::Skipped,
        subject,
        format!("not checked: {because}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assemble::ObjectKind;
    use crate::domain::permissions;

    #[test]
    fn a_denied_read_names_the_permission_and_what_goes_without_it() {
        let reads = permissions::reads(&[ObjectKind::Pod, ObjectKind::Event], None);
        let denied = read_access(&reads[0], &Ok((false, None)));
        assert_eq!(denied.status, Status::Fail);
        assert_eq!(
            denied.line(),
            "list pods (cluster-wide): denied; the DNS pane cannot show anything without it"
        );
        let nodes = permissions::reads(&[ObjectKind::Node], None);
        assert!(
            read_access(&nodes[0], &Ok((false, None)))
                .line()
                .ends_with("denied; the Nodes and Spend panes cannot show anything without it")
        );
        let events = read_access(&reads[2], &Ok((false, Some("RBAC: no rule".into()))));
        assert_eq!(events.status, Status::Warn, "events only add details");
        assert!(
            events.line().contains("(RBAC: no rule)"),
            "{}",
            events.line()
        );
        let checks = Checks::new(vec![denied, events]);
        assert!(!checks.passed());
        assert_eq!(checks.summary(), "2 checks: 0 ok, 1 warning, 1 failed");
        assert!(
            checks
                .to_text()
                .contains("read access\n  FAIL  list pods (cluster-wide): denied")
        );
    }

    #[test]
    fn families_say_installed_missing_or_at_the_wrong_version() {
        let mut karpenter = ApiFamily {
            name: "Karpenter",
            wanted: vec![("karpenter.sh", "v1"), ("karpenter.k8s.aws", "v1")],
            served: vec![
                ("karpenter.sh", vec!["v1".into()]),
                ("karpenter.k8s.aws", vec!["v1".into()]),
            ],
            pane: Pane::Nodes,
            release: None,
        };
        assert_eq!(api_family(&karpenter).status, Status::Ok);
        assert_eq!(
            api_family(&karpenter).line(),
            "Karpenter: karpenter.sh v1; karpenter.k8s.aws v1"
        );
        karpenter.served = vec![("karpenter.sh", vec!["v1beta1".into()])];
        let old = api_family(&karpenter);
        assert_eq!(old.status, Status::Warn);
        assert!(
            old.line()
                .contains("kockpit reads karpenter.sh/v1 and karpenter.k8s.aws/v1"),
            "{}",
            old.line()
        );
        karpenter.served.clear();
        assert_eq!(
            api_family(&karpenter).line(),
            "Karpenter: not installed; the Nodes pane says so"
        );
    }

    #[test]
    fn hostile_text_from_the_cluster_is_cleaned() {
        let check = Check::new(Area::ApiServer, Status::Ok, "api", "v1\u{1b}[2J.33");
        assert_eq!(check.detail, "v1.33");
    }
}
