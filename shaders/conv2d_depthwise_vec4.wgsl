// Depthwise convolution (groups == cin == cout, cin % 4 == 0). Each invocation
// computes DEPTHWISE_PIXELS (8) neighbouring output pixels of one row for 4 channels (a vec4); the
// channel group comes from the workgroup id, so the weights are the same across
// a workgroup. 3-wide kernel rows with stride 1 and no dilation (the common
// depthwise layer) load the 10 input columns the 8 outputs read once per
// kernel row and reuse them from registers; other layers read per tap. The
// tile is written out by hand so it stays in registers. Taps in the padding
// are skipped (not multiplied by zero), as in the CPU reference.
// Weights: rows (ky * kw + kx) of w_stride floats. `p.total` counts row
// segments of DEPTHWISE_PIXELS pixels per channel group.
// Storage is elem (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants and common.wgsl (Params,
// activate, mac, inside_row, bias4, store4).

@group(0) @binding(0) var<storage, read> input: array<elem4>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

const_assert DEPTHWISE_PIXELS == 8u; // the unroll below is written for 8 pixels

// The input at column ix of the row starting at vec4 index `row` (0 in the padding).
fn column(row: u32, ix: i32, in_c4: u32) -> vec4<f32> {
    return select(vec4(0.0), vec4<f32>(input[row + u32(max(ix, 0)) * in_c4]), inside_row(ix));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let chunk4 = p.w_stride / 4u;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let c4 = group_index % chunk4;
    let tile = (group_index / chunk4) * WORKGROUP_SIZE + local;
    if tile >= p.total {
        return;
    }
    let in_c4 = p.in_c / 4u;
    let x_tiles = (p.out_w + DEPTHWISE_PIXELS - 1u) / DEPTHWISE_PIXELS;
    let ox0 = (tile % x_tiles) * DEPTHWISE_PIXELS;
    let rest = tile / x_tiles;
    let oy = rest % p.out_h;
    let n = rest / p.out_h;
    // This chunk's input channels start at its first output channel.
    let in_c4_at = p.oc_offset / 4u + c4;
    let ix0 = i32(ox0 * p.stride_w) - p.pad_left;
    let sw = i32(p.stride_w);
    let dw = i32(p.dilation_w);
    let sliding = p.k_w == 3u && p.stride_w == 1u && p.dilation_w == 1u;

    var acc0: vec4<f32>;
    var acc1: vec4<f32>;
    var acc2: vec4<f32>;
    var acc3: vec4<f32>;
    var acc4: vec4<f32>;
    var acc5: vec4<f32>;
    var acc6: vec4<f32>;
    var acc7: vec4<f32>;
    for (var ky = 0u; ky < p.k_h; ky++) {
        let iy = i32(oy * p.stride_h + ky * p.dilation_h) - p.pad_top;
        if iy < 0 || iy >= i32(p.in_h) {
            continue;
        }
        let row = p.in_base / 4u + (n * p.in_h + u32(iy)) * p.in_w * in_c4 + in_c4_at;
        let w_row = ky * p.k_w * chunk4 + c4;
        if sliding {
            let w0 = vec4<f32>(weights[w_row]);
            let w1 = vec4<f32>(weights[w_row + chunk4]);
            let w2 = vec4<f32>(weights[w_row + 2u * chunk4]);
            let s0 = column(row, ix0 + 0, in_c4);
            let in0 = inside_row(ix0 + 0);
            let s1 = column(row, ix0 + 1, in_c4);
            let in1 = inside_row(ix0 + 1);
            let s2 = column(row, ix0 + 2, in_c4);
            let in2 = inside_row(ix0 + 2);
            let s3 = column(row, ix0 + 3, in_c4);
            let in3 = inside_row(ix0 + 3);
            let s4 = column(row, ix0 + 4, in_c4);
            let in4 = inside_row(ix0 + 4);
            let s5 = column(row, ix0 + 5, in_c4);
            let in5 = inside_row(ix0 + 5);
            let s6 = column(row, ix0 + 6, in_c4);
            let in6 = inside_row(ix0 + 6);
            let s7 = column(row, ix0 + 7, in_c4);
            let in7 = inside_row(ix0 + 7);
            let s8 = column(row, ix0 + 8, in_c4);
            let in8 = inside_row(ix0 + 8);
            let s9 = column(row, ix0 + 9, in_c4);
            let in9 = inside_row(ix0 + 9);
            acc0 = mac(mac(mac(acc0, s0, w0, in0), s1, w1, in1), s2, w2, in2);
            acc1 = mac(mac(mac(acc1, s1, w0, in1), s2, w1, in2), s3, w2, in3);
            acc2 = mac(mac(mac(acc2, s2, w0, in2), s3, w1, in3), s4, w2, in4);
            acc3 = mac(mac(mac(acc3, s3, w0, in3), s4, w1, in4), s5, w2, in5);
            acc4 = mac(mac(mac(acc4, s4, w0, in4), s5, w1, in5), s6, w2, in6);
            acc5 = mac(mac(mac(acc5, s5, w0, in5), s6, w1, in6), s7, w2, in7);
            acc6 = mac(mac(mac(acc6, s6, w0, in6), s7, w1, in7), s8, w2, in8);
            acc7 = mac(mac(mac(acc7, s7, w0, in7), s8, w1, in8), s9, w2, in9);
        } else {
            for (var kx = 0u; kx < p.k_w; kx++) {
                let w = vec4<f32>(weights[w_row + kx * chunk4]);
                let ix = ix0 + i32(kx) * dw;
                acc0 = mac(acc0, column(row, ix + 0 * sw, in_c4), w, inside_row(ix + 0 * sw));
                acc1 = mac(acc1, column(row, ix + 1 * sw, in_c4), w, inside_row(ix + 1 * sw));
                acc2 = mac(acc2, column(row, ix + 2 * sw, in_c4), w, inside_row(ix + 2 * sw));
                acc3 = mac(acc3, column(row, ix + 3 * sw, in_c4), w, inside_row(ix + 3 * sw));
                acc4 = mac(acc4, column(row, ix + 4 * sw, in_c4), w, inside_row(ix + 4 * sw));
                acc5 = mac(acc5, column(row, ix + 5 * sw, in_c4), w, inside_row(ix + 5 * sw));
                acc6 = mac(acc6, column(row, ix + 6 * sw, in_c4), w, inside_row(ix + 6 * sw));
                acc7 = mac(acc7, column(row, ix + 7 * sw, in_c4), w, inside_row(ix + 7 * sw));
            }
        }
    }
    let oc0 = p.oc_offset + c4 * 4u;
    let biases = bias4(oc0);
    store4(n, oy, ox0 + 0u, oc0, acc0 + biases);
    store4(n, oy, ox0 + 1u, oc0, acc1 + biases);
    store4(n, oy, ox0 + 2u, oc0, acc2 + biases);
    store4(n, oy, ox0 + 3u, oc0, acc3 + biases);
    store4(n, oy, ox0 + 4u, oc0, acc4 + biases);
    store4(n, oy, ox0 + 5u, oc0, acc5 + biases);
    store4(n, oy, ox0 + 6u, oc0, acc6 + biases);
    store4(n, oy, ox0 + 7u, oc0, acc7 + biases);
}
