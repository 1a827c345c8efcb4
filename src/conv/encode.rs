//! Turning a plan into GPU work: one uniform block per dispatch (made once per
//! input shape, with Winograd's scratch buffers), bind groups over the input
//! and output buffers, and the dispatches recorded into one compute pass.

use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::Arc;

use crate::conv::kernels::WORKGROUP_SIZE;
use crate::conv::pipelines;
use crate::conv::plan::{Piece, Plan};
use crate::conv::space_to_depth::{self, SpaceToDepth};
use crate::conv::uniform::KernelParams;
use crate::conv::weights::{LayerWeights, TextureSource, WeightChunk};
use crate::conv::winograd;
use crate::runtime::context::GpuContext;
use crate::runtime::limits::FoldedGrid;
use crate::semantics::algorithm::Algorithm;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::ConvGeometry;

/// A buffer a dispatch reads or writes at binding 0 or 3.
#[derive(Clone)]
enum Operand {
    /// Elements of the forward pass's input (binding 0) or output (binding 3),
    /// of the layer's element type.
    Tensor(Range<u64>),
    /// All of a scratch buffer of the prepared shape (Winograd's, f32; the
    /// packed input of the space-to-depth view, the layer's type).
    Scratch(wgpu::Buffer),
}

/// The weights a dispatch binds.
#[derive(Clone)]
enum Weights {
    Chunk(usize),
    /// Weights derived from the chunk: Winograd's transform, or the
    /// space-to-depth view's rearrangement.
    Transformed(wgpu::Buffer),
    /// Either, copied into a texture (`LayerWeights::texture`).
    Texture(wgpu::TextureView),
}

/// One dispatch of a forward pass, independent of the buffers it will bind.
pub(crate) struct Dispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    uniform: wgpu::Buffer,
    grid: FoldedGrid,
    input: Operand,
    output: Operand,
    weights: Weights,
    /// Bytes per element of the input and output tensors.
    element_bytes: u64,
}

/// A dispatch with its bind group: ready to record.
pub(crate) struct BoundDispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    grid: FoldedGrid,
}

/// The output channels one dispatch computes, and where their weights and
/// input channels are.
struct ChannelSlice<'a> {
    chunk_index: usize,
    chunk: &'a WeightChunk,
    /// First output channel, in the layer.
    oc_offset: usize,
    /// Output channels.
    channels: usize,
    /// First input channel read (a group's, for per-group dispatches).
    in_c_offset: usize,
}

/// The channel slices of every dispatch of a piece: one per weight chunk, or,
/// for the register-tiled GEMMs on a grouped layer, one per group.
fn channel_slices<'a>(plan: &Plan, weights: &'a LayerWeights) -> Vec<ChannelSlice<'a>> {
    let g = &plan.choice.geometry;
    if plan.choice.kernel.is_register_gemm() && g.groups > 1 {
        // Per-group column offsets index into one weight buffer.
        assert_eq!(
            weights.chunks.len(),
            1,
            "grouped GEMMs are chosen only for weights in one chunk"
        );
        let chunk = &weights.chunks[0];
        let (cin_g, cout_g) = (g.in_c_per_group(), g.out_c_per_group());
        return (0..g.groups)
            .map(|group| ChannelSlice {
                chunk_index: 0,
                chunk,
                oc_offset: group * cout_g,
                channels: cout_g,
                in_c_offset: group * cin_g,
            })
            .collect();
    }
    weights
        .chunks
        .iter()
        .enumerate()
        .map(|(chunk_index, chunk)| ChannelSlice {
            chunk_index,
            chunk,
            oc_offset: chunk.channels.start,
            channels: chunk.channels.len(),
            in_c_offset: 0,
        })
        .collect()
}

