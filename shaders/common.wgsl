// Shared by every kernel (prepended to each at pipeline creation, after the
// storage element types `elem` / `elem4`, f32 or f16): the uniform
// block all kernels read, the fused activation chosen by ACTIVATION
// (0 linear, 1 relu, 2 relu6, 3 leaky relu, 4 sigmoid, 5 tanh, 6 silu), and
// the helpers of the register-tiled implicit GEMMs and of the depthwise
// kernels. Every kernel declares the same bindings (input, weights, bias,
// output, p), which the helpers use.
override ACTIVATION: u32 = 0u;

// One dispatch's piece of the convolution (src/conv/plan.rs). Matches
// KernelParams in src/conv/kernels.rs (tests/shaders.rs compares the layouts);
// 28 words, a multiple of 16 bytes.
struct Params {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    k_h: u32,
    k_w: u32,
    stride_h: u32,
    stride_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    pad_top: i32,
    pad_left: i32,
    in_c_per_group: u32,
    out_c_per_group: u32,
    // Invocations with work (outputs, or output tiles); those past it return.
    total: u32,
    // Invocations per row of the folded 2-D dispatch grid.
    row_stride: u32,
    leaky_slope: f32,
    in_base: u32,
    out_base: u32,
    oc_offset: u32,
    chunk_c: u32,
    w_stride: u32,
    // Grouped layers, one dispatch per group: the group's first input channel,
    // and its first weight column (in vec4).
    in_c_offset: u32,
    col_offset4: u32,
    _pad0: u32,
}

// NaN in, NaN out, as on the CPU. Tested on the bits: GLSL compilers may fold
// `v != v` or turn comparisons into NaN-dropping min/max.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn activate(v: f32, slope: f32) -> f32 {
    return select(activate_finite(v, slope), v, is_nan(v));
}

fn activate_finite(v: f32, slope: f32) -> f32 {
    switch ACTIVATION {
        case 1u: {
            return select(v, 0.0, v < 0.0);
        }
        case 2u: {
            return select(select(v, 6.0, v > 6.0), 0.0, v < 0.0);
        }
        case 3u: {
            return select(v, v * slope, v < 0.0);
        }
        case 4u: {
            return 1.0 / (1.0 + exp(-v));
        }
        case 5u: {
            // tanh(10) rounds to 1 in f32; some drivers' tanh overflows to NaN far out.
            return select(tanh(v), sign(v), abs(v) > 10.0);
        }
        case 6u: {
            return v / (1.0 + exp(-v));
        }
        default: {
            return v;
        }
    }
}

// --- Register-tiled implicit GEMM (conv2d_igemm_*.wgsl) ---

// Where output pixel `pixel` starts reading: (first input row, first input
// column, image's first row). Pixels past the end repeat the last one.
fn origin(pixel: u32) -> vec3<i32> {
    let last = min(pixel, p.batch * p.out_h * p.out_w - 1u);
    let rest = last / p.out_w;
    return vec3<i32>(
        i32((rest % p.out_h) * p.stride_h) - p.pad_top,
        i32((last % p.out_w) * p.stride_w) - p.pad_left,
        i32((rest / p.out_h) * p.in_h),
    );
}

// Index of the input at tap (dy, dx) for a pixel with origin `o`, counted in
// units of `per_pixel` (cin for f32 input, cin / 4 for vec4) from `base`, or -1
// in the padding.
fn tap(o: vec3<i32>, dy: i32, dx: i32, base: u32, per_pixel: u32) -> i32 {
    let iy = o.x + dy;
    let ix = o.y + dx;
    let inside = iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w);
    let at = i32(base + (u32(o.z + iy) * p.in_w + u32(ix)) * per_pixel);
    return select(-1, at, inside);
}

// `sum` where the tap is inside the input, `old` where it is padding (the
// narrow variants' accumulation, without a branch).
fn inside_or(old: mat4x4<f32>, sum: mat4x4<f32>, inside: bool) -> mat4x4<f32> {
    return mat4x4<f32>(
        select(old[0], sum[0], inside),
        select(old[1], sum[1], inside),
        select(old[2], sum[2], inside),
        select(old[3], sum[3], inside),
    );
}

// The bias of the 4 channels of column group `col` (padding columns repeat
// the last channel's).
fn bias_column(col: u32) -> vec4<f32> {
    let last = p.chunk_c - 1u;
    let at = p.oc_offset;
    return vec4<f32>(
        f32(bias[at + min(col * 4u, last)]),
        f32(bias[at + min(col * 4u + 1u, last)]),
        f32(bias[at + min(col * 4u + 2u, last)]),
        f32(bias[at + min(col * 4u + 3u, last)]),
    );
}

// The bias of the 16 channels (IGEMM_COLUMNS4 vec4 column groups) from col0,
// loaded once per invocation rather than once per output.
fn bias_tile(col0: u32) -> mat4x4<f32> {
    return mat4x4<f32>(bias_column(col0), bias_column(col0 + 1u), bias_column(col0 + 2u), bias_column(col0 + 3u));
}

// Writes 16 channels (IGEMM_COLUMNS4 vec4 column groups from col0) of one
// output pixel, `sum` with the bias already added, through the activation (in
// f32, rounded once to elem); pixels past the end and padding columns are
// skipped.
fn store_tile(pixel: u32, col0: u32, sum: mat4x4<f32>) {
    if pixel >= p.batch * p.out_h * p.out_w {
        return;
    }
    let out_at = p.out_base + pixel * p.out_c + p.oc_offset;
    for (var j = 0u; j < IGEMM_COLUMNS4; j++) {
        for (var r = 0u; r < 4u; r++) {
            let oc = (col0 + j) * 4u + r;
            if oc < p.chunk_c {
                output[out_at + oc] = elem(activate(sum[j][r], p.leaky_slope));
            }
        }
    }
}

// --- Depthwise (conv2d_depthwise_*.wgsl) ---

// acc + x * w where the input is inside the image; acc where it is padding.
fn mac(acc: vec4<f32>, x: vec4<f32>, w: vec4<f32>, inside: bool) -> vec4<f32> {
    return select(acc, fma(x, w, acc), inside);
}

fn inside_row(ix: i32) -> bool {
    return ix >= 0 && ix < i32(p.in_w);
}

// Writes 4 channels from oc0 of output pixel (n, oy, ox) with bias and
// activation (in f32, rounded once to elem); pixels outside the output are skipped.
fn store_channels4(n: u32, oy: u32, ox: u32, oc0: u32, acc: vec4<f32>) {
    if ox >= p.out_w || oy >= p.out_h {
        return;
    }
    let out_at = p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c + oc0;
    for (var r = 0u; r < 4u; r++) {
        output[out_at + r] = elem(activate(acc[r] + f32(bias[oc0 + r]), p.leaky_slope));
    }
}
