//! Which kernel computes a convolution, decided in one place: what each
//! algorithm supports, the heuristic, a forced algorithm, the lowering to a
//! kernel and the geometry it sees, and whether the kernel needs its edge checks.
//!
//! [`choose`] is the entry point; [`check_forcible`] is the same rules asked
//! before any input is known (by `GpuConv2d::with_algorithm`).

use std::marker::PhantomData;
use std::sync::Mutex;

use crate::conv::kernels::{
    KernelKind, Stores, DEPTHWISE_LANES, IGEMM_COLUMNS4, IGEMM_PIXELS, TILED_K, TILED_M, TILED_N,
    WEIGHT_TEXTURE_WIDTH, WORKGROUP_SIZE,
};
use crate::conv::plan::{Budget, Piece};
use crate::conv::space_to_depth::{self, SpaceToDepth};
use crate::conv::weights::texture_rows;
use crate::conv::winograd;
use crate::runtime::context::GpuContext;
use crate::semantics::algorithm::Algorithm;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::{ConvGeometry, LayerShape};
use crate::semantics::params::{Conv2dParams, Padding};
use crate::semantics::precision::DType;

/// What the choice needs to know about the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeviceCaps {
    /// Subgroup operations with subgroups of at least 8 invocations.
    pub subgroups: bool,
    /// Subgroups of exactly `DEPTHWISE_LANES` invocations, on a CPU-like
    /// adapter (the subgroup depthwise kernel).
    pub lanes8: bool,
    /// A real GPU (discrete, integrated or virtual), where workgroup memory pays.
    pub gpu: bool,
    /// A CPU adapter that runs invocations in SIMD rows of 8 (llvmpipe: its
    /// subgroups are 8 lanes, or it has none), where the register-tiled GEMMs
    /// take one row per workgroup (`KernelKind::workgroup_size`).
    pub rows8: bool,
    /// SwiftShader's variants: the register-tiled GEMMs in their narrow
    /// variants (its shader compiler takes minutes on the wide unroll, and
    /// they do not branch), and 3x3 depthwise in 4 x 4 pixel blocks (its
    /// loads gather lane by lane, so reuse from registers pays; the strip
    /// kernels' loops cost it 2.8x the blocks' time on B6).
    pub narrow_tiles: bool,
    /// Read weights through textures in the kernels that can (`*Texture`):
    /// on CPU adapters without subgroups (llvmpipe on GL), where a texel load
    /// costs less than a storage load, or as `introspect::use_weight_textures` says.
    pub weight_textures: bool,
    /// Rows a weights texture may have (0: textures `WEIGHT_TEXTURE_WIDTH`
    /// wide are beyond the device's limits).
    pub texture_rows: u64,
    /// f32 elements one storage binding holds (Winograd's scratch must fit).
    pub binding_f32s: u64,
    /// Workgroups one dispatch may have.
    pub max_workgroups: u64,
}

impl DeviceCaps {
    pub fn of(ctx: &GpuContext) -> Self {
        let f32_budget = Budget::new(ctx.limits(), 1, DType::F32);
        let narrow_tiles = ctx
            .extension::<Forced<NarrowTiles>>()
            .get()
            .unwrap_or(ctx.is_swiftshader());
        let max_texture = ctx.limits().max_texture_dimension_2d;
        DeviceCaps {
            subgroups: ctx.subgroups(),
            lanes8: ctx.subgroups_exactly(DEPTHWISE_LANES) && !ctx.is_gpu(),
            gpu: ctx.is_gpu(),
            rows8: ctx.extension::<Forced<RowWorkgroups>>().get().unwrap_or(
                !ctx.is_gpu()
                    && !narrow_tiles
                    && (ctx.subgroups_exactly(DEPTHWISE_LANES) || !ctx.subgroups()),
            ),
            narrow_tiles,
            weight_textures: ctx
                .extension::<Forced<WeightTextures>>()
                .get()
                .unwrap_or(!ctx.is_gpu() && !narrow_tiles && !ctx.subgroups()),
            texture_rows: if max_texture >= WEIGHT_TEXTURE_WIDTH {
                u64::from(max_texture)
            } else {
                0
            },
            binding_f32s: f32_budget.binding_elements,
            max_workgroups: f32_budget.max_workgroups(),
        }
    }
}

