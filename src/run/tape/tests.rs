//! The tape end to end: for small models (random chains, fan-out into
//! `add`, `concat`, batchnorm in training and eval, `flip=true` conv,
//! dropout with a fixed mask, every pool setting) the gradients backward
//! gives for the input and every learnable tensor match central finite
//! differences of the loss `L = Σ w·y` (fixed random `w`), computed in f64
//! from the f32 forward, and a second backward on the same tape (stale
//! gradient buffers) gives them again.
//!
//! Piecewise-linear layers (relu, maxpool) have kinks, where a central
//! difference straddling one is off. So the step shrinks (`H`, `H/2`, ...)
//! until `RUN` differences in a row agree: once the step is inside the
//! nearest kink, a piecewise-linear loss gives the same slope at every
//! step, a smooth one nearly so. A coordinate where they never agree is
//! skipped; each model must still have at least half its coordinates checked.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Mode, Tape};
use crate::ir::check::check_script;
use crate::layers::Saved;
use crate::run::params::ModelState;
use crate::syntax::parse::parse_script;

/// The first finite-difference step; each next one is half.
const H: f32 = 8e-3;
/// Steps tried at most (the last is `H/32`).
const STEPS: usize = 6;
/// Rounding in the loss (f32 forward), which a difference divides by its step.
const NOISE: f64 = 2e-7;
/// Differences in a row that must agree.
const RUN: usize = 4;
/// |fd − backward| allowed, relative to max(1, |fd|).
const TOL: f64 = 1e-2;
/// `RUN` differences within this (relative, as `TOL`, plus rounding) agree.
/// Far below `TOL`: many nearby small kinks (a weight that moves every
/// pixel into a maxpool) can make wide steps agree loosely on a wrong slope.
const AGREE: f64 = TOL / 20.0;
/// Coordinates checked per tensor at most (spread over the tensor).
const PER_TENSOR: usize = 40;
/// Seed of the RNG each forward pass gets: the same dropout mask every time.
const MASK_SEED: u64 = 99;

