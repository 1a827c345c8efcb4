// Depthwise 3x3 convolution with stride 1 and no dilation (groups == cin ==
// cout, cin % 4 == 0), for SwiftShader and CPU adapters without 8-lane
// subgroups (llvmpipe on GL: 1.5-2.2x the row kernel on B6);
// conv2d_depthwise_vec4.wgsl runs the other depthwise layers, and this one on
// GPUs. Each invocation computes a block of
// DEPTHWISE_BLOCK_ROWS x DEPTHWISE_BLOCK_PIXELS (4 x 4) output pixels of one
// image for 4 channels (a vec4); the channel group comes from the workgroup
// id, so the weights are the same across a workgroup. SwiftShader gathers
// every load lane by lane, so FMAs per load is what counts: the block loads
// its 9 weights and each of the 6 input rows it reads once (6 columns each)
// and reuses them from registers, 144 vec4 FMAs for 45 loads (the row
// kernel's 8 pixels take 72 for 39). It has no branches but the stores':
// SwiftShader runs every lane through every branch, taken or not. Taps in the
// padding are skipped by a select (not multiplied by zero, which would turn an
// infinite weight into NaN), as in the CPU reference. Weights: rows (ky * 3 +
// kx) of w_stride floats. `p.total` counts blocks per channel group: n x
// (out_h / DEPTHWISE_BLOCK_ROWS) x (out_w / DEPTHWISE_BLOCK_PIXELS), rounded up.
// Storage is elem (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants, common.wgsl (Params,
// activate, mac, inside_row, bias4, store4) and depthwise_3x3.wgsl (kernel_row,
// taps3, input_row_inside, row_start, column).

@group(0) @binding(0) var<storage, read> input: array<elem4>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