/// A kernel option asked for (`Some(true)`) or refused (`Some(false)`) on a
/// context whatever its adapter would choose, or left to the adapter
/// (`None`), so that the tests run every variant on any adapter; one
/// context extension per `Tag` (set through `introspect::use_*`).
pub(crate) struct Forced<Tag>(Mutex<Option<bool>>, PhantomData<Tag>);

impl<Tag> Default for Forced<Tag> {
    fn default() -> Self {
        Forced(Mutex::new(None), PhantomData)
    }
}

impl<Tag> Forced<Tag> {
    pub fn get(&self) -> Option<bool> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, on: Option<bool>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = on;
    }
}

/// `Forced` tag: the register-tiled GEMMs' narrow variants and 3x3 depthwise
/// in blocks (`introspect::use_narrow_tiles`).
pub(crate) enum NarrowTiles {}

/// `Forced` tag: weights read through textures (`introspect::use_weight_textures`).
pub(crate) enum WeightTextures {}

/// `Forced` tag: the register-tiled GEMMs in workgroups of one SIMD row
/// (`introspect::use_row_workgroups`).
pub(crate) enum RowWorkgroups {}

/// A layer as the choice sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LayerFacts<'a> {
    pub layer: &'a LayerShape,
    /// Output-channel chunks its weights are stored in (usually 1).
    pub weight_chunks: usize,
    pub forced: Option<Algorithm>,
    /// The fastest algorithm measured on this adapter (`Tuning::Measure`),
    /// used instead of the heuristic when it supports the input.
    pub tuned: Option<Algorithm>,
    /// The element type its weights, inputs and outputs are stored in.
    pub dtype: DType,
    /// Every weight, as stored, is finite (`LayerWeights::finite`).
    pub finite_weights: bool,
}

/// The decision for one input shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    pub algorithm: Algorithm,
    pub kernel: KernelKind,
    /// `DeviceCaps::rows8` of the adapter it was made for (the workgroup
    /// size of its stages: `Choice::workgroup_size`).
    pub rows8: bool,
    /// The geometry the kernel sees (a GEMM view for `Gemm` and `TiledGemm`
    /// where one applies, the space-to-depth view where that runs).
    pub geometry: ConvGeometry,
    /// Set where the kernel runs the layer's space-to-depth view (the
    /// implicit GEMM on a strided layer with few channels), after packing
    /// the input into it.
    pub space_to_depth: Option<SpaceToDepth>,
    /// The register-tiled GEMMs may read padding as zeros and accumulate it
    /// (their `ZERO_PADDING`): exact where every weight is finite (0 x w
    /// adds nothing) or no tap reaches the padding. Otherwise they skip it,
    /// as the CPU reference does, so that an infinite weight never meets a
    /// zero (NaN).
    pub zero_padding: bool,
}

/// The algorithm and kernel for `g`: the forced one when it supports `g`
/// (else `UnsupportedAlgorithm`), otherwise the heuristic's.
pub(crate) fn choose(facts: LayerFacts, g: &ConvGeometry, caps: DeviceCaps) -> Result<Choice> {
    let algorithm = match facts.forced {
        Some(forced) => match unsupported(forced, g, &facts, caps) {
            None => forced,
            Some(reason) => return Err(unsupported_error(forced, reason, facts.layer)),
        },
        None => match facts.tuned {
            Some(tuned) if unsupported(tuned, g, &facts, caps).is_none() => tuned,
            _ => heuristic(g, caps, &facts),
        },
    };
    let (geometry, kernel, space_to_depth) = lower(algorithm, g, caps, facts.weight_chunks);
    Ok(Choice {
        algorithm,
        kernel,
        rows8: caps.rows8,
        geometry,
        space_to_depth,
        zero_padding: facts.finite_weights || !geometry.reaches_padding(),
    })
}

/// Whether `algorithm` can run some input of this layer: checked on the
/// smallest input the kernel fits (its own extent, unpadded). `Gemm` depends on
/// the input, so it is only checked per input.
pub(crate) fn check_forcible(
    facts: LayerFacts,
    caps: DeviceCaps,
    algorithm: Algorithm,
) -> Result<()> {
    if algorithm == Algorithm::Gemm {
        return Ok(());
    }
    let layer = facts.layer;
    let p = &layer.params;
    let extent = |axis: usize| {
        (layer.weights[axis] - 1)
            .checked_mul(p.dilation[axis])
            .and_then(|e| e.checked_add(1))
    };
    // An extent beyond usize (a huge dilation) has no probe; the forward call
    // reports the real input's error (found by the fuzzer: this overflowed).
    let (Some(probe_h), Some(probe_w)) = (extent(0), extent(1)) else {
        return Ok(());
    };
    let probe_input = [1, probe_h, probe_w, layer.in_channels()?];
    let unpadded = LayerShape {
        params: Conv2dParams {
            padding: Padding::Valid,
            ..*p
        },
        ..*layer
    };
    // A probe the shape rules refuse (say, a stride too large to compute)
    // says nothing about support; the caller's real input reports its own
    // error at the forward call (found by the fuzzer: this used to return an
    // error naming the probe's made-up input).
    let Ok(probe) = unpadded.geometry(probe_input) else {
        return Ok(());
    };
    match unsupported(algorithm, &probe, &facts, caps) {
        None => Ok(()),
        Some(reason) => Err(unsupported_error(algorithm, reason, layer)),
    }
}

