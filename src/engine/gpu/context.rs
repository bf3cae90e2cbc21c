//! The GPU context (adapter, device, queue), built once per run, and the readback helper.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::shaders::PhiloxMultiply;
use super::GpuError;

/// Whether an adapter is a CPU emulation (lavapipe, llvmpipe, WARP, SwiftShader).
fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || ["llvmpipe", "lavapipe", "swiftshader", "softpipe"].iter().any(|s| name.contains(s))
}

/// Preference order: hardware before software, then Vulkan before GL.
fn rank(info: &wgpu::AdapterInfo) -> (bool, bool, u8) {
    let device_rank = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        _ => 3,
    };
    (is_software(info), info.backend != wgpu::Backend::Vulkan, device_rank)
}

fn adapters_on(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    pollster::block_on(instance.enumerate_adapters(backends))
}

/// Vulkan adapters, best first; GL (EGL) only when Vulkan has none, since probing
/// EGL without a display is slow and noisy.
fn sorted_adapters() -> Vec<wgpu::Adapter> {
    let mut adapters = adapters_on(wgpu::Backends::VULKAN);
    if adapters.is_empty() {
        adapters = adapters_on(wgpu::Backends::GL);
    }
    adapters.sort_by_key(|adapter| rank(&adapter.get_info()));
    adapters
}

/// One adapter as `sptlab info` shows it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub is_software: bool,
    pub limits: wgpu::Limits,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}, {:?}{}), driver {} {}; max storage binding {} MiB, max buffer {} MiB, \
             {} workgroups per dimension, {} invocations per workgroup",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            if self.is_software { ", software: used only with --backend gpu" } else { "" },
            self.info.driver,
            self.info.driver_info,
            self.limits.max_storage_buffer_binding_size >> 20,
            self.limits.max_buffer_size >> 20,
            self.limits.max_compute_workgroups_per_dimension,
            self.limits.max_compute_invocations_per_workgroup,
        )
    }
}

/// Every adapter wgpu finds (Vulkan, else GL), best first.
pub fn list_adapters() -> Vec<AdapterSummary> {
    sorted_adapters()
        .into_iter()
        .map(|adapter| {
            let info = adapter.get_info();
            AdapterSummary { is_software: is_software(&info), limits: adapter.limits(), info }
        })
        .collect()
}

/// Adapter, device and queue, created once per run.
pub struct GpuContext {
    pub adapter_info: wgpu::AdapterInfo,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    /// The optional features the device was created with (SHADER_INT64 where offered).
    pub features: wgpu::Features,
    /// Device errors (out of memory, validation) caught instead of wgpu's default panic.
    errors: Arc<Mutex<Vec<String>>>,
}

