//! The run's figures (plotters), as SVG and, when asked, PNG: histograms of relative
//! growth per strategy, the capital distribution curve at the start and the end, and
//! tracking error against excess return with 95 % intervals. Each is written whole or
//! not at all.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::engine::time_grid::TimeGrid;
use crate::scenario::Plan;
use crate::summary::report::Report;
use crate::summary::results::Results;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 560;

/// Distinct colours for up to eight strategies (then they repeat).
pub(super) fn colour(index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[index % PALETTE.len()]
}

/// A figure's drawing, on any plotters backend (SVG text or a PNG raster).
pub(super) trait Draw {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// The figure as SVG text.
fn svg(figure: &impl Draw) -> Result<String, String> {
    // plotters lays text out with the registered font, in SVG too.
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        figure.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(text)
}

/// The figure as a PNG of the SVG's size, its text in the embedded DejaVu Sans so
/// that it looks the same on any machine.
fn png(figure: &impl Draw) -> Result<Vec<u8>, String> {
    register_font();
    let (width, height) = (WIDTH, HEIGHT);
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        figure.draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&pixels).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(bytes)
}

/// DejaVu Sans (examples/fonts/LICENSE), registered once as plotters' "sans-serif".
fn register_font() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        let font: &'static [u8] = include_bytes!("../../examples/fonts/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, font);
    });
}

pub(super) fn err(error: impl std::fmt::Display) -> String {
    error.to_string()
}

/// The range of `values` widened by a margin (and never empty).
pub(super) fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !low.is_finite() {
        return (-1.0, 1.0);
    }
    let margin = ((high - low) * 0.05).max(1e-9);
    (low - margin, high + margin)
}

/// Histograms (as outlines, one per strategy) of the per-path relative growth rate
/// log(V_pi / V_mu) / T, in % per year.
struct RelativeGrowth<'a> {
    names: &'a [String],
    /// Share of paths (%) per bin, per strategy.
    shares: Vec<Vec<f64>>,
    low: f64,
    high: f64,
}

