//! The price table: on-demand and spot prices per instance type and region, plus the few
//! other rates the cockpit charges for (control plane, cross-zone transfer), the effective
//! discounts the user configures (Savings Plans, an EDP), and where each region's prices came
//! from (`PriceSource`), which every money figure carries.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::file_error::FileError;
use super::format::percent;
use super::model::Capacity;
use super::time::{Timestamp, format_duration};

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
    /// The regional spot price: the mean over zones when prices per zone are known.
    pub spot: f64,
    /// Spot prices per availability zone, when refreshed from AWS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spot_by_zone: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionPrices {
    pub control_plane_usd_per_hour: f64,
    /// Charged in each direction, so a cross-zone byte costs twice this.
    pub cross_zone_usd_per_gb: f64,
    pub instances: BTreeMap<String, InstancePrice>,
    /// Where this region's instance prices came from; the table's own source when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<PriceOrigin>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PriceTable {
    /// Where the prices came from, for regions that do not say otherwise.
    pub source: PriceOrigin,
    pub regions: BTreeMap<String, RegionPrices>,
    /// Taken off instance prices (not the control plane or data transfer).
    #[serde(default)]
    pub discounts: Discounts,
}

/// Where a region's prices came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PriceOrigin {
    /// A price table file, the built-in one or a user's, named by its `source` line.
    Table { name: String },
    /// Fetched from the AWS Price List API and EC2 spot price history by this run.
    Aws { fetched_at: Timestamp },
    /// Fetched from AWS by an earlier run and read back from the cache; `age_seconds` is the
    /// cache's age when it was read.
    Cache {
        fetched_at: Timestamp,
        age_seconds: u64,
    },
}

impl Default for PriceOrigin {
    fn default() -> Self {
        PriceOrigin::Table {
            name: String::new(),
        }
    }
}

impl fmt::Display for PriceOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceOrigin::Table { name } => f.write_str(name),
            PriceOrigin::Aws { fetched_at } => {
                write!(f, "AWS {}", fetched_at.format("%Y-%m-%d %H:%M UTC"))
            }
            PriceOrigin::Cache {
                fetched_at,
                age_seconds,
            } => write!(
                f,
                "AWS {}, cached {} ago",
                fetched_at.format("%Y-%m-%d %H:%M UTC"),
                format_duration(std::time::Duration::from_secs(*age_seconds))
            ),
        }
    }
}

/// The prices a money figure was computed with: their origin and the discounts taken off.
/// Displays as e.g. `AWS 2026-11-25 09:12 UTC, on-demand −28%`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PriceSource {
    pub origin: PriceOrigin,
    #[serde(default, skip_serializing_if = "Discounts::is_none")]
    pub discounts: Discounts,
}

impl fmt::Display for PriceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(discounts) = self.discounts.label() {
            write!(f, ", {discounts}")?;
        }
        Ok(())
    }
}

/// Effective discounts on instance list prices, as fractions 0..=1: Savings Plans or an EDP
/// on on-demand capacity, a negotiated rate on spot, and per-family exceptions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Discounts {
    #[serde(default)]
    pub on_demand: f64,
    #[serde(default)]
    pub spot: f64,
    /// By instance family (`m7g`), replacing the fractions above where set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub families: BTreeMap<String, FamilyDiscount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FamilyDiscount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_demand: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<f64>,
}

/// The family of an instance type: `m7g` for `m7g.2xlarge`.
pub fn instance_family(instance_type: &str) -> &str {
    instance_type.split('.').next().unwrap_or(instance_type)
}

/// A discount must be a fraction: 0.28 for 28 % off.
pub fn check_discount(value: f64) -> Result<f64, String> {
    if !value.is_finite() {
        Err(format!("discount {value} is not a number"))
    } else if value > 1.0 && value <= 100.0 {
        Err(format!(
            "discount {value} is not a fraction between 0 and 1 (write {} for {value}%)",
            value / 100.0
        ))
    } else if !(0.0..=1.0).contains(&value) {
        Err(format!(
            "discount {value} is not a fraction between 0 and 1"
        ))
    } else {
        Ok(value)
    }
}

impl Discounts {
    /// No discount anywhere: list prices.
    pub fn is_none(&self) -> bool {
        self.on_demand == 0.0
            && self.spot == 0.0
            && self
                .families
                .values()
                .all(|f| f.on_demand.unwrap_or(0.0) == 0.0 && f.spot.unwrap_or(0.0) == 0.0)
    }

