//! A layer's weights and bias on the device: HWIO weights stored as
//! output-channel chunks that each fit one storage binding (usually one
//! chunk), each with its channel dimension padded to a multiple of 4 so that
//! every kernel can read them as vec4 columns; f32, or f16 for
//! `Precision::F16` layers.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use ndarray::{ArrayView1, ArrayView4};

use crate::conv::kernels::{KernelKind, Stores, WEIGHT_TEXTURE_WIDTH, WORKGROUP_SIZE};
use crate::conv::pipelines::{self, PipelineKey};
use crate::conv::plan::{self, Budget};
use crate::conv::space_to_depth;
use crate::conv::uniform::KernelParams;
use crate::conv::winograd;
use crate::runtime::context::GpuContext;
use crate::runtime::elements;
use crate::runtime::limits::check_buffer;
use crate::runtime::limits::FoldedGrid;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::LayerShape;
use crate::semantics::precision::DType;

/// Output channels whose weights share one buffer.
pub(crate) struct WeightChunk {
    pub channels: Range<usize>,
    /// Elements per weight row: `channels.len()` rounded up to a multiple of 4.
    pub w_stride: usize,
    /// HWIO `(kh, kw, cin / groups, w_stride)`, the padding columns zero.
    pub buffer: wgpu::Buffer,
}

/// Weights and bias of one layer, uploaded once.
pub(crate) struct LayerWeights {
    pub chunks: Vec<WeightChunk>,
    /// `(cout)`, zeros when the layer has no bias.
    pub bias: wgpu::Buffer,
    /// The element type of both.
    pub dtype: DType,
    /// Every weight, as stored, is finite: the register-tiled GEMMs may then
    /// read padding as zeros (`Choice::zero_padding`).
    pub finite: bool,
    /// Winograd's transform of the weights (`conv/winograd.rs`), f32, made
    /// on the device by `GpuConv2d::new` where the heuristic runs Winograd,
    /// or by `with_algorithm(Winograd)`, else by the first plan that does.
    winograd: Mutex<Option<wgpu::Buffer>>,
    /// The weights rearranged for the space-to-depth view
    /// (`conv/space_to_depth.rs`), made like `winograd`.
    space_to_depth: Mutex<Option<wgpu::Buffer>>,
    /// Weights copied into textures for the kernels that read them from one,
    /// made by the first plan that needs each.
    textures: Mutex<HashMap<TextureSource, wgpu::TextureView>>,
}

/// Which weights a texture holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TextureSource {
    Chunk(usize),
    /// Winograd's transform, of a layer with this many input channels per group.
    Winograd {
        group_in_c: usize,
    },
    /// The space-to-depth view's weights (`LayerWeights::space_to_depth`).
    SpaceToDepth {
        kernel: [usize; 3],
        stride: [usize; 2],
    },
}

/// Rows of a weights texture `WEIGHT_TEXTURE_WIDTH` texels wide holding
/// `texels` vec4 (the last row partly filled).
pub(crate) fn texture_rows(texels: u64) -> u64 {
    texels.div_ceil(u64::from(WEIGHT_TEXTURE_WIDTH))
}

