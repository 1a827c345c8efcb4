//! The wasm module of the web page (`web/index.html`) and of the browser
//! benchmark (`web/bench.html`): conv2d-wgpu on the browser's WebGPU, driven
//! from JavaScript through wasm-bindgen. Built by `web/build.sh`.
//!
//! Only the crate's async forms are used: a browser cannot block on the GPU.

#[path = "../../../examples/image_filter/filters.rs"]
mod filters;
#[path = "../../../benches/common/shapes.rs"]
#[allow(dead_code)] // the page uses the shapes, not every helper
mod shapes;

use std::rc::Rc;

use conv2d_wgpu::{conv2d_cpu, Algorithm, Conv2dError, GpuContext, GpuConv2d, GpuTensor, Padding};
use js_sys::Promise;
use ndarray::Array1;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

fn js_error(e: Conv2dError) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// Milliseconds from the page's clock (`performance.now()`).
fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|performance| {
            let now = js_sys::Reflect::get(&performance, &"now".into()).ok()?;
            let now: js_sys::Function = now.dyn_into().ok()?;
            now.call0(&performance).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// The names of the filters, in menu order.
#[wasm_bindgen]
pub fn filter_names() -> Vec<String> {
    filters::FILTERS.iter().map(|f| f.to_string()).collect()
}

/// The ids of the benchmark shapes the browser comparison runs (B2-B10).
#[wasm_bindgen]
pub fn bench_ids() -> Vec<String> {
    shapes::shapes()
        .into_iter()
        .map(|s| s.id)
        .filter(|id| id.starts_with('B') && id != "B1")
        .collect()
}

/// Benchmark shape `id` for a JavaScript peer: `{n, h, w, cin, cout, k,
/// stride, padding: "same" | "valid", groups}`.
#[wasm_bindgen]
pub fn bench_shape(id: &str) -> Result<JsValue, JsValue> {
    let shape = find_shape(id)?;
    let p = shape.params;
    let [n, h, w, cin] = shape.input;
    let padding = match p.padding {
        Padding::Same => "same",
        _ => "valid",
    };
    let object = js_sys::Object::new();
    let fields: [(&str, JsValue); 9] = [
        ("n", n.into()),
        ("h", h.into()),
        ("w", w.into()),
        ("cin", cin.into()),
        ("cout", shape.cout.into()),
        ("k", shape.kernel.into()),
        ("stride", p.stride[0].into()),
        ("padding", padding.into()),
        ("groups", p.groups.into()),
    ];
    for (key, value) in fields {
        js_sys::Reflect::set(&object, &key.into(), &value)?;
    }
    Ok(object.into())
}

fn find_shape(id: &str) -> Result<shapes::Shape, JsValue> {
    shapes::shapes()
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| JsError::new(&format!("no benchmark shape {id}")).into())
}

/// A GPU context on the browser's WebGPU adapter.
#[wasm_bindgen]
pub struct Demo {
    ctx: GpuContext,
}

#[wasm_bindgen]
impl Demo {
    /// Asks the browser for an adapter and a device.
    pub async fn create() -> Result<Demo, JsValue> {
        let ctx = GpuContext::new_async().await.map_err(js_error)?;
        Ok(Demo { ctx })
    }

    /// The adapter as wgpu names it (browsers do not tell wgpu the name).
    pub fn adapter(&self) -> String {
        let info = self.ctx.adapter_info();
        match info.name.as_str() {
            "" => format!("wgpu's {:?} backend", info.backend),
            name => format!("{name}, wgpu's {:?} backend", info.backend),
        }
    }

    /// The context as the crate prints it for a bug report: adapter,
    /// subgroups, f16, tuning, limits.
    pub fn describe(&self) -> String {
        self.ctx.to_string()
    }

