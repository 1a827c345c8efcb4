//! The generator of the register-tiled implicit GEMMs: one template
//! (`shaders/templates/conv2d_igemm.wgsl.in`), five committed kernels
//! (`shaders/conv2d_igemm_{vec4,vec4_texture,scalar,subgroup,vec4_narrow}.wgsl`). The unroll follows
//! the variant's tile shape (`IGEMM_PIXELS`, `IGEMM_NARROW_PIXELS` or
//! `IGEMM_SUBGROUP_PIXELS` pixels), the constants Rust sizes their dispatches with.
//!
//! A test regenerates them in memory and fails when a committed file differs;
//! `CONV2D_WGPU_REGENERATE=1 cargo test --lib codegen` rewrites them instead.

use super::kernels::{
    texture_weight_wgsl, IGEMM_NARROW_PIXELS, IGEMM_PIXELS, IGEMM_SUBGROUP_PIXELS,
};

const TEMPLATE: &str = include_str!("../../shaders/templates/conv2d_igemm.wgsl.in");

/// What one variant puts in the template's `{{name}}` slots, and the shape
/// of its tile (the unroll follows its pixels; the text then names that
/// shape's constants).
struct Variant {
    file: &'static str,
    slots: &'static [(&'static str, &'static str)],
    /// Slots that differ from `slots` (they are filled first).
    overrides: &'static [(&'static str, &'static str)],
    tile: TileShape,
}

/// Pixels x channels per invocation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TileShape {
    /// `IGEMM_PIXELS` x 16 channels.
    Standard,
    /// `IGEMM_NARROW_PIXELS` x 16 channels, without branches (SwiftShader).
    Narrow,
    /// `IGEMM_SUBGROUP_PIXELS` x 32 channels (two column halves).
    Subgroup,
}

impl TileShape {
    /// Pixels per invocation, and the constant the kernel's text names them by.
    fn pixels(self) -> (u32, &'static str) {
        match self {
            TileShape::Standard => (IGEMM_PIXELS, "IGEMM_PIXELS"),
            TileShape::Narrow => (IGEMM_NARROW_PIXELS, "IGEMM_NARROW_PIXELS"),
            TileShape::Subgroup => (IGEMM_SUBGROUP_PIXELS, "IGEMM_SUBGROUP_PIXELS"),
        }
    }
}

impl Variant {
    fn pixels(&self) -> u32 {
        self.tile.pixels().0
    }
}

const VEC4_HELPERS: &str = "
// 16 channels of one pixel: columns are the 4 vec4 column groups, and
// w_j * a sums the 4 weight rows of column group j weighted by a's channels.
fn tile(a: vec4<f32>, w0: mat4x4<f32>, w1: mat4x4<f32>, w2: mat4x4<f32>, w3: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(w0 * a, w1 * a, w2 * a, w3 * a);
}

// The input at `at + c4`, zeros in the padding (`at` < 0).
fn load(at: i32, c4: u32) -> vec4<f32> {
    return select(vec4<f32>(), vec4<f32>(input[u32(max(at, 0)) + c4]), at >= 0);
}
";

const ACCUMULATORS_HIGH: &str = "    var acc_high@@: mat4x4<f32>;";

const BIASES: &str = "    let biases = bias_tile(col0);";

/// The subgroup variant's 32 biases: lane v loads column group col0 + v and
/// hands it to the others (4 loads a lane instead of 32).
const SUBGROUP_BIASES: &str = "    let mine_bias = bias_column(col0 + v);
    let biases = mat4x4<f32>(subgroupBroadcast(mine_bias, 0u), subgroupBroadcast(mine_bias, 1u), subgroupBroadcast(mine_bias, 2u), subgroupBroadcast(mine_bias, 3u));";

const STORES_HIGH: &str = "    let biases_high = mat4x4<f32>(subgroupBroadcast(mine_bias, 4u), subgroupBroadcast(mine_bias, 5u), subgroupBroadcast(mine_bias, 6u), subgroupBroadcast(mine_bias, 7u));
    store_tile(pixel0 + @@u, col0 + IGEMM_COLUMNS4, acc_high@@ + biases_high);";

const WEIGHT_BLOCK: &str =
    "// The 4 x 4 block of weights rows k..k+4, column group `col` (clamped to the padded width).
