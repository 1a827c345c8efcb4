//! A layer's weights and bias on the device: HWIO weights stored as
//! output-channel chunks that each fit one storage binding (usually one
//! chunk), each with its channel dimension padded to a multiple of 4 so that
//! every kernel can read them as vec4 columns.

use std::ops::Range;

use ndarray::{ArrayView1, ArrayView4};

use crate::conv::plan::{self, Budget};
use crate::runtime::context::GpuContext;
use crate::runtime::limits::check_buffer;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::LayerShape;

/// Output channels whose weights share one buffer.
pub(crate) struct WeightChunk {
    pub channels: Range<usize>,
    /// Floats per weight row: `channels.len()` rounded up to a multiple of 4.
    pub w_stride: usize,
    /// HWIO `(kh, kw, cin / groups, w_stride)`, the padding columns zero.
    pub buffer: wgpu::Buffer,
}

/// Weights and bias of one layer, uploaded once.
pub(crate) struct LayerWeights {
    pub chunks: Vec<WeightChunk>,
    /// `(cout)`, zeros when the layer has no bias.
    pub bias: wgpu::Buffer,
}

impl LayerWeights {
    /// Checks the sizes against the device's limits, packs and uploads.
    pub fn upload(
        ctx: &GpuContext,
        layer: &LayerShape,
        weights: ArrayView4<f32>,
        bias: Option<ArrayView1<f32>>,
    ) -> Result<Self> {
        let limits = ctx.limits();
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
        ctx.capture("uploading weights and bias", || {
            let chunks = chunks
                .into_iter()
                .map(|channels| {
                    let (w_stride, padded) = pack(weights, &channels);
                    let buffer = ctx.tensor_buffer_init("conv2d weights", &padded)?;
                    Ok(WeightChunk {
                        channels,
                        w_stride,
                        buffer,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let bias = ctx.tensor_buffer_init("conv2d bias", &bias_data)?;
            Ok(LayerWeights { chunks, bias })
        })
    }

    /// Output channels of each chunk.
    pub fn chunk_widths(&self) -> Vec<usize> {
        self.chunks.iter().map(|c| c.channels.len()).collect()
    }
}

/// The weights of output channels `channels`, HWIO with rows padded to a
/// multiple of 4 floats: (row stride, data).
fn pack(weights: ArrayView4<f32>, channels: &Range<usize>) -> (usize, Vec<f32>) {
    let w_stride = channels.len().next_multiple_of(4);
    let part = weights.slice(ndarray::s![.., .., .., channels.clone()]);
    let mut padded = vec![0.0f32; part.len() / channels.len() * w_stride];
    for (row, values) in padded.chunks_mut(w_stride).zip(part.rows()) {
        row[..values.len()]
            .iter_mut()
            .zip(values)
            .for_each(|(d, s)| *d = *s);
    }
    (w_stride, padded)
}
