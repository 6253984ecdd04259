//! The inference plan of a model: its layers and merges as steps over
//! numbered values (0 is the input), with the fusions that need no
//! gradient:
//!
//! - `conv -> batchnorm` (running statistics) becomes one conv whose output
//!   pass applies the folded scale and shift;
//! - `add(a, b)` where `a` is made by such a conv read by nothing else
//!   becomes that conv with `b` as its residual, moved to the add's place
//!   (ResNet's `conv2 -> bn2` and `add(res, shortcut)`);
//! - a `relu` that is the only reader of a value is done by the step that
//!   made it: in a conv's output pass, in an add's pass, in place after
//!   any other layer.
//!
//! The executor (`super::exec`) frees each value after its last reader.

use crate::ir::model::{Model, NodeInput, NodeSource};
use crate::layers::LayerKind;

/// A value: an activation made by one step (0 is the model input).
pub type Value = usize;

/// What a step computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Layer `li` (in `Model::layers()` order) through its own forward, eval mode.
    Layer(usize),
    /// Conv layer `li` with the batchnorm layer `bn` folded into its output
    /// pass; a second input is the residual added before the relu.
    Conv { li: usize, bn: Option<usize> },
    /// The sum of the inputs.
    Add,
    /// The inputs stacked along channels.
    Concat,
}

/// One step: `output = relu?(op(inputs))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub op: Op,
    pub inputs: Vec<Value>,
    pub output: Value,
    /// A relu fused into the step.
    pub relu: bool,
}

/// The steps of one forward pass, in execution order.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Number of values (the largest id + 1).
    pub values: usize,
    pub output: Value,
}

impl Plan {
    /// The model's steps one per layer and merge, nothing fused; `layers`
    /// stops after the first layers (`m[0:K]` of a plain model).
    pub fn unfused(ir: &Model, layers: Option<usize>) -> Plan {
        let mut plan = Plan {
            steps: vec![],
            values: 1,
            output: 0,
        };
        let limit = layers.unwrap_or(usize::MAX);
        let mut node_out: Vec<Value> = Vec::with_capacity(ir.nodes.len());
        let mut li = 0;
        for node in &ir.nodes {
            let pick = |i: &NodeInput| match i {
                NodeInput::Input => 0,
                NodeInput::Node(n) => node_out[*n],
            };
            let mut cur = match &node.source {
                NodeSource::Input => 0,
                NodeSource::Node(n) => node_out[*n],
                NodeSource::Add(ins) => plan.push(Op::Add, ins.iter().map(pick).collect()),
                NodeSource::Concat(ins) => plan.push(Op::Concat, ins.iter().map(pick).collect()),
            };
            for _ in &node.layers {
                if li >= limit {
                    plan.output = cur;
                    return plan;
                }
                cur = plan.push(Op::Layer(li), vec![cur]);
                li += 1;
            }
            node_out.push(cur);
        }
        plan.output = node_out.last().copied().unwrap_or(0);
        plan
    }

    /// The plan with the fusions of the module docs; `kinds` are the
    /// model's layer kinds in `Model::layers()` order.
    pub fn fused(ir: &Model, layers: Option<usize>) -> Plan {
        let kinds: Vec<&LayerKind> = ir.layers().map(|(_, l)| &l.kind).collect();
        let mut plan = Plan::unfused(ir, layers);
        plan.fold_batchnorm(&kinds);
        plan.fuse_residual_adds();
        plan.fuse_relu(&kinds);
        plan
    }

    fn push(&mut self, op: Op, inputs: Vec<Value>) -> Value {
        let output = self.values;
        self.values += 1;
        self.steps.push(Step {
            op,
            inputs,
            output,
            relu: false,
        });
        output
    }

    /// How many steps read `v`, plus one when it is the model's output.
    fn readers(&self, v: Value) -> usize {
        let reads = self
            .steps
            .iter()
            .map(|s| s.inputs.iter().filter(|&&i| i == v).count());
        reads.sum::<usize>() + usize::from(v == self.output)
    }

    /// The step reading `v` when it is `v`'s only reader.
    fn only_reader(&self, v: Value) -> Option<usize> {
        if self.readers(v) != 1 {
            return None;
        }
        self.steps.iter().position(|s| s.inputs.contains(&v))
    }

    /// The step making `v`.
    fn maker(&self, v: Value) -> Option<usize> {
        self.steps.iter().position(|s| s.output == v)
    }

    /// `reader` is removed; `step` now makes what it made.
    fn absorb(&mut self, step: usize, reader: usize) {
        self.steps[step].output = self.steps[reader].output;
        self.steps.remove(reader);
    }

    fn fold_batchnorm(&mut self, kinds: &[&LayerKind]) {
        let mut i = 0;
        while i < self.steps.len() {
            if let Op::Layer(li) = self.steps[i].op {
                if let LayerKind::Conv(c) = kinds[li] {
                    self.steps[i].op = Op::Conv { li, bn: None };
                    let reader = self.only_reader(self.steps[i].output);
                    if let Some(j) = reader {
                        if let Op::Layer(bn) = self.steps[j].op {
                            if matches!(kinds[bn], LayerKind::BatchNorm(b) if b.channels == c.out_ch)
                            {
                                self.steps[i].op = Op::Conv { li, bn: Some(bn) };
                                self.absorb(i, j);
                            }
                        }
                    }
                }
            }
            i += 1;
        }
    }

    fn fuse_residual_adds(&mut self) {
        let mut j = 0;
        while j < self.steps.len() {
            let step = &self.steps[j];
            if step.op == Op::Add && step.inputs.len() == 2 && step.inputs[0] != step.inputs[1] {
                let [a, b] = [step.inputs[0], step.inputs[1]];
                let fusable = |v: Value| {
                    let i = self.maker(v)?;
                    let s = &self.steps[i];
                    let plain = matches!(s.op, Op::Conv { .. }) && s.inputs.len() == 1 && !s.relu;
                    (plain && self.readers(v) == 1).then_some(i)
                };
                let pick = fusable(a)
                    .map(|i| (i, b))
                    .or_else(|| fusable(b).map(|i| (i, a)));
                if let Some((i, other)) = pick {
                    // the conv runs where the add was: both its inputs exist by then
                    let mut conv = self.steps.remove(i);
                    j -= 1;
                    conv.inputs.push(other);
                    conv.output = self.steps[j].output;
                    self.steps[j] = conv;
                }
            }
            j += 1;
        }
    }

    fn fuse_relu(&mut self, kinds: &[&LayerKind]) {
        let mut i = 0;
        while i < self.steps.len() {
            let reader = self.only_reader(self.steps[i].output);
            if let Some(j) = reader {
                if matches!(self.steps[j].op, Op::Layer(li) if *kinds[li] == LayerKind::Relu) {
                    self.steps[i].relu = true;
                    self.absorb(i, j);
                    continue; // relu(relu(x)) = relu(x): the next one too
                }
            }
            i += 1;
        }
    }

    /// For each value, the index of the last step reading it (`None`: never read).
    pub fn last_reads(&self) -> Vec<Option<usize>> {
        let mut last = vec![None; self.values];
        for (si, s) in self.steps.iter().enumerate() {
            for &v in &s.inputs {
                last[v] = Some(si);
            }
        }
        last
    }
}
