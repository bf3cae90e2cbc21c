//! Runs one step of the block kernel on given normals (read from the scratch buffer
//! instead of drawn), for comparison with the CPU's f32 correlation stage
//! (`market::gbm::correlate_in_place`) bit for bit in tests.

use super::block::{block_data, block_source, BlockShape};
use super::context::GpuContext;
use super::kernel_source::model_words;
use super::layout::StateLayout;
use super::market::MarketStage;
use super::params::DispatchParams;
use super::GpuError;
use crate::scenario::Plan;

/// Each path's log caps after one step of `plan` (a GBM plan the block kernel runs)
/// whose standard normals are `normals` (path by path, n each), as `[path][stock]`;
/// with the block shape the backend would choose for `paths` paths, in register mode.
pub fn one_step_from_normals(context: &GpuContext, plan: &Plan, normals: &[f32]) -> Result<Vec<f32>, GpuError> {
    let n = plan.n();
    let paths = (normals.len() / n) as u32;
    let shape = BlockShape::choose(plan, &context.limits, paths as u64, context.is_software())
        .expect("a plan the block kernel runs");
    let stride = paths.next_multiple_of(64);
    let device = &context.device;
    let source = block_source(plan, &shape, context.philox_multiply(), true);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("block_paths.wgsl (normals from scratch)"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = |entry_point: &str| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry_point),
            layout: None,
            module: &module,
            entry_point: Some(entry_point),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    let (init, advance) = (pipeline("init_block"), pipeline("advance_block"));
    let layout = StateLayout::of(plan);
    let stage = MarketStage::of(plan, false);
    let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let data = context.buffer_holding("block_data", &block_data(plan), storage);
    let model = context.buffer_holding("model", &model_words(plan, &layout, &stage), storage);
    let state = context.buffer_holding("state", &vec![0f32; (layout.state_slots() * stride) as usize], storage);
    let steps_done = context.buffer_holding("steps_done", &vec![0u32; stride as usize], storage);
    // The normals [stock][lane], where the kernel reads them.
    let scratch_slots = (shape.scratch_slots() as usize).max(4 * n.div_ceil(4));
    let mut scratch = vec![0f32; scratch_slots * stride as usize];
    for path in 0..paths as usize {
        for stock in 0..n {
            scratch[stock * stride as usize + path] = normals[path * n + stock];
        }
    }
    let scratch = context.buffer_holding("scratch", &scratch, storage);
    let params = DispatchParams::for_steps(0, paths, stride, 0, 1, plan.steps, [0, 0]);
    let params = context.buffer_holding("params", &[params], wgpu::BufferUsages::UNIFORM);
    context.take_error()?;
    let buffers = [&params, &data, &model, &state, &steps_done, &scratch];
    // Each entry point's derived layout holds the bindings it uses: init_block fewer.
    let everything: &[usize] = &[0, 1, 2, 3, 4, 5];
    for (pipeline, workgroups, bindings) in [
        (&init, stride.div_ceil(shape.invocations()), &[0usize, 2, 3, 4][..]),
        (&advance, stride / shape.paths, everything),
    ] {
        let bind_group_layout = pipeline.get_bind_group_layout(0);
        let used: Vec<wgpu::BindGroupEntry> = bindings
            .iter()
            .map(|&binding| (binding, buffers[binding]))
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &bind_group_layout,
            entries: &used,
        });
        context.dispatch(pipeline, &bind_group, workgroups);
    }
    let words: Vec<f32> = context.read_buffer(&state, 0, n * stride as usize)?;
    let done: Vec<u32> = context.read_buffer(&steps_done, 0, paths as usize)?;
    assert!(done.iter().all(|&d| d == 1), "the step ran to its bounds on every path");
    Ok((0..paths as usize)
        .flat_map(|path| (0..n).map(move |stock| (path, stock)))
        .map(|(path, stock)| words[stock * stride as usize + path])
        .collect())
}
