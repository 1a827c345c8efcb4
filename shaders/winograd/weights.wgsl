// Winograd F(2x2, 3x3), once per layer: the weight transform U = G g G^T of
// every (input channel, 4 output channels), from the layer's packed HWIO
// weights (3, 3, cin, w_stride) to 16 matrices (position xi = 4 i + j), each
// cin padded to 4 rows of w_stride columns, in f32 (the padding rows stay as
// the zeroed buffer has them). G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// `p.total` counts (cin, column vec4) pairs. Prepended with the element
// types, tile constants and params.wgsl.

@group(0) @binding(0) var<storage, read> packed: array<elem4>;
@group(0) @binding(3) var<storage, read_write> transformed: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

// G applied to 3 values along one axis: the 4 positions.
fn g4(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(a, 0.5 * (a + b + c), 0.5 * (a - b + c), c);
}

fn tap(ky: u32, kx: u32, ci: u32, col: u32) -> vec4<f32> {
    return vec4<f32>(packed[((ky * 3u + kx) * p.in_c + ci) * (p.w_stride / 4u) + col]);
}

// One kernel row, transformed along x.
fn row(ky: u32, ci: u32, col: u32) -> mat4x4<f32> {
    return g4(tap(ky, 0u, ci, col), tap(ky, 1u, ci, col), tap(ky, 2u, ci, col));
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
    let cols4 = p.w_stride / 4u;
    let col = index % cols4;
    let ci = index / cols4;
    let r0 = row(0u, ci, col);
    let r1 = row(1u, ci, col);
    let r2 = row(2u, ci, col);
    // Along y: positions i = 0..4 from the 3 rows, each 4 positions along x.
    let u0 = r0;
    let u1 = 0.5 * (r0 + r1 + r2);
    let u2 = 0.5 * (r0 - r1 + r2);
    let u3 = r2;
    let stride = ((p.in_c + 3u) / 4u) * 4u * cols4;
    let at = ci * cols4 + col;
    transformed[0u * stride + at] = u0[0];
    transformed[1u * stride + at] = u0[1];
    transformed[2u * stride + at] = u0[2];
    transformed[3u * stride + at] = u0[3];
    transformed[4u * stride + at] = u1[0];
    transformed[5u * stride + at] = u1[1];
    transformed[6u * stride + at] = u1[2];
    transformed[7u * stride + at] = u1[3];
    transformed[8u * stride + at] = u2[0];
    transformed[9u * stride + at] = u2[1];
    transformed[10u * stride + at] = u2[2];
    transformed[11u * stride + at] = u2[3];
    transformed[12u * stride + at] = u3[0];
    transformed[13u * stride + at] = u3[1];
    transformed[14u * stride + at] = u3[2];
    transformed[15u * stride + at] = u3[3];
}
