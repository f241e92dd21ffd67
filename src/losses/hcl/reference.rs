//! ReviewKD's HCL in float64, one N×C×H×W level (mirrors `hcl.wgsl`).

/// Adaptive average pooling window `[floor(i·n/l), ceil((i+1)·n/l))`.
pub fn pool_window(i: usize, n: usize, l: usize) -> (usize, usize) {
    (i * n / l, ((i + 1) * n).div_ceil(l))
}

/// HCL (ReviewKD), one level: MSE plus halving-weighted MSEs of 4×4, 2×2, 1×1 pooled maps
/// (levels with `l >= H` skipped), divided by the total weight.
pub fn hcl(student: &[f64], teacher: &[f64], dims: [usize; 4]) -> (f64, Vec<f64>) {
    let [n, c, h, w] = dims;
    let planes = n * c;
    let d: Vec<f64> = student.iter().zip(teacher).map(|(s, t)| s - t).collect();
    let count = d.len() as f64;
    let mut loss = d.iter().map(|x| x * x).sum::<f64>() / count;
    let mut grad: Vec<f64> = d.iter().map(|x| 2.0 * x / count).collect();
    let (mut weight, mut total) = (1.0, 1.0);
    for l in [4usize, 2, 1] {
        if l >= h {
            continue;
        }
        weight /= 2.0;
        total += weight;
        let cells = (planes * l * l) as f64;
        for plane in 0..planes {
            let base = plane * h * w;
            for i in 0..l {
                let (r0, r1) = pool_window(i, h, l);
                for j in 0..l {
                    let (c0, c1) = pool_window(j, w, l);
                    let size = ((r1 - r0) * (c1 - c0)) as f64;
                    let mean = (r0..r1)
                        .flat_map(|r| (c0..c1).map(move |q| (r, q)))
                        .map(|(r, q)| d[base + r * w + q])
                        .sum::<f64>()
                        / size;
                    loss += weight * mean * mean / cells;
                    for r in r0..r1 {
                        for q in c0..c1 {
                            grad[base + r * w + q] += weight * 2.0 * mean / cells / size;
                        }
                    }
                }
            }
        }
    }
    (loss / total, grad.iter().map(|g| g / total).collect())
}
