//! Finding an adapter from the environment, and describing the one in use
//! (the context's `Display`, for bug reports).

use std::fmt;

use crate::runtime::context::GpuContext;
use crate::semantics::error::{Conv2dError, Result};

/// What a bug report needs: adapter, backend, driver, subgroups, f16 and the limits
/// the crate plans with.
///
/// ```
/// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
/// let ctx = conv2d_wgpu::GpuContext::new()?;
/// let report = ctx.to_string();
/// assert!(report.contains(&ctx.adapter_info().name));
/// assert!(report.contains("max_storage_buffer_binding_size"));
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
impl fmt::Display for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = &self.inner.info;
        let limits = &self.inner.limits;
        writeln!(
            f,
            "conv2d-wgpu {} on {:?}",
            env!("CARGO_PKG_VERSION"),
            info.name
        )?;
        writeln!(
            f,
            "  backend {:?}, device type {:?}, vendor {:#x}, device {:#x}",
            info.backend, info.device_type, info.vendor, info.device
        )?;
        writeln!(f, "  driver {:?}, {:?}", info.driver, info.driver_info)?;
        writeln!(
            f,
            "  subgroups {}..{} ({})",
            info.subgroup_min_size,
            info.subgroup_max_size,
            if self.subgroups() { "used" } else { "not used" }
        )?;
        writeln!(
            f,
            "  f16: {}",
            if self.supports_f16() {
                "available (SHADER_F16), Precision::F16 layers run"
            } else {
                "not available (no SHADER_F16), Precision::F16 is refused"
            }
        )?;
        let timed_by = if self
            .device()
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            "timestamp queries"
        } else {
            "submit-and-wait wall time"
        };
        let stats = self.tuning_stats();
        writeln!(
            f,
            "  tuning: {:?}, candidates timed by {timed_by}; cache: {} entries, {} measured, {} hits",
            self.tuning(),
            stats.entries,
            stats.measured,
            stats.cache_hits
        )?;
        writeln!(
            f,
            "  limits: max_storage_buffer_binding_size {}, max_buffer_size {}, \
             max_compute_workgroups_per_dimension {}, max_compute_invocations_per_workgroup {}, \
             max_storage_buffers_per_shader_stage {}, min_storage_buffer_offset_alignment {}",
            limits.max_storage_buffer_binding_size,
            limits.max_buffer_size,
            limits.max_compute_workgroups_per_dimension,
            limits.max_compute_invocations_per_workgroup,
            limits.max_storage_buffers_per_shader_stage,
            limits.min_storage_buffer_offset_alignment
        )
    }
}

pub(crate) async fn select_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
        let wanted = wanted.to_lowercase();
        let adapters = instance.enumerate_adapters(backends).await;
        let names: Vec<String> = adapters
            .iter()
            .map(|a| format!("{} ({:?})", a.get_info().name, a.get_info().backend))
            .collect();
        return adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&wanted))
            .ok_or_else(|| {
                Conv2dError::NoAdapter(format!(
                    "WGPU_ADAPTER_NAME={wanted:?} matches none of {names:?}"
                ))
            });
    }
    let options = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
        ..Default::default()
    };
    instance
        .request_adapter(&options)
        .await
        .map_err(|e| Conv2dError::NoAdapter(format!("{e} (WGPU_BACKEND selects {backends:?})")))
}
