//! Kernel timings for the shapes of LeNet and ResNet layers.
//! `cargo bench --bench ops`; PyTorch (2 threads) references are in the ops
//! report and next to each case below.

use cnnscript::ops::conv::{conv2d_backward, conv2d_forward};
use cnnscript::ops::gemm::Gemm;
use cnnscript::ops::linear::{linear_backward, linear_forward};
use cnnscript::ops::pool::{maxpool2d_backward, maxpool2d_forward};
use cnnscript::ops::{Axis, ConvGeom, LinearGeom, PoolGeom};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn filled(len: usize) -> Vec<f32> {
    // Deterministic, varied values in [-1, 1).
    (0..len)
        .map(|i| ((i * 7919 % 2003) as f32 / 1001.5) - 1.0)
        .collect()
}

/// A convolution benchmark case; `first_layer` skips dx in backward.
struct ConvCase {
    name: &'static str,
    geom: ConvGeom,
    first_layer: bool,
}

/// A square convolution case: sizes are [batch, in_ch, out_ch, size,
/// kernel, stride, pad, groups].
fn conv(name: &'static str, sizes: [usize; 8], first_layer: bool) -> ConvCase {
    let [batch, in_ch, out_ch, size, k, stride, pad, groups] = sizes;
    let axis = Axis {
        input: size,
        kernel: k,
        stride,
        dilation: 1,
        pad_before: pad,
        pad_after: pad,
        output: (size + 2 * pad - k) / stride + 1,
    };
    ConvCase {
        name,
        geom: ConvGeom::new(batch, in_ch, out_ch, groups, axis, axis)
            .expect("valid bench geometry"),
        first_layer,
    }
}

fn bench_conv(c: &mut Criterion) {
    // [batch, in_ch, out_ch, size, kernel, stride, pad, groups]
    let cases = [
        // PyTorch: fwd 0.5 ms
        conv(
            "conv-a lenet-c1 N64 1->6 28 k5 p2",
            [64, 1, 6, 28, 5, 1, 2, 1],
            true,
        ),
        // PyTorch: fwd 0.26 ms, fwd+bwd 2.0 ms
        conv(
            "conv-b lenet-c3 N64 6->16 14 k5",
            [64, 6, 16, 14, 5, 1, 0, 1],
            false,
        ),
        // PyTorch: fwd 42 ms, fwd+bwd 165 ms
        conv(
            "conv-c N32 64->64 56 k3 p1",
            [32, 64, 64, 56, 3, 1, 1, 1],
            false,
        ),
        // PyTorch: fwd 10.5 ms, fwd+bwd 86 ms
        conv(
            "conv-d N8 3->64 224 k7 s2 p3",
            [8, 3, 64, 224, 7, 2, 3, 1],
            true,
        ),
        // PyTorch: fwd 33-43 ms, fwd+bwd 134 ms
        conv(
            "conv-f N32 256->256 14 k3 p1",
            [32, 256, 256, 14, 3, 1, 1, 1],
            false,
        ),
        // PyTorch: fwd 1.5 ms, fwd+bwd 4.5-6 ms
        conv(
            "dwconv N32 256ch 14 k3 p1 g256",
            [32, 256, 256, 14, 3, 1, 1, 256],
            false,
        ),
    ];
    for case in &cases {
        let g = &case.geom;
        let len = |shape: [usize; 4]| shape.iter().product();
        let x = filled(len(g.input_shape()));
        let weight = filled(len(g.weight_shape()));
        let bias = filled(g.weight_shape()[0]);
        let mut y = vec![0.0; len(g.output_shape())];
        let dy = filled(y.len());
        let mut dx = vec![0.0; x.len()];
        let mut dweight = vec![0.0; weight.len()];
        let mut dbias = vec![0.0; bias.len()];
        let mut group = c.benchmark_group(case.name);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(2));
        group.bench_function("fwd", |b| {
            b.iter(|| conv2d_forward(g, black_box(&x), &weight, Some(&bias), &mut y))
        });
        group.bench_function("fwd+bwd", |b| {
            b.iter(|| {
                conv2d_forward(g, black_box(&x), &weight, Some(&bias), &mut y);
                let dx = if case.first_layer {
                    None
                } else {
                    Some(dx.as_mut_slice())
                };
                conv2d_backward(
                    g,
                    &x,
                    &weight,
                    black_box(&dy),
                    dx,
                    &mut dweight,
                    Some(&mut dbias),
                );
            })
        });
        group.finish();
    }
}

fn bench_sgemm(c: &mut Criterion) {
    // The GEMM shapes behind conv-c (per item) and conv-f (per item).
    let mut group = c.benchmark_group("sgemm");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));
    for (m, n, k) in [(64, 3136, 576), (256, 196, 2304), (16, 6400, 150)] {
        let a = filled(m * k);
        let b = filled(k * n);
        let mut out = vec![0.0; m * n];
        group.bench_function(format!("{m}x{n}x{k}"), |bench| {
            bench.iter(|| Gemm::new(m, n, k).run(black_box(&a), &b, &mut out))
        });
    }
    group.finish();
}

fn bench_maxpool(c: &mut Criterion) {
    // PyTorch: fwd 175 ms
    let axis = Axis {
        input: 112,
        kernel: 3,
        stride: 2,
        dilation: 1,
        pad_before: 1,
        pad_after: 1,
        output: 56,
    };
    let g = PoolGeom::new(32, 64, axis, axis).expect("valid bench geometry");
    let x = filled(g.input_shape().iter().product());
    let out = g.output_shape().iter().product();
    let (mut y, mut argmax) = (vec![0.0; out], vec![0u32; out]);
    let dy = filled(out);
    let mut dx = vec![0.0; x.len()];
    let mut group = c.benchmark_group("maxpool N32 64ch 112 k3 s2 p1");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("fwd", |b| {
        b.iter(|| maxpool2d_forward(&g, black_box(&x), &mut y, &mut argmax))
    });
    group.bench_function("fwd+bwd", |b| {
        b.iter(|| {
            maxpool2d_forward(&g, black_box(&x), &mut y, &mut argmax);
            maxpool2d_backward(&g, &argmax, black_box(&dy), &mut dx);
        })
    });
    group.finish();
}

fn bench_linear(c: &mut Criterion) {
    // PyTorch: fwd 0.06 ms, fwd+bwd 0.22 ms
    let (batch, in_f, out_f) = (64, 400, 120);
    let g = LinearGeom::new(batch, in_f, out_f).expect("valid bench geometry");
    let x = filled(batch * in_f);
    let weight = filled(out_f * in_f);
    let bias = filled(out_f);
    let mut y = vec![0.0; batch * out_f];
    let dy = filled(y.len());
    let mut dx = vec![0.0; x.len()];
    let mut dweight = vec![0.0; weight.len()];
    let mut dbias = vec![0.0; out_f];
    let mut group = c.benchmark_group("linear N64 400->120");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("fwd", |b| {
        b.iter(|| linear_forward(&g, black_box(&x), &weight, Some(&bias), &mut y))
    });
    group.bench_function("fwd+bwd", |b| {
        b.iter(|| {
            linear_forward(&g, black_box(&x), &weight, Some(&bias), &mut y);
            linear_backward(
                &g,
                &x,
                &weight,
                black_box(&dy),
                Some(&mut dx),
                &mut dweight,
                Some(&mut dbias),
            );
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_sgemm,
    bench_conv,
    bench_maxpool,
    bench_linear
);
criterion_main!(benches);
