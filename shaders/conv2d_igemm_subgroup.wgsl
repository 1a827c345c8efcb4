// GENERATED from shaders/templates/conv2d_igemm.wgsl.in by src/conv/codegen.rs:
// edit those, then run `CONV2D_WGPU_REGENERATE=1 cargo test --lib codegen`.
//
// M = output pixels, N = output channels, K = kh * kw * cin. Each invocation
// computes IGEMM_SUBGROUP_PIXELS consecutive output pixels x 16 output channels
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
// This variant: vec4 input with subgroups of at least 8 invocations (wgpu's
// Features::SUBGROUP), IGEMM_SUBGROUP_PIXELS pixels x 32 channels (acc and
// acc_high per pixel). Every invocation of a workgroup needs the same 32
// weight vec4 per step, so each invocation of a subgroup loads 4 of them and
// subgroupBroadcast hands them to the others: 8 loads per step for 128 vec4
// FMAs (8 pixels x 16 channels took 10). Subgroup operations need uniform
// control flow: no early return, and every invocation runs the loops (tiles
// past the end store nothing).
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

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let stride4 = p.w_stride / 4u;
    let cols4 = (p.chunk_c + 3u) / 4u;
    let col_tiles = (cols4 + IGEMM_SUBGROUP_COLUMNS4 - 1u) / IGEMM_SUBGROUP_COLUMNS4;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let col0 = (group_index % col_tiles) * IGEMM_SUBGROUP_COLUMNS4;
    let pixel_tile = (group_index / col_tiles) * WORKGROUP_SIZE + local;
    // Tiles past the end repeat the last pixels (origin clamps) and store nothing.
    let pixel0 = pixel_tile * IGEMM_SUBGROUP_PIXELS;
    let in_c4 = p.in_c / 4u;
    let group_c4 = p.in_c_per_group / 4u;
    let in_at = p.in_base / 4u + p.in_c_offset / 4u;
    // This lane's column group of the 8 in a step's 4 weight rows.
    let v = lane % 8u;
    let mine_col = p.col_offset4 + min(col0 + v, cols4 - 1u);

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

    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    var acc4: mat4x4<f32>;
    var acc5: mat4x4<f32>;
    var acc6: mat4x4<f32>;
    var acc7: mat4x4<f32>;
    var acc_high0: mat4x4<f32>;
    var acc_high1: mat4x4<f32>;
    var acc_high2: mat4x4<f32>;
    var acc_high3: mat4x4<f32>;
    var acc_high4: mat4x4<f32>;
    var acc_high5: mat4x4<f32>;
    var acc_high6: mat4x4<f32>;
    var acc_high7: mat4x4<f32>;
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
            let all_inside = min(min(min(t0, t1), min(t2, t3)), min(min(t4, t5), min(t6, t7))) >= 0;
            let k0 = (ky * p.k_w + kx) * p.in_c_per_group;
            for (var c4 = 0u; c4 < group_c4; c4++) {
                let k = k0 + c4 * 4u;
                let m0 = vec4<f32>(weights[k * stride4 + mine_col]);
                let m1 = vec4<f32>(weights[(k + 1u) * stride4 + mine_col]);
                let m2 = vec4<f32>(weights[(k + 2u) * stride4 + mine_col]);
                let m3 = vec4<f32>(weights[(k + 3u) * stride4 + mine_col]);
                // Column group j, rows 0..4: held by lane j.
                let w0 = mat4x4<f32>(subgroupBroadcast(m0, 0u), subgroupBroadcast(m1, 0u), subgroupBroadcast(m2, 0u), subgroupBroadcast(m3, 0u));
                let w1 = mat4x4<f32>(subgroupBroadcast(m0, 1u), subgroupBroadcast(m1, 1u), subgroupBroadcast(m2, 1u), subgroupBroadcast(m3, 1u));
                let w2 = mat4x4<f32>(subgroupBroadcast(m0, 2u), subgroupBroadcast(m1, 2u), subgroupBroadcast(m2, 2u), subgroupBroadcast(m3, 2u));
                let w3 = mat4x4<f32>(subgroupBroadcast(m0, 3u), subgroupBroadcast(m1, 3u), subgroupBroadcast(m2, 3u), subgroupBroadcast(m3, 3u));
                let w4 = mat4x4<f32>(subgroupBroadcast(m0, 4u), subgroupBroadcast(m1, 4u), subgroupBroadcast(m2, 4u), subgroupBroadcast(m3, 4u));
                let w5 = mat4x4<f32>(subgroupBroadcast(m0, 5u), subgroupBroadcast(m1, 5u), subgroupBroadcast(m2, 5u), subgroupBroadcast(m3, 5u));
                let w6 = mat4x4<f32>(subgroupBroadcast(m0, 6u), subgroupBroadcast(m1, 6u), subgroupBroadcast(m2, 6u), subgroupBroadcast(m3, 6u));
                let w7 = mat4x4<f32>(subgroupBroadcast(m0, 7u), subgroupBroadcast(m1, 7u), subgroupBroadcast(m2, 7u), subgroupBroadcast(m3, 7u));
                if ZERO_PADDING || all_inside {
                    let x0 = load(t0, c4); acc0 += tile(x0, w0, w1, w2, w3); acc_high0 += tile(x0, w4, w5, w6, w7);
                    let x1 = load(t1, c4); acc1 += tile(x1, w0, w1, w2, w3); acc_high1 += tile(x1, w4, w5, w6, w7);
                    let x2 = load(t2, c4); acc2 += tile(x2, w0, w1, w2, w3); acc_high2 += tile(x2, w4, w5, w6, w7);
                    let x3 = load(t3, c4); acc3 += tile(x3, w0, w1, w2, w3); acc_high3 += tile(x3, w4, w5, w6, w7);
                    let x4 = load(t4, c4); acc4 += tile(x4, w0, w1, w2, w3); acc_high4 += tile(x4, w4, w5, w6, w7);
                    let x5 = load(t5, c4); acc5 += tile(x5, w0, w1, w2, w3); acc_high5 += tile(x5, w4, w5, w6, w7);
                    let x6 = load(t6, c4); acc6 += tile(x6, w0, w1, w2, w3); acc_high6 += tile(x6, w4, w5, w6, w7);
                    let x7 = load(t7, c4); acc7 += tile(x7, w0, w1, w2, w3); acc_high7 += tile(x7, w4, w5, w6, w7);
                } else {
                    if t0 >= 0 { let x0 = load(t0, c4); acc0 += tile(x0, w0, w1, w2, w3); acc_high0 += tile(x0, w4, w5, w6, w7); }
                    if t1 >= 0 { let x1 = load(t1, c4); acc1 += tile(x1, w0, w1, w2, w3); acc_high1 += tile(x1, w4, w5, w6, w7); }
                    if t2 >= 0 { let x2 = load(t2, c4); acc2 += tile(x2, w0, w1, w2, w3); acc_high2 += tile(x2, w4, w5, w6, w7); }
                    if t3 >= 0 { let x3 = load(t3, c4); acc3 += tile(x3, w0, w1, w2, w3); acc_high3 += tile(x3, w4, w5, w6, w7); }
                    if t4 >= 0 { let x4 = load(t4, c4); acc4 += tile(x4, w0, w1, w2, w3); acc_high4 += tile(x4, w4, w5, w6, w7); }
                    if t5 >= 0 { let x5 = load(t5, c4); acc5 += tile(x5, w0, w1, w2, w3); acc_high5 += tile(x5, w4, w5, w6, w7); }
                    if t6 >= 0 { let x6 = load(t6, c4); acc6 += tile(x6, w0, w1, w2, w3); acc_high6 += tile(x6, w4, w5, w6, w7); }
                    if t7 >= 0 { let x7 = load(t7, c4); acc7 += tile(x7, w0, w1, w2, w3); acc_high7 += tile(x7, w4, w5, w6, w7); }
                }
            }
        }
    }
    let mine_bias = bias_column(col0 + v);
    let biases = mat4x4<f32>(subgroupBroadcast(mine_bias, 0u), subgroupBroadcast(mine_bias, 1u), subgroupBroadcast(mine_bias, 2u), subgroupBroadcast(mine_bias, 3u));
    store_tile(pixel0 + 0u, col0, acc0 + biases);
    store_tile(pixel0 + 1u, col0, acc1 + biases);
    store_tile(pixel0 + 2u, col0, acc2 + biases);
    store_tile(pixel0 + 3u, col0, acc3 + biases);
    store_tile(pixel0 + 4u, col0, acc4 + biases);
    store_tile(pixel0 + 5u, col0, acc5 + biases);
    store_tile(pixel0 + 6u, col0, acc6 + biases);
    store_tile(pixel0 + 7u, col0, acc7 + biases);
    let biases_high = mat4x4<f32>(subgroupBroadcast(mine_bias, 4u), subgroupBroadcast(mine_bias, 5u), subgroupBroadcast(mine_bias, 6u), subgroupBroadcast(mine_bias, 7u));
    store_tile(pixel0 + 0u, col0 + IGEMM_COLUMNS4, acc_high0 + biases_high);
    store_tile(pixel0 + 1u, col0 + IGEMM_COLUMNS4, acc_high1 + biases_high);
    store_tile(pixel0 + 2u, col0 + IGEMM_COLUMNS4, acc_high2 + biases_high);
    store_tile(pixel0 + 3u, col0 + IGEMM_COLUMNS4, acc_high3 + biases_high);
    store_tile(pixel0 + 4u, col0 + IGEMM_COLUMNS4, acc_high4 + biases_high);
    store_tile(pixel0 + 5u, col0 + IGEMM_COLUMNS4, acc_high5 + biases_high);
    store_tile(pixel0 + 6u, col0 + IGEMM_COLUMNS4, acc_high6 + biases_high);
    store_tile(pixel0 + 7u, col0 + IGEMM_COLUMNS4, acc_high7 + biases_high);
}
