//! Inline SVG charts: horizontal bar charts of a breakdown and a line chart
//! of one measure over time with the goal's baseline and target as
//! horizontal reference lines.
//!
//! Output is deterministic (ids come from the caller, numbers are printed
//! with fixed precision) and self-contained (no external references, no
//! script). A suppressed value is never drawn as a length: it gets a fixed
//! hatched marker of [`SUPPRESSED_MARK_WIDTH`] and the label "..".

use super::html::escape;
use super::labels::{format_decimal, period_label, period_month_index};
use super::layout::{Bar, Figure, LinePoint, RefLine};
use std::fmt::Write;

/// Width of the hatched marker drawn for a suppressed bar, whatever the data.
pub const SUPPRESSED_MARK_WIDTH: f64 = 18.0;
/// Length of the longest bar.
pub const BAR_TRACK: f64 = 340.0;

const WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 230.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 8.0;
const COLOR: &str = "#2b6a8f";
const MUTED: &str = "#6b6b6b";

fn open_svg(out: &mut String, id: &str, class: &str, title: &str, height: f64) -> std::fmt::Result {
    let (id, title) = (escape(id), escape(title));
    write!(
        out,
        "<svg class=\"chart {class}\" id=\"{id}\" role=\"img\" aria-label=\"{title}\" \
         aria-labelledby=\"{id}-title\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" \
         height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\
         <title id=\"{id}-title\">{title}</title>"
    )
}

/// Horizontal bar chart, one bar per category, lengths proportional to the
/// largest value.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> Result<String, std::fmt::Error> {
    let height = 10.0 + bars.len() as f64 * (BAR_HEIGHT + BAR_GAP);
    let max = bars
        .iter()
        .filter_map(|b| b.value.number())
        .fold(0.0_f64, f64::max);
    let mut out = String::new();
    open_svg(&mut out, id, "bar-chart", title, height)?;
    let desc: Vec<String> = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.value.display()))
        .collect();
    write!(out, "<desc>{}</desc>", escape(&desc.join("; ")))?;
    let hatch = format!("{}-hatch", escape(id));
    write!(
        out,
        "<defs><pattern id=\"{hatch}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" \
         stroke=\"{MUTED}\" stroke-width=\"2\"/></pattern></defs>"
    )?;
    for (i, bar) in bars.iter().enumerate() {
        let y = 5.0 + i as f64 * (BAR_HEIGHT + BAR_GAP);
        let text_y = y + BAR_HEIGHT - 5.0;
        let label = escape(&bar.label);
        write!(
            out,
            "<g class=\"bar\"><text x=\"{:.1}\" y=\"{text_y:.1}\" text-anchor=\"end\">{label}</text>",
            LABEL_WIDTH - 8.0
        )?;
        let end = match bar.value.number() {
            Some(v) => {
                let w = if max > 0.0 {
                    v.max(0.0) / max * BAR_TRACK
                } else {
                    0.0
                };
                let raw = bar.value.raw().unwrap_or_default();
                write!(
                    out,
                    "<rect class=\"bar-value\" x=\"{LABEL_WIDTH}\" y=\"{y:.1}\" width=\"{w:.1}\" \
                     height=\"{BAR_HEIGHT}\" fill=\"{COLOR}\" data-value=\"{raw}\">\
                     <title>{label}: {}</title></rect>",
                    escape(&bar.value.display())
                )?;
                LABEL_WIDTH + w
            }
            None if bar.value == Figure::Suppressed => {
                write!(
                    out,
                    "<rect class=\"bar-suppressed\" data-skyddad=\"true\" x=\"{LABEL_WIDTH}\" \
                     y=\"{y:.1}\" width=\"{SUPPRESSED_MARK_WIDTH}\" height=\"{BAR_HEIGHT}\" \
                     fill=\"url(#{hatch})\" stroke=\"{MUTED}\" stroke-dasharray=\"3 2\">\
                     <title>{label}: uppgiften visas inte</title></rect>"
                )?;
                LABEL_WIDTH + SUPPRESSED_MARK_WIDTH
            }
            None => LABEL_WIDTH,
        };
        write!(
            out,
            "<text class=\"bar-label\" x=\"{:.1}\" y=\"{text_y:.1}\">{}</text></g>",
            end + 6.0,
            escape(&bar.value.display())
        )?;
    }
    out.push_str("</svg>");
    Ok(out)
}

