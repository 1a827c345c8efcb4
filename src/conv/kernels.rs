//! The WGSL kernels: which exist, their sources, the tile sizes they share
//! with Rust, their override constants and dispatch sizes. (Their uniform block
//! is `uniform.rs`; compiled pipelines are `pipelines.rs`.)
//!
//! Tile sizes are defined here once. [`tile_constants_wgsl`] turns them into a
//! block of WGSL `const`s that is prepended to every kernel, so Rust (dispatch
//! sizes, bounds checks, memory checks) and WGSL read the same numbers; the
//! register-tiled GEMMs' unrolled bodies are generated from
//! `shaders/templates/conv2d_igemm.wgsl.in` with the same constants
//! (`conv/codegen.rs`, a test that fails when the committed files drift).

use crate::semantics::precision::DType;

/// Invocations per workgroup of the direct, register-tiled and depthwise
/// kernels (their `WORKGROUP_SIZE` override, set from here; the
/// register-tiled GEMMs on CPU adapters: `ROW_WORKGROUP_SIZE`).
pub(crate) const WORKGROUP_SIZE: u32 = 64;
/// Invocations per workgroup of the register-tiled GEMMs where the adapter
/// runs invocations in SIMD rows of 8 (llvmpipe): one row, so that the
/// workgroups after one another share input pixels across column tiles.
/// Alternated in one process with workgroups of 64: B3 (1x1, 256 channels)
/// 0.79-0.87x the time on lavapipe and 0.81x on GL, B7 0.96x on both; B4,
/// B9 and B10 within 1% (on lavapipe up to 1% slower).
pub(crate) const ROW_WORKGROUP_SIZE: u32 = 8;
/// Output pixels per invocation of the register-tiled GEMMs (the unroll of
/// their generated bodies). On llvmpipe GL, alternated in one process with
/// 8 pixels since they read padding as zeros: B2-B10 1.2-1.3x faster (B3
/// 1.25x, B7 1.17x).
pub(crate) const IGEMM_PIXELS: u32 = 16;
/// Output pixels per invocation of their narrow variants, for adapters whose
/// shader compilers take minutes on the wide unroll (SwiftShader).
pub(crate) const IGEMM_NARROW_PIXELS: u32 = 4;
/// vec4 column groups (4 output channels each) per invocation of those kernels.
pub(crate) const IGEMM_COLUMNS4: u32 = 4;
/// Output pixels and vec4 column groups per invocation of the subgroup
/// variant: 8 x 32 channels (its weights cost 4 loads a step shared across
/// the subgroup). On lavapipe, alternated in one process since the GEMMs
/// read padding as zeros: 4 x 32 took 1.05-1.2x the time on B2-B10, 16 x 32
/// 1.3-2.7x. (With the padding branch, 8 x 32 had been the slower.)
pub(crate) const IGEMM_SUBGROUP_PIXELS: u32 = 8;
pub(crate) const IGEMM_SUBGROUP_COLUMNS4: u32 = 8;
/// Tiles per invocation of Winograd's subgroup products kernel (each x 32
/// output channels, as the subgroup implicit GEMM's pixels). On lavapipe,
/// over 4 tiles, as a ratio to the implicit GEMM alternated in one process
/// (median of 4 runs each): B2 0.79 -> 1.0, B5 0.90 -> 1.0.
pub(crate) const WINOGRAD_SUBGROUP_TILES: u32 = 8;
/// Tiles per invocation of Winograd's other products kernels (each x 16
/// output channels). On llvmpipe GL, run after 8 tiles (each against the
/// implicit GEMM alternated in one process): B2 0.7-0.8x the time, B5
/// 0.86x, B8 0.9x.
pub(crate) const WINOGRAD_TILES: u32 = 16;
/// Output pixels of one row per invocation of the depthwise kernel.
pub(crate) const DEPTHWISE_PIXELS: u32 = 8;
/// Lanes of a subgroup of the subgroup depthwise kernel (its subgroups must be
/// exactly this wide; two input columns each, 14 output columns a subgroup).
pub(crate) const DEPTHWISE_LANES: u32 = 8;
/// Most output rows of one strip of the 3x3 depthwise strip kernels
/// (`DepthwiseSubgroup`, `DepthwiseRows`), which walk down a strip keeping
/// three output rows in flight; the kernels even the strips of an image out
/// to equal heights. On B6 (56 rows) on lavapipe, 28 and 14 ran fastest.
pub(crate) const DEPTHWISE_STRIP_ROWS: u32 = 28;
/// Output pixels of a row per invocation of `DepthwiseRows`.
pub(crate) const DEPTHWISE_STRIP_PIXELS: u32 = 4;
/// Invocations per workgroup of the strip kernels: one subgroup (one SIMD
/// row of llvmpipe), so that no part of a workgroup idles past the last strip.
pub(crate) const DEPTHWISE_WORKGROUP: u32 = 8;
/// Output rows and pixels per row of one invocation of the depthwise block kernel.
pub(crate) const DEPTHWISE_BLOCK_ROWS: u32 = 4;
pub(crate) const DEPTHWISE_BLOCK_PIXELS: u32 = 4;
/// Texels per row of the textures that hold weights for the `*Texture`
/// kernels (a power of two, so that the kernels find a texel with a shift and
/// a mask; 4096 rgba32float texels make a row of 64 KiB, which a
/// buffer-to-texture copy accepts).
pub(crate) const WEIGHT_TEXTURE_WIDTH: u32 = 4096;
/// The workgroup-memory tiled GEMM: pixels (M) and channels (N) per
/// workgroup, and the depth (K) staged per step.
pub(crate) const TILED_M: u32 = 64;
pub(crate) const TILED_N: u32 = 64;
pub(crate) const TILED_K: u32 = 16;
/// Pixels per invocation of the tiled GEMM (each takes 8 channels).
pub(crate) const TILED_THREAD_M: u32 = 8;
/// Invocations per workgroup of the tiled GEMM.
pub(crate) const TILED_WORKGROUP: u32 = (TILED_M / TILED_THREAD_M) * (TILED_N / 8);
/// Workgroup memory the tiled kernel declares (`a_tile` + `b_tile`).
pub(crate) const TILED_WORKGROUP_BYTES: u32 = (TILED_M * TILED_K + TILED_K * TILED_N) * 4;

