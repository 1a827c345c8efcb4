// Direct 2-D convolution: one invocation per output element.
// Input NHWC, weights HWIO (kh, kw, cin / groups, chunk_c), bias (cout), output NHWC.
// Bias and activation are fused into the write. Padding arithmetic is signed.
//
// One dispatch computes one piece (see src/plan.rs): `batch` images of `out_h`
// output rows reading `in_h` input rows, bound from element `in_base` / `out_base`
// of their bindings, for output channels oc_offset .. oc_offset + chunk_c.

struct Params {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    k_h: u32,
    k_w: u32,
    stride_h: u32,
    stride_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    pad_top: i32,
    pad_left: i32,
    in_c_per_group: u32,
    out_c_per_group: u32,
    // Number of outputs; invocations past it return at once.
    total: u32,
    // Invocations per row of the folded 2-D dispatch grid.
    row_stride: u32,
    leaky_slope: f32,
    in_base: u32,
    out_base: u32,
    oc_offset: u32,
    chunk_c: u32,
}

// 0 linear, 1 relu, 2 relu6, 3 leaky relu, 4 sigmoid, 5 tanh, 6 silu.
override ACTIVATION: u32 = 0u;
override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// NaN in, NaN out, as on the CPU. Tested on the bits: GLSL compilers may fold
// `v != v` or turn comparisons into NaN-dropping min/max.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn activate(v: f32) -> f32 {
    return select(activate_finite(v), v, is_nan(v));
}

fn activate_finite(v: f32) -> f32 {
    switch ACTIVATION {
        case 1u: {
            return select(v, 0.0, v < 0.0);
        }
        case 2u: {
            return select(select(v, 6.0, v > 6.0), 0.0, v < 0.0);
        }
        case 3u: {
            return select(v, v * p.leaky_slope, v < 0.0);
        }
        case 4u: {
            return 1.0 / (1.0 + exp(-v));
        }
        case 5u: {
            // tanh(10) rounds to 1 in f32; some drivers' tanh overflows to NaN far out.
            return select(tanh(v), sign(v), abs(v) > 10.0);
        }
        case 6u: {
            return v / (1.0 + exp(-v));
        }
        default: {
            return v;
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let index = workgroup.y * p.row_stride + workgroup.x * WORKGROUP_SIZE + local;
    if index >= p.total {
        return;
    }
    let oc_local = index % p.chunk_c;
    var rest = index / p.chunk_c;
    let ox = rest % p.out_w;
    rest = rest / p.out_w;
    let oy = rest % p.out_h;
    let n = rest / p.out_h;
    let oc = p.oc_offset + oc_local;

    let first_in_c = (oc / p.out_c_per_group) * p.in_c_per_group;
    let weight_row = p.in_c_per_group * p.chunk_c;
    var acc = 0.0;
    for (var ky = 0u; ky < p.k_h; ky++) {
        let iy = i32(oy * p.stride_h + ky * p.dilation_h) - p.pad_top;
        if iy < 0 || iy >= i32(p.in_h) {
            continue;
        }
        for (var kx = 0u; kx < p.k_w; kx++) {
            let ix = i32(ox * p.stride_w + kx * p.dilation_w) - p.pad_left;
            if ix < 0 || ix >= i32(p.in_w) {
                continue;
            }
            let x_at = p.in_base + ((n * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.in_c + first_in_c;
            let w_at = (ky * p.k_w + kx) * weight_row + oc_local;
            for (var ci = 0u; ci < p.in_c_per_group; ci++) {
                acc += input[x_at + ci] * weights[w_at + ci * p.chunk_c];
            }
        }
    }
    let y_at = p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c + oc;
    output[y_at] = activate(acc + bias[oc]);
}
