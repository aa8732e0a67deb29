//! Shared pieces of the analysis rules: judging a figure against a threshold band and
//! building findings, so every pane words its thresholds the same way.

use super::finding::{Evidence, Finding, FixKind, Impact, Severity};
use super::model::{ObjectRef, Pane};
use super::thresholds::Band;

/// Severity of a figure where higher is worse: above `critical` is critical, above
/// `warning` is a warning.
pub fn above(value: f64, band: Band) -> Option<Severity> {
    if !value.is_finite() {
        None
    } else if value > band.critical {
        Some(Severity::Critical)
    } else if value > band.warning {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// Severity of a figure where lower is worse: below `critical` is critical, below
/// `warning` is a warning.
pub fn below(value: f64, band: Band) -> Option<Severity> {
    if !value.is_finite() {
        None
    } else if value < band.critical {
        Some(Severity::Critical)
    } else if value < band.warning {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// The limit that was crossed, for a summary: "critical above 100 ms".
pub fn crossed(
    severity: Severity,
    band: Band,
    higher_is_worse: bool,
    show: impl Fn(f64) -> String,
) -> String {
    let (word, limit) = match severity {
        Severity::Critical => ("critical", band.critical),
        _ => ("warning", band.warning),
    };
    let side = if higher_is_worse { "above" } else { "below" };
    format!("{word} {side} {}", show(limit))
}

/// Both limits of a band, for evidence: "warning above 50 ms, critical above 100 ms".
pub fn band_text(band: Band, higher_is_worse: bool, show: impl Fn(f64) -> String) -> String {
    let side = if higher_is_worse { "above" } else { "below" };
    format!(
        "warning {side} {}, critical {side} {}",
        show(band.warning),
        show(band.critical)
    )
}

/// A finding under construction; `build` fills in what every finding needs.
pub struct Draft {
    finding: Finding,
}

pub fn finding(
    pane: Pane,
    id: String,
    severity: Severity,
    summary: String,
    object: ObjectRef,
) -> Draft {
    Draft {
        finding: Finding {
            id,
            pane,
            severity,
            summary,
            evidence: Vec::new(),
            object,
            fix: None,
            impact: Impact::default(),
            members: Vec::new(),
        },
    }
}

impl Draft {
    pub fn evidence(
        mut self,
        label: &str,
        value: impl Into<String>,
        threshold: impl Into<String>,
    ) -> Self {
        self.finding
            .evidence
            .push(Evidence::new(label, value, threshold));
        self
    }

    pub fn fix(mut self, fix: FixKind) -> Self {
        self.finding.fix = Some(fix);
        self
    }

    pub fn maybe_fix(mut self, fix: Option<FixKind>) -> Self {
        self.finding.fix = fix;
        self
    }

    /// Requests per second failing or at risk.
    pub fn requests(mut self, per_sec: Option<f64>) -> Self {
        self.finding.impact.requests_per_sec = per_sec.filter(|v| v.is_finite() && *v > 0.0);
        self
    }

    /// DNS queries per second affected.
    pub fn queries(mut self, per_sec: f64) -> Self {
        self.finding.impact.queries_per_sec = Some(per_sec).filter(|v| v.is_finite() && *v > 0.0);
        self
    }

    pub fn pods_waiting(mut self, pods: usize) -> Self {
        self.finding.impact.pods_waiting = (pods > 0).then_some(pods as u32);
        self
    }

    /// Money spent for nothing, per month.
    pub fn usd_per_month(mut self, usd: f64) -> Self {
        self.finding.impact.usd_per_month = Some(usd).filter(|v| v.is_finite() && *v > 0.0);
        self
    }

    pub fn build(self) -> Finding {
        self.finding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_judge_both_directions() {
        let latency = Band::new(50.0, 100.0);
        assert_eq!(above(40.0, latency), None);
        assert_eq!(above(50.0, latency), None);
        assert_eq!(above(60.0, latency), Some(Severity::Warning));
        assert_eq!(above(150.0, latency), Some(Severity::Critical));
        assert_eq!(above(f64::NAN, latency), None);
        let hit = Band::new(0.8, 0.5);
        assert_eq!(below(0.9, hit), None);
        assert_eq!(below(0.7, hit), Some(Severity::Warning));
        assert_eq!(below(0.4, hit), Some(Severity::Critical));
        assert_eq!(
            crossed(Severity::Critical, latency, true, |v| format!("{v} ms")),
            "critical above 100 ms"
        );
        assert_eq!(
            band_text(hit, false, |v| format!("{v}")),
            "warning below 0.8, critical below 0.5"
        );
    }
}