/// WGSL `weight(i)`: vec4 number `i` of weights copied into a texture
/// `WEIGHT_TEXTURE_WIDTH` texels wide (texel i at (i % width, i / width)),
/// for every `*Texture` kernel (a literal, so that `concat!` can join it).
macro_rules! texture_weight_wgsl {
    () => {
        "// Weight vec4 number i of the chunk.
fn weight(i: u32) -> vec4<f32> {
    return textureLoad(weights, vec2<u32>(i % WEIGHT_TEXTURE_WIDTH, i / WEIGHT_TEXTURE_WIDTH), 0);
}
"
    };
}
#[cfg(test)] // for conv/codegen.rs, a test-only module
pub(crate) use texture_weight_wgsl;

/// The tile sizes above as WGSL constants, prepended to every kernel.
pub(crate) fn tile_constants_wgsl() -> String {
    let constants = [
        ("IGEMM_PIXELS", IGEMM_PIXELS),
        ("IGEMM_NARROW_PIXELS", IGEMM_NARROW_PIXELS),
        ("IGEMM_COLUMNS4", IGEMM_COLUMNS4),
        ("IGEMM_SUBGROUP_PIXELS", IGEMM_SUBGROUP_PIXELS),
        ("IGEMM_SUBGROUP_COLUMNS4", IGEMM_SUBGROUP_COLUMNS4),
        ("WINOGRAD_SUBGROUP_TILES", WINOGRAD_SUBGROUP_TILES),
        ("WINOGRAD_TILES", WINOGRAD_TILES),
        ("DEPTHWISE_PIXELS", DEPTHWISE_PIXELS),
        ("DEPTHWISE_LANES", DEPTHWISE_LANES),
        ("DEPTHWISE_STRIP_ROWS", DEPTHWISE_STRIP_ROWS),
        ("DEPTHWISE_STRIP_PIXELS", DEPTHWISE_STRIP_PIXELS),
        ("DEPTHWISE_BLOCK_ROWS", DEPTHWISE_BLOCK_ROWS),
        ("DEPTHWISE_BLOCK_PIXELS", DEPTHWISE_BLOCK_PIXELS),
        ("TILED_M", TILED_M),
        ("TILED_N4", TILED_N / 4),
        ("TILED_K", TILED_K),
        ("TILED_THREAD_M", TILED_THREAD_M),
        ("TILED_WORKGROUP", TILED_WORKGROUP),
        ("WEIGHT_TEXTURE_WIDTH", WEIGHT_TEXTURE_WIDTH),
    ];
    let mut wgsl = String::from("// Tile sizes, from src/conv/kernels.rs.\n");
    for (name, value) in constants {
        wgsl.push_str(&format!("const {name}: u32 = {value}u;\n"));
    }
    wgsl
}

