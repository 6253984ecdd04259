//! Fused inference against the autograd tape's eval-mode forward (the path
//! `m(X)` took before), and against the unfused plan on the same executor,
//! for random models of every layer kind a fusion touches (conv with and
//! without bias, grouped, depthwise, flipped, strided; batchnorm with
//! random running statistics; relu; residual `add`; `concat`; linear), odd
//! sizes, under every kernel family and on one and two threads.
//!
//! Tolerance: |fused − tape| ≤ 1e-5·(1 + |tape|). Folding changes only the
//! rounding of the per-channel affine map (scale·z + shift against
//! (z + bias − mean)·scale + β), about one f32 ulp per layer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::plan::{Op, Plan};
use super::Inference;
use crate::ir::check::check_script;
use crate::layers::Mode;
use crate::ops::testutil::{assert_close, for_each_isa, on_threads, random_vec};
use crate::run::params::ModelState;
use crate::run::tape::Tape;
use crate::syntax::parse::parse_script;

const TOL: f64 = 1e-5;

/// The last model of `text`, its tensors random: weights as initialised,
/// batchnorm's γ, β and running mean in [-1, 1), running variance in [0.5, 2).
fn model(text: &str, seed: u64) -> ModelState {
    let script = parse_script(text).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "{text}\n{:?}", checked.diagnostics);
    let ir = checked.models().last().expect("a model").clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = ModelState::new(ir, &mut rng);
    for p in &mut m.params {
        if p.name.ends_with("running_var") {
            p.data
                .iter_mut()
                .for_each(|v| *v = rng.random_range(0.5..2.0));
        } else if !p.integer && (p.name.ends_with("running_mean") || p.shape.len() == 1) {
            p.data
                .iter_mut()
                .for_each(|v| *v = rng.random_range(-1.0..1.0));
        }
    }
    m
}

fn input(m: &ModelState, seed: u64) -> (Vec<usize>, Vec<f32>) {
    let shape: Vec<usize> = (m.ir.input.known().expect("a known input shape").iter())
        .map(|&d| d as usize)
        .collect();
    let x = random_vec(shape.iter().product(), seed);
    (shape, x)
}

/// The tape's eval-mode forward.
fn by_tape(m: &mut ModelState, shape: &[usize], x: &[f32]) -> (Vec<usize>, Vec<f32>) {
    let mut tape = Tape::new();
    tape.start(shape, x);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let out = tape
        .forward(m, Mode::Eval, &mut rng, None)
        .expect("tape forward");
    let b = tape.take(out);
    (b.shape, b.data)
}

fn by_plan(
    inf: &mut Inference,
    plan: &Plan,
    m: &mut ModelState,
    shape: &[usize],
    x: &[f32],
) -> (Vec<usize>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let b = inf
        .run_plan(plan, m, shape, |b| b.copy_from_slice(x), &mut rng)
        .expect("inference");
    (b.shape, b.data)
}

/// Fused and unfused inference equal the tape, twice in a row (the second
/// pass runs on pooled buffers).
fn check(text: &str, seed: u64) {
    let mut m = model(text, seed);
    let (shape, x) = input(&m, seed + 1);
    let (want_shape, want) = by_tape(&mut m, &shape, &x);
    let mut inf = Inference::new();
    for plan in [Plan::fused(&m.ir, None), Plan::unfused(&m.ir, None)] {
        for _ in 0..2 {
            let (got_shape, got) = by_plan(&mut inf, &plan, &mut m, &shape, &x);
            assert_eq!(got_shape, want_shape, "{text}");
            assert_close(&got, &want, TOL);
        }
    }
}

const PLAIN: &str = "model m(x: 3x3x9x7) = conv(out=5, k=3, p=1) -> batchnorm -> relu -> \
    conv(out=4, k=2, s=2, bias=false) -> batchnorm -> maxpool(k=2) -> relu -> flatten -> \
    linear(out=6) -> relu -> relu -> linear(out=3)";

const GROUPED: &str = "model m(x: 2x6x10x11) = conv(out=6, k=3, groups=3, p=1, flip=true) -> \
    batchnorm -> relu -> conv(out=12, k=3, groups=6) -> batchnorm -> relu -> \
    conv(out=5, k=1) -> batchnorm -> avgpool(k=2) -> batchnorm -> sigmoid";

