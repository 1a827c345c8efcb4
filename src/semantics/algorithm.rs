//! The names of the kernel families a forward pass can run. What each one
//! supports, and which one runs, is decided on the GPU side (`conv::choice`).

/// The kernel family a forward pass runs. [`GpuConv2d`](crate::GpuConv2d)
/// picks one per input shape (see [`GpuConv2d::algorithm_for`](crate::GpuConv2d::algorithm_for));
/// [`GpuConv2d::with_algorithm`](crate::GpuConv2d::with_algorithm) forces one.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// One invocation per output element. Handles every layer; the baseline.
    Direct,
    /// Implicit GEMM with register tiles (16 pixels x 16 channels per
    /// invocation, 8 x 32 with subgroups — 4 pixels on SwiftShader, whose
    /// compiler takes ~45 s on a wider unroll — vec4 loads along channels,
    /// weights shared across a subgroup where there is one). Padding is read
    /// as zeros where every weight is finite, and skipped (as the CPU
    /// reference does) next to an infinite or NaN weight. Grouped layers run
    /// one GEMM per group; needs `cout / groups` to be a multiple of 4.
    ImplicitGemm,
    /// A plain GEMM, for 1x1 kernels with stride 1 and no padding, and for
    /// kernels that cover the whole unpadded input (one output pixel). Runs the
    /// implicit-GEMM kernel on the convolution seen as a matrix product.
    Gemm,
    /// Depthwise (`groups == cin == cout`, `cin % 4 == 0`): 8 pixels x 4
    /// channels per invocation, input rows reused from registers (3x3 stride-1
    /// layers: on devices with subgroups of exactly 8, a lane per column with
    /// its neighbours shuffled in, strips of up to 28 rows; on SwiftShader,
    /// 4 x 4 blocks).
    Depthwise,
    /// Implicit GEMM tiled through workgroup memory (64 x 64 outputs per
    /// workgroup, 8 x 8 per invocation), the design that wins on GPUs; chosen
    /// on discrete and integrated GPUs. Needs `groups == 1`. It multiplies the
    /// padding as zeros, as TensorFlow does: an infinite or NaN weight meeting
    /// the padding gives NaN where the CPU reference skips the tap.
    TiledGemm,
    /// Winograd F(2x2, 3x3) for 3x3 kernels with stride 1 and no dilation
    /// (any padding; `groups == 1`, or groups of a multiple of 4 input and
    /// output channels, one batched product per group): the input cut into
    /// 4 x 4 tiles and
    /// transformed, 16 batched products with the weights transformed once
    /// (in `GpuConv2d::new` where the heuristic runs Winograd, or when it is
    /// forced; 2.25x fewer multiplications than the other kernels), and the output
    /// transform with bias and activation; three dispatches through two f32
    /// scratch buffers of the layer's prepared shape. Like `TiledGemm` it
    /// multiplies the padding as zeros, and a non-finite input reaches every
    /// output of its 2 x 2 output tile (as NaN where infinities meet).
    Winograd,
}

impl Algorithm {
    /// Every algorithm, for benchmarks and tests that try them all.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Direct,
        Algorithm::ImplicitGemm,
        Algorithm::Gemm,
        Algorithm::Depthwise,
        Algorithm::TiledGemm,
        Algorithm::Winograd,
    ];
}
