//! Splitting a convolution that exceeds the device's limits into pieces.
//!
//! Tensors live in one buffer each (up to `max_buffer_size`); what a shader may
//! bind at once is `max_storage_buffer_binding_size`, and a dispatch has at most
//! `max_compute_workgroups_per_dimension` squared workgroups. A piece is a run of
//! whole images, or a band of output rows of one image together with the input
//! rows it reads (its halo), times a chunk of output channels whose weights are
//! stored in their own buffer. Each piece is one dispatch over sub-range
//! bindings; all pieces of a forward go into one submit.

use std::ops::Range;
use std::sync::Arc;

use crate::conv::choice::{self, Choice, DeviceCaps, LayerFacts};
use crate::conv::kernels::Stores;
use crate::conv::pipelines::{self, PipelineKey};
use crate::conv::winograd;
use crate::runtime::context::GpuContext;
use crate::semantics::algorithm::Algorithm;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::ConvGeometry;
use crate::semantics::precision::DType;

/// Everything one forward pass on one input shape needs, decided before
/// touching any buffer: the choice, the pieces, the compiled pipeline.
pub(crate) struct Plan {
    pub output_shape: [usize; 4],
    /// The element type of the input, output and weights.
    pub dtype: DType,
    pub choice: Choice,
    pub pieces: Vec<Piece>,
    /// One pipeline per stage of a piece (`Choice::stages`).
    pub pipelines: Vec<Arc<wgpu::ComputePipeline>>,
}

impl Plan {
    /// Checks `input` against the layer, chooses the kernel, splits the work to
    /// fit the device's limits and compiles (or reuses) the pipeline.
    /// `chunk_widths` are the output channels of each weight chunk.
    pub fn new(
        ctx: &GpuContext,
        facts: LayerFacts,
        chunk_widths: &[usize],
        input: [usize; 4],
    ) -> Result<Plan> {
        let geometry = facts.layer.geometry(input)?;
        let choice = choice::choose(facts, &geometry, DeviceCaps::of(ctx))?;
        crate::trace::span!("conv2d.plan", input = ?input, algorithm = ?choice.algorithm);
        ctx.check_alive()?;
        let kernel = choice.kernel;
        let budget = Budget::new(
            ctx.limits(),
            u64::from(choice.workgroup_size(kernel)) * kernel.min_outputs_per_invocation(),
            facts.dtype,
        );
        let widest = chunk_widths.iter().copied().max().unwrap_or(1);
        let pieces = if choice.algorithm == Algorithm::Winograd {
            winograd_pieces(&choice.geometry, widest, &budget)
        } else if choice.space_to_depth.is_some() {
            // One piece: the choice checked that the call fits it.
            let g = &choice.geometry;
            vec![Piece {
                images: 0..g.batch,
                out_rows: 0..g.out_h,
                in_rows: 0..g.in_h,
            }]
        } else {
            pieces(&choice.geometry, widest, &budget)?
        };
        let check_bounds = choice.check_bounds(&pieces, chunk_widths);
        let stores = choice.stores(chunk_widths);
        let pipelines = choice
            .stages()
            .into_iter()
            .map(|kind| {
                pipelines::pipeline(
                    ctx,
                    PipelineKey {
                        kind,
                        dtype: facts.dtype,
                        activation: facts.layer.params.activation.shader_code(),
                        check_bounds,
                        workgroup: choice.workgroup_size(kind),
                        // Kinds with one flavour share a pipeline either way.
                        stores: if kind.store_flavours().len() > 1 {
                            stores
                        } else {
                            Stores::Scalar
                        },
                        zero_padding: choice.zero_padding && kind.has_zero_padding(),
                    },
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan {
            output_shape: geometry.output_shape(),
            dtype: facts.dtype,
            choice,
            pieces,
            pipelines,
        })
    }
}

/// The budget a plan works within, from `wgpu::Limits` (and the kernel).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// Elements one binding may hold, after alignment slack.
    pub binding_elements: u64,
    /// Bytes per element (f32 or f16), for error messages.
    pub element_bytes: u64,
    /// Output elements one dispatch may cover.
    pub dispatch_outputs: u64,
    /// `max_compute_workgroups_per_dimension`, for error messages.
    pub max_workgroups_per_dimension: u32,
}

impl Budget {
    /// Workgroups one dispatch may have (a folded 2-D grid).
    pub fn max_workgroups(&self) -> u64 {
        u64::from(self.max_workgroups_per_dimension).pow(2)
    }

