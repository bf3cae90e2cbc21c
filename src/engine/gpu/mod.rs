//! The wgpu backend: one context per run, WGSL kernels composed at load time.

pub mod backend;
pub mod block;
pub mod context;
pub mod kernel_source;
pub mod layout;
pub mod market;
pub mod max_growth;
pub mod params;
pub mod philox_check;
pub mod readback;
pub mod shaders;
pub mod stage_check;

pub use backend::{GpuBackend, KernelChoice};
pub use context::{list_adapters, AdapterSummary, GpuContext};

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found (Vulkan or GL)")]
    NoAdapter,
    #[error("only a software GPU adapter is available ({name}), far slower than the CPU backend")]
    SoftwareOnly { name: String },
    #[error("the GPU adapter refused a device: {0}")]
    RequestDevice(String),
    #[error("reading a GPU buffer back failed: {0}")]
    Map(String),
    #[error("waiting for the GPU failed: {0}")]
    Poll(String),
    #[error("the GPU device reported an error: {0}")]
    Device(String),
}
