//! Every layer kind and setting, and every model in examples/, exported to
//! ONNX and read back by a runtime whose outputs must equal cnnscript's own
//! forward: tract (pure Rust) with `--features tract` (it is heavy to
//! build), and onnxruntime after `onnx.checker` (full check) when
//! `CNNSCRIPT_TEST_PY` points at a Python with numpy, onnx and onnxruntime.
//! Without either, the tests say so loudly.

use std::io::Write as _;
use std::path::Path;

use cnnscript::export::onnx::proto::DimValue;
use cnnscript::ir::check::check_script;
use cnnscript::ir::shape::Dim;
use cnnscript::run::params::ModelState;
use cnnscript::run::Interp;
use cnnscript::syntax::ast::Span;
use cnnscript::syntax::parse::parse_script;
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One model per case, named `m`; symbolic sizes other than the batch are 7.
const CASES: &[(&str, &str)] = &[
    ("conv_stride", "model m(x: Nx3x9x11) = conv(out=4, k=3, s=2)"),
    ("conv_asymmetric", "model m(x: Nx2x7x9) = conv(out=4, k=3x5, p=1x2, s=2x1)"),
    ("conv_pad_beyond_kernel", "model m(x: Nx1x5x5) = conv(out=2, k=2, p=3)"),
    ("conv_same_even", "model m(x: Nx2x6x7) = conv(out=3, k=4x2, p=same)"),
    ("conv_same_dilated", "model m(x: Nx2x8x8) = conv(out=3, k=3, d=2, p=same)"),
    ("conv_valid", "model m(x: Nx2x6x6) = conv(out=2, k=3, p=valid)"),
    ("conv_dilation", "model m(x: Nx2x11x12) = conv(out=2, k=3, d=2x3, p=1, s=2)"),
    ("conv_groups", "model m(x: Nx4x8x8) = conv(out=6, k=3, groups=2, p=1)"),
    ("conv_depthwise", "model m(x: Nx4x8x8) = conv(out=4, k=3, groups=4, s=2)"),
    ("conv_no_bias", "model m(x: Nx3x6x6) = conv(out=3, k=3, bias=false)"),
    ("conv_flip", "model m(x: Nx2x6x8) = conv(out=2, k=2x3, flip=true)"),
    ("conv_flip_groups", "model m(x: Nx4x6x6) = conv(out=2, k=3, flip=true, groups=2, bias=false)"),
    ("maxpool", "model m(x: Nx2x6x6) = maxpool(k=2)"),
    ("maxpool_chapter", "model m(x: 4x2x3x5) = conv(in=2, out=3, k=3x5, p=1x2) -> maxpool(k=3, s=2x1, p=1)"),
    ("maxpool_ceil_drop", "model m(x: Nx2x5x5) = maxpool(k=2, s=2, p=1, ceil=true)"),
    ("maxpool_ceil_s3", "model m(x: Nx2x4x7) = maxpool(k=2, s=3, p=1, ceil=true)"),
    ("maxpool_ceil_plain", "model m(x: Nx1x7x7) = maxpool(k=3, s=2, ceil=true)"),
    ("maxpool_dilated_pad", "model m(x: Nx2x7x7) = maxpool(k=3, d=2, p=1)"),
    ("maxpool_dilated_ceil", "model m(x: Nx1x8x9) = maxpool(k=2, d=3, s=3, ceil=true)"),
    ("maxpool_window_in_padding", "model m(x: Nx2x3x1) = maxpool(k=1x2, s=1, p=0x1, d=1x2)"),
    ("maxpool_same", "model m(x: Nx2x5x6) = maxpool(k=2, s=1, p=same)"),
    ("avgpool", "model m(x: Nx2x6x6) = avgpool(k=2)"),
    ("avgpool_pad", "model m(x: Nx2x7x7) = avgpool(k=3, s=2, p=1)"),
    ("avgpool_ceil_count_pad", "model m(x: Nx2x6x6) = avgpool(k=3, s=2, p=1, ceil=true)"),
    ("avgpool_ceil_no_pad", "model m(x: Nx2x5x5) = avgpool(k=2, s=2, ceil=true)"),
    ("avgpool_ceil_no_count", "model m(x: Nx2x6x6) = avgpool(k=3, s=2, p=1, ceil=true, count_pad=false)"),
    ("avgpool_no_count", "model m(x: Nx2x5x5) = avgpool(k=3, s=1, p=1, count_pad=false)"),
    ("avgpool_ceil_asym", "model m(x: Nx1x7x5) = avgpool(k=2x3, s=2, p=1x0, ceil=true)"),
    ("gap", "model m(x: Nx2x5x6) = conv(out=3, k=3) -> gap -> flatten -> linear(out=2)"),
    ("linear", "model m(x: Nx10) = linear(out=4, bias=false) -> relu -> linear(out=3)"),
    ("activations", "model m(x: Nx2x4x4) = conv(out=3, k=1) -> tanh -> sigmoid -> relu"),
    ("softmax_channels", "model m(x: Nx2x4x5) = conv(out=3, k=1) -> softmax"),
    ("softmax_classes", "model m(x: Nx6) = linear(out=4) -> softmax"),
    ("dropout", "model m(x: Nx2x6x6) = conv(out=2, k=3) -> dropout(p=0.3) -> relu -> dropout"),
    ("dropout_only", "model m(x: Nx3) = dropout"),
    ("batchnorm_conv", "model m(x: Nx2x6x6) = conv(out=4, k=3) -> batchnorm -> relu"),
    ("batchnorm_linear", "model m(x: Nx5) = linear(out=6) -> batchnorm(eps=1e-3) -> relu"),
    ("flatten_linear", "model m(x: Nx2x6x6) = conv(out=3, k=3, s=2) -> flatten -> linear(out=5) -> softmax"),
    ("rank2_input", "model m(x: 6x8) = conv(in=1, out=1, k=1x2)"),
    ("rank3_input", "model m(x: 2x6x6) = conv(out=3, k=3) -> maxpool(k=2, ceil=true)"),
    ("symbolic_hw", "model m(x: Nx3xHxW) = conv(out=2, k=3, p=1) -> maxpool(k=3, s=2, p=1) -> avgpool(k=3, s=1, p=1, count_pad=false) -> gap -> flatten"),
    (
        "graph_residual",
        "model m(x: Nx4x6x6) {
           a = x -> conv(out=4, k=3, p=1) -> batchnorm -> relu
           b = a -> conv(out=4, k=3, p=1) -> batchnorm
           y = add(x, b) -> relu
         }",
    ),
    (
        "graph_branches",
        "model m(x: Nx3x8x8) {
           b1 = x -> conv(out=2, k=1)
           b2 = x -> conv(out=3, k=1) -> relu -> conv(out=4, k=3, p=1)
           b3 = x -> maxpool(k=3, s=1, p=1)
           y = concat(b1, b2, b3) -> relu
         }",
    ),
    (
        "graph_merges_alone",
        "model m(x: Nx2x5x5) {
           a = x -> conv(out=2, k=3, p=1)
           b = x -> relu
           s = add(a, b, x)
           y = concat(s, a)
         }",
    ),
];

