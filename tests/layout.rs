//! PyTorch layouts: a convolution computed the PyTorch way (NCHW input, OIHW
//! weights, NCHW output) equals the Keras-layout answer after conversion.

mod common;

use common::{random1, random4};
use conv2d_wgpu::{
    conv2d_cpu, nchw_to_nhwc, nhwc_to_nchw, oihw_to_hwio, Conv2dParams, GpuConv2d, Padding,
};
use ndarray::{Array4, ArrayView1, ArrayView4};

/// `torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups)`
/// written out in PyTorch's own layouts, symmetric padding `pad`.
fn torch_conv2d(
    x: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: ArrayView1<f32>,
    stride: usize,
    pad: usize,
    dilation: usize,
    groups: usize,
) -> Array4<f32> {
    let (n, cin, h, w) = x.dim();
    let (cout, cin_g, kh, kw) = weight.dim();
    let out = |size: usize, k: usize| (size + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
    let (ho, wo) = (out(h, kh), out(w, kw));
    let cout_g = cout / groups;
    assert_eq!(cin, cin_g * groups);
    Array4::from_shape_fn((n, cout, ho, wo), |(b, o, oy, ox)| {
        let g = o / cout_g;
        let mut acc = 0.0f32;
        for ci in 0..cin_g {
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (oy * stride + ky * dilation) as isize - pad as isize;
                    let ix = (ox * stride + kx * dilation) as isize - pad as isize;
                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                        acc += x[[b, g * cin_g + ci, iy as usize, ix as usize]]
                            * weight[[o, ci, ky, kx]];
                    }
                }
            }
        }
        acc + bias[o]
    })
}

#[test]
fn pytorch_layout_convolution_equals_the_keras_layout_answer() {
    for (groups, stride, pad, dilation) in [(1, 1, 1, 1), (2, 2, 0, 1), (3, 1, 2, 2)] {
        let x_nchw = random4([2, 6, 9, 8], 1);
        let w_oihw = random4([6, 6 / groups, 3, 3], 2);
        let b = random1(6, 3);
        let torch = torch_conv2d(
            x_nchw.view(),
            w_oihw.view(),
            b.view(),
            stride,
            pad,
            dilation,
            groups,
        );
        let params = Conv2dParams {
            stride: [stride, stride],
            dilation: [dilation, dilation],
            padding: Padding::Explicit {
                top: pad,
                bottom: pad,
                left: pad,
                right: pad,
            },
            groups,
            ..Default::default()
        };
        let x = nchw_to_nhwc(x_nchw.view());
        let w = oihw_to_hwio(w_oihw.view());
        let keras = conv2d_cpu(x, w, Some(b.view()), params).unwrap();
        let back = nhwc_to_nchw(keras.view());
        assert_eq!(back.shape(), torch.shape());
        let worst = (&back - &torch).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(
            worst < 1e-5,
            "groups {groups}: PyTorch layout differs by {worst}"
        );
        // The GPU takes the converted views directly.
        if let Some(ctx) = common::gpu() {
            let y = GpuConv2d::new(ctx, w, Some(b.view()), params)
                .unwrap()
                .forward(x)
                .unwrap();
            common::assert_matches_reference(&y, x, w, Some(b.view()), params, "converted views");
        }
    }
}

#[test]
fn the_seed_in_pytorch_layout() {
    // The seed (../shared/SEED.md) as a PyTorch user holds it: NCHW input,
    // weight[o, i] = kernel_io (OIHW).
    let x_nchw = nhwc_to_nchw(common::seed::input().view()).to_owned();
    let w_hwio = common::seed::weights();
    let w_oihw = Array4::from_shape_fn((2, 2, 3, 3), |(o, i, ky, kx)| w_hwio[[ky, kx, i, o]]);
    let b = ndarray::arr1(&[1.0f32, -1.0]);
    let y = conv2d_cpu(
        nchw_to_nhwc(x_nchw.view()),
        oihw_to_hwio(w_oihw.view()),
        Some(b.view()),
        Conv2dParams::default(),
    )
    .unwrap();
    let y_nchw = nhwc_to_nchw(y.view());
    // Keras' printed output: y_0 = [[15, 18], [9, 19]], y_1 = [[16, 14], [34, 21]].
    assert_eq!(
        y_nchw.iter().copied().collect::<Vec<f32>>(),
        vec![15., 18., 9., 19., 16., 14., 34., 21.]
    );
}