    /// The fraction taken off `instance_type`'s price on `capacity`.
    pub fn fraction(&self, instance_type: &str, capacity: Capacity) -> f64 {
        let family = self.families.get(instance_family(instance_type));
        let fraction = match capacity {
            Capacity::OnDemand => family.and_then(|f| f.on_demand).unwrap_or(self.on_demand),
            Capacity::Spot => family.and_then(|f| f.spot).unwrap_or(self.spot),
        };
        if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// `price` with the discount taken off.
    pub fn apply(&self, price: f64, instance_type: &str, capacity: Capacity) -> f64 {
        price * (1.0 - self.fraction(instance_type, capacity))
    }

    /// One line for the price source, e.g. `on-demand −28%, spot −5%, m7g on-demand −40%`;
    /// `None` without any discount.
    pub fn label(&self) -> Option<String> {
        if self.is_none() {
            return None;
        }
        let off = |fraction: f64| format!("\u{2212}{}", percent(fraction));
        let mut parts = Vec::new();
        if self.on_demand > 0.0 {
            parts.push(format!("on-demand {}", off(self.on_demand)));
        }
        if self.spot > 0.0 {
            parts.push(format!("spot {}", off(self.spot)));
        }
        for (family, discount) in &self.families {
            if let Some(fraction) = discount.on_demand.filter(|f| *f != self.on_demand) {
                parts.push(format!("{family} on-demand {}", off(fraction)));
            }
            if let Some(fraction) = discount.spot.filter(|f| *f != self.spot) {
                parts.push(format!("{family} spot {}", off(fraction)));
            }
        }
        Some(parts.join(", ")).filter(|label| !label.is_empty())
    }
}

/// Prices fetched from AWS for one region, to lay over a table (`PriceTable::overlay`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FetchedPrices {
    /// USD per hour by instance type.
    #[serde(default)]
    pub on_demand: BTreeMap<String, f64>,
    /// USD per hour by instance type, then availability zone.
    #[serde(default)]
    pub spot: BTreeMap<String, BTreeMap<String, f64>>,
}

impl FetchedPrices {
    pub fn is_empty(&self) -> bool {
        self.on_demand.is_empty() && self.spot.is_empty()
    }

    /// How many spot prices (instance type and zone) were fetched.
    pub fn spot_prices(&self) -> usize {
        self.spot.values().map(BTreeMap::len).sum()
    }
}

