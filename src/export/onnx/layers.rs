//! One layer into the graph: its kind describes its nodes
//! (`LayerKind::onnx`, in `src/layers/`), and this writes them with their
//! initializers, names and shapes. Nothing here knows a kind.

use super::builder::{attribute, GraphBuilder};
use crate::ir::shape::Shape;
use crate::layers::export::OnnxInput;
use crate::layers::{LayerKind, Refusal};

/// One layer as the writer sees it.
#[derive(Clone, Copy, Debug)]
pub struct LayerIo<'a> {
    /// The state-dict prefix (`0`, `c1`, `a.1`): names the layer's
    /// initializers (`0.weight`) and its output value.
    pub prefix: &'a str,
    /// The ONNX value the layer reads.
    pub input: &'a str,
    pub in_shape: &'a Shape,
    pub out_shape: &'a Shape,
    /// The layer's tensors, in `LayerKind::tensors` order.
    pub tensors: &'a [&'a [f32]],
}

/// What writing a layer returns: the name of the value holding its output.
pub type Mapped = Result<String, Refusal>;

/// Write one layer's nodes; a layer without nodes (dropout) passes its input on.
pub fn layer(b: &mut GraphBuilder, kind: &LayerKind, io: &LayerIo) -> Mapped {
    let nodes = kind.onnx(io.in_shape, io.out_shape)?;
    let mut outs: Vec<String> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let mut inputs = Vec::with_capacity(node.inputs.len());
        for input in &node.inputs {
            inputs.push(value(b, kind, io, input, &outs)?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let attrs = node.attrs.iter().map(|(n, v)| attribute(n, v)).collect();
        let last = i + 1 == nodes.len();
        let out = match (&node.inner, last) {
            (Some((tag, shape)), false) => {
                let out = b.node(node.op, &format!("{}.{tag}", io.prefix), &refs, attrs);
                b.shape(&out, shape);
                out
            }
            _ => b.node(node.op, io.prefix, &refs, attrs),
        };
        if let Some(doc) = node.doc {
            b.doc(doc);
        }
        outs.push(out);
    }
    Ok(outs.pop().unwrap_or_else(|| io.input.to_string()))
}

/// The name of the value a node input reads, adding initializers as needed.
fn value(
    b: &mut GraphBuilder,
    kind: &LayerKind,
    io: &LayerIo,
    input: &OnnxInput,
    outs: &[String],
) -> Mapped {
    let prefix = io.prefix;
    Ok(match input {
        OnnxInput::Input => io.input.to_string(),
        OnnxInput::Node(i) => outs.get(*i).cloned().ok_or_else(|| bug(prefix))?,
        OnnxInput::Tensor(suffix) => {
            let (data, shape) = tensor(kind, io, suffix)?;
            b.float_init(&format!("{prefix}.{suffix}"), &shape, data)
        }
        OnnxInput::Flipped(suffix) => {
            let (data, shape) = tensor(kind, io, suffix)?;
            let &[_, _, kh, kw] = shape.as_slice() else {
                return Err(bug(prefix));
            };
            let flipped = crate::ops::conv::flip_taps(data, kh * kw);
            b.float_init(&format!("{prefix}.{suffix}.flipped"), &shape, &flipped)
        }
        OnnxInput::Floats { name, dims, values } => {
            b.float_init(&format!("{prefix}.{name}"), dims, values)
        }
        OnnxInput::Ints { name, values } => b.int_init(&format!("{prefix}.{name}"), values),
    })
}

/// The layer's tensor `suffix` and its shape, checked against what its kind declares.
fn tensor<'a>(
    kind: &LayerKind,
    io: &LayerIo<'a>,
    suffix: &str,
) -> Result<(&'a [f32], Vec<usize>), Refusal> {
    let specs = kind.tensors();
    let found = specs.iter().position(|t| t.suffix == suffix);
    match found.and_then(|i| Some((io.tensors.get(i)?, &specs[i].shape))) {
        Some((data, shape)) if data.len() == shape.iter().product::<usize>() => {
            Ok((data, shape.clone()))
        }
        _ => Err(bug(io.prefix)),
    }
}

fn bug(prefix: &str) -> Refusal {
    Refusal::new(
        format!("the tensors of layer `{prefix}` do not match its shape"),
        "this is a bug in cnnscript; please report it with the script",
    )
}
