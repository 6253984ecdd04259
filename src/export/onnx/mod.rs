//! A checked model with its tensors → an ONNX file.
//!
//! `proto` holds the protobuf messages, `builder` names values and records
//! their types, `layers` writes the nodes each layer kind describes (the
//! mapping itself lives with each kind, `LayerKind::onnx` in `src/layers/`),
//! and this file walks the model's graph: its input, merges (`add`,
//! `concat`) and output.

pub mod builder;
pub mod layers;
pub mod proto;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::Path;

use crate::io::IoError;
use crate::ir::model::{Model, NodeInput, NodeSource};
use crate::ir::shape::{Dim, Shape};
use crate::layers::Refusal;
use crate::syntax::ast::Span;
use builder::{int, GraphBuilder};
use layers::LayerIo;
use proto::{ModelProto, OperatorSetIdProto};

/// The operator set written. 17 is the oldest with every operator form used
/// here (`Softmax` over one axis since 13, inference-only `BatchNormalization` since 15).
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17 (ONNX 1.12).
const IR_VERSION: i64 = 8;

/// A layer that ONNX cannot express exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unexportable {
    /// The layer, in the script.
    pub span: Span,
    pub refusal: Refusal,
}

/// The ONNX model of `model`, with `tensors` as its weights: for each layer
/// in `Model::layers()` order, its tensors in `LayerKind::tensors` order.
pub fn model_proto(model: &Model, tensors: &[Vec<&[f32]>]) -> Result<ModelProto, Unexportable> {
    let mut b = GraphBuilder::new(&batch_symbol(model));
    let input = b.fresh(&model.input_name);
    let mut node_out: Vec<String> = Vec::with_capacity(model.nodes.len());
    let mut li = 0usize;
    for node in &model.nodes {
        let node_name = node.name.as_deref().unwrap_or("merge");
        let pick = |i: &NodeInput| match i {
            NodeInput::Input => input.clone(),
            NodeInput::Node(n) => node_out[*n].clone(),
        };
        let mut cur = match &node.source {
            NodeSource::Input => input.clone(),
            NodeSource::Node(n) => node_out[*n].clone(),
            NodeSource::Add(ins) => {
                let ins: Vec<String> = ins.iter().map(pick).collect();
                add(&mut b, node_name, &ins, &node.source_shape)
            }
            NodeSource::Concat(ins) => {
                let ins: Vec<String> = ins.iter().map(pick).collect();
                concat(&mut b, node_name, &ins, &node.source_shape)
            }
        };
        for layer in &node.layers {
            let prefix = model.param_prefix(node, layer);
            let none = Vec::new();
            let io = LayerIo {
                prefix: &prefix,
                input: &cur,
                in_shape: &layer.in_shape,
                out_shape: &layer.out_shape,
                tensors: tensors.get(li).unwrap_or(&none),
            };
            let out = layers::layer(&mut b, &layer.kind, &io).map_err(|refusal| Unexportable {
                span: layer.span,
                refusal,
            })?;
            if out != cur {
                b.shape(&out, &layer.out_shape);
            }
            cur = out;
            li += 1;
        }
        node_out.push(cur);
    }
    let last = node_out.last().cloned().unwrap_or_else(|| input.clone());
    let wanted = match model.nodes.last().and_then(|n| n.name.as_deref()) {
        Some(name) if model.is_graph => name,
        _ => "y",
    };
    let output = if last == input {
        b.node("Identity", wanted, &[&input], vec![])
    } else if last == wanted {
        last
    } else {
        b.rename(&last, wanted)
    };
    let input_info = b.value_info(&input, &model.input);
    let output_info = b.value_info(&output, model.output());
    let graph = b.finish(&model.name, input_info, output_info);
    Ok(ModelProto {
        ir_version: IR_VERSION,
        producer_name: "cnnscript".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("cnnscript model `{}`", model.name),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    })
}

/// Write an encoded model atomically: nothing half-written on any error.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    crate::io::atomic_write(path, |w| w.write_all(bytes))
}

/// Bytes held while exporting: the weights copied into the protobuf, then encoded.
pub fn export_bytes_estimate(model: &Model) -> u64 {
    model.total_params().saturating_mul(4).saturating_mul(2)
}

/// The batch's `dim_param`: the declared symbol, else `N` (the batch may
/// differ at run time from a declared number), else a name no other dim uses.
fn batch_symbol(model: &Model) -> String {
    if let Some(Dim::Sym(s)) = model.input.dims().first() {
        return s.clone();
    }
    let used = |name: &str| {
        model
            .input
            .dims()
            .iter()
            .any(|d| *d == Dim::Sym(name.into()))
    };
    ["N", "batch", "batch_size"]
        .into_iter()
        .find(|n| !used(n))
        .unwrap_or("cnnscript_batch")
        .to_string()
}

/// `add(a, b, ...)` → a chain of `Add`s, summed in written order (as cnnscript does).
fn add(b: &mut GraphBuilder, node: &str, inputs: &[String], shape: &Shape) -> String {
    let Some((first, rest)) = inputs.split_first() else {
        return String::new();
    };
    let mut sum = first.clone();
    for next in rest {
        sum = b.node("Add", &format!("{node}.add"), &[&sum, next], vec![]);
        b.shape(&sum, shape);
    }
    sum
}

/// `concat(a, b, ...)` → `Concat(axis=1)`: along channels.
fn concat(b: &mut GraphBuilder, node: &str, inputs: &[String], shape: &Shape) -> String {
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let out = b.node(
        "Concat",
        &format!("{node}.concat"),
        &refs,
        vec![int("axis", 1)],
    );
    b.shape(&out, shape);
    out
}
