//! The chart of `cargo xtask bench hatch`: instructions against op count, one line per
//! Hatchery method (egg, chatty, struct), Linux's hatches as horizontal reference lines.
//! Drawn with `plotters` into SVG (no fonts needed: the SVG names a font family and the
//! viewer draws the text).
//!
//! The y axis is logarithmic: Hatchery's figures and Linux's are an order of magnitude
//! apart, and on a linear axis one of them would be a flat line at the bottom.

use plotters::prelude::*;

use crate::bench_report::{Method, Report, Row, System};

/// Size of the chart in pixels.
const SIZE: (u32, u32) = (960, 600);
/// The smallest op range drawn (so a chart with only Linux rows still has an x axis).
const MIN_OPS_RANGE: u32 = 10;

/// The color of a method's lines: Hatchery's strong, Linux's muted (its lines without
/// file actions thin, with them thick).
fn color(method: Method) -> RGBColor {
    match method {
        Method::Egg => RGBColor(0x1b, 0x9e, 0x77),
        Method::Chatty => RGBColor(0xd9, 0x5f, 0x02),
        Method::Struct => RGBColor(0x75, 0x70, 0xb3),
        Method::PosixSpawn => RGBColor(0x55, 0x55, 0x55),
        Method::VforkExecve => RGBColor(0x4a, 0x7a, 0xb0),
        Method::ForkExecve => RGBColor(0xb0, 0x4a, 0x4a),
        Method::Getppid | Method::PipePingPong => BLACK,
    }
}

/// The lines of the chart, taken from a report.
#[derive(Debug, PartialEq)]
pub struct Lines<'a> {
    /// Per Hatchery method with rows: its points (ops, instructions), by ops.
    pub methods: Vec<(Method, Vec<(u32, u64)>)>,
    /// Linux hatch rows, each a horizontal line.
    pub references: Vec<&'a Row>,
}

impl<'a> Lines<'a> {
    /// The lines `report` gives. Calibration rows (getppid, pipe ping-pong) are not drawn.
    pub fn of(report: &'a Report) -> Self {
        let mut methods = Vec::new();
        for method in Method::ALL
            .into_iter()
            .filter(|method| method.system() == System::Hatchery)
        {
            let mut points: Vec<(u32, u64)> = report
                .rows()
                .iter()
                .filter(|row| row.method == method)
                .filter_map(|row| Some((row.ops?, row.instructions)))
                .collect();
            points.sort_unstable();
            if !points.is_empty() {
                methods.push((method, points));
            }
        }
        let references = report
            .rows()
            .iter()
            .filter(|row| row.method.system() == System::Linux && row.method.is_hatch())
            .collect();
        Self {
            methods,
            references,
        }
    }

    /// The x range (0 to the largest op count, at least [`MIN_OPS_RANGE`]) and the y range
    /// (powers of ten: the largest at or below a third of the smallest figure, room for
    /// the legend; the smallest at or above the largest figure), or `None` when there is
    /// nothing to draw.
    fn ranges(&self) -> Option<(u32, f64, f64)> {
        let values = self
            .methods
            .iter()
            .flat_map(|(_, points)| points.iter().map(|&(_, y)| y))
            .chain(self.references.iter().map(|row| row.instructions));
        let (low, high) = values.fold(None, |range: Option<(u64, u64)>, y| {
            let (low, high) = range.unwrap_or((y, y));
            Some((low.min(y), high.max(y)))
        })?;
        let ops = self
            .methods
            .iter()
            .flat_map(|(_, points)| points.iter().map(|&(x, _)| x))
            .max()
            .unwrap_or(0)
            .max(MIN_OPS_RANGE);
        let mut bottom = 1u64;
        while bottom * 10 <= low / 3 {
            bottom *= 10;
        }
        let mut top = 10u64;
        while top < high {
            top = top.saturating_mul(10);
        }
        // Precision loss is fine: these are axis bounds.
        #[allow(clippy::cast_precision_loss)]
        Some((ops, bottom as f64, top as f64))
    }
}

/// The chart of `report` as an SVG document.
///
/// # Errors
/// When the report has no hatch rows, or plotters fails.
pub fn svg(report: &Report, title: &str) -> Result<String, String> {
    let lines = Lines::of(report);
    let (ops, low, high) = lines
        .ranges()
        .ok_or("no hatch figures to draw (only calibration rows, or none)")?;
    let mut text = String::new();
    draw(&lines, title, ops, low, high, &mut text).map_err(|e| format!("plotters: {e}"))?;
    Ok(text)
}

