//! The CPU reference against cases computed by hand. Each says where its
//! expected numbers come from.

use conv2d_wgpu::{conv2d_cpu, Activation, Conv2dParams, Padding};
use ndarray::{arr1, Array1, Array4, ShapeBuilder};

/// A 1 x 1 x W x C input from a row of values (channel-major list per column).
fn row(values: &[f32], channels: usize) -> Array4<f32> {
    Array4::from_shape_vec((1, 1, values.len() / channels, channels), values.to_vec()).unwrap()
}

/// A 1 x KW x I x O kernel from values in HWIO order.
fn kernel_row(values: &[f32], kw: usize, i: usize, o: usize) -> Array4<f32> {
    Array4::from_shape_vec((1, kw, i, o), values.to_vec()).unwrap()
}

fn run(
    x: &Array4<f32>,
    w: &Array4<f32>,
    b: Option<&Array1<f32>>,
    params: Conv2dParams,
) -> Vec<f32> {
    conv2d_cpu(x.view(), w.view(), b.map(|b| b.view()), params)
        .unwrap()
        .iter()
        .copied()
        .collect()
}

#[test]
fn dilation_skips_input_columns() {
    // By hand: x = 1 2 3 4 5, kernel taps [1, 10] two columns apart (dilation 2).
    // Windows (x0, x2), (x1, x3), (x2, x4): 1 + 30, 2 + 40, 3 + 50.
    let x = row(&[1., 2., 3., 4., 5.], 1);
    let w = kernel_row(&[1., 10.], 2, 1, 1);
    let p = Conv2dParams {
        dilation: [1, 2],
        ..Default::default()
    };
    assert_eq!(run(&x, &w, None, p), vec![31., 42., 53.]);
}

#[test]
fn same_padding_with_stride_puts_the_extra_column_on_the_right() {
    // TensorFlow's SAME rule (SEED.md): in 4, k 3, s 2 -> out ceil(4/2) = 2,
    // total = (2-1)*2 + 3 - 4 = 1, before 0, after 1. Windows [1,2,3] and [3,4,pad].
    let x = row(&[1., 2., 3., 4.], 1);
    let w = kernel_row(&[1., 1., 1.], 3, 1, 1);
    let p = Conv2dParams {
        stride: [1, 2],
        padding: Padding::Same,
        ..Default::default()
    };
    assert_eq!(run(&x, &w, None, p), vec![6., 7.]);
}

#[test]
fn same_padding_with_odd_total_pads_more_at_the_end() {
    // in 3, k 2, s 1: out 3, total 1 -> before 0, after 1: [1,2], [2,3], [3,pad]
    // with taps [1, 100]: 201, 302, 3.
    let x = row(&[1., 2., 3.], 1);
    let w = kernel_row(&[1., 100.], 2, 1, 1);
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    assert_eq!(run(&x, &w, None, p), vec![201., 302., 3.]);
}

#[test]
fn explicit_asymmetric_padding() {
    // Pad one zero on the left only: [0, 1, 2] with taps [1, 1] -> 1, 3.
    let x = row(&[1., 2.], 1);
    let w = kernel_row(&[1., 1.], 2, 1, 1);
    let p = Conv2dParams {
        padding: Padding::Explicit {
            top: 0,
            bottom: 0,
            left: 1,
            right: 0,
        },
        ..Default::default()
    };
    assert_eq!(run(&x, &w, None, p), vec![1., 3.]);
}

#[test]
fn stride_and_dilation_together() {
    // tf.nn.conv2d's meaning: x = 1..7, taps [1, 1] three apart (extent 4), stride 2:
    // out (7 - 4) / 2 + 1 = 2 windows starting at 0 and 2: 1 + 4, 3 + 6.
    let x = row(&[1., 2., 3., 4., 5., 6., 7.], 1);
    let w = kernel_row(&[1., 1.], 2, 1, 1);
    let p = Conv2dParams {
        stride: [1, 2],
        dilation: [1, 3],
        ..Default::default()
    };
    assert_eq!(run(&x, &w, None, p), vec![5., 9.]);
}

