//! Reverse-mode autograd over a flat tape.
//!
//! A forward pass appends one `Step` per layer or merge, each naming its
//! input and output buffers and what its backward needs (argmax positions,
//! dropout masks, batch statistics). `backward` replays the steps in reverse,
//! accumulating gradients (`+=`), so a node read twice (fan-out) receives the
//! sum of both contributions. Buffers, gradients and saved state are kept
//! between training steps and reused: a step allocates only when a shape grows.

use rand::Rng;

use super::params::{ModelState, Param};
use crate::ir::layer::{LayerKind, Pool};
use crate::ir::model::Layer;
use crate::ir::model::{NodeInput, NodeSource};
use crate::ir::shape::window_out;
use crate::ops::{self, Axis, BatchNormGeom, ConvGeom, LinearGeom, PoolGeom};

/// Whether layers behave as in training (dropout drops, batchnorm uses batch
/// statistics and updates its running ones) or as PyTorch's `eval()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// A tensor on the tape: shape and contiguous row-major data.
#[derive(Clone, Debug, Default)]
pub struct Buf {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Clone, Debug)]
enum StepKind {
    /// Layer number `i` in `Model::layers()` order.
    Layer(usize),
    Add,
    Concat,
}

#[derive(Clone, Debug)]
struct Step {
    kind: StepKind,
    inputs: Vec<usize>,
    output: usize,
    /// Saved for backward: argmax positions (maxpool).
    argmax: Vec<u32>,
    /// Saved for backward: dropout mask, flipped kernel, or batch mean.
    aux: Vec<f32>,
    /// Saved for backward: batchnorm's 1/sqrt(var + eps).
    aux2: Vec<f32>,
}

/// The tape: buffers (id 0 is the model input) and the steps that made them.
#[derive(Default)]
pub struct Tape {
    bufs: Vec<Buf>,
    used: usize,
    steps: Vec<Step>,
    n_steps: usize,
    grads: Vec<Vec<f32>>,
    has_grad: Vec<bool>,
}

