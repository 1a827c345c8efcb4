//! `GpuConv2d`: a layer whose weights live on the device, and its forward passes.

use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::Arc;

use ndarray::{Array4, ArrayView1, ArrayView4};

use crate::algorithm::Algorithm;
use crate::buffers;
use crate::context::GpuContext;
use crate::cpu::shape4;
use crate::error::{Conv2dError, Result};
use crate::geometry::{ConvGeometry, LayerShape};
use crate::kernels::{KernelKind, PipelineKey, WORKGROUP_SIZE};
use crate::limits::{check_buffer, FoldedGrid};
use crate::params::Conv2dParams;
use crate::plan::{self, Budget, Piece};
use crate::tensor::{shaped, GpuTensor};

/// A Conv2D layer on the GPU: weights, bias and pipeline are uploaded and built
/// once by [`GpuConv2d::new`]; a forward pass only moves the input and output.
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
/// assert_eq!(y[[0, 0, 0, 0]], 18.0);
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub struct GpuConv2d {
    ctx: GpuContext,
    layer: LayerShape,
    has_bias: bool,
    /// Weights split by output channel so each chunk fits one binding (usually one chunk).
    weight_chunks: Vec<WeightChunk>,
    bias: wgpu::Buffer,
    /// Set by [`GpuConv2d::with_algorithm`]; otherwise chosen per input shape.
    forced: Option<Algorithm>,
    /// Buffers of the last `forward`, reused for the same input shape.
    reusable: std::sync::Mutex<Option<Reusable>>,
    /// The plan and uniform blocks of the last input shape, for every forward form.
    prepared: std::sync::Mutex<Option<Arc<Prepared>>>,
}

struct WeightChunk {
    channels: Range<usize>,
    /// Floats per weight row: `channels.len()` rounded up to a multiple of 4.
    w_stride: usize,
    /// HWIO `(kh, kw, cin / groups, w_stride)`, the padding columns zero.
    buffer: wgpu::Buffer,
}

