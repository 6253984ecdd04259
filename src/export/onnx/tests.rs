//! The graphs written for the settings that need care; the numbers
//! themselves are compared with tract and onnxruntime in tests/onnx_export.rs.

use super::proto::{AttributeProto, GraphProto, NodeProto};
use super::*;
use crate::ir::check::check_script;
use crate::syntax::parse::parse_script;

fn model(src: &str) -> Model {
    let script = parse_script(src).expect("parses");
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let first = checked.models().next().expect("a model").clone();
    first
}

/// Tensors counting up from 0, so a flipped kernel is visible.
fn counting(m: &Model) -> Vec<Vec<Vec<f32>>> {
    m.layers()
        .map(|(_, l)| {
            l.kind
                .param_shapes()
                .into_iter()
                .map(|(_, s)| (0..s.iter().product::<usize>()).map(|i| i as f32).collect())
                .collect()
        })
        .collect()
}

fn export(src: &str) -> Result<GraphProto, Unexportable> {
    let m = model(src);
    let data = counting(&m);
    let tensors: Vec<Vec<&[f32]>> = data
        .iter()
        .map(|l| l.iter().map(Vec::as_slice).collect())
        .collect();
    model_proto(&m, &tensors).map(|p| p.graph.expect("graph"))
}

fn graph(src: &str) -> GraphProto {
    export(src).unwrap_or_else(|e| panic!("refused: {e:?}"))
}

fn ops(g: &GraphProto) -> Vec<&str> {
    g.node.iter().map(|n| n.op_type.as_str()).collect()
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> &'a AttributeProto {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("{} has no {name}", n.op_type))
}

