//! The uniform parameters of one dispatch: declared once here, as the Rust struct the
//! host writes and as the WGSL `struct Params` the kernels read (composed from the
//! same field list, so the two cannot drift apart).

/// Declares `DispatchParams` (every field a `u32`, in order) and its WGSL twin's fields.
macro_rules! dispatch_params {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        /// Uniform parameters of one dispatch (`Params` in the shaders).
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
        pub(crate) struct DispatchParams {
            $($(#[doc = $doc])* pub(crate) $field: u32,)*
        }

        impl DispatchParams {
            /// The field names, in the struct's order.
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };
}

dispatch_params! {
    /// The batch's first path (global index).
    first_path,
    batch_paths,
    /// Lanes per slot of the state buffer (the batch rounded up to whole workgroups).
    stride,
    step_begin,
    step_count,
    total_steps,
    /// The run's Philox key.
    key0,
    key1,
    /// The max_growth dispatches: strategy, ADMM iterations per dispatch, phase, and the
    /// range of rows or returns a trailing estimate's dispatch works on (a grid point's
    /// index for `record_grid`).
    strategy,
    iterations,
    phase,
    chunk_begin,
    chunk_end,
    /// A uniform struct's size is a multiple of 16 bytes.
    padding0,
    padding1,
    padding2,
}

impl DispatchParams {
    /// A simulation dispatch of `step_count` steps from `step_begin` over a batch.
    pub(crate) fn for_steps(
        first_path: u32,
        batch_paths: u32,
        stride: u32,
        step_begin: u32,
        step_count: u32,
        total_steps: u32,
        key: [u32; 2],
    ) -> DispatchParams {
        DispatchParams {
            first_path,
            batch_paths,
            stride,
            step_begin,
            step_count,
            total_steps,
            key0: key[0],
            key1: key[1],
            ..bytemuck::Zeroable::zeroed()
        }
    }

    /// `struct Params` in WGSL.
    pub(crate) fn wgsl() -> String {
        let mut source =
            String::from("// The dispatch parameters, composed from `DispatchParams` (src/engine/gpu/params.rs).\n");
        source.push_str("struct Params {\n");
        for field in DispatchParams::FIELDS {
            source.push_str(&format!("    {field}: u32,\n"));
        }
        source.push_str("}\n");
        source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wgsl_struct_has_the_rust_fields_in_order_and_a_uniform_size() {
        let size = std::mem::size_of::<DispatchParams>();
        assert_eq!(size, 4 * DispatchParams::FIELDS.len());
        assert_eq!(size % 16, 0, "uniform structs are sized in 16-byte units");
        // Field k of the Rust struct is word k of the bytes the host writes.
        let mut params = DispatchParams::for_steps(1, 2, 3, 4, 5, 6, [7, 8]);
        params.chunk_end = 13;
        let words: &[u32] = bytemuck::cast_slice(bytemuck::bytes_of(&params));
        let wgsl = DispatchParams::wgsl();
        let declared: Vec<&str> = wgsl.lines().filter_map(|line| line.trim().strip_suffix(": u32,")).collect();
        assert_eq!(declared, DispatchParams::FIELDS);
        for (index, name) in [(0, "first_path"), (5, "total_steps"), (7, "key1"), (12, "chunk_end")] {
            assert_eq!(declared[index], name);
            assert_eq!(words[index], index as u32 + 1);
        }
    }
}
