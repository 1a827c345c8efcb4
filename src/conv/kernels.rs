//! The WGSL kernels: which exist, the tile sizes they share with Rust, their
//! uniform block, the bind-group layout, and pipelines compiled once per
//! specialisation and device.
//!
//! Tile sizes are defined here once. [`tile_constants_wgsl`] turns them into a
//! block of WGSL `const`s that is prepended to every kernel, so Rust (dispatch
//! sizes, bounds checks, memory checks) and WGSL read the same numbers; the
//! register-tiled GEMMs' unrolled bodies are generated from
//! `shaders/templates/conv2d_igemm.wgsl.in` with the same constants
//! (`conv/codegen.rs`, a test that fails when the committed files drift).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::runtime::context::GpuContext;
use crate::runtime::scope;
use crate::semantics::error::{Conv2dError, Result};

/// Invocations per workgroup of the direct, register-tiled and depthwise
/// kernels (their `WORKGROUP_SIZE` override, set from here).
pub(crate) const WORKGROUP_SIZE: u32 = 64;
/// Output pixels per invocation of the register-tiled GEMMs (the unroll of
/// their generated bodies).
pub(crate) const IGEMM_PIXELS: u32 = 8;
/// vec4 column groups (4 output channels each) per invocation of those kernels.
pub(crate) const IGEMM_COLUMNS4: u32 = 4;
/// Output pixels of one row per invocation of the depthwise kernel.
pub(crate) const DEPTHWISE_PIXELS: u32 = 8;
/// The workgroup-memory tiled GEMM: pixels (M) and channels (N) per
/// workgroup, and the depth (K) staged per step.
pub(crate) const TILED_M: u32 = 64;
pub(crate) const TILED_N: u32 = 64;
pub(crate) const TILED_K: u32 = 16;
/// Pixels per invocation of the tiled GEMM (each takes 8 channels).
pub(crate) const TILED_THREAD_M: u32 = 8;
/// Invocations per workgroup of the tiled GEMM.
pub(crate) const TILED_WORKGROUP: u32 = (TILED_M / TILED_THREAD_M) * (TILED_N / 8);
/// Workgroup memory the tiled kernel declares (`a_tile` + `b_tile`).
pub(crate) const TILED_WORKGROUP_BYTES: u32 = (TILED_M * TILED_K + TILED_K * TILED_N) * 4;

/// The tile sizes above as WGSL constants, prepended to every kernel.
pub(crate) fn tile_constants_wgsl() -> String {
    let constants = [
        ("IGEMM_PIXELS", IGEMM_PIXELS),
        ("IGEMM_COLUMNS4", IGEMM_COLUMNS4),
        ("DEPTHWISE_PIXELS", DEPTHWISE_PIXELS),
        ("TILED_M", TILED_M),
        ("TILED_N4", TILED_N / 4),
        ("TILED_K", TILED_K),
        ("TILED_THREAD_M", TILED_THREAD_M),
        ("TILED_WORKGROUP", TILED_WORKGROUP),
    ];
    let mut wgsl = String::from("// Tile sizes, from src/conv/kernels.rs.\n");
    for (name, value) in constants {
        wgsl.push_str(&format!("const {name}: u32 = {value}u;\n"));
    }
    wgsl
}

/// Uniform block and activation, prepended to every kernel after the tile constants.
const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");

/// The compute shaders, one per file in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelKind {
    /// One invocation per output; any layer.
    Direct,
    /// Register-tiled implicit GEMM, vec4 input (cin / groups % 4 == 0).
    IgemmVec4,
    /// Register-tiled implicit GEMM, scalar input.
    IgemmScalar,
    /// `IgemmVec4` sharing weight loads with subgroupBroadcast (subgroups >= 8).
    IgemmSubgroup,
    /// Depthwise, 4 channels x `DEPTHWISE_PIXELS` pixels per invocation, cin % 4 == 0.
    DepthwiseVec4,
    /// Implicit GEMM tiled through workgroup memory, for GPUs.
    IgemmTiled,
}

impl KernelKind {
    /// Every kernel, for tests that validate them all.
    pub const ALL: [KernelKind; 6] = [
        KernelKind::Direct,
        KernelKind::IgemmVec4,
        KernelKind::IgemmScalar,
        KernelKind::IgemmSubgroup,
        KernelKind::DepthwiseVec4,
        KernelKind::IgemmTiled,
    ];

