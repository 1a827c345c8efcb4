//! `GpuConv2d`: a layer whose weights live on the device, and its forward pass.

use std::sync::Arc;

use ndarray::{Array4, ArrayView1, ArrayView4};
use wgpu::util::DeviceExt;

use crate::context::GpuContext;
use crate::cpu::shape4;
use crate::error::{Conv2dError, Result};
use crate::geometry::{ConvGeometry, LayerShape};
use crate::kernels::{Kernel, PipelineKey, DIRECT_WORKGROUP_SIZE};
use crate::limits::{check_storage, FoldedGrid};
use crate::params::Conv2dParams;
use crate::{readback, scope};

/// A Conv2D layer on the GPU: weights, bias and pipeline are uploaded and built
/// once by [`GpuConv2d::new`]; each [`GpuConv2d::forward`] only moves the input
/// and output.
///
/// # Example
/// ```
/// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CI").is_none() { return Ok(()); } // no adapter here
/// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
/// use ndarray::{Array1, Array4};
/// let ctx = GpuContext::new()?;
/// let weights = Array4::<f32>::ones((3, 3, 2, 4)); // HWIO
/// let bias = Array1::<f32>::zeros(4);
/// let conv = GpuConv2d::new(&ctx, weights.view(), Some(bias.view()), Conv2dParams::default())?;
/// let y = conv.forward(Array4::<f32>::ones((1, 8, 8, 2)).view())?; // NHWC
/// assert_eq!(y.shape(), &[1, 6, 6, 4]);
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub struct GpuConv2d {
    ctx: GpuContext,
    layer: LayerShape,
    has_bias: bool,
    weights: wgpu::Buffer,
    bias: wgpu::Buffer,
    kernel: Arc<Kernel>,
}

/// The direct kernel's uniform block; field order matches `Params` in
/// `shaders/conv2d_direct.wgsl`, padded to a multiple of 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DirectParams {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    k_h: u32,
    k_w: u32,
    stride_h: u32,
    stride_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    pad_top: i32,
    pad_left: i32,
    in_c_per_group: u32,
    out_c_per_group: u32,
    total: u32,
    row_stride: u32,
    leaky_slope: f32,
    _pad: [u32; 4],
}

impl GpuConv2d {
    /// Checks the layer, uploads weights (HWIO `(kh, kw, cin / groups, cout)`) and
    /// bias (`(cout)`, zeros when `None`), and builds (or reuses) the pipeline.
    ///
    /// # Errors
    /// Any shape or parameter error that does not need the input (see
    /// [`Conv2dError`]), weights beyond the device's storage limits, or a wgpu
    /// error captured while uploading or compiling.
    pub fn new(
        ctx: &GpuContext,
        weights: ArrayView4<f32>,
        bias: Option<ArrayView1<f32>>,
        params: Conv2dParams,
    ) -> Result<Self> {
        let layer = LayerShape::new(shape4(weights.shape()), bias.map(|b| b.len()), params)?;
        let has_bias = bias.is_some();
        let limits = &ctx.inner.limits;
        check_storage("weights", &layer.weights, limits)?;
        let weights = weights.as_standard_layout();
        let weight_data = weights.as_slice().expect("standard layout is contiguous");
        let bias_data = match bias {
            Some(b) => b.to_vec(),
            None => vec![0.0; layer.out_channels()],
        };
        let key = PipelineKey {
            activation: params.activation.shader_code(),
            workgroup_size: DIRECT_WORKGROUP_SIZE,
        };
        let device = &ctx.inner.device;
        let kernel = ctx.inner.kernels.direct(device, limits, key)?;
        let (weights, bias) = scope::capture(device, "uploading weights and bias", || {
            (
                storage_init(device, "conv2d weights", weight_data),
                storage_init(device, "conv2d bias", &bias_data),
            )
        })?;
        Ok(GpuConv2d {
            ctx: ctx.clone(),
            layer,
            has_bias,
            weights,
            bias,
            kernel,
        })
    }

