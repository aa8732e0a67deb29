//! Right-sizing analysis: requests against real usage, throttling, OOM kills, VPA advice.
//!
//! STUB: filled in by the analysis work.

use super::finding::Finding;
use super::model::{WorkloadSnapshot, WorkloadUsage};
use super::spend::UnitCosts;
use super::thresholds::Thresholds;

/// What the requests above the recommendation cost per month, across all replicas.
pub fn monthly_waste_usd(_workload: &WorkloadUsage, _costs: &UnitCosts) -> f64 {
    0.0
}

pub fn analyze(_workloads: &WorkloadSnapshot, _costs: &UnitCosts, _t: &Thresholds) -> Vec<Finding> {
    Vec::new()
}
