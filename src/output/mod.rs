//! Everything a run writes: the table (`table`), summary.json and the per-path files
//! (`data_files`, `per_path`, `paths_parquet`), figures (`plots`), report.html (`html`),
//! a finished run's whole set (`run_files`), the time grid as rows (`grid_table`),
//! shards (`shard`), checkpoints (`checkpoint`), and the output folder that holds them
//! (`out_dir`); a backtest's (`backtest`, `backtest_plots`; `long_backtest` for a long file).

pub mod backtest;
pub mod backtest_plots;
pub mod checkpoint;
pub mod data_files;
pub mod grid_table;
pub mod html;
pub mod long_backtest;
pub mod out_dir;
pub mod paths_parquet;
pub mod per_path;
pub mod plots;
pub mod run_files;
pub mod shard;
pub mod table;