/// The uniform block, grid and bound element ranges of every dispatch of
/// `plan` (one per piece and channel slice). They depend on the input shape
/// only, so they are made once per shape and reused.
pub(crate) fn dispatches(
    ctx: &GpuContext,
    plan: &Plan,
    weights: &LayerWeights,
    leaky_slope: f32,
) -> Result<Vec<Dispatch>> {
    if plan.choice.algorithm == Algorithm::Winograd {
        return winograd_dispatches(ctx, plan, weights, leaky_slope);
    }
    let limits = ctx.limits();
    let alignment = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
    let g = &plan.choice.geometry;
    let kernel = plan.choice.kernel;
    let slices = channel_slices(plan, weights);
    let element_bytes = plan.dtype.size_bytes();
    let mut dispatches = Vec::new();
    // The space-to-depth view reads the packed input, made by a first dispatch.
    let packed = match &plan.choice.space_to_depth {
        Some(s2d) => Some(pack_dispatch(ctx, plan, s2d, &mut dispatches)?),
        None => None,
    };
    let pipeline = plan.pipelines.last().expect("a plan has a pipeline");
    for piece in &plan.pieces {
        let (input, output) = (piece.input_elements(g), piece.output_elements(g));
        let (in_base, out_base) = (
            if packed.is_some() {
                0
            } else {
                base(&input, alignment, element_bytes)
            },
            base(&output, alignment, element_bytes),
        );
        for slice in &slices {
            let rows = (piece.images.len() * piece.out_rows.len()) as u64;
            let size = kernel.dispatch(
                piece.images.len() as u64,
                piece.out_rows.len() as u64,
                g.out_w as u64,
                slice.channels as u64,
                slice.chunk.w_stride as u64,
                plan.choice.rows8,
            );
            let grid =
                FoldedGrid::new(size.workgroups, limits.max_compute_workgroups_per_dimension)
                    .ok_or(Conv2dError::DispatchTooLarge {
                        output_shape: plan.output_shape,
                        outputs: rows * g.out_w as u64 * slice.channels as u64,
                        max_per_dimension: limits.max_compute_workgroups_per_dimension,
                    })?;
            let column_offset = slice
                .oc_offset
                .checked_sub(slice.chunk.channels.start)
                .expect("a slice starts inside its weight chunk");
            let params = KernelParams {
                total: size.total as u32,
                row_stride: grid.x * plan.choice.workgroup_size(kernel),
                in_base,
                out_base,
                oc_offset: slice.oc_offset as u32,
                chunk_c: slice.channels as u32,
                w_stride: slice.chunk.w_stride as u32,
                in_c_offset: slice.in_c_offset as u32,
                col_offset4: (column_offset / 4) as u32,
                ..piece_params(g, piece, leaky_slope)
            };
            let uniform = params.upload(ctx)?;
            // The weights the kernel reads, and where a texture of them comes from.
            let source = match &plan.choice.space_to_depth {
                Some(s2d) => TextureSource::SpaceToDepth {
                    kernel: [s2d.layer.k_h, s2d.layer.k_w, s2d.layer.in_c],
                    stride: s2d.layer.stride,
                },
                None => TextureSource::Chunk(slice.chunk_index),
            };
            dispatches.push(Dispatch {
                pipeline: pipeline.clone(),
                uniform,
                grid,
                input: match &packed {
                    Some(buffer) => Operand::Scratch(buffer.clone()),
                    None => Operand::Tensor(input.clone()),
                },
                output: Operand::Tensor(output.clone()),
                weights: if kernel.weights_in_texture() {
                    Weights::Texture(weights.texture(ctx, source)?)
                } else if let TextureSource::SpaceToDepth { kernel, stride } = source {
                    Weights::Transformed(weights.space_to_depth(ctx, kernel, stride)?)
                } else {
                    Weights::Chunk(slice.chunk_index)
                },
                element_bytes,
            });
        }
    }
    Ok(dispatches)
}

/// The dispatch that packs the whole input into the space-to-depth view
/// (`shaders/space_to_depth/input.wgsl`), pushed onto `dispatches`; returns
/// the scratch buffer it writes (the layer's element type).
fn pack_dispatch(
    ctx: &GpuContext,
    plan: &Plan,
    s2d: &SpaceToDepth,
    dispatches: &mut Vec<Dispatch>,
) -> Result<wgpu::Buffer> {
    let limits = ctx.limits();
    let alignment = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
    let (layer, view) = (&s2d.layer, &plan.choice.geometry);
    let element_bytes = plan.dtype.size_bytes();
    let total = space_to_depth::input_elements(view);
    let grid = FoldedGrid::new(
        total.div_ceil(u64::from(WORKGROUP_SIZE)),
        limits.max_compute_workgroups_per_dimension,
    )
    .ok_or(Conv2dError::DispatchTooLarge {
        output_shape: [view.batch, view.in_h, view.in_w, view.in_c],
        outputs: total,
        max_per_dimension: limits.max_compute_workgroups_per_dimension,
    })?;
    let input = 0..(layer.batch * layer.in_h * layer.in_w * layer.in_c) as u64;
    let params = KernelParams {
        batch: layer.batch as u32,
        in_h: layer.in_h as u32,
        in_w: layer.in_w as u32,
        in_c: layer.in_c as u32,
        out_h: view.in_h as u32,
        out_w: view.in_w as u32,
        out_c: view.in_c as u32,
        stride_h: layer.stride[0] as u32,
        stride_w: layer.stride[1] as u32,
        pad_top: s2d.shifts[0] as i32,
        pad_left: s2d.shifts[1] as i32,
        in_base: base(&input, alignment, element_bytes),
        total: total as u32,
        row_stride: grid.x * WORKGROUP_SIZE,
        ..KernelParams::default()
    };
    let uniform = params.upload(ctx)?;
    let packed = ctx.new_tensor_buffer(
        "conv2d space-to-depth input",
        (total * element_bytes).next_multiple_of(4),
    );
    dispatches.push(Dispatch {
        pipeline: plan.pipelines[0].clone(),
        uniform,
        grid,
        input: Operand::Tensor(input),
        output: Operand::Scratch(packed.clone()),
        weights: Weights::Chunk(0),
        element_bytes,
    });
    Ok(packed)
}

