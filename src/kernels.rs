//! WGSL kernels: their sources, bind-group layouts and compiled pipelines,
//! cached per specialisation in the context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Conv2dError, Result};
use crate::scope;

/// The direct convolution kernel's source.
const DIRECT_WGSL: &str = include_str!("../shaders/conv2d_direct.wgsl");

/// Invocations per workgroup of the direct kernel (its `WORKGROUP_SIZE` override).
pub(crate) const DIRECT_WORKGROUP_SIZE: u32 = 64;

/// What a pipeline is specialised on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    /// `Activation::shader_code`.
    pub activation: u32,
    pub workgroup_size: u32,
}

/// A compiled kernel and the layout its bind group must follow.
pub(crate) struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Pipelines built so far on one device; never rebuilt per call.
#[derive(Default)]
pub(crate) struct KernelCache {
    direct_module: Mutex<Option<(wgpu::ShaderModule, wgpu::BindGroupLayout)>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<Kernel>>>,
}

impl KernelCache {
    /// The direct kernel specialised on `key`, compiled on first use.
    ///
    /// # Errors
    /// A workgroup size beyond the device's limits, or a wgpu error while compiling.
    pub fn direct(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        key: PipelineKey,
    ) -> Result<Arc<Kernel>> {
        check_workgroup_size([key.workgroup_size, 1, 1], limits)?;
        let mut pipelines = lock(&self.pipelines);
        if let Some(kernel) = pipelines.get(&key) {
            return Ok(kernel.clone());
        }
        let (module, layout) = self.direct_module(device)?;
        let kernel = scope::capture(device, "compiling the direct conv2d pipeline", || {
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("conv2d_direct"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let constants = [
                ("ACTIVATION", f64::from(key.activation)),
                ("WORKGROUP_SIZE", f64::from(key.workgroup_size)),
            ];
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("conv2d_direct"),
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
        let kernel = Arc::new(Kernel {
            pipeline: kernel,
            layout,
        });
        pipelines.insert(key, kernel.clone());
        Ok(kernel)
    }

    fn direct_module(
        &self,
        device: &wgpu::Device,
    ) -> Result<(wgpu::ShaderModule, wgpu::BindGroupLayout)> {
        let mut slot = lock(&self.direct_module);
        if let Some(built) = slot.as_ref() {
            return Ok(built.clone());
        }
        let built = scope::capture(device, "creating the direct conv2d shader module", || {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("conv2d_direct.wgsl"),
                source: wgpu::ShaderSource::Wgsl(DIRECT_WGSL.into()),
            });
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("conv2d_direct"),
                entries: &[
                    storage_entry(0, true),
                    storage_entry(1, true),
                    storage_entry(2, true),
                    storage_entry(3, false),
                    uniform_entry(4),
                ],
            });
            (module, layout)
        })?;
        *slot = Some(built.clone());
        Ok(built)
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