fn weight_block(k: u32, col: u32, cols4: u32, stride4: u32) -> mat4x4<f32> {
    let c = p.col_offset4 + min(col, cols4 - 1u);
    return mat4x4<f32>(
        vec4<f32>(weights[k * stride4 + c]),
        vec4<f32>(weights[(k + 1u) * stride4 + c]),
        vec4<f32>(weights[(k + 2u) * stride4 + c]),
        vec4<f32>(weights[(k + 3u) * stride4 + c]),
    );
}
";

const WEIGHTS_BUFFER: &str = "@group(0) @binding(1) var<storage, read> weights: array<elem4>;";

/// The texture variant: the same weight rows, copied into a texture
/// `WEIGHT_TEXTURE_WIDTH` texels wide (texel i of the chunk at
/// (i % width, i / width)).
const TEXTURE_OVERRIDES: &[(&str, &str)] = &[
    (
        "notes",
        "// This variant: vec4 input (cin / groups % 4 == 0), weights read from a\n\
                 // texture; per step, 16 vec4 FMAs and 1 input load per pixel, and 16\n\
                 // texel loads for the tile (cheaper than storage loads on llvmpipe).",
    ),
    (
        "weights_binding",
        "@group(0) @binding(1) var weights: texture_2d<f32>;",
    ),
    (
        "weight_helpers",
        concat!(
            texture_weight_wgsl!(),
            "
// The 4 x 4 block of weights rows k..k+4, column group `col` (clamped to the padded width).
fn weight_block(k: u32, col: u32, cols4: u32, stride4: u32) -> mat4x4<f32> {
    let c = p.col_offset4 + min(col, cols4 - 1u);
    return mat4x4<f32>(
        weight(k * stride4 + c),
        weight((k + 1u) * stride4 + c),
        weight((k + 2u) * stride4 + c),
        weight((k + 3u) * stride4 + c),
    );
}
"
        ),
    ),
];

const EARLY_EXIT: &str = "    if pixel_tile >= p.total {
        return;
    }";

const VEC4_SETUP: &str = "    let in_c4 = p.in_c / 4u;
    let group_c4 = p.in_c_per_group / 4u;
    let in_at = p.in_base / 4u + p.in_c_offset / 4u;";

const VEC4_ACCUMULATE: &str = "acc@@ += tile(load(t@@, c4), w0, w1, w2, w3)";

/// The wide variants: with `ZERO_PADDING`, or for taps with every pixel
/// inside, the fast path; otherwise the pixels in the padding are skipped.
const BRANCHING_ACCUMULATE: &str = "                if ZERO_PADDING || all_inside {
                    {{accumulate}};
                } else {
                    if t@@ >= 0 { {{accumulate}}; }
                }";

const ALL_INSIDE: &str = "            let all_inside = {{min_of_taps}} >= 0;";

/// The narrow variants: every pixel's new sum is kept where its tap is
/// inside or padding counts as zeros (a select, no branch).
const NARROW_NOTES: &str =
    "// Narrow variant (SwiftShader): no branch per tap. SwiftShader runs every\n\
// lane through both sides of a branch whether or not a lane takes it (the\n\
// fast path and the per-pixel path cost twice the one), so each pixel's sum\n\
// is computed and kept only where its tap is inside (`inside_or`): 1.4x the\n\
// speed on B2-B10 in Chromium on SwiftShader.";

const NARROW_ACCUMULATE: &str =
    "                acc@@ = inside_or(acc@@, {{sum}}, ZERO_PADDING || t@@ >= 0);";

const VEC4_SLOTS: &[(&str, &str)] = &[
    (
        "notes",
        "// This variant: vec4 input (cin / groups % 4 == 0); per step, 16 vec4 FMAs\n\
                 // and 1 input load per pixel, and 16 weight loads for the tile.",
    ),
    ("input_type", "elem4"),
    ("helpers", VEC4_HELPERS),
    ("weight_helpers", WEIGHT_BLOCK),
    ("lane_builtin", ""),
    ("early_exit", EARLY_EXIT),
    ("setup", VEC4_SETUP),
    ("tap_unit", "in_c4"),
    (
        "step",
        "            for (var c4 = 0u; c4 < group_c4; c4++) {
                let k = k0 + c4 * 4u;
                let w0 = weight_block(k, col0, cols4, stride4);
                let w1 = weight_block(k, col0 + 1u, cols4, stride4);
                let w2 = weight_block(k, col0 + 2u, cols4, stride4);
                let w3 = weight_block(k, col0 + 3u, cols4, stride4);",
    ),
    ("accumulate", VEC4_ACCUMULATE),
    ("sum", "acc@@ + tile(load(t@@, c4), w0, w1, w2, w3)"),
];