impl Choice {
    /// Invocations per workgroup of `kind`, one of `stages()`, on the
    /// adapter the choice was made for.
    pub fn workgroup_size(&self, kind: KernelKind) -> u32 {
        kind.workgroup_size(self.rows8)
    }

    /// The kernels of one piece, in order: the kernel alone, or Winograd's
    /// input transform, products and output transform.
    pub fn stages(&self) -> Vec<KernelKind> {
        match self.kernel {
            KernelKind::WinogradGemm
            | KernelKind::WinogradGemmTexture
            | KernelKind::WinogradGemmSubgroup => {
                let input = if self.geometry.in_c.is_multiple_of(4) {
                    KernelKind::WinogradInputVec4
                } else {
                    KernelKind::WinogradInputScalar
                };
                vec![input, self.kernel, KernelKind::WinogradOutput]
            }
            kernel if self.space_to_depth.is_some() => {
                vec![KernelKind::SpaceToDepthInput, kernel]
            }
            kernel => vec![kernel],
        }
    }

    /// How a register-tiled GEMM or the Winograd output transform stores
    /// its outputs: one vec4 per 4 channels
    /// where every dispatch's channels start and end on a multiple of 4 (the
    /// output's channels, each group's, each weight chunk's), else one at a
    /// time. Pieces start on whole pixels, so their output offsets follow.
    pub fn stores(&self, chunk_widths: &[usize]) -> Stores {
        let g = &self.geometry;
        let flavoured = self
            .stages()
            .iter()
            .any(|kind| kind.store_flavours().len() > 1);
        let aligned = flavoured
            && g.out_c.is_multiple_of(4)
            && g.out_c_per_group().is_multiple_of(4)
            && chunk_widths.iter().all(|w| w.is_multiple_of(4));
        if aligned {
            Stores::Vec4
        } else {
            Stores::Scalar
        }
    }

    /// Whether the kernel needs its edge checks for these pieces and weight
    /// chunks: only the tiled GEMM can drop them, when its tiles divide every
    /// dispatch exactly (depth, each chunk's channels, each piece's pixels).
    pub fn check_bounds(&self, pieces: &[Piece], chunk_widths: &[usize]) -> bool {
        if self.kernel != KernelKind::IgemmTiled {
            return true;
        }
        let g = &self.geometry;
        let depth = g.k_h * g.k_w * g.in_c;
        let pixels = |p: &Piece| p.images.len() * p.out_rows.len() * g.out_w;
        let divides = depth.is_multiple_of(TILED_K as usize)
            && chunk_widths
                .iter()
                .all(|w| w.is_multiple_of(TILED_N as usize))
            && pieces
                .iter()
                .all(|p| pixels(p).is_multiple_of(TILED_M as usize));
        !divides
    }
}

