//! The simulator's only source of chance: a tiny SplitMix64 generator, plus stateless hashes
//! for values that must not depend on the order things are drawn in.

/// A SplitMix64 pseudo-random generator: small, fast, and the same on every platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        finalize(self.state)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        to_unit(self.next_u64())
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // The modulo bias is irrelevant for the small n the simulator draws from.
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// A Poisson-distributed count with mean `lambda` (Knuth's method; lambda stays small).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        let limit = (-lambda.min(30.0)).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit {
            count += 1;
            product *= self.unit();
        }
        count
    }
}

fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn to_unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Mixes two values into one well-spread hash.
pub fn mix(a: u64, b: u64) -> u64 {
    finalize(a.wrapping_mul(GOLDEN_GAMMA) ^ finalize(b.wrapping_add(GOLDEN_GAMMA)))
}

/// A stable hash of a name (FNV-1a), for seeding per-object values.
pub fn hash_str(text: &str) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01B3);
    }
    finalize(hash)
}

/// A uniform value in [0, 1) determined by the key alone.
pub fn unit_hash(key: u64) -> f64 {
    to_unit(finalize(key))
}

/// Smooth noise in [-1, 1] over time: lattice values every `period_s` seconds, eased in
/// between, with a finer octave on top. The same key and instant always give the same value.
pub fn smooth_noise(key: u64, seconds: f64, period_s: f64) -> f64 {
    let coarse = lattice_noise(key, seconds / period_s);
    let fine = lattice_noise(mix(key, 0x5EED), seconds * 4.0 / period_s);
    (0.75 * coarse + 0.25 * fine).clamp(-1.0, 1.0)
}

fn lattice_noise(key: u64, position: f64) -> f64 {
    let cell = position.floor();
    let t = position - cell;
    let eased = t * t * (3.0 - 2.0 * t);
    let at = |i: f64| unit_hash(mix(key, i as i64 as u64)) * 2.0 - 1.0;
    let a = at(cell);
    let b = at(cell + 1.0);
    a + (b - a) * eased
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(SplitMix64::new(8).next_u64(), xs[0]);
    }

    #[test]
    fn unit_is_in_range_and_spread() {
        let mut rng = SplitMix64::new(1);
        let draws: Vec<f64> = (0..1000).map(|_| rng.unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }

    #[test]
    fn poisson_mean_is_close() {
        let mut rng = SplitMix64::new(3);
        let total: u32 = (0..2000).map(|_| rng.poisson(0.5)).sum();
        let mean = f64::from(total) / 2000.0;
        assert!((mean - 0.5).abs() < 0.08, "{mean}");
    }

    #[test]
    fn smooth_noise_is_bounded_and_continuous() {
        let key = hash_str("frontend");
        let mut previous = smooth_noise(key, 0.0, 600.0);
        for step in 1..2000 {
            let value = smooth_noise(key, f64::from(step) * 5.0, 600.0);
            assert!((-1.0..=1.0).contains(&value));
            assert!((value - previous).abs() < 0.2, "jump at step {step}");
            previous = value;
        }
    }
}
