// Winograd F(2x2, 3x3), step 3 of 3: the output transform Y = A^T M A of the
// 16 products of each tile (gemm.wgsl), 4 channels per invocation, with the
// bias and the activation, written as the NHWC output (outputs past the edge
// and padding channels skipped). A^T = [1 1 1 0; 0 1 -1 -1]. `p.total` counts
// (tile, channel vec4) pairs. Prepended with the element types, tile
// constants and params.wgsl; the crate appends `store`, which calls
// `store_scalar` or, where cout % 4 == 0, `store_vec4` (an entry point may
// use only one of the two views of binding 3).

@group(0) @binding(0) var<storage, read> products: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<elem>;
@group(0) @binding(3) var<storage, read_write> output: array<elem>;
@group(0) @binding(3) var<storage, read_write> output4: array<elem4>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

// A^T applied to 4 values along one axis: the 2 outputs.
fn at2(m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>, m3: vec4<f32>) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(m0 + m1 + m2, m1 - m2 - m3);
}

// The bias of channels 4 c4.. (past the last channel, the last one's).
fn bias4(c4: u32) -> vec4<f32> {
    let last = p.out_c - 1u;
    let c = c4 * 4u;
    return vec4<f32>(f32(bias[min(c, last)]), f32(bias[min(c + 1u, last)]), f32(bias[min(c + 2u, last)]), f32(bias[min(c + 3u, last)]));
}

// Writes output pixel (n, oy, ox), channels 4 c4.. that exist, `sum` with
// the bias already added, through the activation.
fn store_scalar(n: u32, oy: u32, ox: u32, c4: u32, sum: vec4<f32>) {
    if oy >= p.out_h || ox >= p.out_w {
        return;
    }
    let at = p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c;
    for (var r = 0u; r < 4u; r++) {
        let oc = c4 * 4u + r;
        if oc < p.out_c {
            output[at + oc] = elem(activate(sum[r], p.leaky_slope));
        }
    }
}

// The same with one vec4 store, where cout % 4 == 0 (so a column group is
// wholly inside the output or wholly padding). On lavapipe and llvmpipe GL,
// alternated in one process: B2 0.97-0.99x, B8 0.96-0.98x the time.
fn store_vec4(n: u32, oy: u32, ox: u32, c4: u32, sum: vec4<f32>) {
    if oy >= p.out_h || ox >= p.out_w || c4 * 4u >= p.out_c {
        return;
    }
    let at = (p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c) / 4u + c4;
    let s = p.leaky_slope;
    output4[at] = elem4(vec4<f32>(activate(sum.x, s), activate(sum.y, s), activate(sum.z, s), activate(sum.w, s)));
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
    let cout4 = p.w_stride / 4u;
    let tiles_w = (p.out_w + 1u) / 2u;
    let tiles_h = (p.out_h + 1u) / 2u;
    let tiles = p.batch * tiles_h * tiles_w;
    let c4 = index % cout4;
    let tile = index / cout4;
    let stride = tiles * cout4;
    let at = tile * cout4 + c4;
    // Along y first (rows i of M, positions j along x), then along x.
    let c0 = at2(products[0u * stride + at], products[4u * stride + at], products[8u * stride + at], products[12u * stride + at]);
    let c1 = at2(products[1u * stride + at], products[5u * stride + at], products[9u * stride + at], products[13u * stride + at]);
    let c2 = at2(products[2u * stride + at], products[6u * stride + at], products[10u * stride + at], products[14u * stride + at]);
    let c3 = at2(products[3u * stride + at], products[7u * stride + at], products[11u * stride + at], products[15u * stride + at]);
    let y0 = at2(c0[0], c1[0], c2[0], c3[0]);
    let y1 = at2(c0[1], c1[1], c2[1], c3[1]);
    let n = tile / (tiles_h * tiles_w);
    let oy = ((tile / tiles_w) % tiles_h) * 2u;
    let ox = (tile % tiles_w) * 2u;
    let biases = bias4(c4);
    store(n, oy, ox, c4, y0[0] + biases);
    store(n, oy, ox + 1u, c4, y0[1] + biases);
    store(n, oy + 1u, ox, c4, y1[0] + biases);
    store(n, oy + 1u, ox + 1u, c4, y1[1] + biases);
}
