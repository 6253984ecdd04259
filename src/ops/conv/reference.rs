//! Test support for the convolution kernels: the f64 reference straight
//! from the formula, geometries built the way the tape builds them, and
//! the checks every kernel family must pass.

use crate::ops::conv::{conv2d_backward, conv2d_forward};
use crate::ops::testutil::{assert_close, dot, for_each_isa, numeric_grad, random_vec, to_f64};
use crate::ops::{Axis, ConvGeom};

/// Output length as PyTorch computes it (floor mode).
pub fn out_len(
    input: usize,
    pad_before: usize,
    pad_after: usize,
    dil: usize,
    k: usize,
    s: usize,
) -> usize {
    let span = dil * (k - 1) + 1;
    let padded = input + pad_before + pad_after;
    if padded < span {
        0
    } else {
        (padded - span) / s + 1
    }
}

/// One window axis with its PyTorch output length.
pub fn axis(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: (usize, usize),
    dilation: usize,
) -> Axis {
    Axis {
        input,
        kernel,
        stride,
        dilation,
        pad_before: pad.0,
        pad_after: pad.1,
        output: out_len(input, pad.0, pad.1, dilation, kernel, stride),
    }
}

/// A valid geometry (panics otherwise: test geometries are chosen valid).
pub fn geom(
    batch: usize,
    in_ch: usize,
    out_ch: usize,
    groups: usize,
    h: Axis,
    w: Axis,
) -> ConvGeom {
    ConvGeom::new(batch, in_ch, out_ch, groups, h, w).expect("test geometry is valid")
}

/// Square input `size`, square kernel `k`, stride 1, padding `pad`, one group.
pub fn simple(
    batch: usize,
    in_ch: usize,
    out_ch: usize,
    size: usize,
    k: usize,
    pad: usize,
) -> ConvGeom {
    let a = axis(size, k, 1, (pad, pad), 1);
    geom(batch, in_ch, out_ch, 1, a, a)
}

