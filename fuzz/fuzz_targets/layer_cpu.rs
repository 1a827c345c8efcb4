//! (a) Layer and input validation plus the CPU reference and fast path: any
//! layer and input decoded from the bytes gives `Ok` or `Err`, never a panic;
//! the output has the Keras shape, and the fast path (threshold 0, so small
//! layers reach it) equals the reference within the tolerance, or both fail alike.
#![no_main]

use conv2d_wgpu::{conv2d_cpu, conv2d_cpu_fast_path, Padding};
use conv2d_wgpu_fuzz::{assert_close, Case, MAX_OUTPUT};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use ndarray::Array4;

/// Keras' output size along one axis, computed independently of the crate.
fn keras_out(
    input: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: Option<(usize, usize)>,
) -> Option<usize> {
    let extent = (k - 1).checked_mul(dilation)?.checked_add(1)?;
    match pad {
        None => Some(input.div_ceil(stride)), // SAME
        Some((a, b)) => {
            let padded = input.checked_add(a)?.checked_add(b)?;
            Some(if padded < extent {
                0
            } else {
                (padded - extent) / stride + 1
            })
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((case, input_shape)) = Case::decode(&mut u, 12) else {
        return;
    };
    // Huge shapes reach validation through a broadcast view: no allocation.
    let one = Array4::<f32>::zeros([1, 1, 1, 1]);
    let x = if case.input.shape() == input_shape {
        case.input.view()
    } else {
        match one.broadcast(input_shape) {
            Some(view) => view,
            None => return, // beyond isize: no ndarray can have this shape
        }
    };
    let p = case.params;
    let w = case.weights.view();
    let b = case.bias_view();
    // An output too large to allocate here: the reference is not run on it.
    let [n, h, wd, _] = x.shape() else {
        unreachable!()
    };
    let axes = if w.is_empty() || p.stride.contains(&0) || p.dilation.contains(&0) {
        None
    } else {
        let pads = match p.padding {
            Padding::Same => [None, None],
            Padding::Valid => [Some((0, 0)); 2],
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => [Some((top, bottom)), Some((left, right))],
        };
        keras_out(*h, w.shape()[0], p.stride[0], p.dilation[0], pads[0]).zip(keras_out(
            *wd,
            w.shape()[1],
            p.stride[1],
            p.dilation[1],
            pads[1],
        ))
    };
    // Both CPU paths read a broadcast (non-standard) input through a
    // standard-layout copy: keep inputs the fuzzer's time and memory can copy.
    if x.len() > 1 << 20 {
        return;
    }
    if let Some((oh, ow)) = axes {
        let elements = [*n, oh, ow, w.shape()[3]]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d));
        if elements.is_none_or(|e| e > MAX_OUTPUT) {
            return;
        }
        let macs = elements.unwrap().saturating_mul(w.len());
        if macs > 1 << 16 {
            return;
        }
    }
    let reference = conv2d_cpu(x, w, b, p);
    let fast = conv2d_cpu_fast_path(x, w, b, p, 0).map(|(y, _)| y);
    match (&reference, &fast) {
        (Ok(y), Ok(f)) => {
            let (oh, ow) = axes.expect("an accepted layer has valid axes");
            assert_eq!(y.shape(), &[*n, oh, ow, w.shape()[3]], "Keras output shape");
            assert_close(f, x, w, b, p, "fast path");
        }
        // Messages, not `==`: a NaN slope in an error is not equal to itself.
        (Err(r), Err(f)) => assert_eq!(r.to_string(), f.to_string(), "fails as the reference does"),
        _ => panic!(
            "reference {:?} but fast {:?}",
            reference.map(|_| ()),
            fast.map(|_| ())
        ),
    }
});
