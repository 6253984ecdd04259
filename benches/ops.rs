//! Kernel timings for the shapes of LeNet and ResNet layers.
//! `cargo bench --bench ops`; PyTorch (2 threads) references are in the ops
//! report and next to each case below.

use cnnscript::ops::conv::{conv2d_backward, conv2d_forward};
use cnnscript::ops::gemm::sgemm;
use cnnscript::ops::linear::{linear_backward, linear_forward};
use cnnscript::ops::pool::{maxpool2d_backward, maxpool2d_forward};
use cnnscript::ops::{ConvGeom, PoolGeom};
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

#[allow(clippy::too_many_arguments)]
fn conv(
    name: &'static str,
    batch: usize,
    in_ch: usize,
    out_ch: usize,
    size: usize,
    k: usize,
    stride: usize,
    pad: usize,
    groups: usize,
    first_layer: bool,
) -> ConvCase {
    let out = (size + 2 * pad - k) / stride + 1;
    ConvCase {
        name,
        geom: ConvGeom {
            batch,
            in_ch,
            in_h: size,
            in_w: size,
            out_ch,
            k_h: k,
            k_w: k,
            stride_h: stride,
            stride_w: stride,
            pad_top: pad,
            pad_left: pad,
            dil_h: 1,
            dil_w: 1,
            groups,
            out_h: out,
            out_w: out,
        },
        first_layer,
    }
}

fn bench_conv(c: &mut Criterion) {
    let cases = [
        // PyTorch: fwd 0.5 ms
        conv(
            "conv-a lenet-c1 N64 1->6 28 k5 p2",
            64,
            1,
            6,
            28,
            5,
            1,
            2,
            1,
            true,
        ),
        // PyTorch: fwd 0.26 ms, fwd+bwd 2.0 ms
        conv(
            "conv-b lenet-c3 N64 6->16 14 k5",
            64,
            6,
            16,
            14,
            5,
            1,
            0,
            1,
            false,
        ),
        // PyTorch: fwd 42 ms, fwd+bwd 165 ms
        conv(
            "conv-c N32 64->64 56 k3 p1",
            32,
            64,
            64,
            56,
            3,
            1,
            1,
            1,
            false,
        ),
        // PyTorch: fwd 10.5 ms, fwd+bwd 86 ms
        conv(
            "conv-d N8 3->64 224 k7 s2 p3",
            8,
            3,
            64,
            224,
            7,
            2,
            3,
            1,
            true,
        ),
        // PyTorch: fwd 33-43 ms, fwd+bwd 134 ms
        conv(
            "conv-f N32 256->256 14 k3 p1",
            32,
            256,
            256,
            14,
            3,
            1,
            1,
            1,
            false,
        ),
        // PyTorch: fwd 1.5 ms, fwd+bwd 4.5-6 ms
        conv(
            "dwconv N32 256ch 14 k3 p1 g256",
            32,
            256,
            256,
            14,
            3,
            1,
            1,
            256,
            false,
        ),
    ];
    for case in &cases {
        let g = &case.geom;
        let x = filled(g.batch * g.in_ch * g.in_h * g.in_w);
        let weight = filled(g.out_ch * (g.in_ch / g.groups) * g.k_h * g.k_w);
        let bias = filled(g.out_ch);
        let mut y = vec![0.0; g.batch * g.out_ch * g.out_h * g.out_w];
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
            bench.iter(|| sgemm(m, n, k, black_box(&a), false, &b, false, &mut out, false))
        });
    }
    group.finish();
}

fn bench_maxpool(c: &mut Criterion) {
    // PyTorch: fwd 175 ms
    let g = PoolGeom {
        batch: 32,
        channels: 64,
        in_h: 112,
        in_w: 112,
        k_h: 3,
        k_w: 3,
        stride_h: 2,
        stride_w: 2,
        pad_top: 1,
        pad_bottom: 1,
        pad_left: 1,
        pad_right: 1,
        dil_h: 1,
        dil_w: 1,
        out_h: 56,
        out_w: 56,
    };
    let x = filled(g.batch * g.channels * g.in_h * g.in_w);
    let out = g.batch * g.channels * g.out_h * g.out_w;
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
        b.iter(|| {
            linear_forward(
                batch,
                in_f,
                out_f,
                black_box(&x),
                &weight,
                Some(&bias),
                &mut y,
            )
        })
    });
    group.bench_function("fwd+bwd", |b| {
        b.iter(|| {
            linear_forward(
                batch,
                in_f,
                out_f,
                black_box(&x),
                &weight,
                Some(&bias),
                &mut y,
            );
            linear_backward(
                batch,
                in_f,
                out_f,
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
