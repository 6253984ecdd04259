//! Whole-interpreter workloads of the bench harness (../shared/bench):
//! a LeNet training epoch (Adam, batch 256, xent) and the chapter's edge
//! script, run in-process so a change to the tape or the training loop can
//! be measured without Python.

use criterion::{criterion_group, criterion_main, Criterion};

use cnnscript::ir::check::{check_script, Checked};
use cnnscript::run::Interp;
use cnnscript::syntax::ast::Script;
use cnnscript::syntax::parse::parse_script;

fn prepare(text: &str) -> (Script, Checked) {
    let script = parse_script(text).expect("bench script parses");
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "bench script checks");
    (script, checked)
}

fn run(script: &Script, checked: &Checked) {
    let mut interp = Interp::new();
    interp.progress = false;
    let mut sink = Vec::new();
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        interp
            .exec_stmt(stmt, info, &mut sink)
            .expect("bench script runs");
    }
}

const LENET_EPOCH: &str = "
seed 0
model lenet(x: Nx1x28x28) {
  conv(in=1, out=6, k=5, p=2) relu
  maxpool(k=2, s=2)
  conv(in=6, out=16, k=5) relu
  maxpool(k=2, s=2)
  flatten
  linear(in=400, out=120) relu
  linear(in=120, out=84) relu
  linear(in=84, out=10)
}
let X = rand(1797x1x28x28)
let Y = zeros(1797)
data X -> Y
train lenet adam lr=0.001 epochs=1 batch=256 loss=xent
";

const EDGE: &str = "
let X = ones(6x8)
X[:, 2:6] = 0
let K = [[1, -1]]
let Y = corr2d(X, K)
model edge(x: 1x1x6x8) = conv(in=1, out=1, k=1x2, bias=false)
data X -> Y
train edge sgd lr=0.01 steps=30 loss=sse log=5
";

fn training(c: &mut Criterion) {
    let mut group = c.benchmark_group("training");
    group.sample_size(10);
    let (script, checked) = prepare(LENET_EPOCH);
    group.bench_function("lenet-epoch (incl. data setup)", |b| {
        b.iter(|| run(&script, &checked))
    });
    let (script, checked) = prepare(EDGE);
    group.bench_function("edge-script", |b| b.iter(|| run(&script, &checked)));
    group.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
