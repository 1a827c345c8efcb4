//! Loads a Keras `Conv2D` layer's weights from `.npy` files, as a Keras user
//! hands them over:
//!
//! ```python
//! kernel, bias = model.layers[0].get_weights()   # kernel is HWIO
//! np.save("kernel.npy", kernel.astype(np.float32)); np.save("bias.npy", bias.astype(np.float32))
//! ```
//!
//! ```sh
//! cargo run --release --features npy --example keras_weights -- kernel.npy bias.npy
//! cargo run --release --features npy --example keras_weights     # writes the seed's pair first
//! ```
//! Without arguments it writes the seed's kernel and bias (../shared/SEED.md)
//! with ndarray-npy, loads them back and checks Keras' output, to the digit.

#[path = "../tests/common/seed.rs"]
mod seed;

use std::path::PathBuf;

use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
use ndarray::{s, Array4};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let seed = args.is_empty();
    let (kernel_path, bias_path) = if seed {
        write_seed_pair()?
    } else {
        (args[0].clone(), args.get(1).cloned())
    };

    let ctx = GpuContext::new()?;
    let conv = GpuConv2d::from_npy(
        &ctx,
        &kernel_path,
        bias_path.as_deref(),
        Conv2dParams::default(),
    )?;
    let [kh, kw, cin_g, cout] = conv.weights_shape();
    println!("{}", ctx.adapter_info().name);
    println!(
        "loaded {} (HWIO {kh}x{kw}x{cin_g}x{cout}), {} parameters",
        kernel_path.display(),
        conv.param_count()
    );

    // The seed's image, or a ramp of the layer's input size.
    let x = if seed {
        seed::input()
    } else {
        let cin = cin_g * conv.params().groups;
        Array4::from_shape_fn((1, kh + 3, kw + 3, cin), |(_, y, x, c)| {
            (y + x + c) as f32 / 10.0
        })
    };
    let y = conv.forward(x.view())?;
    for o in 0..y.shape()[3] {
        println!("y_{o} =\n{}", y.slice(s![0, .., .., o]));
    }
    if seed {
        assert_eq!(y, seed::keras_output(), "the seed's Keras output");
        println!("matches Keras' output to the digit");
    }
    Ok(())
}

/// The seed's kernel (HWIO 3x3x2x2) and bias, saved as numpy would.
fn write_seed_pair() -> Result<(PathBuf, Option<PathBuf>), Box<dyn std::error::Error>> {
    let (kernel, bias) = (seed::weights(), seed::bias());
    let dir = std::env::temp_dir().join("conv2d-wgpu-keras-weights");
    std::fs::create_dir_all(&dir)?;
    let (k, b) = (dir.join("kernel.npy"), dir.join("bias.npy"));
    ndarray_npy::write_npy(&k, &kernel)?;
    ndarray_npy::write_npy(&b, &bias)?;
    println!("wrote {} and {}", k.display(), b.display());
    Ok((k, Some(b)))
}