const SCALAR_SLOTS: &[(&str, &str)] = &[
            (
                "notes",
                "// This variant: scalar input, any cin; per step, 4 vec4 FMAs and 1 scalar\n\
                 // load per pixel, and 4 weight loads for the tile.",
            ),
            ("input_type", "elem"),
            (
                "helpers",
                "
// 16 channels of one pixel += a x one weight row (its 4 vec4 column groups).
fn tile(acc: mat4x4<f32>, a: f32, w: mat4x4<f32>) -> mat4x4<f32> {
    let s = vec4(a);
    return mat4x4<f32>(fma(s, w[0], acc[0]), fma(s, w[1], acc[1]), fma(s, w[2], acc[2]), fma(s, w[3], acc[3]));
}

// The input at `at + c`, zero in the padding (`at` < 0).
fn load(at: i32, c: u32) -> f32 {
    return select(0.0, f32(input[u32(max(at, 0)) + c]), at >= 0);
}
",
            ),
            (
                "weight_helpers",
                "// Weight row k, column groups col..col+4 (clamped to the padded width).
fn weight_row(k: u32, col: u32, cols4: u32, stride4: u32) -> mat4x4<f32> {
    let last = cols4 - 1u;
    let row = k * stride4 + p.col_offset4;
    return mat4x4<f32>(
        vec4<f32>(weights[row + min(col, last)]),
        vec4<f32>(weights[row + min(col + 1u, last)]),
        vec4<f32>(weights[row + min(col + 2u, last)]),
        vec4<f32>(weights[row + min(col + 3u, last)]),
    );
}
",
            ),
            ("lane_builtin", ""),
            ("early_exit", EARLY_EXIT),
            ("setup", "    let in_at = p.in_base + p.in_c_offset;"),
            ("tap_unit", "p.in_c"),
            (
                "step",
                "            for (var c = 0u; c < p.in_c_per_group; c++) {
                let w = weight_row(k0 + c, col0, cols4, stride4);",
            ),
            ("accumulate", "acc@@ = tile(acc@@, load(t@@, c), w)"),
            ("sum", "tile(acc@@, load(t@@, c), w)"),
];

