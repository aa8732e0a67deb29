//! DNS analysis: CoreDNS latency, errors, cache, capacity and placement.
//!
//! STUB: filled in by the analysis work.

use super::finding::Finding;
use super::model::{DnsSnapshot, NodeSnapshot};
use super::thresholds::Thresholds;

pub fn analyze(_dns: &DnsSnapshot, _nodes: Option<&NodeSnapshot>, _t: &Thresholds) -> Vec<Finding> {
    Vec::new()
}