/// The batch the files are run with: none of the models declares it.
const BATCH: usize = 3;

fn checked_models(src: &str) -> Vec<cnnscript::ir::model::Model> {
    let script = parse_script(src).unwrap_or_else(|e| panic!("parse: {e:?}\n{src}"));
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "{:?}\n{src}", checked.diagnostics);
    checked.models().cloned().collect()
}

/// A model with its seeded initial weights (PyTorch's init keeps values
/// near 1 however wide a layer is) and random batchnorm tensors, so its
/// statistics matter.
fn random_state(model: cnnscript::ir::model::Model, seed: u64) -> ModelState {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = ModelState::new(model, &mut rng);
    let bn: Vec<String> = state
        .ir
        .layers()
        .filter(|(_, l)| matches!(l.kind, cnnscript::layers::LayerKind::BatchNorm(_)))
        .map(|(n, l)| state.ir.param_prefix(n, l))
        .collect();
    for p in state.params.iter_mut().filter(|p| !p.integer) {
        let Some((prefix, suffix)) = p.name.rsplit_once('.') else {
            continue;
        };
        let range = match suffix {
            "weight" | "running_var" => 0.5..2.0,
            _ => -0.5..0.5,
        };
        if bn.iter().any(|b| b == prefix) {
            p.data
                .iter_mut()
                .for_each(|v| *v = rng.random_range(range.clone()));
        }
    }
    state
}