/// The storage element types every kernel declares its buffers with (`elem`,
/// `elem4`); kernels widen what they load to f32 and accumulate in f32, and
/// round what they store once. First in every kernel (an `enable` directive
/// must precede all declarations).
pub(crate) fn element_types_wgsl(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => {
            "// Storage element types: f32.\nalias elem = f32;\nalias elem4 = vec4<f32>;\n"
        }
        DType::F16 => {
            "enable f16;\n// Storage element types: f16 (accumulation stays f32).\n\
             alias elem = f16;\nalias elem4 = vec4<f16>;\n"
        }
    }
}

/// Uniform block and activation, prepended to every kernel after the tile constants.
const PARAMS_WGSL: &str = include_str!("../../shaders/params.wgsl");
/// Helpers of the kernels that share the bindings `input`, `weights`,
/// `bias`, `output` (all but the Winograd ones), after `PARAMS_WGSL`.
const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");
/// common.wgsl and the helpers of the 3x3 stride-1 depthwise kernels.
const COMMON_DEPTHWISE_3X3_WGSL: &str = concat!(
    include_str!("../../shaders/common.wgsl"),
    include_str!("../../shaders/depthwise_3x3.wgsl")
);

/// How the register-tiled GEMMs write their outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stores {
    /// One channel at a time: any channel count and offset.
    Scalar,
    /// One vec4 per 4 channels: the output's channels, and every dispatch's
    /// first channel and channel count, are multiples of 4. On llvmpipe,
    /// alternated with scalar stores in one process: B7 (1x1, 32 channels)
    /// 0.92-0.94x the time on Vulkan (1.01x on GL), B3 0.95-0.98x (GL 0.94x),
    /// the large layers within 1%.
    Vec4,
}

const STORE_TILE_SCALAR: &str = "
fn store_tile(pixel: u32, col0: u32, sum: mat4x4<f32>) {
    store_tile_scalar(pixel, col0, sum);
}
";

const STORE_TILE_VEC4: &str = "
fn store_tile(pixel: u32, col0: u32, sum: mat4x4<f32>) {
    store_tile_vec4(pixel, col0, sum);
}
";

/// The Winograd output transform's `store` (winograd/output.wgsl), one
/// channel at a time or one vec4.
const WINOGRAD_STORE_SCALAR: &str = "
fn store(n: u32, oy: u32, ox: u32, c4: u32, sum: vec4<f32>) {
    store_scalar(n, oy, ox, c4, sum);
}
";

const WINOGRAD_STORE_VEC4: &str = "
fn store(n: u32, oy: u32, ox: u32, c4: u32, sum: vec4<f32>) {
    store_vec4(n, oy, ox, c4, sum);
}
";

/// The Winograd input transform's binding and load, vec4 (cin % 4 == 0).
const WINOGRAD_INPUT_VEC4: &str = "\
@group(0) @binding(0) var<storage, read> input: array<elem4>;
// Channels 4 c4..4 c4 + 4 of pixel `pixel` of the bound input.
fn load_channels4(pixel: u32, c4: u32) -> vec4<f32> {
    return vec4<f32>(input[p.in_base / 4u + pixel * (p.in_c / 4u) + c4]);
}
";

/// The same, one channel at a time (other cin; channels past cin are zero).
const WINOGRAD_INPUT_SCALAR: &str = "\
@group(0) @binding(0) var<storage, read> input: array<elem>;
// Channels 4 c4..4 c4 + 4 of pixel `pixel` of the bound input (zero past cin).
fn load_channels4(pixel: u32, c4: u32) -> vec4<f32> {
    let at = p.in_base + pixel * p.in_c;
    let c = c4 * 4u;
    let last = p.in_c - 1u;
    let v = vec4<f32>(
        f32(input[at + min(c, last)]),
        f32(input[at + min(c + 1u, last)]),
        f32(input[at + min(c + 2u, last)]),
        f32(input[at + min(c + 3u, last)]),
    );
    return select(vec4<f32>(0.0), v, vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(p.in_c));
}
";

/// The Winograd products' weights from a storage buffer.
const WINOGRAD_WEIGHTS_BUFFER: &str = "\
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
fn weight(i: u32) -> vec4<f32> {
    return weights[i];
}
";

/// The same from a texture (rows of `WEIGHT_TEXTURE_WIDTH` texels).
const WINOGRAD_WEIGHTS_TEXTURE: &str = concat!(
    "@group(0) @binding(1) var weights: texture_2d<f32>;\n",
    texture_weight_wgsl!()
);

