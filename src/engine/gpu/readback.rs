//! A batch's results from the device to the host: the copy into a mappable staging
//! buffer, queued right after the batch's last dispatch (so it waits for nothing the
//! next batch queues), and the fold of the words read into accumulators.

use super::context::GpuContext;
use super::layout::{index_word, open_word, StateLayout, OPEN_WORDS};
use super::GpuError;
use crate::engine::accumulators::{benchmark_moment, index_field, open_term, slot, BatchAccumulators};
use crate::engine::time_grid::{GridSpec, TimeGrid};

/// What a batch reads back, in words of 4 bytes, in staging order: the accumulators
/// (`[slot][lane]`, `stride` lanes a slot), the time grid (likewise), every lane's
/// completed-step count, and one row of max_growth constraint residuals per strategy
/// that has them.
#[derive(Debug, Clone, PartialEq)]
struct StagingLayout {
    stride: u64,
    count: u64,
    accumulator_words: u64,
    grid_words: u64,
    /// State-buffer slots of the max_growth residuals.
    residual_slots: Vec<u64>,
}

impl StagingLayout {
    fn grid_start(&self) -> u64 {
        self.accumulator_words
    }
    fn done_start(&self) -> u64 {
        self.grid_start() + self.grid_words
    }
    fn residuals_start(&self) -> u64 {
        self.done_start() + self.count
    }
    fn words(&self) -> u64 {
        self.residuals_start() + self.residual_slots.len() as u64 * self.count
    }
}

/// A batch's readback in flight: the staging buffer, the submission that fills it and
/// the notice that it is mapped.
pub(super) struct Readback {
    layout: StagingLayout,
    staging: wgpu::Buffer,
    submission: wgpu::SubmissionIndex,
    mapped: std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
}

/// The words read back, as [`fold_batch`] and the checks take them.
pub(super) struct BatchWords {
    pub accumulators: Vec<f32>,
    pub grid: Vec<f32>,
    /// Steps each path completed.
    pub steps_done: Vec<u32>,
    /// Per max_growth strategy with a residual, every path's.
    pub residuals: Vec<Vec<f32>>,
}

impl Readback {
    /// Queues the copy of a batch of `count` paths (`stride` lanes a slot) out of its
    /// `state` and `steps_done` buffers, behind everything queued so far.
    pub fn queue(
        context: &GpuContext,
        layout: &StateLayout,
        count: u32,
        stride: u32,
        state: &wgpu::Buffer,
        steps_done: &wgpu::Buffer,
        residual_slots: Vec<u64>,
    ) -> Readback {
        let stride = stride as u64;
        let staging_layout = StagingLayout {
            stride,
            count: count as u64,
            accumulator_words: layout.readback_slots() as u64 * stride,
            grid_words: (layout.state_slots() - layout.grid_base()) as u64 * stride,
            residual_slots,
        };
        let staging = context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: 4 * staging_layout.words().max(1),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = context.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let mut copy = |source: &wgpu::Buffer, from_word: u64, to_word: u64, words: u64| {
            if words > 0 {
                encoder.copy_buffer_to_buffer(source, 4 * from_word, &staging, 4 * to_word, 4 * words);
            }
        };
        let l = &staging_layout;
        copy(state, 0, 0, l.accumulator_words);
        copy(state, layout.grid_base() as u64 * stride, l.grid_start(), l.grid_words);
        copy(steps_done, 0, l.done_start(), l.count);
        for (k, &residual_slot) in l.residual_slots.iter().enumerate() {
            copy(state, residual_slot * stride, l.residuals_start() + k as u64 * l.count, l.count);
        }
        let submission = context.queue.submit(Some(encoder.finish()));
        let (sender, mapped) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        Readback { layout: staging_layout, staging, submission, mapped }
    }

    /// Waits for the copy (and so for the batch's work) and reads the words.
    pub fn read(self, context: &GpuContext) -> Result<BatchWords, GpuError> {
        context.wait_for(self.submission)?;
        context.take_error()?;
        self.mapped.recv().map_err(|e| GpuError::Map(e.to_string()))?.map_err(|e| GpuError::Map(e.to_string()))?;
        let l = &self.layout;
        let words = {
            let view = self.staging.slice(..).get_mapped_range().map_err(|e| GpuError::Map(e.to_string()))?;
            let all: &[u32] = bytemuck::cast_slice(&view);
            let floats = |start: u64, words: u64| -> Vec<f32> {
                bytemuck::cast_slice(&all[start as usize..(start + words) as usize]).to_vec()
            };
            BatchWords {
                accumulators: floats(0, l.accumulator_words),
                grid: floats(l.grid_start(), l.grid_words),
                steps_done: all[l.done_start() as usize..][..l.count as usize].to_vec(),
                residuals: (0..l.residual_slots.len() as u64)
                    .map(|k| floats(l.residuals_start() + k * l.count, l.count))
                    .collect(),
            }
        };
        self.staging.unmap();
        Ok(words)
    }

