//! WGSL kernels: their sources, the bind-group layout they share, and compiled
//! pipelines cached per specialisation in the context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Conv2dError, Result};
use crate::scope;

/// Uniform block and activation, prepended to every kernel.
const COMMON_WGSL: &str = include_str!("../shaders/common.wgsl");

/// Invocations per workgroup of every kernel (their `WORKGROUP_SIZE` override).
pub(crate) const WORKGROUP_SIZE: u32 = 64;

/// The compute shaders, one per file in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelKind {
    /// One invocation per output; any layer.
    Direct,
    /// Register-tiled implicit GEMM, vec4 input (cin % 4 == 0), groups 1.
    IgemmVec4,
    /// Register-tiled implicit GEMM, scalar input, groups 1.
    IgemmScalar,
    /// `IgemmVec4` sharing weight loads with subgroupBroadcast (subgroups >= 8).
    IgemmSubgroup,
    /// Depthwise, 4 channels x 8 pixels per invocation, cin % 4 == 0.
    DepthwiseVec4,
    /// Implicit GEMM tiled through workgroup memory (64 x 64 per workgroup), for GPUs.
    IgemmTiled,
}

/// Workgroup memory the tiled kernel declares (`a_tile` + `b_tile`).
pub(crate) const TILED_WORKGROUP_BYTES: u32 = 1024 * 4 + 256 * 16;

impl KernelKind {
    fn source(self) -> (&'static str, &'static str) {
        match self {
            KernelKind::Direct => (
                "conv2d_direct.wgsl",
                include_str!("../shaders/conv2d_direct.wgsl"),
            ),
            KernelKind::IgemmVec4 => (
                "conv2d_igemm_vec4.wgsl",
                include_str!("../shaders/conv2d_igemm_vec4.wgsl"),
            ),
            KernelKind::IgemmScalar => (
                "conv2d_igemm_scalar.wgsl",
                include_str!("../shaders/conv2d_igemm_scalar.wgsl"),
            ),
            KernelKind::IgemmSubgroup => (
                "conv2d_igemm_subgroup.wgsl",
                include_str!("../shaders/conv2d_igemm_subgroup.wgsl"),
            ),
            KernelKind::DepthwiseVec4 => (
                "conv2d_depthwise_vec4.wgsl",
                include_str!("../shaders/conv2d_depthwise_vec4.wgsl"),
            ),
            KernelKind::IgemmTiled => (
                "conv2d_igemm_tiled.wgsl",
                include_str!("../shaders/conv2d_igemm_tiled.wgsl"),
            ),
        }
    }
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

/// Pipelines built so far on one device; never rebuilt per call.
#[derive(Default)]
pub(crate) struct KernelCache {
    layout: Mutex<Option<wgpu::BindGroupLayout>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
}

impl KernelCache {
    /// The bind-group layout every kernel follows: input, weights, bias (read),
    /// output (read-write), params (uniform).
    pub fn layout(&self, device: &wgpu::Device) -> Result<wgpu::BindGroupLayout> {
        let mut slot = lock(&self.layout);
        if let Some(layout) = slot.as_ref() {
            return Ok(layout.clone());
        }
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
    /// A workgroup size beyond the device's limits, or a wgpu error while compiling.
    pub fn pipeline(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        key: PipelineKey,
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        check_workgroup_size([WORKGROUP_SIZE, 1, 1], limits)?;
        if key.kind == KernelKind::IgemmTiled
            && TILED_WORKGROUP_BYTES > limits.max_compute_workgroup_storage_size
        {
            return Err(Conv2dError::WorkgroupMemoryTooLarge {
                bytes: TILED_WORKGROUP_BYTES,
                limit: limits.max_compute_workgroup_storage_size,
            });
        }
        let layout = self.layout(device)?;
        let mut pipelines = lock(&self.pipelines);
        if let Some(pipeline) = pipelines.get(&key) {
            return Ok(pipeline.clone());
        }
        let (name, body) = key.kind.source();
        crate::trace::span!(
            "conv2d.compile_pipeline",
            kernel = name,
            activation = key.activation
        );
        let pipeline = scope::capture(device, "compiling a conv2d pipeline", || {
            let source = format!("{COMMON_WGSL}\n{body}");
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(name),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let mut constants = vec![
                ("ACTIVATION", f64::from(key.activation)),
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
            ];
            if key.kind == KernelKind::IgemmTiled {
                constants.push(("CHECK_BOUNDS", f64::from(u8::from(key.check_bounds))));
            }
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
