//! The price table: on-demand and spot prices per instance type and region, plus the few
//! other rates the cockpit charges for (control plane, cross-zone transfer).
//!
//! The file format (`assets/prices.toml` is the built-in copy):
//!
//! ```toml
//! source = "built-in table, 2026-11"
//!
//! [regions."us-east-1"]
//! control_plane_usd_per_hour = 0.10
//! cross_zone_usd_per_gb = 0.01          # per direction
//!
//! [regions."us-east-1".instances]
//! "m6i.xlarge" = { on_demand = 0.192, spot = 0.067 }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::file_error::FileError;
use super::model::Capacity;

/// EKS standard-support control plane price, the same in every commercial region; used when
/// the table does not know the cluster's region.
pub const DEFAULT_CONTROL_PLANE_USD_PER_HOUR: f64 = 0.10;

/// Cross-zone transfer inside a region, per GB and direction; used when the table does not
/// know the cluster's region.
pub const DEFAULT_CROSS_ZONE_USD_PER_GB: f64 = 0.01;

/// Why a price table could not be read: `origin: line L, column C: problem`.
pub type PriceError = FileError;

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

const BUILTIN_TABLE: &str = include_str!("../../assets/prices.toml");

impl PriceTable {
    /// The table shipped with kockpit. A unit test keeps the asset parseable.
    pub fn builtin() -> Self {
        match PriceTable::parse(BUILTIN_TABLE, "built-in prices.toml") {
            Ok(table) => table,
            // Unreachable while the asset test passes; an empty table only makes every
            // node show as unpriced, which the spend pane says plainly.
            Err(error) => PriceTable {
                source: format!("no prices ({error})"),
                regions: BTreeMap::new(),
            },
        }
    }

    /// Reads a price table. `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<PriceTable, PriceError> {
        let raw: RawTable =
            toml::from_str(text).map_err(|error| FileError::from_toml(origin, text, &error))?;
        let at = |span: std::ops::Range<usize>, problem: String| {
            FileError::at_offset(origin, text, span.start, problem)
        };
        let source = raw.source.into_inner().trim().to_string();
        if source.is_empty() {
            return Err(FileError::at_offset(
                origin,
                text,
                0,
                "`source` must name where the prices come from",
            ));
        }
        let mut regions = BTreeMap::new();
        for (region, prices) in raw.regions {
            let control_plane = checked_price(&prices.control_plane_usd_per_hour)
                .map_err(|p| at(prices.control_plane_usd_per_hour.span(), p))?;
            let cross_zone = checked_price(&prices.cross_zone_usd_per_gb)
                .map_err(|p| at(prices.cross_zone_usd_per_gb.span(), p))?;
            let mut instances = BTreeMap::new();
            for (instance_type, price) in prices.instances {
                let on_demand = checked_price(&price.on_demand)
                    .map_err(|p| at(price.on_demand.span(), format!("{instance_type}: {p}")))?;
                let spot = checked_price(&price.spot)
                    .map_err(|p| at(price.spot.span(), format!("{instance_type}: {p}")))?;
                instances.insert(instance_type, InstancePrice { on_demand, spot });
            }
            regions.insert(
                region,
                RegionPrices {
                    control_plane_usd_per_hour: control_plane,
                    cross_zone_usd_per_gb: cross_zone,
                    instances,
                },
            );
        }
        Ok(PriceTable { source, regions })
    }

    pub fn region(&self, region: &str) -> Option<&RegionPrices> {
        self.regions.get(region)
    }

    pub fn node_hourly(
        &self,
        region: &str,
        instance_type: &str,
        capacity: Capacity,
    ) -> Option<f64> {
        let price = self.region(region)?.instances.get(instance_type)?;
        Some(match capacity {
            Capacity::Spot => price.spot,
            Capacity::OnDemand => price.on_demand,
        })
    }

    /// The control plane's hourly price in `region`, or the EKS standard price.
    pub fn control_plane_hourly(&self, region: &str) -> f64 {
        self.region(region)
            .map(|r| r.control_plane_usd_per_hour)
            .unwrap_or(DEFAULT_CONTROL_PLANE_USD_PER_HOUR)
    }

    /// Prices from `other` replace or extend this table's; `source` names both.
    pub fn merged_with(mut self, other: PriceTable) -> PriceTable {
        for (name, prices) in other.regions {
            match self.regions.get_mut(&name) {
                Some(existing) => {
                    existing.control_plane_usd_per_hour = prices.control_plane_usd_per_hour;
                    existing.cross_zone_usd_per_gb = prices.cross_zone_usd_per_gb;
                    existing.instances.extend(prices.instances);
                }
                None => {
                    self.regions.insert(name, prices);
                }
            }
        }
        self.source = if self.source.is_empty() {
            other.source
        } else {
            format!("{} over {}", other.source, self.source)
        };
        self
    }
}

