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

// Column groups col0.. of tile at.tile0 + t's row of M, those below cols4
// (a tile past the end stores nothing).
fn store(at: Work, t: u32, col0: u32, acc: mat4x4<f32>) {
    let tile = at.tile0 + t;
    if tile >= at.tiles {
        return;
    }
    let row = (at.xi * at.tiles + tile) * at.cout4 + p.col_offset4;
    for (var j = 0u; j < IGEMM_COLUMNS4; j++) {
        if col0 + j < at.cols4 {
            products[row + col0 + j] = acc[j];
        }
    }
}


// Where one invocation of a products kernel works, each taking `tiles_each`
// tiles x `columns4` column groups of one position xi (xi >= 16: a
// workgroup of the folded grid past the end, uniform per workgroup). V rows
// hold all cin4 channel vec4, of which this dispatch's group reads k4 from
// in_c_offset; U's and M's rows are cout4 wide, of which it computes cols4
// from col_offset4 (grouped layers: one dispatch per group).
struct Work {
    cin4: u32,
    k4: u32,
    cout4: u32,
    cols4: u32,
    tiles: u32,
    xi: u32,
    tile0: u32,
    col0: u32,
}

fn work(workgroup: vec3<u32>, local: u32, tiles_each: u32, columns4: u32) -> Work {
    let cols4 = (p.chunk_c + 3u) / 4u;
    let col_tiles = (cols4 + columns4 - 1u) / columns4;
    let runs = (p.total + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let rest = group_index / col_tiles;
    return Work(
        (p.in_c + 3u) / 4u,
        (p.in_c_per_group + 3u) / 4u,
        p.w_stride / 4u,
        cols4,
        p.batch * ((p.out_h + 1u) / 2u) * ((p.out_w + 1u) / 2u),
        rest / runs,
        ((rest % runs) * WORKGROUP_SIZE + local) * tiles_each,
        (group_index % col_tiles) * columns4,
    );
}

// Where V's row of the invocation's tile `t` starts (tiles past the end
// repeat the last one).
fn v_row(at: Work, t: u32) -> u32 {
    let tile = min(at.tile0 + t, at.tiles - 1u);
    return (at.xi * at.tiles + tile) * at.cin4 + p.in_c_offset / 4u;
}
