//! `GpuConv2d`: a layer whose weights live on the device, and its forward
//! passes. The public surface only: choosing the kernel is `choice`, splitting
//! the work `plan`, building dispatches `encode`, the weights `weights`, the
//! per-shape cache `cache`.

use std::sync::Arc;

use ndarray::{Array4, ArrayView1, ArrayView4, ArrayViewMut4, AsArray, Ix4};

use crate::conv::cache::{HostBuffers, Prepared, ShapeCache};
use crate::conv::choice::{self, DeviceCaps, LayerFacts};
use crate::conv::encode;
use crate::conv::kernels::{KernelKind, Stores};
use crate::conv::pipelines::{self, PipelineKey};
use crate::conv::plan::Plan;
use crate::conv::space_to_depth;
use crate::conv::tuning;
use crate::conv::weights::{LayerWeights, TextureSource};
use crate::runtime::context::GpuContext;
use crate::runtime::elements;
use crate::runtime::limits::check_buffer;
use crate::runtime::tensor::{shaped, GpuTensor};
use crate::semantics::algorithm::Algorithm;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::{shape4, LayerShape};
use crate::semantics::params::Conv2dParams;
use crate::semantics::precision::{DType, Precision};

/// A Conv2D layer on the GPU: weights, bias and pipeline are uploaded and built
/// once by [`GpuConv2d::new`]; a forward pass only moves the input and output.
///
/// # Example
/// ```
/// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
/// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
/// use ndarray::{Array1, Array4};
/// let ctx = GpuContext::new()?;
/// let weights = Array4::<f32>::ones((3, 3, 2, 4)); // HWIO
/// let bias = Array1::<f32>::zeros(4);
/// let conv = GpuConv2d::new(&ctx, weights.view(), Some(bias.view()), Conv2dParams::default())?;
/// let y = conv.forward(Array4::<f32>::ones((1, 8, 8, 2)).view())?; // NHWC
/// assert_eq!(y.shape(), &[1, 6, 6, 4]);
/// assert_eq!(y[[0, 0, 0, 0]], 18.0);
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub struct GpuConv2d {
    ctx: GpuContext,
    layer: LayerShape,
    has_bias: bool,
    weights: LayerWeights,
    /// Set by [`GpuConv2d::with_algorithm`]; otherwise chosen per input shape.
    forced: Option<Algorithm>,
    /// Set by [`GpuConv2d::with_precision`].
    precision: Precision,
    /// Plans, uniform blocks and host buffers of the last few input shapes.
    cache: ShapeCache,
}

impl GpuConv2d {
    /// Checks the layer, uploads weights (HWIO `(kh, kw, cin / groups, cout)`) and
    /// bias (`(cout)`, zeros when `None`), and builds (or reuses) the pipeline.
    ///
    /// # Errors
    /// Any shape or parameter error that does not need the input (see
    /// [`Conv2dError`]), weights whose single output channel exceeds a binding,
    /// a lost device, or a wgpu error captured while uploading or compiling.
    pub fn new(
        ctx: &GpuContext,
        weights: ArrayView4<f32>,
        bias: Option<ArrayView1<f32>>,
        params: Conv2dParams,
    ) -> Result<Self> {
        let layer = LayerShape::new(shape4(weights.shape()), bias.map(|b| b.len()), params)?;
        ctx.check_alive()?;
        // The baseline kernel serves every layer: compile it now so that a
        // layer that constructs is a layer that runs.
        compile_baseline(ctx, &layer, DType::F32)?;
        let uploaded = LayerWeights::upload(ctx, &layer, weights, bias, DType::F32)?;
        let conv = GpuConv2d {
            ctx: ctx.clone(),
            layer,
            has_bias: bias.is_some(),
            weights: uploaded,
            forced: None,
            precision: Precision::F32,
            cache: ShapeCache::default(),
        };
        conv.prepare_weights()?;
        Ok(conv)
    }