/// The compute shaders, one per file in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelKind {
    /// One invocation per output; any layer.
    Direct,
    /// Register-tiled implicit GEMM, vec4 input (cin / groups % 4 == 0).
    IgemmVec4,
    /// `IgemmVec4` reading its weights from a texture (CPU adapters without
    /// subgroups, where a texel load costs less than a storage load).
    IgemmVec4Texture,
    /// Register-tiled implicit GEMM, scalar input.
    IgemmScalar,
    /// `IgemmVec4` sharing weight loads with subgroupBroadcast (subgroups >= 8).
    IgemmSubgroup,
    /// `IgemmVec4` with `IGEMM_NARROW_PIXELS` pixels per invocation.
    IgemmVec4Narrow,
    /// `IgemmScalar` with `IGEMM_NARROW_PIXELS` pixels per invocation.
    IgemmScalarNarrow,
    /// Depthwise, 4 channels x `DEPTHWISE_PIXELS` pixels per invocation, cin % 4 == 0.
    DepthwiseVec4,
    /// Depthwise 3x3, stride 1, no dilation: 4 channels x a block of
    /// `DEPTHWISE_BLOCK_ROWS` x `DEPTHWISE_BLOCK_PIXELS` pixels per invocation
    /// (SwiftShader), cin % 4 == 0.
    DepthwiseBlock,
    /// Depthwise 3x3, stride 1, no dilation, on CPU adapters without 8-lane
    /// subgroups: 4 channels x a strip `DEPTHWISE_STRIP_PIXELS` wide and up to
    /// `DEPTHWISE_STRIP_ROWS` tall per invocation, rows streamed, cin % 4 == 0.
    DepthwiseRows,
    /// Depthwise 3x3, stride 1, no dilation, on subgroups of exactly
    /// `DEPTHWISE_LANES`: two input columns per lane, neighbours shuffled in,
    /// a strip of up to `DEPTHWISE_STRIP_ROWS` rows x 4 channels per
    /// subgroup, rows streamed, cin % 4 == 0.
    DepthwiseSubgroup,
    /// Implicit GEMM tiled through workgroup memory, for GPUs.
    IgemmTiled,
    /// Winograd F(2x2, 3x3) input transform, vec4 input (cin % 4 == 0).
    WinogradInputVec4,
    /// The same, scalar input.
    WinogradInputScalar,
    /// Winograd's 16 batched products, register-tiled.
    WinogradGemm,
    /// `WinogradGemm` reading its weights from a texture.
    WinogradGemmTexture,
    /// `WinogradGemm` sharing weight loads with subgroupBroadcast (subgroups >= 8).
    WinogradGemmSubgroup,
    /// Winograd output transform, bias and activation.
    WinogradOutput,
    /// Winograd's weight transform, once per layer.
    WinogradWeights,
    /// Space-to-depth: the input packed into the view (per call).
    SpaceToDepthInput,
    /// Space-to-depth: the weights rearranged for the view (once per layer).
    SpaceToDepthWeights,
}

impl KernelKind {
    /// Every kernel, for tests that validate them all.
    pub const ALL: [KernelKind; 21] = [
        KernelKind::Direct,
        KernelKind::IgemmVec4,
        KernelKind::IgemmVec4Texture,
        KernelKind::IgemmScalar,
        KernelKind::IgemmSubgroup,
        KernelKind::IgemmVec4Narrow,
        KernelKind::IgemmScalarNarrow,
        KernelKind::DepthwiseVec4,
        KernelKind::DepthwiseBlock,
        KernelKind::DepthwiseRows,
        KernelKind::DepthwiseSubgroup,
        KernelKind::IgemmTiled,
        KernelKind::WinogradInputVec4,
        KernelKind::WinogradInputScalar,
        KernelKind::WinogradGemm,
        KernelKind::WinogradGemmTexture,
        KernelKind::WinogradGemmSubgroup,
        KernelKind::WinogradOutput,
        KernelKind::WinogradWeights,
        KernelKind::SpaceToDepthInput,
        KernelKind::SpaceToDepthWeights,
    ];

