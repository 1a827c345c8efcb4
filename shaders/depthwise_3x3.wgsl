// Prepended (after common.wgsl) to the 3x3 stride-1 depthwise kernels: the
// block kernel (conv2d_depthwise_block.wgsl), the strip kernels
// (conv2d_depthwise_rows.wgsl, conv2d_depthwise_subgroup.wgsl). They declare
// `input` and `weights` as array<elem4>.

// Kernel row ky of channel group c4: the weights of taps (ky, 0), (ky, 1)
// and (ky, 2) as the columns (weights rows ky * 3 + kx, chunk4 vec4 wide).
fn kernel_row(ky: u32, c4: u32, chunk4: u32) -> mat3x4<f32> {
    let at = ky * 3u * chunk4 + c4;
    return mat3x4<f32>(vec4<f32>(weights[at]), vec4<f32>(weights[at + chunk4]), vec4<f32>(weights[at + 2u * chunk4]));
}

// acc plus one kernel row `w` (from `kernel_row`) on input columns a, b, c.
fn taps3(
    acc: vec4<f32>, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>,
    ia: bool, ib: bool, ic: bool, w: mat3x4<f32>,
) -> vec4<f32> {
    return mac(mac(mac(acc, a, w[0], ia), b, w[1], ib), c, w[2], ic);
}

// The strips of an image down its output rows: (strips, rows per strip), at
// most DEPTHWISE_STRIP_ROWS rows and evened out (equally tall to within a
// row). The strip kernels walk down a strip; their dispatches count
// ceil(out_h / DEPTHWISE_STRIP_ROWS) strips per image, as here.
fn strips_down() -> vec2<u32> {
    let strips = (p.out_h + DEPTHWISE_STRIP_ROWS - 1u) / DEPTHWISE_STRIP_ROWS;
    return vec2<u32>(strips, (p.out_h + strips - 1u) / strips);
}

fn input_row_inside(iy: i32) -> bool {
    return iy >= 0 && iy < i32(p.in_h);
}

// The vec4 index of column 0 of input row iy (clamped into the image) of
// image n, this channel group.
fn row_start(n: u32, iy: i32, in_c4_at: u32, in_c4: u32) -> u32 {
    let y = u32(clamp(iy, 0, i32(p.in_h) - 1));
    return p.in_base / 4u + (n * p.in_h + y) * p.in_w * in_c4 + in_c4_at;
}

// The input at column ix of the row starting at vec4 index `row` (clamped
// into the row; the taps' flags say whether it counts).
fn column(row: u32, ix: i32, in_c4: u32) -> vec4<f32> {
    return vec4<f32>(input[row + u32(clamp(ix, 0, i32(p.in_w) - 1)) * in_c4]);
}
