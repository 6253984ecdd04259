//! Builds an ONNX graph: unique value names, nodes, initializers and the
//! types of values (`value_info`), with the batch dimension as a `dim_param`.

use std::collections::HashSet;

use super::proto::{
    attribute_type, data_type, AttributeProto, DimValue, Dimension, GraphProto, NodeProto,
    TensorProto, TensorShapeProto, TypeProto, TypeTensor, ValueInfoProto,
};
use crate::ir::shape::{Dim, Shape};
use crate::layers::export::OnnxAttr;

/// A graph under construction. Values are named by strings; every name is
/// handed out once (by [`GraphBuilder::fresh`]).
#[derive(Debug)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    value_info: Vec<ValueInfoProto>,
    names: HashSet<String>,
    /// The batch symbol written for dim 0 of every shape (the batch may
    /// differ at run time from the one a model declares).
    batch: String,
}

impl GraphBuilder {
    /// An empty graph whose shapes have `batch` as their first dimension.
    pub fn new(batch: &str) -> GraphBuilder {
        GraphBuilder {
            nodes: Vec::new(),
            initializers: Vec::new(),
            value_info: Vec::new(),
            names: HashSet::new(),
            batch: batch.to_string(),
        }
    }

    /// A value name not handed out yet: `base`, else `base_1`, `base_2`...
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 0;
        while self.names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.names.insert(name.clone());
        name
    }

    /// A float initializer (weights); returns its name.
    pub fn float_init(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.clone(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// A rank-1 int64 initializer (pads, shapes); returns its name.
    pub fn int_init(&mut self, name: &str, data: &[i64]) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            dims: vec![data.len() as i64],
            data_type: data_type::INT64,
            name: name.clone(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// Append a node with one output, named `out` (made unique); returns the output's name.
    pub fn node(
        &mut self,
        op_type: &str,
        out: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        let output = self.fresh(out);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op_type.to_string(),
            attribute,
            doc_string: String::new(),
        });
        output
    }

    /// Say why the last node is written the way it is (shown by viewers such as Netron).
    pub fn doc(&mut self, text: &str) {
        if let Some(n) = self.nodes.last_mut() {
            n.doc_string = text.to_string();
        }
    }

    /// Record the type of an intermediate value.
    pub fn shape(&mut self, value: &str, shape: &Shape) {
        let info = self.value_info(value, shape);
        self.value_info.push(info);
    }

    /// A float tensor's `ValueInfoProto`, dim 0 replaced by the batch symbol.
    pub fn value_info(&self, name: &str, shape: &Shape) -> ValueInfoProto {
        let dim = shape
            .dims()
            .iter()
            .enumerate()
            .map(|(i, d)| Dimension {
                value: Some(match (i, d) {
                    (0, _) => DimValue::DimParam(self.batch.clone()),
                    (_, Dim::Known(n)) => DimValue::DimValue(*n as i64),
                    (_, Dim::Sym(s)) => DimValue::DimParam(s.clone()),
                }),
            })
            .collect();
        ValueInfoProto {
            name: name.to_string(),
            r#type: Some(TypeProto {
                tensor_type: Some(TypeTensor {
                    elem_type: data_type::FLOAT,
                    shape: Some(TensorShapeProto { dim }),
                }),
            }),
        }
    }

    /// Give a node's output another (fresh) name everywhere it appears; returns the new name.
    pub fn rename(&mut self, old: &str, new: &str) -> String {
        let new = self.fresh(new);
        for n in &mut self.nodes {
            for v in n.input.iter_mut().chain(n.output.iter_mut()) {
                if v == old {
                    *v = new.clone();
                }
            }
            if n.name == old {
                n.name = new.clone();
            }
        }
        for v in &mut self.value_info {
            if v.name == old {
                v.name = new.clone();
            }
        }
        new
    }

    /// The finished graph; the output's own `value_info` entry is dropped (the
    /// graph output carries its type).
    pub fn finish(
        mut self,
        name: &str,
        input: ValueInfoProto,
        output: ValueInfoProto,
    ) -> GraphProto {
        self.value_info
            .retain(|v| v.name != output.name && v.name != input.name);
        GraphProto {
            node: self.nodes,
            name: name.to_string(),
            initializer: self.initializers,
            doc_string: String::new(),
            input: vec![input],
            output: vec![output],
            value_info: self.value_info,
        }
    }
}

/// An `INT` attribute.
pub fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i: Some(value),
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

/// An attribute as a layer describes it.
pub fn attribute(name: &str, value: &OnnxAttr) -> AttributeProto {
    match value {
        OnnxAttr::Int(i) => int(name, *i),
        OnnxAttr::Ints(v) => AttributeProto {
            name: name.to_string(),
            ints: v.clone(),
            r#type: attribute_type::INTS,
            ..Default::default()
        },
        OnnxAttr::Float(f) => AttributeProto {
            name: name.to_string(),
            f: Some(*f),
            r#type: attribute_type::FLOAT,
            ..Default::default()
        },
    }
}
