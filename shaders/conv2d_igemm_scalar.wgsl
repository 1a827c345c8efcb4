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
// This variant: scalar input, any cin; per step, 4 vec4 FMAs and 1 scalar
// load per pixel, and 4 weight loads for the tile.
// Storage is elem / elem4 (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants and common.wgsl (Params,
// activate, coords, next_origin, tap, store_tile).

@group(0) @binding(0) var<storage, read> input: array<elem>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;
// Padding read as zeros and accumulated like any input (see above).
override ZERO_PADDING: bool = false;

const_assert IGEMM_COLUMNS4 == 4u; // one mat4x4 of accumulators per pixel

// 16 channels of one pixel += a x one weight row (its 4 vec4 column groups).
fn tile(acc: mat4x4<f32>, a: f32, w: mat4x4<f32>) -> mat4x4<f32> {
    let s = vec4(a);
    return mat4x4<f32>(fma(s, w[0], acc[0]), fma(s, w[1], acc[1]), fma(s, w[2], acc[2]), fma(s, w[3], acc[3]));
}

// The input at `at + c`, zero in the padding (`at` < 0).
fn load(at: i32, c: u32) -> f32 {
    return select(0.0, f32(input[u32(max(at, 0)) + c]), at >= 0);
}

// Weight row k, column groups col..col+4 (clamped to the padded width).
fn weight_row(k: u32, col: u32, cols4: u32, stride4: u32) -> mat4x4<f32> {
    let last = cols4 - 1u;
    let row = k * stride4 + p.col_offset4;
    return mat4x4<f32>(
        vec4<f32>(weights[row + min(col, last)]),
        vec4<f32>(weights[row + min(col + 1u, last)]),
        vec4<f32>(weights[row + min(col + 2u, last)]),
        vec4<f32>(weights[row + min(col + 3u, last)]),
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
    let in_at = p.in_base + p.in_c_offset;

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
            let t0 = tap(o0, dy, dx, in_at, p.in_c);
            let t1 = tap(o1, dy, dx, in_at, p.in_c);
            let t2 = tap(o2, dy, dx, in_at, p.in_c);
            let t3 = tap(o3, dy, dx, in_at, p.in_c);
            let t4 = tap(o4, dy, dx, in_at, p.in_c);
            let t5 = tap(o5, dy, dx, in_at, p.in_c);
            let t6 = tap(o6, dy, dx, in_at, p.in_c);
            let t7 = tap(o7, dy, dx, in_at, p.in_c);
            let t8 = tap(o8, dy, dx, in_at, p.in_c);
            let t9 = tap(o9, dy, dx, in_at, p.in_c);
            let t10 = tap(o10, dy, dx, in_at, p.in_c);
            let t11 = tap(o11, dy, dx, in_at, p.in_c);
            let t12 = tap(o12, dy, dx, in_at, p.in_c);
            let t13 = tap(o13, dy, dx, in_at, p.in_c);
            let t14 = tap(o14, dy, dx, in_at, p.in_c);
            let t15 = tap(o15, dy, dx, in_at, p.in_c);
            let all_inside = min(min(min(min(t0, t1), min(t2, t3)), min(min(t4, t5), min(t6, t7))), min(min(min(t8, t9), min(t10, t11)), min(min(t12, t13), min(t14, t15)))) >= 0;
            let k0 = (ky * p.k_w + kx) * p.in_c_per_group;
            for (var c = 0u; c < p.in_c_per_group; c++) {
                let w = weight_row(k0 + c, col0, cols4, stride4);
                if ZERO_PADDING || all_inside {
                    acc0 = tile(acc0, load(t0, c), w);
                    acc1 = tile(acc1, load(t1, c), w);
                    acc2 = tile(acc2, load(t2, c), w);
                    acc3 = tile(acc3, load(t3, c), w);
                    acc4 = tile(acc4, load(t4, c), w);
                    acc5 = tile(acc5, load(t5, c), w);
                    acc6 = tile(acc6, load(t6, c), w);
                    acc7 = tile(acc7, load(t7, c), w);
                    acc8 = tile(acc8, load(t8, c), w);
                    acc9 = tile(acc9, load(t9, c), w);
                    acc10 = tile(acc10, load(t10, c), w);
                    acc11 = tile(acc11, load(t11, c), w);
                    acc12 = tile(acc12, load(t12, c), w);
                    acc13 = tile(acc13, load(t13, c), w);
                    acc14 = tile(acc14, load(t14, c), w);
                    acc15 = tile(acc15, load(t15, c), w);
                } else {
                    if t0 >= 0 { acc0 = tile(acc0, load(t0, c), w); }
                    if t1 >= 0 { acc1 = tile(acc1, load(t1, c), w); }
                    if t2 >= 0 { acc2 = tile(acc2, load(t2, c), w); }
                    if t3 >= 0 { acc3 = tile(acc3, load(t3, c), w); }
                    if t4 >= 0 { acc4 = tile(acc4, load(t4, c), w); }
                    if t5 >= 0 { acc5 = tile(acc5, load(t5, c), w); }
                    if t6 >= 0 { acc6 = tile(acc6, load(t6, c), w); }
                    if t7 >= 0 { acc7 = tile(acc7, load(t7, c), w); }
                    if t8 >= 0 { acc8 = tile(acc8, load(t8, c), w); }
                    if t9 >= 0 { acc9 = tile(acc9, load(t9, c), w); }
                    if t10 >= 0 { acc10 = tile(acc10, load(t10, c), w); }
                    if t11 >= 0 { acc11 = tile(acc11, load(t11, c), w); }
                    if t12 >= 0 { acc12 = tile(acc12, load(t12, c), w); }
                    if t13 >= 0 { acc13 = tile(acc13, load(t13, c), w); }
                    if t14 >= 0 { acc14 = tile(acc14, load(t14, c), w); }
                    if t15 >= 0 { acc15 = tile(acc15, load(t15, c), w); }
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