    /// Runs the convolution on an NHWC input `(n, h, w, cin)` and returns the NHWC
    /// output `(n, ho, wo, cout)`. Any view works, contiguous or not.
    ///
    /// # Errors
    /// A shape error against the layer, an input or output beyond the device's
    /// limits, a wgpu error captured during the dispatch, or a failed readback.
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        let geometry = self.layer.geometry(shape4(x.shape()))?;
        let limits = &self.ctx.inner.limits;
        check_storage("input", &geometry.input_shape(), limits)?;
        let output_shape = geometry.output_shape();
        let output_bytes = check_storage("output", &output_shape, limits)?;
        let total = output_shape.iter().product::<usize>() as u64;
        let workgroups = total.div_ceil(u64::from(DIRECT_WORKGROUP_SIZE));
        let grid = FoldedGrid::new(workgroups, output_shape, limits)?;
        let uniform = self.direct_params(&geometry, total as u32, grid);

        let x = x.as_standard_layout();
        let input_data = x.as_slice().expect("standard layout is contiguous");
        let device = &self.ctx.inner.device;
        let staging = scope::capture(device, "running the direct conv2d", || {
            let input = storage_init(device, "conv2d input", input_data);
            let output = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("conv2d output"),
                size: output_bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let staging = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("conv2d readback"),
                size: output_bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("conv2d params"),
                contents: bytemuck::bytes_of(&uniform),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("conv2d_direct"),
                layout: &self.kernel.layout,
                entries: &[
                    entry(0, &input),
                    entry(1, &self.weights),
                    entry(2, &self.bias),
                    entry(3, &output),
                    entry(4, &params),
                ],
            });
            let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("conv2d forward"),
            });
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("conv2d_direct"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.kernel.pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(grid.x, grid.y, 1);
            }
            encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, output_bytes);
            self.ctx.inner.queue.submit([encoder.finish()]);
            staging
        })?;
        let values = readback::read_f32(device, &staging)?;
        Array4::from_shape_vec(output_shape, values).map_err(|e| {
            Conv2dError::Readback(format!("result does not fit {output_shape:?}: {e}"))
        })
    }

    /// The output shape `[n, ho, wo, cout]` for an NHWC input shape.
    ///
    /// # Errors
    /// The same shape errors as [`GpuConv2d::forward`].
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        Ok(self.layer.geometry(input)?.output_shape())
    }

    /// Trainable parameters, as Keras' `model.summary()` counts them:
    /// `kh * kw * cin / groups * cout` weights plus `cout` biases when a bias was given.
    pub fn param_count(&self) -> usize {
        let bias = if self.has_bias {
            self.layer.out_channels()
        } else {
            0
        };
        self.layer.weights.iter().product::<usize>() + bias
    }

    /// The layer's parameters.
    pub fn params(&self) -> Conv2dParams {
        self.layer.params
    }

    /// The weights' shape, HWIO.
    pub fn weights_shape(&self) -> [usize; 4] {
        self.layer.weights
    }

    /// The context the layer runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn direct_params(&self, g: &ConvGeometry, total: u32, grid: FoldedGrid) -> DirectParams {
        DirectParams {
            batch: g.batch as u32,
            in_h: g.in_h as u32,
            in_w: g.in_w as u32,
            in_c: g.in_c as u32,
            out_h: g.out_h as u32,
            out_w: g.out_w as u32,
            out_c: g.out_c as u32,
            k_h: g.k_h as u32,
            k_w: g.k_w as u32,
            stride_h: g.stride[0] as u32,
            stride_w: g.stride[1] as u32,
            dilation_h: g.dilation[0] as u32,
            dilation_w: g.dilation[1] as u32,
            pad_top: g.pad_top as i32,
            pad_left: g.pad_left as i32,
            in_c_per_group: g.in_c_per_group() as u32,
            out_c_per_group: g.out_c_per_group() as u32,
            total,
            row_stride: grid.x * DIRECT_WORKGROUP_SIZE,
            leaky_slope: self.layer.params.activation.slope(),
            _pad: [0; 4],
        }
    }
}

fn storage_init(device: &wgpu::Device, label: &str, data: &[f32]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    })
}

fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}