    /// Makes now (submits, no wait) the weight copies the kernels this layer
    /// may run read: Winograd's transform where the heuristic (or the forced
    /// algorithm) runs Winograd, and the weights in textures where the
    /// adapter reads them from textures. So forward passes, and `encode`
    /// into an application's encoder, submit nothing of their own. (Under
    /// `Tuning::Measure`, measuring makes what its candidates need.)
    fn prepare_weights(&self) -> Result<()> {
        let (ctx, layer, weights) = (&self.ctx, &self.layer, &self.weights);
        let caps = DeviceCaps::of(ctx);
        let winograd = match self.forced {
            Some(forced) => forced == Algorithm::Winograd,
            None => choice::winograd_by_default(layer, weights.chunks.len(), caps)?,
        };
        let group_in_c = layer.weights[2];
        if winograd {
            weights.winograd(ctx, group_in_c)?;
            if choice::winograd_in_texture(group_in_c, layer.out_channels(), caps) {
                weights.texture(ctx, TextureSource::Winograd { group_in_c })?;
            }
        }
        // The implicit GEMM's space-to-depth view: where the heuristic runs
        // the implicit GEMM (CPU-like adapters) or it is forced.
        let implicit_gemm = match self.forced {
            Some(forced) => forced == Algorithm::ImplicitGemm,
            None => !caps.gpu,
        };
        if implicit_gemm && space_to_depth::applies(layer) && weights.chunks.len() == 1 {
            let [k_h, k_w, in_c, _] = layer.weights;
            let stride = layer.params.stride;
            weights.space_to_depth(ctx, [k_h, k_w, in_c], stride)?;
            let view = space_to_depth::weight_shape(layer.weights, stride);
            if choice::gemm_weights_in_texture(view, caps) {
                let source = TextureSource::SpaceToDepth {
                    kernel: [k_h, k_w, in_c],
                    stride,
                };
                weights.texture(ctx, source)?;
            }
        }
        if choice::gemm_weights_in_texture(layer.weights, caps) {
            for i in 0..weights.chunks.len() {
                weights.texture(ctx, TextureSource::Chunk(i))?;
            }
        }
        Ok(())
    }

    /// The async form of [`GpuConv2d::new`], for the web: the same checks and
    /// uploads, then it awaits the device's answer about them (the browser
    /// reports wgpu errors from its event loop), so an error of this call is
    /// returned by this call. Natively it is `new`.
    ///
    /// # Errors
    /// As [`GpuConv2d::new`].
    pub async fn new_async(
        ctx: &GpuContext,
        weights: ArrayView4<'_, f32>,
        bias: Option<ArrayView1<'_, f32>>,
        params: Conv2dParams,
    ) -> Result<Self> {
        let layer = Self::new(ctx, weights, bias, params)?;
        ctx.settle().await?;
        Ok(layer)
    }