const RESIDUAL: &str = "model r(x: 3x4x11x9) {
  a = x -> conv(out=8, k=3, p=1, bias=false) -> batchnorm -> relu
  res = a -> conv(out=8, k=3, p=1, bias=false) -> batchnorm -> relu -> conv(out=8, k=3, p=1) -> batchnorm
  b = add(res, a) -> relu
  res2 = b -> conv(out=16, k=3, s=2, p=1, bias=false) -> batchnorm -> relu -> conv(out=16, k=3, p=1, bias=false) -> batchnorm
  down = b -> conv(out=16, k=1, s=2, bias=false) -> batchnorm
  c = add(down, res2) -> relu
  d = add(c, c)
  e = concat(d, c) -> relu
  head = e -> gap -> flatten -> linear(out=5)
}";

/// Large enough for the parallel passes (≥ 2¹⁶ floats per activation).
const WIDE: &str = "model w(x: 4x16x33x31) {
  a = x -> conv(out=16, k=3, p=1, bias=false) -> batchnorm -> relu
  res = a -> conv(out=16, k=3, p=1) -> batchnorm
  b = add(a, res) -> relu
  head = b -> maxpool(k=3, s=2, p=1) -> conv(out=8, k=3, s=2) -> relu
}";

#[test]
fn fused_inference_matches_the_tape_under_every_family() {
    for_each_isa(|_| {
        for (seed, text) in [PLAIN, GROUPED, RESIDUAL, WIDE].into_iter().enumerate() {
            check(text, seed as u64 * 7);
            on_threads(2, || check(text, seed as u64 * 7 + 3));
        }
    });
}

#[test]
fn a_residual_block_is_two_steps() {
    let m = model(RESIDUAL, 0);
    let plan = Plan::fused(&m.ir, None);
    let convs: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|s| match s.op {
            Op::Conv { bn, .. } => Some((bn.is_some(), s.inputs.len(), s.relu)),
            _ => None,
        })
        .collect();
    // every conv folds its batchnorm; the two block-closing convs carry the
    // residual and the relu after the add
    assert_eq!(
        convs,
        vec![
            (true, 1, true),
            (true, 1, true),
            (true, 2, true),
            (true, 1, true),
            (true, 1, false),
            (true, 2, true),
        ]
    );
    // left: add(c, c) (one value twice), concat (+ relu), gap, flatten, linear
    let others: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| !matches!(s.op, Op::Conv { .. }))
        .map(|s| (s.op.clone(), s.relu))
        .collect();
    assert_eq!(others.len(), 5, "{others:?}");
    assert_eq!(others[1], (Op::Concat, true));
}

#[test]
fn each_activation_is_freed_after_its_last_reader() {
    // after a pass the pool holds every buffer but the output's, and once
    // the pool has settled a pass allocates nothing more
    let mut m = model(RESIDUAL, 1);
    let (shape, x) = input(&m, 2);
    let mut inf = Inference::new();
    let plan = Plan::fused(&m.ir, None);
    let mut pooled = vec![];
    for _ in 0..4 {
        by_plan(&mut inf, &plan, &mut m, &shape, &x);
        pooled.push(inf.pooled_floats());
    }
    assert_eq!(pooled[2], pooled[3], "{pooled:?}");
    let pooled = pooled[3];
    // the tape holds every activation; inference at most the live ones
    let mut three = shape.to_vec();
    three[0] = 3;
    let every = crate::run::activation_bytes(&m.ir, &three, false) as usize / 4;
    assert!(
        2 * pooled <= every,
        "{pooled} floats pooled, {every} in all"
    );
}

#[test]
fn a_model_slice_stops_after_its_layers() {
    let mut m = model(PLAIN, 3);
    let (shape, x) = input(&m, 4);
    let mut inf = Inference::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // conv -> batchnorm: the fold still applies inside the slice
    let b = inf
        .run(&mut m, &shape, |b| b.copy_from_slice(&x), Some(2), &mut rng)
        .expect("slice");
    let mut tape = Tape::new();
    tape.start(&shape, &x);
    let out = tape
        .forward(&mut m, Mode::Eval, &mut rng, Some(2))
        .expect("tape");
    assert_eq!(b.shape, tape.buf(out).shape);
    assert_close(&b.data, &tape.buf(out).data, TOL);
}

#[test]
fn max_pooling_keeps_no_positions() {
    // the tape's max pool saves the argmax for its backward; inference has none
    let mut m = model(PLAIN, 5);
    let (shape, x) = input(&m, 6);
    let mut inf = Inference::new();
    let plan = Plan::fused(&m.ir, None);
    by_plan(&mut inf, &plan, &mut m, &shape, &x);
    let pool =
        m.ir.layers()
            .position(|(_, l)| matches!(l.kind, crate::layers::LayerKind::MaxPool(_)));
    let pool = pool.expect("PLAIN has a max pool");
    assert_eq!(inf.scratch.saved[pool], crate::layers::Saved::Nothing);
}