    fn file(self) -> (&'static str, &'static str) {
        match self {
            KernelKind::Direct => (
                "conv2d_direct.wgsl",
                include_str!("../../shaders/conv2d_direct.wgsl"),
            ),
            KernelKind::IgemmVec4 => (
                "conv2d_igemm_vec4.wgsl",
                include_str!("../../shaders/conv2d_igemm_vec4.wgsl"),
            ),
            KernelKind::IgemmVec4Texture => (
                "conv2d_igemm_vec4_texture.wgsl",
                include_str!("../../shaders/conv2d_igemm_vec4_texture.wgsl"),
            ),
            KernelKind::IgemmScalar => (
                "conv2d_igemm_scalar.wgsl",
                include_str!("../../shaders/conv2d_igemm_scalar.wgsl"),
            ),
            KernelKind::IgemmSubgroup => (
                "conv2d_igemm_subgroup.wgsl",
                include_str!("../../shaders/conv2d_igemm_subgroup.wgsl"),
            ),
            KernelKind::IgemmVec4Narrow => (
                "conv2d_igemm_vec4_narrow.wgsl",
                include_str!("../../shaders/conv2d_igemm_vec4_narrow.wgsl"),
            ),
            KernelKind::IgemmScalarNarrow => (
                "conv2d_igemm_scalar_narrow.wgsl",
                include_str!("../../shaders/conv2d_igemm_scalar_narrow.wgsl"),
            ),
            KernelKind::DepthwiseVec4 => (
                "conv2d_depthwise_vec4.wgsl",
                include_str!("../../shaders/conv2d_depthwise_vec4.wgsl"),
            ),
            KernelKind::DepthwiseBlock => (
                "conv2d_depthwise_block.wgsl",
                include_str!("../../shaders/conv2d_depthwise_block.wgsl"),
            ),
            KernelKind::DepthwiseRows => (
                "conv2d_depthwise_rows.wgsl",
                include_str!("../../shaders/conv2d_depthwise_rows.wgsl"),
            ),
            KernelKind::DepthwiseSubgroup => (
                "conv2d_depthwise_subgroup.wgsl",
                include_str!("../../shaders/conv2d_depthwise_subgroup.wgsl"),
            ),
            KernelKind::IgemmTiled => (
                "conv2d_igemm_tiled.wgsl",
                include_str!("../../shaders/conv2d_igemm_tiled.wgsl"),
            ),
            KernelKind::WinogradInputVec4 | KernelKind::WinogradInputScalar => (
                "winograd/input.wgsl",
                include_str!("../../shaders/winograd/input.wgsl"),
            ),
            KernelKind::WinogradGemmSubgroup => (
                "winograd/gemm_subgroup.wgsl",
                concat!(
                    include_str!("../../shaders/winograd/products.wgsl"),
                    include_str!("../../shaders/winograd/gemm_subgroup.wgsl")
                ),
            ),
            KernelKind::WinogradGemm | KernelKind::WinogradGemmTexture => (
                "winograd/gemm.wgsl",
                concat!(
                    include_str!("../../shaders/winograd/products.wgsl"),
                    include_str!("../../shaders/winograd/gemm.wgsl")
                ),
            ),
            KernelKind::WinogradOutput => (
                "winograd/output.wgsl",
                include_str!("../../shaders/winograd/output.wgsl"),
            ),
            KernelKind::WinogradWeights => (
                "winograd/weights.wgsl",
                include_str!("../../shaders/winograd/weights.wgsl"),
            ),
            KernelKind::SpaceToDepthInput => (
                "space_to_depth/input.wgsl",
                include_str!("../../shaders/space_to_depth/input.wgsl"),
            ),
            KernelKind::SpaceToDepthWeights => (
                "space_to_depth/weights.wgsl",
                include_str!("../../shaders/space_to_depth/weights.wgsl"),
            ),
        }
    }

