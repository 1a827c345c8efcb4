//! With feature `tracing`, a forward pass opens spans for adapter selection,
//! pipeline compilation, algorithm choice and dispatch.
#![cfg(feature = "tracing")]

mod common;

use std::sync::{Arc, Mutex};

use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the names of the spans created.
#[derive(Clone, Default)]
struct SpanNames(Arc<Mutex<Vec<String>>>);

impl Subscriber for SpanNames {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut names = self.0.lock().unwrap();
        names.push(span.metadata().name().to_string());
        Id::from_u64(names.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_forward_pass_is_traced() {
    let Some(_) = common::gpu() else { return };
    let names = SpanNames::default();
    tracing::subscriber::with_default(names.clone(), || {
        let ctx = GpuContext::new().unwrap();
        let conv = GpuConv2d::new(
            &ctx,
            common::random4([3, 3, 4, 8], 1).view(),
            None,
            Conv2dParams::default(),
        )
        .unwrap();
        conv.forward(common::random4([1, 20, 20, 4], 2).view())
            .unwrap();
    });
    let names = names.0.lock().unwrap();
    for expected in [
        "conv2d.select_adapter",
        "conv2d.compile_pipeline",
        "conv2d.plan",
        "conv2d.dispatch",
        "conv2d.submit",
        "conv2d.readback",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} span in {names:?}"
        );
    }
}
