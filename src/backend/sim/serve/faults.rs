//! Injected faults, so panes can be seen failing and recovering. Grammar of one `--fault`:
//!
//! - `403:RESOURCE`: every request on the resource is Forbidden (and access reviews deny it)
//! - `500:RESOURCE[:FRACTION]`: that share (default 1) of requests fail with 500
//! - `slow:DURATION` or `slow:RESOURCE:DURATION`: responses wait that long first
//! - `watch-drop:DURATION`: watch streams are closed after that long
//! - `410:watch`: every watch answers with a 410 Expired ERROR event
//! - `reset:FRACTION`: that share of requests have their connection reset, unanswered
//!
//! RESOURCE is a plural name (`pods`, `httproutes`), optionally `plural.group`, or `*`.
//! DURATION is like `2s`, `500ms`, `1m`. Faults can be replaced at runtime through
//! `PUT /_kockpit/faults` (one spec per line) and cleared with `DELETE /_kockpit/faults`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::domain::time::parse_duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "bad fault `{spec}`: {problem} (expected 403:RES, 500:RES[:FRACTION], slow:[RES:]DURATION, watch-drop:DURATION, 410:watch or reset:FRACTION)"
)]
pub struct FaultError {
    pub spec: String,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Forbidden {
        resource: String,
    },
    ServerError {
        resource: String,
        fraction: f64,
    },
    Slow {
        resource: Option<String>,
        delay: Duration,
    },
    WatchDrop {
        after: Duration,
    },
    WatchExpired,
    /// The connection is closed without an answer, as a reset or a dead proxy would.
    Reset {
        fraction: f64,
    },
}

fn duration(spec: &str, text: &str) -> Result<Duration, FaultError> {
    let trimmed = text.trim();
    // Milliseconds are handy for tests; the shared parser takes s/m/h/d.
    if let Some(ms) = trimmed.strip_suffix("ms")
        && let Ok(ms) = ms.parse::<u64>()
    {
        return Ok(Duration::from_millis(ms));
    }
    parse_duration(trimmed).map_err(|e| FaultError {
        spec: spec.to_string(),
        problem: e.to_string(),
    })
}

impl Fault {
    pub fn parse(spec: &str) -> Result<Fault, FaultError> {
        let bad = |problem: &str| FaultError {
            spec: spec.to_string(),
            problem: problem.to_string(),
        };
        let parts: Vec<&str> = spec.trim().split(':').collect();
        match parts.as_slice() {
            ["403", resource] if !resource.is_empty() => Ok(Fault::Forbidden {
                resource: resource.to_string(),
            }),
            ["500", resource] if !resource.is_empty() => Ok(Fault::ServerError {
                resource: resource.to_string(),
                fraction: 1.0,
            }),
            ["500", resource, fraction] if !resource.is_empty() => {
                let fraction: f64 = fraction
                    .parse()
                    .map_err(|_| bad("the fraction must be a number"))?;
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(bad("the fraction must be between 0 and 1"));
                }
                Ok(Fault::ServerError {
                    resource: resource.to_string(),
                    fraction,
                })
            }
            ["slow", delay] => Ok(Fault::Slow {
                resource: None,
                delay: duration(spec, delay)?,
            }),
            ["slow", resource, delay] => Ok(Fault::Slow {
                resource: Some(resource.to_string()),
                delay: duration(spec, delay)?,
            }),
            ["watch-drop", after] => Ok(Fault::WatchDrop {
                after: duration(spec, after)?,
            }),
            ["410", "watch"] => Ok(Fault::WatchExpired),
            ["reset", fraction] => {
                let fraction: f64 = fraction
                    .parse()
                    .map_err(|_| bad("the fraction must be a number"))?;
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(bad("the fraction must be between 0 and 1"));
                }
                Ok(Fault::Reset { fraction })
            }
            _ => Err(bad("unknown form")),
        }
    }
}

fn matches(pattern: &str, plural: &str, group: &str) -> bool {
    pattern == "*"
        || pattern == plural
        || pattern
            .split_once('.')
            .is_some_and(|(p, g)| p == plural && g == group)
}

/// The faults in force, shared by the server and its tests; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    active: Arc<RwLock<Vec<Fault>>>,
    requests: Arc<AtomicU64>,
    resets: Arc<AtomicU64>,
}

