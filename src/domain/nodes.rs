//! Node analysis: Karpenter churn, disruption reasons, provisioning latency, blockers, spot share.
//!
//! STUB: filled in by the analysis work.

use super::finding::Finding;
use super::model::NodeSnapshot;
use super::thresholds::Thresholds;

pub fn analyze(_nodes: &NodeSnapshot, _t: &Thresholds) -> Vec<Finding> {
    Vec::new()
}
