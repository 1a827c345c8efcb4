// Depthwise 3x3, stride 1, no dilation, on devices whose subgroups are
// exactly DEPTHWISE_LANES (8) invocations (lavapipe). A subgroup takes a
// strip 16 input columns wide, two neighbouring columns per lane; each lane
// loads only its own two columns of each input row, and the column left of
// its first and right of its second come from the lanes beside it
// (subgroupShuffleUp / Down), so the 4 columns its two outputs need cost two
// loads. Lane 0's first column and lane 7's second only feed their
// neighbours: 14 of the 16 columns are outputs. The strip walks down its
// rows with rolling accumulators (three output rows in flight per column),
// storing each output row as its last input row arrives: up to
// DEPTHWISE_STRIP_ROWS (28) rows, evened out so that the strips of an image
// are equally tall. 4 channels (a vec4) per lane; the channel group comes
// from the workgroup id, the strip from the workgroup's one subgroup
// (WORKGROUP_SIZE is DEPTHWISE_LANES, so no subgroup of a workgroup idles).
// Subgroup operations need uniform control flow: no early return, loads
// clamped, strips past the end store nothing. Taps in the padding are
// skipped (not multiplied by zero), as in the CPU reference. `p.total`
// counts strips (14 columns x up to DEPTHWISE_STRIP_ROWS rows of one image).
// On B6, alternated with the previous kernel (a column per lane, 16 rows
// unrolled, 8 subgroups a workgroup) in one process: 0.65-0.68x the time.
// Storage is elem (f32 or f16), widened to f32 as it is loaded.
// Prepended with the element types, tile constants, common.wgsl (Params,
// activate, mac, inside_row, bias4, store4) and depthwise_3x3.wgsl
// (kernel_row, taps3, strips_down, input_row_inside, row_start).

@group(0) @binding(0) var<storage, read> input: array<elem4>;
@group(0) @binding(1) var<storage, read> weights: array<elem4>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 8u;

const_assert DEPTHWISE_LANES == 8u; // lane 0's first and lane 7's second column feed the others

// One input row at this lane's two columns (a, b) and the columns beside
// them (left of a, right of b, from the neighbouring lanes), with whether
// each of the four is inside the image.
struct Taps {
    left: vec4<f32>,
    a: vec4<f32>,
    b: vec4<f32>,
    right: vec4<f32>,
    inside: vec4<bool>,
}

fn taps(row_at: u32, iy: i32, xa: u32, xb: u32, inside_x: vec4<bool>, in_c4: u32) -> Taps {
    let row_inside = input_row_inside(iy);
    let a = vec4<f32>(input[row_at + xa * in_c4]);
    let b = vec4<f32>(input[row_at + xb * in_c4]);
    let left = subgroupShuffleUp(b, 1u);
    let right = subgroupShuffleDown(a, 1u);
    return Taps(left, a, b, right, inside_x & vec4<bool>(row_inside));
}

// acc plus one kernel row `w` (from `kernel_row`) for the lane's first
// column; `mac_second` for its second.
fn mac_first(acc: vec4<f32>, t: Taps, w: mat3x4<f32>) -> vec4<f32> {
    return taps3(acc, t.left, t.a, t.b, t.inside.x, t.inside.y, t.inside.z, w);
}

fn mac_second(acc: vec4<f32>, t: Taps, w: mat3x4<f32>) -> vec4<f32> {
    return taps3(acc, t.a, t.b, t.right, t.inside.y, t.inside.z, t.inside.w, w);
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
    let columns = 2u * DEPTHWISE_LANES - 2u;
    let strips_w = (p.out_w + columns - 1u) / columns;
    let down = strips_down();
    let strips_h = down.x;
    let rows = down.y;
    // Strips past the end repeat the last one and store nothing.
    let s = min(strip, p.total - 1u);
    let sx = s % strips_w;
    let sy = (s / strips_w) % strips_h;
    let n = s / (strips_w * strips_h);
    // This lane's output columns oa and oa + 1, centred on input columns
    // ixa and ixa + 1 (lane 0's first and lane 7's second only feed their
    // neighbours).
    let oa = i32(sx * columns + 2u * lane) - 1;
    let ixa = oa - p.pad_left + 1;
    let inside_x = vec4<bool>(inside_row(ixa - 1), inside_row(ixa), inside_row(ixa + 1), inside_row(ixa + 2));
    let xa = u32(clamp(ixa, 0, i32(p.in_w) - 1));
    let xb = u32(clamp(ixa + 1, 0, i32(p.in_w) - 1));
    let oy0 = sy * rows;
    let iy0 = i32(oy0) - p.pad_top;
    let ch = p.oc_offset / 4u + c4;
    let k0 = kernel_row(0u, c4, chunk4);
    let k1 = kernel_row(1u, c4, chunk4);
    let k2 = kernel_row(2u, c4, chunk4);
    let oc0 = p.oc_offset + c4 * 4u;
    let biases = bias4(oc0);
    let store_a = strip < p.total && lane != 0u;
    let store_b = strip < p.total && lane != DEPTHWISE_LANES - 1u;
    // a0/b0: the output row two input rows back (completed by this row),
    // a1/b1 the one before, a2/b2 the row this input row starts.
    var a0: vec4<f32>;
    var a1: vec4<f32>;
    var b0: vec4<f32>;
    var b1: vec4<f32>;
    for (var t = 0u; t < rows + 2u; t++) {
        let iy = iy0 + i32(t);
        let r = taps(row_start(n, iy, ch, in_c4), iy, xa, xb, inside_x, in_c4);
        let a2 = mac_first(vec4<f32>(), r, k0);
        let b2 = mac_second(vec4<f32>(), r, k0);
        a1 = mac_first(a1, r, k1);
        b1 = mac_second(b1, r, k1);
        a0 = mac_first(a0, r, k2);
        b0 = mac_second(b0, r, k2);
        if t >= 2u {
            let oy = oy0 + t - 2u;
            if store_a {
                store4(n, oy, u32(oa), oc0, a0 + biases);
            }
            if store_b {
                store4(n, oy, u32(oa + 1), oc0, b0 + biases);
            }
        }
        a0 = a1;
        b0 = b1;
        a1 = a2;
        b1 = b2;
    }
}