/// Call `f(y index, x index, w index)` for every product of the convolution
/// whose tap lies inside x, in the order the reference sums them.
fn for_each_tap(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
    let (ipg, opg) = (g.in_ch / g.groups, g.out_ch / g.groups);
    for n in 0..g.batch {
        for o in 0..g.out_ch {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    let yi = ((n * g.out_ch + o) * g.out_h + oh) * g.out_w + ow;
                    for c in 0..ipg {
                        let in_c = (o / opg) * ipg + c;
                        for i in 0..g.k_h {
                            for j in 0..g.k_w {
                                let ih =
                                    (oh * g.stride_h + i * g.dil_h) as isize - g.pad_top as isize;
                                let iw =
                                    (ow * g.stride_w + j * g.dil_w) as isize - g.pad_left as isize;
                                if ih < 0
                                    || iw < 0
                                    || ih >= g.in_h as isize
                                    || iw >= g.in_w as isize
                                {
                                    continue;
                                }
                                let xi = ((n * g.in_ch + in_c) * g.in_h + ih as usize) * g.in_w
                                    + iw as usize;
                                let wi = ((o * ipg + c) * g.k_h + i) * g.k_w + j;
                                f(yi, xi, wi);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Direct seven-loop convolution in f64, straight from the formula at the
/// top of `conv`.
pub fn reference_forward(g: &ConvGeom, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    let plane = g.out_h * g.out_w;
    let mut y: Vec<f64> = (0..g.batch * g.out_ch * plane)
        .map(|yi| b.map_or(0.0, |b| b[(yi / plane.max(1)) % g.out_ch]))
        .collect();
    for_each_tap(g, |yi, xi, wi| y[yi] += w[wi] * x[xi]);
    y
}

/// dx and dW of [`reference_forward`] for output gradient `dy`.
pub fn reference_backward(g: &ConvGeom, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
    for_each_tap(g, |yi, xi, wi| {
        dw[wi] += dy[yi] * x[xi];
        dx[xi] += dy[yi] * w[wi];
    });
    (dx, dw)
}

/// Random inputs of one convolution.
pub struct Case {
    pub x: Vec<f32>,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub dy: Vec<f32>,
}

pub fn case(g: &ConvGeom, seed: u64) -> Case {
    let len = |shape: [usize; 4]| shape.iter().product();
    Case {
        x: random_vec(len(g.input_shape()), seed),
        weight: random_vec(len(g.weight_shape()), seed + 1),
        bias: random_vec(g.out_ch, seed + 2),
        dy: random_vec(len(g.output_shape()), seed + 3),
    }
}

/// Check forward against the reference and every gradient against central
/// differences of the reference, d(Σ dy·y)/dθ, under every kernel family.
pub fn check_against_reference(g: &ConvGeom, seed: u64) {
    let c = case(g, seed);
    let (x64, w64, b64, dy64) = (
        to_f64(&c.x),
        to_f64(&c.weight),
        to_f64(&c.bias),
        to_f64(&c.dy),
    );
    let y_ref = reference_forward(g, &x64, &w64, Some(&b64));
    // Gradients start non-zero to check they accumulate.
    let start = 0.5f32;
    let fd = |grad: Vec<f64>| {
        grad.into_iter()
            .map(|v| v + start as f64)
            .collect::<Vec<_>>()
    };
    let eps = 1e-3;
    let dx_fd = fd(numeric_grad(
        |x| dot(&dy64, &reference_forward(g, x, &w64, Some(&b64))),
        &x64,
        eps,
    ));
    let dw_fd = fd(numeric_grad(
        |w| dot(&dy64, &reference_forward(g, &x64, w, Some(&b64))),
        &w64,
        eps,
    ));
    let db_fd = fd(numeric_grad(
        |b| dot(&dy64, &reference_forward(g, &x64, &w64, Some(b))),
        &b64,
        eps,
    ));
    for_each_isa(|_| {
        let mut y = vec![f32::NAN; c.dy.len()];
        conv2d_forward(g, &c.x, &c.weight, Some(&c.bias), &mut y);
        assert_close(&y, &y_ref, 1e-4);
        let mut dx = vec![start; c.x.len()];
        let mut dweight = vec![start; c.weight.len()];
        let mut dbias = vec![start; c.bias.len()];
        let (dx_out, db_out) = (Some(&mut dx[..]), Some(&mut dbias[..]));
        conv2d_backward(g, &c.x, &c.weight, &c.dy, dx_out, &mut dweight, db_out);
        assert_close(&dx, &dx_fd, 1e-4);
        assert_close(&dweight, &dw_fd, 1e-4);
        assert_close(&dbias, &db_fd, 1e-4);
        // dx: None must give the same dW and leave nothing else touched.
        let mut dweight_only = vec![start; c.weight.len()];
        conv2d_backward(g, &c.x, &c.weight, &c.dy, None, &mut dweight_only, None);
        assert_close(&dweight_only, &dw_fd, 1e-4);
    });
}

/// Backward against the reference (no finite differences: for geometries
/// too large for them), with and without dx, under every kernel family.
pub fn check_backward_against_reference(g: &ConvGeom, seed: u64) {
    let c = case(g, seed);
    let (dx_ref, dw_ref) = reference_backward(g, &to_f64(&c.x), &to_f64(&c.weight), &to_f64(&c.dy));
    for_each_isa(|_| {
        let (mut dx, mut dweight) = (vec![0.0; c.x.len()], vec![0.0; c.weight.len()]);
        conv2d_backward(g, &c.x, &c.weight, &c.dy, Some(&mut dx), &mut dweight, None);
        assert_close(&dx, &dx_ref, 1e-3);
        assert_close(&dweight, &dw_ref, 1e-3);
        // Without dx, dW is the same, to the bit.
        let mut dweight_only = vec![0.0; c.weight.len()];
        conv2d_backward(g, &c.x, &c.weight, &c.dy, None, &mut dweight_only, None);
        assert_eq!(dweight, dweight_only);
    });
}
