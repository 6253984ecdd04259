use super::*;
use crate::ops::testutil::{assert_close, dot, for_each_isa, numeric_grad, random_vec, to_f64};
use crate::ops::Axis;
use proptest::prelude::*;

/// PyTorch's output length, floor or ceil mode; in ceil mode the last
/// window must start inside the input or left padding.
fn out_len(
    input: usize,
    pad_before: usize,
    pad_after: usize,
    dil: usize,
    k: usize,
    s: usize,
    ceil: bool,
) -> usize {
    let span = dil * (k - 1) + 1;
    let padded = input + pad_before + pad_after;
    if padded < span {
        return 0;
    }
    let mut out = if ceil {
        (padded - span).div_ceil(s) + 1
    } else {
        (padded - span) / s + 1
    };
    if ceil && (out - 1) * s >= input + pad_before {
        out -= 1;
    }
    out
}

prop_compose! {
    /// One axis of a pool window, floor or ceil mode, dilation below `max_dil`.
    fn axis(max_dil: usize, ceil: bool)(input in 1usize..8, kernel in 1usize..4,
                                        stride in 1usize..4, pad_before in 0usize..3,
                                        pad_after in 0usize..3, dilation in 1usize..max_dil)
                                        -> Axis {
        let output = out_len(input, pad_before, pad_after, dilation, kernel, stride, ceil);
        Axis { input, kernel, stride, dilation, pad_before, pad_after, output }
    }
}

prop_compose! {
    fn geometry(max_dil: usize)(ceil in any::<bool>())(batch in 1usize..3, channels in 1usize..3,
                                            h in axis(max_dil, ceil), w in axis(max_dil, ceil))
                                            -> PoolGeom {
        PoolGeom::new(batch, channels, h, w).expect("generated pool geometry is valid")
    }
}

/// A pool without dilation: padding `[top, bottom, left, right]`.
fn plain(
    batch: usize,
    channels: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 4],
    output: [usize; 2],
) -> PoolGeom {
    let axis = |i: usize| Axis {
        input: input[i],
        kernel: kernel[i],
        stride: stride[i],
        dilation: 1,
        pad_before: pad[2 * i],
        pad_after: pad[2 * i + 1],
        output: output[i],
    };
    PoolGeom::new(batch, channels, axis(0), axis(1)).expect("valid pool geometry")
}

/// Max pooling straight from the definition, in f64; −∞ for empty windows.
fn reference_max(g: &PoolGeom, x: &[f64]) -> Vec<f64> {
    let mut y = Vec::new();
    for x_plane in x.chunks(g.in_h * g.in_w) {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let mut best = f64::NEG_INFINITY;
                for i in 0..g.k_h {
                    for j in 0..g.k_w {
                        let ih = (oh * g.stride_h + i * g.dil_h) as isize - g.pad_top as isize;
                        let iw = (ow * g.stride_w + j * g.dil_w) as isize - g.pad_left as isize;
                        if ih >= 0 && iw >= 0 && (ih as usize) < g.in_h && (iw as usize) < g.in_w {
                            best = best.max(x_plane[ih as usize * g.in_w + iw as usize]);
                        }
                    }
                }
                y.push(best);
            }
        }
    }
    y
}

/// Average pooling from PyTorch's definition (`avg_pool2d` CPU kernel).
fn reference_avg(g: &PoolGeom, count_pad: bool, x: &[f64]) -> Vec<f64> {
    let mut y = Vec::new();
    for x_plane in x.chunks(g.in_h * g.in_w) {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let h0 = (oh * g.stride_h) as isize - g.pad_top as isize;
                let w0 = (ow * g.stride_w) as isize - g.pad_left as isize;
                let h1 = (h0 + g.k_h as isize).min((g.in_h + g.pad_bottom) as isize);
                let w1 = (w0 + g.k_w as isize).min((g.in_w + g.pad_right) as isize);
                let pool_size = (h1 - h0) * (w1 - w0);
                let (mut sum, mut count) = (0.0, 0);
                for ih in h0.max(0)..h1.min(g.in_h as isize) {
                    for iw in w0.max(0)..w1.min(g.in_w as isize) {
                        sum += x_plane[ih as usize * g.in_w + iw as usize];
                        count += 1;
                    }
                }
                let divisor = if count_pad { pool_size } else { count };
                y.push(if divisor == 0 {
                    0.0
                } else {
                    sum / divisor as f64
                });
            }
        }
    }
    y
}

