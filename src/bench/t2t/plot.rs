//! The percentile-distribution plot (SVG): latency against `1/(1 − percentile)` on
//! log axes, HdrHistogram's usual picture, one line per histogram.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

type Error = Box<dyn std::error::Error>;

/// One per line: the floor, four stages and the three peers (sparse floor, slot echo
/// back to back and sparse) each get their own.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

/// (1/(1−q), µs) points of `h`, up to the last quantile below 1.
fn points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    h.iter_quantiles(5)
        .filter(|v| v.quantile_iterated_to() < 1.0)
        .map(|v| {
            let q = v.quantile_iterated_to();
            (
                1.0 / (1.0 - q),
                v.value_iterated_to().max(1) as f64 / 1000.0,
            )
        })
        .collect()
}

/// Writes `series` (name, histogram of ns) as an SVG at `path`.
pub(super) fn write_svg(
    path: &Path,
    title: &str,
    series: &[(&str, &Histogram<u64>)],
) -> Result<(), Error> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = series.iter().map(|(n, h)| (*n, points(h))).collect();
    let all = lines.iter().flat_map(|(_, p)| p.iter());
    let x_max = all.clone().map(|p| p.0).fold(10.0, f64::max) * 1.5;
    let y_min = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .min(0.1)
        * 0.8;
    let y_max = all.map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let root = SVGBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..x_max).log_scale(), (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile: 1/(1-q)  (10 = p90, 100 = p99, 1000 = p99.9)")
        .y_desc("latency, µs")
        .draw()?;
    for (i, (name, pts)) in lines.into_iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
