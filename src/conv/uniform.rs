//! The kernels' uniform block: the Rust twin of `Params` in `shaders/params.wgsl`.

use crate::runtime::context::GpuContext;
use crate::semantics::error::Result;

/// The kernels' uniform block; field order matches `Params` in
/// `shaders/params.wgsl` (a test checks sizes and offsets with naga's
/// layouter), padded to a multiple of 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct KernelParams {
    pub batch: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub in_c: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub out_c: u32,
    pub k_h: u32,
    pub k_w: u32,
    pub stride_h: u32,
    pub stride_w: u32,
    pub dilation_h: u32,
    pub dilation_w: u32,
    pub pad_top: i32,
    pub pad_left: i32,
    pub in_c_per_group: u32,
    pub out_c_per_group: u32,
    pub total: u32,
    pub row_stride: u32,
    pub leaky_slope: f32,
    pub in_base: u32,
    pub out_base: u32,
    pub oc_offset: u32,
    pub chunk_c: u32,
    pub w_stride: u32,
    pub in_c_offset: u32,
    pub col_offset4: u32,
    pub _pad0: u32,
}

impl KernelParams {
    /// The block in a new uniform buffer, for one dispatch.
    pub fn upload(&self, ctx: &GpuContext) -> Result<wgpu::Buffer> {
        ctx.buffer_init(
            "conv2d params",
            bytemuck::bytes_of(self),
            wgpu::BufferUsages::UNIFORM,
        )
    }
}

/// `KernelParams`' size and the offset of each field, named as in WGSL.
pub(crate) fn kernel_params_layout() -> (usize, Vec<(&'static str, usize)>) {
    macro_rules! offsets {
        ($($field:ident),*) => {
            vec![$((stringify!($field), std::mem::offset_of!(KernelParams, $field))),*]
        };
    }
    let fields = offsets!(
        batch,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        k_h,
        k_w,
        stride_h,
        stride_w,
        dilation_h,
        dilation_w,
        pad_top,
        pad_left,
        in_c_per_group,
        out_c_per_group,
        total,
        row_stride,
        leaky_slope,
        in_base,
        out_base,
        oc_offset,
        chunk_c,
        w_stride,
        in_c_offset,
        col_offset4,
        _pad0
    );
    (std::mem::size_of::<KernelParams>(), fields)
}
