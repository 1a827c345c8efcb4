// Depthwise 3x3, stride 1, no dilation, on devices whose subgroups are
// exactly DEPTHWISE_LANES (8) invocations (lavapipe): the lanes of a subgroup
// take 8 neighbouring input columns and each loads only its own column of
// each input row; the columns beside it come from the lanes beside it
// (subgroupShuffleUp / Down), so the 3 taps of a kernel row cost one load.
// Lanes 1..6 compute the outputs of their columns (lanes 0 and 7 only feed
// them), DEPTHWISE_ROWS (8) output rows each, for 4 channels: 10 input rows
// loaded for 72 vec4 FMAs (the row kernel loads 30). The channel group comes
// from the workgroup id, the strip of columns from the subgroup. Subgroup
// operations need uniform control flow: no early return, loads clamped,
// strips past the end store nothing. Taps in the padding are skipped (not
// multiplied by zero), as in the CPU reference. `p.total` counts strips
// (DEPTHWISE_LANES - 2 columns x DEPTHWISE_ROWS rows of one image).
// Storage is elem (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants and common.wgsl (Params,
// activate, mac, inside_row, bias4, store4).

@group(0) @binding(0) var<storage, read> input: array<elem4>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

const_assert DEPTHWISE_LANES == 8u; // lanes 1..6 compute, 0 and 7 feed them
const_assert DEPTHWISE_ROWS == 16u; // the unroll below is written for 16 rows

// One input row at this lane's column and the columns beside it (from the
// neighbouring lanes), with whether each is inside the image.
struct Taps {
    left: vec4<f32>,
    centre: vec4<f32>,
    right: vec4<f32>,
    inside: vec3<bool>,
}

fn taps(n: u32, iy: i32, ix: i32, in_c4: u32, c4: u32) -> Taps {
    let row_inside = iy >= 0 && iy < i32(p.in_h);
    let y = u32(clamp(iy, 0, i32(p.in_h) - 1));
    let x = u32(clamp(ix, 0, i32(p.in_w) - 1));
    let centre = vec4<f32>(input[p.in_base / 4u + ((n * p.in_h + y) * p.in_w + x) * in_c4 + c4]);
    let left = subgroupShuffleUp(centre, 1u);
    let right = subgroupShuffleDown(centre, 1u);
    let inside = vec3<bool>(
        row_inside && inside_row(ix - 1),
        row_inside && inside_row(ix),
        row_inside && inside_row(ix + 1),
    );
    return Taps(left, centre, right, inside);
}

