//! Kubernetes resource quantities ("250m", "1.5", "512Mi", "1G") read as the units the panes
//! show: CPU in millicores, memory in MiB. Malformed quantities give `None`, never a panic.

/// Millicores in a CPU quantity: "250m" → 250, "2" → 2000, "0.5" → 500.
pub fn cpu_millicores(quantity: &str) -> Option<f64> {
    let text = quantity.trim();
    let cores = match text.strip_suffix('m') {
        Some(millis) => return finite(millis.parse::<f64>().ok()?),
        None => match text.strip_suffix('u') {
            Some(micro) => micro.parse::<f64>().ok()? / 1_000_000.0,
            None => match text.strip_suffix('n') {
                Some(nano) => nano.parse::<f64>().ok()? / 1_000_000_000.0,
                None => bytes(text)?,
            },
        },
    };
    finite(cores * 1000.0)
}

/// MiB in a memory quantity: "512Mi" → 512, "1Gi" → 1024, "1G" → 953.67, "1048576" → 1.
pub fn memory_mib(quantity: &str) -> Option<f64> {
    finite(bytes(quantity.trim())? / (1024.0 * 1024.0))
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// A quantity as a plain number, applying binary (Ki…Ei) or decimal (k…E, m) suffixes and
/// exponents ("1e3").
fn bytes(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
        ("m", 1e-3),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return finite(number.parse::<f64>().ok()? * factor);
        }
    }
    finite(text.parse::<f64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_in_millicores() {
        assert_eq!(cpu_millicores("250m"), Some(250.0));
        assert_eq!(cpu_millicores("2"), Some(2000.0));
        assert_eq!(cpu_millicores("0.5"), Some(500.0));
        assert_eq!(cpu_millicores("1500000n"), Some(1.5));
        assert_eq!(cpu_millicores("lots"), None);
    }

    #[test]
    fn reads_memory_in_mib() {
        assert_eq!(memory_mib("512Mi"), Some(512.0));
        assert_eq!(memory_mib("1Gi"), Some(1024.0));
        assert_eq!(memory_mib("1048576"), Some(1.0));
        assert_eq!(memory_mib("128974848"), Some(123.0));
        assert!(memory_mib("1G").is_some_and(|m| (m - 953.674).abs() < 0.01));
        assert_eq!(memory_mib("12Zi"), None);
        assert_eq!(memory_mib(""), None);
    }
}