/// Winograd's dispatches: per piece (a run of images), the input transform
/// into scratch V, the products into scratch M, the output transform. The
/// pieces take turns with the two scratch buffers (sized for the largest).
fn winograd_dispatches(
    ctx: &GpuContext,
    plan: &Plan,
    weights: &LayerWeights,
    leaky_slope: f32,
) -> Result<Vec<Dispatch>> {
    let limits = ctx.limits();
    let alignment = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
    let g = &plan.choice.geometry;
    let w_stride = weights.chunks[0].w_stride;
    let element_bytes = plan.dtype.size_bytes();
    let most_images = plan
        .pieces
        .iter()
        .map(|p| p.images.len())
        .max()
        .unwrap_or(1);
    let (v_elements, m_elements) = winograd::scratch_elements(g, most_images, w_stride);
    // The products read the transformed weights (perhaps from a texture);
    // the transforms bind them too, as their layout has a weights buffer.
    let group_in_c = g.in_c_per_group();
    let transformed_weights = Weights::Transformed(weights.winograd(ctx, group_in_c)?);
    let stage_weights = plan
        .choice
        .stages()
        .into_iter()
        .map(|kind| {
            Ok(if kind.weights_in_texture() {
                Weights::Texture(weights.texture(ctx, TextureSource::Winograd { group_in_c })?)
            } else {
                transformed_weights.clone()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let transformed = ctx.new_tensor_buffer("conv2d winograd input", v_elements * 4);
    let products = ctx.new_tensor_buffer("conv2d winograd products", m_elements * 4);
    let mut dispatches = Vec::new();
    for piece in &plan.pieces {
        let (input, output) = (piece.input_elements(g), piece.output_elements(g));
        let sizes = winograd::dispatch_sizes(g, piece.images.len(), w_stride, plan.choice.kernel);
        let operands = [
            (
                Operand::Tensor(input.clone()),
                Operand::Scratch(transformed.clone()),
            ),
            (
                Operand::Scratch(transformed.clone()),
                Operand::Scratch(products.clone()),
            ),
            (
                Operand::Scratch(products.clone()),
                Operand::Tensor(output.clone()),
            ),
        ];
        // The transforms cover every channel; the products run once per
        // group (its input channels of V, its columns of U and M).
        let (cin_g, cout_g) = (g.in_c_per_group(), g.out_c_per_group());
        let stages = plan
            .pipelines
            .iter()
            .zip(sizes)
            .zip(operands)
            .zip(&stage_weights)
            .enumerate();
        for (stage, (((pipeline, (workgroups, total)), (from, to)), stage_weights)) in stages {
            let grid = FoldedGrid::new(workgroups, limits.max_compute_workgroups_per_dimension)
                .ok_or(Conv2dError::DispatchTooLarge {
                    output_shape: plan.output_shape,
                    outputs: (piece.images.len() * g.out_h * g.out_w * g.out_c) as u64,
                    max_per_dimension: limits.max_compute_workgroups_per_dimension,
                })?;
            let groups = if stage == 1 { 0..g.groups } else { 0..1 };
            for group in groups {
                let params = KernelParams {
                    total: total as u32,
                    row_stride: grid.x * WORKGROUP_SIZE,
                    in_base: base(&input, alignment, element_bytes),
                    out_base: base(&output, alignment, element_bytes),
                    w_stride: w_stride as u32,
                    chunk_c: if stage == 1 { cout_g } else { g.out_c } as u32,
                    in_c_offset: (group * cin_g) as u32,
                    col_offset4: (group * cout_g / 4) as u32,
                    ..piece_params(g, piece, leaky_slope)
                };
                let uniform = params.upload(ctx)?;
                dispatches.push(Dispatch {
                    pipeline: pipeline.clone(),
                    uniform,
                    grid,
                    input: from.clone(),
                    output: to.clone(),
                    weights: stage_weights.clone(),
                    element_bytes,
                });
            }
        }
    }
    Ok(dispatches)
}

/// The uniform block's shape fields for `piece`.
fn piece_params(g: &ConvGeometry, piece: &Piece, leaky_slope: f32) -> KernelParams {
    KernelParams {
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
        leaky_slope,
        ..KernelParams::default()
    }
}

/// Bind groups for `dispatches` over these input and output buffers.
pub(crate) fn bind(
    ctx: &GpuContext,
    weights: &LayerWeights,
    input: &wgpu::Buffer,
    output: &wgpu::Buffer,
    dispatches: &[Dispatch],
) -> Result<Vec<BoundDispatch>> {
    let alignment = u64::from(ctx.limits().min_storage_buffer_offset_alignment).max(4);
    dispatches
        .iter()
        .map(|d| {
            let in_texture = matches!(d.weights, Weights::Texture(_));
            let layout = pipelines::bind_group_layout(ctx, in_texture)?;
            let weight_resource = match &d.weights {
                Weights::Chunk(chunk) => weights.chunks[*chunk].buffer.as_entire_binding(),
                Weights::Transformed(buffer) => buffer.as_entire_binding(),
                Weights::Texture(view) => wgpu::BindingResource::TextureView(view),
            };
            let bind_group = ctx.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("conv2d"),
                layout: &layout,
                entries: &[
                    entry(0, binding(&d.input, input, alignment, d.element_bytes)),
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: weight_resource,
                    },
                    entry(2, weights.bias.as_entire_buffer_binding()),
                    entry(3, binding(&d.output, output, alignment, d.element_bytes)),
                    entry(4, d.uniform.as_entire_buffer_binding()),
                ],
            });
            Ok(BoundDispatch {
                pipeline: d.pipeline.clone(),
                bind_group,
                grid: d.grid,
            })
        })
        .collect()
}

/// The dispatches of one forward pass, in one compute pass (wgpu orders a
/// dispatch that reads a buffer after the one that wrote it).
pub(crate) fn record(encoder: &mut wgpu::CommandEncoder, work: &[BoundDispatch]) {
    record_timed(encoder, work, None);
}

/// [`record`], writing timestamps at the start and end of the pass (tuning).
pub(crate) fn record_timed(
    encoder: &mut wgpu::CommandEncoder,
    work: &[BoundDispatch],
    timestamps: Option<&wgpu::QuerySet>,
) {
    crate::trace::span!("conv2d.dispatch", dispatches = work.len());
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("conv2d"),
        timestamp_writes: timestamps.map(|query_set| wgpu::ComputePassTimestampWrites {
            query_set,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        }),
    });
    let mut current: Option<&Arc<wgpu::ComputePipeline>> = None;
    for d in work {
        if current.is_none_or(|p| !Arc::ptr_eq(p, &d.pipeline)) {
            pass.set_pipeline(&d.pipeline);
            current = Some(&d.pipeline);
        }
        pass.set_bind_group(0, &d.bind_group, &[]);
        pass.dispatch_workgroups(d.grid.x, d.grid.y, 1);
    }
}