/// The model of `text` (which must check) with seeded initial weights.
fn model(text: &str, seed: u64) -> ModelState {
    let script = parse_script(text).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "{text}\n{:?}", checked.diagnostics);
    let ir = checked.models().last().expect("a model").clone();
    ModelState::new(ir, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn checks(text: &str) -> bool {
    parse_script(text).is_ok_and(|s| !check_script(&s).has_errors())
}

/// What a finite difference perturbs: the input or a tensor of the model.
#[derive(Clone, Copy, Debug)]
enum Target {
    Input,
    Param(usize),
}

/// A model with an input, loss weights and a tape to run them.
struct Harness {
    text: String,
    model: ModelState,
    shape: Vec<usize>,
    x: Vec<f32>,
    w: Vec<f32>,
    mode: Mode,
    tape: Tape,
}

impl Harness {
    fn new(text: &str, mode: Mode, seed: u64) -> Harness {
        let model = model(text, seed);
        let shape: Vec<usize> = model
            .ir
            .input
            .known()
            .expect("a concrete input")
            .into_iter()
            .map(|d| d as usize)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let len: usize = shape.iter().product();
        let x = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut h = Harness {
            text: text.to_string(),
            model,
            shape,
            x,
            w: vec![],
            mode,
            tape: Tape::new(),
        };
        let out = h.run();
        let n = h.tape.buf(out).data.len();
        h.w = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        h
    }

    /// One forward pass; the output buffer.
    fn run(&mut self) -> usize {
        self.tape.start(&self.shape, &self.x);
        let mut rng = ChaCha8Rng::seed_from_u64(MASK_SEED);
        self.tape
            .forward(&mut self.model, self.mode, &mut rng, None)
            .unwrap_or_else(|e| panic!("{}: {e}", self.text))
    }

    fn loss(&mut self) -> f64 {
        let out = self.run();
        let y = &self.tape.buf(out).data;
        y.iter()
            .zip(&self.w)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum()
    }

    /// dL/dx and dL/d(each tensor) from backward.
    fn backward(&mut self) -> (Vec<f32>, Vec<Vec<f32>>) {
        self.tape.keep_input_grad(true);
        let out = self.run();
        let (_, dy) = self.tape.seed_grad(out);
        dy.copy_from_slice(&self.w);
        self.model.zero_grad();
        self.tape.backward_seeded(&mut self.model, out);
        let dx = self.tape.input_grad().to_vec();
        let dparams = self.model.params.iter().map(|p| p.grad.clone()).collect();
        (dx, dparams)
    }

    fn value(&mut self, t: Target, i: usize) -> &mut f32 {
        match t {
            Target::Input => &mut self.x[i],
            Target::Param(p) => &mut self.model.params[p].data[i],
        }
    }

    /// The derivative at one coordinate by central differences, or `None`
    /// when kinks are too close for shrinking steps to agree.
    fn finite_difference(&mut self, t: Target, i: usize) -> Option<f64> {
        let at = *self.value(t, i);
        let mut found: Vec<f64> = Vec::new();
        let mut step = H;
        let mut agreed = None;
        for _ in 0..STEPS {
            *self.value(t, i) = at + step;
            let up = self.loss();
            *self.value(t, i) = at - step;
            let down = self.loss();
            let central = (up - down) / (2.0 * step as f64);
            found.push(central);
            if found.len() >= RUN {
                let (lo, hi) = found[found.len() - RUN..]
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
                if hi - lo <= AGREE * central.abs().max(1.0) + NOISE / step as f64 {
                    agreed = Some(central);
                    break;
                }
            }
            step /= 2.0;
        }
        *self.value(t, i) = at;
        agreed
    }

    /// Check every tensor's gradient at up to `PER_TENSOR` coordinates.
    fn check(&mut self) {
        let (dx, dparams) = self.backward();
        // Again on the same tape, whose gradient buffers now hold the first
        // pass's values: each must be overwritten, not added to.
        let (dx2, dparams2) = self.backward();
        for (again, first) in std::iter::once((&dx2, &dx)).chain(dparams2.iter().zip(&dparams)) {
            let first: Vec<f64> = first.iter().map(|&v| v as f64).collect();
            crate::ops::testutil::assert_close(again, &first, 1e-5);
        }
        assert_eq!(dx.len(), self.x.len(), "{}: input gradient", self.text);
        let mut tensors = vec![(Target::Input, "input".to_string(), dx)];
        for (p, grad) in dparams.into_iter().enumerate() {
            if self.model.params[p].learnable {
                let name = self.model.params[p].name.clone();
                tensors.push((Target::Param(p), name, grad));
            }
        }
        let (mut checked, mut kinks) = (0, 0);
        for (target, name, grad) in tensors {
            let stride = grad.len().div_ceil(PER_TENSOR).max(1);
            for i in (0..grad.len()).step_by(stride) {
                let Some(fd) = self.finite_difference(target, i) else {
                    kinks += 1;
                    continue;
                };
                checked += 1;
                let got = grad[i] as f64;
                assert!(
                    (fd - got).abs() <= TOL * fd.abs().max(1.0),
                    "{}\n{name}[{i}]: backward {got}, finite difference {fd}",
                    self.text
                );
            }
        }
        assert!(
            checked >= kinks && checked > 0,
            "{}\nonly {checked} coordinates checked, {kinks} at kinks",
            self.text
        );
    }
}

fn check(text: &str, mode: Mode) {
    Harness::new(text, mode, 7).check();
}

/// A random conv chain that checks: conv blocks of random geometry with
/// activations, batchnorm and pools, then a head.
fn random_chain(rng: &mut ChaCha8Rng) -> String {
    let pick = |rng: &mut ChaCha8Rng, xs: &[&'static str]| xs[rng.random_range(0..xs.len())];
    for _ in 0..1000 {
        let batch = rng.random_range(2..=3);
        let mut channels = rng.random_range(1..=4);
        let (h, w) = (rng.random_range(5..=8), rng.random_range(5..=8));
        let input = format!("{batch}x{channels}x{h}x{w}");
        let mut layers = Vec::new();
        for _ in 0..rng.random_range(1..=2) {
            let out = rng.random_range(1..=4);
            let k = pick(rng, &["1", "2", "3", "3x2", "2x3"]);
            let s = pick(rng, &["1", "1", "2", "2x1"]);
            let p = if s == "1" {
                pick(rng, &["0", "1", "same"])
            } else {
                pick(rng, &["0", "1", "1x0"])
            };
            let d = pick(rng, &["1", "1", "2"]);
            let groups = if channels % 2 == 0 && out % 2 == 0 && rng.random_bool(0.5) {
                2
            } else {
                1
            };
            let (bias, flip) = (rng.random_bool(0.7), rng.random_bool(0.3));
            layers.push(format!(
                "conv(out={out}, k={k}, s={s}, p={p}, d={d}, groups={groups}, bias={bias}, flip={flip})"
            ));
            channels = out;
            if rng.random_bool(0.3) {
                layers.push("batchnorm".to_string());
            }
            let act = pick(rng, &["tanh", "sigmoid", "relu", ""]);
            if !act.is_empty() {
                layers.push(act.to_string());
            }
            if rng.random_bool(0.4) {
                let pool = pick(rng, &["maxpool", "avgpool"]);
                let k = pick(rng, &["2", "3", "2x3"]);
                let s = pick(rng, &["1", "2", "2x1"]);
                let ceil = rng.random_bool(0.5);
                layers.push(format!("{pool}(k={k}, s={s}, p=1, ceil={ceil})"));
            }
        }
        let head = pick(
            rng,
            &[
                "flatten -> linear(out=3) -> softmax",
                "gap -> flatten -> linear(out=2, bias=false)",
                "flatten -> dropout(p=0.5) -> linear(out=3) -> tanh",
                "sigmoid",
            ],
        );
        layers.push(head.to_string());
        let text = format!("model m(x: {input}) = {}", layers.join(" -> "));
        if checks(&text) {
            return text;
        }
    }
    unreachable!("1000 draws without a model that checks")
}

#[test]
fn random_chains() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for _ in 0..30 {
        check(&random_chain(&mut rng), Mode::Train);
    }
}

#[test]
fn fan_out_into_add_including_the_input() {
    check(
        "model m(x: 2x2x5x5) {
           a = x -> conv(out=2, k=3, p=1) -> tanh
           b = a -> conv(out=2, k=3, p=1, flip=true)
           c = a -> conv(out=2, k=1) -> sigmoid
           y = add(b, c, a, x) -> conv(out=1, k=2) -> tanh
         }",
        Mode::Train,
    );
}

