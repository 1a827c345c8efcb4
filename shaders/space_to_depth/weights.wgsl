// Space-to-depth, once per layer: the layer's packed HWIO weights (p.k_h x
// p.k_w x p.in_c rows of p.w_stride) rearranged for the view
// (src/conv/space_to_depth.rs): p.out_h x p.out_w taps of p.out_c =
// p.stride_h p.stride_w p.in_c rows, row (by, bx, (dy, dx, c)) holding the
// layer's tap (p.stride_h by + dy, p.stride_w bx + dx), channel c, or zeros
// past the kernel. One element per invocation; `p.total` counts them.
// Prepended with the element types, tile constants and params.wgsl.

@group(0) @binding(0) var<storage, read> weights: array<elem>;
@group(0) @binding(3) var<storage, read_write> rearranged: array<elem>;
@group(0) @binding(4) var<uniform> p: Params;

override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let index = workgroup.y * p.row_stride + workgroup.x * WORKGROUP_SIZE + local;
    if index >= p.total {
        return;
    }
    let column = index % p.w_stride;
    let row = index / p.w_stride;
    let channel = row % p.out_c;
    let tap = row / p.out_c;
    let bx = tap % p.out_w;
    let by = tap / p.out_w;
    let c = channel % p.in_c;
    let phase = channel / p.in_c;
    let ky = by * p.stride_h + phase / p.stride_w;
    let kx = bx * p.stride_w + phase % p.stride_w;
    var value = elem(0.0);
    if ky < p.k_h && kx < p.k_w {
        value = weights[((ky * p.k_w + kx) * p.in_c + c) * p.w_stride + column];
    }
    rearranged[index] = value;
}
