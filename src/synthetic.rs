//! Deterministic synthetic logits (SplitMix64 + Box–Muller), for the self-check, the benchmark,
//! the examples and the tests: no `rand` dependency, same numbers on every machine.

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// `n` normal values times `scale`.
pub fn normal_vec(seed: u64, n: usize, scale: f64) -> Vec<f32> {
    let mut rng = SplitMix::new(seed);
    (0..n).map(|_| (rng.normal() * scale) as f32).collect()
}

/// A student/teacher pair of B×C logits: the teacher is the student plus noise, as after some
/// training.
pub fn logit_pair(seed: u64, rows: usize, cols: usize, scale: f64) -> (Vec<f32>, Vec<f32>) {
    let student = normal_vec(seed, rows * cols, scale);
    let noise = normal_vec(seed ^ 0xA5A5_A5A5, rows * cols, scale);
    let teacher = student
        .iter()
        .zip(&noise)
        .map(|(s, n)| s + 0.7 * n)
        .collect();
    (student, teacher)
}
