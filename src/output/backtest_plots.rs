//! A backtest's figures and files: the relative value over time with its decomposition,
//! the weights over time (up to 20 stocks), and report.html; with summary.json and
//! backtest.csv, the set `sptlab backtest --out` publishes.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::backtest::{sampled_rows, Backtest};
use crate::data::parse_date;
use crate::output::backtest::{backtest_csv, backtest_summary_json, backtest_table, price_data_caveats};
use crate::output::html::{escape, STYLE};
use crate::output::plots::{colour, err, figure, padded_range, zero_line_and_legend, Draw, Figure};

/// The figures' names (files NAME.svg, NAME.png).
pub const BACKTEST_FIGURES: [&str; 2] = ["relative_value", "weights"];

/// Most points a relative-value line is drawn with (8,000 daily points a line are
/// megabytes of SVG and no clearer; a weight's are the trace's, up to 100 lines).
const MOST_POINTS: usize = 1_000;

/// A date as a fractional calendar year (1990-07-02 is about 1990.5).
fn calendar_year(date: &str) -> f64 {
    let days = parse_date(date).unwrap_or(0);
    1970.0 + days as f64 / 365.2425
}

/// One strategy's lines: its name, L per sampled row, and its (drift, generating)
/// terms, None when the weighting is not functionally generated.
type RelativeSeries = (String, Vec<f64>, Option<(Vec<f64>, Vec<f64>)>);

/// Each strategy's L(t) (thick), drift term (thin) and generating term (faint), in %.
struct RelativeValue {
    years: Vec<f64>,
    series: Vec<RelativeSeries>,
}