    /// The same layer run in `precision`. With [`Precision::F16`] the weights
    /// and bias are stored on the device as f16 (each rounded once from the
    /// f32 the layer was made with; they are read back and uploaded again, a
    /// blocking step), device tensors in and out are f16, products are
    /// accumulated in f32 and bias and activation applied in f32, and the
    /// result is rounded once to f16. The host forms ([`GpuConv2d::forward`]
    /// and friends) still take and return f32: they round the input to f16 and
    /// widen the output on the host. Going back to [`Precision::F32`] keeps
    /// the f16-rounded weights (make a new layer for the original ones).
    ///
    /// Every [`Algorithm`] runs in both precisions. Compared with the CPU
    /// reference computed on the f16-rounded input, weights and bias, an f16
    /// output differs by at most the f32 bound the tests use for
    /// [`Precision::F32`] plus f16's rounding of the result: `2^-11 |y| +
    /// 2^-25` (unit roundoff, and half the smallest subnormal).
    ///
    /// # Errors
    /// [`Conv2dError::MissingFeature`] naming `SHADER_F16` and the adapter when
    /// the device lacks it (see [`GpuContext::supports_f16`]); weights beyond
    /// the device's limits; a lost device or a wgpu error while converting or
    /// compiling.
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Conv2dParams, DType, GpuContext, GpuConv2d, Precision};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let conv = GpuConv2d::new(&ctx, Array4::from_elem((3, 3, 2, 4), 0.1).view(), None, Conv2dParams::default())?;
    /// if !ctx.supports_f16() {
    ///     assert!(conv.with_precision(Precision::F16).unwrap_err().to_string().contains("SHADER_F16"));
    ///     return Ok(());
    /// }
    /// let half = conv.with_precision(Precision::F16)?;
    /// let y = half.forward(&Array4::<f32>::ones((1, 5, 5, 2)))?; // f32 in and out
    /// assert!((y[[0, 0, 0, 0]] - 1.8).abs() < 1e-2); // 18 x 0.1 (0.0999755859375 in f16)
    /// let x = ctx.upload_as(&Array4::<f32>::ones((1, 5, 5, 2)), DType::F16)?;
    /// assert_eq!(half.forward_tensor(&x)?.dtype(), DType::F16); // f16 on the device
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        if precision == self.precision {
            return Ok(self);
        }
        let dtype = precision.dtype();
        if dtype == DType::F16 && !self.ctx.supports_f16() {
            return Err(Conv2dError::MissingFeature {
                feature: "SHADER_F16",
                needed_for: "Precision::F16",
                adapter: self.ctx.adapter_info().name.clone(),
            });
        }
        compile_baseline(&self.ctx, &self.layer, dtype)?;
        self.weights = self.weights.converted(&self.ctx, &self.layer, dtype)?;
        self.precision = precision;
        self.cache = ShapeCache::default();
        self.prepare_weights()?;
        Ok(self)
    }

    /// The precision the layer runs in (see [`GpuConv2d::with_precision`]).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Device memory the layer's weights and bias take, in bytes (their
    /// buffers' sizes; output channels padded to a multiple of 4). Copies
    /// some kernels read are not counted: Winograd's transformed weights
    /// (16/9 of the weights, f32), the space-to-depth view's rearranged
    /// weights (strided layers with few channels: at most 1.5x the weights),
    /// and on CPU adapters without subgroups the weights copied into a texture.
    pub fn weight_bytes(&self) -> u64 {
        self.weights.device_bytes()
    }

    /// Runs the convolution on an NHWC input `(n, h, w, cin)` and returns the NHWC
    /// output `(n, ho, wo, cout)`. Any view works, contiguous or not. One submit:
    /// upload, dispatch and the copy back.
    ///
    /// # Errors
    /// A shape error against the layer, a tensor beyond `max_buffer_size` or a
    /// piece that cannot be split small enough, a lost device, a wgpu error
    /// captured during the dispatch, or a failed readback.
    pub fn forward<'a, V: AsArray<'a, f32, Ix4>>(&self, x: V) -> Result<Array4<f32>> {
        let x: ArrayView4<f32> = x.into();
        let shape = shape4(x.shape());
        let prepared = self.prepared(shape)?;
        let output_shape = prepared.plan.output_shape;
        self.run_host(x, &prepared, |values| shaped(output_shape, values.to_vec()))
    }

    /// The element type of the layer's inputs and outputs on the device.
    fn dtype(&self) -> DType {
        self.precision.dtype()
    }

    /// Hands the output in `bytes` (of the layer's dtype) to `use_values` as f32.
    fn with_output<T>(
        &self,
        bytes: &[u8],
        prepared: &Prepared,
        use_values: impl FnOnce(&[f32]) -> T,
    ) -> T {
        let len = prepared.plan.output_shape.iter().product();
        elements::with_f32(bytes, self.dtype(), len, use_values)
    }

    /// [`GpuConv2d::forward`] into an output array the caller owns: repeated
    /// calls on one input shape allocate nothing, on the host or the device
    /// (the layer keeps the shape's buffers and bind groups). Any views work.
    ///
    /// # Errors
    /// [`Conv2dError::OutputShape`] naming both shapes when `output` is not the
    /// layer's output for this input, and the errors of [`GpuConv2d::forward`].
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let conv = GpuConv2d::new(&ctx, Array4::ones((3, 3, 2, 4)).view(), None, Conv2dParams::default())?;
    /// let x = Array4::<f32>::ones((1, 8, 8, 2));
    /// let mut y = Array4::<f32>::zeros((1, 6, 6, 4));
    /// for _ in 0..3 {
    ///     conv.forward_into(&x, y.view_mut())?;
    /// }
    /// assert_eq!(y[[0, 0, 0, 0]], 18.0);
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn forward_into<'a, V: AsArray<'a, f32, Ix4>>(
        &self,
        input: V,
        mut output: ArrayViewMut4<f32>,
    ) -> Result<()> {
        let x: ArrayView4<f32> = input.into();
        let shape = shape4(x.shape());
        let prepared = self.prepared(shape)?;
        let expected = prepared.plan.output_shape;
        let got = shape4(output.shape());
        if got != expected {
            return Err(Conv2dError::OutputShape {
                input: shape,
                expected,
                got,
            });
        }
        self.run_host(x, &prepared, |values| {
            output
                .iter_mut()
                .zip(values)
                .for_each(|(out, &value)| *out = value);
        })
    }

    /// One host-to-host pass: write the input, dispatch, copy back, read the
    /// result with `use_values`. Uses the shape's cached buffers, or fresh
    /// ones while another thread holds them.
    fn run_host<T>(
        &self,
        x: ArrayView4<f32>,
        prepared: &Prepared,
        use_values: impl FnOnce(&[f32]) -> T,
    ) -> Result<T> {
        let Ok(mut host) = prepared.host.try_lock() else {
            let staging = self.submit_forward(x, prepared)?;
            return self.ctx.read_back_with(&staging, |bytes| {
                self.with_output(bytes, prepared, use_values)
            });
        };
        if host.is_none() {
            *host = Some(self.host_buffers(prepared)?);
        }
        let buffers = host.as_ref().expect("just filled");
        let x = x.as_standard_layout();
        let input_data = x.as_slice().expect("standard layout is contiguous");
        let input_data = elements::encode(input_data, self.dtype());
        let device = self.ctx.device();
        let result = self
            .ctx
            .capture("running a conv2d", || {
                let queue = self.ctx.queue();
                write_padded(queue, &buffers.input, input_data.bytes());
                let mut encoder = device.create_command_encoder(&Default::default());
                encode::record(&mut encoder, &buffers.work);
                let bytes = buffers.output_bytes;
                encoder.copy_buffer_to_buffer(&buffers.output, 0, &buffers.staging, 0, bytes);
                self.ctx.submit(encoder.finish());
                Ok(())
            })
            .and_then(|()| {
                self.ctx.read_back_with(&buffers.staging, |bytes| {
                    self.with_output(bytes, prepared, use_values)
                })
            });
        if result.is_err() {
            *host = None; // a failed call may leave them mapped or invalid
        }
        result
    }

    /// The async form of [`GpuConv2d::forward`]: the wait for the device happens
    /// off the executor's thread. Runs on any executor.
    ///
    /// # Errors
    /// As [`GpuConv2d::forward`].
    pub async fn forward_async<'a, V: AsArray<'a, f32, Ix4>>(&self, x: V) -> Result<Array4<f32>> {
        let x: ArrayView4<f32> = x.into();
        let prepared = self.prepared(shape4(x.shape()))?;
        let staging = self.submit_forward(x, &prepared)?;
        let values = self
            .ctx
            .read_back_async_with(&staging, |bytes| {
                self.with_output(bytes, &prepared, <[f32]>::to_vec)
            })
            .await?;
        Ok(shaped(prepared.plan.output_shape, values))
    }

    /// Runs the convolution on a device tensor and leaves the result on the
    /// device: no readback, so layers chain without host round trips.
    ///
    /// # Errors
    /// [`Conv2dError::ContextMismatch`] for a tensor of another context,
    /// [`Conv2dError::DTypeMismatch`] for a tensor whose element type is not
    /// the layer's ([`Precision::dtype`]), and the errors of
    /// [`GpuConv2d::forward`] but the readback.
    ///
    /// # Example
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Activation, Conv2dParams, GpuContext, GpuConv2d, Padding};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let same = Conv2dParams { padding: Padding::Same, activation: Activation::Relu, ..Default::default() };
    /// let first = GpuConv2d::new(&ctx, Array4::from_elem((3, 3, 3, 8), 0.1).view(), None, same)?;
    /// let second = GpuConv2d::new(&ctx, Array4::from_elem((1, 1, 8, 4), 0.5).view(), None, same)?;
    /// let x = ctx.upload(Array4::<f32>::ones((1, 16, 16, 3)).view())?;
    /// let y = second.forward_tensor(&first.forward_tensor(&x)?)?; // stays on the device
    /// assert_eq!(y.shape(), [1, 16, 16, 4]);
    /// let host = y.to_array()?; // the only readback
    /// assert!((host[[0, 8, 8, 0]] - 10.8).abs() < 1e-5); // 8 channels x (27 x 0.1) x 0.5
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn forward_tensor(&self, x: &GpuTensor) -> Result<GpuTensor> {
        self.check_tensor(x)?;
        let prepared = self.prepared(x.shape)?;
        let output_shape = prepared.plan.output_shape;
        let output_bytes = check_buffer("output", &output_shape, self.dtype(), self.ctx.limits())?;
        let output = self.ctx.capture("running a conv2d", || {
            let output = self.ctx.tensor_buffer(output_bytes);
            let mut encoder = self
                .ctx
                .device()
                .create_command_encoder(&Default::default());
            // Recycled output buffers repeat: their bind groups are cached.
            let work = prepared.bound(&x.buffer, &output, || {
                encode::bind(
                    &self.ctx,
                    &self.weights,
                    &x.buffer,
                    &output,
                    &prepared.dispatches,
                )
            })?;
            encode::record(&mut encoder, &work);
            self.ctx.submit(encoder.finish());
            Ok(output)
        })?;
        Ok(GpuTensor::new(
            self.ctx.clone(),
            output,
            output_shape,
            self.dtype(),
        ))
    }

    /// [`GpuConv2d::forward_tensor`] into an output tensor the caller made
    /// (with [`GpuContext::zeros`], or over its own buffer with
    /// [`GpuTensor::from_buffer`]): one submit; repeated calls on the same
    /// tensors create no buffers or bind groups.
    ///
    /// # Errors
    /// As [`GpuConv2d::encode`], and a wgpu error captured while submitting.
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let conv = GpuConv2d::new(&ctx, Array4::ones((1, 1, 2, 3)).view(), None, Conv2dParams::default())?;
    /// let x = ctx.upload(&Array4::<f32>::ones((1, 4, 4, 2)))?;
    /// let y = ctx.zeros(conv.output_shape(x.shape())?)?;
    /// conv.forward_tensor_into(&x, &y)?;
    /// assert_eq!(y.to_array()?[[0, 3, 3, 2]], 2.0);
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn forward_tensor_into(&self, input: &GpuTensor, output: &GpuTensor) -> Result<()> {
        self.ctx.capture("running a conv2d", || {
            let mut encoder = self
                .ctx
                .device()
                .create_command_encoder(&Default::default());
            self.encode(&mut encoder, input, output)?;
            self.ctx.submit(encoder.finish());
            Ok(())
        })
    }

    /// Records the layer's dispatches (split pieces included) into the
    /// caller's encoder, reading `input` and writing `output`; the caller
    /// submits. Everything is checked before anything is recorded.
    ///
    /// Until the submitted work completes, keep the layer, `input` and
    /// `output` alive (the recorded commands use their buffers; the layer owns
    /// the weights and uniform blocks). The dispatches go into a compute pass
    /// of their own, so the caller's passes before and after are ordered
    /// around them by wgpu.
    ///
    /// # Errors
    /// [`Conv2dError::ContextMismatch`] for a tensor of another context,
    /// [`Conv2dError::DTypeMismatch`] for a tensor whose element type is not
    /// the layer's, [`Conv2dError::AliasedTensors`] when `input` and `output` share a buffer
    /// (the kernels would race), [`Conv2dError::OutputShape`] naming both
    /// shapes, and the shape errors of [`GpuConv2d::forward`].
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let conv = GpuConv2d::new(&ctx, Array4::ones((3, 3, 1, 1)).view(), None, Conv2dParams::default())?;
    /// let x = ctx.upload(&Array4::<f32>::ones((1, 5, 5, 1)))?;
    /// let y = ctx.zeros([1, 3, 3, 1])?;
    /// let mut encoder = ctx.device().create_command_encoder(&Default::default());
    /// // ... the application's own passes ...
    /// conv.encode(&mut encoder, &x, &y)?;
    /// // ... more of its passes, reading y ...
    /// ctx.queue().submit([encoder.finish()]);
    /// assert_eq!(y.to_array()?[[0, 1, 1, 0]], 9.0);
    /// assert!(conv.encode(&mut ctx.device().create_command_encoder(&Default::default()), &x, &x).is_err());
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        input: &GpuTensor,
        output: &GpuTensor,
    ) -> Result<()> {
        self.check_tensor(input)?;
        self.check_tensor(output)?;
        if input.buffer == output.buffer {
            return Err(Conv2dError::AliasedTensors { shape: input.shape });
        }
        let prepared = self.prepared(input.shape)?;
        let expected = prepared.plan.output_shape;
        if output.shape != expected {
            return Err(Conv2dError::OutputShape {
                input: input.shape,
                expected,
                got: output.shape,
            });
        }
        let work = prepared.bound(&input.buffer, &output.buffer, || {
            encode::bind(
                &self.ctx,
                &self.weights,
                &input.buffer,
                &output.buffer,
                &prepared.dispatches,
            )
        })?;
        encode::record(encoder, &work);
        Ok(())
    }

    /// `Err(ContextMismatch)` for a tensor of another context,
    /// `Err(DTypeMismatch)` for one of another element type.
    fn check_tensor(&self, x: &GpuTensor) -> Result<()> {
        if !self.ctx.same_context(&x.ctx) {
            return Err(Conv2dError::ContextMismatch {
                shape: x.shape,
                tensor_adapter: x.ctx.adapter_info().name.clone(),
                layer_adapter: self.ctx.adapter_info().name.clone(),
            });
        }
        if x.dtype != self.dtype() {
            return Err(Conv2dError::DTypeMismatch {
                shape: x.shape,
                tensor: x.dtype,
                layer: self.dtype(),
            });
        }
        Ok(())
    }

    /// The algorithm a forward pass on an NHWC input of this shape runs: the one
    /// forced with [`GpuConv2d::with_algorithm`], else the fastest measured on
    /// this adapter when the context's tuning is
    /// [`Tuning::Measure`](crate::Tuning::Measure) (measured now if this layer
    /// and input shape are not in the tuning cache), else the heuristic's choice.
    /// Once a forward pass has planned a shape, its plan stays for as long as
    /// the layer keeps it (the last few shapes), even if the context's tuning is
    /// switched, and this reports the algorithm of that plan.
    ///
    /// # Errors
    /// The shape errors of [`GpuConv2d::forward`], or
    /// [`Conv2dError::UnsupportedAlgorithm`] when a forced algorithm cannot run it.
    pub fn algorithm_for(&self, input: [usize; 4]) -> Result<Algorithm> {
        let geometry = self.layer.geometry(input)?;
        // A shape already planned keeps its plan, whatever the tuning is now.
        if let Some(prepared) = self.cache.get(input) {
            return Ok(prepared.plan.choice.algorithm);
        }
        let facts = self.tuned_facts(input)?;
        let choice = choice::choose(facts, &geometry, DeviceCaps::of(&self.ctx))?;
        Ok(choice.algorithm)
    }

    /// [`GpuConv2d::facts`] with the algorithm measured for `input` when the
    /// context's tuning is `Measure` (measuring it now if it is not cached).
    fn tuned_facts(&self, input: [usize; 4]) -> Result<LayerFacts<'_>> {
        let slope = self.layer.params.activation.slope();
        let tuned = tuning::tuned_algorithm(&self.ctx, self.facts(), &self.weights, slope, input)?;
        Ok(LayerFacts {
            tuned,
            ..self.facts()
        })
    }

    /// The same layer, always run with `algorithm` (for tests and benchmarks).
    ///
    /// # Errors
    /// [`Conv2dError::UnsupportedAlgorithm`] when the algorithm cannot run this
    /// layer for any input. (`Gemm` also depends on the input; a forward pass on
    /// an input it cannot run returns that error then.)
    ///
    /// # Example
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Algorithm, Conv2dParams, GpuContext, GpuConv2d};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let conv = GpuConv2d::new(&ctx, Array4::ones((3, 3, 4, 8)).view(), None, Conv2dParams::default())?;
    /// assert_eq!(conv.algorithm_for([1, 32, 32, 4])?, Algorithm::ImplicitGemm);
    /// assert_eq!(conv.algorithm_for([1, 4, 4, 4])?, Algorithm::Direct); // too small to tile
    /// let direct = conv.with_algorithm(Algorithm::Direct)?;
    /// assert_eq!(direct.algorithm_for([1, 32, 32, 4])?, Algorithm::Direct);
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Result<Self> {
        choice::check_forcible(self.facts(), DeviceCaps::of(&self.ctx), algorithm)?;
        self.forced = Some(algorithm);
        self.cache = ShapeCache::default();
        self.prepare_weights()?;
        Ok(self)
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

    /// Forward passes this layer has planned: one per input shape while the
    /// shape stays among the last few it saw (a repeated shape reuses its plan,
    /// uniform blocks, buffers and bind groups).
    pub fn plans_built(&self) -> u64 {
        self.cache.plans_built()
    }

    fn facts(&self) -> LayerFacts<'_> {
        LayerFacts {
            layer: &self.layer,
            weight_chunks: self.weights.chunks.len(),
            forced: self.forced,
            tuned: None,
            dtype: self.dtype(),
            finite_weights: self.weights.finite,
        }
    }

    /// The prepared pass for `shape`, from the cache or planned now.
    fn prepared(&self, shape: [usize; 4]) -> Result<Arc<Prepared>> {
        let prepared = self.cache.get_or_prepare(shape, || {
            let facts = self.tuned_facts(shape)?;
            let plan = Plan::new(&self.ctx, facts, &self.weights.chunk_widths(), shape)?;
            let slope = self.layer.params.activation.slope();
            let dispatches = self.ctx.capture("preparing a conv2d", || {
                encode::dispatches(&self.ctx, &plan, &self.weights, slope)
            })?;
            Ok(Prepared {
                input_shape: shape,
                plan,
                dispatches,
                host: Default::default(),
                bound: Default::default(),
            })
        })?;
        self.ctx.check_alive()?;
        Ok(prepared)
    }

    /// Buffers and bind groups for host forwards of one shape.
    fn host_buffers(&self, prepared: &Prepared) -> Result<HostBuffers> {
        let limits = self.ctx.limits();
        let input_bytes = check_buffer("input", &prepared.input_shape, self.dtype(), limits)?;
        let output_bytes =
            check_buffer("output", &prepared.plan.output_shape, self.dtype(), limits)?;
        self.ctx.capture("preparing a conv2d", || {
            let input = self.ctx.new_tensor_buffer("conv2d input", input_bytes);
            let output = self.ctx.new_tensor_buffer("conv2d output", output_bytes);
            let staging = self.ctx.staging_buffer(output_bytes);
            let work = encode::bind(
                &self.ctx,
                &self.weights,
                &input,
                &output,
                &prepared.dispatches,
            )?;
            Ok(HostBuffers {
                input,
                output,
                staging,
                output_bytes,
                work,
            })
        })
    }

    /// Uploads `x` into fresh buffers, records the dispatches and the copy to
    /// a staging buffer, submits once, and returns the staging buffer.
    fn submit_forward(&self, x: ArrayView4<f32>, prepared: &Prepared) -> Result<wgpu::Buffer> {
        let limits = self.ctx.limits();
        check_buffer("input", &prepared.input_shape, self.dtype(), limits)?;
        let output_bytes =
            check_buffer("output", &prepared.plan.output_shape, self.dtype(), limits)?;
        let x = x.as_standard_layout();
        let input_data = x.as_slice().expect("standard layout is contiguous");
        let input_data = elements::encode(input_data, self.dtype());
        self.ctx.capture("running a conv2d", || {
            let input = self
                .ctx
                .tensor_buffer_init("conv2d input", input_data.bytes())?;
            let output = self.ctx.new_tensor_buffer("conv2d output", output_bytes);
            let staging = self.ctx.staging_buffer(output_bytes);
            let mut encoder = self
                .ctx
                .device()
                .create_command_encoder(&Default::default());
            self.record(&mut encoder, &input, &output, prepared)?;
            encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, output_bytes);
            self.ctx.submit(encoder.finish());
            Ok(staging)
        })
    }

    /// Binds `input` and `output` and records the pass into `encoder`.
    fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        prepared: &Prepared,
    ) -> Result<()> {
        let work = encode::bind(
            &self.ctx,
            &self.weights,
            input,
            output,
            &prepared.dispatches,
        )?;
        encode::record(encoder, &work);
        Ok(())
    }
}