impl<'a> RelativeGrowth<'a> {
    fn of(results: &'a Results) -> RelativeGrowth<'a> {
        let years = results.years();
        let rates: Vec<Vec<f64>> = results
            .per_path
            .iter()
            .map(|paths| paths.iter().map(|p| 100.0 * p.relative_log_return / years).collect())
            .collect();
        let (low, high) = padded_range(rates.iter().flatten().copied());
        let bins = 40usize;
        let width = (high - low) / bins as f64;
        let shares = rates
            .iter()
            .map(|values| {
                let mut counts = vec![0.0; bins];
                for v in values {
                    let bin = (((v - low) / width) as usize).min(bins - 1);
                    counts[bin] += 1.0;
                }
                counts.iter().map(|c| 100.0 * c / values.len().max(1) as f64).collect()
            })
            .collect();
        RelativeGrowth { names: &results.strategy_names, shares, low, high }
    }
}

impl Draw for RelativeGrowth<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (low, high) = (self.low, self.high);
        let top = self.shares.iter().flatten().copied().fold(0.0, f64::max) * 1.1 + 1e-9;
        let mut chart = ChartBuilder::on(root)
            .caption("Relative growth per path, against the market", ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(low..high, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("relative growth rate log(V/V_market)/T, % per year")
            .y_desc("share of paths, %")
            .draw()
            .map_err(err)?;
        for (index, (name, share)) in self.names.iter().zip(&self.shares).enumerate() {
            let colour = colour(index);
            let width = (high - low) / share.len() as f64;
            let outline: Vec<(f64, f64)> = share
                .iter()
                .enumerate()
                .flat_map(|(bin, s)| {
                    let left = low + bin as f64 * width;
                    [(left, *s), (left + width, *s)]
                })
                .collect();
            chart
                .draw_series(LineSeries::new(outline, colour.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (0.0, top)], BLACK.mix(0.5))).map_err(err)?;
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw().map_err(err)?;
        Ok(())
    }
}

/// The capital distribution curve: log weight against log rank, at the start and the
/// mean over paths at the end.
struct CapitalDistribution {
    start: Vec<(f64, f64)>,
    end: Vec<(f64, f64)>,
}

impl CapitalDistribution {
    fn of(plan: &Plan, report: &Report) -> CapitalDistribution {
        let mut start = plan.market.initial_weights().to_vec();
        start.sort_by(|a, b| b.total_cmp(a));
        let points = |weights: &[f64]| -> Vec<(f64, f64)> {
            weights.iter().enumerate().filter(|(_, w)| **w > 0.0).map(|(k, w)| ((k + 1) as f64, *w)).collect()
        };
        CapitalDistribution { start: points(&start), end: points(&report.market.capital_distribution) }
    }
}

impl Draw for CapitalDistribution {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let ranks = self.start.len().max(self.end.len()).max(2) as f64;
        let (low, high) = self
            .start
            .iter()
            .chain(&self.end)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), (_, w)| (lo.min(*w), hi.max(*w)));
        let (low, high) = if low.is_finite() && high > 0.0 { (low / 2.0, high * 2.0) } else { (1e-6, 1.0) };
        let mut chart = ChartBuilder::on(root)
            .caption("Capital distribution: weight by rank", ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d((1.0..ranks).log_scale(), (low..high).log_scale())
            .map_err(err)?;
        chart.configure_mesh().x_desc("rank (log scale)").y_desc("market weight (log scale)").draw().map_err(err)?;
        for (series, label, colour) in [(&self.start, "start", BLUE), (&self.end, "end (mean over paths)", RED)] {
            chart
                .draw_series(LineSeries::new(series.iter().copied(), colour.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw().map_err(err)?;
        Ok(())
    }
}

/// Each strategy's mean tracking error against its mean excess return (% per year),
/// with 95 % intervals of both means (mean +/- z se, z the normal 97.5 % quantile; the
/// excess return's controlled mean and se when the run has the control).
struct RiskAndReturn<'a> {
    /// (name, tracking error, its half-interval, excess return, its half-interval).
    points: Vec<(&'a str, f64, f64, f64, f64)>,
    /// Whether the excess returns are controlled means (the caption says so).
    controlled: bool,
}

impl<'a> RiskAndReturn<'a> {
    fn of(report: &'a Report) -> RiskAndReturn<'a> {
        let points = report
            .strategies
            .iter()
            .map(|(name, s)| {
                (
                    name.as_str(),
                    // No interval (one path, or a tie with the market): no error bar.
                    100.0 * s.tracking_error.mean,
                    100.0 * s.tracking_error.estimate().half_width().unwrap_or(0.0),
                    100.0 * s.excess_return.estimate().mean,
                    100.0 * s.excess_return.estimate().half_width().unwrap_or(0.0),
                )
            })
            .collect();
        let controlled = report.strategies.iter().any(|(_, s)| s.excess_return.controlled.is_some());
        RiskAndReturn { points, controlled }
    }
}

impl Draw for RiskAndReturn<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let points = &self.points;
        let (x_low, x_high) = padded_range(points.iter().flat_map(|p| [p.1 - p.2, p.1 + p.2, 0.0]));
        let (y_low, y_high) = padded_range(points.iter().flat_map(|p| [p.3 - p.4, p.3 + p.4, 0.0]));
        let mut chart = ChartBuilder::on(root)
            .caption(
                if self.controlled {
                    "Excess return (controlled mean) against tracking error (95 % intervals)"
                } else {
                    "Excess return against tracking error (95 % intervals)"
                },
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_low.min(0.0)..x_high, y_low..y_high)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("tracking error, % per year")
            .y_desc("excess return over the market, % per year")
            .draw()
            .map_err(err)?;
        chart.draw_series(LineSeries::new(vec![(x_low.min(0.0), 0.0), (x_high, 0.0)], BLACK.mix(0.4))).map_err(err)?;
        for (index, (name, te, te_half, excess, excess_half)) in points.iter().enumerate() {
            let colour = colour(index);
            chart
                .draw_series([
                    PathElement::new(vec![(*te - te_half, *excess), (*te + te_half, *excess)], colour.stroke_width(2)),
                    PathElement::new(
                        vec![(*te, *excess - excess_half), (*te, *excess + excess_half)],
                        colour.stroke_width(2),
                    ),
                ])
                .map_err(err)?;
            chart
                .draw_series([Circle::new((*te, *excess), 5, colour.filled())])
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| Circle::new((x + 9, y), 5, colour.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw().map_err(err)?;
        Ok(())
    }
}

/// The fan chart: each strategy's relative log return L(t) over time, its median and
/// 5-95 % band over paths at each grid point.
struct FanChart<'a> {
    names: &'a [String],
    years: Vec<f64>,
    /// Per strategy, per point: (5 %, 50 %, 95 %) of 100 L.
    bands: Vec<Vec<(f64, f64, f64)>>,
    /// `run --history`: the data's own path, (years, 100 L per strategy), drawn dashed.
    history: Option<(&'a [f64], Vec<Vec<f64>>)>,
}

impl<'a> FanChart<'a> {
    fn of(results: &'a Results, grid: &TimeGrid, steps_per_year: u32) -> FanChart<'a> {
        let years = grid.spec.years_at(steps_per_year);
        let bands = (0..grid.strategies)
            .map(|s| {
                std::iter::once((0.0, 0.0, 0.0))
                    .chain((0..grid.spec.points).map(|p| {
                        let q = |level: f64| 100.0 * grid.quantile(s, p, level);
                        (q(0.05), q(0.5), q(0.95))
                    }))
                    .collect()
            })
            .collect();
        let history = results.history.as_ref().map(|history| {
            let percent = history.relative_path.iter().map(|path| path.iter().map(|l| 100.0 * l).collect()).collect();
            (&history.times[..], percent)
        });
        FanChart { names: &results.strategy_names, years, bands, history }
    }
}

impl Draw for FanChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let end = self.years.last().copied().unwrap_or(1.0).max(1e-9);
        let historical = self.history.iter().flat_map(|(_, paths)| paths.iter().flatten().copied());
        let (low, high) = padded_range(self.bands.iter().flatten().flat_map(|b| [b.0, b.2]).chain(historical));
        let caption = if self.history.is_some() {
            "Relative log return: median and 5-95 % of paths; history dashed"
        } else {
            "Relative log return over time: median and 5-95 % of paths"
        };
        let mut chart = ChartBuilder::on(root)
            .caption(caption, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..end, low..high)
            .map_err(err)?;
        chart.configure_mesh().x_desc("years").y_desc("log(V/V_market), %").draw().map_err(err)?;
        for (index, (name, band)) in self.names.iter().zip(&self.bands).enumerate() {
            let colour = colour(index);
            let upper = self.years.iter().zip(band).map(|(t, b)| (*t, b.2));
            let lower = self.years.iter().zip(band).rev().map(|(t, b)| (*t, b.0));
            chart.draw_series([Polygon::new(upper.chain(lower).collect::<Vec<_>>(), colour.mix(0.15))]).map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    self.years.iter().zip(band).map(|(t, b)| (*t, b.1)),
                    colour.stroke_width(2),
                ))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        if let Some((times, paths)) = &self.history {
            for (index, path) in paths.iter().enumerate() {
                let style = ShapeStyle { color: colour(index).to_rgba(), filled: false, stroke_width: 2 };
                let points = times.iter().copied().zip(path.iter().copied()).filter(|(t, _)| *t <= end);
                chart.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(err)?;
            }
        }
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (end, 0.0)], BLACK.mix(0.4))).map_err(err)?;
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw().map_err(err)?;
        Ok(())
    }
}

