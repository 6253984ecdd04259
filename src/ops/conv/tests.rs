use super::reference::*;
use super::*;
use crate::ops::isa::Family;
use crate::ops::testutil::{assert_close, families, for_each_isa, on_threads, to_f64};
use crate::ops::Axis;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

prop_compose! {
    /// An axis with up to 3 taps, stride and dilation small, and padding
    /// after that may differ from before (asymmetric padding).
    fn any_axis()(input in 1usize..7, kernel in 1usize..4, stride in 1usize..4,
                  pad_before in 0usize..4, pad_after in 0usize..3, dilation in 1usize..3)
                  -> Axis {
        axis(input, kernel, stride, (pad_before, pad_after), dilation)
    }
}

prop_compose! {
    fn geometry()(batch in 1usize..3, groups in 1usize..4, in_per_group in 1usize..3,
                  out_per_group in 1usize..3, h in any_axis(), w in any_axis()) -> ConvGeom {
        geom(batch, groups * in_per_group, groups * out_per_group, groups, h, w)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn matches_reference_and_finite_differences(g in geometry(), seed: u64) {
        check_against_reference(&g, seed);
    }

    #[test]
    fn depthwise_matches_reference(channels in 1usize..5, multiplier in 1usize..3,
                                   batch in 1usize..3, in_h in 1usize..8, in_w in 1usize..8,
                                   k_h in 1usize..4, k_w in 2usize..4, stride_h in 1usize..3,
                                   stride_w in 1usize..3, pad_top in 0usize..3,
                                   pad_left in 0usize..3, dil_h in 1usize..3,
                                   dil_w in 1usize..3, seed: u64) {
        let h = axis(in_h, k_h, stride_h, (pad_top, pad_top), dil_h);
        let w = axis(in_w, k_w, stride_w, (pad_left, pad_left), dil_w);
        check_against_reference(&geom(batch, channels, channels * multiplier, channels, h, w), seed);
    }
}

#[test]
fn padding_that_hides_the_whole_input_row() {
    // in_w 1, pad 2 before, stride 3: the one output column reads only
    // padding. The stacked path once indexed past its padded plane here.
    let g = geom(
        1,
        1,
        1,
        1,
        axis(4, 1, 1, (0, 0), 1),
        axis(1, 1, 3, (2, 0), 1),
    );
    check_against_reference(&g, 0);
}

/// The avx512 family, if this run tests it; else says loudly why not.
fn avx512_family(test: &str) -> Option<Isa> {
    let found = families()
        .into_iter()
        .find(|isa| isa.family() == Family::Avx512);
    if found.is_none() {
        eprintln!("SKIPPED: {test}: the implicit GEMM runs only on the avx512 kernel family, which this CPU (or CNNSCRIPT_ISA) does not give");
    }
    found
}

/// The implicit path, driven directly, against the reference: forward and
/// accumulated weight gradient.
fn check_implicit(g: &ConvGeom, isa: Isa, threads: usize, seed: u64) {
    assert!(
        implicit::suits(g, isa, threads),
        "{g:?} on {threads} threads"
    );
    let c = case(g, seed);
    let (x64, w64, dy64) = (to_f64(&c.x), to_f64(&c.weight), to_f64(&c.dy));
    let mut y = vec![f32::NAN; c.dy.len()];
    implicit::forward(g, isa, &c.x, &c.weight, &mut y, threads, Write::Overwrite);
    assert_close(&y, &reference_forward(g, &x64, &w64, None), 1e-4);
    let mut dweight = vec![0.5f32; c.weight.len()];
    implicit::weight_grad(g, isa, &c.x, &c.dy, &mut dweight, threads);
    let (_, dw) = reference_backward(g, &x64, &w64, &dy64);
    let dw: Vec<f64> = dw.into_iter().map(|v| v + 0.5).collect();
    assert_close(&dweight, &dw, 1e-4);
}

#[test]
fn implicit_path_matches_reference() {
    let Some(isa) = avx512_family("implicit_path_matches_reference") else {
        return;
    };
    // Every geometry the implicit path accepts: not depthwise, some output,
    // a batch item per thread.
    let strategy = (geometry(), 1usize..3, any::<u64>())
        .prop_filter("implicit geometries", |(g, threads, _)| {
            implicit::suits(g, isa, *threads)
        });
    let mut runner = TestRunner::new(Config::with_cases(48));
    let result = runner.run(&strategy, |(g, threads, seed)| {
        check_implicit(&g, isa, threads, seed);
        Ok(())
    });
    result.expect("implicit path matches the reference");
}

#[test]
fn implicit_path_crosses_panels_strips_and_slabs() {
    let Some(isa) = avx512_family("implicit_path_crosses_panels_strips_and_slabs") else {
        return;
    };
    // 19 output channels (three row panels, the last ragged), depth
    // 20·9 = 180 (two slabs), hundreds of wide columns (many strips);
    // then strided and dilated, which splits the buffer into phases.
    let base = geom(
        2,
        20,
        19,
        1,
        axis(13, 3, 1, (1, 1), 1),
        axis(37, 3, 1, (1, 1), 1),
    );
    let strided = geom(
        2,
        4,
        10,
        2,
        axis(13, 5, 2, (3, 3), 2),
        axis(37, 4, 3, (2, 0), 1),
    );
    for g in [base, strided] {
        for threads in [1, 2] {
            check_implicit(&g, isa, threads, 5);
        }
    }
    // A 1×1 window over a 1×1 plane: one wide column, far short of a
    // strip (once a proptest failure).
    let one = axis(1, 1, 1, (0, 0), 1);
    check_implicit(&geom(1, 2, 1, 1, one, one), isa, 1, 0);
}

#[test]
fn every_path_under_every_family() {
    // One geometry per path of each family, odd sizes and padding edges:
    // implicit / wide rows (3×3, stride 1), im2col (stride 2, dilation),
    // pointwise, single input channel, depthwise stride 1 (masked AVX-512
    // or wide planes) and strided (direct loops), grouped.
    let odd = |k, s, pad: (usize, usize), d| axis(9, k, s, pad, d);
    let cases = [
        geom(2, 3, 5, 1, odd(3, 1, (1, 1), 1), axis(11, 3, 1, (0, 2), 1)),
        geom(2, 4, 6, 2, odd(3, 2, (2, 1), 2), axis(10, 2, 3, (1, 0), 1)),
        geom(3, 5, 3, 1, odd(1, 1, (0, 0), 1), odd(1, 1, (0, 0), 1)),
        geom(2, 1, 4, 1, odd(5, 1, (2, 2), 1), odd(5, 1, (2, 2), 1)),
        geom(2, 3, 6, 3, odd(3, 1, (1, 1), 1), axis(19, 3, 1, (2, 0), 2)),
        geom(2, 3, 3, 3, odd(3, 2, (1, 1), 1), odd(2, 2, (0, 1), 1)),
    ];
    for (seed, g) in cases.iter().enumerate() {
        check_against_reference(g, seed as u64);
    }
}

#[test]
fn a_stride_far_past_the_input_needs_no_huge_buffer() {
    // Found by the fuzzer: `conv2d(rand(2x3x6x6), randn(2x3x1x2), s=21000000)`
    // (one output position) made the implicit path ask for a 5 PB buffer;
    // huge padding alike. Both go to kernels that need no such buffer.
    let far = |k| axis(6, k, 21_000_000, (0, 0), 1);
    let padded = |k| axis(6, k, 9_000, (20_000, 20_000), 1);
    for g in [
        geom(2, 3, 2, 1, far(1), far(2)),
        geom(1, 2, 3, 1, padded(3), padded(2)),
    ] {
        for isa in families() {
            assert!(!implicit::suits(&g, isa, 1), "{g:?}");
        }
    }
    check_against_reference(&geom(2, 3, 2, 1, far(1), far(2)), 5);
}

#[test]
fn blocked_backward_matches_reference() {
    // Wide rows: 24·26 = 624 columns per item in blocks of 512, so
    // blocks end inside items.
    check_backward_against_reference(&simple(3, 64, 8, 24, 3, 1), 12);
    // Stride 2 (not wide): 400·40 floats per output row give blocks of
    // 16 rows, the last one short (40 = 16 + 16 + 8).
    let a = axis(80, 5, 2, (2, 2), 1);
    check_backward_against_reference(&geom(2, 16, 4, 1, a, a), 13);
}

#[test]
fn depthwise_rows_wider_than_one_vector() {
    // 37 output columns: three 16-lane runs, the last ragged; padding
    // and dilation put taps outside the row at both ends.
    let g = geom(
        2,
        3,
        6,
        3,
        axis(6, 3, 1, (2, 2), 1),
        axis(37, 4, 1, (3, 3), 2),
    );
    assert!(g.out_w > 32);
    check_against_reference(&g, 11);
}

/// Run the whole batch on two threads (parallel and item-stacking paths,
/// since these sizes pass PARALLEL_MIN_FLOPS) and each item alone, under
/// every family; results must agree, and the forward must match the
/// reference.
fn check_batch_matches_items(g: &ConvGeom, seed: u64) {
    assert!(Dims::new(g, Isa::best()).flops(g) >= PARALLEL_MIN_FLOPS);
    let c = case(g, seed);
    let reference = reference_forward(g, &to_f64(&c.x), &to_f64(&c.weight), Some(&to_f64(&c.bias)));
    let single = g.with_batch(1).expect("one item of a valid batch");
    let (in_item, out_item) = (c.x.len() / g.batch, c.dy.len() / g.batch);
    for_each_isa(|_| {
        let mut y = vec![0.0; c.dy.len()];
        let (mut dx, mut dweight, mut dbias) = (
            vec![0.0; c.x.len()],
            vec![0.0; c.weight.len()],
            vec![0.0; g.out_ch],
        );
        on_threads(2, || {
            conv2d_forward(g, &c.x, &c.weight, Some(&c.bias), &mut y);
            let grads = (Some(&mut dx[..]), Some(&mut dbias[..]));
            conv2d_backward(g, &c.x, &c.weight, &c.dy, grads.0, &mut dweight, grads.1);
        });
        assert_close(&y, &reference, 1e-4);
        let (mut dx_items, mut dweight_items, mut dbias_items) = (
            vec![0.0; c.x.len()],
            vec![0.0; c.weight.len()],
            vec![0.0; g.out_ch],
        );
        for n in 0..g.batch {
            let x_item = &c.x[n * in_item..][..in_item];
            let mut y_item = vec![0.0; out_item];
            conv2d_forward(&single, x_item, &c.weight, Some(&c.bias), &mut y_item);
            assert_close(&y_item, &y[n * out_item..][..out_item], 1e-5);
            let dx_item = Some(&mut dx_items[n * in_item..][..in_item]);
            let dy_item = &c.dy[n * out_item..][..out_item];
            conv2d_backward(
                &single,
                x_item,
                &c.weight,
                dy_item,
                dx_item,
                &mut dweight_items,
                Some(&mut dbias_items),
            );
        }
        assert_close(&dx, &dx_items, 1e-4);
        assert_close(&dweight, &dweight_items, 1e-4);
        assert_close(&dbias, &dbias_items, 1e-4);
    });
}

#[test]
fn parallel_paths_match_per_item() {
    check_batch_matches_items(&simple(4, 16, 16, 16, 3, 1), 5);
    // Small planes: several items stacked into one column matrix.
    check_batch_matches_items(&simple(16, 6, 16, 10, 5, 0), 6);
    // Wide rows, two items per column matrix split into column blocks of
    // 512, the first block ending inside the second item.
    check_batch_matches_items(&simple(4, 64, 8, 20, 3, 1), 10);
    // Pointwise, grouped.
    let one = axis(16, 1, 1, (0, 0), 1);
    check_batch_matches_items(&geom(8, 32, 32, 2, one, one), 7);
    // Depthwise, stride 1 (wide rows) and stride 2 (direct loops).
    let same = axis(24, 3, 1, (1, 1), 1);
    check_batch_matches_items(&geom(4, 64, 64, 64, same, same), 8);
    let half = axis(48, 3, 2, (1, 1), 1);
    check_batch_matches_items(&geom(4, 64, 64, 64, half, half), 9);
}

#[test]
fn pointwise_matches_reference() {
    // 1×1 stride 1 skips im2col: x is already the column matrix.
    check_against_reference(&simple(2, 3, 4, 5, 1, 0), 11);
}

#[test]
fn whole_window_in_padding_and_one_pixel_input() {
    // Padding 3 before and 4 after with a 2×2 kernel: border windows see
    // only zeros.
    let a = axis(1, 2, 1, (3, 4), 1);
    assert_eq!(a.output, 7);
    check_against_reference(&geom(1, 1, 1, 1, a, a), 3);
}

#[test]
fn corr2d_chapter_example() {
    // D2L 7.2: corr2d(X, K) with X = arange(9).reshape(3, 3), K = [[0, 1], [2, 3]]
    // gives [[19, 25], [37, 43]].
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let k = [0.0, 1.0, 2.0, 3.0];
    assert_eq!(corr2d(&x, 3, 3, &k, 2, 2), vec![19.0, 25.0, 37.0, 43.0]);
}

#[test]
fn flipped_kernel_gives_true_convolution() {
    // Rotating [[0,1],[2,3]] by 180° gives [[3,2],[1,0]]; flipping twice is the identity.
    let k = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    let g = simple(1, 1, 2, 2, 2, 0);
    let flipped = flip_kernel(&g, &k);
    assert_eq!(flipped, vec![3.0, 2.0, 1.0, 0.0, 7.0, 6.0, 5.0, 4.0]);
    assert_eq!(flip_kernel(&g, &flipped), k.to_vec());
}

/// The stacked path, driven directly under every family: forward with
/// bias (overwriting and accumulating), dW and dx together, each alone.
fn check_stacked(g: &ConvGeom, seed: u64) {
    let c = case(g, seed);
    let (x64, w64, dy64) = (to_f64(&c.x), to_f64(&c.weight), to_f64(&c.dy));
    let y_ref = reference_forward(g, &x64, &w64, Some(&to_f64(&c.bias)));
    let (dx_ref, dw_ref) = reference_backward(g, &x64, &w64, &dy64);
    let plus = |v: &[f64], s: f64| v.iter().map(|a| a + s).collect::<Vec<_>>();
    for_each_isa(|isa| {
        let d = Dims::new(g, isa);
        let mut y = vec![f32::NAN; c.dy.len()];
        stacked::forward(
            g,
            &d,
            &c.x,
            &c.weight,
            Some(&c.bias),
            &mut y,
            Write::Overwrite,
        );
        assert_close(&y, &y_ref, 1e-4);
        let mut y = vec![0.5f32; c.dy.len()];
        stacked::forward(
            g,
            &d,
            &c.x,
            &c.weight,
            Some(&c.bias),
            &mut y,
            Write::Accumulate,
        );
        assert_close(&y, &plus(&y_ref, 0.5), 1e-4);
        let (mut dx, mut dweight) = (vec![0.5f32; c.x.len()], vec![0.5f32; c.weight.len()]);
        stacked::backward(
            g,
            &d,
            &c.x,
            &c.weight,
            &c.dy,
            Some(&mut dx),
            Some(&mut dweight),
        );
        assert_close(&dx, &plus(&dx_ref, 0.5), 1e-4);
        assert_close(&dweight, &plus(&dw_ref, 0.5), 1e-4);
        let mut dweight_only = vec![0.5f32; c.weight.len()];
        stacked::backward(g, &d, &c.x, &c.weight, &c.dy, None, Some(&mut dweight_only));
        assert_eq!(dweight, dweight_only);
        // The input gradient alone needs no x.
        let mut dx_only = vec![0.5f32; c.x.len()];
        stacked::backward(g, &d, &[], &c.weight, &c.dy, Some(&mut dx_only), None);
        assert_eq!(dx, dx_only);
    });
}

#[test]
fn stacked_path_matches_reference() {
    // Every geometry, depthwise and grouped included (the dispatcher sends
    // grouped depthwise elsewhere, the path itself handles it), on one
    // and two threads.
    let strategy = (geometry(), 1usize..3, any::<u64>());
    let mut runner = TestRunner::new(Config::with_cases(64));
    let result = runner.run(&strategy, |(g, threads, seed)| {
        on_threads(threads, || check_stacked(&g, seed));
        Ok(())
    });
    result.expect("stacked path matches the reference");
}

#[test]
fn stacked_path_splits_column_blocks() {
    // 128·9 column rows × 9·8 columns per output row: 12 output rows fit
    // a column block, so 13 rows take two blocks, the second one row. Then
    // strided (runs of one batch per column), dilated and grouped, with
    // padding past the span on the right (outputs that read only padding).
    let one = geom(
        8,
        128,
        4,
        1,
        axis(13, 3, 1, (1, 1), 1),
        axis(9, 3, 1, (1, 1), 1),
    );
    let l = stacked_block_rows(&one);
    assert!(l < one.out_h, "{l} rows per block");
    check_stacked(&one, 21);
    let strided = geom(
        3,
        6,
        4,
        2,
        axis(11, 3, 2, (1, 2), 2),
        axis(7, 2, 3, (0, 4), 1),
    );
    check_stacked(&strided, 22);
    on_threads(2, || check_stacked(&one, 23));
}

/// Output rows per column block of the stacked path for `g`.
fn stacked_block_rows(g: &ConvGeom) -> usize {
    stacked::block_rows_for(g, &Dims::new(g, Isa::best()))
}

#[test]
fn input_gradient_as_forward_matches_reference() {
    // dx through the forward of the transposed convolution (stride 1):
    // small planes (stacked), larger ones (implicit on avx512), padding
    // past the span (cropped outputs), dilation, groups.
    let cases = [
        geom(
            2,
            3,
            5,
            1,
            axis(7, 3, 1, (1, 1), 1),
            axis(6, 3, 1, (2, 0), 1),
        ),
        geom(
            4,
            8,
            6,
            2,
            axis(24, 3, 1, (1, 1), 1),
            axis(21, 3, 1, (1, 1), 2),
        ),
        geom(
            2,
            4,
            4,
            1,
            axis(9, 2, 1, (0, 3), 1),
            axis(18, 3, 1, (2, 3), 1),
        ),
    ];
    for (seed, g) in cases.iter().enumerate() {
        let t = transposed(g).expect("stride 1 transposes");
        assert_eq!((t.out_h, t.out_w, t.out_ch), (g.in_h, g.in_w, g.in_ch));
        let c = case(g, seed as u64);
        let (dx_ref, _) = reference_backward(g, &to_f64(&c.x), &to_f64(&c.weight), &to_f64(&c.dy));
        for_each_isa(|isa| {
            for threads in [1, 2] {
                let mut dx = vec![0.0f32; c.x.len()];
                on_threads(threads, || {
                    input_grad(g, &Dims::new(g, isa), &c.weight, &c.dy, &mut dx)
                });
                assert_close(&dx, &dx_ref, 1e-4);
            }
        });
    }
    // Padding beyond the span has no transposed convolution with
    // non-negative padding.
    assert!(transposed(&simple(1, 1, 1, 5, 2, 2)).is_none());
}