/// A price must be a finite, non-negative number.
fn checked_price(value: &Spanned<f64>) -> Result<f64, String> {
    let price = *value.get_ref();
    if !price.is_finite() {
        Err(format!("price {price} is not a number"))
    } else if price < 0.0 {
        Err(format!("price {price} is negative"))
    } else {
        Ok(price)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    source: Spanned<String>,
    #[serde(default)]
    regions: BTreeMap<String, RawRegion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    control_plane_usd_per_hour: Spanned<f64>,
    cross_zone_usd_per_gb: Spanned<f64>,
    #[serde(default)]
    instances: BTreeMap<String, RawInstance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    on_demand: Spanned<f64>,
    spot: Spanned<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGIONS: [&str; 5] = [
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-northeast-2",
    ];

    #[test]
    fn builtin_table_parses_and_covers_the_common_fleet() {
        let table = PriceTable::parse(BUILTIN_TABLE, "prices.toml").expect("asset parses");
        assert_eq!(table.source, "built-in table, 2026-11");
        for region in REGIONS {
            let prices = table.region(region).expect(region);
            assert_eq!(prices.control_plane_usd_per_hour, 0.10);
            assert_eq!(prices.cross_zone_usd_per_gb, 0.01);
            for family in [
                "m5", "m6i", "m6a", "m7i", "m7g", "c5", "c6i", "c6a", "c7i", "c7g", "r5", "r6i",
                "r7g",
            ] {
                for size in ["large", "xlarge", "2xlarge", "4xlarge"] {
                    let name = format!("{family}.{size}");
                    let price = prices.instances.get(&name).expect(&name);
                    let share = price.spot / price.on_demand;
                    assert!(
                        (0.28..=0.42).contains(&share),
                        "{region} {name} spot {share}"
                    );
                }
            }
            for size in ["medium", "large", "xlarge", "2xlarge"] {
                assert!(prices.instances.contains_key(&format!("t3.{size}")));
            }
        }
        assert_eq!(
            table.node_hourly("us-east-1", "m6i.xlarge", Capacity::OnDemand),
            Some(0.192)
        );
        assert_eq!(PriceTable::builtin(), table);
    }

    #[test]
    fn unknown_region_or_type_has_no_price() {
        let table = PriceTable::builtin();
        assert_eq!(
            table.node_hourly("mars-1", "m6i.xlarge", Capacity::Spot),
            None
        );
        assert_eq!(
            table.node_hourly("us-east-1", "x9.huge", Capacity::Spot),
            None
        );
        assert_eq!(table.control_plane_hourly("mars-1"), 0.10);
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let text = "source = \"mine\"\n[regions.\"us-east-1\"\n";
        let error = PriceTable::parse(text, "my-prices.toml").unwrap_err();
        assert_eq!(error.origin, "my-prices.toml");
        assert_eq!(error.line, 2);
        assert!(
            error
                .to_string()
                .starts_with("my-prices.toml: line 2, column")
        );
    }

    #[test]
    fn negative_prices_are_rejected_where_they_stand() {
        let text = "source = \"mine\"\n\
                    [regions.\"us-east-1\"]\n\
                    control_plane_usd_per_hour = 0.1\n\
                    cross_zone_usd_per_gb = 0.01\n\
                    [regions.\"us-east-1\".instances]\n\
                    \"m6i.large\" = { on_demand = 0.096, spot = -0.03 }\n";
        let error = PriceTable::parse(text, "p.toml").unwrap_err();
        assert_eq!(error.line, 6);
        assert!(error.problem.contains("m6i.large"), "{error}");
        assert!(error.problem.contains("negative"), "{error}");
    }

    #[test]
    fn unknown_fields_and_missing_rates_are_errors() {
        let typo = "source = \"x\"\n[regions.\"us-east-1\"]\ncontrol_plane_usd_per_hour = 0.1\ncross_zone_usd_per_gb = 0.01\nspot_discount = 0.7\n";
        let error = PriceTable::parse(typo, "p.toml").unwrap_err();
        assert!(error.problem.contains("spot_discount"), "{error}");

        let missing = "source = \"x\"\n[regions.\"us-east-1\"]\ncontrol_plane_usd_per_hour = 0.1\n";
        let error = PriceTable::parse(missing, "p.toml").unwrap_err();
        assert!(error.problem.contains("cross_zone_usd_per_gb"), "{error}");

        let no_source = "[regions]\n";
        assert!(PriceTable::parse(no_source, "p.toml").is_err());
        let blank_source = "source = \"  \"\n";
        assert!(PriceTable::parse(blank_source, "p.toml").is_err());
    }

    #[test]
    fn merging_a_user_table_overrides_prices() {
        let user = PriceTable::parse(
            "source = \"our EDP prices\"\n[regions.\"us-east-1\"]\ncontrol_plane_usd_per_hour = 0.1\ncross_zone_usd_per_gb = 0.01\n[regions.\"us-east-1\".instances]\n\"m6i.xlarge\" = { on_demand = 0.15, spot = 0.06 }\n",
            "user.toml",
        )
        .expect("parses");
        let merged = PriceTable::builtin().merged_with(user);
        assert_eq!(
            merged.node_hourly("us-east-1", "m6i.xlarge", Capacity::OnDemand),
            Some(0.15)
        );
        assert!(
            merged
                .node_hourly("us-east-1", "m6i.large", Capacity::OnDemand)
                .is_some()
        );
        assert_eq!(merged.source, "our EDP prices over built-in table, 2026-11");
    }
}
