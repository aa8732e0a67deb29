//! GetMetricData requests as plain values: one metric statistic per query, queries packed
//! into batches of at most 500 (CloudWatch's limit per call) with ids unique in each call,
//! and the pages of an answer (NextToken) put back together into one series per query.
//! No I/O here: `client.rs` sends what this builds.

use std::collections::BTreeMap;

use crate::domain::time::Timestamp;

/// CloudWatch accepts at most this many queries in one GetMetricData call.
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// A statistic as CloudWatch names it: `Sum`, `Average`, `Maximum`… or a percentile (`p99`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stat(pub String);

impl Stat {
    pub fn sum() -> Stat {
        Stat("Sum".to_string())
    }
    pub fn average() -> Stat {
        Stat("Average".to_string())
    }
    pub fn maximum() -> Stat {
        Stat("Maximum".to_string())
    }
    pub fn percentile(p: u8) -> Stat {
        Stat(format!("p{p}"))
    }

    /// Percentiles are computed by CloudWatch from the raw distribution; they go in calls of
    /// their own so that an endpoint that cannot compute them fails only those figures.
    pub fn is_percentile(&self) -> bool {
        let rest = self
            .0
            .strip_prefix('p')
            .or_else(|| self.0.strip_prefix("tm"));
        rest.is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == '.'))
    }
}

/// One metric and the statistic wanted over each period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricSpec {
    pub namespace: String,
    pub metric_name: String,
    /// (name, value) pairs; CloudWatch matches a metric only with exactly these dimensions.
    pub dimensions: Vec<(String, String)>,
    pub stat: Stat,
    pub period_s: i32,
}

impl MetricSpec {
    pub fn new(
        namespace: &str,
        metric_name: &str,
        dimensions: &[(&str, &str)],
        stat: Stat,
        period_s: i32,
    ) -> MetricSpec {
        MetricSpec {
            namespace: namespace.to_string(),
            metric_name: metric_name.to_string(),
            dimensions: dimensions
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            stat,
            period_s,
        }
    }
}

/// A query of one call: its id (unique within the call) and the metric it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub id: String,
    pub spec: MetricSpec,
}

/// The queries of one GetMetricData call, and which caller key each id answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<K> {
    pub queries: Vec<MetricQuery>,
    pub keys: BTreeMap<String, K>,
}

/// Packs `wanted` into calls of at most `max` queries (clamped to 1..=500). Ids are `q0`,
/// `q1`… in each call: they must start with a lower-case letter.
pub fn batches<K: Clone>(wanted: Vec<(K, MetricSpec)>, max: usize) -> Vec<Batch<K>> {
    let max = max.clamp(1, MAX_QUERIES_PER_CALL);
    let mut out = Vec::new();
    let mut iter = wanted.into_iter().peekable();
    while iter.peek().is_some() {
        let mut batch = Batch {
            queries: Vec::new(),
            keys: BTreeMap::new(),
        };
        for (index, (key, spec)) in iter.by_ref().take(max).enumerate() {
            let id = format!("q{index}");
            batch.keys.insert(id.clone(), key);
            batch.queries.push(MetricQuery { id, spec });
        }
        out.push(batch);
    }
    out
}

/// A ListMetrics question: the metrics of a namespace, optionally of one name and having a
/// dimension of this name (any value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub namespace: String,
    pub metric_name: Option<String>,
    pub dimension_name: Option<String>,
}

/// A metric ListMetrics knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMetric {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
}

impl ListedMetric {
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One ListMetrics answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub metrics: Vec<ListedMetric>,
    pub next_token: Option<String>,
}

/// The time range of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// The `periods` whole periods before `now`, aligned on period boundaries as CloudWatch
    /// aligns its own: the period still filling up is left out, so a Sum is never partial.
    pub fn last(now: Timestamp, period_s: i64, periods: i64) -> Window {
        let period = period_s.max(1);
        let end_s = now.timestamp().div_euclid(period) * period;
        let start_s = end_s - period * periods.max(1);
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or(now);
        Window {
            start: at(start_s),
            end: at(end_s),
        }
    }
}

/// One page of a query's answer, as the API returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPage {
    pub id: String,
    pub timestamps: Vec<Timestamp>,
    pub values: Vec<f64>,
    /// `StatusCode` was not `Complete` (`PartialData`: more pages; `InternalError`…).
    pub status: String,
}

/// One GetMetricData answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataPage {
    pub series: Vec<SeriesPage>,
    pub next_token: Option<String>,
}

/// A query's points, oldest first, one per period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub points: Vec<(Timestamp, f64)>,
}

impl Series {
    pub fn newest(&self) -> Option<(Timestamp, f64)> {
        self.points.last().copied()
    }

    pub fn at(&self, at: Timestamp) -> Option<f64> {
        self.points.iter().find(|(t, _)| *t == at).map(|(_, v)| *v)
    }

    pub fn values(&self) -> Vec<f64> {
        self.points.iter().map(|(_, v)| *v).collect()
    }
}