impl Draw for RelativeValue {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (start, end) = (self.years[0], self.years[self.years.len() - 1].max(self.years[0] + 1e-6));
        let values = self.series.iter().flat_map(|(_, l, terms)| {
            l.iter().chain(terms.iter().flat_map(|(d, g)| d.iter().chain(g))).copied().collect::<Vec<_>>()
        });
        let (low, high) = padded_range(values);
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Relative value log(V/V_market): L (thick), drift term (thin), generating term (faint)",
                ("sans-serif", 18),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(start..end, low..high)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("year")
            .y_desc("log units, %")
            .x_label_formatter(&|year| format!("{year:.0}"))
            .draw()
            .map_err(err)?;
        for (index, (name, relative, terms)) in self.series.iter().enumerate() {
            let colour = colour(index);
            let line = |values: &[f64]| self.years.iter().copied().zip(values.iter().copied()).collect::<Vec<_>>();
            chart
                .draw_series(LineSeries::new(line(relative), colour.stroke_width(3)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
            if let Some((drift, generating)) = terms {
                chart.draw_series(LineSeries::new(line(drift), colour.stroke_width(1))).map_err(err)?;
                chart.draw_series(LineSeries::new(line(generating), colour.mix(0.4).stroke_width(1))).map_err(err)?;
            }
        }
        zero_line_and_legend(&mut chart, start..end)
    }
}

/// Weights over time: one panel for the market and one per strategy (up to five
/// panels), a line per stock shown.
struct Weights {
    years: Vec<f64>,
    tickers: Vec<String>,
    /// (panel title, weights[row][k] in %) per panel.
    panels: Vec<(String, Vec<Vec<f64>>)>,
}

/// Most panels of the weights figure: the market and four strategies.
const MOST_PANELS: usize = 5;

/// Width of the weights figure's legend column, in pixels.
const LEGEND_WIDTH: u32 = 90;

impl Draw for Weights {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (start, end) = (self.years[0], self.years[self.years.len() - 1].max(self.years[0] + 1e-6));
        let (width, _) = root.dim_in_pixel();
        let (plots, legend) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
        let areas = plots.split_evenly((self.panels.len(), 1));
        for (panel, ((title, weights), area)) in self.panels.iter().zip(&areas).enumerate() {
            let high = weights.iter().flatten().copied().fold(0.0, f64::max) * 1.05 + 1e-9;
            let last = panel + 1 == self.panels.len();
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{title}: weights, %"), ("sans-serif", 13))
                .margin(4)
                .x_label_area_size(if last { 24 } else { 0 })
                .y_label_area_size(40)
                .build_cartesian_2d(start..end, 0.0..high)
                .map_err(err)?;
            chart
                .configure_mesh()
                .y_labels(3)
                .x_labels(8)
                .x_label_formatter(&|year| format!("{year:.0}"))
                .draw()
                .map_err(err)?;
            for k in 0..self.tickers.len() {
                chart
                    .draw_series(LineSeries::new(
                        self.years.iter().copied().zip(weights.iter().map(|row| row[k])),
                        palette(k).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
        }
        for (k, ticker) in self.tickers.iter().enumerate() {
            let y = 20 + 16 * k as i32;
            legend.draw(&PathElement::new(vec![(6, y), (24, y)], palette(k).stroke_width(3))).map_err(err)?;
            legend.draw(&Text::new(ticker.as_str(), (30, y - 6), ("sans-serif", 12))).map_err(err)?;
        }
        Ok(())
    }
}

/// Twenty distinguishable colours for stocks: the strategies' eight, then darker and
/// lighter versions of them.
fn palette(index: usize) -> RGBColor {
    let base = colour(index % 8);
    match index / 8 % 3 {
        0 => base,
        1 => RGBColor(base.0 / 2, base.1 / 2, base.2 / 2),
        _ => RGBColor(base.0 / 2 + 128, base.1 / 2 + 128, base.2 / 2 + 128),
    }
}

/// The backtest's figures, PNGs too when `with_png`.
pub fn backtest_figures(backtest: &Backtest, with_png: bool) -> Result<Vec<Figure>, String> {
    let trace = &backtest.trace;
    let rows = sampled_rows(trace.dates.len(), MOST_POINTS);
    let years_of = |rows: &[usize]| rows.iter().map(|&row| calendar_year(&trace.dates[row])).collect::<Vec<f64>>();
    let years = years_of(&rows);
    let column = |s: usize, q: usize| rows.iter().map(|&row| 100.0 * trace.terms[s][row][q]).collect::<Vec<f64>>();
    let series = backtest
        .report
        .strategies
        .iter()
        .enumerate()
        .map(|(s, (name, _))| {
            let generated = backtest.results.functionally_generated[s];
            (name.clone(), column(s, 0), generated.then(|| (column(s, 2), column(s, 1))))
        })
        .collect();
    let relative = RelativeValue { years, series };
    let tickers: Vec<String> = trace.shown_stocks.iter().map(|&i| backtest.data.tickers[i].clone()).collect();
    let strategies = backtest.strategies();
    let weight_rows = &trace.weight_rows;
    let weights_of =
        |panel: usize| trace.weights[panel].iter().map(|row| row.iter().map(|w| 100.0 * w).collect()).collect();
    let mut panels = vec![("market".to_string(), weights_of(strategies))];
    for (s, (name, _)) in backtest.report.strategies.iter().enumerate().take(MOST_PANELS - 1) {
        panels.push((name.clone(), weights_of(s)));
    }
    let weights = Weights { years: years_of(weight_rows), tickers, panels };
    let shown =
        if trace.shown_stocks.len() < backtest.plan.n() { "the 20 largest stocks at the start" } else { "every stock" };
    Ok(vec![
        figure(
            BACKTEST_FIGURES[0],
            "Each strategy's log value relative to the market over the data's dates, with the master equation's \
             drift term (accumulated L-divergences, thin) and generating term log(G(mu(t))/G(mu(0))) as of the last \
             rebalance (faint).",
            &relative,
            with_png,
        )?,
        figure(
            BACKTEST_FIGURES[1],
            if shown == "every stock" {
                "Weights over time (after each rebalance) of every stock: the market, then each strategy (up to four)."
            } else {
                "Weights over time (after each rebalance) of the 20 largest stocks at the start: the market, then \
                 each strategy (up to four)."
            },
            &weights,
            with_png,
        )?,
    ])
}

/// report.html of a backtest: the data, the table as printed, the notes, the figures
/// inlined, the strategies' scenario.
fn backtest_html(backtest: &Backtest, figures: &[Figure]) -> String {
    let data = &backtest.data;
    let mut out = String::new();
    let title = format!("sptlab backtest: {}", backtest.report.scenario.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let facts = [
        ("sptlab version", backtest.report.sptlab_version.to_string()),
        ("data", format!("{} ({}, SHA-256 {})", data.path, data.values, data.sha256)),
        ("dates", format!("{} to {} ({} rows, {:.1} a year)", data.from, data.to, data.rows, data.periods_per_year)),
        ("stocks", data.tickers.join(", ")),
    ];
    out.push_str("<table class=\"facts\"><caption>Backtest</caption>\n");
    for (name, value) in facts {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(&value));
    }
    out.push_str("</table>\n");
    let _ = writeln!(out, "<pre>{}</pre>", escape(&backtest_table(backtest)));
    out.push_str("<ul>\n");
    for note in price_data_caveats(backtest) {
        let _ = writeln!(out, "<li>{}.</li>", escape(&note));
    }
    out.push_str("</ul>\n");
    for figure in figures {
        let _ = writeln!(out, "<figure>{}<figcaption>{}</figcaption></figure>", figure.svg, escape(figure.caption));
    }
    let scenario =
        toml::to_string(&backtest.report.scenario).unwrap_or_else(|e| format!("(the scenario did not serialise: {e})"));
    let _ = writeln!(out, "<h2>Scenario (its strategies)</h2>\n<pre>{}</pre>\n</body></html>", escape(&scenario));
    out
}

/// Every file of `sptlab backtest --out`, as `(file name, bytes)`.
pub fn backtest_files(backtest: &Backtest, with_png: bool) -> Result<Vec<(String, Vec<u8>)>, String> {
    let figures = backtest_figures(backtest, with_png)?;
    let mut files = vec![
        ("summary.json".to_string(), backtest_summary_json(backtest).into_bytes()),
        ("backtest.csv".to_string(), backtest_csv(backtest).into_bytes()),
    ];
    for figure in &figures {
        files.push((format!("{}.svg", figure.name), figure.svg.clone().into_bytes()));
        if let Some(png) = &figure.png {
            files.push((format!("{}.png", figure.name), png.clone()));
        }
    }
    files.push(("report.html".to_string(), backtest_html(backtest, &figures).into_bytes()));
    Ok(files)
}
