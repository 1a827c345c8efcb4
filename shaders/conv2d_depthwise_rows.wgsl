// Depthwise 3x3 convolution with stride 1 and no dilation (groups == cin ==
// cout, cin % 4 == 0), on CPU adapters without 8-lane subgroups (llvmpipe on
// GL). Each invocation computes a strip DEPTHWISE_STRIP_PIXELS (4) output
// pixels wide and up to DEPTHWISE_STRIP_ROWS (28) rows tall, for 4 channels
// (a vec4): it walks down the strip's input rows, loads each row's 6 columns
// once, and keeps three output rows in flight (rolling accumulators),
// storing an output row as its last input row arrives: 6 loads per 4 outputs
// and row, where the 4 x 4 block kernel loads 36 per 16. The strips of an
// image are evened out to equal heights; the channel group comes from the
// workgroup id, and a workgroup is DEPTHWISE_WORKGROUP (8) invocations, one
// SIMD row of llvmpipe. On B6, alternated with the block kernel in one
// process: 0.58-0.62x the time on GL; SwiftShader, which runs every lane
// through every branch and loop, keeps the blocks (2.8x the time there).
// Taps in the padding are skipped by a select (not multiplied by zero), as
// in the CPU reference. Weights: rows (ky * 3 + kx) of w_stride floats.
// `p.total` counts strips per channel group. Storage is elem (f32 or f16),
// widened to f32 as it is loaded.
// Prepended with the element types, tile constants, common.wgsl (Params,
// activate, mac, inside_row, bias4, store4) and depthwise_3x3.wgsl (kernel_row,
// taps3, strips_down, input_row_inside, row_start, column).

@group(0) @binding(0) var<storage, read> input: array<elem4>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 8u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let chunk4 = p.w_stride / 4u;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let c4 = group_index % chunk4;
    let strip = (group_index / chunk4) * WORKGROUP_SIZE + local;
    if strip >= p.total {
        return;
    }
    let in_c4 = p.in_c / 4u;
    let x_strips = (p.out_w + DEPTHWISE_STRIP_PIXELS - 1u) / DEPTHWISE_STRIP_PIXELS;
    let down = strips_down();
    let strips_h = down.x;
    let rows = down.y;
    let ox0 = (strip % x_strips) * DEPTHWISE_STRIP_PIXELS;
    let rest = strip / x_strips;
    let oy0 = (rest % strips_h) * rows;
    let n = rest / strips_h;
    let in_c4_at = p.oc_offset / 4u + c4;
    let oc0 = p.oc_offset + c4 * 4u;
    let iy0 = i32(oy0) - p.pad_top;
    let ix0 = i32(ox0) - p.pad_left;
    let k0 = kernel_row(0u, c4, chunk4);
    let k1 = kernel_row(1u, c4, chunk4);
    let k2 = kernel_row(2u, c4, chunk4);
    let biases = bias4(oc0);
    // a0: the output rows two input rows back (completed by this row), a1
    // the ones before; each input row starts the next (a2).
    var a0: array<vec4<f32>, DEPTHWISE_STRIP_PIXELS>;
    var a1: array<vec4<f32>, DEPTHWISE_STRIP_PIXELS>;
    for (var t = 0u; t < rows + 2u; t++) {
        let iy = iy0 + i32(t);
        let row_inside = input_row_inside(iy);
        let row = row_start(n, iy, in_c4_at, in_c4);
        // The row's DEPTHWISE_STRIP_PIXELS + 2 columns, each loaded once.
        var s: array<vec4<f32>, DEPTHWISE_STRIP_PIXELS + 2u>;
        var ins: array<bool, DEPTHWISE_STRIP_PIXELS + 2u>;
        for (var j = 0u; j < DEPTHWISE_STRIP_PIXELS + 2u; j++) {
            s[j] = column(row, ix0 + i32(j), in_c4);
            ins[j] = row_inside && inside_row(ix0 + i32(j));
        }
        for (var j = 0u; j < DEPTHWISE_STRIP_PIXELS; j++) {
            let a2 = taps3(vec4<f32>(), s[j], s[j + 1u], s[j + 2u], ins[j], ins[j + 1u], ins[j + 2u], k0);
            a1[j] = taps3(a1[j], s[j], s[j + 1u], s[j + 2u], ins[j], ins[j + 1u], ins[j + 2u], k1);
            let done = taps3(a0[j], s[j], s[j + 1u], s[j + 2u], ins[j], ins[j + 1u], ins[j + 2u], k2);
            if t >= 2u {
                store4(n, oy0 + t - 2u, ox0 + j, oc0, done + biases);
            }
            a0[j] = a1[j];
            a1[j] = a2;
        }
    }
}