/// The kernels' uniform block; field order matches `Params` in
/// `shaders/common.wgsl`, padded to a multiple of 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
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
    in_base: u32,
    out_base: u32,
    oc_offset: u32,
    chunk_c: u32,
    w_stride: u32,
    in_c_offset: u32,
    col_offset4: u32,
    _pad: u32,
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
        let has_bias = bias.is_some();
        ctx.check_alive()?;
        let limits = &ctx.inner.limits;
        check_buffer("weights", &layer.weights, limits)?;
        check_buffer("bias", &[layer.out_channels()], limits)?;
        let budget = Budget::new(limits, 1);
        let chunks = plan::weight_chunks(layer.weights, &budget)?;
        if layer.out_channels() as u64 > budget.binding_elements {
            return Err(Conv2dError::TensorTooLarge {
                tensor: "bias",
                shape: vec![layer.out_channels()],
                bytes: layer.out_channels() as u64 * 4,
                limit_name: "max_storage_buffer_binding_size",
                limit: limits.max_storage_buffer_binding_size,
            });
        }
        let bias_data = match bias {
            Some(b) => b.to_vec(),
            None => vec![0.0; layer.out_channels()],
        };
        let device = &ctx.inner.device;
        // The baseline kernel serves every layer: compile it now so that a
        // layer that constructs is a layer that runs.
        ctx.inner.kernels.pipeline(
            device,
            limits,
            PipelineKey {
                kind: KernelKind::Direct,
                activation: params.activation.shader_code(),
                check_bounds: true,
            },
        )?;
        let (weight_chunks, bias) = ctx.capture("uploading weights and bias", || {
            let chunks = chunks
                .into_iter()
                .map(|channels| {
                    let w_stride = channels.len().next_multiple_of(4);
                    let part = weights.slice(ndarray::s![.., .., .., channels.clone()]);
                    let mut padded = vec![0.0f32; part.len() / channels.len() * w_stride];
                    for (row, values) in padded.chunks_mut(w_stride).zip(part.rows()) {
                        row[..values.len()]
                            .iter_mut()
                            .zip(values)
                            .for_each(|(d, s)| *d = *s);
                    }
                    let buffer = buffers::tensor_init(device, "conv2d weights", &padded)?;
                    Ok(WeightChunk {
                        channels,
                        w_stride,
                        buffer,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((
                chunks,
                buffers::tensor_init(device, "conv2d bias", &bias_data)?,
            ))
        })?;
        Ok(GpuConv2d {
            ctx: ctx.clone(),
            layer,
            has_bias,
            weight_chunks,
            bias,
            forced: None,
            reusable: std::sync::Mutex::new(None),
            prepared: std::sync::Mutex::new(None),
        })
    }

    /// Runs the convolution on an NHWC input `(n, h, w, cin)` and returns the NHWC
    /// output `(n, ho, wo, cout)`. Any view works, contiguous or not. One submit:
    /// upload, dispatch and the copy back.
    ///
    /// # Errors
    /// A shape error against the layer, a tensor beyond `max_buffer_size` or a
    /// piece that cannot be split small enough, a lost device, a wgpu error
    /// captured during the dispatch, or a failed readback.
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        // Another thread is using this layer's buffers: use fresh ones.
        let Ok(mut reusable) = self.reusable.try_lock() else {
            let (staging, shape) = self.submit_forward(x)?;
            return shaped(shape, self.ctx.read_back(&staging)?);
        };
        let shape = shape4(x.shape());
        if reusable.as_ref().is_none_or(|r| r.input_shape != shape) {
            *reusable = None;
            *reusable = Some(self.reusable_for(shape)?);
        }
        let r = reusable.as_ref().expect("just filled");
        let x = x.as_standard_layout();
        let input_data = x.as_slice().expect("standard layout is contiguous");
        let device = &self.ctx.inner.device;
        let result = self
            .ctx
            .capture("running a conv2d", || {
                self.ctx
                    .queue()
                    .write_buffer(&r.input, 0, bytemuck::cast_slice(input_data));
                let mut encoder = device.create_command_encoder(&Default::default());
                record(&mut encoder, &r.pipeline, &r.work);
                encoder.copy_buffer_to_buffer(&r.output, 0, &r.staging, 0, r.output_bytes);
                self.ctx.submit(encoder.finish());
                Ok(())
            })
            .and_then(|()| self.ctx.read_back(&r.staging))
            .and_then(|values| shaped(r.output_shape, values));
        if result.is_err() {
            *reusable = None; // a failed call may leave them mapped or invalid
        }
        result
    }

    /// Plans a forward pass for `shape` and makes the buffers it reuses.
    fn reusable_for(&self, shape: [usize; 4]) -> Result<Reusable> {
        let prepared = self.prepared(shape)?;
        let run = &prepared.run;
        let limits = &self.ctx.inner.limits;
        let input_bytes = check_buffer("input", &shape, limits)?;
        let output_bytes = check_buffer("output", &run.output_shape, limits)?;
        let device = &self.ctx.inner.device;
        self.ctx.capture("preparing a conv2d", || {
            let input = buffers::tensor(device, "conv2d input", input_bytes);
            let output = buffers::tensor(device, "conv2d output", output_bytes);
            let staging = buffers::staging(device, output_bytes);
            let work = self.bind(&input, &output, &prepared.dispatches)?;
            Ok(Reusable {
                input_shape: shape,
                output_shape: run.output_shape,
                output_bytes,
                input,
                output,
                staging,
                pipeline: run.pipeline.clone(),
                work,
            })
        })
    }

    /// The async form of [`GpuConv2d::forward`]: the wait for the device happens
    /// off the executor's thread. Runs on any executor.
    ///
    /// # Errors
    /// As [`GpuConv2d::forward`].
    pub async fn forward_async(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let (staging, shape) = self.submit_forward(x)?;
        shaped(shape, self.ctx.read_back_async(&staging).await?)
    }

    /// Runs the convolution on a device tensor and leaves the result on the
    /// device: no readback, so layers chain without host round trips.
    ///
    /// # Errors
    /// [`Conv2dError::ContextMismatch`] for a tensor of another context, and the
    /// errors of [`GpuConv2d::forward`] but the readback.
    ///
    /// # Example
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CI").is_none() { return Ok(()); } // no adapter here
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
        if !self.ctx.same_context(&x.ctx) {
            return Err(Conv2dError::ContextMismatch {
                shape: x.shape,
                tensor_adapter: x.ctx.inner.info.name.clone(),
                layer_adapter: self.ctx.inner.info.name.clone(),
            });
        }
        let prepared = self.prepared(x.shape)?;
        let run = &prepared.run;
        let device = &self.ctx.inner.device;
        let output_bytes = check_buffer("output", &run.output_shape, &self.ctx.inner.limits)?;
        let output = self.ctx.capture("running a conv2d", || {
            let output = self.ctx.tensor_buffer(output_bytes);
            let mut encoder = device.create_command_encoder(&Default::default());
            self.encode(&mut encoder, &x.buffer, &output, &prepared)?;
            self.ctx.submit(encoder.finish());
            Ok(output)
        })?;
        Ok(GpuTensor {
            ctx: self.ctx.clone(),
            buffer: output,
            shape: run.output_shape,
        })
    }

    /// The algorithm a forward pass on an NHWC input of this shape runs: the one
    /// forced with [`GpuConv2d::with_algorithm`], or the heuristic's choice.
    ///
    /// # Errors
    /// The shape errors of [`GpuConv2d::forward`], or
    /// [`Conv2dError::UnsupportedAlgorithm`] when a forced algorithm cannot run it.
    pub fn algorithm_for(&self, input: [usize; 4]) -> Result<Algorithm> {
        let geometry = self.layer.geometry(input)?;
        self.choose(&geometry)
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
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CI").is_none() { return Ok(()); } // no adapter here
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
        // A representative input: the kernel's own extent, unpadded.
        let p = &self.layer.params;
        let probe = [
            1,
            (self.layer.weights[0] - 1) * p.dilation[0] + 1,
            (self.layer.weights[1] - 1) * p.dilation[1] + 1,
            self.layer.in_channels()?,
        ];
        let probe = LayerShape {
            params: Conv2dParams {
                padding: crate::params::Padding::Valid,
                ..*p
            },
            ..self.layer
        }
        .geometry(probe)?;
        let needs_input = algorithm == Algorithm::Gemm;
        if let (Some(reason), false) = (algorithm.unsupported(&probe), needs_input) {
            return Err(unsupported(algorithm, reason, &self.layer));
        }
        self.forced = Some(algorithm);
        self.reusable = std::sync::Mutex::new(None);
        self.prepared = std::sync::Mutex::new(None);
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

    /// Uploads `x`, encodes the dispatches and the copy to a staging buffer, submits once.
    fn submit_forward(&self, x: ArrayView4<f32>) -> Result<(wgpu::Buffer, [usize; 4])> {
        let prepared = self.prepared(shape4(x.shape()))?;
        let run = &prepared.run;
        let limits = &self.ctx.inner.limits;
        check_buffer("input", &shape4(x.shape()), limits)?;
        let output_bytes = check_buffer("output", &run.output_shape, limits)?;
        let x = x.as_standard_layout();
        let input_data = x.as_slice().expect("standard layout is contiguous");
        let device = &self.ctx.inner.device;
        let staging = self.ctx.capture("running a conv2d", || {
            let input = buffers::tensor_init(device, "conv2d input", input_data)?;
            let output = buffers::tensor(device, "conv2d output", output_bytes);
            let staging = buffers::staging(device, output_bytes);
            let mut encoder = device.create_command_encoder(&Default::default());
            self.encode(&mut encoder, &input, &output, &prepared)?;
            encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, output_bytes);
            self.ctx.submit(encoder.finish());
            Ok(staging)
        })?;
        Ok((staging, run.output_shape))
    }

    fn choose(&self, g: &ConvGeometry) -> Result<Algorithm> {
        // Grouped implicit GEMMs dispatch per group inside one weight chunk.
        let grouped_split = g.groups > 1 && self.weight_chunks.len() > 1;
        match self.forced {
            None => match Algorithm::select(g, self.ctx.caps()) {
                Algorithm::ImplicitGemm if grouped_split => Ok(Algorithm::Direct),
                chosen => Ok(chosen),
            },
            Some(Algorithm::ImplicitGemm) if grouped_split => Err(unsupported(
                Algorithm::ImplicitGemm,
                "grouped layers whose weights exceed one storage binding run on the direct kernel",
                &self.layer,
            )),
            Some(forced) => match forced.unsupported(g) {
                None => Ok(forced),
                Some(reason) => Err(unsupported(forced, reason, &self.layer)),
            },
        }
    }

    /// Checks the input shape, picks the algorithm and its kernel, and splits
    /// the work to fit the device's limits.
    fn plan(&self, input: [usize; 4]) -> Result<Run> {
        let geometry = self.layer.geometry(input)?;
        let algorithm = self.choose(&geometry)?;
        crate::trace::span!("conv2d.plan", input = ?input, algorithm = ?algorithm);
        let (lowered, kind) = algorithm
            .lower(&geometry, self.ctx.caps())
            .expect("choose returns algorithms that support the geometry");
        self.ctx.check_alive()?;
        let limits = &self.ctx.inner.limits;
        let budget = Budget::new(
            limits,
            u64::from(WORKGROUP_SIZE) * kind.min_outputs_per_invocation(),
        );
        let widest = self
            .weight_chunks
            .iter()
            .map(|c| c.channels.len())
            .max()
            .unwrap_or(1);
        let pieces = plan::pieces(&lowered, widest, &budget)?;
        // The tiled kernel's edge checks go when its 64 x 64 x 16 tiles divide
        // every dispatch exactly.
        let depth = lowered.k_h * lowered.k_w * lowered.in_c;
        let tiles_divide = depth % 16 == 0
            && self
                .weight_chunks
                .iter()
                .all(|c| c.channels.len() % 64 == 0)
            && pieces
                .iter()
                .all(|p| (p.images.len() * p.out_rows.len() * lowered.out_w) % 64 == 0);
        let pipeline = self.ctx.inner.kernels.pipeline(
            &self.ctx.inner.device,
            limits,
            PipelineKey {
                kind,
                activation: self.layer.params.activation.shader_code(),
                check_bounds: kind != KernelKind::IgemmTiled || !tiles_divide,
            },
        )?;
        Ok(Run {
            geometry: lowered,
            output_shape: geometry.output_shape(),
            kind,
            pieces,
            pipeline,
        })
    }

    /// One dispatch per (piece, weight chunk), into one compute pass.
    fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        prepared: &Prepared,
    ) -> Result<()> {
        let work = self.bind(input, output, &prepared.dispatches)?;
        record(encoder, &prepared.run.pipeline, &work);
        Ok(())
    }

    /// The uniform block, grid and bound element ranges of every dispatch of
    /// `run` (one per piece and weight chunk). They depend on the input shape
    /// only, so they are made once per shape and reused.
    fn dispatches(&self, run: &Run) -> Result<Vec<Dispatch>> {
        let device = &self.ctx.inner.device;
        let limits = &self.ctx.inner.limits;
        let alignment = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
        let g = &run.geometry;
        let mut dispatches = Vec::new();
        for piece in &run.pieces {
            let (input, output) = (piece.input_elements(g), piece.output_elements(g));
            let (in_base, out_base) = (base(&input, alignment), base(&output, alignment));
            // The implicit GEMMs run a grouped layer as one GEMM per group
            // (the layer then has one weight chunk: see `choose`).
            let (cin_g, cout_g) = (g.in_c_per_group(), g.out_c_per_group());
            let per_group = run.kind.is_register_gemm() && g.groups > 1;
            let sub_dispatches = self
                .weight_chunks
                .iter()
                .enumerate()
                .flat_map(|(i, chunk)| {
                    let groups = if per_group { g.groups } else { 1 };
                    (0..groups).map(move |group| {
                        if per_group {
                            (i, chunk, group * cout_g, cout_g, group * cin_g)
                        } else {
                            (i, chunk, chunk.channels.start, chunk.channels.len(), 0)
                        }
                    })
                });
            for (chunk_index, chunk, oc_offset, channels, in_c_offset) in sub_dispatches {
                let rows = (piece.images.len() * piece.out_rows.len()) as u64;
                let (groups, total) =
                    run.kind
                        .dispatch(rows, g.out_w as u64, channels as u64, chunk.w_stride as u64);
                let grid = FoldedGrid::new(groups, limits.max_compute_workgroups_per_dimension)
                    .ok_or(Conv2dError::DispatchTooLarge {
                        output_shape: run.output_shape,
                        outputs: rows * g.out_w as u64 * channels as u64,
                        max_per_dimension: limits.max_compute_workgroups_per_dimension,
                    })?;
                let params = ConvParams {
                    batch: piece.images.len() as u32,
                    in_h: piece.in_rows.len() as u32,
                    in_w: g.in_w as u32,
                    in_c: g.in_c as u32,
                    out_h: piece.out_rows.len() as u32,
                    out_w: g.out_w as u32,
                    out_c: g.out_c as u32,
                    k_h: g.k_h as u32,
                    k_w: g.k_w as u32,
                    stride_h: g.stride[0] as u32,
                    stride_w: g.stride[1] as u32,
                    dilation_h: g.dilation[0] as u32,
                    dilation_w: g.dilation[1] as u32,
                    pad_top: piece.local_pad_top(g) as i32,
                    pad_left: g.pad_left as i32,
                    in_c_per_group: g.in_c_per_group() as u32,
                    out_c_per_group: g.out_c_per_group() as u32,
                    total: total as u32,
                    row_stride: grid.x * WORKGROUP_SIZE,
                    leaky_slope: self.layer.params.activation.slope(),
                    in_base,
                    out_base,
                    oc_offset: oc_offset as u32,
                    chunk_c: channels as u32,
                    w_stride: chunk.w_stride as u32,
                    in_c_offset: in_c_offset as u32,
                    col_offset4: ((oc_offset - chunk.channels.start) / 4) as u32,
                    _pad: 0,
                };
                let uniform = buffers::init(
                    device,
                    "conv2d params",
                    bytemuck::bytes_of(&params),
                    wgpu::BufferUsages::UNIFORM,
                )?;
                dispatches.push(Dispatch {
                    uniform,
                    grid,
                    input: input.clone(),
                    output: output.clone(),
                    chunk: chunk_index,
                });
            }
        }
        Ok(dispatches)
    }

    /// Bind groups for `dispatches` over these input and output buffers.
    fn bind(
        &self,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        dispatches: &[Dispatch],
    ) -> Result<Vec<(wgpu::BindGroup, FoldedGrid)>> {
        let device = &self.ctx.inner.device;
        let layout = self.ctx.inner.kernels.layout(device)?;
        let alignment = u64::from(self.ctx.inner.limits.min_storage_buffer_offset_alignment).max(4);
        Ok(dispatches
            .iter()
            .map(|d| {
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("conv2d"),
                    layout: &layout,
                    entries: &[
                        binding(0, sub_binding(input, &d.input, alignment)),
                        binding(
                            1,
                            self.weight_chunks[d.chunk]
                                .buffer
                                .as_entire_buffer_binding(),
                        ),
                        binding(2, self.bias.as_entire_buffer_binding()),
                        binding(3, sub_binding(output, &d.output, alignment)),
                        binding(4, d.uniform.as_entire_buffer_binding()),
                    ],
                });
                (bind_group, d.grid)
            })
            .collect())
    }

    /// The plan and uniform blocks for `shape`: the last one's when the shape
    /// repeats (no planning or uniform uploads per call), else new.
    fn prepared(&self, shape: [usize; 4]) -> Result<Arc<Prepared>> {
        let mut last = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = last.as_ref().filter(|p| p.input_shape == shape) {
            self.ctx.check_alive()?;
            return Ok(p.clone());
        }
        let run = self.plan(shape)?;
        let dispatches = self
            .ctx
            .capture("preparing a conv2d", || self.dispatches(&run))?;
        let prepared = Arc::new(Prepared {
            input_shape: shape,
            run,
            dispatches,
        });
        *last = Some(prepared.clone());
        Ok(prepared)
    }
}

