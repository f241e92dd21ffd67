//! Deterministic synthetic logits (SplitMix64 + Box–Muller), for the self-check, the benchmark,
//! the examples and the tests: no `rand` dependency, same numbers on every machine.

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
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

/// `n` normal values times `scale`: the `n` first of `SplitMix::new(seed)`'s `normal()`s.
/// Large requests are split over the machine's cores (the bench's 8192×32000 pairs took 20 s
/// on one); each part jumps its stream ahead, so the values do not depend on the split.
pub fn normal_vec(seed: u64, n: usize, scale: f64) -> Vec<f32> {
    const PART: usize = 1 << 20;
    let fill = |start: usize, out: &mut [f32]| {
        // Each normal draws two u64s; SplitMix's state after k draws is seed + k·γ.
        let mut rng = SplitMix::new(seed.wrapping_add((2 * start as u64).wrapping_mul(GAMMA)));
        for v in out {
            *v = (rng.normal() * scale) as f32;
        }
    };
    let mut values = vec![0.0f32; n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    if n <= PART || threads == 1 {
        fill(0, &mut values);
        return values;
    }
    let per_thread = n.div_ceil(threads).max(PART);
    std::thread::scope(|scope| {
        for (k, part) in values.chunks_mut(per_thread).enumerate() {
            scope.spawn(move || fill(k * per_thread, part));
        }
    });
    values
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_generation_equals_one_stream() {
        let n = 3 * (1 << 20) + 17;
        let mut rng = SplitMix::new(11);
        let sequential: Vec<f32> = (0..n).map(|_| (rng.normal() * 2.5) as f32).collect();
        let split = normal_vec(11, n, 2.5);
        assert!(sequential
            .iter()
            .zip(&split)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
