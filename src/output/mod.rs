//! Everything a run writes: the table, summary.json and per-path files (`table`,
//! `paths_parquet`), figures (`plots`), report.html (`html`), shards (`shard`),
//! checkpoints (`checkpoint`), and the output folder that holds them (`out_dir`).

pub mod checkpoint;
pub mod html;
pub mod out_dir;
pub mod paths_parquet;
pub mod plots;
pub mod shard;
pub mod table;