    /// What goes between `params.wgsl` and the kernel's file: the shared
    /// helpers (with the shared bindings), or a Winograd variant's own part.
    fn prelude(self) -> &'static str {
        match self {
            KernelKind::WinogradInputVec4 => WINOGRAD_INPUT_VEC4,
            KernelKind::WinogradInputScalar => WINOGRAD_INPUT_SCALAR,
            KernelKind::WinogradGemm
            | KernelKind::WinogradGemmTexture
            | KernelKind::WinogradGemmSubgroup
            | KernelKind::WinogradOutput
            | KernelKind::WinogradWeights
            | KernelKind::SpaceToDepthInput
            | KernelKind::SpaceToDepthWeights => "",
            KernelKind::DepthwiseBlock
            | KernelKind::DepthwiseRows
            | KernelKind::DepthwiseSubgroup => COMMON_DEPTHWISE_3X3_WGSL,
            _ => COMMON_WGSL,
        }
    }

    /// The Winograd products' weight binding and `weight` load (the other
    /// kernels declare their bindings themselves).
    fn weights_wgsl(self) -> &'static str {
        match self {
            KernelKind::WinogradGemm | KernelKind::WinogradGemmSubgroup => WINOGRAD_WEIGHTS_BUFFER,
            KernelKind::WinogradGemmTexture => WINOGRAD_WEIGHTS_TEXTURE,
            _ => "",
        }
    }

    /// Whether the kernel reads its weights (binding 1) from a texture
    /// rather than a storage buffer.
    pub fn weights_in_texture(self) -> bool {
        matches!(
            self,
            KernelKind::IgemmVec4Texture | KernelKind::WinogradGemmTexture
        )
    }

    /// The file name (with the variant where kinds share a file), for labels
    /// and error messages.
    pub fn name(self) -> &'static str {
        match self {
            KernelKind::WinogradInputVec4 => "winograd/input.wgsl (vec4)",
            KernelKind::WinogradInputScalar => "winograd/input.wgsl (scalar)",
            KernelKind::WinogradGemm => "winograd/gemm.wgsl",
            KernelKind::WinogradGemmTexture => "winograd/gemm.wgsl (texture)",
            KernelKind::WinogradGemmSubgroup => "winograd/gemm_subgroup.wgsl",
            _ => self.file().0,
        }
    }

    /// The WGSL the crate compiles for storage of `dtype`: the element types,
    /// the tile constants, `params.wgsl`, the prelude (`common.wgsl`, or a
    /// Winograd variant's part), the kernel; for the register-tiled GEMMs
    /// and the Winograd output transform, their store function (vec4 stores
    /// where `stores` says so).
    pub fn source(self, dtype: DType, stores: Stores) -> String {
        let winograd_output = self == KernelKind::WinogradOutput;
        let store = match (self.is_register_gemm(), winograd_output, stores) {
            (true, _, Stores::Scalar) => STORE_TILE_SCALAR,
            (true, _, Stores::Vec4) => STORE_TILE_VEC4,
            (_, true, Stores::Scalar) => WINOGRAD_STORE_SCALAR,
            (_, true, Stores::Vec4) => WINOGRAD_STORE_VEC4,
            (false, false, _) => "",
        };
        format!(
            "{}{}\n{PARAMS_WGSL}\n{}{}\n{}{store}",
            element_types_wgsl(dtype),
            tile_constants_wgsl(),
            self.weights_wgsl(),
            self.prelude(),
            self.file().1
        )
    }

    /// The store flavours a kernel is compiled in: both for the
    /// register-tiled GEMMs and the Winograd output transform, one for the
    /// others (which ignore it).
    pub fn store_flavours(self) -> &'static [Stores] {
        if self.is_register_gemm() || self == KernelKind::WinogradOutput {
            &[Stores::Scalar, Stores::Vec4]
        } else {
            &[Stores::Scalar]
        }
    }

    /// The kernels that use subgroup operations (need `Features::SUBGROUP`).
    pub fn uses_subgroups(self) -> bool {
        matches!(
            self,
            KernelKind::IgemmSubgroup
                | KernelKind::WinogradGemmSubgroup
                | KernelKind::DepthwiseSubgroup
        )
    }

    /// Invocations per workgroup; `rows8`: the adapter runs invocations in
    /// SIMD rows of 8 (`DeviceCaps::rows8`).
    pub fn workgroup_size(self, rows8: bool) -> u32 {
        match self {
            KernelKind::IgemmSubgroup | KernelKind::IgemmVec4 | KernelKind::IgemmVec4Texture
                if rows8 =>
            {
                ROW_WORKGROUP_SIZE
            }
            KernelKind::IgemmTiled => TILED_WORKGROUP,
            KernelKind::DepthwiseRows | KernelKind::DepthwiseSubgroup => DEPTHWISE_WORKGROUP,
            _ => WORKGROUP_SIZE,
        }
    }

    /// The override constants of one specialisation (`workgroup`: its
    /// `workgroup_size`; `zero_padding`: `ZERO_PADDING`, for the kernels
    /// that have it).
    pub fn constants(
        self,
        activation: u32,
        check_bounds: bool,
        workgroup: u32,
        zero_padding: bool,
    ) -> Vec<(&'static str, f64)> {
        let mut constants = vec![("ACTIVATION", f64::from(activation))];
        match self {
            KernelKind::IgemmTiled => {
                constants.push(("CHECK_BOUNDS", f64::from(u8::from(check_bounds))))
            }
            _ => constants.push(("WORKGROUP_SIZE", f64::from(workgroup))),
        }
        if self.has_zero_padding() {
            constants.push(("ZERO_PADDING", f64::from(u8::from(zero_padding))));
        }
        constants
    }

    /// The kernels generated from `shaders/templates/conv2d_igemm.wgsl.in`,
    /// which read padding as zeros when their `ZERO_PADDING` is set (and
    /// otherwise skip it).
    pub fn has_zero_padding(self) -> bool {
        matches!(
            self,
            KernelKind::IgemmVec4
                | KernelKind::IgemmVec4Texture
                | KernelKind::IgemmScalar
                | KernelKind::IgemmSubgroup
                | KernelKind::IgemmVec4Narrow
        )
    }

    /// The register-tiled implicit GEMMs (which run grouped layers per group).
    pub fn is_register_gemm(self) -> bool {
        self.register_pixels().is_some()
    }

    /// Output pixels per invocation of a register-tiled GEMM.
    pub fn register_pixels(self) -> Option<u32> {
        match self {
            KernelKind::IgemmVec4 | KernelKind::IgemmVec4Texture | KernelKind::IgemmScalar => {
                Some(IGEMM_PIXELS)
            }
            KernelKind::IgemmSubgroup => Some(IGEMM_SUBGROUP_PIXELS),
            KernelKind::IgemmVec4Narrow | KernelKind::IgemmScalarNarrow => {
                Some(IGEMM_NARROW_PIXELS)
            }
            _ => None,
        }
    }

    /// Tiles and vec4 column groups per invocation of a Winograd products kernel.
    pub fn products_tile(self) -> (u32, u32) {
        match self {
            KernelKind::WinogradGemmSubgroup => (WINOGRAD_SUBGROUP_TILES, 2 * IGEMM_COLUMNS4),
            _ => (WINOGRAD_TILES, IGEMM_COLUMNS4),
        }
    }

    /// vec4 column groups per invocation of a register-tiled GEMM.
    pub fn register_columns4(self) -> u32 {
        match self {
            KernelKind::IgemmSubgroup => IGEMM_SUBGROUP_COLUMNS4,
            _ => IGEMM_COLUMNS4,
        }
    }

    /// One dispatch's size for `images` x `out_h` output rows of width
    /// `out_w` and `channels` output channels stored `w_stride` floats wide,
    /// in workgroups of `workgroup_size(rows8)`.
    pub fn dispatch(
        self,
        images: u64,
        out_h: u64,
        out_w: u64,
        channels: u64,
        w_stride: u64,
        rows8: bool,
    ) -> DispatchSize {
        let group = u64::from(self.workgroup_size(rows8));
        let rows = images * out_h;
        let pixels = rows * out_w;
        let columns4 = match self {
            // Depthwise and tiled dispatches cover a whole weight chunk.
            KernelKind::DepthwiseVec4
            | KernelKind::DepthwiseBlock
            | KernelKind::DepthwiseRows
            | KernelKind::DepthwiseSubgroup
            | KernelKind::IgemmTiled => w_stride / 4,
            _ => channels.div_ceil(4),
        };
        let (workgroups, total) = match self {
            KernelKind::Direct => {
                let outputs = pixels * channels;
                (outputs.div_ceil(group), outputs)
            }
            // Workgroups are (column tile) x (runs of pixel tiles).
            KernelKind::IgemmVec4
            | KernelKind::IgemmVec4Texture
            | KernelKind::IgemmScalar
            | KernelKind::IgemmSubgroup
            | KernelKind::IgemmVec4Narrow
            | KernelKind::IgemmScalarNarrow => {
                let tile = self.register_pixels().expect("a register-tiled GEMM");
                let pixel_tiles = pixels.div_ceil(u64::from(tile));
                let column_tiles = columns4.div_ceil(u64::from(self.register_columns4()));
                (column_tiles * pixel_tiles.div_ceil(group), pixel_tiles)
            }
            // Workgroups are (channel tile) x (pixel tile).
            KernelKind::IgemmTiled => {
                let tiles =
                    pixels.div_ceil(u64::from(TILED_M)) * columns4.div_ceil(u64::from(TILED_N / 4));
                (tiles, pixels)
            }
            // Workgroups are (channel vec4) x (runs of row segments).
            KernelKind::DepthwiseVec4 => {
                let tiles = rows * out_w.div_ceil(u64::from(DEPTHWISE_PIXELS));
                (columns4 * tiles.div_ceil(group), tiles)
            }
            // Workgroups are (channel vec4) x (runs of pixel blocks, each in one image).
            KernelKind::DepthwiseBlock => {
                let blocks = images
                    * out_h.div_ceil(u64::from(DEPTHWISE_BLOCK_ROWS))
                    * out_w.div_ceil(u64::from(DEPTHWISE_BLOCK_PIXELS));
                (columns4 * blocks.div_ceil(group), blocks)
            }
            // Workgroups are (channel vec4) x (runs of strips, one each).
            KernelKind::DepthwiseRows => {
                let strips = images
                    * out_h.div_ceil(u64::from(DEPTHWISE_STRIP_ROWS))
                    * out_w.div_ceil(u64::from(DEPTHWISE_STRIP_PIXELS));
                (columns4 * strips.div_ceil(group), strips)
            }
            // Workgroups are (channel vec4) x (strips, a subgroup each).
            KernelKind::DepthwiseSubgroup => {
                let strips = images
                    * out_h.div_ceil(u64::from(DEPTHWISE_STRIP_ROWS))
                    * out_w.div_ceil(u64::from(2 * DEPTHWISE_LANES - 2));
                let per_workgroup = group / u64::from(DEPTHWISE_LANES);
                (columns4 * strips.div_ceil(per_workgroup), strips)
            }
            KernelKind::WinogradInputVec4
            | KernelKind::WinogradInputScalar
            | KernelKind::WinogradGemm
            | KernelKind::WinogradGemmTexture
            | KernelKind::WinogradGemmSubgroup
            | KernelKind::WinogradOutput
            | KernelKind::WinogradWeights => {
                unreachable!("Winograd's dispatches are sized by conv/winograd.rs")
            }
            // One element per invocation.
            KernelKind::SpaceToDepthInput | KernelKind::SpaceToDepthWeights => {
                unreachable!("space-to-depth's dispatches count elements (conv/encode.rs)")
            }
        };
        DispatchSize { workgroups, total }
    }

    /// Fewest outputs any invocation computes, for sizing dispatches.
    pub fn min_outputs_per_invocation(self) -> u64 {
        match self {
            KernelKind::DepthwiseVec4
            | KernelKind::DepthwiseBlock
            | KernelKind::DepthwiseRows
            | KernelKind::DepthwiseSubgroup => 4,
            _ => 1,
        }
    }
}

