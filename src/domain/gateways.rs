//! Gateway analysis: route status decoded into plain reasons, backend readiness, 5xx.
//!
//! STUB: filled in by the analysis work.

use super::finding::Finding;
use super::model::GatewaySnapshot;
use super::thresholds::Thresholds;

pub fn analyze(_gateways: &GatewaySnapshot, _t: &Thresholds) -> Vec<Finding> {
    Vec::new()
}