/// A shape error found while running (the batch or a symbolic size differs
/// from what was checked and a window no longer fits).
pub type ForwardError = String;

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    /// Start a new pass with `input` as buffer 0, reusing old allocations.
    pub fn start(&mut self, shape: &[usize], data: &[f32]) {
        self.used = 0;
        self.n_steps = 0;
        let id = self.alloc(shape);
        crate::ops::copy(&mut self.bufs[id].data, data);
    }

    /// Start a pass whose input is filled in place by `fill` (a mini-batch
    /// gathered straight into the tape, no staging copy).
    pub fn start_with(&mut self, shape: &[usize], fill: impl FnOnce(&mut [f32])) {
        self.used = 0;
        self.n_steps = 0;
        let id = self.alloc(shape);
        fill(&mut self.bufs[id].data);
    }

    /// Start a pass on the same input as the last one. Passes only read
    /// buffer 0, so it still holds that input (full-batch training reuses
    /// it every step instead of copying it again).
    pub fn restart(&mut self, shape: &[usize]) {
        assert_eq!(self.bufs[0].shape, shape, "tape restart with another shape");
        self.used = 1;
        self.n_steps = 0;
    }

    /// Move a buffer's contents out (the model's output, once the pass is
    /// over), leaving it empty: cheaper than cloning a large activation.
    pub fn take(&mut self, id: usize) -> Buf {
        std::mem::take(&mut self.bufs[id])
    }

    fn alloc(&mut self, shape: &[usize]) -> usize {
        let len: usize = shape.iter().product();
        if self.used == self.bufs.len() {
            self.bufs.push(Buf::default());
        }
        let b = &mut self.bufs[self.used];
        b.shape.clear();
        b.shape.extend_from_slice(shape);
        // No zeroing: every forward op overwrites its whole output.
        b.data.resize(len, 0.0);
        self.used += 1;
        self.used - 1
    }

    fn push_step(&mut self, kind: StepKind, inputs: &[usize], output: usize) -> usize {
        if self.n_steps == self.steps.len() {
            self.steps.push(Step {
                kind: StepKind::Add,
                inputs: vec![],
                output: 0,
                argmax: vec![],
                aux: vec![],
                aux2: vec![],
            });
        }
        let s = &mut self.steps[self.n_steps];
        s.kind = kind;
        s.inputs.clear();
        s.inputs.extend_from_slice(inputs);
        s.output = output;
        self.n_steps += 1;
        self.n_steps - 1
    }

    /// A buffer by id.
    pub fn buf(&self, id: usize) -> &Buf {
        &self.bufs[id]
    }

    /// Run a model forward from buffer 0, recording every step. `layers`
    /// limits the pass to the first layers of a plain model (`m[0:2](X)`).
    pub fn forward(
        &mut self,
        model: &mut ModelState,
        mode: Mode,
        rng: &mut impl Rng,
        layers: Option<usize>,
    ) -> Result<usize, ForwardError> {
        let mut node_out: Vec<usize> = Vec::with_capacity(model.ir.nodes.len());
        let mut li = 0usize;
        let limit = layers.unwrap_or(usize::MAX);
        let ModelState {
            ir,
            params,
            layer_params,
        } = model;
        for node in &ir.nodes {
            let pick = |i: &NodeInput| match i {
                NodeInput::Input => 0,
                NodeInput::Node(n) => node_out[*n],
            };
            let mut cur = match &node.source {
                NodeSource::Input => 0,
                NodeSource::Node(n) => node_out[*n],
                NodeSource::Add(ins) => {
                    let ids: Vec<usize> = ins.iter().map(pick).collect();
                    self.add(&ids)?
                }
                NodeSource::Concat(ins) => {
                    let ids: Vec<usize> = ins.iter().map(pick).collect();
                    self.concat(&ids)?
                }
            };
            for layer in &node.layers {
                if li >= limit {
                    return Ok(cur);
                }
                cur = self.layer(layer, params, &layer_params[li], li, cur, mode, rng)?;
                li += 1;
            }
            node_out.push(cur);
        }
        Ok(node_out.last().copied().unwrap_or(0))
    }

    fn add(&mut self, ids: &[usize]) -> Result<usize, ForwardError> {
        let shape = self.bufs[ids[0]].shape.clone();
        for &i in &ids[1..] {
            if self.bufs[i].shape != shape {
                return Err(format!(
                    "add: shapes {:?} and {:?} differ at run time",
                    shape, self.bufs[i].shape
                ));
            }
        }
        let out = self.alloc(&shape);
        for (n, &i) in ids.iter().enumerate() {
            let (src, dst) = two(&mut self.bufs, i, out);
            if n == 0 {
                dst.data.copy_from_slice(&src.data);
            } else {
                dst.data
                    .iter_mut()
                    .zip(&src.data)
                    .for_each(|(d, s)| *d += s);
            }
        }
        self.push_step(StepKind::Add, ids, out);
        Ok(out)
    }

    fn concat(&mut self, ids: &[usize]) -> Result<usize, ForwardError> {
        let first = self.bufs[ids[0]].shape.clone();
        let mut channels = 0;
        for &i in ids {
            let s = &self.bufs[i].shape;
            if s.len() != first.len() || s[0] != first[0] || s[2..] != first[2..] {
                return Err(format!(
                    "concat: shapes {:?} and {:?} do not fit at run time",
                    first, s
                ));
            }
            channels += s[1];
        }
        let mut shape = first.clone();
        shape[1] = channels;
        let out = self.alloc(&shape);
        let batch = first[0];
        let inner: usize = first[2..].iter().product();
        let mut offset = 0;
        for &i in ids {
            let c = self.bufs[i].shape[1];
            let (src, dst) = two(&mut self.bufs, i, out);
            for n in 0..batch {
                let s = &src.data[n * c * inner..(n + 1) * c * inner];
                let d0 = (n * channels + offset) * inner;
                dst.data[d0..d0 + c * inner].copy_from_slice(s);
            }
            offset += c;
        }
        self.push_step(StepKind::Concat, ids, out);
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn layer(
        &mut self,
        layer: &Layer,
        params: &mut [Param],
        ids: &[usize],
        li: usize,
        input: usize,
        mode: Mode,
        rng: &mut impl Rng,
    ) -> Result<usize, ForwardError> {
        let kind = &layer.kind;
        let op = layer.op;
        let in_shape = self.bufs[input].shape.clone();
        let need4 = |s: &[usize]| -> Result<(), ForwardError> {
            if s.len() == 4 {
                Ok(())
            } else {
                Err(format!(
                    "`{op}` needs a 4-D input, got {}",
                    crate::value::dims_string(s)
                ))
            }
        };
        let out;
        match kind {
            LayerKind::Conv(c) => {
                need4(&in_shape)?;
                let g = conv_geom(c, &in_shape).ok_or_else(|| {
                    format!(
                        "conv kernel does not fit the input {}",
                        crate::value::dims_string(&in_shape)
                    )
                })?;
                out = self.alloc(&g.output_shape());
                let step = self.push_step(StepKind::Layer(li), &[input], out);
                let weight = &params[ids[0]].data;
                let bias = if c.bias {
                    Some(params[ids[1]].data.as_slice())
                } else {
                    None
                };
                let (x, y) = two(&mut self.bufs, input, out);
                if c.flip {
                    let flipped = ops::conv::flip_kernel(&g, weight);
                    ops::conv::conv2d_forward(&g, &x.data, &flipped, bias, &mut y.data);
                    self.steps[step].aux = flipped;
                } else {
                    ops::conv::conv2d_forward(&g, &x.data, weight, bias, &mut y.data);
                }
            }
            LayerKind::MaxPool(p) => {
                need4(&in_shape)?;
                let g = pool_geom(p, &in_shape)
                    .ok_or_else(|| "pool window does not fit the input".to_string())?;
                out = self.alloc(&g.output_shape());
                let step = self.push_step(StepKind::Layer(li), &[input], out);
                let mut argmax = std::mem::take(&mut self.steps[step].argmax);
                argmax.clear();
                argmax.resize(g.output_shape().iter().product(), 0);
                let (x, y) = two(&mut self.bufs, input, out);
                ops::pool::maxpool2d_forward(&g, &x.data, &mut y.data, &mut argmax);
                self.steps[step].argmax = argmax;
            }
            LayerKind::AvgPool(p) => {
                need4(&in_shape)?;
                let g = pool_geom(p, &in_shape)
                    .ok_or_else(|| "pool window does not fit the input".to_string())?;
                out = self.alloc(&g.output_shape());
                self.push_step(StepKind::Layer(li), &[input], out);
                let (x, y) = two(&mut self.bufs, input, out);
                ops::pool::avgpool2d_forward(&g, p.count_pad, &x.data, &mut y.data);
            }
            LayerKind::Gap => {
                need4(&in_shape)?;
                out = self.alloc(&[in_shape[0], in_shape[1], 1, 1]);
                self.push_step(StepKind::Layer(li), &[input], out);
                let (x, y) = two(&mut self.bufs, input, out);
                ops::pool::gap_forward(
                    in_shape[0],
                    in_shape[1],
                    in_shape[2] * in_shape[3],
                    &x.data,
                    &mut y.data,
                );
            }
            LayerKind::Linear(l) => {
                if in_shape.len() != 2 || in_shape[1] != l.in_f as usize {
                    return Err(format!(
                        "linear needs Nx{} input, got {}",
                        l.in_f,
                        crate::value::dims_string(&in_shape)
                    ));
                }
                let (batch, in_f, out_f) = (in_shape[0], l.in_f as usize, l.out_f as usize);
                let g = LinearGeom::new(batch, in_f, out_f).map_err(|e| e.to_string())?;
                out = self.alloc(&[batch, out_f]);
                self.push_step(StepKind::Layer(li), &[input], out);
                let weight = &params[ids[0]].data;
                let bias = if l.bias {
                    Some(params[ids[1]].data.as_slice())
                } else {
                    None
                };
                let (x, y) = two(&mut self.bufs, input, out);
                ops::linear::linear_forward(&g, &x.data, weight, bias, &mut y.data);
            }
            LayerKind::Flatten => {
                let rest: usize = in_shape[1..].iter().product();
                out = self.alloc(&[in_shape[0], rest]);
                self.push_step(StepKind::Layer(li), &[input], out);
                let (x, y) = two(&mut self.bufs, input, out);
                y.data.copy_from_slice(&x.data);
            }
            LayerKind::Relu | LayerKind::Sigmoid | LayerKind::Tanh | LayerKind::Softmax => {
                out = self.alloc(&in_shape);
                self.push_step(StepKind::Layer(li), &[input], out);
                let (x, y) = two(&mut self.bufs, input, out);
                match kind {
                    LayerKind::Relu => ops::activation::relu_forward(&x.data, &mut y.data),
                    LayerKind::Sigmoid => ops::activation::sigmoid_forward(&x.data, &mut y.data),
                    LayerKind::Tanh => ops::activation::tanh_forward(&x.data, &mut y.data),
                    _ => {
                        let inner: usize = in_shape[2..].iter().product();
                        ops::activation::softmax_forward(
                            in_shape[0],
                            in_shape[1],
                            inner,
                            &x.data,
                            &mut y.data,
                        )
                    }
                }
            }
            LayerKind::Dropout { p } => {
                out = self.alloc(&in_shape);
                let step = self.push_step(StepKind::Layer(li), &[input], out);
                let mut mask = std::mem::take(&mut self.steps[step].aux);
                let (x, y) = two(&mut self.bufs, input, out);
                if mode == Mode::Train && *p > 0.0 {
                    mask.clear();
                    mask.resize(x.data.len(), 0.0);
                    ops::activation::dropout_forward(
                        &x.data,
                        &mut y.data,
                        &mut mask,
                        *p as f32,
                        rng,
                    );
                } else {
                    mask.clear();
                    mask.resize(x.data.len(), 1.0);
                    y.data.copy_from_slice(&x.data);
                }
                self.steps[step].aux = mask;
            }
            LayerKind::BatchNorm(b) => {
                let c = b.channels as usize;
                if in_shape.len() < 2 || in_shape[1] != c {
                    return Err(format!("batchnorm expects {c} channels"));
                }
                let n = in_shape[0];
                let inner: usize = in_shape[2..].iter().product();
                let g = BatchNormGeom::new(n, c, inner, b.eps as f32).map_err(|e| e.to_string())?;
                out = self.alloc(&in_shape);
                let step = self.push_step(StepKind::Layer(li), &[input], out);
                let mut mean = std::mem::take(&mut self.steps[step].aux);
                let mut invstd = std::mem::take(&mut self.steps[step].aux2);
                mean.clear();
                mean.resize(c, 0.0);
                invstd.clear();
                invstd.resize(c, 0.0);
                let (x, y) = two(&mut self.bufs, input, out);
                if mode == Mode::Train {
                    let count = n * inner;
                    if count <= 1 {
                        return Err(format!(
                            "batchnorm needs more than one value per channel to train, got input {}",
                            crate::value::dims_string(&in_shape)
                        ));
                    }
                    let gamma = std::mem::take(&mut params[ids[0]].data);
                    let beta = std::mem::take(&mut params[ids[1]].data);
                    let mut rmean = std::mem::take(&mut params[ids[2]].data);
                    let mut rvar = std::mem::take(&mut params[ids[3]].data);
                    ops::batchnorm::batchnorm_train_forward(
                        &g,
                        &x.data,
                        ops::batchnorm::Affine {
                            gamma: &gamma,
                            beta: &beta,
                        },
                        &mut y.data,
                        &mut mean,
                        &mut invstd,
                        Some(ops::batchnorm::RunningStats {
                            mean: &mut rmean,
                            var: &mut rvar,
                            momentum: b.momentum as f32,
                        }),
                    );
                    params[ids[0]].data = gamma;
                    params[ids[1]].data = beta;
                    params[ids[2]].data = rmean;
                    params[ids[3]].data = rvar;
                    params[ids[4]].data[0] += 1.0;
                } else {
                    let (gamma, beta) = (&params[ids[0]].data, &params[ids[1]].data);
                    let (rm, rv) = (&params[ids[2]].data, &params[ids[3]].data);
                    ops::batchnorm::batchnorm_eval_forward(
                        &g,
                        &x.data,
                        ops::batchnorm::Affine { gamma, beta },
                        rm,
                        rv,
                        &mut y.data,
                    );
                }
                self.steps[step].aux = mean;
                self.steps[step].aux2 = invstd;
            }
        }
        Ok(out)
    }

    /// Replay the tape backward from `out` with `d_out` = dLoss/dOut,
    /// accumulating parameter gradients into `model`. The model input
    /// (buffer 0) gets no gradient.
    /// Zero every gradient buffer of the last pass but the output's and
    /// hand out the output with its gradient buffer, whose contents are
    /// left as they are: the loss must overwrite every element (d loss /
    /// d output, straight into the tape). Then [`Tape::backward_seeded`].
    pub fn seed_grad(&mut self, out: usize) -> (&Buf, &mut [f32]) {
        let n = self.used;
        self.grads.resize_with(n.max(self.grads.len()), Vec::new);
        self.has_grad.clear();
        self.has_grad.resize(n, false);
        for i in 0..n {
            let len = if i == 0 && out != 0 {
                0 // the input's gradient is never needed
            } else {
                self.bufs[i].data.len()
            };
            let g = &mut self.grads[i];
            if i != out {
                g.clear();
            }
            g.resize(len, 0.0);
        }
        (&self.bufs[out], &mut self.grads[out])
    }

    /// Backward pass from `out`, whose gradient [`Tape::seed_grad`] handed out.
    pub fn backward_seeded(&mut self, model: &mut ModelState, out: usize) {
        if out == 0 {
            return;
        }
        self.has_grad[out] = true;
        let ModelState {
            ir,
            params,
            layer_params,
        } = model;
        let layers: Vec<&LayerKind> = ir.layers().map(|(_, l)| &l.kind).collect();
        for si in (0..self.n_steps).rev() {
            let step = self.steps[si].clone_shallow();
            if !self.has_grad[step.output] {
                continue;
            }
            let dy = std::mem::take(&mut self.grads[step.output]);
            match step.kind {
                StepKind::Add => {
                    for &i in &step.inputs {
                        if i != 0 {
                            self.grads[i].iter_mut().zip(&dy).for_each(|(g, d)| *g += d);
                            self.has_grad[i] = true;
                        }
                    }
                }
                StepKind::Concat => {
                    let shape = &self.bufs[step.output].shape;
                    let (batch, channels) = (shape[0], shape[1]);
                    let inner: usize = shape[2..].iter().product();
                    let mut offset = 0;
                    for &i in &step.inputs {
                        let c = self.bufs[i].shape[1];
                        if i != 0 {
                            for nb in 0..batch {
                                let d0 = (nb * channels + offset) * inner;
                                let g = &mut self.grads[i][nb * c * inner..(nb + 1) * c * inner];
                                g.iter_mut()
                                    .zip(&dy[d0..d0 + c * inner])
                                    .for_each(|(g, d)| *g += d);
                            }
                            self.has_grad[i] = true;
                        }
                        offset += c;
                    }
                }
                StepKind::Layer(li) => {
                    let input = step.inputs[0];
                    let ids = &layer_params[li];
                    self.layer_backward(params, si, layers[li], ids, input, step.output, &dy);
                    if input != 0 {
                        self.has_grad[input] = true;
                    }
                }
            }
            self.grads[step.output] = dy;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn layer_backward(
        &mut self,
        params: &mut [Param],
        si: usize,
        kind: &LayerKind,
        ids: &[usize],
        input: usize,
        output: usize,
        dy: &[f32],
    ) {
        let x = &self.bufs[input];
        let y = &self.bufs[output];
        let dx: Option<&mut [f32]> = if input == 0 {
            None
        } else {
            Some(&mut self.grads[input][..])
        };
        let saved = &self.steps[si];
        match kind {
            LayerKind::Conv(c) => {
                let Some(g) = conv_geom(c, &x.shape) else {
                    return;
                };
                let (weight, dweight, dbias) = weight_grads(params, ids[0], ids.get(1).copied());
                if c.flip {
                    // the kernel used was the flipped copy: its gradient is flipped back
                    let mut dflipped = vec![0.0; saved.aux.len()];
                    ops::conv::conv2d_backward(
                        &g,
                        &x.data,
                        &saved.aux,
                        dy,
                        dx,
                        &mut dflipped,
                        dbias,
                    );
                    let back = ops::conv::flip_kernel(&g, &dflipped);
                    dweight.iter_mut().zip(back).for_each(|(g, d)| *g += d);
                } else {
                    ops::conv::conv2d_backward(&g, &x.data, weight, dy, dx, dweight, dbias);
                }
            }
            LayerKind::MaxPool(p) => {
                if let (Some(g), Some(dx)) = (pool_geom(p, &x.shape), dx) {
                    ops::pool::maxpool2d_backward(&g, &saved.argmax, dy, dx);
                }
            }
            LayerKind::AvgPool(p) => {
                if let (Some(g), Some(dx)) = (pool_geom(p, &x.shape), dx) {
                    ops::pool::avgpool2d_backward(&g, p.count_pad, dy, dx);
                }
            }
            LayerKind::Gap => {
                if let Some(dx) = dx {
                    let s = &x.shape;
                    ops::pool::gap_backward(s[0], s[1], s[2] * s[3], dy, dx);
                }
            }
            LayerKind::Linear(l) => {
                let (weight, dweight, dbias) = weight_grads(params, ids[0], ids.get(1).copied());
                let (batch, in_f, out_f) = (x.shape[0], l.in_f as usize, l.out_f as usize);
                let Ok(g) = LinearGeom::new(batch, in_f, out_f) else {
                    return;
                };
                ops::linear::linear_backward(&g, &x.data, weight, dy, dx, dweight, dbias);
            }
            LayerKind::Flatten => {
                if let Some(dx) = dx {
                    dx.iter_mut().zip(dy).for_each(|(g, d)| *g += d);
                }
            }
            LayerKind::Relu => {
                if let Some(dx) = dx {
                    ops::activation::relu_backward(&y.data, dy, dx);
                }
            }
            LayerKind::Sigmoid => {
                if let Some(dx) = dx {
                    ops::activation::sigmoid_backward(&y.data, dy, dx);
                }
            }
            LayerKind::Tanh => {
                if let Some(dx) = dx {
                    ops::activation::tanh_backward(&y.data, dy, dx);
                }
            }
            LayerKind::Softmax => {
                if let Some(dx) = dx {
                    let s = &y.shape;
                    let inner: usize = s[2..].iter().product();
                    ops::activation::softmax_backward(s[0], s[1], inner, &y.data, dy, dx);
                }
            }
            LayerKind::Dropout { .. } => {
                if let Some(dx) = dx {
                    ops::activation::dropout_backward(&saved.aux, dy, dx);
                }
            }
            LayerKind::BatchNorm(b) => {
                let s = &x.shape;
                let inner: usize = s[2..].iter().product();
                let (gamma, dgamma, dbeta) = weight_grads(params, ids[0], Some(ids[1]));
                let Some(dbeta) = dbeta else { return };
                let c = b.channels as usize;
                let Ok(g) = BatchNormGeom::new(s[0], c, inner, b.eps as f32) else {
                    return;
                };
                let grads = ops::batchnorm::Grads { dx, dgamma, dbeta };
                ops::batchnorm::batchnorm_backward(
                    &g,
                    &x.data,
                    gamma,
                    &saved.aux,
                    &saved.aux2,
                    dy,
                    grads,
                );
            }
        }
    }
}

/// A layer's weight (read) with its gradient, and the bias gradient (written):
/// disjoint borrows of two entries of `params`.
fn weight_grads(
    params: &mut [Param],
    weight: usize,
    bias: Option<usize>,
) -> (&[f32], &mut [f32], Option<&mut [f32]>) {
    match bias {
        Some(b) if b > weight => {
            let (lo, hi) = params.split_at_mut(b);
            let Param { data, grad, .. } = &mut lo[weight];
            (data, grad, Some(&mut hi[0].grad))
        }
        Some(b) if b < weight => {
            let (lo, hi) = params.split_at_mut(weight);
            let Param { data, grad, .. } = &mut hi[0];
            (data, grad, Some(&mut lo[b].grad))
        }
        _ => {
            let Param { data, grad, .. } = &mut params[weight];
            (data, grad, None)
        }
    }
}

impl Step {
    /// The fields backward needs to dispatch, without the saved buffers.
    fn clone_shallow(&self) -> Step {
        Step {
            kind: self.kind.clone(),
            inputs: self.inputs.clone(),
            output: self.output,
            argmax: vec![],
            aux: vec![],
            aux2: vec![],
        }
    }
}

/// Two distinct buffers, one to read and one to write.
fn two(bufs: &mut [Buf], read: usize, write: usize) -> (&Buf, &mut Buf) {
    debug_assert_ne!(read, write);
    if read < write {
        let (a, b) = bufs.split_at_mut(write);
        (&a[read], &mut b[0])
    } else {
        let (a, b) = bufs.split_at_mut(read);
        (&b[0], &mut a[write])
    }
}

/// Conv geometry for an actual input; `None` when the kernel no longer fits.
pub fn conv_geom(c: &crate::ir::layer::Conv, s: &[usize]) -> Option<ConvGeom> {
    let axis = |i: usize, pad| {
        let window = [c.kernel[i], c.stride[i], c.dilation[i]];
        window_axis(s[2 + i], window, pad, false)
    };
    let h = axis(0, (c.pad.top, c.pad.bottom))?;
    let w = axis(1, (c.pad.left, c.pad.right))?;
    ConvGeom::new(s[0], s[1], c.out_ch as usize, c.groups as usize, h, w).ok()
}

/// Pool geometry for an actual input; `None` when the window no longer fits.
pub fn pool_geom(p: &Pool, s: &[usize]) -> Option<PoolGeom> {
    let axis = |i: usize, pad| {
        let window = [p.kernel[i], p.stride[i], p.dilation[i]];
        window_axis(s[2 + i], window, pad, p.ceil)
    };
    let h = axis(0, (p.pad.top, p.pad.bottom))?;
    let w = axis(1, (p.pad.left, p.pad.right))?;
    PoolGeom::new(s[0], s[1], h, w).ok()
}

/// One axis of a window (kernel, stride, dilation) over `input` values with
/// padding (before, after); `None` when the window does not fit.
fn window_axis(input: usize, window: [u64; 3], pad: (u64, u64), ceil: bool) -> Option<Axis> {
    let [kernel, stride, dilation] = window;
    let output = window_out(input as u64, pad.0, pad.1, kernel, stride, dilation, ceil)?;
    let u = |v: u64| v as usize;
    Some(Axis {
        input,
        kernel: u(kernel),
        stride: u(stride),
        dilation: u(dilation),
        pad_before: u(pad.0),
        pad_after: u(pad.1),
        output: u(output),
    })
}