const SUBGROUP_SLOTS: &[(&str, &str)] = &[
            (
                "notes",
                "// This variant: vec4 input with subgroups of at least 8 invocations (wgpu's\n\
                 // Features::SUBGROUP), IGEMM_SUBGROUP_PIXELS pixels x 32 channels (acc and\n\
                 // acc_high per pixel). Every invocation of a workgroup needs the same 32\n\
                 // weight vec4 per step, so each invocation of a subgroup loads 4 of them and\n\
                 // subgroupBroadcast hands them to the others: 8 loads per step for 128 vec4\n\
                 // FMAs (8 pixels x 16 channels took 10). Subgroup operations need uniform\n\
                 // control flow: no early return, and every invocation runs the loops (tiles\n\
                 // past the end store nothing).",
            ),
            ("input_type", "elem4"),
            ("helpers", VEC4_HELPERS),
            ("weight_helpers", ""),
            (
                "lane_builtin",
                "    @builtin(subgroup_invocation_id) lane: u32,\n",
            ),
            (
                "early_exit",
                "    // Tiles past the end repeat the last pixels (origin clamps) and store nothing.",
            ),
            (
                "setup",
                "    let in_c4 = p.in_c / 4u;
    let group_c4 = p.in_c_per_group / 4u;
    let in_at = p.in_base / 4u + p.in_c_offset / 4u;
    // This lane's column group of the 8 in a step's 4 weight rows.
    let v = lane % 8u;
    let mine_col = p.col_offset4 + min(col0 + v, cols4 - 1u);",
            ),
            ("tap_unit", "in_c4"),
            (
                "step",
                "            for (var c4 = 0u; c4 < group_c4; c4++) {
                let k = k0 + c4 * 4u;
                let m0 = vec4<f32>(weights[k * stride4 + mine_col]);
                let m1 = vec4<f32>(weights[(k + 1u) * stride4 + mine_col]);
                let m2 = vec4<f32>(weights[(k + 2u) * stride4 + mine_col]);
                let m3 = vec4<f32>(weights[(k + 3u) * stride4 + mine_col]);
                // Column group j, rows 0..4: held by lane j.
                let w0 = mat4x4<f32>(subgroupBroadcast(m0, 0u), subgroupBroadcast(m1, 0u), subgroupBroadcast(m2, 0u), subgroupBroadcast(m3, 0u));
                let w1 = mat4x4<f32>(subgroupBroadcast(m0, 1u), subgroupBroadcast(m1, 1u), subgroupBroadcast(m2, 1u), subgroupBroadcast(m3, 1u));
                let w2 = mat4x4<f32>(subgroupBroadcast(m0, 2u), subgroupBroadcast(m1, 2u), subgroupBroadcast(m2, 2u), subgroupBroadcast(m3, 2u));
                let w3 = mat4x4<f32>(subgroupBroadcast(m0, 3u), subgroupBroadcast(m1, 3u), subgroupBroadcast(m2, 3u), subgroupBroadcast(m3, 3u));
                let w4 = mat4x4<f32>(subgroupBroadcast(m0, 4u), subgroupBroadcast(m1, 4u), subgroupBroadcast(m2, 4u), subgroupBroadcast(m3, 4u));
                let w5 = mat4x4<f32>(subgroupBroadcast(m0, 5u), subgroupBroadcast(m1, 5u), subgroupBroadcast(m2, 5u), subgroupBroadcast(m3, 5u));
                let w6 = mat4x4<f32>(subgroupBroadcast(m0, 6u), subgroupBroadcast(m1, 6u), subgroupBroadcast(m2, 6u), subgroupBroadcast(m3, 6u));
                let w7 = mat4x4<f32>(subgroupBroadcast(m0, 7u), subgroupBroadcast(m1, 7u), subgroupBroadcast(m2, 7u), subgroupBroadcast(m3, 7u));",
            ),
            (
                "accumulate",
                "let x@@ = load(t@@, c4); acc@@ += tile(x@@, w0, w1, w2, w3); acc_high@@ += tile(x@@, w4, w5, w6, w7)",
            ),
];

// conv2d_igemm_scalar_narrow.wgsl is written by hand (one loop per kernel row).
const VARIANTS: [Variant; 5] = [
    Variant {
        file: "conv2d_igemm_vec4.wgsl",
        slots: VEC4_SLOTS,
        overrides: &[],
        tile: TileShape::Standard,
    },
    Variant {
        file: "conv2d_igemm_vec4_texture.wgsl",
        slots: VEC4_SLOTS,
        overrides: TEXTURE_OVERRIDES,
        tile: TileShape::Standard,
    },
    Variant {
        file: "conv2d_igemm_scalar.wgsl",
        slots: SCALAR_SLOTS,
        overrides: &[],
        tile: TileShape::Standard,
    },
    Variant {
        file: "conv2d_igemm_subgroup.wgsl",
        slots: SUBGROUP_SLOTS,
        overrides: &[],
        tile: TileShape::Subgroup,
    },
    // Half the unroll, for adapters whose shader compilers choke on the
    // wide one (SwiftShader: 45 s per pipeline at 8 pixels, 0.35 s at 4).
    Variant {
        file: "conv2d_igemm_vec4_narrow.wgsl",
        slots: VEC4_SLOTS,
        overrides: &[],
        tile: TileShape::Narrow,
    },
];

/// `min(...)` over `t0 .. t{n-1}`, as a balanced tree.
fn min_tree(names: &[String]) -> String {
    match names {
        [one] => one.clone(),
        _ => {
            let (left, right) = names.split_at(names.len().div_ceil(2));
            format!("min({}, {})", min_tree(left), min_tree(right))
        }
    }
}

