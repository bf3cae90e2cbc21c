"""Diversity weighting's excess growth against its parameter p, in one run.

Every p is a strategy of the same scenario, so every p sees the same simulated paths
and the differences between them are not Monte Carlo noise between runs. The market is
the default scenario's (100 stocks, correlated GBM, volatility rising from the largest
stock to the smallest); each strategy rebalances every day without costs. The figure
plots the mean relative growth rate log(V/V_market)/T a year with its 95 % interval
(controlled by the martingale control variate, docs/control-variates.md) against p.

    python examples/sweep_p.py [--paths 2000] [--years 10] [--out sweep_p.svg]
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

import sptlab  # noqa: E402

# p from -1 to 0.9 (p = 0 is not a diversity weighting; p = 1 is the market itself).
P_GRID = [-1.0, -0.75, -0.5, -0.25, 0.1, 0.25, 0.4, 0.5, 0.6, 0.76, 0.9]


def scenario(paths: int, years: float) -> dict:
    """The default scenario's market with one diversity strategy per p."""
    return {
        "name": "diversity-p-sweep",
        "seed": 2024,
        "paths": paths,
        "years": years,
        "market": {
            "model": "gbm",
            "n": 100,
            "zipf": 1.0,
            "growth": 0.07,
            "vol": {"from": 0.20, "to": 0.45},
            "correlation": 0.3,
        },
        "strategies": [{"name": f"p={p:+.2f}", "weighting": "diversity", "p": p} for p in P_GRID],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--out", default="sweep_p.svg", help="the figure (.svg or .png)")
    args = parser.parse_args()

    started = time.perf_counter()
    result = sptlab.run(scenario(args.paths, args.years), backend=args.backend, progress=True)
    seconds = time.perf_counter() - started
    table = result.table()
    growth = 100 * table["relative_growth_rate"]
    interval = 100 * table["relative_growth_rate_pm95"]
    run = result.summary["run"]
    print(f"{run['paths']} paths x {run['steps']} steps, {run['stocks']} stocks on {run['adapter']}: {seconds:.1f} s")
    for p, name in zip(P_GRID, table.index):
        print(f"p = {p:+.2f}: relative growth {growth[name]:+.3f} % +/- {interval[name]:.3f} % a year")

    figure, axes = plt.subplots(figsize=(7, 4.2))
    axes.errorbar(P_GRID, growth.values, yerr=interval.values, fmt="o-", capsize=3, color="#1f77b4")
    axes.axhline(0.0, color="black", linewidth=0.8, alpha=0.5)
    axes.set_xlabel("diversity parameter p (p = 1: the market)")
    axes.set_ylabel("relative growth a year, % (95 % interval)")
    axes.set_title(
        f"Diversity weighting vs the market: {run['stocks']} stocks, {args.years:g} years, {run['paths']} paths",
        fontsize=11,
    )
    axes.grid(alpha=0.3)
    axes.text(
        0.98, 0.95, f"95 % intervals: at most +/- {interval.max():.3f} %\n(controlled means, docs/control-variates.md)",
        transform=axes.transAxes, ha="right", va="top", fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
