// Winograd F(2x2, 3x3), step 1 of 3: the input transform V = B^T d B of every
// 4 x 4 input tile d (the tile of a 2 x 2 block of outputs, zeros outside the
// image), 4 channels per invocation. Writes V as 16 matrices, one per
// position xi = 4 i + j of the transformed tile, each [tiles][cin4] vec4
// (padded channels zero), in f32 whatever the storage type, for the batched
// product (gemm.wgsl). B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Its
// entries are 0 and +-1: input outside an output's 3 x 3 window never reaches
// that output, so errors stay those of the output's own products.
// `p.total` counts (tile, channel vec4) pairs. Prepended with the element
// types, tile constants, params.wgsl and the input binding with its
// `load_channels4` (vec4 or scalar, see src/conv/kernels.rs).

@group(0) @binding(3) var<storage, read_write> transformed: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

// The 4 channels from c4 at input row iy, column ix of image n; zero outside.
fn pixel(n: u32, iy: i32, ix: i32, c4: u32) -> vec4<f32> {
    let inside = iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w);
    let y = u32(clamp(iy, 0, i32(p.in_h) - 1));
    let x = u32(clamp(ix, 0, i32(p.in_w) - 1));
    let v = load_channels4((n * p.in_h + y) * p.in_w + x, c4);
    return select(vec4<f32>(0.0), v, inside);
}

// B^T applied to 4 values along one axis (each a vec4 of channels).
fn bt(d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(d0 - d2, d1 + d2, d2 - d1, d1 - d3);
}

// One input row of the tile, transformed along x.
fn row(n: u32, iy: i32, ix: i32, c4: u32) -> mat4x4<f32> {
    return bt(pixel(n, iy, ix, c4), pixel(n, iy, ix + 1, c4), pixel(n, iy, ix + 2, c4), pixel(n, iy, ix + 3, c4));
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
    let cin4 = (p.in_c + 3u) / 4u;
    let tiles_w = (p.out_w + 1u) / 2u;
    let tiles_h = (p.out_h + 1u) / 2u;
    let tiles = p.batch * tiles_h * tiles_w;
    let c4 = index % cin4;
    let tile = index / cin4;
    let n = tile / (tiles_h * tiles_w);
    let ty = (tile / tiles_w) % tiles_h;
    let tx = tile % tiles_w;
    let iy = i32(ty * 2u) - p.pad_top;
    let ix = i32(tx * 2u) - p.pad_left;
    // Rows transformed along x, then combined along y by B^T.
    let v = bt4(row(n, iy, ix, c4), row(n, iy + 1, ix, c4), row(n, iy + 2, ix, c4), row(n, iy + 3, ix, c4));
    let stride = tiles * cin4;
    let at = tile * cin4 + c4;
    // Written out: a private array indexed in a loop would live in memory.
    transformed[0u * stride + at] = v[0][0];
    transformed[1u * stride + at] = v[0][1];
    transformed[2u * stride + at] = v[0][2];
    transformed[3u * stride + at] = v[0][3];
    transformed[4u * stride + at] = v[1][0];
    transformed[5u * stride + at] = v[1][1];
    transformed[6u * stride + at] = v[1][2];
    transformed[7u * stride + at] = v[1][3];
    transformed[8u * stride + at] = v[2][0];
    transformed[9u * stride + at] = v[2][1];
    transformed[10u * stride + at] = v[2][2];
    transformed[11u * stride + at] = v[2][3];
    transformed[12u * stride + at] = v[3][0];
    transformed[13u * stride + at] = v[3][1];
    transformed[14u * stride + at] = v[3][2];
    transformed[15u * stride + at] = v[3][3];
}

// B^T along y: rows r0..r3 (each 4 positions along x) to the 16 positions.
fn bt4(r0: mat4x4<f32>, r1: mat4x4<f32>, r2: mat4x4<f32>, r3: mat4x4<f32>) -> array<mat4x4<f32>, 4> {
    return array<mat4x4<f32>, 4>(r0 - r2, r1 + r2, r2 - r1, r1 - r3);
}