fn usable(price: f64) -> bool {
    price.is_finite() && price >= 0.0
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
                source: PriceOrigin::Table {
                    name: format!("no prices ({error})"),
                },
                regions: BTreeMap::new(),
                discounts: Discounts::default(),
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
                instances.insert(
                    instance_type,
                    InstancePrice {
                        on_demand,
                        spot,
                        spot_by_zone: BTreeMap::new(),
                    },
                );
            }
            regions.insert(
                region,
                RegionPrices {
                    control_plane_usd_per_hour: control_plane,
                    cross_zone_usd_per_gb: cross_zone,
                    instances,
                    origin: None,
                },
            );
        }
        Ok(PriceTable {
            source: PriceOrigin::Table { name: source },
            regions,
            discounts: Discounts::default(),
        })
    }

    /// The same prices with `discounts` taken off every instance price.
    pub fn with_discounts(mut self, discounts: Discounts) -> PriceTable {
        self.discounts = discounts;
        self
    }

    /// What the prices of `region` are, for the label beside a money figure.
    pub fn source_for(&self, region: &str) -> PriceSource {
        PriceSource {
            origin: self
                .region(region)
                .and_then(|r| r.origin.clone())
                .unwrap_or_else(|| self.source.clone()),
            discounts: self.discounts.clone(),
        }
    }

    /// Every instance type the table prices, in any region.
    pub fn instance_types(&self) -> BTreeSet<String> {
        self.regions
            .values()
            .flat_map(|r| r.instances.keys().cloned())
            .collect()
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

    /// What a node costs the user per hour: the list price (the spot price of its zone when
    /// known) less the configured discount.
    pub fn effective_hourly(
        &self,
        region: &str,
        zone: Option<&str>,
        instance_type: &str,
        capacity: Capacity,
    ) -> Option<f64> {
        let price = self.region(region)?.instances.get(instance_type)?;
        let list = match capacity {
            Capacity::OnDemand => price.on_demand,
            Capacity::Spot => zone
                .and_then(|zone| price.spot_by_zone.get(zone))
                .copied()
                .unwrap_or(price.spot),
        };
        Some(self.discounts.apply(list, instance_type, capacity))
    }

    /// Lays prices fetched from AWS for `region` over this table and marks the region with
    /// `origin`. A type's spot price becomes the mean of its zones; a type AWS gave no spot
    /// price for keeps the table's, or else is priced at on-demand (no spot saving is
    /// claimed for it). Types with no on-demand price anywhere are left out.
    pub fn overlay(mut self, region: &str, fetched: &FetchedPrices, origin: PriceOrigin) -> Self {
        let prices = self
            .regions
            .entry(region.to_string())
            .or_insert_with(|| RegionPrices {
                control_plane_usd_per_hour: DEFAULT_CONTROL_PLANE_USD_PER_HOUR,
                cross_zone_usd_per_gb: DEFAULT_CROSS_ZONE_USD_PER_GB,
                instances: BTreeMap::new(),
                origin: None,
            });
        let types: BTreeSet<&String> = fetched
            .on_demand
            .keys()
            .chain(fetched.spot.keys())
            .collect();
        for instance_type in types {
            let existing = prices.instances.get(instance_type);
            let Some(on_demand) = fetched
                .on_demand
                .get(instance_type)
                .copied()
                .filter(|p| usable(*p))
                .or(existing.map(|e| e.on_demand))
            else {
                continue;
            };
            let zones: BTreeMap<String, f64> = fetched
                .spot
                .get(instance_type)
                .into_iter()
                .flatten()
                .filter(|(_, price)| usable(**price))
                .map(|(zone, price)| (zone.clone(), *price))
                .collect();
            let (spot, spot_by_zone) = if zones.is_empty() {
                match existing {
                    Some(e) => (e.spot, e.spot_by_zone.clone()),
                    None => (on_demand, BTreeMap::new()),
                }
            } else {
                (zones.values().sum::<f64>() / zones.len() as f64, zones)
            };
            prices.instances.insert(
                instance_type.clone(),
                InstancePrice {
                    on_demand,
                    spot,
                    spot_by_zone,
                },
            );
        }
        prices.origin = Some(origin);
        self
    }

    /// The control plane's hourly price in `region`, or the EKS standard price.
    pub fn control_plane_hourly(&self, region: &str) -> f64 {
        self.region(region)
            .map(|r| r.control_plane_usd_per_hour)
            .unwrap_or(DEFAULT_CONTROL_PLANE_USD_PER_HOUR)
    }

    /// Prices from `other` replace or extend this table's; each region keeps the name of the
    /// table its prices came from, and `source` names both tables. Discounts stay this
    /// table's.
    pub fn merged_with(mut self, other: PriceTable) -> PriceTable {
        for prices in self.regions.values_mut() {
            prices.origin.get_or_insert_with(|| self.source.clone());
        }
        for (name, mut prices) in other.regions {
            let theirs = prices.origin.take().unwrap_or_else(|| other.source.clone());
            match self.regions.get_mut(&name) {
                Some(existing) => {
                    let mine = existing
                        .origin
                        .take()
                        .unwrap_or_else(|| self.source.clone());
                    existing.control_plane_usd_per_hour = prices.control_plane_usd_per_hour;
                    existing.cross_zone_usd_per_gb = prices.cross_zone_usd_per_gb;
                    existing.instances.extend(prices.instances);
                    existing.origin = Some(layered(theirs, mine));
                }
                None => {
                    prices.origin = Some(theirs);
                    self.regions.insert(name, prices);
                }
            }
        }
        self.source = layered(other.source, self.source);
        self
    }
}

