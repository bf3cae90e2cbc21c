//! The wgpu backend: one context per run, WGSL kernels composed at load time.