// acc plus one kernel row (weights w0, w1, w2 for the left, centre and right taps).
fn row_mac(acc: vec4<f32>, t: Taps, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) -> vec4<f32> {
    return mac(mac(mac(acc, t.left, w0, t.inside.x), t.centre, w1, t.inside.y), t.right, w2, t.inside.z);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let chunk4 = p.w_stride / 4u;
    let group_index = workgroup.y * (p.row_stride / WORKGROUP_SIZE) + workgroup.x;
    let c4 = group_index % chunk4;
    let strip = (group_index / chunk4) * (WORKGROUP_SIZE / DEPTHWISE_LANES) + local / DEPTHWISE_LANES;
    let in_c4 = p.in_c / 4u;
    let strips_w = (p.out_w + DEPTHWISE_LANES - 3u) / (DEPTHWISE_LANES - 2u);
    let strips_h = (p.out_h + DEPTHWISE_ROWS - 1u) / DEPTHWISE_ROWS;
    // Strips past the end repeat the last one and store nothing.
    let s = min(strip, p.total - 1u);
    let sx = s % strips_w;
    let sy = (s / strips_w) % strips_h;
    let n = s / (strips_w * strips_h);
    // This lane's column: ox - 1 + 1 for lanes 1..6 (output column ox).
    let ox = sx * (DEPTHWISE_LANES - 2u) + lane - 1u;
    let ix = i32(ox) - p.pad_left + 1;
    let oy0 = sy * DEPTHWISE_ROWS;
    let iy0 = i32(oy0) - p.pad_top;
    let ch = p.oc_offset / 4u + c4;
    let w_at = c4;
    let w00 = vec4<f32>(weights[w_at]);
    let w01 = vec4<f32>(weights[w_at + chunk4]);
    let w02 = vec4<f32>(weights[w_at + 2u * chunk4]);
    let w10 = vec4<f32>(weights[w_at + 3u * chunk4]);
    let w11 = vec4<f32>(weights[w_at + 4u * chunk4]);
    let w12 = vec4<f32>(weights[w_at + 5u * chunk4]);
    let w20 = vec4<f32>(weights[w_at + 6u * chunk4]);
    let w21 = vec4<f32>(weights[w_at + 7u * chunk4]);
    let w22 = vec4<f32>(weights[w_at + 8u * chunk4]);
    var acc0: vec4<f32>;
    var acc1: vec4<f32>;
    var acc2: vec4<f32>;
    var acc3: vec4<f32>;
    var acc4: vec4<f32>;
    var acc5: vec4<f32>;
    var acc6: vec4<f32>;
    var acc7: vec4<f32>;
    var acc8: vec4<f32>;
    var acc9: vec4<f32>;
    var acc10: vec4<f32>;
    var acc11: vec4<f32>;
    var acc12: vec4<f32>;
    var acc13: vec4<f32>;
    var acc14: vec4<f32>;
    var acc15: vec4<f32>;
    let t0 = taps(n, iy0 + 0, ix, in_c4, ch);
    acc0 = row_mac(acc0, t0, w00, w01, w02);
    let t1 = taps(n, iy0 + 1, ix, in_c4, ch);
    acc0 = row_mac(acc0, t1, w10, w11, w12);
    acc1 = row_mac(acc1, t1, w00, w01, w02);
    let t2 = taps(n, iy0 + 2, ix, in_c4, ch);
    acc0 = row_mac(acc0, t2, w20, w21, w22);
    acc1 = row_mac(acc1, t2, w10, w11, w12);
    acc2 = row_mac(acc2, t2, w00, w01, w02);
    let t3 = taps(n, iy0 + 3, ix, in_c4, ch);
    acc1 = row_mac(acc1, t3, w20, w21, w22);
    acc2 = row_mac(acc2, t3, w10, w11, w12);
    acc3 = row_mac(acc3, t3, w00, w01, w02);
    let t4 = taps(n, iy0 + 4, ix, in_c4, ch);
    acc2 = row_mac(acc2, t4, w20, w21, w22);
    acc3 = row_mac(acc3, t4, w10, w11, w12);
    acc4 = row_mac(acc4, t4, w00, w01, w02);
    let t5 = taps(n, iy0 + 5, ix, in_c4, ch);
    acc3 = row_mac(acc3, t5, w20, w21, w22);
    acc4 = row_mac(acc4, t5, w10, w11, w12);
    acc5 = row_mac(acc5, t5, w00, w01, w02);
    let t6 = taps(n, iy0 + 6, ix, in_c4, ch);
    acc4 = row_mac(acc4, t6, w20, w21, w22);
    acc5 = row_mac(acc5, t6, w10, w11, w12);
    acc6 = row_mac(acc6, t6, w00, w01, w02);
    let t7 = taps(n, iy0 + 7, ix, in_c4, ch);
    acc5 = row_mac(acc5, t7, w20, w21, w22);
    acc6 = row_mac(acc6, t7, w10, w11, w12);
    acc7 = row_mac(acc7, t7, w00, w01, w02);
    let t8 = taps(n, iy0 + 8, ix, in_c4, ch);
    acc6 = row_mac(acc6, t8, w20, w21, w22);
    acc7 = row_mac(acc7, t8, w10, w11, w12);
    acc8 = row_mac(acc8, t8, w00, w01, w02);
    let t9 = taps(n, iy0 + 9, ix, in_c4, ch);
    acc7 = row_mac(acc7, t9, w20, w21, w22);
    acc8 = row_mac(acc8, t9, w10, w11, w12);
    acc9 = row_mac(acc9, t9, w00, w01, w02);
    let t10 = taps(n, iy0 + 10, ix, in_c4, ch);
    acc8 = row_mac(acc8, t10, w20, w21, w22);
    acc9 = row_mac(acc9, t10, w10, w11, w12);
    acc10 = row_mac(acc10, t10, w00, w01, w02);
    let t11 = taps(n, iy0 + 11, ix, in_c4, ch);
    acc9 = row_mac(acc9, t11, w20, w21, w22);
    acc10 = row_mac(acc10, t11, w10, w11, w12);
    acc11 = row_mac(acc11, t11, w00, w01, w02);
    let t12 = taps(n, iy0 + 12, ix, in_c4, ch);
    acc10 = row_mac(acc10, t12, w20, w21, w22);
    acc11 = row_mac(acc11, t12, w10, w11, w12);
    acc12 = row_mac(acc12, t12, w00, w01, w02);
    let t13 = taps(n, iy0 + 13, ix, in_c4, ch);
    acc11 = row_mac(acc11, t13, w20, w21, w22);
    acc12 = row_mac(acc12, t13, w10, w11, w12);
    acc13 = row_mac(acc13, t13, w00, w01, w02);
    let t14 = taps(n, iy0 + 14, ix, in_c4, ch);
    acc12 = row_mac(acc12, t14, w20, w21, w22);
    acc13 = row_mac(acc13, t14, w10, w11, w12);
    acc14 = row_mac(acc14, t14, w00, w01, w02);
    let t15 = taps(n, iy0 + 15, ix, in_c4, ch);
    acc13 = row_mac(acc13, t15, w20, w21, w22);
    acc14 = row_mac(acc14, t15, w10, w11, w12);
    acc15 = row_mac(acc15, t15, w00, w01, w02);
    let t16 = taps(n, iy0 + 16, ix, in_c4, ch);
    acc14 = row_mac(acc14, t16, w20, w21, w22);
    acc15 = row_mac(acc15, t16, w10, w11, w12);
    let t17 = taps(n, iy0 + 17, ix, in_c4, ch);
    acc15 = row_mac(acc15, t17, w20, w21, w22);
    if strip >= p.total || lane == 0u || lane == DEPTHWISE_LANES - 1u {
        return;
    }
    let oc0 = p.oc_offset + c4 * 4u;
    let biases = bias4(oc0);
    store4(n, oy0 + 0u, ox, oc0, acc0 + biases);
    store4(n, oy0 + 1u, ox, oc0, acc1 + biases);
    store4(n, oy0 + 2u, ox, oc0, acc2 + biases);
    store4(n, oy0 + 3u, ox, oc0, acc3 + biases);
    store4(n, oy0 + 4u, ox, oc0, acc4 + biases);
    store4(n, oy0 + 5u, ox, oc0, acc5 + biases);
    store4(n, oy0 + 6u, ox, oc0, acc6 + biases);
    store4(n, oy0 + 7u, ox, oc0, acc7 + biases);
    store4(n, oy0 + 8u, ox, oc0, acc8 + biases);
    store4(n, oy0 + 9u, ox, oc0, acc9 + biases);
    store4(n, oy0 + 10u, ox, oc0, acc10 + biases);
    store4(n, oy0 + 11u, ox, oc0, acc11 + biases);
    store4(n, oy0 + 12u, ox, oc0, acc12 + biases);
    store4(n, oy0 + 13u, ox, oc0, acc13 + biases);
    store4(n, oy0 + 14u, ox, oc0, acc14 + biases);
    store4(n, oy0 + 15u, ox, oc0, acc15 + biases);
}
