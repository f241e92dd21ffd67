//! FitNet in float64 (mirrors `fitnet.wgsl`).

/// FitNet hint: `mean (fs − ft)²`, gradient `2(fs − ft)/N`.
pub fn fitnet(student: &[f64], teacher: &[f64]) -> (f64, Vec<f64>) {
    let n = student.len() as f64;
    let loss = student
        .iter()
        .zip(teacher)
        .map(|(s, t)| (s - t) * (s - t))
        .sum::<f64>()
        / n;
    let grad = student
        .iter()
        .zip(teacher)
        .map(|(s, t)| 2.0 * (s - t) / n)
        .collect();
    (loss, grad)
}
