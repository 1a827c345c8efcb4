// Winograd F(2x2, 3x3), step 2 of 3: the 16 batched products
// M[xi] = V[xi] x U[xi], [tiles][cin] x [cin][cout] for each position xi of
// the transformed tile, where U = G g G^T are the weights transformed once
// on the host (src/conv/winograd.rs). Each invocation computes
// WINOGRAD_TILES tiles x 16 output channels of one xi, register-tiled as the
// implicit GEMMs are (one mat4x4 of accumulators per tile), with no
// bounds checks in the loop: tiles past the end repeat the last and store
// nothing, and an invocation whose tiles are all past the end leaves at once.
// V, U and M are f32 whatever the storage type. `p.total` counts runs of
// WINOGRAD_TILES tiles per xi. Devices with subgroups run gemm_subgroup.wgsl.
// Prepended with the element types, tile constants, params.wgsl, the
// weights' binding (a storage buffer or a texture, read through `weight`)
// and products.wgsl.

// The 16 weight vec4 of a step: rows k..k+4 of column groups col0..col0+4.
fn weight_tile(k: u32, cout4: u32, col0: u32, cols4: u32) -> WeightTile {
    let c0 = p.col_offset4 + min(col0, cols4 - 1u);
    let c1 = p.col_offset4 + min(col0 + 1u, cols4 - 1u);
    let c2 = p.col_offset4 + min(col0 + 2u, cols4 - 1u);
    let c3 = p.col_offset4 + min(col0 + 3u, cols4 - 1u);
    let r1 = k + cout4;
    let r2 = k + 2u * cout4;
    let r3 = k + 3u * cout4;
    return WeightTile(
        mat4x4<f32>(weight(k + c0), weight(r1 + c0), weight(r2 + c0), weight(r3 + c0)),
        mat4x4<f32>(weight(k + c1), weight(r1 + c1), weight(r2 + c1), weight(r3 + c1)),
        mat4x4<f32>(weight(k + c2), weight(r1 + c2), weight(r2 + c2), weight(r3 + c2)),
        mat4x4<f32>(weight(k + c3), weight(r1 + c3), weight(r2 + c3), weight(r3 + c3)),
    );
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let at = work(workgroup, local, WINOGRAD_TILES, IGEMM_COLUMNS4);
    if at.xi >= 16u || at.tile0 >= at.tiles {
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
    let a8 = v_row(at, 8u);
    let a9 = v_row(at, 9u);
    let a10 = v_row(at, 10u);
    let a11 = v_row(at, 11u);
    let a12 = v_row(at, 12u);
    let a13 = v_row(at, 13u);
    let a14 = v_row(at, 14u);
    let a15 = v_row(at, 15u);
    // Weight rows of this xi: k4 * 4 rows of cout4 vec4.
    let w_base = at.xi * at.k4 * 4u * at.cout4;
    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    var acc4: mat4x4<f32>;
    var acc5: mat4x4<f32>;
    var acc6: mat4x4<f32>;
    var acc7: mat4x4<f32>;
    var acc8: mat4x4<f32>;
    var acc9: mat4x4<f32>;
    var acc10: mat4x4<f32>;
    var acc11: mat4x4<f32>;
    var acc12: mat4x4<f32>;
    var acc13: mat4x4<f32>;
    var acc14: mat4x4<f32>;
    var acc15: mat4x4<f32>;
    for (var c4 = 0u; c4 < at.k4; c4++) {
        let w = weight_tile(w_base + c4 * 4u * at.cout4, at.cout4, at.col0, at.cols4);
        acc0 += tile(transformed[a0 + c4], w);
        acc1 += tile(transformed[a1 + c4], w);
        acc2 += tile(transformed[a2 + c4], w);
        acc3 += tile(transformed[a3 + c4], w);
        acc4 += tile(transformed[a4 + c4], w);
        acc5 += tile(transformed[a5 + c4], w);
        acc6 += tile(transformed[a6 + c4], w);
        acc7 += tile(transformed[a7 + c4], w);
        acc8 += tile(transformed[a8 + c4], w);
        acc9 += tile(transformed[a9 + c4], w);
        acc10 += tile(transformed[a10 + c4], w);
        acc11 += tile(transformed[a11 + c4], w);
        acc12 += tile(transformed[a12 + c4], w);
        acc13 += tile(transformed[a13 + c4], w);
        acc14 += tile(transformed[a14 + c4], w);
        acc15 += tile(transformed[a15 + c4], w);
    }
    store(at, 0u, at.col0, acc0);
    store(at, 1u, at.col0, acc1);
    store(at, 2u, at.col0, acc2);
    store(at, 3u, at.col0, acc3);
    store(at, 4u, at.col0, acc4);
    store(at, 5u, at.col0, acc5);
    store(at, 6u, at.col0, acc6);
    store(at, 7u, at.col0, acc7);
    store(at, 8u, at.col0, acc8);
    store(at, 9u, at.col0, acc9);
    store(at, 10u, at.col0, acc10);
    store(at, 11u, at.col0, acc11);
    store(at, 12u, at.col0, acc12);
    store(at, 13u, at.col0, acc13);
    store(at, 14u, at.col0, acc14);
    store(at, 15u, at.col0, acc15);
}
