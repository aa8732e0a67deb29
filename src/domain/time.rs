//! Time as the cockpit sees it: instants from the source's clock (virtual in the simulator)
//! and the short durations users type on the command line ("10m", "90s", "1h30m").

use std::time::Duration;

/// An instant on the source's clock, in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Why a duration such as `--at 10m` could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DurationError {
    #[error("empty duration; expected something like 90s, 10m or 1h30m")]
    Empty,
    #[error("`{0}` is not a duration; expected a number followed by s, m, h or d (e.g. 10m)")]
    Malformed(String),
}

/// Parses durations like `90s`, `10m`, `1h30m`, `2d`. A bare number means seconds.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(DurationError::Malformed(text.to_string())),
        };
        let value: u64 = digits
            .parse()
            .map_err(|_| DurationError::Malformed(text.to_string()))?;
        total = total.saturating_add(value.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(DurationError::Malformed(text.to_string()));
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration compactly for a narrow column: `45s`, `12m`, `3h05m`, `2d04h`.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d{:02}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10m5").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_secs(750)), "12m");
        assert_eq!(format_duration(Duration::from_secs(3900)), "1h05m");
        assert_eq!(format_duration(Duration::from_secs(187_200)), "2d04h");
    }
}
