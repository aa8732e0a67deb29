//! Load over time: a daily sine with seeded wander, and the percentiles a week of it implies.
//! Everything here is a pure function of the instant, so history and the present agree.

use std::f64::consts::{PI, TAU};

use chrono::Timelike;

use super::rng::{mix, smooth_noise};
use crate::domain::Timestamp;

/// How quickly the seeded wander changes.
const NOISE_PERIOD_S: f64 = 900.0;

/// A load curve: 1.0 is the average; the daily swing and the wander ride on top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub diurnal: f64,
    pub noise: f64,
    pub peak_hour_utc: f64,
    pub key: u64,
}

impl Curve {
    pub fn new(diurnal: f64, noise: f64, peak_hour_utc: f64, key: u64) -> Self {
        Curve {
            diurnal,
            noise,
            peak_hour_utc,
            key,
        }
    }

    fn daily(&self, at: Timestamp) -> f64 {
        let hours = f64::from(at.num_seconds_from_midnight()) / 3600.0;
        (TAU * (hours - self.peak_hour_utc) / 24.0).cos()
    }

    /// Load (requests, CPU, lookups, bytes) relative to the average.
    pub fn load(&self, at: Timestamp) -> f64 {
        let wander = smooth_noise(self.key, at.timestamp() as f64, NOISE_PERIOD_S);
        (1.0 + self.diurnal * self.daily(at) + self.noise * wander).max(0.05)
    }

    /// Memory moves far less than CPU over a day.
    pub fn memory_load(&self, at: Timestamp) -> f64 {
        let wander = smooth_noise(
            mix(self.key, 77),
            at.timestamp() as f64,
            NOISE_PERIOD_S * 2.0,
        );
        (1.0 + 0.25 * self.diurnal * self.daily(at) + 0.5 * self.noise * wander).max(0.05)
    }

    /// The load exceeded only a share `1 - q` of the time.
    pub fn load_quantile(&self, q: f64) -> f64 {
        1.0 + self.diurnal * sine_quantile(q) + self.noise * wander_quantile(q)
    }

    pub fn memory_quantile(&self, q: f64) -> f64 {
        1.0 + 0.25 * self.diurnal * sine_quantile(q) + 0.5 * self.noise * wander_quantile(q)
    }
}

/// A sine spends a share acos(x)/pi of its period above x.
fn sine_quantile(q: f64) -> f64 {
    (PI * (1.0 - q.clamp(0.0, 1.0))).cos()
}

/// The wander is bounded and mostly near zero; treat it as a clipped normal of sd 0.4.
fn wander_quantile(q: f64) -> f64 {
    (0.4 * normal_quantile(q)).clamp(-1.0, 1.0)
}

/// Inverse of the standard normal CDF (Acklam's rational approximation).
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.02425;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quantiles_order_and_peak() {
        let curve = Curve::new(0.3, 0.05, 15.0, 9);
        assert!(curve.load_quantile(0.5) < curve.load_quantile(0.95));
        assert!(curve.load_quantile(0.95) < curve.load_quantile(0.99));
        assert!((curve.load_quantile(0.99) - 1.35).abs() < 0.05);
        let peak = chrono::Utc
            .with_ymd_and_hms(2026, 3, 2, 15, 0, 0)
            .single()
            .map(|t| curve.load(t))
            .unwrap_or(0.0);
        let trough = chrono::Utc
            .with_ymd_and_hms(2026, 3, 2, 3, 0, 0)
            .single()
            .map(|t| curve.load(t))
            .unwrap_or(0.0);
        assert!(peak > 1.2 && trough < 0.8, "{peak} {trough}");
    }

    #[test]
    fn normal_helpers_agree() {
        for p in [0.01, 0.1, 0.5, 0.9, 0.95, 0.99] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-4, "{p}");
        }
        assert!((normal_quantile(0.95) - 1.6449).abs() < 1e-3);
    }
}
