//! The layer table agrees with itself and with each kind: defaults have
//! their argument's type, every entry lowers to a kind that names it, the
//! text of a lowered layer reads back to the same layer, and the tensors a
//! kind creates are the parameters inference counts.

use super::*;
use crate::ir::check::check_script;
use crate::ir::model::Layer;
use crate::syntax::parse::parse_script;

/// The layers of `model m(x: input) = calls`, which must check.
fn lower(input: &str, calls: &str) -> Vec<Layer> {
    let text = format!("model m(x: {input}) = {calls}");
    let script = parse_script(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "{text}: {:?}", checked.diagnostics);
    let model = checked.models().next().expect("one model");
    model.layers().map(|(_, l)| l.clone()).collect()
}

/// An input every layer of the table accepts as its first layer.
fn input_for(spec: &LayerSpec) -> &'static str {
    match spec.input {
        InputRank::AsIs if spec.name != "flatten" => "2x16",
        InputRank::AsIs | InputRank::Any | InputRank::Image | InputRank::ImageIfRank3 => "2x4x8x8",
    }
}

/// Calls with every argument away from its default, one per layer name.
const FULL_CALLS: &[(&str, &str)] = &[
    (
        "2x4x9x9",
        "conv(in=4, out=6, k=3x5, s=2x1, p=1x2, d=2x1, groups=2, bias=false, flip=true)",
    ),
    ("2x3x9x8", "maxpool(k=3x2, s=2x1, p=1x0, d=2, ceil=true)"),
    (
        "2x3x9x8",
        "avgpool(k=3, s=2, p=1, ceil=true, count_pad=false)",
    ),
    ("2x3x5x5", "gap"),
    ("2x16", "linear(in=16, out=3, bias=false)"),
    ("2x3x4x4", "flatten"),
    ("2x5", "relu"),
    ("2x5", "sigmoid"),
    ("2x5", "tanh"),
    ("2x5x2", "softmax"),
    ("2x5", "dropout(p=0.25)"),
    ("2x3x4x4", "batchnorm(eps=0.001, momentum=0.2)"),
];

#[test]
fn every_default_has_its_argument_type() {
    for spec in LAYERS {
        for arg in spec.args {
            let fits = |v: Val| {
                matches!(
                    (arg.ty, v),
                    (ArgType::Count, Val::Count(_))
                        | (ArgType::Pair, Val::Pair(_))
                        | (ArgType::Padding, Val::Pad(_))
                        | (ArgType::Bool, Val::Bool(_))
                        | (ArgType::Real, Val::Real(_))
                        | (ArgType::Init, Val::Init(_))
                )
            };
            let ok = match arg.default {
                ArgDefault::Required | ArgDefault::Inferred => true,
                ArgDefault::Value(v) => fits(v),
                ArgDefault::SameAs(other) => spec.arg(other).is_some_and(|o| o.ty == arg.ty),
            };
            assert!(ok, "{}: default of `{}`", spec.name, arg.name);
            assert!(
                arg.range == Range::Any || arg.ty == ArgType::Real,
                "{}: a range on the non-real `{}`",
                spec.name,
                arg.name
            );
        }
    }
}

#[test]
fn defaults_read_as_a_script_writes_them() {
    let default = |layer: &str, arg: &str| {
        layer_spec(layer)
            .and_then(|s| s.arg(arg))
            .and_then(|a| a.default_text())
    };
    assert_eq!(default("conv", "s").as_deref(), Some("1"));
    assert_eq!(default("conv", "p").as_deref(), Some("0"));
    assert_eq!(default("conv", "init").as_deref(), Some("default"));
    assert_eq!(default("conv", "out"), None);
    assert_eq!(default("maxpool", "s").as_deref(), Some("k"));
    assert_eq!(default("batchnorm", "eps").as_deref(), Some("1e-5"));
    assert_eq!(default("batchnorm", "momentum").as_deref(), Some("0.1"));
    assert_eq!(default("dropout", "p").as_deref(), Some("0.5"));
    let conv = layer_spec("conv").expect("conv");
    let sig: Vec<String> = conv.args.iter().map(ArgSpec::signature).collect();
    assert_eq!(
        sig.join(", "),
        "in, out, k, s=1, p=0, d=1, groups=1, bias=true, flip=false, init=default"
    );
}

#[test]
fn every_table_entry_lowers_to_a_kind_that_names_it() {
    for spec in LAYERS {
        let layers = lower(input_for(spec), spec.example);
        assert_eq!(layers[0].kind.name(), spec.name);
        assert_eq!(layers[0].kind.spec().example, spec.example);
    }
    for (input, call) in FULL_CALLS {
        let name = call.split('(').next().unwrap_or(call);
        assert_eq!(lower(input, call)[0].op(), name, "{call}");
    }
    let named: Vec<&str> = FULL_CALLS
        .iter()
        .map(|(_, c)| c.split('(').next().unwrap_or(c))
        .collect();
    let table: Vec<&str> = LAYERS.iter().map(|l| l.name).collect();
    assert_eq!(named, table, "FULL_CALLS covers the table in its order");
}

