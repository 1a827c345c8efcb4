// Prepended to every kernel, after the storage element types `elem` /
// `elem4` (f32 or f16) and the tile constants: the uniform block all kernels
// read and the fused activation chosen by ACTIVATION (0 linear, 1 relu,
// 2 relu6, 3 leaky relu, 4 sigmoid, 5 tanh, 6 silu). Declares no bindings.
override ACTIVATION: u32 = 0u;

// One dispatch's piece of the convolution (src/conv/plan.rs). Matches
// KernelParams in src/conv/kernels.rs (tests/shaders.rs compares the layouts);
// 28 words, a multiple of 16 bytes.
struct Params {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    k_h: u32,
    k_w: u32,
    stride_h: u32,
    stride_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    pad_top: i32,
    pad_left: i32,
    in_c_per_group: u32,
    out_c_per_group: u32,
    // Invocations with work (outputs, or output tiles); those past it return.
    total: u32,
    // Invocations per row of the folded 2-D dispatch grid.
    row_stride: u32,
    leaky_slope: f32,
    in_base: u32,
    out_base: u32,
    oc_offset: u32,
    chunk_c: u32,
    w_stride: u32,
    // Grouped layers, one dispatch per group: the group's first input channel,
    // and its first weight column (in vec4).
    in_c_offset: u32,
    col_offset4: u32,
    _pad0: u32,
}

// NaN in, NaN out, as on the CPU. Tested on the bits: GLSL compilers may fold
// `v != v` or turn comparisons into NaN-dropping min/max.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn activate(v: f32, slope: f32) -> f32 {
    return select(activate_finite(v, slope), v, is_nan(v));
}

fn activate_finite(v: f32, slope: f32) -> f32 {
    switch ACTIVATION {
        case 1u: {
            return select(v, 0.0, v < 0.0);
        }
        case 2u: {
            return select(select(v, 6.0, v > 6.0), 0.0, v < 0.0);
        }
        case 3u: {
            return select(v, v * slope, v < 0.0);
        }
        case 4u: {
            return 1.0 / (1.0 + exp(-v));
        }
        case 5u: {
            // tanh(10) rounds to 1 in f32; some drivers' tanh overflows to NaN far out.
            return select(tanh(v), sign(v), abs(v) > 10.0);
        }
        case 6u: {
            return v / (1.0 + exp(-v));
        }
        default: {
            return v;
        }
    }
}

