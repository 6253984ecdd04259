//! Property tests: inferred shapes equal PyTorch's formula evaluated here
//! independently; inferred shapes equal executed shapes; random text never
//! panics the parser, the checker or the interpreter.

use cnnscript::ir::check::{check_script, Checked};
use cnnscript::ir::shape::{Dim, Shape};
use cnnscript::run::Interp;
use cnnscript::syntax::parse::parse_script;
use proptest::prelude::*;

fn check(text: &str) -> Option<Checked> {
    let script = parse_script(text).ok()?;
    let checked = check_script(&script);
    (!checked.has_errors()).then_some(checked)
}

/// PyTorch's conv output size (torch.nn.Conv2d docs), written out again here.
fn torch_conv_out(n: i64, p: i64, d: i64, k: i64, s: i64) -> i64 {
    (n + 2 * p - d * (k - 1) - 1).div_euclid(s) + 1
}

/// PyTorch's pooling_output_shape, including its ceil-mode rule.
fn torch_pool_out(n: i64, p: i64, d: i64, k: i64, s: i64, ceil: bool) -> i64 {
    let num = n + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    if ceil && (out - 1) * s >= n + p {
        out -= 1;
    }
    out
}

/// Parse, check and, when it checks, run a script (in a fresh folder, so
/// nothing it writes lands in the source tree) as `cnnscript run` would:
/// statement by statement until the first error. Errors are fine; a panic
/// fails the property. Returns how many statements ran.
fn parse_check_and_run(text: &str) -> usize {
    let Ok(script) = parse_script(text) else {
        return 0;
    };
    let checked = check_script(&script);
    if checked.has_errors() {
        return 0;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut interp = Interp::new();
    interp.base_dir = dir.path().to_path_buf();
    let mut sink = Vec::new();
    let mut ran = 0;
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        if interp.exec_stmt(stmt, info, &mut sink).is_err() {
            break;
        }
        ran += 1;
    }
    ran
}

fn output_of(checked: &Checked) -> Shape {
    checked.models().last().expect("a model").output().clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn conv_shapes_match_pytorch(
        h in 1i64..40, w in 1i64..40, kh in 1i64..8, kw in 1i64..8,
        sh in 1i64..5, sw in 1i64..5, ph in 0i64..5, pw in 0i64..5,
        dh in 1i64..4, dw in 1i64..4, cin in 1i64..5, cout in 1i64..5,
    ) {
        let text = format!(
            "model m(x: 2x{cin}x{h}x{w}) = conv(out={cout}, k={kh}x{kw}, s={sh}x{sw}, p={ph}x{pw}, d={dh}x{dw})"
        );
        let oh = torch_conv_out(h, ph, dh, kh, sh);
        let ow = torch_conv_out(w, pw, dw, kw, sw);
        let fits = h + 2 * ph > dh * (kh - 1) && w + 2 * pw > dw * (kw - 1);
        match check(&text) {
            Some(c) => {
                prop_assert!(fits, "accepted a kernel that does not fit: {text}");
                let m = c.models().next().expect("model");
                let expect: Shape = vec![2u64, cout as u64, oh as u64, ow as u64].into();
                prop_assert_eq!(m.output(), &expect);
                prop_assert_eq!(m.total_params() as i64, cout * cin * kh * kw + cout);
            }
            None => prop_assert!(!fits, "rejected a valid conv: {text}"),
        }
    }

    #[test]
    fn pool_shapes_match_pytorch(
        h in 1i64..30, w in 1i64..30, kh in 1i64..6, kw in 1i64..6,
        sh in 1i64..4, sw in 1i64..4, ph in 0i64..3, pw in 0i64..3,
        dh in 1i64..3, ceil in any::<bool>(), max in any::<bool>(),
    ) {
        let op = if max { "maxpool" } else { "avgpool" };
        let dil = if max { format!(", d={dh}x1") } else { String::new() };
        let dh = if max { dh } else { 1 };
        let text = format!("model m(x: 1x3x{h}x{w}) = {op}(k={kh}x{kw}, s={sh}x{sw}, p={ph}x{pw}{dil}, ceil={ceil})");
        let legal_pad = ph <= kh / 2 && pw <= kw / 2;
        let fits = h + 2 * ph > dh * (kh - 1) && w + 2 * pw >= kw;
        match check(&text) {
            Some(c) => {
                prop_assert!(legal_pad && fits, "accepted an impossible pool: {text}");
                let expect: Shape = vec![
                    1u64, 3,
                    torch_pool_out(h, ph, dh, kh, sh, ceil) as u64,
                    torch_pool_out(w, pw, 1, kw, sw, ceil) as u64,
                ].into();
                prop_assert_eq!(output_of(&c), expect);
            }
            None => prop_assert!(!(legal_pad && fits), "rejected a valid pool: {text}"),
        }
    }

    #[test]
    fn random_text_never_panics(text in "[a-z0-9xN(){}\\[\\]=,:;>. \n#\"-]{0,120}") {
        let _ = parse_check_and_run(&text);
    }

    #[test]
    fn script_like_text_never_panics(
        parts in prop::collection::vec(prop::sample::select(vec![
            "model", "m", "(", ")", "x", ":", "Nx1x8x8", "4x3", "=", "conv", "maxpool", "linear",
            "flatten", "k=3", "out=2", "p=1", "s=0", "->", "{", "}", "\n", ",", "add", "concat",
            "let", "X", "ones", "[", "]", "0", "-1", "99999999999999999999", "shape", "summary",
            "train", "sgd", "lr=0.1", "data", "print", "a", "b", "relu", "gap", "k=3x", "d=2",
        ]), 0..40)
    ) {
        let text = parts.join(" ");
        let _ = parse_check_and_run(&text);
    }
}

