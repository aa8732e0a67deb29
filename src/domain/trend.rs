//! Whether the figure behind a finding is getting worse over the retained hour: the last
//! five minutes against the rest of the history, so the overview can rank a problem that
//! is growing above one that holds still.

use super::finding::Trend;
use super::series::Series;
use super::time::Timestamp;

/// The recent stretch compared with what came before it.
const RECENT_SECONDS: i64 = 300;
/// Less history than this says nothing about a trend.
const MIN_HISTORY_SECONDS: i64 = 600;
const MIN_POINTS: usize = 10;
/// A change smaller than this share of the earlier level is steady.
const CHANGE: f64 = 0.2;

/// The trend of `series` as of `now`; `higher_is_worse` says which way is bad. `None` while
/// there is too little history to tell.
pub fn trend(series: &Series, now: Timestamp, higher_is_worse: bool) -> Option<Trend> {
    let points: Vec<(Timestamp, f64)> = series.points().filter(|(_, v)| v.is_finite()).collect();
    let oldest = points.first()?.0;
    if points.len() < MIN_POINTS || (now - oldest).num_seconds() < MIN_HISTORY_SECONDS {
        return None;
    }
    let split = now - chrono::Duration::seconds(RECENT_SECONDS);
    let mean = |values: Vec<f64>| {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let earlier = mean(
        points
            .iter()
            .filter(|(at, _)| *at < split)
            .map(|p| p.1)
            .collect(),
    )?;
    let recent = mean(
        points
            .iter()
            .filter(|(at, _)| *at >= split)
            .map(|p| p.1)
            .collect(),
    )?;
    let change = (recent - earlier) / earlier.abs().max(f64::EPSILON);
    let worse = if higher_is_worse { change } else { -change };
    Some(if worse > CHANGE {
        Trend::Worsening
    } else if worse < -CHANGE {
        Trend::Improving
    } else {
        Trend::Steady
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    fn series(values: impl Fn(i64) -> f64) -> Series {
        let mut series = Series::new(chrono::Duration::minutes(60));
        for minute in 0..=30 {
            series.push(at(minute * 60), values(minute));
        }
        series
    }

    #[test]
    fn a_rising_latency_is_worsening_and_a_rising_hit_ratio_improving() {
        let rising = series(|minute| if minute >= 26 { 200.0 } else { 50.0 });
        assert_eq!(trend(&rising, at(1800), true), Some(Trend::Worsening));
        assert_eq!(trend(&rising, at(1800), false), Some(Trend::Improving));
    }

    #[test]
    fn a_flat_figure_is_steady_and_a_short_history_says_nothing() {
        let flat = series(|minute| 100.0 + (minute % 3) as f64);
        assert_eq!(trend(&flat, at(1800), true), Some(Trend::Steady));
        let mut short = Series::new(chrono::Duration::minutes(60));
        for second in 0..20 {
            short.push(at(second * 10), 1.0);
        }
        assert_eq!(trend(&short, at(200), true), None);
    }
}