    pub fn new(limits: &wgpu::Limits, outputs_per_workgroup: u64, dtype: DType) -> Self {
        let alignment = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
        let max_groups = u64::from(limits.max_compute_workgroups_per_dimension);
        Budget {
            binding_elements: limits
                .max_storage_buffer_binding_size
                .saturating_sub(alignment)
                / dtype.size_bytes(),
            element_bytes: dtype.size_bytes(),
            dispatch_outputs: max_groups * max_groups * outputs_per_workgroup,
            max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        }
    }
}

/// Output channels whose weights share one buffer. Each chunk is stored with
/// its width rounded up to a multiple of 4 (vec4 columns), and so are chunk
/// boundaries.
pub(crate) fn weight_chunks(weights: [usize; 4], budget: &Budget) -> Result<Vec<Range<usize>>> {
    let per_channel = (weights[0] * weights[1] * weights[2]) as u64;
    let out_channels = weights[3];
    let columns = (budget.binding_elements / per_channel).min(usize::MAX as u64) as usize;
    if columns < 4 {
        return Err(Conv2dError::TensorTooLarge {
            tensor: "weights of 4 output channels",
            shape: vec![weights[0], weights[1], weights[2], 4],
            bytes: per_channel * 4 * budget.element_bytes,
            limit_name: "max_storage_buffer_binding_size",
            limit: budget.binding_elements * budget.element_bytes,
        });
    }
    let chunk = if out_channels.next_multiple_of(4) <= columns {
        out_channels
    } else {
        columns - columns % 4
    };
    Ok((0..out_channels)
        .step_by(chunk)
        .map(|start| start..(start + chunk).min(out_channels))
        .collect())
}

/// One dispatch's share of the output: images, output rows, and the input rows they read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub images: Range<usize>,
    pub out_rows: Range<usize>,
    /// Input rows bound for this piece (all rows when `out_rows` is all rows).
    pub in_rows: Range<usize>,
}

impl Piece {
    /// Elements of the NHWC input this piece reads.
    pub fn input_elements(&self, g: &ConvGeometry) -> Range<u64> {
        span(
            &self.images,
            &self.in_rows,
            g.in_h,
            (g.in_w * g.in_c) as u64,
        )
    }

    /// Elements of the NHWC output this piece writes (all channels of its rows).
    pub fn output_elements(&self, g: &ConvGeometry) -> Range<u64> {
        span(
            &self.images,
            &self.out_rows,
            g.out_h,
            (g.out_w * g.out_c) as u64,
        )
    }

    /// `pad_top` as seen from the piece's first input row and first output row.
    pub fn local_pad_top(&self, g: &ConvGeometry) -> i64 {
        g.pad_top as i64 + self.in_rows.start as i64 - (self.out_rows.start * g.stride[0]) as i64
    }
}

fn span(images: &Range<usize>, rows: &Range<usize>, height: usize, row_len: u64) -> Range<u64> {
    let start = (images.start * height + rows.start) as u64 * row_len;
    let end = ((images.end - 1) * height + rows.end) as u64 * row_len;
    start..end
}

/// Winograd's pieces: runs of whole images that fit one binding each and
/// whose dispatches fit the grid (`choice` refuses Winograd where one image
/// does not).
fn winograd_pieces(g: &ConvGeometry, w_stride: usize, budget: &Budget) -> Vec<Piece> {
    let step = winograd::images_per_piece(
        g,
        w_stride.next_multiple_of(4),
        budget.element_bytes,
        budget.binding_elements * budget.element_bytes,
        budget.max_workgroups(),
    )
    .max(1);
    (0..g.batch)
        .step_by(step)
        .map(|start| Piece {
            images: start..(start + step).min(g.batch),
            out_rows: 0..g.out_h,
            in_rows: 0..g.in_h,
        })
        .collect()
}