/// The binding of an operand: its part of the caller's `tensor`, or its scratch buffer.
fn binding<'a>(
    operand: &'a Operand,
    tensor: &'a wgpu::Buffer,
    alignment: u64,
    element_bytes: u64,
) -> wgpu::BufferBinding<'a> {
    match operand {
        Operand::Tensor(elements) => sub_binding(tensor, elements, alignment, element_bytes),
        Operand::Scratch(buffer) => buffer.as_entire_buffer_binding(),
    }
}

/// A binding of `elements` of a buffer of `element_bytes`-byte elements, from
/// the aligned offset at or below their start (see [`base`]) to their end
/// rounded up to 4 bytes (tensor buffers are sized in whole 4 bytes).
fn sub_binding<'a>(
    buffer: &'a wgpu::Buffer,
    elements: &Range<u64>,
    alignment: u64,
    element_bytes: u64,
) -> wgpu::BufferBinding<'a> {
    let start = elements.start * element_bytes;
    let offset = start - start % alignment;
    let end = (elements.end * element_bytes).next_multiple_of(4);
    wgpu::BufferBinding {
        buffer,
        offset,
        size: NonZeroU64::new(end - offset),
    }
}

/// Index, within its binding, of the first of `elements` (see [`sub_binding`]).
fn base(elements: &Range<u64>, alignment: u64, element_bytes: u64) -> u32 {
    ((elements.start * element_bytes % alignment) / element_bytes) as u32
}

fn entry(index: u32, buffer: wgpu::BufferBinding<'_>) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding: index,
        resource: wgpu::BindingResource::Buffer(buffer),
    }
}
