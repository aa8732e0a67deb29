//! Time series with a retention bound: the history behind sparklines and charts.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// Samples of one figure over time, oldest first, holding at most `retention` of history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    points: VecDeque<(Timestamp, f64)>,
    retention: chrono::Duration,
}

impl Series {
    pub fn new(retention: chrono::Duration) -> Self {
        Series {
            points: VecDeque::new(),
            retention,
        }
    }

    /// Adds a sample. Samples at or before the newest one replace nothing and are ignored,
    /// so a replayed or repeated update cannot make time run backwards. A sample in the same
    /// whole second as the newest one replaces it: a series holds at most one point a
    /// second however often a source reports (a live cluster under churn may send snapshots
    /// many times a second), so its length and a sparkline's time span stay as designed.
    pub fn push(&mut self, at: Timestamp, value: f64) {
        if !value.is_finite() {
            return;
        }
        if let Some(last) = self.points.back_mut() {
            if at <= last.0 {
                return;
            }
            if at.timestamp() == last.0.timestamp() {
                *last = (at, value);
                return;
            }
        }
        self.points.push_back((at, value));
        let horizon = at - self.retention;
        while self.points.front().is_some_and(|(t, _)| *t < horizon) {
            self.points.pop_front();
        }
    }

    pub fn latest(&self) -> Option<f64> {
        self.points.back().map(|(_, v)| *v)
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn points(&self) -> impl DoubleEndedIterator<Item = (Timestamp, f64)> + '_ {
        self.points.iter().copied()
    }

    /// The last `count` values, oldest first (what a sparkline of that width shows).
    pub fn tail(&self, count: usize) -> Vec<f64> {
        let skip = self.points.len().saturating_sub(count);
        self.points.iter().skip(skip).map(|(_, v)| *v).collect()
    }

    pub fn max(&self) -> Option<f64> {
        self.points.iter().map(|(_, v)| *v).reduce(f64::max)
    }

    pub fn min(&self) -> Option<f64> {
        self.points.iter().map(|(_, v)| *v).reduce(f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn drops_samples_older_than_retention() {
        let mut series = Series::new(Duration::seconds(60));
        for s in 0..=120 {
            series.push(at(s), s as f64);
        }
        assert_eq!(series.points().next().map(|(_, v)| v), Some(60.0));
        assert_eq!(series.latest(), Some(120.0));
        assert_eq!(series.len(), 61);
    }

    #[test]
    fn ignores_out_of_order_and_non_finite_samples() {
        let mut series = Series::new(Duration::seconds(60));
        series.push(at(10), 1.0);
        series.push(at(5), 2.0);
        series.push(at(10), 3.0);
        series.push(at(11), f64::NAN);
        assert_eq!(series.len(), 1);
        assert_eq!(series.latest(), Some(1.0));
    }

    #[test]
    fn keeps_one_point_a_second() {
        let mut series = Series::new(Duration::seconds(60));
        for ms in [0, 40, 80, 990, 1000, 1040] {
            series.push(at(0) + Duration::milliseconds(ms), ms as f64);
        }
        assert_eq!(series.len(), 2);
        assert_eq!(series.tail(2), vec![990.0, 1040.0]);
    }

    #[test]
    fn tail_returns_the_newest_values_in_order() {
        let mut series = Series::new(Duration::seconds(600));
        for s in 0..10 {
            series.push(at(s), s as f64);
        }
        assert_eq!(series.tail(3), vec![7.0, 8.0, 9.0]);
        assert_eq!(series.tail(100).len(), 10);
    }
}