impl std::fmt::Debug for GpuConv2d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuConv2d")
            .field("weights_shape", &self.layer.weights)
            .field("params", &self.layer.params)
            .field("has_bias", &self.has_bias)
            .field("forced", &self.forced)
            .field("precision", &self.precision)
            .field("cached_shapes", &self.cache.shapes())
            .field("adapter", &self.ctx.adapter_info().name)
            .finish()
    }
}

/// Compiles the direct kernel, which serves every layer, for `dtype`: a layer
/// that constructs is a layer that runs.
fn compile_baseline(ctx: &GpuContext, layer: &LayerShape, dtype: DType) -> Result<()> {
    pipelines::pipeline(
        ctx,
        PipelineKey {
            kind: KernelKind::Direct,
            dtype,
            activation: layer.params.activation.shader_code(),
            check_bounds: true,
            workgroup: KernelKind::Direct.workgroup_size(DeviceCaps::of(ctx).rows8),
            stores: Stores::Scalar,
            zero_padding: false,
        },
    )
    .map(drop)
}

/// Writes `bytes` at the start of `buffer`, padded with zeros to the 4 bytes
/// wgpu writes in (an f16 tensor of odd length).
fn write_padded(queue: &wgpu::Queue, buffer: &wgpu::Buffer, bytes: &[u8]) {
    let whole = bytes.len() - bytes.len() % 4;
    queue.write_buffer(buffer, 0, &bytes[..whole]);
    if whole < bytes.len() {
        let mut tail = [0u8; 4];
        tail[..bytes.len() - whole].copy_from_slice(&bytes[whole..]);
        queue.write_buffer(buffer, whole as u64, &tail);
    }
}
