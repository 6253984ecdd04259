//! Inference (`let Z = m(X)`, no gradients) in-process: the LeNet of the
//! harness's `ort-lenet-fwd` at batch 256 and one ResNet-18 stage per
//! plane size at batch 8 (conv + batchnorm + relu, residual blocks with a
//! strided shortcut), so a change to the inference planner, its fusions
//! or the conv output pass can be measured without Python. Only the
//! forward line is timed; the model and its input are made once.

use criterion::{criterion_group, criterion_main, Criterion};

use cnnscript::ir::check::check_script;
use cnnscript::run::Interp;
use cnnscript::syntax::parse::parse_script;

/// An interpreter that ran every line of `text` but the last, and a closure
/// running the last (the forward) again.
fn prepared(text: &str) -> impl FnMut() {
    let script = parse_script(text).expect("bench script parses");
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "bench script checks");
    let mut interp = Interp::new();
    interp.progress = false;
    let mut sink = Vec::new();
    let n = script.stmts.len();
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts).take(n - 1) {
        interp
            .exec_stmt(stmt, info, &mut sink)
            .expect("bench setup runs");
    }
    move || {
        interp
            .exec_stmt(&script.stmts[n - 1], &checked.stmts[n - 1], &mut sink)
            .expect("bench forward runs");
    }
}

const LENET: &str = "
model m(x: Nx1x28x28) = conv(in=1, out=6, k=5, p=2) -> relu -> maxpool(k=2, s=2) -> conv(in=6, out=16, k=5) -> relu -> maxpool(k=2, s=2) -> flatten -> linear(in=400, out=120) -> relu -> linear(in=120, out=84) -> relu -> linear(in=84, out=10)
let X = rand(256x1x28x28)
let Z = m(X)
";

/// Two BasicBlocks of `c` channels on `hw`×`hw` planes, the first with a
/// stride-2 1×1 shortcut from `c/2` channels on `2hw` planes.
fn stage(c: usize, hw: usize) -> String {
    let (i, h2) = (c / 2, hw * 2);
    format!(
        "
model m(x: Nx{i}x{h2}x{h2}) {{
  res0 = x -> conv(in={i}, out={c}, k=3, s=2, p=1, bias=false) -> batchnorm -> relu -> conv(in={c}, out={c}, k=3, p=1, bias=false) -> batchnorm
  down = x -> conv(in={i}, out={c}, k=1, s=2, bias=false) -> batchnorm
  b0 = add(res0, down) -> relu
  res1 = b0 -> conv(in={c}, out={c}, k=3, p=1, bias=false) -> batchnorm -> relu -> conv(in={c}, out={c}, k=3, p=1, bias=false) -> batchnorm
  b1 = add(res1, b0) -> relu
}}
let X = rand(8x{i}x{h2}x{h2})
let Z = m(X)
"
    )
}

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    group.sample_size(10);
    let mut forward = prepared(LENET);
    group.bench_function("lenet N256", |b| b.iter(&mut forward));
    for (channels, hw) in [(128, 14), (256, 7), (512, 4)] {
        let mut forward = prepared(&stage(channels, hw));
        let name = format!("resnet18 stage {channels}ch {hw}x{hw} N8");
        group.bench_function(name, |b| b.iter(&mut forward));
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
