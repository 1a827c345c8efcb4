//! `GpuSequential`: layers run one after another on a device tensor, recorded
//! into one encoder and submitted once, with the intermediate tensors kept per
//! input shape and reused between calls.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::conv::layer::GpuConv2d;
use crate::runtime::context::GpuContext;
use crate::runtime::tensor::GpuTensor;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::precision::DType;

/// Input shapes whose intermediate tensors a stack keeps.
const SHAPES_KEPT: usize = 2;

/// A stack of [`GpuConv2d`] layers applied in order: one submit per call, no
/// readback until the caller asks, intermediate buffers reused between calls.
///
/// ```
/// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
/// use conv2d_wgpu::{Activation, Conv2dParams, GpuContext, GpuConv2d, GpuSequential, Padding};
/// use ndarray::Array4;
/// let ctx = GpuContext::new()?;
/// let same = Conv2dParams { padding: Padding::Same, activation: Activation::Relu, ..Default::default() };
/// let stack = GpuSequential::new(vec![
///     GpuConv2d::new(&ctx, Array4::from_elem((3, 3, 3, 8), 0.1).view(), None, same)?,
///     GpuConv2d::new(&ctx, Array4::from_elem((1, 1, 8, 4), 0.5).view(), None, same)?,
/// ])?;
/// let x = ctx.upload(&Array4::<f32>::ones((1, 16, 16, 3)))?;
/// let before = ctx.stats();
/// let y = stack.forward_tensor(&x)?;
/// assert_eq!(ctx.stats().submits - before.submits, 1);
/// assert!((y.to_array()?[[0, 8, 8, 0]] - 10.8).abs() < 1e-5);
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub struct GpuSequential {
    ctx: GpuContext,
    layers: Vec<GpuConv2d>,
    /// Per input shape, the tensors between layers (most recent first).
    intermediates: Mutex<VecDeque<([usize; 4], Vec<GpuTensor>)>>,
}

impl GpuSequential {
    /// A stack of `layers`, all on one context.
    ///
    /// # Errors
    /// [`Conv2dError::EmptySequential`] for no layers,
    /// [`Conv2dError::ContextMismatch`] for layers of different contexts,
    /// [`Conv2dError::DTypeMismatch`] for layers of different precisions (an
    /// f32 layer's output cannot feed an f16 layer; the error names the later
    /// layer's weights shape and both element types).
    pub fn new(layers: Vec<GpuConv2d>) -> Result<Self> {
        let first = layers.first().ok_or(Conv2dError::EmptySequential)?;
        let ctx = first.context().clone();
        for layer in &layers {
            if !ctx.same_context(layer.context()) {
                return Err(Conv2dError::ContextMismatch {
                    shape: layer.weights_shape(),
                    tensor_adapter: layer.context().adapter_info().name.clone(),
                    layer_adapter: ctx.adapter_info().name.clone(),
                });
            }
        }
        for pair in layers.windows(2) {
            let (from, to) = (pair[0].precision().dtype(), pair[1].precision().dtype());
            if from != to {
                return Err(Conv2dError::DTypeMismatch {
                    shape: pair[1].weights_shape(),
                    tensor: from,
                    layer: to,
                });
            }
        }
        Ok(GpuSequential {
            ctx,
            layers,
            intermediates: Mutex::new(VecDeque::new()),
        })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[GpuConv2d] {
        &self.layers
    }

    /// The output shape for an NHWC input shape, through every layer.
    ///
    /// # Errors
    /// The first layer's shape error.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        self.layers
            .iter()
            .try_fold(input, |shape, layer| layer.output_shape(shape))
    }

    /// Runs the stack on `x` into a new device tensor: one submit.
    ///
    /// # Errors
    /// As [`GpuSequential::encode`].
    pub fn forward_tensor(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let shape = self.output_shape(x.shape())?;
        let dtype = self.dtype();
        let bytes =
            crate::runtime::limits::check_buffer("output", &shape, dtype, self.ctx.limits())?;
        // A dropped tensor's buffer of this size when there is one.
        let output = GpuTensor::new(
            self.ctx.clone(),
            self.ctx.tensor_buffer(bytes),
            shape,
            dtype,
        );
        self.forward_tensor_into(x, &output)?;
        Ok(output)
    }

    /// Runs the stack from `input` into `output`: one submit; repeated calls
    /// on the same tensors create no buffers or bind groups.
    ///
    /// # Errors
    /// As [`GpuSequential::encode`], and a wgpu error captured while submitting.
    pub fn forward_tensor_into(&self, input: &GpuTensor, output: &GpuTensor) -> Result<()> {
        self.ctx.capture("running a conv2d stack", || {
            let mut encoder = self
                .ctx
                .device()
                .create_command_encoder(&Default::default());
            self.encode(&mut encoder, input, output)?;
            self.ctx.submit(encoder.finish());
            Ok(())
        })
    }

    /// Records every layer into the caller's encoder (see
    /// [`GpuConv2d::encode`] for what to keep alive until the submit completes).
    ///
    /// # Errors
    /// The errors of [`GpuConv2d::encode`] for the first layer that has one
    /// (checked before anything is recorded).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        input: &GpuTensor,
        output: &GpuTensor,
    ) -> Result<()> {
        let expected = self.output_shape(input.shape())?;
        if output.shape() != expected {
            return Err(Conv2dError::OutputShape {
                input: input.shape(),
                expected,
                got: output.shape(),
            });
        }
        let mut kept = self.intermediates.lock().unwrap_or_else(|p| p.into_inner());
        let position = kept.iter().position(|(shape, _)| *shape == input.shape());
        let (shape, tensors) = match position {
            Some(i) => kept.remove(i).expect("the position is in range"),
            None => (input.shape(), self.make_intermediates(input.shape())?),
        };
        let last = self.layers.len() - 1;
        let mut result = Ok(());
        for (i, layer) in self.layers.iter().enumerate() {
            let from = if i == 0 { input } else { &tensors[i - 1] };
            let to = if i == last { output } else { &tensors[i] };
            result = layer.encode(encoder, from, to);
            if result.is_err() {
                break;
            }
        }
        kept.push_front((shape, tensors));
        kept.truncate(SHAPES_KEPT);
        result
    }

    /// The tensors between layers for an input of `shape`.
    fn make_intermediates(&self, shape: [usize; 4]) -> Result<Vec<GpuTensor>> {
        let mut tensors = Vec::new();
        let mut shape = shape;
        for layer in &self.layers[..self.layers.len() - 1] {
            shape = layer.output_shape(shape)?;
            tensors.push(self.ctx.zeros_as(shape, self.dtype())?);
        }
        Ok(tensors)
    }

    /// The element type of every tensor in the stack (`new` checks they agree).
    fn dtype(&self) -> DType {
        self.layers[0].precision().dtype()
    }
}

impl std::fmt::Debug for GpuSequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuSequential")
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}