/// The master equation over time for the functionally generated strategies: the mean
/// over paths of the generating term log(G(mu(t)) / G(mu(0))) (as of the last
/// rebalance) and of the drift term so far; with an index, of the leakage term so far.
struct DecompositionOverTime {
    years: Vec<f64>,
    series: Vec<TermsOverTime>,
}

/// A strategy's name, its generating and drift terms (% per point), and its leakage
/// term with an index.
type TermsOverTime = (String, Vec<f64>, Vec<f64>, Option<Vec<f64>>);

impl DecompositionOverTime {
    fn of(results: &Results, grid: &TimeGrid, steps_per_year: u32) -> Option<DecompositionOverTime> {
        let years = grid.spec.years_at(steps_per_year);
        let series: Vec<_> = (0..grid.strategies)
            .filter(|&s| results.functionally_generated[s])
            .map(|s| {
                let mean = |quantity: usize| -> Vec<f64> {
                    std::iter::once(0.0)
                        .chain((0..grid.spec.points).map(|p| 100.0 * grid.mean(s, p, quantity)))
                        .collect()
                };
                let leakage = results.index.is_some().then(|| mean(4));
                (results.strategy_names[s].clone(), mean(1), mean(2), leakage)
            })
            .collect();
        (!series.is_empty()).then_some(DecompositionOverTime { years, series })
    }
}

