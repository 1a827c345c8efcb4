//! The worked example the project started from (../shared/SEED.md): a Keras
//! `Conv2D` with two 3x3 kernels per output channel on a 4x4x2 image, run on the
//! GPU, checked against the CPU reference, printed in the seed's format.

#[path = "../tests/common/seed.rs"]
mod seed;

use conv2d_wgpu::{conv2d_cpu, Conv2dParams, GpuContext, GpuConv2d};
use ndarray::{s, Array2, ArrayView2};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, w, b) = (seed::input(), seed::weights(), seed::bias());
    let params = Conv2dParams::default(); // stride 1, valid, linear

    let ctx = GpuContext::new()?;
    let conv = GpuConv2d::new(&ctx, w.view(), Some(b.view()), params)?;
    let y = conv.forward(x.view())?;
    let y_cpu = conv2d_cpu(x.view(), w.view(), Some(b.view()), params)?;
    assert_eq!(y, y_cpu, "GPU and CPU disagree on the seed");
    assert_eq!(y, seed::keras_output(), "Keras printed a different output");

    let info = ctx.adapter_info();
    println!(
        "Adapter: {} ({:?}, {})",
        info.name, info.backend, info.driver_info
    );
    println!("Layer (type)        Output Shape        Param #");
    let out = conv.output_shape([1, 4, 4, 2])?;
    println!(
        "conv2d (Conv2D)     (None, {}, {}, {})        {}",
        out[1],
        out[2],
        out[3],
        conv.param_count()
    );
    println!("Total params: {}\n", conv.param_count());
    for i in 0..2 {
        println!("data_{i}=\n{}\n", float_matrix(x.slice(s![0, .., .., i])));
    }
    for i in 0..2 {
        for j in 0..2 {
            let k: Array2<i64> = w.slice(s![.., .., i, j]).mapv(|v| v as i64);
            println!("kernel_{i}{j} = \n{}\n", int_matrix(k.view()));
        }
    }
    for (j, bj) in b.iter().enumerate() {
        println!("b_{j} = {bj}");
    }
    println!();
    for j in 0..2 {
        println!("y_{j} =\n{}\n", float_matrix(y.slice(s![0, .., .., j])));
    }
    Ok(())
}

/// numpy's `precision=0` style: `[[15. 18.]\n [ 9. 19.]]`.
fn float_matrix(m: ArrayView2<f32>) -> String {
    let width = m.iter().map(|v| format!("{v:.0}").len()).max().unwrap_or(1);
    rows(m.rows().into_iter().map(|row| {
        row.iter()
            .map(|v| format!("{:>width$}.", format!("{v:.0}")))
            .collect::<Vec<_>>()
            .join(" ")
    }))
}

fn int_matrix(m: ArrayView2<i64>) -> String {
    rows(m.rows().into_iter().map(|row| {
        row.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }))
}

fn rows(rows: impl Iterator<Item = String>) -> String {
    let body: Vec<String> = rows.map(|r| format!("[{r}]")).collect();
    format!("[{}]", body.join("\n "))
}
