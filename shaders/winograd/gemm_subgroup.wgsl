// Winograd F(2x2, 3x3), step 2 of 3, with subgroups of at least 8: as
// gemm.wgsl, but each invocation computes WINOGRAD_SUBGROUP_TILES (4) tiles
// x 32 output channels of one position xi (two WeightTiles a step), as the
// subgroup implicit GEMM does: lane v loads the 4 weight rows of a step's
// column group v and subgroupBroadcast hands them to the others, so a step
// costs 4 transformed-input and 4 weight loads per lane for 128 vec4 FMAs.
// `p.total` counts runs of WINOGRAD_SUBGROUP_TILES tiles per xi. Subgroup
// operations need uniform control flow: a subgroup leaves only all
// together, and every lane runs the loop (tiles past the end repeat the last
// tile and store nothing). Prepended with the element types, tile constants,
// params.wgsl, the weights' binding and winograd/products.wgsl.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let cin4 = (p.in_c + 3u) / 4u;
    let k4 = (p.in_c_per_group + 3u) / 4u;
    let cout4 = p.w_stride / 4u;
    let cols4 = (p.chunk_c + 3u) / 4u;
    let tiles = p.batch * ((p.out_h + 1u) / 2u) * ((p.out_w + 1u) / 2u);
    let col_tiles = (cols4 + 2u * IGEMM_COLUMNS4 - 1u) / (2u * IGEMM_COLUMNS4);
    let runs = (p.total + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let col0 = (group_index % col_tiles) * 2u * IGEMM_COLUMNS4;
    let rest = group_index / col_tiles;
    let xi = rest / runs;
    if xi >= 16u {
        return; // a workgroup of the folded grid past the end (uniform: per workgroup)
    }
    let tile0 = ((rest % runs) * WORKGROUP_SIZE + local) * WINOGRAD_SUBGROUP_TILES;
    if subgroupAll(tile0 >= tiles) {
        return;
    }
    let last = tiles - 1u;
    let a_base = xi * tiles * cin4 + p.in_c_offset / 4u;
    let a0 = a_base + min(tile0 + 0u, last) * cin4;
    let a1 = a_base + min(tile0 + 1u, last) * cin4;
    let a2 = a_base + min(tile0 + 2u, last) * cin4;
    let a3 = a_base + min(tile0 + 3u, last) * cin4;
    let w_base = xi * k4 * 4u * cout4;
    // This lane's column group of the 8 in a step.
    let col = p.col_offset4 + min(col0 + lane % 8u, cols4 - 1u);
    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    var acc_high0: mat4x4<f32>;
    var acc_high1: mat4x4<f32>;
    var acc_high2: mat4x4<f32>;
    var acc_high3: mat4x4<f32>;
    for (var c4 = 0u; c4 < k4; c4++) {
        let k = w_base + c4 * 4u * cout4 + col;
        let m0 = weight(k);
        let m1 = weight(k + cout4);
        let m2 = weight(k + 2u * cout4);
        let m3 = weight(k + 3u * cout4);
        let w = WeightTile(
            mat4x4<f32>(subgroupBroadcast(m0, 0u), subgroupBroadcast(m1, 0u), subgroupBroadcast(m2, 0u), subgroupBroadcast(m3, 0u)),
            mat4x4<f32>(subgroupBroadcast(m0, 1u), subgroupBroadcast(m1, 1u), subgroupBroadcast(m2, 1u), subgroupBroadcast(m3, 1u)),
            mat4x4<f32>(subgroupBroadcast(m0, 2u), subgroupBroadcast(m1, 2u), subgroupBroadcast(m2, 2u), subgroupBroadcast(m3, 2u)),
            mat4x4<f32>(subgroupBroadcast(m0, 3u), subgroupBroadcast(m1, 3u), subgroupBroadcast(m2, 3u), subgroupBroadcast(m3, 3u)),
        );
        let w_high = WeightTile(
            mat4x4<f32>(subgroupBroadcast(m0, 4u), subgroupBroadcast(m1, 4u), subgroupBroadcast(m2, 4u), subgroupBroadcast(m3, 4u)),
            mat4x4<f32>(subgroupBroadcast(m0, 5u), subgroupBroadcast(m1, 5u), subgroupBroadcast(m2, 5u), subgroupBroadcast(m3, 5u)),
            mat4x4<f32>(subgroupBroadcast(m0, 6u), subgroupBroadcast(m1, 6u), subgroupBroadcast(m2, 6u), subgroupBroadcast(m3, 6u)),
            mat4x4<f32>(subgroupBroadcast(m0, 7u), subgroupBroadcast(m1, 7u), subgroupBroadcast(m2, 7u), subgroupBroadcast(m3, 7u)),
        );
        let v0 = transformed[a0 + c4];
        let v1 = transformed[a1 + c4];
        let v2 = transformed[a2 + c4];
        let v3 = transformed[a3 + c4];
        acc0 += tile(v0, w);
        acc1 += tile(v1, w);
        acc2 += tile(v2, w);
        acc3 += tile(v3, w);
        acc_high0 += tile(v0, w_high);
        acc_high1 += tile(v1, w_high);
        acc_high2 += tile(v2, w_high);
        acc_high3 += tile(v3, w_high);
    }
    let out_base = xi * tiles * cout4;
    store(tile0 + 0u, tiles, out_base, cout4, col0, cols4, acc0);
    store(tile0 + 1u, tiles, out_base, cout4, col0, cols4, acc1);
    store(tile0 + 2u, tiles, out_base, cout4, col0, cols4, acc2);
    store(tile0 + 3u, tiles, out_base, cout4, col0, cols4, acc3);
    let high = col0 + IGEMM_COLUMNS4;
    store(tile0 + 0u, tiles, out_base, cout4, high, cols4, acc_high0);
    store(tile0 + 1u, tiles, out_base, cout4, high, cols4, acc_high1);
    store(tile0 + 2u, tiles, out_base, cout4, high, cols4, acc_high2);
    store(tile0 + 3u, tiles, out_base, cout4, high, cols4, acc_high3);
}