/// Statements that check once `X`, `Y`, `m` and data exist; `{n}` stands for a
/// number, drawn from ordinary and hostile ones.
const STATEMENTS: &[&str] = &[
    "print X",
    "print X.sum() + X.mean() - X.max() * X.min()",
    "print m(X)",
    "let Z = m(X) - Y",
    "X[0, 0, {n}:{n}] = {n}",
    "print X[{n}]",
    "data X -> Y",
    "train sgd lr={n} steps={n} loss=mse",
    "train m adam lr=0.01 epochs={n} batch={n} loss=sse",
    "eval",
    "print m[0:{n}](X).max()",
    "save m \"m.safetensors\"",
    "load m \"m.safetensors\"",
    "save X \"x.npy\"",
    "let X = load(\"x.npy\")",
    "let (A, B) = split(X, {n})",
    "seed {n}",
    "plot \"p.png\"",
    "show m.0.weight \"k.png\"",
    "show X \"x.png\"",
    "let X = X.reshape({n}x1x8x8)",
    "let Y = full(2x2x6x6, {n})",
    "let Y = arange({n}, {n}, {n})",
    "model m(x: Nx1x8x8) = conv(out=2, k=3, p=1) -> maxpool(k=2) -> conv(out=2, k=1, s=2)",
    "model m(x: Nx1x8x8) { a = x -> conv(out=2, k=3) -> batchnorm\n y = concat(a, a) -> relu -> conv(out=2, k=1) }",
];

/// Numbers for `{n}`.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "3",
    "0.5",
    "1e38",
    "99999999999999999999",
];

/// The statements [`statements`] writes before the random ones.
const SET_UP: usize = 4;

/// A script of random [`STATEMENTS`] after the names and data they need.
fn statements() -> impl Strategy<Value = String> {
    let stmt = (
        prop::sample::select(STATEMENTS),
        prop::collection::vec(prop::sample::select(NUMBERS), 3),
    )
        .prop_map(|(text, numbers)| {
            let mut text = text.to_string();
            for n in numbers {
                text = text.replacen("{n}", n, 1);
            }
            text.replace("{n}", "1")
        });
    prop::collection::vec(stmt, 1..8).prop_map(|stmts| {
        format!(
            "let X = rand(2x1x8x8)\nlet Y = rand(2x2x6x6)\n\
             model m(x: Nx1x8x8) = conv(out=2, k=3)\ndata X -> Y\n{}\n",
            stmts.join("\n")
        )
    })
}

/// One layer a generated model may get.
#[derive(Clone, Debug)]
enum Choice {
    /// `conv(out, k, s, p)`
    Conv(u64, i64, i64, i64),
    /// `conv(out, k=k x (k+1), p, d)`
    WideConv(u64, i64, i64, i64),
    /// `maxpool(k, s, p=1, ceil=true)`
    MaxPool(i64, i64),
    /// `avgpool(k, s=1, p=1, count_pad=false)`
    AvgPool(i64),
    Relu,
    Tanh,
    BatchNorm,
}