    fn file(self) -> (&'static str, &'static str) {
        match self {
            KernelKind::Direct => (
                "conv2d_direct.wgsl",
                include_str!("../../shaders/conv2d_direct.wgsl"),
            ),
            KernelKind::IgemmVec4 => (
                "conv2d_igemm_vec4.wgsl",
                include_str!("../../shaders/conv2d_igemm_vec4.wgsl"),
            ),
            KernelKind::IgemmScalar => (
                "conv2d_igemm_scalar.wgsl",
                include_str!("../../shaders/conv2d_igemm_scalar.wgsl"),
            ),
            KernelKind::IgemmSubgroup => (
                "conv2d_igemm_subgroup.wgsl",
                include_str!("../../shaders/conv2d_igemm_subgroup.wgsl"),
            ),
            KernelKind::DepthwiseVec4 => (
                "conv2d_depthwise_vec4.wgsl",
                include_str!("../../shaders/conv2d_depthwise_vec4.wgsl"),
            ),
            KernelKind::IgemmTiled => (
                "conv2d_igemm_tiled.wgsl",
                include_str!("../../shaders/conv2d_igemm_tiled.wgsl"),
            ),
        }
    }

    /// The file name, for labels and error messages.
    pub fn name(self) -> &'static str {
        self.file().0
    }

    /// The WGSL the crate compiles: tile constants, `common.wgsl`, the kernel.
    pub fn source(self) -> String {
        format!(
            "{}\n{COMMON_WGSL}\n{}",
            tile_constants_wgsl(),
            self.file().1
        )
    }

    /// Invocations per workgroup.
    pub fn workgroup_size(self) -> u32 {
        match self {
            KernelKind::IgemmTiled => TILED_WORKGROUP,
            _ => WORKGROUP_SIZE,
        }
    }

    /// The override constants of one specialisation.
    pub fn constants(self, activation: u32, check_bounds: bool) -> Vec<(&'static str, f64)> {
        let mut constants = vec![("ACTIVATION", f64::from(activation))];
        match self {
            KernelKind::IgemmTiled => {
                constants.push(("CHECK_BOUNDS", f64::from(u8::from(check_bounds))))
            }
            _ => constants.push(("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))),
        }
        constants
    }

    /// The register-tiled implicit GEMMs (which run grouped layers per group).
    pub fn is_register_gemm(self) -> bool {
        matches!(
            self,
            KernelKind::IgemmVec4 | KernelKind::IgemmScalar | KernelKind::IgemmSubgroup
        )
    }

    /// One dispatch's size for `rows` output rows (over all its images) of
    /// width `out_w` and `channels` output channels stored `w_stride` floats wide.
    pub fn dispatch(self, rows: u64, out_w: u64, channels: u64, w_stride: u64) -> DispatchSize {
        let group = u64::from(self.workgroup_size());
        let pixels = rows * out_w;
        let columns4 = match self {
            // Depthwise and tiled dispatches cover a whole weight chunk.
            KernelKind::DepthwiseVec4 | KernelKind::IgemmTiled => w_stride / 4,
            _ => channels.div_ceil(4),
        };
        let (workgroups, total) = match self {
            KernelKind::Direct => {
                let outputs = pixels * channels;
                (outputs.div_ceil(group), outputs)
            }
            // Workgroups are (column tile) x (runs of pixel tiles).
            KernelKind::IgemmVec4 | KernelKind::IgemmScalar | KernelKind::IgemmSubgroup => {
                let pixel_tiles = pixels.div_ceil(u64::from(IGEMM_PIXELS));
                let column_tiles = columns4.div_ceil(u64::from(IGEMM_COLUMNS4));
                (column_tiles * pixel_tiles.div_ceil(group), pixel_tiles)
            }
            // Workgroups are (channel tile) x (pixel tile).
            KernelKind::IgemmTiled => {
                let tiles =
                    pixels.div_ceil(u64::from(TILED_M)) * columns4.div_ceil(u64::from(TILED_N / 4));
                (tiles, pixels)
            }
            // Workgroups are (channel vec4) x (runs of row segments).
            KernelKind::DepthwiseVec4 => {
                let tiles = rows * out_w.div_ceil(u64::from(DEPTHWISE_PIXELS));
                (columns4 * tiles.div_ceil(group), tiles)
            }
        };
        DispatchSize { workgroups, total }
    }

    /// Fewest outputs any invocation computes, for sizing dispatches.
    pub fn min_outputs_per_invocation(self) -> u64 {
        match self {
            KernelKind::DepthwiseVec4 => 4,
            _ => 1,
        }
    }
}

/// How large one dispatch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DispatchSize {
    /// Workgroups to launch (before folding into a grid).
    pub workgroups: u64,
    /// The kernel's `p.total`: invocations (or tiles) with work.
    pub total: u64,
}