/// Pieces covering the whole output, each within `budget` for `channels_per_dispatch`
/// output channels at a time.
pub(crate) fn pieces(
    g: &ConvGeometry,
    channels_per_dispatch: usize,
    budget: &Budget,
) -> Result<Vec<Piece>> {
    let in_image = (g.in_h * g.in_w * g.in_c) as u64;
    let out_image = (g.out_h * g.out_w * g.out_c) as u64;
    let dispatch_image = (g.out_h * g.out_w * channels_per_dispatch) as u64;
    let per_piece = (budget.binding_elements / in_image)
        .min(budget.binding_elements / out_image)
        .min(budget.dispatch_outputs / dispatch_image);
    if per_piece >= 1 {
        let step = per_piece.min(g.batch as u64) as usize;
        return Ok((0..g.batch)
            .step_by(step)
            .map(|start| Piece {
                images: start..(start + step).min(g.batch),
                out_rows: 0..g.out_h,
                in_rows: 0..g.in_h,
            })
            .collect());
    }
    // Row bands of one image: R output rows read (R - 1) * stride + extent input rows.
    let extent = (g.k_h - 1) * g.dilation[0] + 1;
    let out_row = (g.out_w * g.out_c) as u64;
    let in_row = (g.in_w * g.in_c) as u64;
    let dispatch_row = (g.out_w * channels_per_dispatch) as u64;
    let by_output = budget.binding_elements / out_row;
    let by_dispatch = budget.dispatch_outputs / dispatch_row;
    let in_rows_fit = budget.binding_elements / in_row;
    let by_input = if in_rows_fit >= extent as u64 {
        (in_rows_fit - extent as u64) / g.stride[0] as u64 + 1
    } else {
        0
    };
    let rows = by_output.min(by_dispatch).min(by_input).min(g.out_h as u64) as usize;
    if rows == 0 {
        return Err(band_error(g, budget, out_row, in_row, extent, dispatch_row));
    }
    let mut pieces = Vec::new();
    for image in 0..g.batch {
        for start in (0..g.out_h).step_by(rows) {
            let out_rows = start..(start + rows).min(g.out_h);
            pieces.push(Piece {
                images: image..image + 1,
                in_rows: input_rows(g, &out_rows, extent),
                out_rows,
            });
        }
    }
    Ok(pieces)
}

/// Input rows that output rows `out` read, clipped to the image (at least one row,
/// so the binding is never empty; rows outside the band are padding either way).
fn input_rows(g: &ConvGeometry, out: &Range<usize>, extent: usize) -> Range<usize> {
    let first = (out.start * g.stride[0]) as i64 - g.pad_top as i64;
    let last = ((out.end - 1) * g.stride[0] + extent) as i64 - g.pad_top as i64;
    let start = first.clamp(0, g.in_h as i64 - 1) as usize;
    let end = (last.clamp(0, g.in_h as i64) as usize).max(start + 1);
    start..end
}