#[test]
fn text_leaves_out_defaults_and_reads_back_to_the_same_layer() {
    let text = |input: &str, call: &str| lower(input, call)[0].kind.text();
    assert_eq!(
        text("1x4x8x8", "conv(out=6, k=5)"),
        "conv(in=4, out=6, k=5)"
    );
    assert_eq!(text("1x4x8x8", "maxpool(k=2, s=2)"), "maxpool(k=2)");
    assert_eq!(text("1x4x8x8", "maxpool(k=3, s=2)"), "maxpool(k=3, s=2)");
    assert_eq!(
        text("1x4x8x8", "avgpool(k=2, count_pad=true)"),
        "avgpool(k=2)"
    );
    assert_eq!(text("2x4", "dropout"), "dropout(p=0.5)");
    assert_eq!(text("2x4", "batchnorm(eps=1e-5)"), "batchnorm");
    assert_eq!(text("2x4", "batchnorm(eps=1e-6)"), "batchnorm(eps=1e-6)");
    assert_eq!(
        text("1x1x8x8", "conv(out=1, k=4, p=same)"),
        "conv(in=1, out=1, k=4, p=1+2x1+2)"
    );
    for (input, call) in FULL_CALLS {
        let first = &lower(input, call)[0];
        let again = &lower(input, &first.kind.text())[0];
        assert_eq!(again.kind, first.kind, "{call} -> {}", first.kind.text());
    }
}

#[test]
fn tensors_hold_the_parameters_inference_counts() {
    for (input, call) in FULL_CALLS.iter().chain(&[
        ("1x6x8x8", "conv(out=4, k=3, groups=2)"),
        ("2x16", "linear(out=3)"),
    ]) {
        let layer = &lower(input, call)[0];
        let tensors = layer.kind.tensors();
        let learnable: usize = tensors
            .iter()
            .filter(|t| t.role == Role::Learnable)
            .map(|t| t.shape.iter().product::<usize>())
            .sum();
        assert_eq!(learnable as u64, layer.params, "{call}");
        for t in &tensors {
            if let Fill::Init { fan_in, .. } = t.fill {
                assert!(fan_in > 1, "{call}: {} has fan-in {fan_in}", t.suffix);
            }
        }
    }
    // PyTorch's fan-in: in/groups · kh · kw, and in_features
    let conv = &lower("1x6x8x8", "conv(out=4, k=3x2, groups=2)")[0];
    let linear = &lower("2x16", "linear(out=3)")[0];
    for (layer, fan_in) in [(conv, 3 * 3 * 2), (linear, 16)] {
        for t in layer.kind.tensors() {
            assert!(
                matches!(t.fill, Fill::Init { fan_in: f, .. } if f == fan_in),
                "{}",
                t.suffix
            );
        }
    }
}

#[test]
fn reals_are_written_as_a_script_writes_them() {
    assert_eq!(Val::Real(1e-5).to_string(), "1e-5");
    assert_eq!(Val::Real(0.1).to_string(), "0.1");
    assert_eq!(Val::Real(0.001).to_string(), "0.001");
    assert_eq!(Val::Real(1.0).to_string(), "1");
    assert_eq!(Val::Real(0.0).to_string(), "0");
}

/// Every kind describes itself to the exporters consistently: ONNX nodes
/// read the layer's own tensors (every learnable one, buffers as inference
/// needs) and earlier nodes only, inner nodes are named and the last is
/// not; the PyTorch module names its helper class when it has one.
#[test]
fn export_descriptions_agree_with_each_kind() {
    use super::export::OnnxInput;
    let mut kinds = Vec::new();
    for (input, call) in FULL_CALLS.iter().chain(&[
        ("2x3x9x9", "maxpool(k=2, s=1, p=same)"),
        ("2x3x6x6", "avgpool(k=3, s=2, p=1, ceil=true)"),
        ("2x3x3x1", "maxpool(k=1x2, s=1, p=0x1, d=1x2)"),
        ("2x2x6x7", "conv(out=3, k=4x2, p=same)"),
    ]) {
        kinds.push((call, lower(input, call).remove(0)));
    }
    for (call, layer) in &kinds {
        let nodes = layer
            .kind
            .onnx(&layer.in_shape, &layer.out_shape)
            .unwrap_or_else(|r| panic!("{call}: {r:?}"));
        let tensors = layer.kind.tensors();
        let mut read = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            assert_eq!(
                node.inner.is_some(),
                i + 1 < nodes.len(),
                "{call}: {node:?}"
            );
            for input in &node.inputs {
                match input {
                    OnnxInput::Node(j) => assert!(*j < i, "{call}: node {i} reads {j}"),
                    OnnxInput::Tensor(s) | OnnxInput::Flipped(s) => read.push(*s),
                    OnnxInput::Input | OnnxInput::Floats { .. } | OnnxInput::Ints { .. } => {}
                }
            }
        }
        for t in &tensors {
            let needed = t.role == Role::Learnable || t.suffix.starts_with("running_");
            assert_eq!(read.contains(&t.suffix), needed, "{call}: {}", t.suffix);
        }
        let module = layer.kind.torch(&layer.in_shape);
        match module.helper {
            Some(h) => assert!(h.starts_with(&format!("class {}(", module.class)), "{call}"),
            None => assert!(module.class.starts_with("nn."), "{call}"),
        }
    }
}

#[test]
fn python_literals_and_padding_arguments() {
    use super::export::{py_float, py_pair};
    assert_eq!(py_float(1e-5), "1e-5");
    assert_eq!(py_float(0.5), "0.5");
    assert_eq!(py_float(2.0), "2.0");
    assert_eq!(py_float(f64::INFINITY), "float(\"inf\")");
    assert_eq!(py_pair([3, 3]), "3");
    assert_eq!(py_pair([3, 5]), "(3, 5)");
    assert_eq!(Pad4::hw(0, 0).torch_arg(), None);
    assert_eq!(
        Pad4::hw(1, 2).torch_arg().as_deref(),
        Some("padding=(1, 2)")
    );
    let uneven = Pad4 {
        top: 1,
        bottom: 2,
        left: 0,
        right: 1,
    };
    assert_eq!(uneven.torch_arg().as_deref(), Some("pad=(0, 1, 1, 2)"));
    assert_eq!(uneven.onnx(), [1, 0, 2, 1]);
}
