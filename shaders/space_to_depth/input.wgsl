// Space-to-depth, per call: packs the layer's input (p.in_h x p.in_w x
// p.in_c per image, from p.in_base) into the view the vec4 implicit GEMM
// reads (p.out_h x p.out_w x p.out_c, p.out_c = p.stride_h p.stride_w p.in_c
// channels ordered (dy, dx, c)): view pixel (Y, X), channel (dy, dx, c) is
// the layer's pixel (p.stride_h Y + dy - p.pad_top, p.stride_w X + dx -
// p.pad_left), channel c, or zero outside the input (src/conv/space_to_depth.rs;
// pad_top and pad_left carry the shifts e). One element per invocation;
// `p.total` counts them. Prepended with the element types, tile constants
// and params.wgsl.

@group(0) @binding(0) var<storage, read> input: array<elem>;
@group(0) @binding(3) var<storage, read_write> packed: array<elem>;
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
    let channel = index % p.out_c;
    let pixel = index / p.out_c;
    let x = pixel % p.out_w;
    let y = (pixel / p.out_w) % p.out_h;
    let n = pixel / (p.out_w * p.out_h);
    let c = channel % p.in_c;
    let phase = channel / p.in_c;
    let iy = i32(y * p.stride_h + phase / p.stride_w) - p.pad_top;
    let ix = i32(x * p.stride_w + phase % p.stride_w) - p.pad_left;
    var value = elem(0.0);
    if iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w) {
        value = input[p.in_base + ((n * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.in_c + c];
    }
    packed[index] = value;
}