/// Why `algorithm` cannot run `g` for this layer on this device, if it cannot.
fn unsupported(
    algorithm: Algorithm,
    g: &ConvGeometry,
    facts: &LayerFacts,
    caps: DeviceCaps,
) -> Option<&'static str> {
    let weight_chunks = facts.weight_chunks;
    match algorithm {
        Algorithm::Direct => None,
        Algorithm::ImplicitGemm if g.groups > 1 && !g.out_c_per_group().is_multiple_of(4) => {
            Some("for groups > 1 it needs cout / groups to be a multiple of 4")
        }
        // A grouped layer runs one GEMM per group inside one weight buffer.
        Algorithm::ImplicitGemm if g.groups > 1 && weight_chunks > 1 => {
            Some("grouped layers whose weights exceed one storage binding run on the direct kernel")
        }
        Algorithm::ImplicitGemm => None,
        Algorithm::TiledGemm if g.groups != 1 => Some("it needs groups == 1"),
        Algorithm::TiledGemm => None,
        Algorithm::Gemm if gemm_view(g).is_none() => Some(
            "it needs groups == 1 and a 1x1 kernel with stride 1 and no padding, \
             or a kernel covering the whole unpadded input",
        ),
        Algorithm::Gemm => None,
        Algorithm::Depthwise
            if !(g.groups == g.in_c && g.out_c == g.in_c && g.in_c.is_multiple_of(4)) =>
        {
            Some("it needs groups == cin == cout with cin a multiple of 4")
        }
        Algorithm::Depthwise => None,
        Algorithm::Winograd if !winograd::applies(facts.layer) => Some(
            "it needs a 3x3 kernel with stride 1, no dilation, and groups == 1 or \
                 multiples of 4 input and output channels per group",
        ),
        Algorithm::Winograd
            if weight_chunks > 1
                || winograd::weight_elements(g.in_c_per_group(), g.out_c.next_multiple_of(4))
                    > caps.binding_f32s =>
        {
            Some(
                "its transformed weights (16 x cin / groups x cout in f32) must fit one \
                 storage binding",
            )
        }
        Algorithm::Winograd => {
            // f32 bounds the input and output of either element type.
            let images = winograd::images_per_piece(
                g,
                g.out_c.next_multiple_of(4),
                4,
                caps.binding_f32s * 4,
                caps.max_workgroups,
            );
            (images == 0).then_some(
                "one image, its transformed input or its products (16 x 4 x 4 per 2 x 2 \
                 outputs, f32) exceed max_storage_buffer_binding_size, or its dispatches \
                 the workgroup grid",
            )
        }
    }
}

/// The heuristic: the direct kernel for problems so small that a tiled kernel
/// would not fill one workgroup (it measured faster there: the seed, B1, runs
/// in half the time); else depthwise where it applies; else, on CPU-like
/// adapters without subgroups (llvmpipe on GL), Winograd for 3x3 stride-1
/// layers with at least 64 input and output channels per group (alternating
/// with the implicit GEMM in one process, since that reads padding as zeros
/// in tiles of 16 pixels: about 1.2x on B2 and B5, 0.8x on B8's 32
/// channels, where the transforms weigh more against the products they
/// save; on lavapipe, where the implicit GEMM shares its weight loads over
/// subgroups, Winograd ties on B2 and B5 and loses on B8); else, on GPUs, the
/// workgroup-memory tiled GEMM, and on CPU-like adapters (llvmpipe) the
/// register-tiled one (workgroup memory is a net loss there); grouped layers
/// with at least 4 input channels per group run the register-tiled GEMM per
/// group; the direct kernel takes what remains.
fn heuristic(g: &ConvGeometry, caps: DeviceCaps, facts: &LayerFacts) -> Algorithm {
    let outputs = (g.batch * g.out_h * g.out_w * g.out_c) as u64;
    let one_workgroup_of_tiles =
        u64::from(IGEMM_PIXELS * IGEMM_COLUMNS4 * 4) * u64::from(WORKGROUP_SIZE) / 4;
    if outputs < one_workgroup_of_tiles {
        return Algorithm::Direct;
    }
    let gemm = if caps.gpu {
        Algorithm::TiledGemm
    } else {
        Algorithm::Gemm
    };
    let winograd_pays = winograd_pays(g.in_c_per_group(), g.out_c_per_group(), caps);
    // Per-group GEMMs pay when each group has a few input channels.
    let grouped_gemm_pays = g.groups == 1 || g.in_c_per_group() >= 4;
    [
        Algorithm::Depthwise,
        Algorithm::Winograd,
        gemm,
        Algorithm::ImplicitGemm,
    ]
    .into_iter()
    .filter(|a| *a != Algorithm::Winograd || winograd_pays)
    .filter(|a| *a != Algorithm::ImplicitGemm || grouped_gemm_pays)
    .find(|a| unsupported(*a, g, facts, caps).is_none())
    .unwrap_or(Algorithm::Direct)
}

/// Whether the heuristic runs Winograd where it applies: CPU-like adapters
/// without subgroups, other than SwiftShader, at least 64 channels in and
/// out per group.
fn winograd_pays(group_in_c: usize, group_out_c: usize, caps: DeviceCaps) -> bool {
    !caps.gpu && !caps.narrow_tiles && !caps.subgroups && group_in_c >= 64 && group_out_c >= 64
}