/// The kernels' uniform block; field order matches `Params` in
/// `shaders/common.wgsl` (a test checks sizes and offsets with naga's
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

/// What a pipeline is specialised on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    pub kind: KernelKind,
    /// `Activation::shader_code`.
    pub activation: u32,
    /// The tiled kernel's `CHECK_BOUNDS` (false when its tiles divide the problem).
    pub check_bounds: bool,
}

/// Pipelines built so far on one device (a context extension); never rebuilt per call.
#[derive(Default)]
pub(crate) struct KernelCache {
    layout: Mutex<Option<wgpu::BindGroupLayout>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
}

/// The bind-group layout every kernel follows: input, weights, bias (read),
/// output (read-write), params (uniform).
pub(crate) fn bind_group_layout(ctx: &GpuContext) -> Result<wgpu::BindGroupLayout> {
    let cache = ctx.extension::<KernelCache>();
    let mut slot = lock(&cache.layout);
    if let Some(layout) = slot.as_ref() {
        return Ok(layout.clone());
    }
    let device = ctx.device();
    let layout = scope::capture(device, "creating the bind-group layout", || {
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("conv2d"),
            entries: &[
                storage_entry(0, true),
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, false),
                uniform_entry(4),
            ],
        })
    })?;
    *slot = Some(layout.clone());
    Ok(layout)
}

/// The kernel specialised on `key`, compiled on first use.
///
/// # Errors
/// A workgroup size or workgroup memory beyond the device's limits, or a wgpu
/// error while compiling.
pub(crate) fn pipeline(ctx: &GpuContext, key: PipelineKey) -> Result<Arc<wgpu::ComputePipeline>> {
    let limits = ctx.limits();
    check_workgroup_size([key.kind.workgroup_size(), 1, 1], limits)?;
    if key.kind == KernelKind::IgemmTiled
        && TILED_WORKGROUP_BYTES > limits.max_compute_workgroup_storage_size
    {
        return Err(Conv2dError::WorkgroupMemoryTooLarge {
            bytes: TILED_WORKGROUP_BYTES,
            limit: limits.max_compute_workgroup_storage_size,
        });
    }
    let layout = bind_group_layout(ctx)?;
    let cache = ctx.extension::<KernelCache>();
    let mut pipelines = lock(&cache.pipelines);
    if let Some(pipeline) = pipelines.get(&key) {
        return Ok(pipeline.clone());
    }
    let name = key.kind.name();
    crate::trace::span!(
        "conv2d.compile_pipeline",
        kernel = name,
        activation = key.activation
    );
    let device = ctx.device();
    let pipeline = scope::capture(device, "compiling a conv2d pipeline", || {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(key.kind.source().into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let constants = key.kind.constants(key.activation, key.check_bounds);
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        })
    })?;
    let pipeline = Arc::new(pipeline);
    pipelines.insert(key, pipeline.clone());
    Ok(pipeline)
}

/// wgpu does not check override-sized workgroups against the limits: do it here.
pub(crate) fn check_workgroup_size(size: [u32; 3], limits: &wgpu::Limits) -> Result<()> {
    let checks = [
        (
            size[0],
            limits.max_compute_workgroup_size_x,
            "max_compute_workgroup_size_x",
        ),
        (
            size[1],
            limits.max_compute_workgroup_size_y,
            "max_compute_workgroup_size_y",
        ),
        (
            size[2],
            limits.max_compute_workgroup_size_z,
            "max_compute_workgroup_size_z",
        ),
        (
            size.iter().product(),
            limits.max_compute_invocations_per_workgroup,
            "max_compute_invocations_per_workgroup",
        ),
    ];
    for (value, limit, limit_name) in checks {
        if value > limit {
            return Err(Conv2dError::WorkgroupTooLarge {
                size,
                limit_name,
                limit,
            });
        }
    }
    Ok(())
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    buffer_entry(binding, wgpu::BufferBindingType::Storage { read_only })
}

fn uniform_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    buffer_entry(binding, wgpu::BufferBindingType::Uniform)
}

fn buffer_entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A poisoned cache only means another thread panicked mid-insert; the map is still valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
