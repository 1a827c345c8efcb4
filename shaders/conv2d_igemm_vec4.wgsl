// GENERATED from shaders/templates/conv2d_igemm.wgsl.in by src/conv/codegen.rs:
// edit those, then run `CONV2D_WGPU_REGENERATE=1 cargo test --lib codegen`.
//
// M = output pixels, N = output channels, K = kh * kw * cin. Each invocation
// computes IGEMM_PIXELS consecutive output pixels x 16 output channels
// (IGEMM_COLUMNS4 vec4 column groups; the subgroup variant twice that),
// with no workgroup memory: on CPU-like
// adapters (llvmpipe) every load is expensive and the caches give the reuse,
// so what counts is FMAs per load. The tile is written out (one mat4x4 of 16
// channels per pixel) so that it stays in registers. Padding: `load` reads
// it as zeros. Where that is exact (every weight finite, so 0 x w adds
// nothing, or no tap of the layer reaches the padding) the crate sets
// ZERO_PADDING and every step takes one branch-free path; llvmpipe masks
// every accumulator update under a branch (B2-B10 ran 1.2-1.45x faster
// without it). Otherwise taps with all pixels inside take the fast path and
// the others skip the pixels in the padding (an infinite weight times a zero
// would be NaN), as in the CPU reference. Weights: rows k = (ky * kw + kx) * cin + ci
// of w_stride floats (cout padded to 4). `p.total` counts pixel tiles. Grouped
// layers run one dispatch per group (in_c_offset, col_offset4).
// This variant: vec4 input (cin / groups % 4 == 0); per step, 16 vec4 FMAs
// and 1 input load per pixel, and 16 weight loads for the tile.
// Storage is elem / elem4 (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants and common.wgsl (Params,
// activate, coords, next_origin, tap, store_tile).

@group(0) @binding(0) var<storage, read> input: array<elem4>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;
// Padding read as zeros and accumulated like any input (see above).
override ZERO_PADDING: bool = false;

const_assert IGEMM_COLUMNS4 == 4u; // one mat4x4 of accumulators per pixel

// 16 channels of one pixel: columns are the 4 vec4 column groups, and
// w_j * a sums the 4 weight rows of column group j weighted by a's channels.
fn tile(a: vec4<f32>, w0: mat4x4<f32>, w1: mat4x4<f32>, w2: mat4x4<f32>, w3: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(w0 * a, w1 * a, w2 * a, w3 * a);
}

// The input at `at + c4`, zeros in the padding (`at` < 0).
fn load(at: i32, c4: u32) -> vec4<f32> {
    return select(vec4<f32>(), vec4<f32>(input[u32(max(at, 0)) + c4]), at >= 0);
}

