//! The import rule of ARCHITECTURE.md, checked on the sources: each layer of
//! `src/` may use only the layers below it (and `trace`, the tracing macro).
//!
//! | layer | may use |
//! |---|---|
//! | `semantics` | itself |
//! | `cpu` | `semantics` |
//! | `runtime` | `semantics` |
//! | `conv` | `semantics`, `runtime` |
//!
//! `semantics` and `cpu` do not mention wgpu at all; `runtime` does not mention
//! the convolution layer.

use std::path::{Path, PathBuf};

const RULES: [(&str, &[&str]); 4] = [
    ("semantics", &["semantics", "trace"]),
    ("cpu", &["cpu", "semantics", "trace"]),
    ("runtime", &["runtime", "semantics", "trace"]),
    ("conv", &["conv", "runtime", "semantics", "trace"]),
];

/// The modules of `src/lib.rs`.
const LAYERS: [&str; 5] = ["semantics", "cpu", "runtime", "conv", "trace"];

/// `wgpu::` in code (comments may name `wgpu::Limits` fields), other than
/// in this crate's own name.
fn mentions_wgpu(source: &str) -> bool {
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .any(|line| {
            line.match_indices("wgpu::")
                .any(|(at, _)| !line[..at].ends_with("conv2d_"))
        })
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first path segment after every `crate::` in `source` (code and docs alike).
fn crate_paths(source: &str) -> Vec<String> {
    source
        .match_indices("crate::")
        .map(|(at, m)| {
            source[at + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut violations = Vec::new();
    for (layer, allowed) in RULES {
        let files = rust_files(&src.join(layer));
        assert!(!files.is_empty(), "src/{layer} exists");
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for target in crate_paths(&source) {
                // Other root paths are the re-exported public API (`crate::GpuConv2d`,
                // `crate::conv2d_cpu`), named in docs.
                let is_layer = LAYERS.contains(&target.as_str());
                if is_layer && !allowed.contains(&target.as_str()) {
                    violations.push(format!("{}: uses crate::{target}", file.display()));
                }
            }
            let wgpu_free = matches!(layer, "semantics" | "cpu");
            if wgpu_free && mentions_wgpu(&source) {
                violations.push(format!("{}: mentions wgpu", file.display()));
            }
            checked += 1;
        }
    }
    assert!(
        violations.is_empty(),
        "layer rule broken:\n{}",
        violations.join("\n")
    );
    assert!(checked >= 20, "only {checked} files checked");
}

#[test]
fn the_checker_sees_a_violation() {
    assert_eq!(
        crate_paths("use crate::conv::layer::GpuConv2d;\nlet x = crate::runtime::context::f();"),
        ["conv", "runtime"]
    );
    assert!(mentions_wgpu("fn f(b: &wgpu::Buffer) {}"));
    assert!(!mentions_wgpu("use conv2d_wgpu::GpuContext;"));
    assert!(!mentions_wgpu("/// the `wgpu::Limits` field"));
}