/// Whether the heuristic will run Winograd on this layer, stored in
/// `weight_chunks` chunks (on inputs whose pieces fit the limits), so that
/// `GpuConv2d::new` transforms its weights.
pub(crate) fn winograd_by_default(
    layer: &LayerShape,
    weight_chunks: usize,
    caps: DeviceCaps,
) -> Result<bool> {
    let (group_in_c, out_c) = (layer.weights[2], layer.out_channels());
    Ok(winograd::applies(layer)
        && weight_chunks == 1
        && winograd::weight_elements(group_in_c, out_c.next_multiple_of(4)) <= caps.binding_f32s
        && winograd_pays(group_in_c, out_c / layer.params.groups, caps))
}

/// Whether the vec4 register-tiled GEMMs read weights of shape `(kh, kw,
/// cin / groups, cout)` from a texture: their vec4 (`cout` padded to 4, at
/// least any chunk holds) must fit the texture rows the device allows.
pub(crate) fn gemm_weights_in_texture(weights: [usize; 4], caps: DeviceCaps) -> bool {
    let [k_h, k_w, group_in_c, out_c] = weights;
    let texels = (k_h * k_w * group_in_c * out_c.div_ceil(4)) as u64;
    !caps.narrow_tiles && group_in_c.is_multiple_of(4) && weights_in_texture(texels, caps)
}

/// Whether weights of `texels` vec4 are read from a texture, where a kernel can.
fn weights_in_texture(texels: u64, caps: DeviceCaps) -> bool {
    caps.weight_textures && texture_rows(texels) <= caps.texture_rows
}

/// Whether Winograd's products read the transformed weights (of
/// `group_in_c` input channels per group) from a texture.
pub(crate) fn winograd_in_texture(group_in_c: usize, out_c: usize, caps: DeviceCaps) -> bool {
    let texels = winograd::weight_elements(group_in_c, out_c.next_multiple_of(4)) / 4;
    weights_in_texture(texels, caps)
}

/// The geometry the kernel sees (GEMM reshapes, the space-to-depth view)
/// and the kernel that runs an algorithm that supports `g`.
fn lower(
    algorithm: Algorithm,
    g: &ConvGeometry,
    caps: DeviceCaps,
    weight_chunks: usize,
) -> (ConvGeometry, KernelKind, Option<SpaceToDepth>) {
    let igemm = |g: ConvGeometry| {
        let vec4 = g.in_c_per_group().is_multiple_of(4);
        let in_texture = gemm_weights_in_texture([g.k_h, g.k_w, g.in_c_per_group(), g.out_c], caps);
        match (vec4, caps.narrow_tiles, caps.subgroups) {
            (true, true, _) => KernelKind::IgemmVec4Narrow,
            (false, true, _) => KernelKind::IgemmScalarNarrow,
            (true, false, _) if in_texture => KernelKind::IgemmVec4Texture,
            (true, false, true) => KernelKind::IgemmSubgroup,
            (true, false, false) => KernelKind::IgemmVec4,
            (false, false, _) => KernelKind::IgemmScalar,
        }
    };
    let (geometry, kernel) = match algorithm {
        Algorithm::Direct => (*g, KernelKind::Direct),
        Algorithm::ImplicitGemm => {
            if let Some((view, s2d)) = space_to_depth_view(g, weight_chunks) {
                let kernel = igemm(view);
                if fits_one_piece(g, &view, kernel, caps) {
                    return (view, kernel, Some(s2d));
                }
            }
            (*g, igemm(*g))
        }
        Algorithm::Gemm => {
            let view = gemm_view(g).expect("Gemm is chosen only where it applies");
            (view, igemm(view))
        }
        Algorithm::Depthwise if caps.narrow_tiles && sliding_3x3(g) => {
            (*g, KernelKind::DepthwiseBlock)
        }
        Algorithm::Depthwise if caps.lanes8 && sliding_3x3(g) => {
            (*g, KernelKind::DepthwiseSubgroup)
        }
        // CPU adapters without those subgroups (llvmpipe on GL): B6,
        // alternated in one process, ran 1.5-2.2x faster in blocks than in
        // rows of 8 pixels, and 1.6-1.7x faster again in strips of 4 x 28.
        Algorithm::Depthwise if !caps.gpu && sliding_3x3(g) => (*g, KernelKind::DepthwiseRows),
        Algorithm::Depthwise => (*g, KernelKind::DepthwiseVec4),
        Algorithm::TiledGemm => (gemm_view(g).unwrap_or(*g), KernelKind::IgemmTiled),
        Algorithm::Winograd if winograd_in_texture(g.in_c_per_group(), g.out_c, caps) => {
            (*g, KernelKind::WinogradGemmTexture)
        }
        Algorithm::Winograd if caps.subgroups => (*g, KernelKind::WinogradGemmSubgroup),
        Algorithm::Winograd => (*g, KernelKind::WinogradGemm),
    };
    (geometry, kernel, None)
}

