// Winograd F(2x2, 3x3), step 2 of 3, with subgroups of at least 8: as
// gemm.wgsl, but each invocation computes WINOGRAD_SUBGROUP_TILES (8) tiles
// x 32 output channels of one position xi (two WeightTiles a step), as the
// subgroup implicit GEMM does: lane v loads the 4 weight rows of a step's
// column group v and subgroupBroadcast hands them to the others, so a step
// costs 8 transformed-input and 4 weight loads per lane for 256 vec4 FMAs.
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
    let at = work(workgroup, local, WINOGRAD_SUBGROUP_TILES, 2u * IGEMM_COLUMNS4);
    if at.xi >= 16u {
        return; // a workgroup of the folded grid past the end (uniform: per workgroup)
    }
    if subgroupAll(at.tile0 >= at.tiles) {
        return;
    }
    let a0 = v_row(at, 0u);
    let a1 = v_row(at, 1u);
    let a2 = v_row(at, 2u);
    let a3 = v_row(at, 3u);
    let a4 = v_row(at, 4u);
    let a5 = v_row(at, 5u);
    let a6 = v_row(at, 6u);
    let a7 = v_row(at, 7u);
    let w_base = at.xi * at.k4 * 4u * at.cout4;
    // This lane's column group of the 8 in a step.
    let col = p.col_offset4 + min(at.col0 + lane % 8u, at.cols4 - 1u);
    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    var acc4: mat4x4<f32>;
    var acc5: mat4x4<f32>;
    var acc6: mat4x4<f32>;
    var acc7: mat4x4<f32>;
    var acc_high0: mat4x4<f32>;
    var acc_high1: mat4x4<f32>;
    var acc_high2: mat4x4<f32>;
    var acc_high3: mat4x4<f32>;
    var acc_high4: mat4x4<f32>;
    var acc_high5: mat4x4<f32>;
    var acc_high6: mat4x4<f32>;
    var acc_high7: mat4x4<f32>;
    for (var c4 = 0u; c4 < at.k4; c4++) {
        let k = w_base + c4 * 4u * at.cout4 + col;
        let m0 = weight(k);
        let m1 = weight(k + at.cout4);
        let m2 = weight(k + 2u * at.cout4);
        let m3 = weight(k + 3u * at.cout4);
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
        let v4 = transformed[a4 + c4];
        let v5 = transformed[a5 + c4];
        let v6 = transformed[a6 + c4];
        let v7 = transformed[a7 + c4];
        acc0 += tile(v0, w);
        acc1 += tile(v1, w);
        acc2 += tile(v2, w);
        acc3 += tile(v3, w);
        acc4 += tile(v4, w);
        acc5 += tile(v5, w);
        acc6 += tile(v6, w);
        acc7 += tile(v7, w);
        acc_high0 += tile(v0, w_high);
        acc_high1 += tile(v1, w_high);
        acc_high2 += tile(v2, w_high);
        acc_high3 += tile(v3, w_high);
        acc_high4 += tile(v4, w_high);
        acc_high5 += tile(v5, w_high);
        acc_high6 += tile(v6, w_high);
        acc_high7 += tile(v7, w_high);
    }
    store(at, 0u, at.col0, acc0);
    store(at, 1u, at.col0, acc1);
    store(at, 2u, at.col0, acc2);
    store(at, 3u, at.col0, acc3);
    store(at, 4u, at.col0, acc4);
    store(at, 5u, at.col0, acc5);
    store(at, 6u, at.col0, acc6);
    store(at, 7u, at.col0, acc7);
    let high = at.col0 + IGEMM_COLUMNS4;
    store(at, 0u, high, acc_high0);
    store(at, 1u, high, acc_high1);
    store(at, 2u, high, acc_high2);
    store(at, 3u, high, acc_high3);
    store(at, 4u, high, acc_high4);
    store(at, 5u, high, acc_high5);
    store(at, 6u, high, acc_high6);
    store(at, 7u, high, acc_high7);
}
