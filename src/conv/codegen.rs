//! The generator of the register-tiled implicit GEMMs: one template
//! (`shaders/templates/conv2d_igemm.wgsl.in`), four committed kernels
//! (`shaders/conv2d_igemm_{vec4,vec4_texture,scalar,subgroup,vec4_narrow}.wgsl`). The unroll follows
//! `IGEMM_PIXELS`, the constant Rust sizes their dispatches with.
//!
//! A test regenerates them in memory and fails when a committed file differs;
//! `CONV2D_WGPU_REGENERATE=1 cargo test --lib codegen` rewrites them instead.

use super::kernels::{texture_weight_wgsl, IGEMM_NARROW_PIXELS, IGEMM_PIXELS};

const TEMPLATE: &str = include_str!("../../shaders/templates/conv2d_igemm.wgsl.in");

/// What one variant puts in the template's `{{name}}` slots, and how many
/// pixels it unrolls (`IGEMM_PIXELS`, or `IGEMM_NARROW_PIXELS` for the narrow
/// variants, whose text then names that constant).
struct Variant {
    file: &'static str,
    slots: &'static [(&'static str, &'static str)],
    /// Slots that differ from `slots` (they are filled first).
    overrides: &'static [(&'static str, &'static str)],
    narrow: bool,
}

impl Variant {
    fn pixels(&self) -> u32 {
        if self.narrow {
            IGEMM_NARROW_PIXELS
        } else {
            IGEMM_PIXELS
        }
    }
}

const VEC4_HELPERS: &str = "
// 16 channels of one pixel: columns are the 4 vec4 column groups, and
// w_j * a sums the 4 weight rows of column group j weighted by a's channels.
fn tile(a: vec4<f32>, w0: mat4x4<f32>, w1: mat4x4<f32>, w2: mat4x4<f32>, w3: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(w0 * a, w1 * a, w2 * a, w3 * a);
}

fn load(at: i32, c4: u32) -> vec4<f32> {
    return vec4<f32>(input[u32(max(at, 0)) + c4]);
}
";

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

/// The wide variants: taps with every pixel inside take the fast path, the
/// others skip the pixels in the padding.
const BRANCHING_ACCUMULATE: &str = "                if all_inside {
                    {{accumulate}};
                } else {
                    if t@@ >= 0 { {{accumulate}}; }
                }";

const ALL_INSIDE: &str = "            let all_inside = {{min_of_taps}} >= 0;";

/// The narrow variants: every pixel's new sum is kept where its tap is
/// inside (a select, no branch).
const NARROW_NOTES: &str =
    "// Narrow variant (SwiftShader): no branch per tap. SwiftShader runs every\n\
// lane through both sides of a branch whether or not a lane takes it (the\n\
// fast path and the per-pixel path cost twice the one), so each pixel's sum\n\
// is computed and kept only where its tap is inside (`inside_or`): 1.4x the\n\
// speed on B2-B10 in Chromium on SwiftShader.";

const NARROW_ACCUMULATE: &str = "                acc@@ = inside_or(acc@@, {{sum}}, t@@ >= 0);";

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

fn load(at: i32, c: u32) -> f32 {
    return f32(input[u32(max(at, 0)) + c]);
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
                 // Features::SUBGROUP). Every invocation of a workgroup needs the same 16\n\
                 // weight vec4 per step, so each invocation of a subgroup loads 2 of them and\n\
                 // subgroupBroadcast hands them to the others: 10 loads per step instead of\n\
                 // 24. Subgroup operations need uniform control flow: no early return, and\n\
                 // every invocation runs the loops (tiles past the end store nothing).",
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
    // This lane's two of the 16 weight vec4 of a step: v = lane % 8 and v + 8,
    // i.e. row v / 4 (and 2 more), column group v % 4.
    let v = lane % 8u;
    let mine_col = p.col_offset4 + min(col0 + v % 4u, cols4 - 1u);",
            ),
            ("tap_unit", "in_c4"),
            (
                "step",
                "            for (var c4 = 0u; c4 < group_c4; c4++) {
                let k = k0 + c4 * 4u;
                let mine0 = vec4<f32>(weights[(k + v / 4u) * stride4 + mine_col]);
                let mine1 = vec4<f32>(weights[(k + 2u + v / 4u) * stride4 + mine_col]);
                // Column group j, rows 0..4: vec4 number row * 4 + j, held by
                // lane (row * 4 + j) % 8 in slot (row * 4 + j) / 8.
                let w0 = mat4x4<f32>(subgroupBroadcast(mine0, 0u), subgroupBroadcast(mine0, 4u), subgroupBroadcast(mine1, 0u), subgroupBroadcast(mine1, 4u));
                let w1 = mat4x4<f32>(subgroupBroadcast(mine0, 1u), subgroupBroadcast(mine0, 5u), subgroupBroadcast(mine1, 1u), subgroupBroadcast(mine1, 5u));
                let w2 = mat4x4<f32>(subgroupBroadcast(mine0, 2u), subgroupBroadcast(mine0, 6u), subgroupBroadcast(mine1, 2u), subgroupBroadcast(mine1, 6u));
                let w3 = mat4x4<f32>(subgroupBroadcast(mine0, 3u), subgroupBroadcast(mine0, 7u), subgroupBroadcast(mine1, 3u), subgroupBroadcast(mine1, 7u));",
            ),
            ("accumulate", VEC4_ACCUMULATE),
];

// conv2d_igemm_scalar_narrow.wgsl is written by hand (one loop per kernel row).
const VARIANTS: [Variant; 5] = [
    Variant {
        file: "conv2d_igemm_vec4.wgsl",
        slots: VEC4_SLOTS,
        overrides: &[],
        narrow: false,
    },
    Variant {
        file: "conv2d_igemm_vec4_texture.wgsl",
        slots: VEC4_SLOTS,
        overrides: TEXTURE_OVERRIDES,
        narrow: false,
    },
    Variant {
        file: "conv2d_igemm_scalar.wgsl",
        slots: SCALAR_SLOTS,
        overrides: &[],
        narrow: false,
    },
    Variant {
        file: "conv2d_igemm_subgroup.wgsl",
        slots: SUBGROUP_SLOTS,
        overrides: &[],
        narrow: false,
    },
    // Half the unroll, for adapters whose shader compilers choke on the
    // wide one (SwiftShader: 45 s per pipeline at 8 pixels, 0.35 s at 4).
    Variant {
        file: "conv2d_igemm_vec4_narrow.wgsl",
        slots: VEC4_SLOTS,
        overrides: &[],
        narrow: true,
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
    let (notes, all_inside, accumulate) = if variant.narrow {
        (NARROW_NOTES, "", NARROW_ACCUMULATE)
    } else {
        ("", ALL_INSIDE, BRANCHING_ACCUMULATE)
    };
    let variant_slots = [
        ("narrow_notes", notes),
        ("all_inside", all_inside),
        ("accumulate_block", accumulate),
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
    if variant.narrow {
        text = text.replace("IGEMM_PIXELS", "IGEMM_NARROW_PIXELS");
    }
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
fn codegen_unrolls_one_accumulator_per_pixel() {
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
    }
}
