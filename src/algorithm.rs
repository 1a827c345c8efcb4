//! Which kernel computes a convolution: the choices, what each supports, and
//! the heuristic that picks one per shape.

use crate::geometry::ConvGeometry;
use crate::kernels::{KernelKind, WORKGROUP_SIZE};

/// Output pixels per invocation of the implicit-GEMM kernels (`TM` in their WGSL).
pub(crate) const IGEMM_PIXELS: u64 = 8;
/// vec4 columns of output channels per invocation of those kernels (`TN4`).
pub(crate) const IGEMM_COLUMNS4: u64 = 4;
/// Output pixels of one row per invocation of the depthwise kernel (`TX`).
pub(crate) const DEPTHWISE_PIXELS: u64 = 8;

/// The kernel family a forward pass runs. [`GpuConv2d`](crate::GpuConv2d)
/// picks one per input shape (see [`GpuConv2d::algorithm_for`](crate::GpuConv2d::algorithm_for));
/// [`GpuConv2d::with_algorithm`](crate::GpuConv2d::with_algorithm) forces one.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// One invocation per output element. Handles every layer; the baseline.
    Direct,
    /// Implicit GEMM with register tiles (8 pixels x 16 channels per
    /// invocation, vec4 loads along channels, weights shared across a
    /// workgroup). Grouped layers run one GEMM per group; needs
    /// `cout / groups` to be a multiple of 4.
    ImplicitGemm,
    /// A plain GEMM, for 1x1 kernels with stride 1 and no padding, and for
    /// kernels that cover the whole unpadded input (one output pixel). Runs the
    /// implicit-GEMM kernel on the convolution seen as a matrix product.
    Gemm,
    /// Depthwise (`groups == cin == cout`, `cin % 4 == 0`): 8 pixels x 4
    /// channels per invocation, input rows reused from registers.
    Depthwise,
    /// Implicit GEMM tiled through workgroup memory (64 x 64 outputs per
    /// workgroup, 8 x 8 per invocation), the design that wins on GPUs; chosen
    /// on discrete and integrated GPUs. Needs `groups == 1`. It multiplies the
    /// padding as zeros, as TensorFlow does: an infinite or NaN weight meeting
    /// the padding gives NaN where the CPU reference skips the tap.
    TiledGemm,
}

/// What the selection needs to know about the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeviceCaps {
    /// Subgroup operations with subgroups of at least 8 invocations.
    pub subgroups: bool,
    /// A real GPU (discrete, integrated or virtual), where workgroup memory pays.
    pub gpu: bool,
}

impl Algorithm {
    /// Every algorithm, for benchmarks and tests that try them all.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Direct,
        Algorithm::ImplicitGemm,
        Algorithm::Gemm,
        Algorithm::Depthwise,
        Algorithm::TiledGemm,
    ];

    /// Why this algorithm cannot run `g`, if it cannot.
    pub(crate) fn unsupported(self, g: &ConvGeometry) -> Option<&'static str> {
        match self {
            Algorithm::Direct => None,
            Algorithm::ImplicitGemm if g.groups > 1 && !g.out_c_per_group().is_multiple_of(4) => {
                Some("for groups > 1 it needs cout / groups to be a multiple of 4")
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
        }
    }

    /// The heuristic: the direct kernel for problems so small that a tiled
    /// kernel would not fill one workgroup (it measured faster there: the
    /// seed, B1, runs in half the time); else depthwise where it applies; else,
    /// on GPUs, the workgroup-memory tiled GEMM, and on CPU-like adapters
    /// (llvmpipe) the register-tiled one (workgroup memory is a net loss there);
    /// grouped layers with at least 4 input channels per group run the
    /// register-tiled GEMM per group; the direct kernel takes what remains.
    pub(crate) fn select(g: &ConvGeometry, caps: DeviceCaps) -> Algorithm {
        let outputs = (g.batch * g.out_h * g.out_w * g.out_c) as u64;
        if outputs < IGEMM_PIXELS * IGEMM_COLUMNS4 * 4 * u64::from(WORKGROUP_SIZE) / 4 {
            return Algorithm::Direct;
        }
        let gemm = if caps.gpu {
            Algorithm::TiledGemm
        } else {
            Algorithm::Gemm
        };
        // Per-group GEMMs pay when each group has a few input channels.
        let grouped_gemm_pays = g.groups == 1 || g.in_c_per_group() >= 4;
        [Algorithm::Depthwise, gemm, Algorithm::ImplicitGemm]
            .into_iter()
            .filter(|a| *a != Algorithm::ImplicitGemm || grouped_gemm_pays)
            .find(|a| a.unsupported(g).is_none())
            .unwrap_or(Algorithm::Direct)
    }

    /// The geometry the kernel sees (GEMM reshapes) and the kernel that runs it.
    /// `None` when the algorithm does not support `g`.
    pub(crate) fn lower(
        self,
        g: &ConvGeometry,
        caps: DeviceCaps,
    ) -> Option<(ConvGeometry, KernelKind)> {
        if self.unsupported(g).is_some() {
            return None;
        }
        let igemm = |g: ConvGeometry| {
            let kind = match (g.in_c_per_group().is_multiple_of(4), caps.subgroups) {
                (true, true) => KernelKind::IgemmSubgroup,
                (true, false) => KernelKind::IgemmVec4,
                (false, _) => KernelKind::IgemmScalar,
            };
            (g, kind)
        };
        Some(match self {
            Algorithm::Direct => (*g, KernelKind::Direct),
            Algorithm::ImplicitGemm => igemm(*g),
            Algorithm::Gemm => igemm(gemm_view(g)?),
            Algorithm::Depthwise => (*g, KernelKind::DepthwiseVec4),
            Algorithm::TiledGemm => (gemm_view(g).unwrap_or(*g), KernelKind::IgemmTiled),
        })
    }
}

