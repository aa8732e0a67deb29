//! The pure core: compact cluster facts, their history, and the analysis that turns them
//! into findings. No I/O, no async, no terminal types live here.

pub mod alerts;
pub mod assemble;
pub mod checks;
pub mod cockpit;
pub mod corefile;
pub mod dns;
pub mod exporters;
pub mod file_error;
pub mod finding;
pub mod fix;
pub mod fleet;
pub mod flow_logs;
pub mod flow_metrics;
pub mod flows;
pub mod format;
pub mod gateways;
pub mod limits;
pub mod model;
pub mod nodes;
pub mod permissions;
pub mod prices;
pub mod promql;
pub mod report;
pub mod rightsizing;
pub mod rules;
pub mod sanitize;
pub mod scenario;
pub mod series;
pub mod spend;
pub mod thresholds;
pub mod time;
pub mod timeline;
pub mod traffic;
pub mod trend;
pub mod triage;

pub use cockpit::Cockpit;
pub use file_error::FileError;
pub use finding::{Evidence, Finding, FixKind, Severity};
pub use model::*;
pub use time::Timestamp;
