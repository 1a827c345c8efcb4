//! The layer's hyper-parameters, in Keras' terms.

/// How the input is padded before the kernel slides over it.
///
/// `Valid` and `Same` follow Keras/TensorFlow exactly: with `Same` the output
/// has `ceil(in / stride)` rows and an odd total padding puts the extra row
/// (column) at the bottom (right).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding; the kernel must fit inside the input.
    Valid,
    /// TensorFlow's `SAME`: output size `ceil(in / stride)`.
    Same,
    /// Explicit zero padding on each side, possibly asymmetric.
    Explicit {
        /// Rows added above.
        top: usize,
        /// Rows added below.
        bottom: usize,
        /// Columns added on the left.
        left: usize,
        /// Columns added on the right.
        right: usize,
    },
}

/// The function applied to each output after the bias is added.
///
/// NaN propagates through every activation (`Relu(NaN)` is NaN), on the CPU
/// and the GPU alike.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// Identity (Keras' `activation=None`).
    Linear,
    /// `max(v, 0)`.
    Relu,
    /// `min(max(v, 0), 6)`.
    Relu6,
    /// `v` if `v >= 0`, else `slope * v`. The slope must be finite.
    LeakyRelu(f32),
    /// `1 / (1 + exp(-v))`.
    Sigmoid,
    /// `tanh(v)`.
    Tanh,
    /// `v * sigmoid(v)`, also called swish.
    Silu,
}

impl Activation {
    /// Applies the activation to one value; the CPU reference's definition.
    ///
    /// ```
    /// use conv2d_wgpu::Activation;
    /// assert_eq!(Activation::Relu6.apply(7.5), 6.0);
    /// assert_eq!(Activation::LeakyRelu(0.1).apply(-2.0), -0.2);
    /// assert!(Activation::Relu.apply(f32::NAN).is_nan());
    /// ```
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Linear => v,
            Activation::Relu => {
                if v < 0.0 {
                    0.0
                } else {
                    v
                }
            }
            // Rust's clamp keeps NaN.
            Activation::Relu6 => v.clamp(0.0, 6.0),
            Activation::LeakyRelu(slope) => {
                if v < 0.0 {
                    slope * v
                } else {
                    v
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            Activation::Tanh => v.tanh(),
            Activation::Silu => v / (1.0 + (-v).exp()),
        }
    }

    /// The code the shaders' `ACTIVATION` override constant uses.
    pub(crate) fn shader_code(self) -> u32 {
        match self {
            Activation::Linear => 0,
            Activation::Relu => 1,
            Activation::Relu6 => 2,
            Activation::LeakyRelu(_) => 3,
            Activation::Sigmoid => 4,
            Activation::Tanh => 5,
            Activation::Silu => 6,
        }
    }

    /// The LeakyRelu slope, 0 for the others.
    pub(crate) fn slope(self) -> f32 {
        match self {
            Activation::LeakyRelu(slope) => slope,
            _ => 0.0,
        }
    }
}

/// Hyper-parameters of a Conv2D layer, as Keras' `Conv2D` arguments.
///
/// ```
/// use conv2d_wgpu::{Activation, Conv2dParams, Padding};
/// let params = Conv2dParams {
///     stride: [2, 2],
///     padding: Padding::Same,
///     activation: Activation::Relu,
///     ..Default::default()
/// };
/// assert_eq!(params.dilation, [1, 1]);
/// assert_eq!(params.groups, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dParams {
    /// `[sh, sw]`, each at least 1.
    pub stride: [usize; 2],
    /// `[dh, dw]`, each at least 1. May be combined with a stride above 1
    /// (Keras refuses that; `tf.nn.conv2d` computes it, and so does this crate).
    pub dilation: [usize; 2],
    /// Padding mode.
    pub padding: Padding,
    /// Number of groups; `cin` and `cout` must be divisible by it.
    /// `groups == cin` is a depthwise convolution.
    pub groups: usize,
    /// Applied after the bias.
    pub activation: Activation,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            dilation: [1, 1],
            padding: Padding::Valid,
            groups: 1,
            activation: Activation::Linear,
        }
    }
}