/// One dispatch of a forward pass, independent of the buffers it will bind.
struct Dispatch {
    uniform: wgpu::Buffer,
    grid: FoldedGrid,
    /// Elements of the input and output it binds.
    input: Range<u64>,
    output: Range<u64>,
    /// Index of its weight chunk.
    chunk: usize,
}

/// A forward pass planned for one input shape.
struct Prepared {
    input_shape: [usize; 4],
    run: Run,
    dispatches: Vec<Dispatch>,
}

/// The dispatches of one forward pass, in one compute pass.
fn record(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    work: &[(wgpu::BindGroup, FoldedGrid)],
) {
    crate::trace::span!("conv2d.dispatch", dispatches = work.len());
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("conv2d"),
        timestamp_writes: None,
    });
    pass.set_pipeline(pipeline);
    for (bind_group, grid) in work {
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(grid.x, grid.y, 1);
    }
}

/// Buffers and bind groups of the last host-to-host forward pass, reused while
/// the input shape stays the same: a repeated call only writes the input,
/// dispatches, and reads back.
struct Reusable {
    input_shape: [usize; 4],
    output_shape: [usize; 4],
    output_bytes: u64,
    input: wgpu::Buffer,
    output: wgpu::Buffer,
    staging: wgpu::Buffer,
    pipeline: std::sync::Arc<wgpu::ComputePipeline>,
    work: Vec<(wgpu::BindGroup, FoldedGrid)>,
}

