// Implicit GEMM tiled through workgroup memory, for GPUs (discrete, integrated):
// the classic design (TF.js and ONNX Runtime's WebGPU convolutions tile 32 x 32
// with 4 x 4 per invocation) at twice their tile: each workgroup of
// TILED_WORKGROUP invocations computes TILED_M output pixels x 4 TILED_N4 output
// channels, each invocation TILED_THREAD_M pixels x 8 channels, stepping
// through K = kh * kw * cin TILED_K at a time (the numbers live in
// src/conv/kernels.rs and reach here as constants). Per step
// the workgroup stages a TILED_M x TILED_K block of the implicit im2col matrix
// (gathered on the fly, zeros for padding) and a TILED_K x TILED_N block of
// weights in workgroup memory; every value staged is used by several invocations.
// Padding is multiplied as zero here, as TensorFlow and cuDNN do: the result
// equals the CPU reference, except that an infinite or NaN *weight* meeting the
// padding gives NaN (the reference skips padding taps).
// CHECK_BOUNDS = false (an override, set when the tiles divide the problem)
// compiles the edge checks out. Weights: rows of w_stride floats (cout padded
// to 4). Storage is elem (f32 or f16), widened to f32 as it is staged.
// Prepended with the element types, tile constants and common.wgsl (Params, activate).

@group(0) @binding(0) var<storage, read> input: array<elem>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override CHECK_BOUNDS: bool = true;

// Each invocation: TILED_THREAD_M pixels x 2 vec4 columns, its accumulators below.
const_assert TILED_WORKGROUP == (TILED_M / TILED_THREAD_M) * (TILED_N4 / 2u);
const_assert TILED_M * TILED_K % TILED_WORKGROUP == 0u;
const_assert TILED_K * TILED_N4 % TILED_WORKGROUP == 0u;
const A_PER_INVOCATION: u32 = TILED_M * TILED_K / TILED_WORKGROUP;
const B_PER_INVOCATION: u32 = TILED_K * TILED_N4 / TILED_WORKGROUP;

// [k][pixel] and [k][channel vec4].
var<workgroup> a_tile: array<f32, TILED_M * TILED_K>;
var<workgroup> b_tile: array<vec4<f32>, TILED_K * TILED_N4>;

// Element (pixel, k) of the implicit im2col matrix: the input value tap k of
// output pixel `pixel` reads, 0 in the padding or past the edges.
fn im2col(pixel: u32, k: u32, pixels: u32, depth: u32) -> f32 {
    if CHECK_BOUNDS && (pixel >= pixels || k >= depth) {
        return 0.0;
    }
    let ci = k % p.in_c;
    let tap = k / p.in_c;
    let kx = tap % p.k_w;
    let ky = tap / p.k_w;
    let ox = pixel % p.out_w;
    let rest = pixel / p.out_w;
    let oy = rest % p.out_h;
    let n = rest / p.out_h;
    let iy = i32(oy * p.stride_h + ky * p.dilation_h) - p.pad_top;
    let ix = i32(ox * p.stride_w + kx * p.dilation_w) - p.pad_left;
    if iy < 0 || iy >= i32(p.in_h) || ix < 0 || ix >= i32(p.in_w) {
        return 0.0;
    }
    return f32(input[p.in_base + ((n * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.in_c + ci]);
}

@compute @workgroup_size(TILED_WORKGROUP)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let cols4 = p.w_stride / 4u;
    let col_tiles = (cols4 + TILED_N4 - 1u) / TILED_N4;
    let group_index = workgroup.y * (p.row_stride / TILED_WORKGROUP) + workgroup.x;
    let tile_n4 = (group_index % col_tiles) * TILED_N4;
    let tile_m = (group_index / col_tiles) * TILED_M;
    let pixels = p.batch * p.out_h * p.out_w;
    // Uniform across the workgroup, so returning keeps the barriers uniform.
    if tile_m >= pixels {
        return;
    }
    let depth = p.k_h * p.k_w * p.in_c;
    let tx = local % (TILED_N4 / 2u); // this invocation's 8 channels: vec4 columns 2 tx, 2 tx + 1
    let ty = local / (TILED_N4 / 2u); // and its pixels: ty * TILED_THREAD_M ..

    var acc: array<vec4<f32>, 2u * TILED_THREAD_M>; // pixel i, column j at 2 i + j
    for (var k0 = 0u; k0 < depth; k0 += TILED_K) {
        // The im2col block, k fastest, so neighbours read neighbouring
        // channels of one pixel.
        for (var i = 0u; i < A_PER_INVOCATION; i++) {
            let e = local + i * TILED_WORKGROUP;
            let kk = e % TILED_K;
            let m = e / TILED_K;
            a_tile[kk * TILED_M + m] = im2col(tile_m + m, k0 + kk, pixels, depth);
        }
        // The weight block.
        for (var i = 0u; i < B_PER_INVOCATION; i++) {
            let e = local + i * TILED_WORKGROUP;
            let row = e / TILED_N4;
            let c4 = e % TILED_N4;
            var w = vec4(0.0);
            if !CHECK_BOUNDS || (k0 + row < depth && tile_n4 + c4 < cols4) {
                w = vec4<f32>(weights[(k0 + row) * cols4 + tile_n4 + c4]);
            }
            b_tile[row * TILED_N4 + c4] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILED_K; kk++) {
            let b0 = b_tile[kk * TILED_N4 + 2u * tx];
            let b1 = b_tile[kk * TILED_N4 + 2u * tx + 1u];
            for (var i = 0u; i < TILED_THREAD_M; i++) {
                let a = vec4(a_tile[kk * TILED_M + ty * TILED_THREAD_M + i]);
                acc[2u * i] = fma(a, b0, acc[2u * i]);
                acc[2u * i + 1u] = fma(a, b1, acc[2u * i + 1u]);
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TILED_THREAD_M; i++) {
        let pixel = tile_m + ty * TILED_THREAD_M + i;
        if CHECK_BOUNDS && pixel >= pixels {
            break;
        }
        let out_at = p.out_base + pixel * p.out_c + p.oc_offset;
        for (var j = 0u; j < 2u; j++) {
            let v = acc[2u * i + j];
            for (var r = 0u; r < 4u; r++) {
                let oc = (tile_n4 + 2u * tx + j) * 4u + r;
                if !CHECK_BOUNDS || oc < p.chunk_c {
                    output[out_at + oc] = elem(activate(v[r] + f32(bias[p.oc_offset + oc]), p.leaky_slope));
                }
            }
        }
    }
}