/// The kernel file of `variant`, generated from the template.
fn generate(variant: &Variant) -> String {
    let pixels = variant.pixels() as usize;
    let taps: Vec<String> = (0..pixels).map(|i| format!("t{i}")).collect();
    let mut text = TEMPLATE.to_string();
    // The template's own header (up to its first blank line) describes the
    // template; the generated file says where it comes from instead.
    let body_start = text
        .find("\n//\n")
        .expect("the template header ends with //")
        + 4;
    text = format!(
        "// GENERATED from shaders/templates/conv2d_igemm.wgsl.in by src/conv/codegen.rs:\n\
         // edit those, then run `CONV2D_WGPU_REGENERATE=1 cargo test --lib codegen`.\n\
         //\n{}",
        &text[body_start..]
    );
    // How a step accumulates: the wide variants branch on the padding, the
    // narrow ones select.
    let (notes, all_inside, accumulate) = if variant.tile == TileShape::Narrow {
        (NARROW_NOTES, "", NARROW_ACCUMULATE)
    } else {
        ("", ALL_INSIDE, BRANCHING_ACCUMULATE)
    };
    // The subgroup variant's second column half.
    let (columns4, accumulators_high, biases, stores_high) = if variant.tile == TileShape::Subgroup
    {
        (
            "IGEMM_SUBGROUP_COLUMNS4",
            ACCUMULATORS_HIGH,
            SUBGROUP_BIASES,
            STORES_HIGH,
        )
    } else {
        ("IGEMM_COLUMNS4", "", BIASES, "")
    };
    let variant_slots = [
        ("narrow_notes", notes),
        ("all_inside", all_inside),
        ("accumulate_block", accumulate),
        ("columns4", columns4),
        ("accumulators_high", accumulators_high),
        ("biases", biases),
        ("stores_high", stores_high),
    ];
    let defaults = [("weights_binding", WEIGHTS_BUFFER)];
    for (name, value) in variant
        .overrides
        .iter()
        .chain(&variant_slots)
        .chain(variant.slots)
        .chain(&defaults)
    {
        let slot = format!("{{{{{name}}}}}");
        // A slot alone on its line takes the whole line (and leaves none when empty).
        let line = format!("{slot}\n");
        if value.is_empty() {
            text = text.replace(&line, "");
        } else if !value.ends_with('\n') {
            text = text.replace(&line, &format!("{value}\n"));
        }
        text = text.replace(&slot, value);
    }
    text = text.replace("{{min_of_taps}}", &min_tree(&taps));
    text = text.replace("IGEMM_PIXELS", variant.tile.pixels().1);
    assert!(
        !text.contains("{{"),
        "{}: a slot was not filled",
        variant.file
    );
    let mut out = String::new();
    for line in text.lines() {
        if line.contains("@@") {
            for i in 0..pixels {
                out.push_str(&line.replace("@@", &i.to_string()));
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn codegen_committed_kernels_match_the_template() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let regenerate = std::env::var_os("CONV2D_WGPU_REGENERATE").is_some();
    for variant in &VARIANTS {
        let path = dir.join(variant.file);
        let generated = generate(variant);
        if regenerate {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} differs from what src/conv/codegen.rs generates from \
             shaders/templates/conv2d_igemm.wgsl.in: edit the template, then run \
             `CONV2D_WGPU_REGENERATE=1 cargo test --lib codegen`",
            path.display()
        );
    }
}

#[test]
fn codegen_unrolls_the_accumulators_of_each_pixel() {
    for variant in &VARIANTS {
        let text = generate(variant);
        for i in 0..variant.pixels() {
            assert!(text.contains(&format!("var acc{i}: mat4x4<f32>;")));
            assert!(text.contains(&format!(
                "store_tile(pixel0 + {i}u, col0, acc{i} + biases);"
            )));
        }
        let next = variant.pixels();
        assert!(!text.contains(&format!("acc{next}")), "{}", variant.file);
        // The subgroup variant's second column half, the others' none.
        let high = variant.tile == TileShape::Subgroup;
        for i in 0..variant.pixels() {
            let stored = format!(
                "store_tile(pixel0 + {i}u, col0 + IGEMM_COLUMNS4, acc_high{i} + biases_high);"
            );
            assert_eq!(text.contains(&stored), high, "{}", variant.file);
        }
    }
}
