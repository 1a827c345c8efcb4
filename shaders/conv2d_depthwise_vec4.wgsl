// Depthwise convolution (groups == cin == cout, cin % 4 == 0). Each invocation
// computes TX neighbouring output pixels of one row for 4 channels (a vec4).
// Per kernel row it loads the input segment those outputs read once, into
// registers, and reuses it across the kernel's columns and the TX outputs;
// segments longer than SEG (large strides or dilations) read per tap instead.
// Taps in the padding are skipped, as in the CPU reference.
// Weights: rows (ky * kw + kx) of w_stride floats.
// Prepended with common.wgsl (Params, activate).

@group(0) @binding(0) var<storage, read> input: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const TX: u32 = 8u;
const SEG: u32 = 40u;
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
    let chunk4 = p.w_stride / 4u;
    let in_c4 = p.in_c / 4u;
    let x_tiles = (p.out_w + TX - 1u) / TX;
    let c4 = tile % chunk4;
    var rest = tile / chunk4;
    let ox0 = (rest % x_tiles) * TX;
    rest = rest / x_tiles;
    let oy = rest % p.out_h;
    let n = rest / p.out_h;
    // Input channels of this chunk start at its first output channel.
    let in_c4_at = p.oc_offset / 4u + c4;
    let first_ix = i32(ox0 * p.stride_w) - p.pad_left;
    let span = (TX - 1u) * p.stride_w + (p.k_w - 1u) * p.dilation_w + 1u;

    var acc: array<vec4<f32>, TX>;
    for (var ky = 0u; ky < p.k_h; ky++) {
        let iy = i32(oy * p.stride_h + ky * p.dilation_h) - p.pad_top;
        if iy < 0 || iy >= i32(p.in_h) {
            continue;
        }
        let row = p.in_base / 4u + (n * p.in_h + u32(iy)) * p.in_w * in_c4 + in_c4_at;
        if span <= SEG {
            var segment: array<vec4<f32>, SEG>;
            var inside: array<bool, SEG>;
            for (var i = 0u; i < span; i++) {
                let ix = first_ix + i32(i);
                inside[i] = ix >= 0 && ix < i32(p.in_w);
                if inside[i] {
                    segment[i] = input[row + u32(ix) * in_c4];
                }
            }
            for (var kx = 0u; kx < p.k_w; kx++) {
                let w = weights[(ky * p.k_w + kx) * chunk4 + c4];
                for (var t = 0u; t < TX; t++) {
                    let i = t * p.stride_w + kx * p.dilation_w;
                    if inside[i] {
                        acc[t] = fma(segment[i], w, acc[t]);
                    }
                }
            }
        } else {
            for (var kx = 0u; kx < p.k_w; kx++) {
                let w = weights[(ky * p.k_w + kx) * chunk4 + c4];
                for (var t = 0u; t < TX; t++) {
                    let ix = first_ix + i32(t * p.stride_w + kx * p.dilation_w);
                    if ix >= 0 && ix < i32(p.in_w) {
                        acc[t] = fma(input[row + u32(ix) * in_c4], w, acc[t]);
                    }
                }
            }
        }
    }

    let oc0 = p.oc_offset + c4 * 4u;
    for (var t = 0u; t < TX; t++) {
        let ox = ox0 + t;
        if ox >= p.out_w {
            break;
        }
        let out_at = p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c + oc0;
        for (var r = 0u; r < 4u; r++) {
            output[out_at + r] = activate(acc[t][r] + bias[oc0 + r], p.leaky_slope);
        }
    }
}