/// Distinct values spaced ≥ 0.05 apart, so a finite-difference step of
/// 1e-3 never changes which tap is the maximum.
fn distinct_values(len: usize, seed: u64) -> Vec<f32> {
    let keys = random_vec(len, seed);
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut values = vec![0.0; len];
    for (rank, &at) in order.iter().enumerate() {
        values[at] = rank as f32 * 0.05 - 1.0;
    }
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn maxpool_matches_reference_and_finite_differences(g in geometry(3), seed: u64) {
        let x = distinct_values(g.batch * g.channels * g.in_h * g.in_w, seed);
        let out = g.batch * g.channels * g.out_h * g.out_w;
        let expected = reference_max(&g, &to_f64(&x));
        // Backward: d(Σ dy·y)/dx by central differences, skipping −∞ outputs.
        let dy: Vec<f32> = random_vec(out, seed + 1)
            .into_iter().zip(&expected).map(|(d, e)| if e.is_finite() { d } else { 0.0 }).collect();
        let dy64 = to_f64(&dy);
        let fd = numeric_grad(|x| {
            let y = reference_max(&g, x);
            dy64.iter().zip(&y).filter(|(_, y)| y.is_finite()).map(|(d, y)| d * y).sum()
        }, &to_f64(&x), 1e-3);
        let fd: Vec<f64> = fd.into_iter().map(|v| v + 0.25).collect();
        for_each_isa(|_| {
            let (mut y, mut argmax) = (vec![0.0; out], vec![0; out]);
            maxpool2d_forward(&g, &x, &mut y, &mut argmax);
            for (a, e) in y.iter().zip(&expected) {
                assert!((*a as f64 == *e) || (a.is_infinite() && e.is_infinite()), "{a} vs {e}");
            }
            let mut dx = vec![0.25; x.len()];
            maxpool2d_backward(&g, &argmax, &dy, &mut dx);
            assert_close(&dx, &fd, 1e-4);
        });
    }

    #[test]
    fn avgpool_matches_reference_and_finite_differences(g in geometry(2), count_pad: bool, seed: u64) {
        let x = random_vec(g.batch * g.channels * g.in_h * g.in_w, seed);
        let out = g.batch * g.channels * g.out_h * g.out_w;
        let mut y = vec![f32::NAN; out];
        avgpool2d_forward(&g, count_pad, &x, &mut y);
        let x64 = to_f64(&x);
        assert_close(&y, &reference_avg(&g, count_pad, &x64), 1e-5);
        let dy = random_vec(out, seed + 1);
        let dy64 = to_f64(&dy);
        let mut dx = vec![0.25; x.len()];
        avgpool2d_backward(&g, count_pad, &dy, &mut dx);
        let fd = numeric_grad(|x| dot(&dy64, &reference_avg(&g, count_pad, x)), &x64, 1e-3);
        let fd: Vec<f64> = fd.into_iter().map(|v| v + 0.25).collect();
        assert_close(&dx, &fd, 1e-4);
    }
}

#[test]
fn maxpool_chapter_example() {
    // PyTorch: X = torch.arange(32.).reshape(1, 2, 4, 4)
    //          nn.MaxPool2d(3, stride=(2, 1), padding=1)(X).flatten()
    let g = plain(1, 2, [4, 4], [3, 3], [2, 1], [1, 1, 1, 1], [2, 4]);
    let x: Vec<f32> = (0..32).map(|v| v as f32).collect();
    for_each_isa(|_| {
        let (mut y, mut argmax) = (vec![0.0; 16], vec![0; 16]);
        maxpool2d_forward(&g, &x, &mut y, &mut argmax);
        let expected = [5, 6, 7, 7, 13, 14, 15, 15, 21, 22, 23, 23, 29, 30, 31, 31];
        assert_eq!(y, expected.map(|v| v as f32).to_vec());
        // Indices are within each 4×4 plane: second channel's 21 is 21 − 16.
        assert_eq!(argmax[..4], [5, 6, 7, 7]);
        assert_eq!(argmax[8..12], [5, 6, 7, 7]);
    });
}

#[test]
fn maxpool_ties_pick_first_and_nan_wins() {
    // One 2×2 window, stride 2: first of equal maxima (row-major), and NaN beats everything.
    let g = plain(1, 2, [2, 2], [2, 2], [2, 2], [0, 0, 0, 0], [1, 1]);
    let x = [1.0, 3.0, 3.0, 2.0, 1.0, f32::NAN, 9.0, 2.0];
    let (mut y, mut argmax) = (vec![0.0; 2], vec![0; 2]);
    maxpool2d_forward(&g, &x, &mut y, &mut argmax);
    assert_eq!((y[0], argmax[0]), (3.0, 1));
    assert!(y[1].is_nan());
    assert_eq!(argmax[1], 1);
}

