//! Every `shaders/*.wgsl` kernel parses and validates with the naga that wgpu
//! re-exports, as the crate compiles it: `common.wgsl` (uniform block,
//! activation, shared helpers) prepended to each kernel file.

use conv2d_wgpu::wgpu::naga;

#[test]
fn every_shader_parses_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let common = std::fs::read_to_string(dir.join("common.wgsl")).expect("shaders/common.wgsl");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        if path.ends_with("common.wgsl") {
            continue; // a prelude: it uses the bindings each kernel declares
        }
        let body = std::fs::read_to_string(&path).unwrap();
        let source = format!("{common}\n{body}");
        let name = path.display().to_string();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&source, &name)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default() | naga::valid::Capabilities::SUBGROUP,
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&source, &name)));
        checked += 1;
    }
    assert!(checked >= 6, "expected six kernels in {}", dir.display());
}
