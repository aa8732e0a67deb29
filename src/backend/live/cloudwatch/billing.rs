//! The account's month-to-date bill: `AWS/Billing` `EstimatedCharges` (Currency USD, no
//! ServiceName: all services), which AWS publishes only in us-east-1 and only when billing
//! alerts are enabled in the payer account's Billing preferences. It is refreshed by AWS a
//! few times a day, so a 6-hour period and a 6-hour refresh are plenty.

use std::collections::BTreeMap;

use super::queries::{MetricSpec, Series, Stat, Window};
use crate::domain::model::BilledSpend;
use crate::domain::time::Timestamp;

pub const NAMESPACE: &str = "AWS/Billing";
pub const METRIC: &str = "EstimatedCharges";
/// Billing metrics exist in this region only, whatever region the cluster runs in.
pub const REGION: &str = "us-east-1";
pub const PERIOD_S: i32 = 21_600;
/// What the figure names as its source.
pub const SOURCE: &str = "CloudWatch AWS/Billing EstimatedCharges";
/// Why there may be no figure at all.
pub const NO_DATA: &str = "no AWS/Billing EstimatedCharges in us-east-1 (billing alerts are off, or this is not the payer account)";

pub fn spec() -> MetricSpec {
    MetricSpec::new(
        NAMESPACE,
        METRIC,
        &[("Currency", "USD")],
        Stat::maximum(),
        PERIOD_S,
    )
}

/// The last two days, up to the end of the period now filling up: the estimate only grows
/// within a month, so the partial period's Maximum is the newest figure.
pub fn window(now: Timestamp) -> Window {
    let period = i64::from(PERIOD_S);
    let past = Window::last(now, period, 8);
    Window {
        start: past.start + chrono::Duration::seconds(period),
        end: past.end + chrono::Duration::seconds(period),
    }
}

/// The newest estimate, if CloudWatch had one.
pub fn billed(series: &BTreeMap<(), Series>, at: Timestamp) -> Option<BilledSpend> {
    let (as_of, month_to_date_usd) = series.get(&())?.newest()?;
    Some(BilledSpend {
        at,
        as_of,
        month_to_date_usd,
        source: SOURCE.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn the_newest_estimate_in_usd() {
        let spec = spec();
        assert_eq!(spec.stat, Stat::maximum());
        assert_eq!(
            spec.dimensions,
            vec![("Currency".to_string(), "USD".to_string())]
        );
        let now = at(7_000);
        let window = window(now);
        assert!(window.start < now && now < window.end);
        assert_eq!((window.end - window.start).num_hours(), 48);
        let series: BTreeMap<(), Series> = [(
            (),
            Series {
                points: vec![(at(0), 100.0), (at(21_600), 123.5)],
            },
        )]
        .into();
        let billed = billed(&series, now).unwrap_or_else(|| panic!("a figure"));
        assert_eq!(billed.month_to_date_usd, 123.5);
        assert_eq!(billed.as_of, at(21_600));
        assert_eq!(billed.source, SOURCE);
        assert_eq!(self::billed(&BTreeMap::new(), now), None);
    }
}