#[test]
fn concat_of_branches_and_the_input() {
    check(
        "model m(x: 2x2x6x5) {
           a = x -> conv(out=3, k=3, p=1, d=1) -> tanh
           b = x -> avgpool(k=3, s=1, p=1, count_pad=false)
           y = concat(a, b, x) -> conv(out=2, k=1) -> flatten -> linear(out=2)
         }",
        Mode::Train,
    );
}

#[test]
fn batchnorm_in_training_and_eval() {
    let text = "model m(x: 3x2x4x4) = conv(out=3, k=3, p=1) -> batchnorm(momentum=0.5) -> tanh ->
                flatten -> linear(out=4) -> batchnorm -> sigmoid";
    check(text, Mode::Train);
    // eval after a few training passes, so the running statistics are not 0 and 1
    let mut h = Harness::new(text, Mode::Train, 3);
    for _ in 0..3 {
        h.run();
    }
    h.mode = Mode::Eval;
    h.check();
}

#[test]
fn conv_flip_groups_dilation_and_same_padding() {
    for conv in [
        "conv(out=2, k=3x2, flip=true)",
        "conv(out=4, k=3, groups=2, d=2, p=same, flip=true)",
        "conv(out=2, k=2, p=same, bias=false)",
        "conv(out=4, k=3, s=2x1, p=1x0, groups=4)",
    ] {
        check(
            &format!("model m(x: 2x4x7x6) = {conv} -> tanh"),
            Mode::Train,
        );
    }
}

#[test]
fn dropout_with_a_fixed_mask() {
    let text = "model m(x: 3x6) = linear(out=8) -> dropout(p=0.5) -> tanh -> linear(out=2)";
    check(text, Mode::Train);
    check(text, Mode::Eval);
    // the mask really drops in training (0 or 1/(1−p)) and not in eval
    for (mode, values) in [(Mode::Train, &[0.0, 2.0][..]), (Mode::Eval, &[1.0][..])] {
        let mut h = Harness::new(text, mode, 7);
        h.run();
        let Saved::Mask(mask) = &h.tape.steps[1].saved else {
            panic!("dropout saves its mask")
        };
        for v in values {
            assert!(mask.contains(v), "{mode:?}: {mask:?}");
        }
        assert!(
            mask.iter().all(|m| values.contains(m)),
            "{mode:?}: {mask:?}"
        );
    }
}

#[test]
fn every_pool_setting() {
    let mut cases = Vec::new();
    for k in ["2", "3", "3x2"] {
        for s in ["1", "2", "2x1"] {
            for p in ["0", "1"] {
                for ceil in [false, true] {
                    for d in ["1", "2"] {
                        cases.push(format!("maxpool(k={k}, s={s}, p={p}, d={d}, ceil={ceil})"));
                    }
                    for count_pad in [false, true] {
                        cases.push(format!(
                            "avgpool(k={k}, s={s}, p={p}, ceil={ceil}, count_pad={count_pad})"
                        ));
                    }
                }
            }
        }
    }
    cases.push("gap".into());
    for pool in cases {
        check(&format!("model m(x: 2x2x7x6) = {pool}"), Mode::Train);
    }
}

#[test]
fn softmax_and_flatten_of_an_image() {
    check(
        "model m(x: 2x3x3x3) = softmax -> flatten -> linear(out=2) -> softmax",
        Mode::Train,
    );
}