    /// Runs filter `name` on `width` x `height` RGBA pixels. Resolves to a
    /// [`FilterRun`]: the filtered pixels, the time of the first call (it
    /// compiles the pipeline) and of a second one, and the largest difference
    /// from the CPU reference.
    pub fn filter(&self, name: String, rgba: Vec<u8>, width: usize, height: usize) -> Promise {
        let ctx = self.ctx.clone();
        future_to_promise(async move {
            if rgba.len() != width * height * 4 {
                return Err(JsError::new(&format!(
                    "{} bytes are not {width} x {height} RGBA pixels",
                    rgba.len()
                ))
                .into());
            }
            let (weights, combine) =
                filters::filter_weights(&name).map_err(|e| JsValue::from(JsError::new(&e)))?;
            let params = filters::filter_params();
            let x = filters::input_from_pixels(&rgba, width, height, 4);
            let layer = GpuConv2d::new_async(&ctx, weights.view(), None, params)
                .await
                .map_err(js_error)?;
            let start = now_ms();
            layer.forward_async(x.view()).await.map_err(js_error)?;
            let first_ms = now_ms() - start;
            let start = now_ms();
            let y = layer.forward_async(x.view()).await.map_err(js_error)?;
            let gpu_ms = now_ms() - start;
            let reference = conv2d_cpu(x.view(), weights.view(), None, params).map_err(js_error)?;
            let algorithm = layer
                .algorithm_for([1, height, width, 3])
                .map_err(js_error)?;
            let rgb = filters::pixels_from_output(&y, &combine);
            let pixels = rgb
                .chunks(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            Ok(FilterRun {
                pixels,
                first_ms,
                gpu_ms,
                max_difference: filters::max_difference(&y, &reference),
                algorithm: format!("{algorithm:?}"),
            }
            .into())
        })
    }

    /// Prepares benchmark shape `id` (B2-B10): the layer with bias, and its
    /// input already on the device, with `algorithm` forced when given (its
    /// `Debug` name, as `ImplicitGemm`). Resolves to a [`BenchLayer`], or
    /// rejects when the algorithm does not support the shape.
    pub fn bench_layer(&self, id: String, algorithm: Option<String>) -> Promise {
        let ctx = self.ctx.clone();
        future_to_promise(async move {
            let shape = find_shape(&id)?;
            let w = shapes::filled(shape.weights_shape(), 2);
            let b = Array1::from_shape_fn(shape.cout, |i| i as f32 / shape.cout as f32 - 0.5);
            let mut layer = GpuConv2d::new_async(&ctx, w.view(), Some(b.view()), shape.params)
                .await
                .map_err(js_error)?;
            if let Some(name) = algorithm {
                let forced = Algorithm::ALL
                    .into_iter()
                    .find(|a| format!("{a:?}") == name)
                    .ok_or_else(|| JsValue::from(JsError::new(&format!("no algorithm {name}"))))?;
                layer = layer.with_algorithm(forced).map_err(js_error)?;
            }
            let input = ctx
                .upload(shapes::filled(shape.input, 1).view())
                .map_err(js_error)?;
            let out = layer.output_shape(shape.input).map_err(js_error)?;
            let flops = 2.0
                * (out.iter().product::<usize>() * shape.kernel * shape.kernel * w.shape()[2])
                    as f64;
            let algorithm = format!("{:?}", layer.algorithm_for(shape.input).map_err(js_error)?);
            let output = ctx.zeros(out).map_err(js_error)?;
            Ok(BenchLayer {
                inner: Rc::new((layer, input, output)),
                flops,
                algorithm,
            }
            .into())
        })
    }
}

/// What one filter run gave.
#[wasm_bindgen]
pub struct FilterRun {
    pixels: Vec<u8>,
    first_ms: f64,
    gpu_ms: f64,
    max_difference: f32,
    algorithm: String,
}

#[wasm_bindgen]
impl FilterRun {
    /// The filtered picture, RGBA.
    #[wasm_bindgen(getter)]
    pub fn pixels(&self) -> Vec<u8> {
        self.pixels.clone()
    }
    /// Milliseconds of the first call: upload, pipeline compilation, dispatch, readback.
    #[wasm_bindgen(getter)]
    pub fn first_ms(&self) -> f64 {
        self.first_ms
    }
    /// Milliseconds of the second call: upload, dispatch, readback.
    #[wasm_bindgen(getter)]
    pub fn gpu_ms(&self) -> f64 {
        self.gpu_ms
    }
    /// The largest absolute difference from the CPU reference.
    #[wasm_bindgen(getter)]
    pub fn max_difference(&self) -> f32 {
        self.max_difference
    }
    /// The algorithm the crate chose.
    #[wasm_bindgen(getter)]
    pub fn algorithm(&self) -> String {
        self.algorithm.clone()
    }
}

/// One benchmark layer with its input on the device.
#[wasm_bindgen]
pub struct BenchLayer {
    inner: Rc<(GpuConv2d, GpuTensor, GpuTensor)>,
    flops: f64,
    algorithm: String,
}

#[wasm_bindgen]
impl BenchLayer {
    /// One forward on the device-resident input, read back to the page:
    /// timed by the caller from the call to the promise's end, as TF.js's
    /// `conv2d` + `await y.data()`.
    pub fn run(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let (layer, input, _) = &*inner;
            let y = layer.forward_tensor(input).map_err(js_error)?;
            let host = y.to_array_async().await.map_err(js_error)?;
            Ok(JsValue::from(host.len() as u32))
        })
    }
    /// The floor under [`BenchLayer::run`]: reading back a device tensor of
    /// the output's shape, with no convolution.
    pub fn read_back_only(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let host = inner.2.to_array_async().await.map_err(js_error)?;
            Ok(JsValue::from(host.len() as u32))
        })
    }
    /// Floating-point operations of one forward (2 per multiply-add).
    #[wasm_bindgen(getter)]
    pub fn flops(&self) -> f64 {
        self.flops
    }
    /// The algorithm the crate chose for this shape.
    #[wasm_bindgen(getter)]
    pub fn algorithm(&self) -> String {
        self.algorithm.clone()
    }
}