impl GpuContext {
    /// The best adapter; a software one only when `allow_software`.
    pub fn new(allow_software: bool) -> Result<GpuContext, GpuError> {
        let adapters = sorted_adapters();
        let Some(adapter) = adapters.into_iter().next() else {
            return Err(GpuError::NoAdapter);
        };
        let info = adapter.get_info();
        if is_software(&info) && !allow_software {
            return Err(GpuError::SoftwareOnly { name: info.name });
        }
        let limits = adapter.limits();
        // 64-bit integers where offered: Philox's multiply in one instruction.
        let features = adapter.features() & wgpu::Features::SHADER_INT64;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("sptlab"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|error| GpuError::RequestDevice(error.to_string()))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut errors) = sink.lock() {
                errors.push(error.to_string());
            }
        }));
        // A lost device makes every later object invalid: report the loss first, as the cause.
        let sink = Arc::clone(&errors);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut errors) = sink.lock() {
                errors.insert(0, format!("the GPU device was lost ({reason:?}): {message}"));
            }
        });
        Ok(GpuContext { adapter_info: info, device, queue, limits, features, errors })
    }

    /// The first device error since the last call, if any.
    pub fn take_error(&self) -> Result<(), GpuError> {
        // The device-lost callback runs on a poll: without one, a loss would be reported
        // as the invalid objects it leaves behind. (A poll's own failure is that loss.)
        let _ = self.device.poll(wgpu::PollType::Poll);
        let first = {
            let mut errors = self.errors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let first = errors.first().cloned();
            errors.clear();
            first
        };
        first.map_or(Ok(()), |message| Err(GpuError::Device(message)))
    }

    pub fn is_software(&self) -> bool {
        is_software(&self.adapter_info)
    }

    /// How kernels on this device multiply Philox's words.
    pub fn philox_multiply(&self) -> PhiloxMultiply {
        PhiloxMultiply::for_features(self.features)
    }

    /// The same device without 64-bit integers, for testing the fall-back multiply.
    pub fn without_int64(mut self) -> GpuContext {
        self.features.remove(wgpu::Features::SHADER_INT64);
        self
    }

    /// Name and backend, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)".
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.adapter_info.name, self.adapter_info.backend)
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) -> Result<(), GpuError> {
        self.device.poll(wgpu::PollType::wait_indefinitely()).map(|_| ()).map_err(|e| GpuError::Poll(e.to_string()))
    }

    /// Submits one dispatch of `workgroups` workgroups of `pipeline` over `bind_group`.
    pub fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: u32,
    ) -> wgpu::SubmissionIndex {
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(workgroups, 1, 1);
        }
        self.queue.submit(Some(encoder.finish()))
    }

    /// Blocks until `submission` (and everything submitted before it) is done. A
    /// submission the device refused fails with the device's reason for refusing it.
    pub fn wait_for(&self, submission: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        match self.device.poll(wgpu::PollType::Wait { submission_index: Some(submission), timeout: None }) {
            Ok(_) => Ok(()),
            Err(error) => {
                self.take_error()?;
                Err(GpuError::Poll(error.to_string()))
            }
        }
    }

    /// A buffer holding `words`, written through the queue: unlike a buffer mapped at
    /// creation, this cannot panic when the device has failed (the failure is then
    /// reported by `take_error`).
    pub fn buffer_holding<T: bytemuck::Pod>(
        &self,
        label: &str,
        words: &[T],
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        let bytes: &[u8] = bytemuck::cast_slice(words);
        let size = (bytes.len() as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT).max(wgpu::COPY_BUFFER_ALIGNMENT);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut padded = bytes.to_vec();
        padded.resize(size as usize, 0);
        self.queue.write_buffer(&buffer, 0, &padded);
        buffer
    }

    /// Copies `count` values of `T` from `buffer` (at byte `offset`) back to the host:
    /// copy to a mappable staging buffer, map, wait, read, unmap.
    pub fn read_buffer<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        count: usize,
    ) -> Result<Vec<T>, GpuError> {
        let size = (count * std::mem::size_of::<T>()) as u64;
        if size == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.queue.submit(Some(encoder.finish()));
        let (sender, receiver) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        self.wait()?;
        self.take_error()?;
        receiver.recv().map_err(|e| GpuError::Map(e.to_string()))?.map_err(|e| GpuError::Map(e.to_string()))?;
        let values = {
            let view = staging.slice(..).get_mapped_range().map_err(|e| GpuError::Map(e.to_string()))?;
            bytemuck::cast_slice::<u8, T>(&view).to_vec()
        };
        staging.unmap();
        Ok(values)
    }

    /// The context for tests: any adapter, software included. Without one the test
    /// is skipped with a notice, unless `SPTLAB_REQUIRE_GPU=1`, which makes it fail.
    pub fn for_tests() -> Option<GpuContext> {
        match GpuContext::new(true) {
            Ok(context) => Some(context),
            Err(error) => {
                if std::env::var("SPTLAB_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                    panic!("SPTLAB_REQUIRE_GPU=1 but no GPU adapter is usable: {error}");
                }
                eprintln!("skipping a GPU test: {error}");
                None
            }
        }
    }
}
