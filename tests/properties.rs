//! Property tests: inferred shapes equal PyTorch's formula evaluated here
//! independently; inferred shapes equal executed shapes; random text never
//! panics the parser or the checker.

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
        if let Ok(script) = parse_script(&text) {
            let _ = check_script(&script);
        }
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
        if let Ok(script) = parse_script(&text) {
            let _ = check_script(&script);
        }
    }
}

/// A random sequential model as text, with the input it takes.
fn model_text() -> impl Strategy<Value = (String, Vec<usize>)> {
    let layer = prop_oneof![
        (1u64..4, 1u64..4, 1u64..3, 0u64..2)
            .prop_map(|(o, k, s, p)| format!("conv(out={o}, k={k}, s={s}, p={p})")),
        (1u64..3, 1u64..3, 0u64..2, 1u64..3)
            .prop_map(|(o, k, p, d)| format!("conv(out={o}, k={k}x{}, p={p}, d={d})", k + 1)),
        (2u64..4, 1u64..3).prop_map(|(k, s)| format!("maxpool(k={k}, s={s}, p=1, ceil=true)")),
        (2u64..4).prop_map(|k| format!("avgpool(k={k}, s=1, p=1, count_pad=false)")),
        Just("relu".to_string()),
        Just("tanh".to_string()),
        Just("batchnorm".to_string()),
    ];
    (
        1usize..4,
        6usize..12,
        6usize..12,
        prop::collection::vec(layer, 1..5),
        any::<bool>(),
    )
        .prop_map(|(c, h, w, layers, head)| {
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
        let Some(checked) = check(&text) else { return Ok(()) };
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
