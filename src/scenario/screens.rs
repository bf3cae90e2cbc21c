//! A strategy's screen (`exclude`) and what an index benchmark asks of its weighting,
//! checked against the market's stocks and the index (docs/open-markets.md).

use crate::portfolio::spec::{ScreenEntry, StrategySpec};
use crate::portfolio::{Strategy, Weighting};
use crate::problems::{invalid, Problems};
use crate::scenario::IndexRule;

/// The stocks a strategy can hold at most: the index's K, or every stock.
fn places(index: Option<IndexRule>, n: usize) -> usize {
    index.map_or(n, |rule| rule.k)
}

/// `spec.exclude` as stock indices, ascending; `tickers` are the market's stock names
/// where it has them (a bootstrap market's data). Problems name `field`.
pub(crate) fn resolve_screen(
    spec: &StrategySpec,
    n: usize,
    tickers: Option<&[String]>,
    index: Option<IndexRule>,
    field: &str,
    problems: &mut Problems,
) -> Vec<usize> {
    let Some(entries) = &spec.exclude else { return Vec::new() };
    let mut stocks = Vec::with_capacity(entries.len());
    for (position, entry) in entries.iter().enumerate() {
        let entry_field = format!("{field}.exclude[{position}]");
        let stock = match entry {
            ScreenEntry::Stock(stock) if *stock < n => Some(*stock),
            ScreenEntry::Stock(stock) => {
                problems.push(invalid(
                    entry_field.clone(),
                    format!("stock {stock} does not exist: the market's stocks are 0 to {}", n - 1),
                ));
                None
            }
            ScreenEntry::Ticker(ticker) => match tickers {
                None => {
                    problems.push(invalid(
                        entry_field.clone(),
                        format!(
                            "\"{ticker}\" is a ticker, but this market's stocks have none (only a bootstrap market's \
                             data names them): give the stock's index, 0 to {}",
                            n - 1
                        ),
                    ));
                    None
                }
                Some(tickers) => match tickers.iter().position(|t| t == ticker) {
                    Some(stock) => Some(stock),
                    None => {
                        problems.push(invalid(
                            entry_field.clone(),
                            format!("no stock has the ticker \"{ticker}\" (the data has {})", tickers.join(", ")),
                        ));
                        None
                    }
                },
            },
        };
        if let Some(stock) = stock {
            if stocks.contains(&stock) {
                problems.push(invalid(entry_field, format!("stock {stock} is excluded twice")));
            } else {
                stocks.push(stock);
            }
        }
    }
    let held_at_most = places(index, n);
    if stocks.len() >= held_at_most {
        let whole = match index {
            Some(_) => format!("the index holds {held_at_most} stocks"),
            None => format!("the market has {held_at_most} stocks"),
        };
        problems.push(invalid(
            format!("{field}.exclude"),
            format!("excludes {} stocks, but {whole}: the screen could leave nothing to hold", stocks.len()),
        ));
    }
    stocks.sort_unstable();
    stocks
}

/// What an open market (an index, or a screen) asks of `strategy`'s weighting, with
/// `excluded` stocks screened out.
pub(crate) fn open_market_problems(
    strategy: &Strategy,
    n: usize,
    index: Option<IndexRule>,
    field: &str,
    problems: &mut Problems,
) {
    let screened = !strategy.exclude.is_empty();
    if index.is_none() && !screened {
        return;
    }
    let allowed = places(index, n).saturating_sub(strategy.exclude.len());
    match &strategy.weighting {
        Weighting::Constant { .. } if index.is_some() => problems.push(invalid(
            format!("{field}.weighting"),
            "constant weights name stocks, which may leave the index: not allowed with [benchmark] index",
        )),
        Weighting::Constant { .. } => problems.push(invalid(
            format!("{field}.exclude"),
            "constant weights name their stocks already: give the screened ones a weight of 0 instead",
        )),
        Weighting::TopK { k, .. } if *k > allowed => problems.push(invalid(
            format!("{field}.k"),
            format!("must be at most the {allowed} stocks the strategy may hold (the index's or market's, less its screen), got {k}"),
        )),
        Weighting::Capped { cap } if cap * (allowed as f64) < 1.0 - 1e-12 => problems.push(invalid(
            format!("{field}.cap"),
            format!(
                "times the {allowed} stocks the strategy may hold (the index's or market's, less its screen) must be at \
                 least 1 so that the weights can sum to one, got {cap}"
            ),
        )),
        _ => {}
    }
}