/// The input the files are run on: the model's type, batch `BATCH`, other symbols 7.
fn input_for(state: &ModelState, seed: u64) -> ArrayD<f32> {
    let dims: Vec<usize> = state
        .ir
        .input
        .dims()
        .iter()
        .enumerate()
        .map(|(i, d)| match (i, d) {
            (0, _) => BATCH,
            (_, Dim::Known(n)) => *n as usize,
            (_, Dim::Sym(_)) => 7,
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(&dims), || rng.random_range(-2.0f32..2.0))
}

fn cnnscript_forward(state: &ModelState, x: &ArrayD<f32>) -> ArrayD<f32> {
    let mut interp = Interp::new();
    let name = state.ir.name.clone();
    interp.models.insert(name.clone(), state.clone());
    interp
        .apply_model(&name, x, None, Span::default())
        .unwrap_or_else(|e| panic!("forward of {name}: {e}"))
}

#[cfg(feature = "tract")]
fn tract_forward(
    bytes: &[u8],
    x: &ArrayD<f32>,
) -> tract_onnx::prelude::TractResult<(Vec<usize>, Vec<f32>)> {
    use tract_onnx::prelude::*;
    let data: Vec<f32> = x.iter().copied().collect();
    let input = Tensor::from_shape(x.shape(), &data)?;
    // the batch stays symbolic (`N`): tract binds it when the model runs
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])?
        .into_optimized()?
        .into_runnable()?;
    let out = plan.run(tvec!(input.into()))?;
    let y = out[0].to_plain_array_view::<f32>()?;
    Ok((y.shape().to_vec(), y.iter().copied().collect()))
}

#[cfg(feature = "tract")]
fn close(a: f32, b: f32) -> bool {
    if a.is_infinite() || b.is_infinite() {
        a == b
    } else {
        (a - b).abs() <= 1e-5 * a.abs().max(b.abs()) + 1e-5
    }
}

/// One exported model: the file, an input and cnnscript's output for it.
struct Exported {
    case: String,
    bytes: Vec<u8>,
    x: ArrayD<f32>,
    want: ArrayD<f32>,
    state: ModelState,
}

/// Export `state` and run cnnscript on a random input.
fn exported(case: &str, state: &ModelState, seed: u64) -> Exported {
    let bytes = cnnscript::run::export::onnx_bytes(state, None)
        .unwrap_or_else(|e| panic!("{case}: export refused: {e}"));
    let x = input_for(state, seed);
    let want = cnnscript_forward(state, &x);
    Exported {
        case: case.to_string(),
        bytes,
        x,
        want,
        state: state.clone(),
    }
}

/// Every case and every example model, exported.
fn all_exports() -> Vec<Exported> {
    let mut out = Vec::new();
    for (i, (case, src)) in CASES.iter().enumerate() {
        let model = checked_models(src).remove(0);
        let state = random_state(model, i as u64);
        out.push(exported(case, &state, 100 + i as u64));
    }
    let mut files: Vec<_> = std::fs::read_dir("examples")
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cnn"))
        .collect();
    files.sort();
    for file in files {
        let src = std::fs::read_to_string(&file).expect("example");
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, model) in checked_models(&src).into_iter().enumerate() {
            let case = format!("example_{stem}_{}", model.name);
            let state = random_state(model, i as u64);
            out.push(exported(&case, &state, i as u64));
        }
    }
    out
}

#[test]
fn the_cases_cover_every_example() {
    let examples = all_exports().len() - CASES.len();
    assert!(examples >= 9, "only {examples} example models found");
}

