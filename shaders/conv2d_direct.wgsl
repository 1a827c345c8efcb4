// Direct 2-D convolution: one invocation per output element.
// Input NHWC, weights HWIO (kh, kw, cin / groups, chunk_c), bias (cout), output NHWC.
// Bias and activation are fused into the write. Padding arithmetic is signed.
//
// One dispatch computes one piece (see src/conv/plan.rs): `batch` images of `out_h`
// output rows reading `in_h` input rows, bound from element `in_base` / `out_base`
// of their bindings, for output channels oc_offset .. oc_offset + chunk_c.
// Weights rows are w_stride wide (chunk_c rounded up to a multiple of 4).
// Storage is elem (f32 or f16); products and sums are f32.
// Prepended with the element types, tile constants and common.wgsl (Params, activate).

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<storage, read> input: array<elem>;
@group(0) @binding(1) var<storage, read> weights: array<elem>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

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
    let weight_row = p.in_c_per_group * p.w_stride;
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
                acc += f32(input[x_at + ci]) * f32(weights[w_at + ci * p.w_stride]);
            }
        }
    }
    let y_at = p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c + oc;
    output[y_at] = elem(activate(acc + f32(bias[oc]), p.leaky_slope));
}
