//! What the crate compiles, exposed (hidden from the docs) so that
//! `tests/shaders.rs` validates exactly that: every kernel's source and every
//! specialisation of its override constants, and the uniform block's layout.

use crate::conv::choice::{Forced, NarrowTiles, RowWorkgroups, WeightTextures};
use crate::conv::kernels::{KernelKind, Stores};
use crate::conv::uniform;
use crate::semantics::precision::DType;

/// One specialisation of one kernel.
#[derive(Clone, Debug)]
pub struct ShaderSpecialisation {
    /// The kernel's file name.
    pub name: &'static str,
    /// The WGSL handed to wgpu (element types, tile constants, `params.wgsl`, `common.wgsl` or a
    /// Winograd variant's part, the kernel).
    pub source: String,
    /// The storage element type it is compiled for.
    pub dtype: DType,
    /// Its override constants.
    pub constants: Vec<(&'static str, f64)>,
    /// Whether it needs subgroup operations.
    pub subgroups: bool,
    /// Whether it stores its outputs as vec4 (a register-tiled GEMM's
    /// flavour for channel counts that are multiples of 4).
    pub vec4_stores: bool,
}

/// Every kernel for both element types with every activation, both
/// `CHECK_BOUNDS` values where the kernel has that override, both store
/// flavours of the register-tiled GEMMs, and both `ZERO_PADDING` values of
/// those that have it.
pub fn shader_specialisations() -> Vec<ShaderSpecialisation> {
    let mut all = Vec::new();
    for kind in KernelKind::ALL {
        // (CHECK_BOUNDS, ZERO_PADDING): a kernel has at most one of the two,
        // which then takes both values.
        let switches: &[(bool, bool)] = match kind {
            KernelKind::IgemmTiled => &[(true, false), (false, false)],
            _ if kind.has_zero_padding() => &[(true, false), (true, true)],
            _ => &[(true, false)],
        };
        for dtype in [DType::F32, DType::F16] {
            for activation in 0..7 {
                for &stores in kind.store_flavours() {
                    for &(check, zeros) in switches {
                        all.push(ShaderSpecialisation {
                            name: kind.name(),
                            source: kind.source(dtype, stores),
                            dtype,
                            constants: kind.constants(
                                activation,
                                check,
                                kind.workgroup_size(false),
                                zeros,
                            ),
                            subgroups: kind.uses_subgroups(),
                            vec4_stores: stores == Stores::Vec4,
                        });
                    }
                }
            }
        }
    }
    all
}

/// Makes layers on `ctx` use the narrow register-tiled GEMMs (chosen by
/// themselves only on SwiftShader), so the tests run them on any adapter.
/// Affects plans made afterwards.
pub fn use_narrow_tiles(ctx: &crate::GpuContext, on: bool) {
    ctx.extension::<Forced<NarrowTiles>>()
        .set(on.then_some(true));
}

/// Makes layers on `ctx` read their weights through textures where a kernel
/// can (`Some(true)`), never (`Some(false)`), or as its adapter chooses
/// (`None`: CPU adapters without subgroups), so the tests run both kinds on
/// any adapter. Affects plans made afterwards.
pub fn use_weight_textures(ctx: &crate::GpuContext, on: Option<bool>) {
    ctx.extension::<Forced<WeightTextures>>().set(on);
}

/// Makes layers on `ctx` run the register-tiled GEMMs in workgroups of one
/// SIMD row of 8 (`Some(true)`), of 64 (`Some(false)`), or as its adapter
/// chooses (`None`: rows on CPU adapters with 8-lane subgroups or none), so
/// the tests run both sizes on any adapter. Affects plans made afterwards.
pub fn use_row_workgroups(ctx: &crate::GpuContext, on: Option<bool>) {
    ctx.extension::<Forced<RowWorkgroups>>().set(on);
}

/// The Rust uniform block's size and field offsets, to compare with WGSL's `Params`.
pub fn kernel_params_layout() -> (usize, Vec<(&'static str, usize)>) {
    uniform::kernel_params_layout()
}