impl Draw for DecompositionOverTime {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let end = self.years.last().copied().unwrap_or(1.0).max(1e-9);
        let (low, high) = padded_range(
            self.series.iter().flat_map(|(_, g, d, l)| g.iter().chain(d).chain(l.iter().flatten()).copied()),
        );
        let caption = if self.series.iter().any(|(_, _, _, leakage)| leakage.is_some()) {
            "Decomposition over time: drift (solid), generating (thin) and leakage (faint) terms"
        } else {
            "Decomposition over time: drift term (solid) and generating term (thin)"
        };
        let mut chart = ChartBuilder::on(root)
            .caption(caption, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..end, low..high)
            .map_err(err)?;
        chart.configure_mesh().x_desc("years").y_desc("mean over paths, % (log units)").draw().map_err(err)?;
        for (index, (name, generating, drift, leakage)) in self.series.iter().enumerate() {
            let colour = colour(index);
            chart
                .draw_series(LineSeries::new(
                    self.years.iter().copied().zip(drift.iter().copied()),
                    colour.stroke_width(3),
                ))
                .map_err(err)?
                .label(format!("{name}: drift"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
            chart
                .draw_series(LineSeries::new(
                    self.years.iter().copied().zip(generating.iter().copied()),
                    colour.mix(0.6).stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("{name}: generating"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.mix(0.6).stroke_width(1)));
            if let Some(leakage) = leakage {
                chart
                    .draw_series(LineSeries::new(
                        self.years.iter().copied().zip(leakage.iter().copied()),
                        colour.mix(0.35).stroke_width(3),
                    ))
                    .map_err(err)?
                    .label(format!("{name}: leakage"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.mix(0.35).stroke_width(3))
                    });
            }
        }
        zero_line_and_legend(&mut chart, 0.0..end)
    }
}

/// A chart over time's last strokes: the zero line from `years.start` to `years.end`,
/// and the series' legend in the upper left.
pub(super) fn zero_line_and_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    years: std::ops::Range<f64>,
) -> Result<(), String> {
    chart.draw_series(LineSeries::new(vec![(years.start, 0.0), (years.end, 0.0)], BLACK.mix(0.4))).map_err(err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// One figure: its file name (without extension), a caption for the report, the SVG,
/// and the PNG when one was asked for.
pub struct Figure {
    pub name: &'static str,
    pub caption: &'static str,
    pub svg: String,
    pub png: Option<Vec<u8>>,
}

/// The figures' names, in the order the report shows them (files NAME.svg, NAME.png).
/// The last two need the time grid (CPU backend) and the decomposition a functionally
/// generated strategy.
pub const FIGURES: [&str; 5] =
    ["relative_growth", "fan_chart", "decomposition_over_time", "capital_distribution", "risk_return"];

pub(super) fn figure(
    name: &'static str,
    caption: &'static str,
    drawing: &impl Draw,
    with_png: bool,
) -> Result<Figure, String> {
    let png = if with_png { Some(png(drawing)?) } else { None };
    Ok(Figure { name, caption, svg: svg(drawing)?, png })
}

/// Every figure the run's data allows, in the order of [`FIGURES`]; PNGs too when
/// `with_png`.
pub fn figures(plan: &Plan, report: &Report, results: &Results, with_png: bool) -> Result<Vec<Figure>, String> {
    let mut figures = vec![figure(
        FIGURES[0],
        "Histogram of each strategy's relative growth rate log(V/V_market)/T over the paths.",
        &RelativeGrowth::of(results),
        with_png,
    )?];
    if let Some(grid) = &results.grid {
        figures.push(figure(
            FIGURES[1],
            if results.history.is_some() {
                "Relative log return log(V/V_market) over time: the median path (line) and the 5-95 % band over \
                 paths, recorded monthly; dashed, each strategy on the data's own path (--history) over the same \
                 horizon."
            } else {
                "Relative log return log(V/V_market) over time: the median path (line) and the 5-95 % band over paths, \
                 recorded monthly."
            },
            &FanChart::of(results, grid, plan.steps_per_year),
            with_png,
        )?);
        if let Some(decomposition) = DecompositionOverTime::of(results, grid, plan.steps_per_year) {
            figures.push(figure(
                FIGURES[2],
                "Master equation over time, means over paths: the drift term (accumulated L-divergences) and the \
                 generating term log(G(mu(t))/G(mu(0))) as of the last rebalance.",
                &decomposition,
                with_png,
            )?);
        }
    }
    figures.push(figure(
        FIGURES[3],
        "Market weight against rank, log scales: at the start, and the mean over paths at the end.",
        &CapitalDistribution::of(plan, report),
        with_png,
    )?);
    figures.push(figure(
        FIGURES[4],
        "Mean excess return against mean tracking error per strategy, with 95 % intervals of both means.",
        &RiskAndReturn::of(report),
        with_png,
    )?);
    Ok(figures)
}

/// Every figure (SVG, and PNG when `with_png`) and `report.html` with the SVGs
/// inlined, as `(file name, bytes)`.
pub fn figure_files(
    plan: &Plan,
    report: &Report,
    results: &Results,
    with_png: bool,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let figures = figures(plan, report, results, with_png)?;
    let mut files = Vec::new();
    for figure in &figures {
        files.push((format!("{}.svg", figure.name), figure.svg.clone().into_bytes()));
        if let Some(png) = &figure.png {
            files.push((format!("{}.png", figure.name), png.clone()));
        }
    }
    let inlined: Vec<(&str, String)> = figures.iter().map(|f| (f.caption, f.svg.clone())).collect();
    files.push(("report.html".to_string(), crate::output::html::report_html(report, &inlined).into_bytes()));
    Ok(files)
}
