//! The price cache: what `--refresh-prices` fetched, per region with the time it was fetched,
//! in `prices.json` under the cache directory. Later runs lay a region's prices over the
//! built-in table while they are younger than the age limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::FileError;
use crate::domain::prices::{FetchedPrices, PriceOrigin, PriceTable};
use crate::domain::time::Timestamp;

pub const FILE_NAME: &str = "prices.json";

/// The layout of the file; a newer one is ignored rather than misread.
pub const FORMAT: u32 = 1;

/// Why the cache could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error(transparent)]
    Malformed(#[from] FileError),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceCache {
    pub format: u32,
    #[serde(default)]
    pub regions: BTreeMap<String, CachedRegion>,
}

impl Default for PriceCache {
    fn default() -> Self {
        PriceCache {
            format: FORMAT,
            regions: BTreeMap::new(),
        }
    }
}

/// One region's refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedRegion {
    pub fetched_at: Timestamp,
    #[serde(flatten)]
    pub prices: FetchedPrices,
}

/// How old prices fetched at `fetched_at` are at `now`; a fetch time in the future (a clock
/// moved back) counts as new.
pub fn age(fetched_at: Timestamp, now: Timestamp) -> Duration {
    (now - fetched_at).to_std().unwrap_or(Duration::ZERO)
}

pub fn is_fresh(fetched_at: Timestamp, now: Timestamp, max_age: Duration) -> bool {
    age(fetched_at, now) <= max_age
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

impl PriceCache {
    /// Reads the cache text. `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<PriceCache, FileError> {
        let cache: PriceCache = serde_json::from_str(text).map_err(|error| FileError {
            origin: origin.to_string(),
            line: error.line().max(1),
            column: error.column().max(1),
            problem: format!("not a kockpit price cache: {error}"),
        })?;
        if cache.format != FORMAT {
            return Err(FileError::at_offset(
                origin,
                text,
                0,
                format!(
                    "price cache format {} (this kockpit reads {FORMAT})",
                    cache.format
                ),
            ));
        }
        Ok(cache)
    }

    /// The cache at `path`; `None` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<PriceCache>, CacheError> {
        match crate::backend::files::read_to_string(path, crate::domain::limits::PRICE_CACHE_BYTES)
        {
            Ok(text) => Ok(Some(PriceCache::parse(&text, &path.display().to_string())?)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(CacheError::Io {
                path: path.display().to_string(),
                error,
            }),
        }
    }

    /// Writes the whole cache through a temporary file, so a reader never sees half of it.
    pub fn write(&self, path: &Path) -> Result<(), CacheError> {
        let io = |error| CacheError::Io {
            path: path.display().to_string(),
            error,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text + "\n").map_err(io)?;
        std::fs::rename(&temporary, path).map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            io(error)
        })
    }

    /// Lays every region younger than `max_age` over `table`, marked as cached with its age.
    /// Returns the table and the regions left out for their age.
    pub fn apply(
        &self,
        mut table: PriceTable,
        now: Timestamp,
        max_age: Duration,
    ) -> (PriceTable, Vec<String>) {
        let mut stale = Vec::new();
        for (region, cached) in &self.regions {
            if !is_fresh(cached.fetched_at, now, max_age) {
                stale.push(region.clone());
                continue;
            }
            let origin = PriceOrigin::Cache {
                fetched_at: cached.fetched_at,
                age_seconds: age(cached.fetched_at, now).as_secs(),
            };
            table = table.overlay(region, &cached.prices, origin);
        }
        (table, stale)
    }

    /// When `region`'s prices were fetched, if they are younger than `max_age`.
    pub fn fresh_region(
        &self,
        region: &str,
        now: Timestamp,
        max_age: Duration,
    ) -> Option<Timestamp> {
        self.regions
            .get(region)
            .map(|cached| cached.fetched_at)
            .filter(|fetched_at| is_fresh(*fetched_at, now, max_age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Capacity;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn cache() -> PriceCache {
        let mut prices = FetchedPrices::default();
        prices.on_demand.insert("m6i.xlarge".into(), 0.2);
        prices.spot.insert(
            "m6i.xlarge".into(),
            BTreeMap::from([("us-east-1a".into(), 0.07)]),
        );
        let mut cache = PriceCache::default();
        cache.regions.insert(
            "us-east-1".into(),
            CachedRegion {
                fetched_at: at("2026-11-25T09:00:00Z"),
                prices: prices.clone(),
            },
        );
        cache.regions.insert(
            "eu-west-1".into(),
            CachedRegion {
                fetched_at: at("2026-11-01T09:00:00Z"),
                prices,
            },
        );
        cache
    }

    #[test]
    fn age_limit_decides_which_regions_are_used() {
        let now = at("2026-11-25T12:00:00Z");
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!(
            age(at("2026-11-25T09:00:00Z"), now),
            Duration::from_secs(3 * 3600)
        );
        // A fetch time ahead of the clock is not negative.
        assert_eq!(age(at("2026-11-25T13:00:00Z"), now), Duration::ZERO);
        assert!(is_fresh(at("2026-11-18T12:00:00Z"), now, week));
        assert!(!is_fresh(at("2026-11-18T11:59:59Z"), now, week));

        let (table, stale) = cache().apply(PriceTable::builtin(), now, week);
        assert_eq!(stale, vec!["eu-west-1".to_string()]);
        assert_eq!(
            table.node_hourly("us-east-1", "m6i.xlarge", Capacity::OnDemand),
            Some(0.2)
        );
        assert_eq!(
            table.source_for("us-east-1").to_string(),
            "AWS 2026-11-25 09:00 UTC, cached 3h00m ago"
        );
        assert_eq!(
            table.source_for("eu-west-1").to_string(),
            "built-in table, 2026-11"
        );
        assert_eq!(
            cache().fresh_region("us-east-1", now, week),
            Some(at("2026-11-25T09:00:00Z"))
        );
        assert_eq!(cache().fresh_region("eu-west-1", now, week), None);
    }

    #[test]
    fn the_file_round_trips_and_bad_files_say_where() {
        let dir = std::env::temp_dir().join(format!("kockpit-price-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = path_in(&dir.join("nested"));
        assert!(PriceCache::read(&path).expect("no file is fine").is_none());
        cache().write(&path).expect("written");
        assert_eq!(PriceCache::read(&path).expect("read"), Some(cache()));

        std::fs::write(&path, "{\n  \"format\": 1,\n  \"regions\": [\n").expect("write");
        let error = PriceCache::read(&path).unwrap_err().to_string();
        assert!(error.contains("prices.json: line 3"), "{error}");

        let error = PriceCache::parse("{\"format\": 9}", "p.json").unwrap_err();
        assert!(error.problem.contains("format 9"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