/// The pages of one call's answer, merged per query.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    by_id: BTreeMap<String, BTreeMap<Timestamp, f64>>,
    pages: usize,
}

impl Pages {
    /// Takes in a page; returns the token of the next page, if there is one.
    pub fn add(&mut self, page: DataPage) -> Option<String> {
        self.pages += 1;
        for series in page.series {
            let points = self.by_id.entry(series.id).or_default();
            for (t, v) in series.timestamps.into_iter().zip(series.values) {
                // A value CloudWatch cannot represent is no figure at all.
                if v.is_finite() {
                    points.insert(t, v);
                }
            }
        }
        page.next_token.filter(|t| !t.is_empty())
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The series of each key of `batch` that has at least one point.
    pub fn finish<K: Clone + Ord>(self, batch: &Batch<K>) -> BTreeMap<K, Series> {
        let mut out = BTreeMap::new();
        for (id, points) in self.by_id {
            let Some(key) = batch.keys.get(&id) else {
                continue;
            };
            if points.is_empty() {
                continue;
            }
            out.insert(
                key.clone(),
                Series {
                    points: points.into_iter().collect(),
                },
            );
        }
        out
    }
}

/// The `q`-quantile (0..=1) of `values` by nearest rank; `None` when there are none.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    fn spec(name: &str) -> MetricSpec {
        MetricSpec::new("NS", name, &[("D", "v")], Stat::sum(), 60)
    }

    #[test]
    fn batches_hold_at_most_500_queries_with_ids_unique_per_call() {
        let wanted: Vec<(usize, MetricSpec)> =
            (0..1201).map(|i| (i, spec(&format!("m{i}")))).collect();
        let calls = batches(wanted, 500);
        assert_eq!(
            calls.iter().map(|b| b.queries.len()).collect::<Vec<_>>(),
            vec![500, 500, 201]
        );
        for batch in &calls {
            let ids: std::collections::BTreeSet<&str> =
                batch.queries.iter().map(|q| q.id.as_str()).collect();
            assert_eq!(ids.len(), batch.queries.len());
            assert!(ids.iter().all(|id| id.starts_with('q')));
        }
        assert_eq!(calls[1].keys.get("q0"), Some(&500));
        assert_eq!(calls[2].keys.get("q200"), Some(&1200));
        // More than CloudWatch allows is clamped; nothing at all is no call.
        assert_eq!(batches(vec![(0, spec("a")), (1, spec("b"))], 9999).len(), 1);
        assert!(batches(Vec::<(u8, MetricSpec)>::new(), 500).is_empty());
    }

    #[test]
    fn pages_are_merged_per_query_until_the_token_runs_out() {
        let batch = &batches(vec![("a", spec("a")), ("b", spec("b"))], 500)[0];
        let mut pages = Pages::default();
        let next = pages.add(DataPage {
            series: vec![
                SeriesPage {
                    id: "q0".into(),
                    timestamps: vec![at(120), at(60)],
                    values: vec![3.0, 2.0],
                    status: "PartialData".into(),
                },
                SeriesPage {
                    id: "q1".into(),
                    timestamps: vec![],
                    values: vec![],
                    status: "PartialData".into(),
                },
            ],
            next_token: Some("t1".into()),
        });
        assert_eq!(next.as_deref(), Some("t1"));
        let next = pages.add(DataPage {
            series: vec![SeriesPage {
                id: "q0".into(),
                timestamps: vec![at(0)],
                values: vec![1.0],
                status: "Complete".into(),
            }],
            next_token: Some(String::new()),
        });
        assert_eq!(next, None);
        assert_eq!(pages.pages(), 2);
        let series = pages.finish(batch);
        assert_eq!(
            series.get("a").map(Series::values),
            Some(vec![1.0, 2.0, 3.0])
        );
        assert_eq!(
            series.get("a").and_then(Series::newest),
            Some((at(120), 3.0))
        );
        // No points: no series, so the caller tells "no data" from zero.
        assert!(!series.contains_key("b"));
    }

    #[test]
    fn windows_leave_out_the_period_still_filling_up() {
        let now = chrono::DateTime::from_timestamp(1_800_000_075, 0).unwrap_or_default();
        let window = Window::last(now, 60, 5);
        assert_eq!(window.end.timestamp(), 1_800_000_060);
        assert_eq!(window.start.timestamp(), 1_800_000_060 - 300);
        let day = Window::last(now, 21_600, 8);
        assert_eq!(day.end.timestamp() % 21_600, 0);
        assert_eq!((day.end - day.start).num_hours(), 48);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.95), Some(19.0));
        assert_eq!(percentile(&values, 0.99), Some(20.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[f64::NAN], 0.5), None);
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn percentile_statistics_are_told_apart() {
        assert!(Stat::percentile(99).is_percentile());
        assert!(Stat("p99.9".into()).is_percentile());
        assert!(Stat("tm90".into()).is_percentile());
        assert!(!Stat::sum().is_percentile());
        assert!(!Stat::average().is_percentile());
        assert!(!Stat("p".into()).is_percentile());
    }
}
