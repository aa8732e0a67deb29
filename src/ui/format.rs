//! Number formatting shared by every screen: short, fixed-shape figures that read at a
//! glance (`2.1k`, `12.3 MB/s`, `$7.42`, `38%`, `12m`).

use crate::domain::Timestamp;
use crate::domain::time::format_duration;

/// Byte and count figures read the same on screen as in findings and reports.
pub use crate::domain::format::{bytes, bytes_per_sec, count};

/// A rate of events: `850`, `2.1k`, `14k`, `1.2M`.
pub fn qps(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let abs = value.abs();
    if abs < 10.0 && abs.fract() != 0.0 {
        format!("{value:.1}")
    } else if abs < 1_000.0 {
        format!("{value:.0}")
    } else if abs < 10_000.0 {
        format!("{:.1}k", value / 1_000.0)
    } else if abs < 1_000_000.0 {
        format!("{:.0}k", value / 1_000.0)
    } else {
        format!("{:.1}M", value / 1_000_000.0)
    }
}

/// `1 node`, `3 nodes`.
pub fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// Dollars: cents below $100 (`$7.42`), whole dollars with separators above (`$1,234`).
pub fn money(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let abs = value.abs();
    if abs < 100.0 {
        format!("{sign}${abs:.2}")
    } else {
        format!("{sign}${}", count(abs.round() as usize))
    }
}

/// An hourly rate of a small thing (a pod, a node): a tenth of a cent matters below $10
/// (`$0.035`), the rest reads like `money`.
pub fn money_per_hour(value: f64) -> String {
    if value.is_finite() && value.abs() < 10.0 {
        let sign = if value < 0.0 { "-" } else { "" };
        format!("{sign}${:.3}", value.abs())
    } else {
        money(value)
    }
}

/// A 0..=1 ratio as a percentage. Small shares keep decimals because their thresholds are
/// small too (SERVFAIL turns amber at 0.1%): `0.15%`, `2.3%`, `38%`.
pub fn ratio(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let percent = value * 100.0;
    let abs = percent.abs();
    if abs == 0.0 || abs >= 10.0 {
        format!("{percent:.0}%")
    } else if abs >= 1.0 {
        format!("{percent:.1}%")
    } else {
        format!("{percent:.2}%")
    }
}

/// Milliseconds: `142 ms`, `4.2 ms`, `1.3 s`.
pub fn millis(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    if value >= 1_000.0 {
        format!("{:.1} s", value / 1_000.0)
    } else if value >= 10.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// Seconds of latency: `48s`, `3m10s`.
pub fn seconds(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "–".to_string();
    }
    let whole = value.round() as u64;
    if whole < 60 {
        format!("{whole}s")
    } else {
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// Memory in binary units as Kubernetes writes them: `170Mi`, `1.5Gi`, `12Gi`.
pub fn mebibytes(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    if value >= 10_240.0 {
        format!("{:.0}Gi", value / 1_024.0)
    } else if value >= 1_024.0 {
        format!("{:.1}Gi", value / 1_024.0)
    } else {
        format!("{value:.0}Mi")
    }
}

/// CPU as Kubernetes writes it: `250m` below a core, cores with one decimal above (`1.0`,
/// `1.5`), so a whole core never reads like a bare count.
pub fn millicores(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    if value >= 1_000.0 {
        let cores = value / 1_000.0;
        if cores >= 100.0 {
            format!("{cores:.0}")
        } else {
            format!("{cores:.1}")
        }
    } else {
        format!("{value:.0}m")
    }
}

/// CPU cores: `12`, `3.5`.
pub fn cores(value: f64) -> String {
    millicores(value * 1_000.0)
}

/// How long ago: `45s`, `12m`, `3h05m`, `2d04h`. A future instant reads as `0s`.
pub fn age(since: Timestamp, now: Timestamp) -> String {
    let elapsed = (now - since).to_std().unwrap_or_default();
    format_duration(elapsed)
}

/// The source clock as the header shows it.
pub fn clock(at: Timestamp) -> String {
    at.format("%H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn rates() {
        assert_eq!(qps(0.0), "0");
        assert_eq!(qps(3.24), "3.2");
        assert_eq!(qps(850.4), "850");
        assert_eq!(qps(2_140.0), "2.1k");
        assert_eq!(qps(14_200.0), "14k");
        assert_eq!(qps(1_250_000.0), "1.2M");
        assert_eq!(qps(f64::NAN), "–");
    }

    #[test]
    fn byte_rates() {
        assert_eq!(bytes_per_sec(840.0), "840 B/s");
        assert_eq!(bytes_per_sec(12_300_000.0), "12.3 MB/s");
        assert_eq!(bytes_per_sec(450_000_000.0), "450 MB/s");
        assert_eq!(bytes_per_sec(1.1e9), "1.1 GB/s");
    }

    #[test]
    fn dollars() {
        assert_eq!(money(7.4249), "$7.42");
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(1_234.4), "$1,234");
        assert_eq!(money(5_432_100.0), "$5,432,100");
        assert_eq!(money(-3.5), "-$3.50");
        assert_eq!(money_per_hour(0.0349), "$0.035");
        assert_eq!(money_per_hour(12.5), "$12.50");
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(0.38), "38%");
        assert_eq!(ratio(0.023), "2.3%");
        assert_eq!(ratio(0.0015), "0.15%");
        assert_eq!(ratio(0.0), "0%");
        assert_eq!(ratio(1.0), "100%");
    }

    #[test]
    fn units() {
        assert_eq!(millis(142.3), "142 ms");
        assert_eq!(millis(4.24), "4.2 ms");
        assert_eq!(millis(1_340.0), "1.3 s");
        assert_eq!(mebibytes(170.0), "170Mi");
        assert_eq!(mebibytes(1_536.0), "1.5Gi");
        assert_eq!(mebibytes(12_288.0), "12Gi");
        assert_eq!(millicores(250.0), "250m");
        assert_eq!(millicores(1_500.0), "1.5");
        assert_eq!(millicores(4_000.0), "4.0");
        assert_eq!(millicores(128_000.0), "128");
        assert_eq!(seconds(48.2), "48s");
        assert_eq!(seconds(190.0), "3m10s");
        assert_eq!(count(5_000), "5,000");
        assert_eq!(count(150_000), "150,000");
        assert_eq!(count(12), "12");
        assert_eq!(plural(1, "node"), "1 node");
        assert_eq!(plural(3, "zone"), "3 zones");
    }

    #[test]
    fn ages() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).single().expect("valid");
        assert_eq!(age(now - Duration::minutes(12), now), "12m");
        assert_eq!(age(now + Duration::minutes(1), now), "0s");
        assert_eq!(clock(now), "22:13:20 UTC");
    }
}