/// The implicit GEMM's space-to-depth view of `g`, where it applies with
/// the weights in one chunk. On llvmpipe, B4 (7x7, stride 2, 3 channels) ran
/// 1.8x (Vulkan) and 1.24x (GL) faster through the view (measured as a
/// layer of 12 channels against the layer itself).
fn space_to_depth_view(
    g: &ConvGeometry,
    weight_chunks: usize,
) -> Option<(ConvGeometry, SpaceToDepth)> {
    if !space_to_depth::applies_to(g) || weight_chunks != 1 {
        return None;
    }
    let (view, shifts) = space_to_depth::view(g);
    Some((view, SpaceToDepth { layer: *g, shifts }))
}

/// Whether the call through `view` (of layer geometry `g`) fits one piece,
/// as the view runs: the input, the packed input and the output each in one
/// binding, the packing and `kernel`'s dispatch in the grid (larger calls
/// run the scalar kernel in pieces).
fn fits_one_piece(
    g: &ConvGeometry,
    view: &ConvGeometry,
    kernel: KernelKind,
    caps: DeviceCaps,
) -> bool {
    let packed = space_to_depth::input_elements(view);
    let input = (g.batch * g.in_h * g.in_w * g.in_c) as u64;
    let output = (g.batch * g.out_h * g.out_w * g.out_c) as u64;
    let size = kernel.dispatch(
        g.batch as u64,
        g.out_h as u64,
        g.out_w as u64,
        g.out_c as u64,
        g.out_c.next_multiple_of(4) as u64,
        caps.rows8,
    );
    [input, packed, output]
        .iter()
        .all(|&elements| elements <= caps.binding_f32s)
        && packed.div_ceil(u64::from(WORKGROUP_SIZE)) <= caps.max_workgroups
        && size.workgroups <= caps.max_workgroups
}

/// A 3x3 kernel with stride 1 and no dilation: the depthwise block kernel's layers.
fn sliding_3x3(g: &ConvGeometry) -> bool {
    g.k_h == 3 && g.k_w == 3 && g.stride == [1, 1] && g.dilation == [1, 1]
}

/// The convolution as a matrix product `[pixels, K] x [K, cout]`, when it is one:
/// a 1x1 kernel with stride 1 and no padding (unchanged), or a kernel that
/// covers the whole unpadded input with taps next to each other (no
/// dilation), seen as a 1x1 convolution of an image of one pixel with
/// `h * w * cin` channels (NHWC and HWIO flatten to the same order).
fn gemm_view(g: &ConvGeometry) -> Option<ConvGeometry> {
    if g.groups != 1 || g.pad_top != 0 || g.pad_left != 0 {
        return None;
    }
    if g.k_h == 1 && g.k_w == 1 && g.stride == [1, 1] {
        return Some(*g);
    }
    // A dilated kernel as wide as the input reaches past it (found by the
    // fuzzer: its taps were taken as the input's pixels, a wrong answer).
    let covers = g.k_h == g.in_h
        && g.k_w == g.in_w
        && (g.k_h == 1 || g.dilation[0] == 1)
        && (g.k_w == 1 || g.dilation[1] == 1)
        && g.out_h == 1
        && g.out_w == 1;
    covers.then_some(ConvGeometry {
        in_h: 1,
        in_w: 1,
        in_c: g.in_h * g.in_w * g.in_c,
        k_h: 1,
        k_w: 1,
        stride: [1, 1],
        dilation: [1, 1],
        ..*g
    })
}

