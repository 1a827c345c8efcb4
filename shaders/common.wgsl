// Prepended (after params.wgsl) to the register-tiled implicit GEMMs, the
// direct and the depthwise kernels: their shared helpers. Those kernels
// declare the same bindings (input, weights, bias, output, p), which the
// helpers use. (The Winograd kernels have bindings of their own types and
// take params.wgsl alone.)

// The output as vec4 (the depthwise kernels, and the GEMMs' vec4 stores):
// the same binding as the kernels' `output`. An entry point uses one of the
// two, so its interface has one variable per binding.
@group(0) @binding(3) var<storage, read_write> output4: array<elem4>;

// --- Register-tiled implicit GEMM (conv2d_igemm_*.wgsl) ---

// Output coordinates (column, row, image) of `pixel`; pixels past the end
// are the last one.
fn coords(pixel: u32) -> vec3<u32> {
    let last = min(pixel, p.batch * p.out_h * p.out_w - 1u);
    let rest = last / p.out_w;
    return vec3<u32>(last % p.out_w, rest % p.out_h, rest / p.out_h);
}

// The coordinates of the pixel after `c` (past the end, the last pixel's),
// without a division: llvmpipe divides lane by lane, 8 pixels x 2
// divisions per invocation.
fn next_coords(c: vec3<u32>) -> vec3<u32> {
    let wrap_x = c.x + 1u == p.out_w;
    let y = select(c.y, c.y + 1u, wrap_x);
    let wrap_y = y == p.out_h;
    let n = select(c.z, c.z + 1u, wrap_y);
    let next = vec3<u32>(select(c.x + 1u, 0u, wrap_x), select(y, 0u, wrap_y), n);
    return select(next, c, vec3<bool>(n == p.batch));
}

// Where the output pixel at coordinates `c` starts reading: (first input
// row, first input column, image's first row).
fn origin_at(c: vec3<u32>) -> vec3<i32> {
    return vec3<i32>(
        i32(c.y * p.stride_h) - p.pad_top,
        i32(c.x * p.stride_w) - p.pad_left,
        i32(c.z * p.in_h),
    );
}

// The origin of the pixel at `*c`, moving `*c` on to the next pixel.
fn next_origin(c: ptr<function, vec3<u32>>) -> vec3<i32> {
    let o = origin_at(*c);
    *c = next_coords(*c);
    return o;
}

// Index of the input at tap (dy, dx) for a pixel with origin `o`, counted in
// units of `per_pixel` (cin for f32 input, cin / 4 for vec4) from `base`, or -1
// in the padding.
fn tap(o: vec3<i32>, dy: i32, dx: i32, base: u32, per_pixel: u32) -> i32 {
    let iy = o.x + dy;
    let ix = o.y + dx;
    let inside = iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w);
    let at = i32(base + (u32(o.z + iy) * p.in_w + u32(ix)) * per_pixel);
    return select(-1, at, inside);
}

// `sum` where the tap is inside the input, `old` where it is padding (the
// narrow variants' accumulation, without a branch).
fn inside_or(old: mat4x4<f32>, sum: mat4x4<f32>, inside: bool) -> mat4x4<f32> {
    return mat4x4<f32>(
        select(old[0], sum[0], inside),
        select(old[1], sum[1], inside),
        select(old[2], sum[2], inside),
        select(old[3], sum[3], inside),
    );
}

// The bias of the 4 channels of column group `col` (padding columns repeat
// the last channel's).
fn bias_column(col: u32) -> vec4<f32> {
    let last = p.chunk_c - 1u;
    let at = p.oc_offset;
    return vec4<f32>(
        f32(bias[at + min(col * 4u, last)]),
        f32(bias[at + min(col * 4u + 1u, last)]),
        f32(bias[at + min(col * 4u + 2u, last)]),
        f32(bias[at + min(col * 4u + 3u, last)]),
    );
}

// The bias of the 16 channels (IGEMM_COLUMNS4 vec4 column groups) from col0,
// loaded once per invocation rather than once per output.
fn bias_tile(col0: u32) -> mat4x4<f32> {
    return mat4x4<f32>(bias_column(col0), bias_column(col0 + 1u), bias_column(col0 + 2u), bias_column(col0 + 3u));
}

// Writes 16 channels (IGEMM_COLUMNS4 vec4 column groups from col0) of one
// output pixel, `sum` with the bias already added, through the activation (in
// f32, rounded once to elem); pixels past the end and padding columns are
// skipped. The kernels call `store_tile`, which the crate appends as one of
// the two below (`KernelKind::source`): an entry point may use only one of
// the two views of binding 3.
fn store_tile_scalar(pixel: u32, col0: u32, sum: mat4x4<f32>) {
    if pixel >= p.batch * p.out_h * p.out_w {
        return;
    }
    let out_at = p.out_base + pixel * p.out_c + p.oc_offset;
    for (var j = 0u; j < IGEMM_COLUMNS4; j++) {
        for (var r = 0u; r < 4u; r++) {
            let oc = (col0 + j) * 4u + r;
            if oc < p.chunk_c {
                output[out_at + oc] = elem(activate(sum[j][r], p.leaky_slope));
            }
        }
    }
}

// The same with one vec4 store per column group, where the output's
// channels, the dispatch's first channel and its channel count are
// multiples of 4 (so a vec4 never straddles two pixels or two dispatches).
fn store_tile_vec4(pixel: u32, col0: u32, sum: mat4x4<f32>) {
    if pixel >= p.batch * p.out_h * p.out_w {
        return;
    }
    let out_at = (p.out_base + pixel * p.out_c + p.oc_offset) / 4u;
    let s = p.leaky_slope;
    for (var j = 0u; j < IGEMM_COLUMNS4; j++) {
        if (col0 + j) * 4u < p.chunk_c {
            let v = sum[j];
            output4[out_at + col0 + j] = elem4(vec4<f32>(activate(v.x, s), activate(v.y, s), activate(v.z, s), activate(v.w, s)));
        }
    }
}

// --- Depthwise (conv2d_depthwise_*.wgsl) ---

// acc + x * w where the input is inside the image; acc where it is padding.
fn mac(acc: vec4<f32>, x: vec4<f32>, w: vec4<f32>, inside: bool) -> vec4<f32> {
    return select(acc, fma(x, w, acc), inside);
}

fn inside_row(ix: i32) -> bool {
    return ix >= 0 && ix < i32(p.in_w);
}

// The bias of the 4 channels from oc0, loaded once per invocation.
fn bias4(oc0: u32) -> vec4<f32> {
    return vec4<f32>(f32(bias[oc0]), f32(bias[oc0 + 1u]), f32(bias[oc0 + 2u]), f32(bias[oc0 + 3u]));
}

// Writes 4 channels from oc0 of output pixel (n, oy, ox) with one vec4
// store, `sum` with the bias already added, through the activation (in f32,
// rounded once to elem); pixels outside the output are skipped. (One store
// instead of 4: B6 on lavapipe 13x -> 15-16x the direct kernel.)
fn store4(n: u32, oy: u32, ox: u32, oc0: u32, sum: vec4<f32>) {
    if ox >= p.out_w || oy >= p.out_h {
        return;
    }
    let at = (p.out_base + ((n * p.out_h + oy) * p.out_w + ox) * p.out_c + oc0) / 4u;
    let s = p.leaky_slope;
    output4[at] = elem4(vec4<f32>(activate(sum.x, s), activate(sum.y, s), activate(sum.z, s), activate(sum.w, s)));
}