// The 4 x 4 block of weights rows k..k+4, column group `col` (clamped to the padded width).
fn weight_block(k: u32, col: u32, cols4: u32, stride4: u32) -> mat4x4<f32> {
    let c = p.col_offset4 + min(col, cols4 - 1u);
    return mat4x4<f32>(
        vec4<f32>(weights[k * stride4 + c]),
        vec4<f32>(weights[(k + 1u) * stride4 + c]),
        vec4<f32>(weights[(k + 2u) * stride4 + c]),
        vec4<f32>(weights[(k + 3u) * stride4 + c]),
    );
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let stride4 = p.w_stride / 4u;
    let cols4 = (p.chunk_c + 3u) / 4u;
    let col_tiles = (cols4 + IGEMM_COLUMNS4 - 1u) / IGEMM_COLUMNS4;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let col0 = (group_index % col_tiles) * IGEMM_COLUMNS4;
    let pixel_tile = (group_index / col_tiles) * WORKGROUP_SIZE + local;
    if pixel_tile >= p.total {
        return;
    }
    let pixel0 = pixel_tile * IGEMM_PIXELS;
    let in_c4 = p.in_c / 4u;
    let group_c4 = p.in_c_per_group / 4u;
    let in_at = p.in_base / 4u + p.in_c_offset / 4u;

    // The tile's pixels one after another: one division for all of them.
    var at_pixel = coords(pixel0);
    let o0 = next_origin(&at_pixel);
    let o1 = next_origin(&at_pixel);
    let o2 = next_origin(&at_pixel);
    let o3 = next_origin(&at_pixel);
    let o4 = next_origin(&at_pixel);
    let o5 = next_origin(&at_pixel);
    let o6 = next_origin(&at_pixel);
    let o7 = next_origin(&at_pixel);
    let o8 = next_origin(&at_pixel);
    let o9 = next_origin(&at_pixel);
    let o10 = next_origin(&at_pixel);
    let o11 = next_origin(&at_pixel);
    let o12 = next_origin(&at_pixel);
    let o13 = next_origin(&at_pixel);
    let o14 = next_origin(&at_pixel);
    let o15 = next_origin(&at_pixel);

    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    var acc4: mat4x4<f32>;
    var acc5: mat4x4<f32>;
    var acc6: mat4x4<f32>;
    var acc7: mat4x4<f32>;
    var acc8: mat4x4<f32>;
    var acc9: mat4x4<f32>;
    var acc10: mat4x4<f32>;
    var acc11: mat4x4<f32>;
    var acc12: mat4x4<f32>;
    var acc13: mat4x4<f32>;
    var acc14: mat4x4<f32>;
    var acc15: mat4x4<f32>;
    for (var ky = 0u; ky < p.k_h; ky++) {
        let dy = i32(ky * p.dilation_h);
        for (var kx = 0u; kx < p.k_w; kx++) {
            let dx = i32(kx * p.dilation_w);
            let t0 = tap(o0, dy, dx, in_at, in_c4);
            let t1 = tap(o1, dy, dx, in_at, in_c4);
            let t2 = tap(o2, dy, dx, in_at, in_c4);
            let t3 = tap(o3, dy, dx, in_at, in_c4);
            let t4 = tap(o4, dy, dx, in_at, in_c4);
            let t5 = tap(o5, dy, dx, in_at, in_c4);
            let t6 = tap(o6, dy, dx, in_at, in_c4);
            let t7 = tap(o7, dy, dx, in_at, in_c4);
            let t8 = tap(o8, dy, dx, in_at, in_c4);
            let t9 = tap(o9, dy, dx, in_at, in_c4);
            let t10 = tap(o10, dy, dx, in_at, in_c4);
            let t11 = tap(o11, dy, dx, in_at, in_c4);
            let t12 = tap(o12, dy, dx, in_at, in_c4);
            let t13 = tap(o13, dy, dx, in_at, in_c4);
            let t14 = tap(o14, dy, dx, in_at, in_c4);
            let t15 = tap(o15, dy, dx, in_at, in_c4);
            let all_inside = min(min(min(min(t0, t1), min(t2, t3)), min(min(t4, t5), min(t6, t7))), min(min(min(t8, t9), min(t10, t11)), min(min(t12, t13), min(t14, t15)))) >= 0;
            let k0 = (ky * p.k_w + kx) * p.in_c_per_group;
            for (var c4 = 0u; c4 < group_c4; c4++) {
                let k = k0 + c4 * 4u;
                let w0 = weight_block(k, col0, cols4, stride4);
                let w1 = weight_block(k, col0 + 1u, cols4, stride4);
                let w2 = weight_block(k, col0 + 2u, cols4, stride4);
                let w3 = weight_block(k, col0 + 3u, cols4, stride4);
                if ZERO_PADDING || all_inside {
                    acc0 += tile(load(t0, c4), w0, w1, w2, w3);
                    acc1 += tile(load(t1, c4), w0, w1, w2, w3);
                    acc2 += tile(load(t2, c4), w0, w1, w2, w3);
                    acc3 += tile(load(t3, c4), w0, w1, w2, w3);
                    acc4 += tile(load(t4, c4), w0, w1, w2, w3);
                    acc5 += tile(load(t5, c4), w0, w1, w2, w3);
                    acc6 += tile(load(t6, c4), w0, w1, w2, w3);
                    acc7 += tile(load(t7, c4), w0, w1, w2, w3);
                    acc8 += tile(load(t8, c4), w0, w1, w2, w3);
                    acc9 += tile(load(t9, c4), w0, w1, w2, w3);
                    acc10 += tile(load(t10, c4), w0, w1, w2, w3);
                    acc11 += tile(load(t11, c4), w0, w1, w2, w3);
                    acc12 += tile(load(t12, c4), w0, w1, w2, w3);
                    acc13 += tile(load(t13, c4), w0, w1, w2, w3);
                    acc14 += tile(load(t14, c4), w0, w1, w2, w3);
                    acc15 += tile(load(t15, c4), w0, w1, w2, w3);
                } else {
                    if t0 >= 0 { acc0 += tile(load(t0, c4), w0, w1, w2, w3); }
                    if t1 >= 0 { acc1 += tile(load(t1, c4), w0, w1, w2, w3); }
                    if t2 >= 0 { acc2 += tile(load(t2, c4), w0, w1, w2, w3); }
                    if t3 >= 0 { acc3 += tile(load(t3, c4), w0, w1, w2, w3); }
                    if t4 >= 0 { acc4 += tile(load(t4, c4), w0, w1, w2, w3); }
                    if t5 >= 0 { acc5 += tile(load(t5, c4), w0, w1, w2, w3); }
                    if t6 >= 0 { acc6 += tile(load(t6, c4), w0, w1, w2, w3); }
                    if t7 >= 0 { acc7 += tile(load(t7, c4), w0, w1, w2, w3); }
                    if t8 >= 0 { acc8 += tile(load(t8, c4), w0, w1, w2, w3); }
                    if t9 >= 0 { acc9 += tile(load(t9, c4), w0, w1, w2, w3); }
                    if t10 >= 0 { acc10 += tile(load(t10, c4), w0, w1, w2, w3); }
                    if t11 >= 0 { acc11 += tile(load(t11, c4), w0, w1, w2, w3); }
                    if t12 >= 0 { acc12 += tile(load(t12, c4), w0, w1, w2, w3); }
                    if t13 >= 0 { acc13 += tile(load(t13, c4), w0, w1, w2, w3); }
                    if t14 >= 0 { acc14 += tile(load(t14, c4), w0, w1, w2, w3); }
                    if t15 >= 0 { acc15 += tile(load(t15, c4), w0, w1, w2, w3); }
                }
            }
        }
    }
    let biases = bias_tile(col0);
    store_tile(pixel0 + 0u, col0, acc0 + biases);
    store_tile(pixel0 + 1u, col0, acc1 + biases);
    store_tile(pixel0 + 2u, col0, acc2 + biases);
    store_tile(pixel0 + 3u, col0, acc3 + biases);
    store_tile(pixel0 + 4u, col0, acc4 + biases);
    store_tile(pixel0 + 5u, col0, acc5 + biases);
    store_tile(pixel0 + 6u, col0, acc6 + biases);
    store_tile(pixel0 + 7u, col0, acc7 + biases);
    store_tile(pixel0 + 8u, col0, acc8 + biases);
    store_tile(pixel0 + 9u, col0, acc9 + biases);
    store_tile(pixel0 + 10u, col0, acc10 + biases);
    store_tile(pixel0 + 11u, col0, acc11 + biases);
    store_tile(pixel0 + 12u, col0, acc12 + biases);
    store_tile(pixel0 + 13u, col0, acc13 + biases);
    store_tile(pixel0 + 14u, col0, acc14 + biases);
    store_tile(pixel0 + 15u, col0, acc15 + biases);
}
