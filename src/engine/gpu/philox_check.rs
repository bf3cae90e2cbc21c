//! Runs `shaders/philox_words.wgsl`: Philox words and normals computed on the GPU,
//! for comparison with `numeric/philox.rs` in tests.

use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::shaders::philox_words_source;
use super::GpuError;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Setup {
    key: [u32; 2],
    count: u32,
    pad: u32,
}

/// Per counter: the four Philox words and the four f32 normals.
pub type WordsAndNormals = (Vec<[u32; 4]>, Vec<[f32; 4]>);

/// The Philox words and f32 normals of each counter under `key`, computed on the GPU
/// (with the context's multiply: `GpuContext::without_int64` tests the fall-back).
pub fn philox_words_gpu(
    context: &GpuContext,
    key: [u32; 2],
    counters: &[[u32; 4]],
) -> Result<WordsAndNormals, GpuError> {
    let device = &context.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("philox_words.wgsl"),
        source: wgpu::ShaderSource::Wgsl(philox_words_source(context.philox_multiply()).into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("philox_words"),
        layout: None,
        module: &module,
        entry_point: Some("philox_words"),
        compilation_options: Default::default(),
        cache: None,
    });
    let mut words = Vec::with_capacity(counters.len());
    let mut normals = Vec::with_capacity(counters.len());
    let per_dispatch = (context.limits.max_compute_workgroups_per_dimension as usize * 64).min(1 << 20);
    for chunk in counters.chunks(per_dispatch) {
        let storage = |label, bytes: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let setup = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("setup"),
            contents: bytemuck::bytes_of(&Setup { key, count: chunk.len() as u32, pad: 0 }),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("counters"),
            contents: bytemuck::cast_slice(chunk),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let out_words = storage("words", 16 * chunk.len() as u64);
        let out_normals = storage("normals", 16 * chunk.len() as u64);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: setup.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: input.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: out_words.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: out_normals.as_entire_binding() },
            ],
        });
        context.dispatch(&pipeline, &bind_group, chunk.len().div_ceil(64) as u32);
        words.extend(context.read_buffer::<[u32; 4]>(&out_words, 0, chunk.len())?);
        normals.extend(context.read_buffer::<[f32; 4]>(&out_normals, 0, chunk.len())?);
    }
    Ok((words, normals))
}