impl KernelKind {
    /// The register-tiled implicit GEMMs (which run grouped layers per group).
    pub(crate) fn is_register_gemm(self) -> bool {
        matches!(
            self,
            KernelKind::IgemmVec4 | KernelKind::IgemmScalar | KernelKind::IgemmSubgroup
        )
    }

    /// One dispatch's size for `rows` output rows (over all its images) of
    /// width `out_w` and a weight chunk of `channels` output channels stored
    /// `w_stride` floats wide: (workgroups, the kernel's `total`).
    pub(crate) fn dispatch(
        self,
        rows: u64,
        out_w: u64,
        channels: u64,
        w_stride: u64,
    ) -> (u64, u64) {
        let group = u64::from(WORKGROUP_SIZE);
        let pixels = rows * out_w;
        let columns4 = match self {
            // Depthwise and tiled dispatches cover a whole weight chunk.
            KernelKind::DepthwiseVec4 | KernelKind::IgemmTiled => w_stride / 4,
            _ => channels.div_ceil(4),
        };
        match self {
            KernelKind::Direct => {
                let outputs = pixels * channels;
                (outputs.div_ceil(group), outputs)
            }
            // Workgroups are (column tile) x (runs of 64 pixel tiles).
            KernelKind::IgemmVec4 | KernelKind::IgemmScalar | KernelKind::IgemmSubgroup => {
                let pixel_tiles = pixels.div_ceil(IGEMM_PIXELS);
                let column_tiles = columns4.div_ceil(IGEMM_COLUMNS4);
                (column_tiles * pixel_tiles.div_ceil(group), pixel_tiles)
            }
            // Workgroups are (64-channel tile) x (64-pixel tile).
            KernelKind::IgemmTiled => {
                let tiles = pixels.div_ceil(64) * columns4.div_ceil(16);
                (tiles, pixels)
            }
            // Workgroups are (channel vec4) x (runs of 64 row segments).
            KernelKind::DepthwiseVec4 => {
                let tiles = rows * out_w.div_ceil(DEPTHWISE_PIXELS);
                (columns4 * tiles.div_ceil(group), tiles)
            }
        }
    }

    /// Fewest outputs any invocation computes, for sizing dispatches.
    pub(crate) fn min_outputs_per_invocation(self) -> u64 {
        match self {
            KernelKind::Direct => 1,
            KernelKind::IgemmVec4
            | KernelKind::IgemmScalar
            | KernelKind::IgemmSubgroup
            | KernelKind::IgemmTiled => 1,
            KernelKind::DepthwiseVec4 => 4,
        }
    }
}

/// The convolution as a matrix product `[pixels, K] x [K, cout]`, when it is one:
/// a 1x1 kernel with stride 1 and no padding (unchanged), or a kernel that
/// covers the whole unpadded input, seen as a 1x1 convolution of an image of one
/// pixel with `h * w * cin` channels (NHWC and HWIO flatten to the same order).
fn gemm_view(g: &ConvGeometry) -> Option<ConvGeometry> {
    if g.groups != 1 || g.pad_top != 0 || g.pad_left != 0 {
        return None;
    }
    if g.k_h == 1 && g.k_w == 1 && g.stride == [1, 1] {
        return Some(*g);
    }
    let covers = g.k_h == g.in_h && g.k_w == g.in_w && g.out_h == 1 && g.out_w == 1;
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
