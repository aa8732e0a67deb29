//! Spend: run-rate and cost per node, namespace and workload at table prices, idle and waste.
//!
//! STUB: filled in by the analysis work.

use serde::{Deserialize, Serialize};

use super::finding::Finding;
use super::model::{NodeSnapshot, WorkloadSnapshot};
use super::prices::PriceTable;
use super::thresholds::Thresholds;
use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendView {
    pub at: Timestamp,
    pub run_rate_usd_per_hour: f64,
    pub idle_usd_per_hour: f64,
    pub spot_share: f64,
}

/// What a core and a GiB of memory cost per hour in this cluster, used to price requests.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UnitCosts {
    pub usd_per_core_hour: f64,
    pub usd_per_gib_hour: f64,
}

pub fn compute(
    nodes: &NodeSnapshot,
    _workloads: Option<&WorkloadSnapshot>,
    _prices: &PriceTable,
    _region: &str,
) -> SpendView {
    SpendView {
        at: nodes.at,
        run_rate_usd_per_hour: 0.0,
        idle_usd_per_hour: 0.0,
        spot_share: 0.0,
    }
}

pub fn unit_costs(_view: &SpendView) -> UnitCosts {
    UnitCosts::default()
}

pub fn analyze(_view: &SpendView, _workloads: Option<&WorkloadSnapshot>, _t: &Thresholds) -> Vec<Finding> {
    Vec::new()
}