fn band_error(
    g: &ConvGeometry,
    budget: &Budget,
    out_row: u64,
    in_row: u64,
    extent: usize,
    dispatch_row: u64,
) -> Conv2dError {
    let limit = budget.binding_elements * budget.element_bytes;
    if out_row > budget.binding_elements {
        Conv2dError::TensorTooLarge {
            tensor: "one output row",
            shape: vec![1, 1, g.out_w, g.out_c],
            bytes: out_row * budget.element_bytes,
            limit_name: "max_storage_buffer_binding_size",
            limit,
        }
    } else if dispatch_row > budget.dispatch_outputs {
        Conv2dError::DispatchTooLarge {
            output_shape: [1, 1, g.out_w, g.out_c],
            outputs: dispatch_row,
            max_per_dimension: budget.max_workgroups_per_dimension,
        }
    } else {
        Conv2dError::TensorTooLarge {
            tensor: "the input rows one output row reads",
            shape: vec![1, extent, g.in_w, g.in_c],
            bytes: extent as u64 * in_row * budget.element_bytes,
            limit_name: "max_storage_buffer_binding_size",
            limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::geometry::LayerShape;
    use crate::semantics::params::{Conv2dParams, Padding};

    fn geometry(
        input: [usize; 4],
        k: usize,
        cout: usize,
        stride: usize,
        padding: Padding,
    ) -> ConvGeometry {
        let params = Conv2dParams {
            stride: [stride, stride],
            padding,
            ..Default::default()
        };
        LayerShape::new([k, k, input[3], cout], None, params)
            .unwrap()
            .geometry(input)
            .unwrap()
    }

    fn budget(elements: u64) -> Budget {
        Budget {
            binding_elements: elements,
            element_bytes: 4,
            dispatch_outputs: u64::MAX,
            max_workgroups_per_dimension: 65535,
        }
    }

    /// Every output row of every image is covered exactly once, and each piece
    /// binds the input rows its outputs read.
    fn assert_covers(g: &ConvGeometry, pieces: &[Piece], b: &Budget) {
        let mut seen = vec![0u32; g.batch * g.out_h];
        for p in pieces {
            for n in p.images.clone() {
                for r in p.out_rows.clone() {
                    seen[n * g.out_h + r] += 1;
                }
            }
            let inputs = p.input_elements(g);
            let outputs = p.output_elements(g);
            assert!(inputs.end - inputs.start <= b.binding_elements, "{p:?}");
            assert!(outputs.end - outputs.start <= b.binding_elements, "{p:?}");
            let extent = g.k_h as i64;
            for r in p.out_rows.clone() {
                for ky in 0..extent {
                    let iy = (r * g.stride[0]) as i64 + ky - g.pad_top as i64;
                    if (0..g.in_h as i64).contains(&iy) {
                        assert!(p.in_rows.contains(&(iy as usize)), "{p:?} misses row {iy}");
                    }
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
    }

    #[test]
    fn small_problems_are_one_piece() {
        let g = geometry([2, 8, 8, 3], 3, 4, 1, Padding::Same);
        let p = pieces(&g, 4, &budget(1 << 20)).unwrap();
        assert_eq!(
            p,
            vec![Piece {
                images: 0..2,
                out_rows: 0..8,
                in_rows: 0..8
            }]
        );
    }

    #[test]
    fn batches_split_into_whole_images() {
        let g = geometry([5, 8, 8, 3], 3, 4, 1, Padding::Same);
        let b = budget(2 * 8 * 8 * 4);
        let p = pieces(&g, 4, &b).unwrap();
        assert_eq!(p.len(), 3);
        assert_covers(&g, &p, &b);
    }

    #[test]
    fn large_images_split_into_row_bands_with_halo() {
        for (stride, padding) in [
            (1, Padding::Same),
            (2, Padding::Same),
            (1, Padding::Valid),
            (3, Padding::Valid),
        ] {
            let g = geometry([2, 20, 6, 2], 3, 3, stride, padding);
            let b = budget(5 * 6 * 3);
            let p = pieces(&g, 3, &b).unwrap();
            assert!(p.len() > 2);
            assert_covers(&g, &p, &b);
        }
    }

    #[test]
    fn a_row_beyond_the_limit_is_an_error() {
        let g = geometry([1, 4, 100, 2], 3, 3, 1, Padding::Same);
        let e = pieces(&g, 3, &budget(200)).unwrap_err();
        assert!(e.to_string().contains("one output row"), "{e}");
        let g = geometry([1, 4, 10, 10], 3, 1, 1, Padding::Same);
        let e = pieces(&g, 1, &budget(120)).unwrap_err();
        assert!(e.to_string().contains("input rows"), "{e}");
    }

    #[test]
    fn weights_split_by_output_channel() {
        let chunks = weight_chunks([3, 3, 2, 10], &budget(18 * 5)).unwrap();
        assert_eq!(chunks, vec![0..4, 4..8, 8..10]);
        assert_eq!(
            weight_chunks([3, 3, 2, 10], &budget(1000)).unwrap(),
            vec![0..10]
        );
        assert!(weight_chunks([3, 3, 2, 10], &budget(71)).is_err());
    }
}