#[cfg(feature = "tract")]
#[test]
fn every_layer_kind_setting_and_example_round_trips_through_tract() {
    for Exported {
        case,
        bytes,
        x,
        want,
        ..
    } in all_exports()
    {
        let (shape, got) =
            tract_forward(&bytes, &x).unwrap_or_else(|e| panic!("{case}: tract: {e:?}"));
        assert_eq!(shape, want.shape(), "{case}: output shape");
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            assert!(
                close(*g, *w),
                "{case}: element {i}: tract {g}, cnnscript {w}"
            );
        }
    }
}

#[cfg(not(feature = "tract"))]
#[test]
fn tract_round_trip_needs_the_feature() {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: exported ONNX files not run in tract (build with `cargo test --features tract`)"
    );
}

/// A value's dims as written in the file.
fn file_dims(v: &cnnscript::export::onnx::proto::ValueInfoProto) -> Vec<Option<DimValue>> {
    let t = v
        .r#type
        .clone()
        .and_then(|t| t.tensor_type)
        .expect("tensor type");
    t.shape
        .expect("shape")
        .dim
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// A shape as the file must declare it: the batch symbolic (any name),
/// other symbols by their names, sizes as numbers.
fn assert_dims(
    case: &str,
    what: &str,
    got: &[Option<DimValue>],
    want: &cnnscript::ir::shape::Shape,
) {
    assert_eq!(got.len(), want.dims().len(), "{case}: rank of the {what}");
    for (i, (g, w)) in got.iter().zip(want.dims()).enumerate() {
        match (i, g, w) {
            (0, Some(DimValue::DimParam(_)), _) => {}
            (_, Some(DimValue::DimValue(n)), Dim::Known(k)) if *n == *k as i64 => {}
            (_, Some(DimValue::DimParam(p)), Dim::Sym(s)) if p == s => {}
            _ => panic!("{case}: {what} dim {i} is {g:?}, the model's is {w:?}"),
        }
    }
}

/// The file decoded with the project's own messages: opset 17, one input
/// and one output with the model's names and shapes, nodes in an order
/// where every value is defined before it is read, initializers whose
/// bytes fit their dims, and every learnable tensor and running statistic
/// of the model stored under its state-dict name with its exact values
/// (flipped kernels as `NAME.flipped`).
fn assert_well_formed(e: &Exported) {
    use cnnscript::export::onnx::proto::ModelProto;
    use prost::Message as _;
    let case = &e.case;
    let proto = ModelProto::decode(&e.bytes[..]).unwrap_or_else(|err| panic!("{case}: {err}"));
    assert!(
        proto.ir_version >= 8,
        "{case}: IR version {}",
        proto.ir_version
    );
    assert!(
        proto
            .opset_import
            .iter()
            .any(|o| o.domain.is_empty() && o.version >= 17),
        "{case}: opset {:?}",
        proto.opset_import
    );
    let g = proto.graph.expect("graph");
    let ir = &e.state.ir;
    assert_eq!(g.input.len(), 1, "{case}: inputs");
    assert_eq!(g.output.len(), 1, "{case}: outputs");
    assert_eq!(g.input[0].name, ir.input_name, "{case}: input name");
    assert_dims(case, "input", &file_dims(&g.input[0]), &ir.input);
    assert_dims(case, "output", &file_dims(&g.output[0]), ir.output());
    let mut defined: std::collections::HashSet<&str> =
        g.initializer.iter().map(|t| t.name.as_str()).collect();
    defined.insert(&g.input[0].name);
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            assert!(
                defined.contains(i.as_str()),
                "{case}: {} reads `{i}` before it exists",
                n.name
            );
        }
        defined.extend(n.output.iter().map(String::as_str));
    }
    assert!(
        defined.contains(g.output[0].name.as_str()),
        "{case}: no node writes the output"
    );
    let mut stored = std::collections::HashMap::new();
    for t in &g.initializer {
        let size = match t.data_type {
            1 => 4,
            7 => 8,
            other => panic!("{case}: initializer {} has data type {other}", t.name),
        };
        let count: i64 = t.dims.iter().product();
        assert_eq!(
            t.raw_data.len() as i64,
            count * size,
            "{case}: bytes of {}",
            t.name
        );
        stored.insert(t.name.as_str(), t);
    }
    for p in e.state.params.iter().filter(|p| !p.integer) {
        let bytes: Vec<u8> = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        match (
            stored.get(p.name.as_str()),
            stored.get(format!("{}.flipped", p.name).as_str()),
        ) {
            (Some(t), _) => assert!(t.raw_data == bytes, "{case}: values of {}", p.name),
            (None, Some(t)) => assert_eq!(t.raw_data.len(), bytes.len(), "{case}: {}", p.name),
            (None, None) => panic!("{case}: {} is not in the file", p.name),
        }
    }
}

