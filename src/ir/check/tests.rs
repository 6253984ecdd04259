//! Names after a failed declaration: known, so one mistake is one error.

use super::*;
use crate::syntax::parse::parse_script;

fn codes(text: &str) -> Vec<&'static str> {
    let script = parse_script(text).expect("parses");
    check_script(&script)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

const BAD_NET: &str = "model net(x: 1x1x8x8) = conv(out=2, k=30)\n";

#[test]
fn a_failed_model_stays_known_by_name() {
    let uses = [
        "summary net",
        "let Y = net(rand(1x1x8x8))",
        "data rand(2x1x8x8) -> zeros(2)\ntrain net sgd lr=0.1 steps=1 loss=mse",
        "data rand(2x1x8x8) -> zeros(2)\ntrain sgd lr=0.1 steps=1 loss=mse",
        "data rand(2x1x8x8) -> zeros(2)\neval net",
        "load net \"w.safetensors\"",
        "print net.0.weight",
    ];
    for used in uses {
        assert_eq!(
            codes(&format!("{BAD_NET}{used}\n")),
            ["kernel_too_big"],
            "{used}"
        );
    }
}

#[test]
fn other_names_are_still_checked() {
    assert_eq!(
        codes(&format!("{BAD_NET}summary nett\n")),
        ["kernel_too_big", "unknown_name"]
    );
    // a later tensor of the same name replaces the failed model
    assert_eq!(
        codes(&format!(
            "{BAD_NET}let net = ones(2)\ndata rand(2x1x8x8) -> zeros(2)\ntrain net sgd lr=0.1 steps=1 loss=mse\n"
        )),
        ["kernel_too_big", "unknown_name"]
    );
}

#[test]
fn a_scalar_parameter_is_asked_for_as_a_number() {
    let text = "model m(x: Nx2x4x4) = batchnorm\nm.0.num_batches_tracked = zeros(1)\n";
    let script = parse_script(text).expect("parses");
    let checked = check_script(&script);
    let [e] = checked.diagnostics.as_slice() else {
        panic!("one error: {:?}", checked.diagnostics);
    };
    assert_eq!(e.code, "param_shape");
    assert!(
        e.message.contains("is a scalar but the value is 1"),
        "{}",
        e.message
    );
    let help = e.help.as_deref().unwrap_or("");
    assert!(!help.contains("reshape"), "{help}");
    assert!(help.contains(".sum()"), "{help}");
}
