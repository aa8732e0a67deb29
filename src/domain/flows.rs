//! East-West analysis: cross-zone share and its cost, zone routing, drops.
//!
//! STUB: filled in by the analysis work.

use super::finding::Finding;
use super::model::FlowSnapshot;
use super::prices::RegionPrices;
use super::thresholds::Thresholds;

/// Monthly cost of the current cross-zone byte rate, both directions charged.
pub fn cross_zone_usd_per_month(_flows: &FlowSnapshot, _prices: Option<&RegionPrices>) -> f64 {
    0.0
}

pub fn analyze(_flows: &FlowSnapshot, _prices: Option<&RegionPrices>, _t: &Thresholds) -> Vec<Finding> {
    Vec::new()
}
