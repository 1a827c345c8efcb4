//! Turning a plan into GPU work: one uniform block per dispatch (made once per
//! input shape), bind groups over the input and output buffers, and the
//! dispatches recorded into one compute pass.

use std::num::NonZeroU64;
use std::ops::Range;

use crate::conv::pipelines;
use crate::conv::plan::Plan;
use crate::conv::uniform::KernelParams;
use crate::conv::weights::{LayerWeights, WeightChunk};
use crate::runtime::context::GpuContext;
use crate::runtime::limits::FoldedGrid;
use crate::semantics::error::{Conv2dError, Result};

/// One dispatch of a forward pass, independent of the buffers it will bind.
pub(crate) struct Dispatch {
    uniform: wgpu::Buffer,
    grid: FoldedGrid,
    /// Elements of the input and output it binds.
    input: Range<u64>,
    output: Range<u64>,
    /// Index of its weight chunk.
    chunk: usize,
    /// Bytes per element of the input and output.
    element_bytes: u64,
}

/// A dispatch with its bind group: ready to record.
pub(crate) struct BoundDispatch {
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
    let limits = ctx.limits();
    let alignment = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
    let g = &plan.choice.geometry;
    let kernel = plan.choice.kernel;
    let slices = channel_slices(plan, weights);
    let element_bytes = plan.dtype.size_bytes();
    let mut dispatches = Vec::new();
    for piece in &plan.pieces {
        let (input, output) = (piece.input_elements(g), piece.output_elements(g));
        let (in_base, out_base) = (
            base(&input, alignment, element_bytes),
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
                total: size.total as u32,
                row_stride: grid.x * kernel.workgroup_size(),
                leaky_slope,
                in_base,
                out_base,
                oc_offset: slice.oc_offset as u32,
                chunk_c: slice.channels as u32,
                w_stride: slice.chunk.w_stride as u32,
                in_c_offset: slice.in_c_offset as u32,
                col_offset4: (column_offset / 4) as u32,
                _pad0: 0,
            };
            let uniform = ctx.buffer_init(
                "conv2d params",
                bytemuck::bytes_of(&params),
                wgpu::BufferUsages::UNIFORM,
            )?;
            dispatches.push(Dispatch {
                uniform,
                grid,
                input: input.clone(),
                output: output.clone(),
                chunk: slice.chunk_index,
                element_bytes,
            });
        }
    }
    Ok(dispatches)
}

/// Bind groups for `dispatches` over these input and output buffers.
pub(crate) fn bind(
    ctx: &GpuContext,
    weights: &LayerWeights,
    input: &wgpu::Buffer,
    output: &wgpu::Buffer,
    dispatches: &[Dispatch],
) -> Result<Vec<BoundDispatch>> {
    let layout = pipelines::bind_group_layout(ctx)?;
    let alignment = u64::from(ctx.limits().min_storage_buffer_offset_alignment).max(4);
    Ok(dispatches
        .iter()
        .map(|d| {
            let bind_group = ctx.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("conv2d"),
                layout: &layout,
                entries: &[
                    entry(0, sub_binding(input, &d.input, alignment, d.element_bytes)),
                    entry(1, weights.chunks[d.chunk].buffer.as_entire_buffer_binding()),
                    entry(2, weights.bias.as_entire_buffer_binding()),
                    entry(
                        3,
                        sub_binding(output, &d.output, alignment, d.element_bytes),
                    ),
                    entry(4, d.uniform.as_entire_buffer_binding()),
                ],
            });
            BoundDispatch {
                bind_group,
                grid: d.grid,
            }
        })
        .collect())
}

/// The dispatches of one forward pass, in one compute pass.
pub(crate) fn record(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    work: &[BoundDispatch],
) {
    record_timed(encoder, pipeline, work, None);
}

/// [`record`], writing timestamps at the start and end of the pass (tuning).
pub(crate) fn record_timed(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
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
    pass.set_pipeline(pipeline);
    for d in work {
        pass.set_bind_group(0, &d.bind_group, &[]);
        pass.dispatch_workgroups(d.grid.x, d.grid.y, 1);
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