/// Everything one forward pass needs, decided before touching the device.
struct Run {
    /// The geometry the kernel sees (a GEMM view for `Algorithm::Gemm`).
    geometry: ConvGeometry,
    output_shape: [usize; 4],
    kind: KernelKind,
    pieces: Vec<Piece>,
    pipeline: Arc<wgpu::ComputePipeline>,
}

fn unsupported(algorithm: Algorithm, reason: &'static str, layer: &LayerShape) -> Conv2dError {
    Conv2dError::UnsupportedAlgorithm {
        algorithm: format!("{algorithm:?}"),
        reason,
        weights_shape: layer.weights,
        groups: layer.params.groups,
    }
}

/// A binding of `elements` of an f32 buffer, from the aligned offset at or
/// below their start (see [`base`]).
fn sub_binding<'a>(
    buffer: &'a wgpu::Buffer,
    elements: &Range<u64>,
    alignment: u64,
) -> wgpu::BufferBinding<'a> {
    let start = elements.start * 4;
    let offset = start - start % alignment;
    wgpu::BufferBinding {
        buffer,
        offset,
        size: NonZeroU64::new(elements.end * 4 - offset),
    }
}

/// Index, within its binding, of the first of `elements` (see [`sub_binding`]).
fn base(elements: &Range<u64>, alignment: u64) -> u32 {
    ((elements.start * 4 % alignment) / 4) as u32
}

fn binding(index: u32, buffer: wgpu::BufferBinding<'_>) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding: index,
        resource: wgpu::BindingResource::Buffer(buffer),
    }
}