fn floats(g: &GraphProto, name: &str) -> Vec<f32> {
    let t = g
        .initializer
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer {name}"));
    t.raw_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn ceil_mode_becomes_extra_end_padding() {
    // 5 wide, k=2, s=2, ceil: 3 windows, the last one hangs 1 past the input
    let g = graph("model m(x: Nx2x5x5) = avgpool(k=2, s=2, ceil=true)");
    assert_eq!(ops(&g), ["AveragePool"]);
    let pool = &g.node[0];
    assert_eq!(attr(pool, "pads").ints, [0, 0, 1, 1]);
    // no padding: the divisor is the window clipped to the input
    assert_eq!(attr(pool, "count_include_pad").i, Some(0));
    assert!(pool.attribute.iter().all(|a| a.name != "ceil_mode"));
    // PyTorch drops a last window starting in the right padding: 5 + 2, k=2, s=2 -> 3, no extra
    let g = graph("model m(x: Nx2x5x5) = maxpool(k=2, s=2, p=1, ceil=true)");
    assert_eq!(attr(&g.node[0], "pads").ints, [1, 1, 1, 1]);
}

#[test]
fn max_pooling_pads_explicitly_where_onnxruntime_needs_it() {
    // k=2, d=3, s=3, ceil over 8: the end padding grows to 2, as large as the kernel
    let g = graph("model m(x: Nx1x8x8) = maxpool(k=2, d=3, s=3, ceil=true)");
    assert_eq!(ops(&g), ["Pad", "MaxPool"]);
    assert_eq!(floats(&g, "0.pad_value"), [f32::NEG_INFINITY]);
    assert_eq!(attr(&g.node[1], "pads").ints, [0, 0, 0, 0]);
    assert_eq!(attr(&g.node[1], "dilations").ints, [3, 3]);
    // smaller pads stay on the MaxPool
    let g = graph("model m(x: Nx2x7x7) = maxpool(k=3, d=2, p=1, s=2, ceil=true)");
    assert_eq!(ops(&g), ["MaxPool"]);
}

#[test]
fn windows_wholly_in_padding_give_minus_infinity() {
    // width 1, taps at -1 and 1: every window lies in the padding
    let g = graph("model m(x: Nx2x3x1) = maxpool(k=1x2, s=1, p=0x1, d=1x2)");
    assert_eq!(ops(&g), ["MaxPool", "Add"]);
    assert_eq!(floats(&g, "0.empty_windows"), [f32::NEG_INFINITY; 3]);
    assert_eq!(g.node[1].input, ["0.max", "0.empty_windows"]);
    // dilated and padded over a symbolic size: which windows are empty is unknown
    let err = export("model m(x: Nx2xHxW) = maxpool(k=2, d=2, p=1)").expect_err("refused");
    assert!(
        err.refusal.message.contains("dilation and padding"),
        "{err:?}"
    );
}

#[test]
fn average_pooling_counting_padding_with_overhang_pads_explicitly() {
    let g = graph("model m(x: Nx2x6x6) = avgpool(k=3, s=2, p=1, ceil=true)");
    assert_eq!(ops(&g), ["Pad", "AveragePool"]);
    assert_eq!(floats(&g, "0.pad_value"), [0.0]);
    assert_eq!(attr(&g.node[1], "pads").ints, [0, 0, 1, 1]);
    assert_eq!(attr(&g.node[1], "count_include_pad").i, Some(0));
    // without overhang, count_include_pad says it
    let g = graph("model m(x: Nx2x7x7) = avgpool(k=3, s=2, p=1, ceil=true)");
    assert_eq!(ops(&g), ["AveragePool"]);
    assert_eq!(attr(&g.node[0], "count_include_pad").i, Some(1));
}

#[test]
fn ceil_over_a_symbolic_size_is_refused_naming_the_layer() {
    let src = "model m(x: Nx3xHxW) {\n  conv(out=2, k=3)\n  maxpool(k=2, ceil=true)\n}";
    let err = export(src).expect_err("refused");
    assert!(err.refusal.message.contains("symbolic height"), "{err:?}");
    assert!(err.refusal.help.contains("ceil=false"), "{err:?}");
    assert_eq!(Some(err.span.start), src.find("maxpool"), "at the maxpool");
    // without ceil, symbolic sizes export
    assert_eq!(
        ops(&graph(
            "model m(x: Nx3xHxW) = conv(out=2, k=3) -> maxpool(k=2)"
        )),
        ["Conv", "MaxPool"]
    );
}

#[test]
fn flip_writes_the_flipped_kernel() {
    let g = graph("model m(x: Nx1x4x4) = conv(out=1, k=2x3, flip=true, bias=false)");
    assert_eq!(
        floats(&g, "0.weight.flipped"),
        [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    );
    assert_eq!(g.node[0].input, ["x", "0.weight.flipped"]);
}

#[test]
fn conv_settings_become_attributes() {
    let g = graph("model m(x: Nx4x9x9) = conv(out=6, k=4x2, p=same, d=2x1, groups=2)");
    let conv = &g.node[0];
    // same, k_eff 7x2: 3 top, 3 bottom, 0 left, 1 right
    assert_eq!(attr(conv, "pads").ints, [3, 0, 3, 1]);
    assert_eq!(attr(conv, "kernel_shape").ints, [4, 2]);
    assert_eq!(attr(conv, "dilations").ints, [2, 1]);
    assert_eq!(attr(conv, "group").i, Some(2));
    assert_eq!(conv.input, ["x", "0.weight", "0.bias"]);
}

#[test]
fn dropout_is_no_node_unless_it_is_the_whole_model() {
    let g = graph("model m(x: Nx4) = linear(out=3) -> dropout");
    assert_eq!(ops(&g), ["Gemm"]);
    assert_eq!(g.output[0].name, "y");
    assert_eq!(g.node[0].output, ["y"]);
    let g = graph("model m(x: Nx4) = dropout");
    assert_eq!(ops(&g), ["Identity"]);
    assert_eq!(g.node[0].input, ["x"]);
}

#[test]
fn graph_merges_and_names() {
    let g = graph(
        "model m(x: Nx2x5x5) {
           a = x -> conv(out=2, k=3, p=1)
           out = add(x, a, a) -> relu
         }",
    );
    assert_eq!(ops(&g), ["Conv", "Add", "Add", "Relu"]);
    assert_eq!(g.node[1].input, ["x", "a.0"]);
    assert_eq!(g.node[2].input, [g.node[1].output[0].as_str(), "a.0"]);
    assert_eq!(g.output[0].name, "out");
    let g = graph("model m(x: Nx2x5x5) {\n  a = x -> relu\n  y = concat(x, a)\n}");
    assert_eq!(ops(&g), ["Relu", "Concat"]);
    assert_eq!(attr(&g.node[1], "axis").i, Some(1));
}

/// The dims the graph declares for its first input.
fn input_dims(g: &proto::GraphProto) -> &[proto::Dimension] {
    &g.input[0]
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .expect("shape")
        .dim
}

#[test]
fn the_batch_symbol_avoids_other_dims() {
    let g = graph("model m(x: 5x2xNx4) = conv(out=1, k=1)");
    let dims = input_dims(&g);
    assert_eq!(
        dims[0].value,
        Some(proto::DimValue::DimParam("batch".into()))
    );
    assert_eq!(dims[2].value, Some(proto::DimValue::DimParam("N".into())));
}

#[test]
fn a_promoted_input_is_declared_at_rank_four() {
    let g = graph("model m(x: 6x8) = conv(in=1, out=1, k=1x2)");
    let dims = input_dims(&g);
    assert_eq!(dims.len(), 4);
    assert_eq!(dims[1].value, Some(proto::DimValue::DimValue(1)));
}