#[test]
fn maxpool_all_neg_infinity_points_at_first_tap() {
    // PyTorch's CPU kernel starts each window's index at its first real
    // pixel, so a window of only −∞ still returns that pixel's index.
    let g = plain(1, 1, [4, 5], [2, 2], [2, 1], [0, 0, 1, 0], [2, 5]);
    let x = vec![f32::NEG_INFINITY; 20];
    for_each_isa(|_| {
        let (mut y, mut argmax) = (vec![0.0; 10], vec![0; 10]);
        maxpool2d_forward(&g, &x, &mut y, &mut argmax);
        assert!(y.iter().all(|&v| v == f32::NEG_INFINITY));
        assert_eq!(argmax, vec![0, 0, 1, 2, 3, 10, 10, 11, 12, 13]);
    });
}

#[test]
fn maxpool_window_in_padding_is_neg_infinity() {
    // 1×1 input, k=1, padding 1: the corner windows see only padding.
    let g = plain(1, 1, [1, 1], [1, 1], [1, 1], [1, 1, 1, 1], [3, 3]);
    let (mut y, mut argmax) = (vec![0.0; 9], vec![0; 9]);
    maxpool2d_forward(&g, &[4.0], &mut y, &mut argmax);
    assert_eq!(y[4], 4.0);
    assert_eq!(y[0], f32::NEG_INFINITY);
    assert_eq!(argmax[0], u32::MAX);
    let mut dx = vec![0.0];
    maxpool2d_backward(&g, &argmax, &[1.0; 9], &mut dx);
    assert_eq!(dx, vec![1.0]);
}

#[test]
fn avgpool_ceil_overhang_not_counted() {
    // PyTorch: F.avg_pool2d(torch.arange(9.).reshape(1,1,3,3), 2, stride=2,
    //          ceil_mode=True, count_include_pad=True) = [[2, 3.5], [6.5, 8]]:
    // the overhanging windows divide by the clipped size, not 4.
    let g = plain(1, 1, [3, 3], [2, 2], [2, 2], [0, 0, 0, 0], [2, 2]);
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let mut y = vec![0.0; 4];
    avgpool2d_forward(&g, true, &x, &mut y);
    assert_eq!(y, vec![2.0, 3.5, 6.5, 8.0]);
}

#[test]
fn global_average_pool() {
    // Mean of each 2×2 plane; gradient is dy / 4 on every pixel.
    let x = [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 8.0];
    let mut y = vec![0.0; 2];
    gap_forward(1, 2, 4, &x, &mut y);
    assert_eq!(y, vec![2.5, 2.0]);
    let mut dx = vec![1.0; 8];
    gap_backward(1, 2, 4, &[4.0, -8.0], &mut dx);
    assert_eq!(dx, vec![2.0, 2.0, 2.0, 2.0, -1.0, -1.0, -1.0, -1.0]);
}

/// The values-only forward (inference) against the forward with
/// positions: bit-identical values, NaN and all-padding windows included.
fn check_values_only(g: &PoolGeom, seed: u64) {
    let mut x = random_vec(g.batch * g.channels * g.in_h * g.in_w, seed);
    if let Some(v) = x.get_mut(3) {
        *v = f32::NAN;
    }
    let len = g.batch * g.channels * g.out_h * g.out_w;
    let (mut want, mut arg, mut got) = (vec![0.0; len], vec![0; len], vec![1.0; len]);
    maxpool2d_forward(g, &x, &mut want, &mut arg);
    maxpool2d_forward_values(g, &x, &mut got);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(&want), "{g:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn maxpool_values_only_matches_the_forward_with_positions(g in geometry(3), seed: u64) {
        for_each_isa(|_| check_values_only(&g, seed));
    }
}

#[test]
fn maxpool_values_only_on_large_planes_in_parallel() {
    // LeNet's and ResNet's pools: interior runs of stride 2, padding borders
    let lenet = plain(64, 6, [28, 28], [2, 2], [2, 2], [0; 4], [14, 14]);
    let resnet = plain(4, 16, [56, 56], [3, 3], [2, 2], [1; 4], [28, 28]);
    for_each_isa(|_| {
        crate::ops::testutil::on_threads(2, || {
            check_values_only(&lenet, 1);
            check_values_only(&resnet, 2);
        })
    });
}
