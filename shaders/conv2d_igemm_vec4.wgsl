// Implicit GEMM with register tiles, for groups == 1 and cin % 4 == 0.
// M = output pixels, N = output channels, K = kh * kw * cin. Each invocation
// computes TM consecutive output pixels x 4 * TN4 output channels, reading the
// input and the weights as vec4 (along cin and along cout), with no workgroup
// memory: on CPU-like adapters (llvmpipe) the caches give the reuse and every
// load is expensive, so what counts is FMAs per load. Taps that fall in the
// padding are skipped, not multiplied by zero, as in the CPU reference.
// Weights: rows k = (ky * kw + kx) * cin + ci of w_stride floats (cout padded to 4).
// Prepended with common.wgsl (Params, activate).

@group(0) @binding(0) var<storage, read> input: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const TM: u32 = 8u;
const TN4: u32 = 4u;
override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let tile = workgroup.y * p.row_stride + workgroup.x * WORKGROUP_SIZE + local;
    if tile >= p.total {
        return;
    }
    let cols4 = p.w_stride / 4u;
    let col_tiles = (cols4 + TN4 - 1u) / TN4;
    let col0 = (tile % col_tiles) * TN4;
    let pixel0 = (tile / col_tiles) * TM;
    let pixels = p.batch * p.out_h * p.out_w;
    let in_c4 = p.in_c / 4u;
    let in_base4 = p.in_base / 4u;

    // Where each of the TM output pixels starts reading.
    var row0: array<i32, TM>;
    var col_in0: array<i32, TM>;
    var image_row: array<u32, TM>;
    for (var m = 0u; m < TM; m++) {
        let pixel = min(pixel0 + m, pixels - 1u);
        let ox = pixel % p.out_w;
        let rest = pixel / p.out_w;
        row0[m] = i32((rest % p.out_h) * p.stride_h) - p.pad_top;
        col_in0[m] = i32(ox * p.stride_w) - p.pad_left;
        image_row[m] = (rest / p.out_h) * p.in_h;
    }
    // Column loads past the padded width read the last column; never written.
    var col: array<u32, TN4>;
    for (var j = 0u; j < TN4; j++) {
        col[j] = min(col0 + j, cols4 - 1u);
    }

    var acc: array<vec4<f32>, 32>; // TM * TN4
    for (var ky = 0u; ky < p.k_h; ky++) {
        for (var kx = 0u; kx < p.k_w; kx++) {
            var base: array<i32, TM>;
            for (var m = 0u; m < TM; m++) {
                let iy = row0[m] + i32(ky * p.dilation_h);
                let ix = col_in0[m] + i32(kx * p.dilation_w);
                let inside = iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w);
                let at = i32(in_base4 + ((image_row[m] + u32(iy)) * p.in_w + u32(ix)) * in_c4);
                base[m] = select(-1, at, inside);
            }
            let k0 = (ky * p.k_w + kx) * p.in_c;
            for (var c4 = 0u; c4 < in_c4; c4++) {
                let k = k0 + c4 * 4u;
                var w: array<vec4<f32>, 16>; // 4 rows of k x TN4 columns
                for (var r = 0u; r < 4u; r++) {
                    for (var j = 0u; j < TN4; j++) {
                        w[r * TN4 + j] = weights[(k + r) * cols4 + col[j]];
                    }
                }
                for (var m = 0u; m < TM; m++) {
                    if base[m] < 0 {
                        continue;
                    }
                    let a = input[u32(base[m]) + c4];
                    for (var j = 0u; j < TN4; j++) {
                        var s = acc[m * TN4 + j];
                        s = fma(vec4(a.x), w[j], s);
                        s = fma(vec4(a.y), w[TN4 + j], s);
                        s = fma(vec4(a.z), w[2u * TN4 + j], s);
                        s = fma(vec4(a.w), w[3u * TN4 + j], s);
                        acc[m * TN4 + j] = s;
                    }
                }
            }
        }
    }

    for (var m = 0u; m < TM; m++) {
        let pixel = pixel0 + m;
        if pixel >= pixels {
            break;
        }
        let out_at = p.out_base + pixel * p.out_c + p.oc_offset;
        for (var j = 0u; j < TN4; j++) {
            let v = acc[m * TN4 + j];
            for (var r = 0u; r < 4u; r++) {
                let oc = (col0 + j) * 4u + r;
                if oc < p.chunk_c {
                    output[out_at + oc] = activate(v[r] + bias[p.oc_offset + oc], p.leaky_slope);
                }
            }
        }
    }
}