#[allow(clippy::cast_precision_loss)] // instruction counts to plot coordinates
fn draw(
    lines: &Lines<'_>,
    title: &str,
    ops: u32,
    low: f64,
    high: f64,
    out: &mut String,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 28))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..f64::from(ops), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(11)
        .x_desc("ops in the description")
        .y_desc("instructions (hatch + exit + wait, median)")
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 16))
        .y_label_formatter(&|y| crate::bench_report::thousands(y.round() as u64))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    for (method, points) in &lines.methods {
        let color = color(*method);
        let series = points.iter().map(|&(x, y)| (f64::from(x), y as f64));
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
            .label(method.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(series.map(|point| Circle::new(point, 3, color.filled())))?;
    }
    for row in &lines.references {
        let color = color(row.method);
        let width = if row.ops == Some(0) { 1 } else { 2 };
        let y = row.instructions as f64;
        let line = [(0.0, y), (f64::from(ops), y)];
        chart
            .draw_series(DashedLineSeries::new(line, 8, 5, color.stroke_width(width)))?
            .label(format!(
                "{}: {}",
                row.label(),
                crate::bench_report::thousands(row.instructions)
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 18))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut rows = Vec::new();
        for (method, base, per_op) in [
            (Method::Egg, 12_000, 400),
            (Method::Chatty, 12_000, 3_000),
            (Method::Struct, 12_500, 500),
        ] {
            for ops in [0, 1, 2, 5, 10, 20, 50, 100] {
                rows.push(Row::instructions(
                    method,
                    Some(ops),
                    200,
                    base + per_op * u64::from(ops),
                ));
            }
        }
        rows.push(Row::instructions(Method::PosixSpawn, Some(0), 201, 300_856));
        rows.push(Row::instructions(
            Method::ForkExecve,
            Some(10),
            201,
            353_550,
        ));
        rows.push(Row::instructions(Method::Getppid, None, 2001, 340));
        Report::new(rows)
    }

    #[test]
    fn lines_take_one_line_per_hatchery_method_and_linux_hatches_as_references() {
        let report = report();
        let lines = Lines::of(&report);
        let methods: Vec<Method> = lines.methods.iter().map(|(method, _)| *method).collect();
        assert_eq!(methods, [Method::Egg, Method::Chatty, Method::Struct]);
        assert_eq!(lines.methods[0].1.len(), 8);
        assert_eq!(lines.methods[0].1[4], (10, 16_000));
        let references: Vec<Method> = lines.references.iter().map(|row| row.method).collect();
        assert_eq!(references, [Method::PosixSpawn, Method::ForkExecve]);
        // x to the largest op count; y in powers of ten around 12,000 .. 353,550.
        assert_eq!(lines.ranges(), Some((100, 1_000.0, 1_000_000.0)));
    }

    #[test]
    fn svg_has_a_legend_entry_per_line() {
        let svg = svg(&report(), "hatch").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for label in [
            "egg",
            "chatty",
            "struct",
            "Linux posix_spawn, no file actions: 300,856",
            "Linux fork+execve, 10 file actions + setsid: 353,550",
        ] {
            // plotters writes each text on a line of its own.
            assert!(svg.contains(&format!("\n{label}\n")), "no {label}");
        }
        assert!(!svg.contains("getppid"), "calibration rows are not drawn");
    }

    #[test]
    fn linux_rows_alone_still_make_a_chart() {
        let report = Report::new(vec![Row::instructions(
            Method::VforkExecve,
            Some(0),
            201,
            215_428,
        )]);
        let lines = Lines::of(&report);
        assert!(lines.methods.is_empty());
        assert_eq!(lines.ranges(), Some((MIN_OPS_RANGE, 10_000.0, 1_000_000.0)));
        assert!(svg(&report, "hatch").unwrap().contains("215,428"));
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        let calibration_only =
            Report::new(vec![Row::instructions(Method::Getppid, None, 2001, 340)]);
        assert!(svg(&calibration_only, "hatch").is_err());
        assert!(svg(&Report::default(), "hatch").is_err());
    }
}
