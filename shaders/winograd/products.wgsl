// Winograd F(2x2, 3x3), step 2 of 3: the bindings and helpers of the
// products kernels (gemm.wgsl, gemm_subgroup.wgsl), prepended to each.

@group(0) @binding(0) var<storage, read> transformed: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> products: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

const_assert IGEMM_COLUMNS4 == 4u; // one mat4x4 of accumulators per tile

// The 4 x 4 weight blocks of rows k..k+4 for the 4 column groups of a step.
struct WeightTile {
    w0: mat4x4<f32>,
    w1: mat4x4<f32>,
    w2: mat4x4<f32>,
    w3: mat4x4<f32>,
}

fn tile(a: vec4<f32>, w: WeightTile) -> mat4x4<f32> {
    return mat4x4<f32>(w.w0 * a, w.w1 * a, w.w2 * a, w.w3 * a);
}

// Column groups col0.. of `tile`'s row (cout4 wide) of M, those below cols4.
fn store(tile: u32, tiles: u32, base: u32, cout4: u32, col0: u32, cols4: u32, acc: mat4x4<f32>) {
    if tile >= tiles {
        return;
    }
    let at = base + tile * cout4 + p.col_offset4;
    for (var j = 0u; j < IGEMM_COLUMNS4; j++) {
        if col0 + j < cols4 {
            products[at + col0 + j] = acc[j];
        }
    }
}

