//! What a layer kind is in other frameworks, as plain data: the ONNX nodes
//! it becomes and the PyTorch module that computes it. Each layer module
//! describes its own kinds (`onnx` and `torch`, next to `forward`); the
//! exporters in `crate::export` turn descriptions into protobuf or Python
//! and never look inside a kind. The dependency is one-way: nothing here
//! knows protobuf, and the Python is only text.
//!
//! An ONNX import would read a graph's nodes back into [`OnnxNode`]s and ask
//! each layer module for the inverse of its `onnx` (a `from_onnx` beside
//! it), so the mapping stays in one place per kind.

use crate::ir::shape::Shape;

/// One ONNX node of a layer. A layer is a list of them (none for the
/// identity); the last one's output is the layer's output.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxNode {
    /// The operator: `Conv`, `MaxPool`, `Gemm`...
    pub op: &'static str,
    pub inputs: Vec<OnnxInput>,
    pub attrs: Vec<(&'static str, OnnxAttr)>,
    /// For a node before the last: the suffix of its output's name
    /// (`max` gives `0.max`) and its shape.
    pub inner: Option<(&'static str, Shape)>,
    /// Why the node is written this way (the node's `doc_string`, shown by
    /// viewers such as Netron).
    pub doc: Option<&'static str>,
}

impl OnnxNode {
    /// A node reading `inputs`, without attributes.
    pub fn new(op: &'static str, inputs: Vec<OnnxInput>) -> OnnxNode {
        OnnxNode {
            op,
            inputs,
            attrs: Vec::new(),
            inner: None,
            doc: None,
        }
    }

    /// The node with one more attribute.
    pub fn attr(mut self, name: &'static str, value: OnnxAttr) -> OnnxNode {
        self.attrs.push((name, value));
        self
    }

    /// The node with a `doc_string`.
    pub fn doc(mut self, text: &'static str) -> OnnxNode {
        self.doc = Some(text);
        self
    }

    /// The node as an inner step of the layer: its output is `PREFIX.tag`, of this shape.
    pub fn inner(mut self, tag: &'static str, shape: Shape) -> OnnxNode {
        self.inner = Some((tag, shape));
        self
    }
}

/// What a node reads.
#[derive(Clone, Debug, PartialEq)]
pub enum OnnxInput {
    /// The value the layer reads.
    Input,
    /// The output of the layer's node with this index (an earlier one).
    Node(usize),
    /// One of the layer's tensors as stored, by its `TensorSpec` suffix:
    /// an initializer named `PREFIX.suffix`, as `save` names it.
    Tensor(&'static str),
    /// A rank-4 tensor with both spatial dims reversed (`conv flip=true`):
    /// the initializer `PREFIX.suffix.flipped`.
    Flipped(&'static str),
    /// A float constant the mapping computes: the initializer `PREFIX.name`.
    Floats {
        name: &'static str,
        dims: Vec<usize>,
        values: Vec<f32>,
    },
    /// A rank-1 int64 constant (pads): the initializer `PREFIX.name`.
    Ints {
        name: &'static str,
        values: Vec<i64>,
    },
}

/// An attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum OnnxAttr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

impl OnnxAttr {
    /// `INTS` from sizes.
    pub fn ints(values: &[u64]) -> OnnxAttr {
        OnnxAttr::Ints(values.iter().map(|&v| v as i64).collect())
    }
}

/// Why a layer cannot be written as ONNX exactly (never an approximation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
}

impl Refusal {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// A layer's ONNX nodes, or why there are none that are exact.
pub type OnnxMapping = Result<Vec<OnnxNode>, Refusal>;

/// The PyTorch module computing one layer. Exactly one per layer, so the
/// module's `state_dict` keys are cnnscript's names (`0.weight`): where
/// `torch.nn` has no exact module (per-side padding, `flip=true`), the
/// layer brings a small subclass of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct TorchModule {
    /// `nn.Conv2d`, or the class `helper` defines (`ScriptConv2d`).
    pub class: &'static str,
    /// The constructor's arguments as Python text, PyTorch's defaults left
    /// out: `["1", "6", "kernel_size=5", "padding=2"]`.
    pub args: Vec<String>,
    /// The Python source of `class` when it is not `torch.nn`'s own (it may
    /// use `torch`, `nn` and `F`).
    pub helper: Option<&'static str>,
}

impl TorchModule {
    /// A `torch.nn` module.
    pub fn nn(class: &'static str, args: Vec<String>) -> TorchModule {
        TorchModule {
            class,
            args,
            helper: None,
        }
    }

    /// The constructor call: `nn.Conv2d(1, 6, kernel_size=5)`.
    pub fn call(&self) -> String {
        format!("{}({})", self.class, self.args.join(", "))
    }
}

/// A size pair as PyTorch takes it: `3` when square, `(3, 5)` otherwise.
pub fn py_pair(p: [u64; 2]) -> String {
    if p[0] == p[1] {
        p[0].to_string()
    } else {
        format!("({}, {})", p[0], p[1])
    }
}

/// A float as a Python literal (`0.1`, `1e-05`, `float("inf")`).
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        "float(\"nan\")".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "float(\"inf\")".into()
        } else {
            "-float(\"inf\")".into()
        }
    } else {
        // Debug keeps a `.0` or an exponent: always a float literal in Python
        format!("{v:?}")
    }
}