/// The origin of prices from `top` laid over prices from `under`: two tables are named
/// together; anything from AWS is named alone.
fn layered(top: PriceOrigin, under: PriceOrigin) -> PriceOrigin {
    match (top, under) {
        (PriceOrigin::Table { name: top }, PriceOrigin::Table { name: under }) => {
            PriceOrigin::Table {
                name: if under.is_empty() {
                    top
                } else {
                    format!("{top} over {under}")
                },
            }
        }
        (top, _) => top,
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
        assert_eq!(table.source.to_string(), "built-in table, 2026-11");
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
        assert_eq!(
            merged.source.to_string(),
            "our EDP prices over built-in table, 2026-11"
        );
        assert_eq!(
            merged.source_for("us-east-1").to_string(),
            "our EDP prices over built-in table, 2026-11"
        );
        assert_eq!(
            merged.source_for("eu-west-1").to_string(),
            "built-in table, 2026-11"
        );
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn discounts_apply_per_capacity_and_family() {
        let mut discounts = Discounts {
            on_demand: 0.28,
            spot: 0.05,
            families: BTreeMap::new(),
        };
        discounts.families.insert(
            "m7g".into(),
            FamilyDiscount {
                on_demand: Some(0.40),
                spot: None,
            },
        );
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(
            discounts.apply(1.0, "m6i.xlarge", Capacity::OnDemand),
            0.72
        ));
        assert!(close(
            discounts.apply(1.0, "m6i.xlarge", Capacity::Spot),
            0.95
        ));
        assert!(close(
            discounts.apply(1.0, "m7g.2xlarge", Capacity::OnDemand),
            0.60
        ));
        // The family sets no spot rate, so the general one holds.
        assert!(close(
            discounts.apply(1.0, "m7g.2xlarge", Capacity::Spot),
            0.95
        ));
        assert_eq!(
            discounts.label().as_deref(),
            Some("on-demand \u{2212}28%, spot \u{2212}5%, m7g on-demand \u{2212}40%")
        );
        assert!(Discounts::default().is_none());
        assert_eq!(Discounts::default().label(), None);
        assert_eq!(instance_family("c7i.metal-24xl"), "c7i");
    }

    #[test]
    fn discounts_must_be_fractions() {
        assert_eq!(check_discount(0.28), Ok(0.28));
        assert_eq!(check_discount(0.0), Ok(0.0));
        assert!(
            check_discount(28.0)
                .unwrap_err()
                .contains("write 0.28 for 28%")
        );
        assert!(
            check_discount(-0.1)
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(check_discount(f64::NAN).is_err());
    }

    #[test]
    fn effective_prices_take_zone_spot_and_discounts() {
        let mut fetched = FetchedPrices::default();
        fetched.on_demand.insert("m6i.xlarge".into(), 0.2);
        fetched.spot.insert(
            "m6i.xlarge".into(),
            BTreeMap::from([("us-east-1a".into(), 0.06), ("us-east-1b".into(), 0.08)]),
        );
        let fetched_at = at("2026-11-25T09:12:00Z");
        let table = PriceTable::builtin()
            .overlay("us-east-1", &fetched, PriceOrigin::Aws { fetched_at })
            .with_discounts(Discounts {
                on_demand: 0.25,
                ..Discounts::default()
            });
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        let price =
            |zone, capacity| table.effective_hourly("us-east-1", zone, "m6i.xlarge", capacity);
        assert!(close(price(Some("us-east-1a"), Capacity::Spot), 0.06));
        assert!(close(price(Some("us-east-1b"), Capacity::Spot), 0.08));
        // A zone without its own price, or no zone, takes the mean.
        assert!(close(price(Some("us-east-1c"), Capacity::Spot), 0.07));
        assert!(close(price(None, Capacity::OnDemand), 0.15));
        assert!(close(
            table.node_hourly("us-east-1", "m6i.xlarge", Capacity::OnDemand),
            0.2
        ));
        // Types AWS was not asked about keep the table's prices.
        assert!(close(
            table.effective_hourly("us-east-1", None, "m6i.large", Capacity::OnDemand),
            0.096 * 0.75
        ));
        assert_eq!(
            table.source_for("us-east-1").to_string(),
            "AWS 2026-11-25 09:12 UTC, on-demand \u{2212}25%"
        );
        assert_eq!(
            table.source_for("eu-west-1").to_string(),
            "built-in table, 2026-11, on-demand \u{2212}25%"
        );
    }

    #[test]
    fn overlay_fills_gaps_and_adds_regions() {
        let mut fetched = FetchedPrices::default();
        // No spot offered for this type: the table's spot price stays.
        fetched.on_demand.insert("m5.large".into(), 0.1);
        // A type the table does not know, without spot: priced at on-demand.
        fetched.on_demand.insert("x8g.large".into(), 0.2);
        // Spot without any on-demand price: left out.
        fetched.spot.insert(
            "z9.large".into(),
            BTreeMap::from([("us-east-1a".into(), 0.01)]),
        );
        // Unusable numbers are ignored.
        fetched.on_demand.insert("m5.xlarge".into(), f64::NAN);
        let origin = PriceOrigin::Cache {
            fetched_at: at("2026-11-25T09:12:00Z"),
            age_seconds: 3 * 3600 + 300,
        };
        let table = PriceTable::builtin().overlay("us-east-1", &fetched, origin.clone());
        let region = table.region("us-east-1").expect("region");
        assert_eq!(region.instances["m5.large"].on_demand, 0.1);
        assert_eq!(region.instances["m5.large"].spot, 0.0317);
        assert_eq!(region.instances["x8g.large"].spot, 0.2);
        assert!(!region.instances.contains_key("z9.large"));
        assert_eq!(region.instances["m5.xlarge"].on_demand, 0.192);
        assert_eq!(
            table.source_for("us-east-1").to_string(),
            "AWS 2026-11-25 09:12 UTC, cached 3h05m ago"
        );

        let new_region = PriceTable::builtin().overlay("ap-southeast-7", &fetched, origin);
        let prices = new_region.region("ap-southeast-7").expect("added");
        assert_eq!(
            prices.control_plane_usd_per_hour,
            DEFAULT_CONTROL_PLANE_USD_PER_HOUR
        );
        assert_eq!(prices.instances.len(), 2);
        assert!(PriceTable::builtin().instance_types().contains("t3.medium"));
    }
}