/// How large one dispatch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DispatchSize {
    /// Workgroups to launch (before folding into a grid).
    pub workgroups: u64,
    /// The kernel's `p.total`: invocations (or tiles) with work.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_register_gemms_take_workgroups_of_one_row() {
        let rows = [
            KernelKind::IgemmSubgroup,
            KernelKind::IgemmVec4,
            KernelKind::IgemmVec4Texture,
        ];
        for kind in KernelKind::ALL {
            let (row, wide) = (kind.workgroup_size(true), kind.workgroup_size(false));
            if rows.contains(&kind) {
                assert_eq!(
                    (row, wide),
                    (ROW_WORKGROUP_SIZE, WORKGROUP_SIZE),
                    "{kind:?}"
                );
            } else {
                assert_eq!(row, wide, "{kind:?}");
            }
        }
        // B3 (28 x 28 pixels, 256 channels) on the subgroup kernel: 98
        // pixel tiles of 8 per column tile of 32 channels.
        let b3 = |rows8| KernelKind::IgemmSubgroup.dispatch(1, 28, 28, 256, 256, rows8);
        assert_eq!(b3(false).workgroups, 8 * 2);
        assert_eq!(b3(true).workgroups, 8 * 13);
        assert_eq!((b3(false).total, b3(true).total), (98, 98));
    }

    #[test]
    fn zero_padding_is_a_constant_of_the_generated_gemms_only() {
        for kind in KernelKind::ALL {
            let source = kind.source(DType::F32, Stores::Scalar);
            let has = kind
                .constants(0, true, 64, true)
                .contains(&("ZERO_PADDING", 1.0));
            assert_eq!(has, kind.has_zero_padding(), "{kind:?}");
            assert_eq!(has, source.contains("override ZERO_PADDING"), "{kind:?}");
        }
    }

    #[test]
    fn the_subgroup_winograd_products_take_8_tiles_by_32_channels() {
        assert_eq!(KernelKind::WinogradGemmSubgroup.products_tile(), (8, 8));
        assert_eq!(KernelKind::WinogradGemm.products_tile(), (16, 4));
        assert_eq!(KernelKind::WinogradGemmTexture.products_tile(), (16, 4));
    }
}