#[test]
fn depthwise_with_channel_multiplier() {
    // groups = cin = 2, cout = 4: output o reads input channel o / 2
    // (Keras' DepthwiseConv2D with depth_multiplier 2). One pixel (a, b) = (2, 3),
    // 1x1 weights [10, 20, 30, 40] (HWIO (1, 1, 1, 4)), bias [1, 1, 1, 1]:
    // [2*10, 2*20, 3*30, 3*40] + 1.
    let x = row(&[2., 3.], 2);
    let w = Array4::from_shape_vec((1, 1, 1, 4), vec![10., 20., 30., 40.]).unwrap();
    let b = arr1(&[1., 1., 1., 1.]);
    let p = Conv2dParams {
        groups: 2,
        ..Default::default()
    };
    assert_eq!(run(&x, &w, Some(&b), p), vec![21., 41., 91., 121.]);
}

#[test]
fn grouped_channels_stay_in_their_group() {
    // groups 2, cin 4, cout 2: output 0 sums inputs 0..2, output 1 sums inputs 2..4.
    // Pixel (1, 2, 4, 8) with all-ones weights (1, 1, 2, 2): 1 + 2, 4 + 8.
    let x = row(&[1., 2., 4., 8.], 4);
    let w = Array4::ones((1, 1, 2, 2));
    let p = Conv2dParams {
        groups: 2,
        ..Default::default()
    };
    assert_eq!(run(&x, &w, None, p), vec![3., 12.]);
}

#[test]
fn activation_is_applied_after_the_bias() {
    // x*w = [-3, 2] through bias [1, 5] = [-2, 7]; by hand per activation.
    let x = row(&[1.], 1);
    let w = kernel_row(&[-3., 2.], 1, 1, 2);
    let b = arr1(&[1., 5.]);
    let cases: [(Activation, [f32; 2]); 4] = [
        (Activation::Relu, [0., 7.]),
        (Activation::Relu6, [0., 6.]),
        (Activation::LeakyRelu(0.5), [-1., 7.]),
        (Activation::Linear, [-2., 7.]),
    ];
    for (activation, expected) in cases {
        let p = Conv2dParams {
            activation,
            ..Default::default()
        };
        assert_eq!(
            run(&x, &w, Some(&b), p),
            expected.to_vec(),
            "{activation:?}"
        );
    }
    // sigmoid(0) = 0.5, tanh(0) = 0, silu(0) = 0 exactly.
    let zero_w = kernel_row(&[0.], 1, 1, 1);
    for (activation, expected) in [
        (Activation::Sigmoid, 0.5),
        (Activation::Tanh, 0.),
        (Activation::Silu, 0.),
    ] {
        let p = Conv2dParams {
            activation,
            ..Default::default()
        };
        assert_eq!(run(&x, &zero_w, None, p), vec![expected], "{activation:?}");
    }
}

#[test]
fn non_contiguous_views_give_the_same_answer() {
    // A transposed-then-transposed-back view and a strided slice must read
    // the same logical elements as their owned copies.
    let base = Array4::from_shape_fn((2, 5, 6, 3), |(n, y, x, c)| {
        (n * 100 + y * 10 + x) as f32 + c as f32 * 0.5
    });
    let w = Array4::from_shape_fn((2, 2, 3, 2), |(a, b, c, d)| {
        (a + 2 * b + 3 * c + 5 * d) as f32 - 4.0
    });
    let sliced = base.slice(ndarray::s![.., ..;2, 1.., ..]);
    let owned = sliced.to_owned();
    let p = Conv2dParams::default();
    let want = conv2d_cpu(owned.view(), w.view(), None, p).unwrap();
    assert_eq!(conv2d_cpu(sliced, w.view(), None, p).unwrap(), want);
    let mut fortran = Array4::zeros(owned.raw_dim().f());
    fortran.assign(&owned);
    assert_eq!(conv2d_cpu(fortran.view(), w.view(), None, p).unwrap(), want);
}