fn unsupported_error(
    algorithm: Algorithm,
    reason: &'static str,
    layer: &LayerShape,
) -> Conv2dError {
    Conv2dError::UnsupportedAlgorithm {
        algorithm,
        reason,
        weights_shape: layer.weights,
        groups: layer.params.groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(input: [usize; 4], k: usize, cout: usize) -> ConvGeometry {
        let params = Conv2dParams {
            padding: Padding::Same,
            ..Default::default()
        };
        LayerShape::new([k, k, input[3], cout], None, params)
            .unwrap()
            .geometry(input)
            .unwrap()
    }

    /// llvmpipe on GL, as far as the choice of kernel goes.
    fn cpu_without_subgroups(texture_rows: u64) -> DeviceCaps {
        DeviceCaps {
            subgroups: false,
            lanes8: false,
            gpu: false,
            rows8: true,
            narrow_tiles: false,
            weight_textures: true,
            texture_rows,
            binding_f32s: 1 << 26,
            max_workgroups: 1 << 30,
        }
    }

    #[test]
    fn strided_few_channel_layers_run_the_space_to_depth_view_when_it_fits() {
        let stem = LayerShape::new(
            [7, 7, 3, 64],
            None,
            Conv2dParams {
                stride: [2, 2],
                padding: Padding::Same,
                ..Default::default()
            },
        )
        .unwrap();
        let g = stem.geometry([1, 224, 224, 3]).unwrap();
        let caps = DeviceCaps {
            subgroups: true,
            weight_textures: false,
            ..cpu_without_subgroups(1 << 20)
        };
        let (view, kernel, s2d) = lower(Algorithm::ImplicitGemm, &g, caps, 1);
        assert_eq!(kernel, KernelKind::IgemmSubgroup);
        assert_eq!((view.in_h, view.in_w, view.in_c), (112, 112, 12));
        assert_eq!((view.k_h, view.k_w, view.stride), (4, 4, [1, 1]));
        assert_eq!(s2d.map(|s| s.layer), Some(g));
        let choice = Choice {
            algorithm: Algorithm::ImplicitGemm,
            kernel,
            rows8: true,
            geometry: view,
            space_to_depth: s2d,
            zero_padding: true,
        };
        assert_eq!(
            choice.stages(),
            [KernelKind::SpaceToDepthInput, KernelKind::IgemmSubgroup]
        );
        // Weights in two chunks, or an output beyond one binding: the
        // scalar kernel, in pieces.
        let plain = (g, KernelKind::IgemmScalar, None);
        assert_eq!(lower(Algorithm::ImplicitGemm, &g, caps, 2), plain);
        let small = DeviceCaps {
            binding_f32s: 224 * 224 * 4,
            ..caps
        };
        assert_eq!(lower(Algorithm::ImplicitGemm, &g, small, 1), plain);
    }

    #[test]
    fn depthwise_3x3_runs_in_strips_on_cpu_adapters_and_in_blocks_on_swiftshader() {
        let layer = LayerShape::new(
            [3, 3, 1, 16],
            None,
            Conv2dParams {
                padding: Padding::Same,
                groups: 16,
                ..Default::default()
            },
        )
        .unwrap();
        let g = layer.geometry([1, 8, 8, 16]).unwrap();
        let kernel = |caps| lower(Algorithm::Depthwise, &g, caps, 1).1;
        let gl = cpu_without_subgroups(1 << 20);
        assert_eq!(kernel(gl), KernelKind::DepthwiseRows);
        let swiftshader = DeviceCaps {
            narrow_tiles: true,
            ..gl
        };
        assert_eq!(kernel(swiftshader), KernelKind::DepthwiseBlock);
        let lavapipe = DeviceCaps {
            subgroups: true,
            lanes8: true,
            ..gl
        };
        assert_eq!(kernel(lavapipe), KernelKind::DepthwiseSubgroup);
        let gpu = DeviceCaps { gpu: true, ..gl };
        assert_eq!(kernel(gpu), KernelKind::DepthwiseVec4);
        // Strided: the row kernel everywhere.
        let strided = LayerShape {
            params: Conv2dParams {
                stride: [2, 2],
                ..layer.params
            },
            ..layer
        };
        let g = strided.geometry([1, 8, 8, 16]).unwrap();
        assert_eq!(
            lower(Algorithm::Depthwise, &g, gl, 1).1,
            KernelKind::DepthwiseVec4
        );
    }

    #[test]
    fn gemms_and_winograd_store_vec4_only_where_every_dispatch_is_aligned_to_4_channels() {
        let choice = |g: ConvGeometry, algorithm| {
            let (geometry, kernel, _) = lower(algorithm, &g, cpu_without_subgroups(1 << 20), 1);
            Choice {
                algorithm,
                kernel,
                rows8: true,
                geometry,
                space_to_depth: None,
                zero_padding: true,
            }
        };
        let aligned = choice(geometry([1, 8, 8, 8], 3, 32), Algorithm::ImplicitGemm);
        assert_eq!(aligned.stores(&[32]), Stores::Vec4);
        assert_eq!(aligned.stores(&[16, 16]), Stores::Vec4);
        // A chunk of 6 channels would start the next at channel 6.
        assert_eq!(aligned.stores(&[6, 26]), Stores::Scalar);
        let odd = choice(geometry([1, 8, 8, 8], 3, 30), Algorithm::ImplicitGemm);
        assert_eq!(odd.stores(&[30]), Stores::Scalar);
        // Groups of 6 output channels: each group's dispatch starts at 6 g.
        let grouped = LayerShape::new(
            [3, 3, 4, 12],
            None,
            Conv2dParams {
                groups: 2,
                ..Default::default()
            },
        )
        .unwrap()
        .geometry([1, 8, 8, 8])
        .unwrap();
        assert_eq!(
            choice(grouped, Algorithm::ImplicitGemm).stores(&[12]),
            Stores::Scalar
        );
        // Winograd's output transform: vec4 where cout % 4 == 0.
        let winograd = |cout| choice(geometry([1, 8, 8, 8], 3, cout), Algorithm::Winograd);
        assert_eq!(winograd(32).stores(&[32]), Stores::Vec4);
        assert_eq!(winograd(30).stores(&[30]), Stores::Scalar);
        // The other kernels store as they always do.
        assert_eq!(
            choice(geometry([1, 8, 8, 8], 3, 32), Algorithm::Direct).stores(&[32]),
            Stores::Scalar
        );
    }

    #[test]
    fn weights_go_to_a_texture_only_when_it_has_rows_enough() {
        // 3x3x64 -> 64: 576 rows of 16 vec4 = 9216 texels = 3 texture rows.
        let g = geometry([1, 16, 16, 64], 3, 64);
        let width = u64::from(WEIGHT_TEXTURE_WIDTH);
        assert_eq!(texture_rows(9216), 9216u64.div_ceil(width));
        let kernel = |caps, algorithm| lower(algorithm, &g, caps, 1).1;
        let roomy = cpu_without_subgroups(3);
        let cramped = cpu_without_subgroups(2);
        assert_eq!(
            kernel(roomy, Algorithm::ImplicitGemm),
            KernelKind::IgemmVec4Texture
        );
        assert_eq!(
            kernel(cramped, Algorithm::ImplicitGemm),
            KernelKind::IgemmVec4
        );
        // Winograd's transform: 16 x 64 rows of 16 vec4 = 16384 texels = 4 rows.
        let winograd_roomy = cpu_without_subgroups(4);
        assert_eq!(
            kernel(winograd_roomy, Algorithm::Winograd),
            KernelKind::WinogradGemmTexture
        );
        assert_eq!(kernel(roomy, Algorithm::Winograd), KernelKind::WinogradGemm);
        // Textures off (the default with subgroups): the subgroup kernels.
        let subgroups = DeviceCaps {
            subgroups: true,
            weight_textures: false,
            ..roomy
        };
        assert_eq!(
            kernel(subgroups, Algorithm::ImplicitGemm),
            KernelKind::IgemmSubgroup
        );
        // Scalar input has no texture variant.
        let scalar = geometry([1, 16, 16, 3], 3, 64);
        assert_eq!(
            lower(Algorithm::ImplicitGemm, &scalar, roomy, 1).1,
            KernelKind::IgemmScalar
        );
    }

    #[test]
    fn padding_is_read_as_zeros_where_weights_are_finite_or_no_tap_reaches_it() {
        let zero_padding = |k: usize, finite_weights: bool| {
            let params = Conv2dParams {
                padding: Padding::Same,
                ..Default::default()
            };
            let layer = LayerShape::new([k, k, 8, 32], None, params).unwrap();
            let facts = LayerFacts {
                layer: &layer,
                weight_chunks: 1,
                forced: Some(Algorithm::ImplicitGemm),
                tuned: None,
                dtype: DType::F32,
                finite_weights,
            };
            let g = layer.geometry([1, 16, 16, 8]).unwrap();
            choose(facts, &g, cpu_without_subgroups(1 << 20))
                .unwrap()
                .zero_padding
        };
        assert!(zero_padding(3, true));
        // An infinite weight times a padding zero would be NaN: skipped.
        assert!(!zero_padding(3, false));
        // 1 x 1 'same' never reaches the padding.
        assert!(zero_padding(1, false));
    }
}
