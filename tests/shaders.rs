//! The WGSL the crate compiles, exactly: every kernel as handed to wgpu (element
//! types, tile constants, `params.wgsl`, the shared helpers or a variant's part,
//! the kernel) for f32 and f16 storage,
//! every specialisation of its override
//! constants, validated by the naga that wgpu re-exports before and after the
//! overrides are applied; and the Rust uniform block against WGSL's `Params`.

use conv2d_wgpu::introspect::{kernel_params_layout, shader_specialisations};
use conv2d_wgpu::wgpu::naga;
use conv2d_wgpu::DType;

fn validator(subgroups: bool, dtype: DType) -> naga::valid::Validator {
    let mut capabilities = naga::valid::Capabilities::default();
    if subgroups {
        capabilities |= naga::valid::Capabilities::SUBGROUP;
    }
    if dtype == DType::F16 {
        capabilities |= naga::valid::Capabilities::SHADER_FLOAT16;
    }
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
}

#[test]
fn every_specialisation_parses_and_validates() {
    let specialisations = shader_specialisations();
    let mut kernels = std::collections::BTreeSet::new();
    let mut bounds_values = std::collections::BTreeSet::new();
    let mut dtypes = std::collections::BTreeSet::new();
    let mut vec4_stores = std::collections::BTreeSet::new();
    for spec in &specialisations {
        let name = spec.name;
        let source = &spec.source;
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(source, name)));
        let info = validator(spec.subgroups, spec.dtype)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(source, name)));
        let mut constants = naga::back::PipelineConstants::default();
        for (key, value) in &spec.constants {
            constants.insert(key.to_string(), *value);
            if *key == "CHECK_BOUNDS" {
                bounds_values.insert(*value as u8);
            }
        }
        let (specialised, _) = naga::back::pipeline_constants::process_overrides(
            &module,
            &info,
            Some((naga::ShaderStage::Compute, "main")),
            &constants,
        )
        .unwrap_or_else(|e| panic!("{name} with {:?}: {e}", spec.constants));
        validator(spec.subgroups, spec.dtype)
            .validate(&specialised)
            .unwrap_or_else(|e| panic!("{name} with {:?}: {e:?}", spec.constants));
        kernels.insert(name);
        dtypes.insert(format!("{}", spec.dtype));
        if spec.vec4_stores {
            vec4_stores.insert(name);
        }
    }
    assert_eq!(dtypes.len(), 2, "f32 and f16 storage: {dtypes:?}");
    assert_eq!(kernels.len(), 21, "twenty-one kernels: {kernels:?}");
    assert_eq!(bounds_values.len(), 2, "CHECK_BOUNDS both ways");
    assert_eq!(
        vec4_stores.len(),
        7,
        "the six register-tiled GEMMs and the Winograd output transform also store vec4: {vec4_stores:?}"
    );
}

#[test]
fn f16_kernels_store_f16_and_f32_kernels_need_no_extension() {
    for spec in shader_specialisations() {
        let enables = spec.source.contains("enable f16;");
        assert_eq!(enables, spec.dtype == DType::F16, "{}", spec.name);
        // Without SHADER_FLOAT16, an f16 kernel must not validate (it really
        // declares f16 storage), and an f32 kernel must.
        let module = naga::front::wgsl::parse_str(&spec.source).expect("parses");
        let plain = validator(spec.subgroups, DType::F32).validate(&module);
        assert_eq!(plain.is_ok(), spec.dtype == DType::F32, "{}", spec.name);
    }
}

#[test]
fn rust_uniform_block_matches_wgsl_params() {
    let spec = &shader_specialisations()[0];
    let module = naga::front::wgsl::parse_str(&spec.source).expect("parses");
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).expect("layout");
    let (handle, ty) = module
        .types
        .iter()
        .find(|(_, ty)| ty.name.as_deref() == Some("Params"))
        .expect("params.wgsl declares Params");
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        panic!("Params is a struct");
    };
    let (rust_size, rust_fields) = kernel_params_layout();
    assert_eq!(layouter[handle].size, *span);
    assert_eq!(
        rust_size as u32, *span,
        "size of KernelParams vs WGSL Params"
    );
    let wgsl: Vec<(String, u32)> = members
        .iter()
        .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
        .collect();
    let rust: Vec<(String, u32)> = rust_fields
        .iter()
        .map(|(name, offset)| (name.to_string(), *offset as u32))
        .collect();
    assert_eq!(rust, wgsl, "KernelParams fields and offsets vs WGSL Params");
    assert_eq!(*span % 16, 0, "a uniform block is a multiple of 16 bytes");
}
