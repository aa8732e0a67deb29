//! Number, money and duration formatting shared by findings and the report, so the same
//! figure reads the same way in a finding, the report and the incident channel.

use std::time::Duration;

use super::model::ObjectRef;

/// Hours in a month as AWS bills them (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// A ratio 0..=1 as a percentage: one decimal below 10 % so small shares stay visible
/// ("0.4%", "7%", "66%").
pub fn percent(ratio: f64) -> String {
    let value = ratio * 100.0;
    if !value.is_finite() {
        return "n/a".to_string();
    }
    if value != 0.0 && value.abs() < 10.0 {
        let text = format!("{value:.1}");
        format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
    } else {
        format!("{value:.0}%")
    }
}

/// Milliseconds, without decimals once they stop mattering; seconds from one second up.
pub fn millis(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.1} s", value / 1000.0)
    } else if value < 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

/// Seconds, e.g. "42 s".
pub fn seconds(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.1} s")
    } else {
        format!("{value:.0} s")
    }
}

/// US dollars with thousands separators: cents below $100, whole dollars above.
pub fn usd(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    let negative = value < 0.0;
    let value = value.abs();
    let text = if value < 100.0 {
        format!("{value:.2}")
    } else {
        group_thousands(value.round() as u64)
    };
    if negative {
        format!("-${text}")
    } else {
        format!("${text}")
    }
}

pub fn usd_per_hour(value: f64) -> String {
    format!("{}/h", usd(value))
}

/// Monthly figures drop the cents from $10 up: they are estimates.
pub fn usd_per_month(value: f64) -> String {
    if value.is_finite() && value.abs() >= 10.0 {
        let whole = group_thousands(value.abs().round() as u64);
        let sign = if value < 0.0 { "-" } else { "" };
        format!("{sign}${whole}/month")
    } else {
        format!("{}/month", usd(value))
    }
}

/// A whole number with thousands separators: `5,000`.
pub fn count(value: usize) -> String {
    group_thousands(value as u64)
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A rate such as queries per second: "4,210" or "3.5".
pub fn rate(value: f64) -> String {
    if !value.is_finite() {
        "n/a".to_string()
    } else if value.abs() < 10.0 {
        format!("{value:.1}")
    } else {
        group_thousands(value.round().max(0.0) as u64)
    }
}

/// Bytes per second in decimal units, as network transfer is billed: `12.3 MB/s`.
pub fn bytes_per_sec(value: f64) -> String {
    format!("{}/s", bytes(value))
}

/// A byte amount in decimal units: `840 B`, `12.3 MB`, `1.1 GB`.
pub fn bytes(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut scaled = value.max(0.0);
    let mut unit = 0;
    while scaled >= 1_000.0 && unit < UNITS.len() - 1 {
        scaled /= 1_000.0;
        unit += 1;
    }
    if unit == 0 || scaled >= 100.0 {
        format!("{scaled:.0} {}", UNITS[unit])
    } else {
        format!("{scaled:.1} {}", UNITS[unit])
    }
}

/// Mebibytes, e.g. "162 Mi".
pub fn mib(value: f64) -> String {
    format!("{value:.0} Mi")
}

/// Millicores, e.g. "250m".
pub fn millicores(value: f64) -> String {
    format!("{value:.0}m")
}

/// A duration the way the Kubernetes and CoreDNS docs write it: "500ms", "30s", "300s",
/// "1h30m". Seconds up to an hour keep settings such as `prefetch 5 60s` recognisable.
pub fn go_duration(duration: Duration) -> String {
    let total_ms = duration.as_millis();
    if total_ms == 0 {
        return "0s".to_string();
    }
    if !total_ms.is_multiple_of(1000) {
        return format!("{total_ms}ms");
    }
    let secs = duration.as_secs();
    if secs < 3600 {
        return format!("{secs}s");
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = format!("{h}h");
    if m > 0 || s > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Parses a Go duration ("300ms", "30s", "5m", "1h30m", "1.5s"). Returns `None` for
/// anything else, including negative values.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// The object a cluster-wide finding hangs on when no single Kubernetes object owns it.
pub fn cluster_object() -> ObjectRef {
    ObjectRef::cluster_scoped("Cluster", "cluster")
}

/// A finding id: `<pane>/<rule>` or `<pane>/<rule>/<namespace>/<name>`.
pub fn finding_id(pane: &str, rule: &str, parts: &[&str]) -> String {
    let mut id = format!("{pane}/{rule}");
    for part in parts {
        id.push('/');
        id.push_str(part);
    }
    id
}

/// A figure that may be missing (no metrics source): formatted, or "n/a".
pub fn or_na(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "n/a".to_string(), format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_and_shares() {
        assert_eq!(usd(0.192), "$0.19");
        assert_eq!(usd(1234.4), "$1,234");
        assert_eq!(usd(1_234_567.0), "$1,234,567");
        assert_eq!(usd_per_month(99.4), "$99/month");
        assert_eq!(usd_per_month(4.5), "$4.50/month");
        assert_eq!(usd_per_month(12_345.6), "$12,346/month");
        assert_eq!(percent(0.004), "0.4%");
        assert_eq!(percent(0.66), "66%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.07), "7%");
        assert_eq!(percent(0.075), "7.5%");
        assert_eq!(bytes_per_sec(12_345_678.0), "12.3 MB/s");
        assert_eq!(bytes_per_sec(512.0), "512 B/s");
        assert_eq!(rate(4210.4), "4,210");
        assert_eq!(millis(142.0), "142 ms");
        assert_eq!(millis(3152.0), "3.2 s");
        assert_eq!(millis(0.4), "0.4 ms");
    }

    #[test]
    fn go_durations_round_trip() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration("-5s"), None);
        assert_eq!(go_duration(Duration::from_secs(90)), "90s");
        assert_eq!(go_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(go_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
    }
}