impl Faults {
    pub fn new(faults: Vec<Fault>) -> Self {
        let out = Faults::default();
        out.set(faults);
        out
    }

    pub fn set(&self, faults: Vec<Fault>) {
        if let Ok(mut active) = self.active.write() {
            *active = faults;
        }
    }

    pub fn list(&self) -> Vec<Fault> {
        self.active.read().map(|a| a.clone()).unwrap_or_default()
    }

    pub fn forbidden(&self, plural: &str, group: &str) -> bool {
        self.list()
            .iter()
            .any(|f| matches!(f, Fault::Forbidden { resource } if matches(resource, plural, group)))
    }

    /// Whether this request should fail with 500. Requests are counted so a fraction of
    /// 0.5 fails every other request: deterministic, unlike a coin toss.
    pub fn server_error(&self, plural: &str, group: &str) -> bool {
        let fraction = self
            .list()
            .iter()
            .filter_map(|f| match f {
                Fault::ServerError { resource, fraction } if matches(resource, plural, group) => {
                    Some(*fraction)
                }
                _ => None,
            })
            .fold(0.0f64, f64::max);
        self.counted(&self.requests, fraction)
    }

    /// Whether this request's connection should be reset, counted like `server_error`.
    pub fn reset(&self) -> bool {
        let fraction = self
            .list()
            .iter()
            .filter_map(|f| match f {
                Fault::Reset { fraction } => Some(*fraction),
                _ => None,
            })
            .fold(0.0f64, f64::max);
        self.counted(&self.resets, fraction)
    }

    /// Counts one request on `counter`; true for `fraction` of them, evenly spread.
    fn counted(&self, counter: &AtomicU64, fraction: f64) -> bool {
        if fraction <= 0.0 {
            return false;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let before = (n as f64 * fraction).floor();
        let after = ((n + 1) as f64 * fraction).floor();
        after > before
    }

    pub fn delay(&self, plural: Option<(&str, &str)>) -> Duration {
        self.list()
            .iter()
            .filter_map(|f| match f {
                Fault::Slow {
                    resource: None,
                    delay,
                } => Some(*delay),
                Fault::Slow {
                    resource: Some(r),
                    delay,
                } if plural.is_some_and(|(p, g)| matches(r, p, g)) => Some(*delay),
                _ => None,
            })
            .max()
            .unwrap_or_default()
    }

    pub fn watch_drop(&self) -> Option<Duration> {
        self.list()
            .iter()
            .filter_map(|f| match f {
                Fault::WatchDrop { after } => Some(*after),
                _ => None,
            })
            .min()
    }

    pub fn watch_expired(&self) -> bool {
        self.list().contains(&Fault::WatchExpired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(
            Fault::parse("403:pods"),
            Ok(Fault::Forbidden {
                resource: "pods".into()
            })
        );
        assert_eq!(
            Fault::parse("500:nodes:0.5"),
            Ok(Fault::ServerError {
                resource: "nodes".into(),
                fraction: 0.5
            })
        );
        assert_eq!(
            Fault::parse("slow:httproutes:2s"),
            Ok(Fault::Slow {
                resource: Some("httproutes".into()),
                delay: Duration::from_secs(2)
            })
        );
        assert_eq!(
            Fault::parse("slow:250ms"),
            Ok(Fault::Slow {
                resource: None,
                delay: Duration::from_millis(250)
            })
        );
        assert_eq!(
            Fault::parse("watch-drop:30s"),
            Ok(Fault::WatchDrop {
                after: Duration::from_secs(30)
            })
        );
        assert_eq!(Fault::parse("410:watch"), Ok(Fault::WatchExpired));
        assert!(Fault::parse("500:nodes:2").is_err());
        assert!(Fault::parse("teapot").is_err());
    }

    #[test]
    fn half_of_the_requests_fail() {
        let faults = Faults::new(vec![Fault::ServerError {
            resource: "nodes".into(),
            fraction: 0.5,
        }]);
        let failed = (0..10).filter(|_| faults.server_error("nodes", "")).count();
        assert_eq!(failed, 5);
        assert!(!faults.server_error("pods", ""));
    }
}
