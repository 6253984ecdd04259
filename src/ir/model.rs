//! The checked IR of a model: a graph of nodes in definition order, each a
//! chain of resolved layers. A sequential model is the one-node case.

use super::shape::{Rf, Shape};
use crate::layers::LayerKind;
use crate::syntax::ast::Span;

/// `Layer::macs` when the count depends on a symbolic size.
pub const UNKNOWN_MACS: u64 = u64::MAX;

/// A layer with every argument resolved and its inferred facts.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub kind: LayerKind,
    pub label: Option<String>,
    /// Position in its node's chain (for a plain model, in the model): the `I`
    /// of the parameter name `I.weight`.
    pub index: usize,
    pub span: Span,
    pub in_shape: Shape,
    pub out_shape: Shape,
    /// Learnable parameters (buffers such as batchnorm's running stats excluded).
    pub params: u64,
    /// Multiply-accumulates per sample (bias excluded).
    pub macs: u64,
    pub rf: Rf,
}

impl Layer {
    /// The layer name as written (`conv`, `relu`...).
    pub fn op(&self) -> &'static str {
        self.kind.name()
    }
}

/// Where a node reads its value from.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeSource {
    /// The model's input.
    Input,
    /// An earlier node's value (index into `Model::nodes`).
    Node(usize),
    /// Elementwise sum of equal shapes.
    Add(Vec<NodeInput>),
    /// Concatenation along channels (dim 1).
    Concat(Vec<NodeInput>),
}

/// One operand of a merge: the model input or an earlier node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeInput {
    Input,
    Node(usize),
}

/// A bound name and the chain of layers after its source.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The bound name; `None` for a plain (sequential) model's single node.
    pub name: Option<String>,
    pub source: NodeSource,
    /// The names the source reads, in written order (`["x", "b"]`).
    pub inputs: Vec<String>,
    pub layers: Vec<Layer>,
    /// Shape after the source, before the first layer.
    pub source_shape: Shape,
    pub source_rf: Rf,
    pub span: Span,
}

impl Node {
    /// The node's value shape (after its last layer).
    pub fn out_shape(&self) -> &Shape {
        self.layers
            .last()
            .map(|l| &l.out_shape)
            .unwrap_or(&self.source_shape)
    }
    /// The node's receptive field after its last layer.
    pub fn out_rf(&self) -> Rf {
        self.layers.last().map(|l| l.rf).unwrap_or(self.source_rf)
    }
}

/// A checked model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub span: Span,
    pub input_name: String,
    /// The input type as declared.
    pub declared_input: Shape,
    /// The input type after rank promotion (rank 4 for image models).
    pub input: Shape,
    pub nodes: Vec<Node>,
    /// True when the model has `name = ...` lines (parameter names gain the node prefix).
    pub is_graph: bool,
}

impl Model {
    /// The model's output shape: the value of the last node.
    pub fn output(&self) -> &Shape {
        self.nodes
            .last()
            .map(Node::out_shape)
            .unwrap_or(&self.input)
    }
    /// Every layer, node by node in binding order.
    pub fn layers(&self) -> impl Iterator<Item = (&Node, &Layer)> {
        self.nodes
            .iter()
            .flat_map(|n| n.layers.iter().map(move |l| (n, l)))
    }
    pub fn total_params(&self) -> u64 {
        self.layers().map(|(_, l)| l.params).sum()
    }
    /// Multiply-accumulates per sample; `None` when a layer's count depends
    /// on a symbolic size.
    pub fn total_macs(&self) -> Option<u64> {
        self.layers().try_fold(0u64, |acc, (_, l)| {
            if l.macs == UNKNOWN_MACS {
                None
            } else {
                acc.checked_add(l.macs)
            }
        })
    }
    /// The state-dict prefix of a layer: `c1` when labelled, else `I` in a
    /// plain model or `node.I` in a graph model.
    pub fn param_prefix(&self, node: &Node, layer: &Layer) -> String {
        if let Some(label) = &layer.label {
            return label.clone();
        }
        match (&node.name, self.is_graph) {
            (Some(n), true) => format!("{n}.{}", layer.index),
            _ => layer.index.to_string(),
        }
    }
    /// Every learnable tensor and buffer, in state-dict order, with its shape.
    pub fn state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (node, layer) in self.layers() {
            let prefix = self.param_prefix(node, layer);
            for (suffix, shape) in layer.kind.param_shapes() {
                out.push((format!("{prefix}.{suffix}"), shape));
            }
        }
        out
    }
}