/// A "nice" upper bound of the y axis (1, 2, 2.5 or 5 × 10^k per step, 4 steps).
fn nice_max(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

/// Line chart of `points` over time, with optional baseline and target lines.
pub fn line_chart(
    id: &str,
    title: &str,
    points: &[LinePoint],
    baseline: Option<&RefLine>,
    target: Option<&RefLine>,
) -> Result<String, std::fmt::Error> {
    let (height, left, right, top, bottom) = (300.0, 60.0, WIDTH - 190.0, 20.0, 260.0);
    let refs: Vec<(&RefLine, &str)> = baseline
        .map(|b| (b, "ref-baseline"))
        .into_iter()
        .chain(target.map(|t| (t, "ref-target")))
        .collect();
    let timed: Vec<(i64, &LinePoint)> = points
        .iter()
        .filter_map(|p| period_month_index(&p.period).map(|m| (m, p)))
        .collect();
    let months: Vec<i64> = timed
        .iter()
        .map(|(m, _)| *m)
        .chain(
            refs.iter()
                .filter_map(|(r, _)| period_month_index(&r.period)),
        )
        .collect();
    let (mut x0, mut x1) = (
        months.iter().copied().min().unwrap_or(0),
        months.iter().copied().max().unwrap_or(0),
    );
    if x0 == x1 {
        (x0, x1) = (x0 - 6, x1 + 6);
    }
    let values = timed.iter().filter_map(|(_, p)| p.value.number());
    let max = values
        .chain(refs.iter().map(|(r, _)| r.value))
        .fold(0.0, f64::max);
    let (y_max, step) = nice_max(max);
    let x = |m: i64| left + (m - x0) as f64 / (x1 - x0) as f64 * (right - left);
    let y = |v: f64| bottom - v.max(0.0) / y_max * (bottom - top);

    let mut out = String::new();
    open_svg(&mut out, id, "line-chart", title, height)?;
    let desc: Vec<String> = points
        .iter()
        .map(|p| format!("{}: {}", period_label(&p.period), p.value.display()))
        .chain(
            refs.iter()
                .map(|(r, _)| format!("{}: {}", r.label, format_decimal(r.value))),
        )
        .collect();
    write!(out, "<desc>{}</desc>", escape(&desc.join("; ")))?;
    let mut tick = 0.0;
    while tick <= y_max + step / 2.0 {
        let ty = y(tick);
        write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            ty + 4.0,
            format_decimal(tick)
        )?;
        tick += step;
    }
    let ref_periods = refs.iter().map(|(r, _)| r.period.as_str());
    let periods = timed
        .iter()
        .map(|(_, p)| p.period.as_str())
        .chain(ref_periods);
    let mut labelled: Vec<(i64, &str)> = periods
        .filter_map(|p| period_month_index(p).map(|m| (m, p)))
        .collect();
    labelled.sort();
    labelled.dedup_by_key(|(m, _)| *m);
    let mut last_x = f64::MIN;
    for (m, period) in labelled {
        if x(m) - last_x >= 70.0 {
            last_x = x(m);
            write!(
                out,
                "<text class=\"x-tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(m),
                bottom + 18.0,
                escape(&period_label(period))
            )?;
        }
    }
    write!(
        out,
        "<line x1=\"{left}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#333\"/>"
    )?;
    for (r, class) in &refs {
        let (ry, dash, color) = match *class {
            "ref-target" => (y(r.value), "6 4", "#b03a2e"),
            _ => (y(r.value), "2 3", MUTED),
        };
        write!(
            out,
            "<line class=\"{class}\" x1=\"{left}\" x2=\"{right}\" y1=\"{ry:.1}\" y2=\"{ry:.1}\" \
             stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"{dash}\" data-value=\"{}\"/>\
             <text class=\"{class}-label\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}: {} ({})</text>",
            r.value,
            right + 12.0,
            ry + 4.0,
            escape(&r.label),
            format_decimal(r.value),
            escape(&period_label(&r.period))
        )?;
        if let (Some(m), "ref-target") = (period_month_index(&r.period), *class) {
            write!(
                out,
                "<rect class=\"target-marker\" x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" \
                 fill=\"{color}\" transform=\"rotate(45 {:.1} {ry:.1})\"/>",
                x(m) - 4.0,
                ry - 4.0,
                x(m)
            )?;
        }
    }
    let mut segment: Vec<String> = Vec::new();
    let mut segments: Vec<Vec<String>> = Vec::new();
    for (m, p) in &timed {
        match p.value.number() {
            Some(v) => segment.push(format!("{:.1},{:.1}", x(*m), y(v))),
            None => segments.push(std::mem::take(&mut segment)),
        }
    }
    segments.push(segment);
    for s in segments.iter().filter(|s| s.len() > 1) {
        write!(
            out,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{COLOR}\" stroke-width=\"2\" points=\"{}\"/>",
            s.join(" ")
        )?;
    }
    for (m, p) in &timed {
        let text = format!("{}: {}", period_label(&p.period), p.value.display());
        match (p.value.number(), p.value.raw()) {
            (Some(v), Some(raw)) => write!(
                out,
                "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{COLOR}\" \
                 data-period=\"{}\" data-value=\"{raw}\"><title>{}</title></circle>",
                x(*m),
                y(v),
                escape(&p.period),
                escape(&text)
            )?,
            _ => write!(
                out,
                "<text class=\"point-suppressed\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                 data-period=\"{}\">{}<title>{}</title></text>",
                x(*m),
                bottom - 6.0,
                escape(&p.period),
                escape(&p.value.display()),
                escape(&text)
            )?,
        }
    }
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::attrs;

    fn bar(label: &str, value: Figure) -> Bar {
        Bar {
            label: label.into(),
            value,
        }
    }

    #[test]
    fn bar_lengths_are_proportional_and_suppressed_bars_have_none() {
        let bars = [
            bar("Gymnasial", Figure::Count(540)),
            bar("Grundskola", Figure::Count(135)),
            bar("Barnomsorg", Figure::Suppressed),
            bar("Okänd", Figure::Missing),
            bar("Ingen", Figure::Count(0)),
        ];
        let svg = bar_chart("c-test", "Test <&>", &bars).expect("svg");
        let widths = attrs(&svg, "<rect class=\"bar-value\"", "width");
        assert_eq!(widths, ["340.0", "85.0", "0.0"]);
        assert_eq!(
            attrs(&svg, "<rect class=\"bar-value\"", "data-value"),
            ["540", "135", "0"]
        );
        let hatched = attrs(&svg, "<rect class=\"bar-suppressed\"", "width");
        assert_eq!(hatched, [SUPPRESSED_MARK_WIDTH.to_string()]);
        assert_eq!(
            attrs(&svg, "<rect class=\"bar-suppressed\"", "data-value"),
            [""]
        );
        assert!(svg.contains("fill=\"url(#c-test-hatch)\""));
        let labels: Vec<_> = svg
            .split("<text class=\"bar-label\"")
            .skip(1)
            .map(|t| t[t.find('>').unwrap_or(0) + 1..t.find("</text>").unwrap_or(0)].to_string())
            .collect();
        assert_eq!(labels, ["540", "135", "..", "–", "0"]);
        // The suppressed marker's width does not depend on the data.
        let other = bar_chart(
            "c-test",
            "T",
            &[bar("A", Figure::Count(9)), bar("B", Figure::Suppressed)],
        )
        .expect("svg");
        assert_eq!(
            attrs(&other, "<rect class=\"bar-suppressed\"", "width"),
            hatched
        );
        assert!(svg.starts_with("<svg class=\"chart bar-chart\" id=\"c-test\" role=\"img\" aria-label=\"Test &lt;&amp;&gt;\""));
        assert!(svg.contains("<title id=\"c-test-title\">Test &lt;&amp;&gt;</title>"));
        assert!(!svg.contains("http"));
    }

    fn point(period: &str, value: Figure) -> LinePoint {
        LinePoint {
            period: period.into(),
            value,
        }
    }

    #[test]
    fn line_chart_has_series_gaps_and_reference_lines() {
        let points = [
            point("2015-05", Figure::Count(902)),
            point("2016-05", Figure::Count(800)),
            point("2017-05", Figure::Suppressed),
            point("2018-05", Figure::Count(500)),
        ];
        let base = RefLine {
            label: "Baslinje".into(),
            value: 902.0,
            period: "2015-05".into(),
        };
        let target = RefLine {
            label: "Mål".into(),
            value: 451.0,
            period: "2018-12".into(),
        };
        let svg = line_chart("g-1", "Mål 1", &points, Some(&base), Some(&target)).expect("svg");
        // y axis 0..1000, plot from y=260 (0) to y=20 (1000).
        assert_eq!(attrs(&svg, "<line class=\"ref-baseline\"", "y1"), ["43.5"]);
        assert_eq!(attrs(&svg, "<line class=\"ref-target\"", "y1"), ["151.8"]);
        assert_eq!(
            attrs(&svg, "<line class=\"ref-target\"", "data-value"),
            ["451"]
        );
        assert!(svg.contains(">Mål: 451 (december 2018)</text>"));
        assert!(svg.contains(">Baslinje: 902 (maj 2015)</text>"));
        assert_eq!(svg.matches("class=\"target-marker\"").count(), 1);
        // The suppressed point splits the line; the last point stands alone.
        assert_eq!(svg.matches("<polyline class=\"series\"").count(), 1);
        assert_eq!(
            attrs(&svg, "<circle class=\"point\"", "data-value"),
            ["902", "800", "500"]
        );
        assert_eq!(
            attrs(&svg, "<text class=\"point-suppressed\"", "data-period"),
            ["2017-05"]
        );
        // x: 2015-05 at the left edge, 2018-12 (target) at the right edge.
        assert_eq!(attrs(&svg, "<circle class=\"point\"", "cx")[0], "60.0");
        assert_eq!(attrs(&svg, "<rect class=\"target-marker\"", "x"), ["446.0"]);
        assert_eq!(
            svg,
            line_chart("g-1", "Mål 1", &points, Some(&base), Some(&target)).expect("svg")
        );
    }
}