impl LayerWeights {
    /// Checks the sizes against the device's limits, packs and uploads as `dtype`.
    pub fn upload(
        ctx: &GpuContext,
        layer: &LayerShape,
        weights: ArrayView4<f32>,
        bias: Option<ArrayView1<f32>>,
        dtype: DType,
    ) -> Result<Self> {
        let budget = check(ctx, layer, dtype)?;
        let chunks = plan::weight_chunks(layer.weights, &budget)?;
        let bias_data = match bias {
            Some(b) => b.to_vec(),
            None => vec![0.0; layer.out_channels()],
        };
        ctx.capture("uploading weights and bias", || {
            let chunks = chunks
                .into_iter()
                .map(|channels| {
                    let (w_stride, padded) = pack(weights, &channels);
                    let encoded = elements::encode(&padded, dtype);
                    let buffer = ctx.tensor_buffer_init("conv2d weights", encoded.bytes())?;
                    Ok(WeightChunk {
                        channels,
                        w_stride,
                        buffer,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let encoded = elements::encode(&bias_data, dtype);
            let bias = ctx.tensor_buffer_init("conv2d bias", encoded.bytes())?;
            Ok(LayerWeights {
                chunks,
                bias,
                dtype,
                finite: elements::all_finite(weights.iter().copied(), dtype),
                winograd: Mutex::default(),
                space_to_depth: Mutex::default(),
                textures: Mutex::default(),
            })
        })
    }

    /// The same weights stored as `dtype` (each value rounded once when
    /// narrowing), read back from the device and uploaded again (blocking).
    /// The chunks stay as they are: a narrower type only needs less room.
    pub fn converted(&self, ctx: &GpuContext, layer: &LayerShape, dtype: DType) -> Result<Self> {
        check(ctx, layer, dtype)?;
        // The buffer as `dtype`, and whether all its values are finite so.
        let convert = |buffer: &wgpu::Buffer, elements: usize| -> Result<(wgpu::Buffer, bool)> {
            let staging = ctx.copy_to_staging(buffer, "reading weights back")?;
            let values = ctx.read_back_with(&staging, |bytes| {
                elements::with_f32(bytes, self.dtype, elements, <[f32]>::to_vec)
            })?;
            let finite = elements::all_finite(values.iter().copied(), dtype);
            let encoded = elements::encode(&values, dtype);
            let buffer = ctx.capture("uploading weights and bias", || {
                ctx.tensor_buffer_init("conv2d weights", encoded.bytes())
            })?;
            Ok((buffer, finite))
        };
        let per_column = layer.weights[..3].iter().product::<usize>();
        let mut finite = true;
        let chunks = self
            .chunks
            .iter()
            .map(|chunk| {
                let (buffer, chunk_finite) = convert(&chunk.buffer, per_column * chunk.w_stride)?;
                finite &= chunk_finite;
                Ok(WeightChunk {
                    channels: chunk.channels.clone(),
                    w_stride: chunk.w_stride,
                    buffer,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LayerWeights {
            chunks,
            bias: convert(&self.bias, layer.out_channels())?.0,
            dtype,
            finite,
            winograd: Mutex::default(),
            space_to_depth: Mutex::default(),
            textures: Mutex::default(),
        })
    }

    /// Output channels of each chunk.
    pub fn chunk_widths(&self) -> Vec<usize> {
        self.chunks.iter().map(|c| c.channels.len()).collect()
    }

    /// Winograd's transform of the weights of a layer with `in_c` input
    /// channels per group and one chunk: 16 matrices of `in_c` (padded to 4)
    /// rows of `w_stride` f32 (`conv/winograd.rs`), computed on the device by
    /// `shaders/winograd/weights.wgsl` the first time it is asked for (one
    /// submit, no wait), then kept.
    pub fn winograd(&self, ctx: &GpuContext, in_c: usize) -> Result<wgpu::Buffer> {
        let mut slot = self.winograd.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(buffer) = slot.as_ref() {
            return Ok(buffer.clone());
        }
        let w_stride = self.chunks[0].w_stride;
        let params = KernelParams {
            in_c: in_c as u32,
            w_stride: w_stride as u32,
            ..KernelParams::default()
        };
        let buffer = self.derive(
            ctx,
            KernelKind::WinogradWeights,
            params,
            (in_c * w_stride / 4) as u64,
            winograd::weight_elements(in_c, w_stride) * 4,
            [3, 3, in_c, w_stride],
        )?;
        *slot = Some(buffer.clone());
        Ok(buffer)
    }

    /// The weights of a layer with kernel `(k_h, k_w, cin)` and `stride`
    /// rearranged for its space-to-depth view (`conv/space_to_depth.rs`):
    /// `(kh', kw', cin', w_stride)` in the weights' element type, computed on
    /// the device by `shaders/space_to_depth/weights.wgsl` the first time it
    /// is asked for (one submit, no wait), then kept. One chunk only.
    pub fn space_to_depth(
        &self,
        ctx: &GpuContext,
        kernel: [usize; 3],
        stride: [usize; 2],
    ) -> Result<wgpu::Buffer> {
        let mut slot = self
            .space_to_depth
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(buffer) = slot.as_ref() {
            return Ok(buffer.clone());
        }
        let w_stride = self.chunks[0].w_stride;
        let [k_h, k_w, in_c] = kernel;
        let [view_h, view_w, view_c, _] =
            space_to_depth::weight_shape([k_h, k_w, in_c, w_stride], stride);
        let params = KernelParams {
            k_h: k_h as u32,
            k_w: k_w as u32,
            in_c: in_c as u32,
            out_h: view_h as u32,
            out_w: view_w as u32,
            out_c: view_c as u32,
            stride_h: stride[0] as u32,
            stride_w: stride[1] as u32,
            w_stride: w_stride as u32,
            ..KernelParams::default()
        };
        let elements = (view_h * view_w * view_c * w_stride) as u64;
        let buffer = self.derive(
            ctx,
            KernelKind::SpaceToDepthWeights,
            params,
            elements,
            (elements * self.dtype.size_bytes()).next_multiple_of(4),
            [view_h, view_w, view_c, w_stride],
        )?;
        *slot = Some(buffer.clone());
        Ok(buffer)
    }

    /// A new buffer of `bytes` computed from the first chunk by one dispatch
    /// of `kind` (`total` invocations with work, `params` completed with
    /// them), submitted without waiting. `shape` names the result in errors.
    fn derive(
        &self,
        ctx: &GpuContext,
        kind: KernelKind,
        params: KernelParams,
        total: u64,
        bytes: u64,
        shape: [usize; 4],
    ) -> Result<wgpu::Buffer> {
        let chunk = &self.chunks[0];
        let pipeline = pipelines::pipeline(
            ctx,
            PipelineKey {
                kind,
                dtype: self.dtype,
                activation: 0,
                check_bounds: true,
                // The weight transforms' workgroups are the same everywhere.
                workgroup: WORKGROUP_SIZE,
                stores: Stores::Scalar,
                zero_padding: false,
            },
        )?;
        let layout = pipelines::bind_group_layout(ctx, false)?;
        let limits = ctx.limits();
        let grid = FoldedGrid::new(
            total.div_ceil(u64::from(WORKGROUP_SIZE)),
            limits.max_compute_workgroups_per_dimension,
        )
        .ok_or(Conv2dError::DispatchTooLarge {
            output_shape: shape,
            outputs: total,
            max_per_dimension: limits.max_compute_workgroups_per_dimension,
        })?;
        let params = KernelParams {
            total: total as u32,
            row_stride: grid.x * WORKGROUP_SIZE,
            ..params
        };
        let label = kind.name();
        let what = match kind {
            KernelKind::WinogradWeights => "transforming weights for Winograd",
            _ => "rearranging weights for space-to-depth",
        };
        ctx.capture(what, || {
            let derived = ctx.new_tensor_buffer(label, bytes);
            let uniform = params.upload(ctx)?;
            let bind_group = ctx.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout: &layout,
                entries: &[
                    whole(0, &chunk.buffer),
                    whole(1, &chunk.buffer),
                    whole(2, &self.bias),
                    whole(3, &derived),
                    whole(4, &uniform),
                ],
            });
            let mut encoder = ctx.device().create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(grid.x, grid.y, 1);
            }
            ctx.submit(encoder.finish());
            Ok(derived)
        })
    }

    /// The weights of `source` copied into a texture (the `*Texture`
    /// kernels' binding 1): texel i of the buffer at (i % width, i / width),
    /// width `WEIGHT_TEXTURE_WIDTH`; rgba32float, or rgba16float for f16
    /// weights (the kernels load vec4<f32> either way). Copied on the device
    /// the first time it is asked for (one submit, no wait), then kept: a
    /// second copy of those weights in device memory, on the adapters whose
    /// kernels read textures. The choice checks the size against the limits.
    pub fn texture(&self, ctx: &GpuContext, source: TextureSource) -> Result<wgpu::TextureView> {
        let mut textures = self.textures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(view) = textures.get(&source) {
            return Ok(view.clone());
        }
        let (format, texel_bytes) = match self.dtype {
            DType::F32 => (wgpu::TextureFormat::Rgba32Float, 16),
            DType::F16 => (wgpu::TextureFormat::Rgba16Float, 8),
        };
        let (buffer, format, texel_bytes) = match source {
            TextureSource::Chunk(i) => (self.chunks[i].buffer.clone(), format, texel_bytes),
            TextureSource::SpaceToDepth { kernel, stride } => (
                self.space_to_depth(ctx, kernel, stride)?,
                format,
                texel_bytes,
            ),
            TextureSource::Winograd { group_in_c } => (
                self.winograd(ctx, group_in_c)?,
                wgpu::TextureFormat::Rgba32Float,
                16,
            ),
        };
        let texels = buffer.size() / texel_bytes;
        let width = WEIGHT_TEXTURE_WIDTH;
        let full_rows = (texels / u64::from(width)) as u32;
        let rest = (texels % u64::from(width)) as u32;
        let bytes_per_row = u64::from(width) * texel_bytes;
        let view = ctx.capture("copying weights into a texture", || {
            let texture = ctx.device().create_texture(&wgpu::TextureDescriptor {
                label: Some("conv2d weights texture"),
                size: wgpu::Extent3d {
                    width,
                    height: texture_rows(texels).max(1) as u32,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let mut encoder = ctx.device().create_command_encoder(&Default::default());
            // Whole rows, then the partly filled last one.
            let rows = [(0, full_rows, width), (full_rows, 1, rest)];
            for (first_row, height, row_texels) in rows {
                if height == 0 || row_texels == 0 {
                    continue;
                }
                encoder.copy_buffer_to_texture(
                    wgpu::TexelCopyBufferInfo {
                        buffer: &buffer,
                        layout: wgpu::TexelCopyBufferLayout {
                            offset: u64::from(first_row) * bytes_per_row,
                            bytes_per_row: Some(bytes_per_row as u32),
                            rows_per_image: Some(height),
                        },
                    },
                    wgpu::TexelCopyTextureInfo {
                        texture: &texture,
                        mip_level: 0,
                        origin: wgpu::Origin3d {
                            x: 0,
                            y: first_row,
                            z: 0,
                        },
                        aspect: wgpu::TextureAspect::All,
                    },
                    wgpu::Extent3d {
                        width: row_texels,
                        height,
                        depth_or_array_layers: 1,
                    },
                );
            }
            ctx.submit(encoder.finish());
            Ok(texture.create_view(&Default::default()))
        })?;
        textures.insert(source, view.clone());
        Ok(view)
    }

    /// Device bytes of the weights and bias buffers.
    pub fn device_bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.buffer.size()).sum::<u64>() + self.bias.size()
    }
}

/// Weights and bias of `dtype` within the device's buffer limits, and the
/// budget their chunks are cut to.
fn check(ctx: &GpuContext, layer: &LayerShape, dtype: DType) -> Result<Budget> {
    let limits = ctx.limits();
    check_buffer("weights", &layer.weights, dtype, limits)?;
    check_buffer("bias", &[layer.out_channels()], dtype, limits)?;
    let budget = Budget::new(limits, 1, dtype);
    if layer.out_channels() as u64 > budget.binding_elements {
        return Err(Conv2dError::TensorTooLarge {
            tensor: "bias",
            shape: vec![layer.out_channels()],
            bytes: layer.out_channels() as u64 * dtype.size_bytes(),
            limit_name: "max_storage_buffer_binding_size",
            limit: limits.max_storage_buffer_binding_size,
        });
    }
    Ok(budget)
}

/// The weights of output channels `channels`, HWIO with rows padded to a
/// multiple of 4 elements: (row stride, data).
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

fn whole(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}