impl Choice {
    /// The layer's text and the spatial size it gives, or `None` when it
    /// does not fit an `h x w` input (PyTorch's formulas, as above; a pool
    /// window must also fit the padded input).
    fn apply(&self, h: i64, w: i64) -> Option<(String, i64, i64)> {
        let (text, oh, ow) = match *self {
            Choice::Conv(o, k, s, p) => (
                format!("conv(out={o}, k={k}, s={s}, p={p})"),
                torch_conv_out(h, p, 1, k, s),
                torch_conv_out(w, p, 1, k, s),
            ),
            Choice::WideConv(o, k, p, d) => (
                format!("conv(out={o}, k={k}x{}, p={p}, d={d})", k + 1),
                torch_conv_out(h, p, d, k, 1),
                torch_conv_out(w, p, d, k + 1, 1),
            ),
            Choice::MaxPool(k, _) | Choice::AvgPool(k) if h + 2 < k || w + 2 < k => return None,
            Choice::MaxPool(k, s) => (
                format!("maxpool(k={k}, s={s}, p=1, ceil=true)"),
                torch_pool_out(h, 1, 1, k, s, true),
                torch_pool_out(w, 1, 1, k, s, true),
            ),
            Choice::AvgPool(k) => (
                format!("avgpool(k={k}, s=1, p=1, count_pad=false)"),
                torch_pool_out(h, 1, 1, k, 1, false),
                torch_pool_out(w, 1, 1, k, 1, false),
            ),
            Choice::Relu => ("relu".into(), h, w),
            Choice::Tanh => ("tanh".into(), h, w),
            Choice::BatchNorm => ("batchnorm".into(), h, w),
        };
        (oh >= 1 && ow >= 1).then_some((text, oh, ow))
    }
}

/// A random sequential model as text, with the input it takes. Layers are
/// kept only where they fit the incoming size, so every model is valid.
fn model_text() -> impl Strategy<Value = (String, Vec<usize>)> {
    let layer = prop_oneof![
        (1u64..4, 1i64..4, 1i64..3, 0i64..2).prop_map(|(o, k, s, p)| Choice::Conv(o, k, s, p)),
        (1u64..3, 1i64..3, 0i64..2, 1i64..3).prop_map(|(o, k, p, d)| Choice::WideConv(o, k, p, d)),
        (2i64..4, 1i64..3).prop_map(|(k, s)| Choice::MaxPool(k, s)),
        (2i64..4).prop_map(Choice::AvgPool),
        Just(Choice::Relu),
        Just(Choice::Tanh),
        Just(Choice::BatchNorm),
    ];
    (
        1usize..4,
        6usize..12,
        6usize..12,
        prop::collection::vec(layer, 1..5),
        any::<bool>(),
    )
        .prop_map(|(c, h, w, choices, head)| {
            let (mut oh, mut ow) = (h as i64, w as i64);
            let mut layers = Vec::new();
            for choice in &choices {
                if let Some((text, nh, nw)) = choice.apply(oh, ow) {
                    layers.push(text);
                    (oh, ow) = (nh, nw);
                }
            }
            if layers.is_empty() {
                layers.push("relu".to_string());
            }
            let mut chain = layers.join(" -> ");
            if head {
                chain.push_str(" -> flatten -> linear(out=3)");
            }
            (
                format!("model m(x: Nx{c}x{h}x{w}) = {chain}"),
                vec![2, c, h, w],
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn inferred_shape_equals_executed_shape((text, input) in model_text()) {
        let Some(checked) = check(&text) else {
            return Err(TestCaseError::fail(format!("a valid model is rejected: {text}")));
        };
        let script = parse_script(&text).expect("parsed before");
        let mut interp = Interp::new();
        let mut sink = Vec::new();
        interp.exec_stmt(&script.stmts[0], &checked.stmts[0], &mut sink).expect("declares");
        let x = ndarray::ArrayD::from_elem(ndarray::IxDyn(&input), 0.5f32);
        let y = interp.apply_model("m", &x, None, script.stmts[0].span).expect("runs");
        let inferred = output_of(&checked).with_batch(Dim::Known(2));
        let executed: Shape = y.shape().iter().map(|d| *d as u64).collect::<Vec<_>>().into();
        prop_assert_eq!(inferred, executed, "{}", text);
    }
}

/// Random statement sequences run to their answers or to a diagnostic,
/// never a panic; many get past the set-up statements (the others
/// are rejected by the checker, as `seed 0.5` is). A fixed seed keeps the
/// count stable.
#[test]
fn statements_run_to_an_answer_or_a_diagnostic() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (cases, ran) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(Config::with_cases(150), rng);
    let result = runner.run(&statements(), |text| {
        cases.fetch_add(1, Ordering::Relaxed);
        if parse_check_and_run(&text) > SET_UP {
            ran.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    assert!(result.is_ok(), "{result:?}");
    let (cases, ran) = (cases.into_inner(), ran.into_inner());
    assert!(
        4 * ran > cases,
        "only {ran} of {cases} scripts ran past the set-up"
    );
}