// The block below is written out for 4 x 4 pixels.
const_assert DEPTHWISE_BLOCK_ROWS == 4u;
const_assert DEPTHWISE_BLOCK_PIXELS == 4u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let chunk4 = p.w_stride / 4u;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let c4 = group_index % chunk4;
    let block = (group_index / chunk4) * WORKGROUP_SIZE + local;
    if block >= p.total {
        return;
    }
    let in_c4 = p.in_c / 4u;
    let x_blocks = (p.out_w + DEPTHWISE_BLOCK_PIXELS - 1u) / DEPTHWISE_BLOCK_PIXELS;
    let y_blocks = (p.out_h + DEPTHWISE_BLOCK_ROWS - 1u) / DEPTHWISE_BLOCK_ROWS;
    let ox0 = (block % x_blocks) * DEPTHWISE_BLOCK_PIXELS;
    let rest = block / x_blocks;
    let oy0 = (rest % y_blocks) * DEPTHWISE_BLOCK_ROWS;
    let n = rest / y_blocks;
    // This chunk's input channels start at its first output channel.
    let in_c4_at = p.oc_offset / 4u + c4;
    let oc0 = p.oc_offset + c4 * 4u;
    let iy0 = i32(oy0) - p.pad_top;
    let ix0 = i32(ox0) - p.pad_left;
    let k0 = kernel_row(0u, c4, chunk4);
    let k1 = kernel_row(1u, c4, chunk4);
    let k2 = kernel_row(2u, c4, chunk4);
    var a00: vec4<f32>; var a01: vec4<f32>; var a02: vec4<f32>; var a03: vec4<f32>;
    var a10: vec4<f32>; var a11: vec4<f32>; var a12: vec4<f32>; var a13: vec4<f32>;
    var a20: vec4<f32>; var a21: vec4<f32>; var a22: vec4<f32>; var a23: vec4<f32>;
    var a30: vec4<f32>; var a31: vec4<f32>; var a32: vec4<f32>; var a33: vec4<f32>;
    // Input row 0 of the block: kernel row 0 of output row 0.
    {
        let row_inside = input_row_inside(iy0 + 0);
        let row = row_start(n, iy0 + 0, in_c4_at, in_c4);
        let s0 = column(row, ix0 + 0, in_c4);
        let in0 = row_inside && inside_row(ix0 + 0);
        let s1 = column(row, ix0 + 1, in_c4);
        let in1 = row_inside && inside_row(ix0 + 1);
        let s2 = column(row, ix0 + 2, in_c4);
        let in2 = row_inside && inside_row(ix0 + 2);
        let s3 = column(row, ix0 + 3, in_c4);
        let in3 = row_inside && inside_row(ix0 + 3);
        let s4 = column(row, ix0 + 4, in_c4);
        let in4 = row_inside && inside_row(ix0 + 4);
        let s5 = column(row, ix0 + 5, in_c4);
        let in5 = row_inside && inside_row(ix0 + 5);
        a00 = taps3(a00, s0, s1, s2, in0, in1, in2, k0);
        a01 = taps3(a01, s1, s2, s3, in1, in2, in3, k0);
        a02 = taps3(a02, s2, s3, s4, in2, in3, in4, k0);
        a03 = taps3(a03, s3, s4, s5, in3, in4, in5, k0);
    }
    // Input row 1 of the block: kernel row 1 of output row 0, 0 of output row 1.
    {
        let row_inside = input_row_inside(iy0 + 1);
        let row = row_start(n, iy0 + 1, in_c4_at, in_c4);
        let s0 = column(row, ix0 + 0, in_c4);
        let in0 = row_inside && inside_row(ix0 + 0);
        let s1 = column(row, ix0 + 1, in_c4);
        let in1 = row_inside && inside_row(ix0 + 1);
        let s2 = column(row, ix0 + 2, in_c4);
        let in2 = row_inside && inside_row(ix0 + 2);
        let s3 = column(row, ix0 + 3, in_c4);
        let in3 = row_inside && inside_row(ix0 + 3);
        let s4 = column(row, ix0 + 4, in_c4);
        let in4 = row_inside && inside_row(ix0 + 4);
        let s5 = column(row, ix0 + 5, in_c4);
        let in5 = row_inside && inside_row(ix0 + 5);
        a00 = taps3(a00, s0, s1, s2, in0, in1, in2, k1);
        a01 = taps3(a01, s1, s2, s3, in1, in2, in3, k1);
        a02 = taps3(a02, s2, s3, s4, in2, in3, in4, k1);
        a03 = taps3(a03, s3, s4, s5, in3, in4, in5, k1);
        a10 = taps3(a10, s0, s1, s2, in0, in1, in2, k0);
        a11 = taps3(a11, s1, s2, s3, in1, in2, in3, k0);
        a12 = taps3(a12, s2, s3, s4, in2, in3, in4, k0);
        a13 = taps3(a13, s3, s4, s5, in3, in4, in5, k0);
    }
    // Input row 2 of the block: kernel row 2 of output row 0, 1 of output row 1, 0 of output row 2.
    {
        let row_inside = input_row_inside(iy0 + 2);
        let row = row_start(n, iy0 + 2, in_c4_at, in_c4);
        let s0 = column(row, ix0 + 0, in_c4);
        let in0 = row_inside && inside_row(ix0 + 0);
        let s1 = column(row, ix0 + 1, in_c4);
        let in1 = row_inside && inside_row(ix0 + 1);
        let s2 = column(row, ix0 + 2, in_c4);
        let in2 = row_inside && inside_row(ix0 + 2);
        let s3 = column(row, ix0 + 3, in_c4);
        let in3 = row_inside && inside_row(ix0 + 3);
        let s4 = column(row, ix0 + 4, in_c4);
        let in4 = row_inside && inside_row(ix0 + 4);
        let s5 = column(row, ix0 + 5, in_c4);
        let in5 = row_inside && inside_row(ix0 + 5);
        a00 = taps3(a00, s0, s1, s2, in0, in1, in2, k2);
        a01 = taps3(a01, s1, s2, s3, in1, in2, in3, k2);
        a02 = taps3(a02, s2, s3, s4, in2, in3, in4, k2);
        a03 = taps3(a03, s3, s4, s5, in3, in4, in5, k2);
        a10 = taps3(a10, s0, s1, s2, in0, in1, in2, k1);
        a11 = taps3(a11, s1, s2, s3, in1, in2, in3, k1);
        a12 = taps3(a12, s2, s3, s4, in2, in3, in4, k1);
        a13 = taps3(a13, s3, s4, s5, in3, in4, in5, k1);
        a20 = taps3(a20, s0, s1, s2, in0, in1, in2, k0);
        a21 = taps3(a21, s1, s2, s3, in1, in2, in3, k0);
        a22 = taps3(a22, s2, s3, s4, in2, in3, in4, k0);
        a23 = taps3(a23, s3, s4, s5, in3, in4, in5, k0);
    }
    // Input row 3 of the block: kernel row 2 of output row 1, 1 of output row 2, 0 of output row 3.
    {
        let row_inside = input_row_inside(iy0 + 3);
        let row = row_start(n, iy0 + 3, in_c4_at, in_c4);
        let s0 = column(row, ix0 + 0, in_c4);
        let in0 = row_inside && inside_row(ix0 + 0);
        let s1 = column(row, ix0 + 1, in_c4);
        let in1 = row_inside && inside_row(ix0 + 1);
        let s2 = column(row, ix0 + 2, in_c4);
        let in2 = row_inside && inside_row(ix0 + 2);
        let s3 = column(row, ix0 + 3, in_c4);
        let in3 = row_inside && inside_row(ix0 + 3);
        let s4 = column(row, ix0 + 4, in_c4);
        let in4 = row_inside && inside_row(ix0 + 4);
        let s5 = column(row, ix0 + 5, in_c4);
        let in5 = row_inside && inside_row(ix0 + 5);
        a10 = taps3(a10, s0, s1, s2, in0, in1, in2, k2);
        a11 = taps3(a11, s1, s2, s3, in1, in2, in3, k2);
        a12 = taps3(a12, s2, s3, s4, in2, in3, in4, k2);
        a13 = taps3(a13, s3, s4, s5, in3, in4, in5, k2);
        a20 = taps3(a20, s0, s1, s2, in0, in1, in2, k1);
        a21 = taps3(a21, s1, s2, s3, in1, in2, in3, k1);
        a22 = taps3(a22, s2, s3, s4, in2, in3, in4, k1);
        a23 = taps3(a23, s3, s4, s5, in3, in4, in5, k1);
        a30 = taps3(a30, s0, s1, s2, in0, in1, in2, k0);
        a31 = taps3(a31, s1, s2, s3, in1, in2, in3, k0);
        a32 = taps3(a32, s2, s3, s4, in2, in3, in4, k0);
        a33 = taps3(a33, s3, s4, s5, in3, in4, in5, k0);
    }
    // Input row 4 of the block: kernel row 2 of output row 2, 1 of output row 3.
    {
        let row_inside = input_row_inside(iy0 + 4);
        let row = row_start(n, iy0 + 4, in_c4_at, in_c4);
        let s0 = column(row, ix0 + 0, in_c4);
        let in0 = row_inside && inside_row(ix0 + 0);
        let s1 = column(row, ix0 + 1, in_c4);
        let in1 = row_inside && inside_row(ix0 + 1);
        let s2 = column(row, ix0 + 2, in_c4);
        let in2 = row_inside && inside_row(ix0 + 2);
        let s3 = column(row, ix0 + 3, in_c4);
        let in3 = row_inside && inside_row(ix0 + 3);
        let s4 = column(row, ix0 + 4, in_c4);
        let in4 = row_inside && inside_row(ix0 + 4);
        let s5 = column(row, ix0 + 5, in_c4);
        let in5 = row_inside && inside_row(ix0 + 5);
        a20 = taps3(a20, s0, s1, s2, in0, in1, in2, k2);
        a21 = taps3(a21, s1, s2, s3, in1, in2, in3, k2);
        a22 = taps3(a22, s2, s3, s4, in2, in3, in4, k2);
        a23 = taps3(a23, s3, s4, s5, in3, in4, in5, k2);
        a30 = taps3(a30, s0, s1, s2, in0, in1, in2, k1);
        a31 = taps3(a31, s1, s2, s3, in1, in2, in3, k1);
        a32 = taps3(a32, s2, s3, s4, in2, in3, in4, k1);
        a33 = taps3(a33, s3, s4, s5, in3, in4, in5, k1);
    }
    // Input row 5 of the block: kernel row 2 of output row 3.
    {
        let row_inside = input_row_inside(iy0 + 5);
        let row = row_start(n, iy0 + 5, in_c4_at, in_c4);
        let s0 = column(row, ix0 + 0, in_c4);
        let in0 = row_inside && inside_row(ix0 + 0);
        let s1 = column(row, ix0 + 1, in_c4);
        let in1 = row_inside && inside_row(ix0 + 1);
        let s2 = column(row, ix0 + 2, in_c4);
        let in2 = row_inside && inside_row(ix0 + 2);
        let s3 = column(row, ix0 + 3, in_c4);
        let in3 = row_inside && inside_row(ix0 + 3);
        let s4 = column(row, ix0 + 4, in_c4);
        let in4 = row_inside && inside_row(ix0 + 4);
        let s5 = column(row, ix0 + 5, in_c4);
        let in5 = row_inside && inside_row(ix0 + 5);
        a30 = taps3(a30, s0, s1, s2, in0, in1, in2, k2);
        a31 = taps3(a31, s1, s2, s3, in1, in2, in3, k2);
        a32 = taps3(a32, s2, s3, s4, in2, in3, in4, k2);
        a33 = taps3(a33, s3, s4, s5, in3, in4, in5, k2);
    }
    let biases = bias4(oc0);
    store4(n, oy0 + 0u, ox0 + 0u, oc0, a00 + biases);
    store4(n, oy0 + 0u, ox0 + 1u, oc0, a01 + biases);
    store4(n, oy0 + 0u, ox0 + 2u, oc0, a02 + biases);
    store4(n, oy0 + 0u, ox0 + 3u, oc0, a03 + biases);
    store4(n, oy0 + 1u, ox0 + 0u, oc0, a10 + biases);
    store4(n, oy0 + 1u, ox0 + 1u, oc0, a11 + biases);
    store4(n, oy0 + 1u, ox0 + 2u, oc0, a12 + biases);
    store4(n, oy0 + 1u, ox0 + 3u, oc0, a13 + biases);
    store4(n, oy0 + 2u, ox0 + 0u, oc0, a20 + biases);
    store4(n, oy0 + 2u, ox0 + 1u, oc0, a21 + biases);
    store4(n, oy0 + 2u, ox0 + 2u, oc0, a22 + biases);
    store4(n, oy0 + 2u, ox0 + 3u, oc0, a23 + biases);
    store4(n, oy0 + 3u, ox0 + 0u, oc0, a30 + biases);
    store4(n, oy0 + 3u, ox0 + 1u, oc0, a31 + biases);
    store4(n, oy0 + 3u, ox0 + 2u, oc0, a32 + biases);
    store4(n, oy0 + 3u, ox0 + 3u, oc0, a33 + biases);
}
