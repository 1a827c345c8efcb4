// Prepended (after common.wgsl) to the depthwise kernels that read whole
// input rows of one channel group, a column at a time: the block kernel
// (conv2d_depthwise_block.wgsl) and the row-strip kernel
// (conv2d_depthwise_rows.wgsl). They declare `input` as array<elem4>.

// One 3-tap kernel row on input columns a, b, c.
fn taps3(
    acc: vec4<f32>, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>,
    ia: bool, ib: bool, ic: bool, wa: vec4<f32>, wb: vec4<f32>, wc: vec4<f32>,
) -> vec4<f32> {
    return mac(mac(mac(acc, a, wa, ia), b, wb, ib), c, wc, ic);
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