#[test]
fn every_export_decodes_to_a_well_formed_graph_holding_the_weights() {
    for e in all_exports() {
        assert_well_formed(&e);
    }
}

#[test]
fn the_batch_is_symbolic_and_the_input_named_after_the_model() {
    use prost::Message as _;
    let model = checked_models("model m(img: 4x2x3x5) = conv(in=2, out=3, k=3x5, p=1x2)").remove(0);
    let bytes = cnnscript::run::export::onnx_bytes(&random_state(model, 0), None).expect("export");
    let proto = cnnscript::export::onnx::proto::ModelProto::decode(&bytes[..]).expect("decode");
    assert_eq!(proto.opset_import[0].version, 17);
    let graph = proto.graph.expect("graph");
    assert_eq!(graph.input.len(), 1);
    assert_eq!(graph.output.len(), 1);
    assert_eq!(graph.input[0].name, "img");
    use cnnscript::export::onnx::proto::DimValue::{DimParam, DimValue};
    assert_eq!(
        file_dims(&graph.input[0]),
        vec![
            Some(DimParam("N".into())),
            Some(DimValue(2)),
            Some(DimValue(3)),
            Some(DimValue(5))
        ]
    );
    assert_eq!(
        file_dims(&graph.output[0]),
        vec![
            Some(DimParam("N".into())),
            Some(DimValue(3)),
            Some(DimValue(3)),
            Some(DimValue(5))
        ]
    );
}

#[test]
fn onnx_checker_and_onnxruntime_accept_the_files() {
    let Some(py) = std::env::var_os("CNNSCRIPT_TEST_PY") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: CNNSCRIPT_TEST_PY not set (a Python with numpy, onnx and onnxruntime): onnx.checker and onnxruntime not run on the exported files"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let exports = all_exports();
    for Exported {
        case,
        bytes,
        x,
        want,
        ..
    } in &exports
    {
        let case_dir = dir.path().join(case);
        std::fs::create_dir(&case_dir).expect("case dir");
        std::fs::write(case_dir.join("m.onnx"), bytes).expect("write onnx");
        save(&case_dir.join("x.npy"), x.clone());
        save(&case_dir.join("y.npy"), want.clone());
    }
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(PY_CHECK)
        .arg(dir.path())
        .output()
        .expect("CNNSCRIPT_TEST_PY runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("checked {}, 0 failed", exports.len())),
        "{text}"
    );
}

fn save(path: &Path, a: ArrayD<f32>) {
    cnnscript::io::save_value(path, &cnnscript::value::Value::Float(a)).expect("save npy");
}

const PY_CHECK: &str = r#"
import os, sys
import numpy as np, onnx, onnxruntime as ort
root = sys.argv[1]
bad = []
cases = sorted(os.listdir(root))
for case in cases:
    d = os.path.join(root, case)
    try:
        m = onnx.load(os.path.join(d, "m.onnx"))
        onnx.checker.check_model(m, full_check=True)
        sess = ort.InferenceSession(os.path.join(d, "m.onnx"), providers=["CPUExecutionProvider"])
        x = np.load(os.path.join(d, "x.npy"))
        y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        want = np.load(os.path.join(d, "y.npy"))
        if y.shape != want.shape or not np.allclose(y, want, rtol=1e-5, atol=1e-5):
            bad.append("%s: onnxruntime differs (max %g)" % (case, np.nanmax(np.abs(y - want)) if y.shape == want.shape else -1))
    except Exception as e:
        bad.append("%s: %s: %s" % (case, type(e).__name__, e))
for b in bad:
    print("FAIL", b)
print("checked %d, %d failed" % (len(cases), len(bad)))
sys.exit(1 if bad else 0)
"#;
