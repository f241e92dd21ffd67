//! The roofline chart: each loss's fraction of the adapter's memory roofline, one group of bars
//! per shape, as a self-contained SVG (`wgpu-distill bench --plot FILE.svg`, or
//! `wgpu-distill plot` on the `--json` lines of earlier runs).

use std::fmt::Write as _;

use clap::Args;
use wgpu_distill::Error;

/// One bar: a loss at a shape, and its fraction of the roofline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bar {
    pub loss: String,
    pub shape: String,
    pub fraction: f64,
}

#[derive(Args)]
pub(crate) struct PlotArgs {
    /// Comma list of files of `bench --json` lines.
    #[arg(long, required = true)]
    json: String,
    /// The SVG file to write.
    #[arg(long)]
    out: String,
    /// The pass to chart: forward or forward+grad.
    #[arg(long, default_value = "forward+grad")]
    pass: String,
    /// The input dtype to chart.
    #[arg(long, default_value = "f32")]
    dtype: String,
}

/// `wgpu-distill plot`: the chart of earlier `bench --json` output.
pub(crate) fn plot(args: &PlotArgs) -> Result<(), Error> {
    let mut bars = vec![];
    let mut adapter = String::new();
    for path in args.json.split(',').map(str::trim) {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io(format!("{path}: {e}")))?;
        for (n, line) in text.lines().enumerate() {
            if !line.trim_start().starts_with('{') {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| Error::Io(format!("{path}:{}: not a bench result: {e}", n + 1)))?;
            let field = |k: &str| value.get(k).and_then(|v| v.as_str()).unwrap_or("");
            if field("pass") != args.pass || field("dtype") != args.dtype {
                continue;
            }
            let (Some(fraction), Some(shape)) = (
                value.get("roofline_fraction").and_then(|v| v.as_f64()),
                value.get("shape").and_then(|v| v.as_array()),
            ) else {
                continue;
            };
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            if adapter.is_empty() {
                adapter = field("adapter").to_string();
            }
            bars.push(Bar {
                loss: field("loss").to_string(),
                shape: dims.join("x"),
                fraction,
            });
        }
    }
    if bars.is_empty() {
        return Err(Error::Io(format!(
            "{}: no {} {} results with a roofline fraction",
            args.json, args.dtype, args.pass
        )));
    }
    let title = format!("{adapter}: {} {}", args.dtype, args.pass);
    write(&args.out, &bars, &title)
}

/// Writes the chart of `bars` to `path`.
pub(crate) fn write(path: &str, bars: &[Bar], title: &str) -> Result<(), Error> {
    std::fs::write(path, svg(bars, title)).map_err(|e| Error::Io(format!("{path}: {e}")))
}

/// First-seen order, without repeats.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = vec![];
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A grouped bar chart: shapes along x, one bar per loss, the fraction from 0 to 1 along y.
/// A later bar for the same loss and shape replaces an earlier one.
pub(crate) fn svg(bars: &[Bar], title: &str) -> String {
    const COLOURS: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#bab0ac",
    ];
    let shapes = distinct(bars.iter().map(|b| b.shape.as_str()));
    let losses = distinct(bars.iter().map(|b| b.loss.as_str()));
    let (left, top, plot_h, bar_w, gap) = (50.0, 40.0, 220.0, 10.0, 18.0);
    let group_w = bar_w * losses.len() as f64 + gap;
    let width = left + group_w * shapes.len() as f64 + 20.0;
    let legend_y = top + plot_h + 45.0;
    let height = legend_y + 18.0 * losses.len().div_ceil(4) as f64 + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{left}" y="20" font-size="13">fraction of the memory roofline — {}</text>"#,
        escape(title)
    );
    for tick in 0..=4 {
        let f = f64::from(tick) * 0.25;
        let y = top + plot_h * (1.0 - f);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{f:.2}</text>"##,
            width - 20.0,
            left - 5.0,
            y + 4.0
        );
    }
    for (g, shape) in shapes.iter().enumerate() {
        let x0 = left + gap / 2.0 + group_w * g as f64;
        for (l, loss) in losses.iter().enumerate() {
            let Some(bar) = bars
                .iter()
                .rev()
                .find(|b| b.shape == *shape && b.loss == *loss)
            else {
                continue;
            };
            let f = bar.fraction.clamp(0.0, 1.0);
            let h = plot_h * f;
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{bar_w}" height="{h:.1}" fill="{}"><title>{} {} {:.3}</title></rect>"#,
                x0 + bar_w * l as f64,
                top + plot_h - h,
                COLOURS[l % COLOURS.len()],
                escape(loss),
                escape(shape),
                bar.fraction
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x0 + bar_w * losses.len() as f64 / 2.0,
            top + plot_h + 16.0,
            escape(shape)
        );
    }
    for (l, loss) in losses.iter().enumerate() {
        let x = left + 110.0 * (l % 4) as f64;
        let y = legend_y + 18.0 * (l / 4) as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            y - 9.0,
            COLOURS[l % COLOURS.len()],
            x + 14.0,
            escape(loss)
        );
    }
    s.push_str("</svg>\n");
    s
}
