// The scalar register-tiled implicit GEMM for SwiftShader (cin / groups not a
// multiple of 4, e.g. a first layer on RGB): written by hand, not generated
// like conv2d_igemm_{vec4,scalar,subgroup,vec4_narrow}.wgsl, whose scheme it
// follows (src/conv/codegen.rs explains them). M = output pixels, N = output
// channels, K = kh * kw * cin. Each invocation computes IGEMM_NARROW_PIXELS (4)
// consecutive output pixels x 16 output channels (IGEMM_COLUMNS4 vec4 column
// groups); what counts is FMAs per load, and on SwiftShader two more things:
// it runs every lane through both sides of every branch, so there are none
// (each pixel's sum is kept by select where its tap is inside, `inside_or`:
// padding is skipped, not multiplied by zero, which would turn an infinite
// weight into NaN), and loop iterations cost, so a kernel row's (kx, ci) pairs
// are one loop (kw * cin / groups steps) rather than a loop of loops that
// finds each tap again. Per step: 4 vec4 FMAs and 1 scalar load per pixel, and
// 4 weight loads for the tile. Weights: rows k = (ky * kw + kx) * cin + ci of
// w_stride floats (cout padded to 4). `p.total` counts pixel tiles. Grouped
// layers run one dispatch per group (in_c_offset, col_offset4).
// Storage is elem / elem4 (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants and common.wgsl (Params,
// activate, coords, next_origin, inside_or, bias_tile, store_tile).

@group(0) @binding(0) var<storage, read> input: array<elem>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

const_assert IGEMM_COLUMNS4 == 4u; // one mat4x4 of accumulators per pixel
const_assert IGEMM_NARROW_PIXELS == 4u; // the unroll below

// 16 channels of one pixel += a x one weight row (its 4 vec4 column groups).
fn tile(acc: mat4x4<f32>, a: f32, w: mat4x4<f32>) -> mat4x4<f32> {
    let s = vec4(a);
    return mat4x4<f32>(fma(s, w[0], acc[0]), fma(s, w[1], acc[1]), fma(s, w[2], acc[2]), fma(s, w[3], acc[3]));
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

// The input at `at` where `inside`, else 0 (read at index 0, never past the end).
fn load(at: i32, inside: bool) -> f32 {
    return f32(input[u32(select(0, at, inside))]);
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
    let pixel0 = pixel_tile * IGEMM_NARROW_PIXELS;
    let in_at = i32(p.in_base + p.in_c_offset);
    let in_w = i32(p.in_w);
    let in_c = i32(p.in_c);
    // (kx, ci) pairs of one kernel row.
    let run = p.k_w * p.in_c_per_group;
    let dw = i32(p.dilation_w);

    var at_pixel = coords(pixel0);
    let o0 = next_origin(&at_pixel);
    let o1 = next_origin(&at_pixel);
    let o2 = next_origin(&at_pixel);
    let o3 = next_origin(&at_pixel);

    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    for (var ky = 0u; ky < p.k_h; ky++) {
        let dy = i32(ky * p.dilation_h);
        // Each pixel's input row: the index of (its first column, channel 0),
        // and whether the row is inside the image.
        let row0 = in_at + ((o0.z + o0.x + dy) * in_w + o0.y) * in_c;
        let row_in0 = o0.x + dy >= 0 && o0.x + dy < i32(p.in_h);
        let row1 = in_at + ((o1.z + o1.x + dy) * in_w + o1.y) * in_c;
        let row_in1 = o1.x + dy >= 0 && o1.x + dy < i32(p.in_h);
        let row2 = in_at + ((o2.z + o2.x + dy) * in_w + o2.y) * in_c;
        let row_in2 = o2.x + dy >= 0 && o2.x + dy < i32(p.in_h);
        let row3 = in_at + ((o3.z + o3.x + dy) * in_w + o3.y) * in_c;
        let row_in3 = o3.x + dy >= 0 && o3.x + dy < i32(p.in_h);
        let k0 = ky * run;
        // Step j is tap kx = j / (cin / groups), channel ci = j % (cin / groups):
        // dx = kx * dilation and ci are counted, not divided.
        var dx = 0;
        var ci = 0u;
        for (var j = 0u; j < run; j++) {
            let w = weight_row(k0 + j, col0, cols4, stride4);
            let at = dx * in_c + i32(ci);
            let in0 = row_in0 && o0.y + dx >= 0 && o0.y + dx < in_w;
            acc0 = inside_or(acc0, tile(acc0, load(row0 + at, in0), w), in0);
            let in1 = row_in1 && o1.y + dx >= 0 && o1.y + dx < in_w;
            acc1 = inside_or(acc1, tile(acc1, load(row1 + at, in1), w), in1);
            let in2 = row_in2 && o2.y + dx >= 0 && o2.y + dx < in_w;
            acc2 = inside_or(acc2, tile(acc2, load(row2 + at, in2), w), in2);
            let in3 = row_in3 && o3.y + dx >= 0 && o3.y + dx < in_w;
            acc3 = inside_or(acc3, tile(acc3, load(row3 + at, in3), w), in3);
            ci += 1u;
            let next_tap = ci == p.in_c_per_group;
            dx = select(dx, dx + dw, next_tap);
            ci = select(ci, 0u, next_tap);
        }
    }
    let biases = bias_tile(col0);
    store_tile(pixel0 + 0u, col0, acc0 + biases);
    store_tile(pixel0 + 1u, col0, acc1 + biases);
    store_tile(pixel0 + 2u, col0, acc2 + biases);
    store_tile(pixel0 + 3u, col0, acc3 + biases);
}
