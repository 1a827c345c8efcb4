//! Compiled pipelines: the bind-group layouts the kernels share (weights in a
//! storage buffer, or in a texture), and each
//! kernel specialisation compiled once per device (kept in a context extension).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::conv::kernels::{KernelKind, Stores, TILED_WORKGROUP_BYTES};
use crate::runtime::context::GpuContext;
use crate::runtime::scope;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::precision::DType;

/// What a pipeline is specialised on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    pub kind: KernelKind,
    /// The element type of the storage buffers.
    pub dtype: DType,
    /// `Activation::shader_code`.
    pub activation: u32,
    /// The tiled kernel's `CHECK_BOUNDS` (false when its tiles divide the problem).
    pub check_bounds: bool,
    /// Invocations per workgroup (`KernelKind::workgroup_size`).
    pub workgroup: u32,
    /// How the register-tiled GEMMs store (the other kernels take `Scalar`).
    pub stores: Stores,
    /// `ZERO_PADDING` of the kernels that have it (`Choice::zero_padding`);
    /// false for the others.
    pub zero_padding: bool,
}

/// Pipelines built so far on one device (a context extension); never rebuilt per call.
#[derive(Default)]
pub(crate) struct KernelCache {
    /// By `weights_in_texture`: [buffer, texture].
    layouts: Mutex<[Option<wgpu::BindGroupLayout>; 2]>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
}

/// The bind-group layout the kernels follow: input, weights, bias (read),
/// output (read-write), params (uniform); the weights a storage buffer, or a
/// float texture for the kernels that read them from one.
pub(crate) fn bind_group_layout(
    ctx: &GpuContext,
    weights_in_texture: bool,
) -> Result<wgpu::BindGroupLayout> {
    let cache = ctx.extension::<KernelCache>();
    let mut slots = lock(&cache.layouts);
    let slot = &mut slots[usize::from(weights_in_texture)];
    if let Some(layout) = slot.as_ref() {
        return Ok(layout.clone());
    }
    let weights = if weights_in_texture {
        wgpu::BindGroupLayoutEntry {
            binding: 1,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        }
    } else {
        storage_entry(1, true)
    };
    let device = ctx.device();
    let layout = scope::capture(device, "creating the bind-group layout", || {
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("conv2d"),
            entries: &[
                storage_entry(0, true),
                weights,
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
    check_workgroup_size([key.workgroup, 1, 1], limits)?;
    if key.kind == KernelKind::IgemmTiled
        && TILED_WORKGROUP_BYTES > limits.max_compute_workgroup_storage_size
    {
        return Err(Conv2dError::WorkgroupMemoryTooLarge {
            bytes: TILED_WORKGROUP_BYTES,
            limit: limits.max_compute_workgroup_storage_size,
        });
    }
    let layout = bind_group_layout(ctx, key.kind.weights_in_texture())?;
    let cache = ctx.extension::<KernelCache>();
    let mut pipelines = lock(&cache.pipelines);
    if let Some(pipeline) = pipelines.get(&key) {
        return Ok(pipeline.clone());
    }
    let name = key.kind.name();
    crate::trace::span!(
        "conv2d.compile_pipeline",
        kernel = name,
        dtype = ?key.dtype,
        activation = key.activation
    );
    let device = ctx.device();
    let pipeline = scope::capture(device, "compiling a conv2d pipeline", || {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(key.kind.source(key.dtype, key.stores).into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let constants = key.kind.constants(
            key.activation,
            key.check_bounds,
            key.workgroup,
            key.zero_padding,
        );
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
