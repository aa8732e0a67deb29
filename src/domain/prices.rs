//! The price table: on-demand and spot prices per instance type and region, plus the few
//! other rates the cockpit charges for (control plane, cross-zone transfer).
//!
//! STUB: filled in by the analysis work; the public shape below is what the rest uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Capacity;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstancePrice {
    pub on_demand: f64,
    pub spot: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionPrices {
    pub control_plane_usd_per_hour: f64,
    /// Charged in each direction, so a cross-zone byte costs twice this.
    pub cross_zone_usd_per_gb: f64,
    pub instances: BTreeMap<String, InstancePrice>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PriceTable {
    /// Where the prices came from, shown beside every money figure.
    pub source: String,
    pub regions: BTreeMap<String, RegionPrices>,
}

impl PriceTable {
    pub fn builtin() -> Self {
        PriceTable::default()
    }

    pub fn region(&self, region: &str) -> Option<&RegionPrices> {
        self.regions.get(region)
    }

    pub fn node_hourly(&self, region: &str, instance_type: &str, capacity: Capacity) -> Option<f64> {
        let price = self.region(region)?.instances.get(instance_type)?;
        Some(match capacity {
            Capacity::Spot => price.spot,
            Capacity::OnDemand => price.on_demand,
        })
    }
}