    /// Bytes of the staging buffer.
    pub fn bytes(&self) -> u64 {
        self.staging.size()
    }
}

/// A batch's accumulators from the state buffer's words (`[slot][lane]`, `stride`
/// lanes a slot) and its time grid's: every slot is read as one contiguous row, so the
/// fold streams through memory (read lane by lane, each word a cache and TLB miss: an
/// H200 run of 190,000 paths spent 8 s here, more than the simulation).
pub(super) fn fold_batch(
    layout: &StateLayout,
    grid: GridSpec,
    first_path: u64,
    count: usize,
    stride: usize,
    words: &[f32],
    grid_values: &[f32],
) -> BatchAccumulators {
    let (n, strategies) = (layout.n as usize, layout.strategies as usize);
    fn slot_row(values: &[f32], slot: usize, stride: usize, count: usize) -> &[f32] {
        &values[slot * stride..][..count]
    }
    let row = |values, slot| slot_row(values, slot, stride, count);
    let mut out =
        BatchAccumulators::zeroed(first_path, count, n, strategies).with_open_market(layout.index, layout.open);
    let mut time_grid = TimeGrid::new(grid, strategies);
    let quantities = layout.grid_quantities() as usize;
    time_grid.record_rows(count, |s, point| {
        let base = (point as usize * strategies + s) * quantities;
        std::array::from_fn(|q| if q < quantities { row(grid_values, base + q) } else { &[] })
    });
    out.grid = Some(time_grid);
    for i in 0..n {
        for (lane, value) in row(words, i).iter().enumerate() {
            out.log_caps[lane * n + i] = *value as f64;
        }
    }
    for (lane, value) in row(words, layout.log_total() as usize).iter().enumerate() {
        out.log_total_cap_change[lane] = *value as f64;
    }
    for (lane, value) in row(words, layout.market_control() as usize).iter().enumerate() {
        out.market_control[lane] = *value as f64;
    }
    let moments = layout.benchmark_moments() as usize;
    for (moment, at) in [(benchmark_moment::RETURN_SUM, moments), (benchmark_moment::RETURN_SQUARES, moments + 1)] {
        for (lane, value) in row(words, at).iter().enumerate() {
            out.benchmark_moments[lane * benchmark_moment::COUNT + moment] = *value as f64;
        }
    }
    let per_path = strategies * slot::COUNT;
    for k in 0..per_path {
        for (lane, value) in row(words, layout.slots_base() as usize + k).iter().enumerate() {
            out.strategy_slots[lane * per_path + k] = *value as f64;
        }
    }
    if layout.open {
        for s in 0..strategies {
            let base = layout.open_base() as usize + s * OPEN_WORDS as usize;
            for (term, word) in [(open_term::LEAKAGE, open_word::LEAKAGE), (open_term::SCREEN, open_word::SCREEN)] {
                for (lane, value) in row(words, base + word).iter().enumerate() {
                    out.open_terms[(lane * strategies + s) * open_term::COUNT + term] = *value as f64;
                }
            }
        }
    }
    if layout.index {
        let base = layout.index_base() as usize;
        let fields = [
            (index_field::LOG_RETURN, index_word::LOG_VALUE),
            (index_field::CONTROL, index_word::CONTROL),
            (index_field::TURNOVER, index_word::TURNOVER),
        ];
        for (field, word) in fields {
            for (lane, value) in row(words, base + word).iter().enumerate() {
                out.index[lane * index_field::COUNT + field] = *value as f64;
            }
        }
        for (lane, value) in row(words, base + index_word::HISTORY).iter().enumerate() {
            out.membership_history[lane] = *value as u32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staging_regions_follow_one_another_without_overlap() {
        let layout = StagingLayout {
            stride: 128,
            count: 100,
            accumulator_words: 7 * 128,
            grid_words: 3 * 128,
            residual_slots: vec![40, 52],
        };
        assert_eq!(layout.grid_start(), 7 * 128);
        assert_eq!(layout.done_start(), 10 * 128);
        assert_eq!(layout.residuals_start(), 10 * 128 + 100);
        assert_eq!(layout.words(), 10 * 128 + 3 * 100);
    }
}
