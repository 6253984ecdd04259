//! Reverse-mode autograd over a flat tape.
//!
//! A forward pass appends one `Step` per layer or merge, each naming its
//! input and output buffers and what its backward needs (a typed
//! `layers::Saved`: argmax positions, a dropout mask, batch statistics).
//! What a layer computes lives in `crate::layers`; the tape only orders it. `backward` replays the steps in reverse,
//! accumulating gradients (`+=`), so a node read twice (fan-out) receives the
//! sum of both contributions. Buffers, gradients and saved state are kept
//! between training steps and reused: a step allocates only when a shape grows.

use rand::Rng;

use super::params::{ModelState, Param};
use crate::ir::model::Layer;
use crate::ir::model::{NodeInput, NodeSource};
use crate::layers::{Backward, Forward, LayerKind, Saved};
pub use crate::layers::{Buf, ForwardError, Mode};

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
    /// What a layer's forward kept for its backward.
    saved: Saved,
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
    /// Whether backward also fills the model input's gradient (training never needs it).
    keep_input_grad: bool,
    /// Whether a pass stops between layers once a Ctrl-C asks (training).
    stoppable: bool,
    /// Whether the last pass stopped early on a Ctrl-C.
    cut: bool,
}

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
        let id = self.reserve();
        self.bufs[id].reshape(shape);
        id
    }

    /// The next buffer, left as it was: its writer gives it a shape.
    fn reserve(&mut self) -> usize {
        if self.used == self.bufs.len() {
            self.bufs.push(Buf::default());
        }
        self.used += 1;
        self.used - 1
    }

    fn push_step(&mut self, kind: StepKind, inputs: &[usize], output: usize) -> usize {
        if self.n_steps == self.steps.len() {
            self.steps.push(Step {
                kind: StepKind::Add,
                inputs: vec![],
                output: 0,
                saved: Saved::Nothing,
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
        self.cut = false;
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
                if self.stop_here() {
                    return Err("interrupted".into());
                }
                cur = self.layer(layer, params, &layer_params[li], li, cur, mode, rng)?;
                li += 1;
            }
            node_out.push(cur);
        }
        // the last layer may have stopped early too
        if self.stop_here() {
            return Err("interrupted".into());
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
        let mut out_buf = std::mem::take(&mut self.bufs[out]);
        match ids {
            [a, b, ..] => {
                crate::ops::add(&mut out_buf.data, &self.bufs[*a].data, &self.bufs[*b].data)
            }
            [a] => crate::ops::copy(&mut out_buf.data, &self.bufs[*a].data),
            [] => {}
        }
        for &i in ids.iter().skip(2) {
            crate::ops::add_assign(&mut out_buf.data, &self.bufs[i].data);
        }
        self.bufs[out] = out_buf;
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

    /// One layer forward: its output buffer, its step, then the layer's own rule.
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
        let out = self.reserve();
        let step = self.push_step(StepKind::Layer(li), &[input], out);
        let (x, y) = two(&mut self.bufs, input, out);
        let cx = Forward {
            x,
            y,
            params,
            ids,
            mode,
            cut_short: self.stoppable,
        };
        layer.kind.forward(cx, rng, &mut self.steps[step].saved)?;
        Ok(out)
    }

    /// Let passes stop between layers once a Ctrl-C asks ([`Tape::cut`]
    /// then says so): a step of a large model is not a safe point soon
    /// enough. What a cut pass leaves is to be thrown away.
    pub fn stoppable(&mut self, on: bool) {
        self.stoppable = on;
    }

    /// Whether the last forward or backward pass stopped early on a Ctrl-C.
    pub fn cut(&self) -> bool {
        self.cut
    }

    /// Between two layers: whether to stop the pass here (and remember it).
    fn stop_here(&mut self) -> bool {
        self.cut = self.stoppable && crate::interrupt::requested();
        self.cut
    }

    /// Whether backward also computes dLoss/dInput (buffer 0), read with
    /// [`Tape::input_grad`]. Off by default: training does not need it.
    pub fn keep_input_grad(&mut self, on: bool) {
        self.keep_input_grad = on;
    }

    /// dLoss/dInput of the last backward pass (empty unless asked for with
    /// [`Tape::keep_input_grad`]).
    pub fn input_grad(&self) -> &[f32] {
        self.grads.first().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Size every gradient buffer of the last pass, mark them all empty
    /// (their contents are stale and nothing zeroes them: the first
    /// gradient into a buffer overwrites it, see `backward_seeded`), and hand
    /// out the output with its gradient buffer: the loss must overwrite
    /// every element (d loss / d output, straight into the tape). Then
    /// [`Tape::backward_seeded`].
    pub fn seed_grad(&mut self, out: usize) -> (&Buf, &mut [f32]) {
        let n = self.used;
        self.grads.resize_with(n.max(self.grads.len()), Vec::new);
        self.has_grad.clear();
        self.has_grad.resize(n, false);
        for i in 0..n {
            let len = if i == 0 && out != 0 && !self.keep_input_grad {
                0 // the input's gradient is not needed
            } else {
                self.bufs[i].data.len()
            };
            self.grads[i].resize(len, 0.0);
        }
        (&self.bufs[out], &mut self.grads[out])
    }

    /// Backward pass from `out`, whose gradient [`Tape::seed_grad`] handed
    /// out: gradients accumulate (`+=`) into `model`'s parameters and reach
    /// every buffer that needs one (the first contribution to a buffer is
    /// written, later ones added).
    pub fn backward_seeded(&mut self, model: &mut ModelState, out: usize) {
        self.cut = false;
        if out == 0 {
            return;
        }
        self.backward_steps(model, out);
        if self.keep_input_grad && !self.has_grad[0] {
            crate::ops::zero(&mut self.grads[0]); // no path reached the input
        }
    }

    fn backward_steps(&mut self, model: &mut ModelState, out: usize) {
        self.has_grad[out] = true;
        let keep_input = self.keep_input_grad;
        let wants = move |i: usize| i != 0 || keep_input;
        let ModelState {
            ir,
            params,
            layer_params,
        } = model;
        let layers: Vec<&LayerKind> = ir.layers().map(|(_, l)| &l.kind).collect();
        for si in (0..self.n_steps).rev() {
            if self.stop_here() {
                return;
            }
            let step = self.steps[si].clone_shallow();
            if !self.has_grad[step.output] {
                continue;
            }
            let mut dy = std::mem::take(&mut self.grads[step.output]);
            match step.kind {
                StepKind::Add => {
                    let last = step.inputs.len().saturating_sub(1);
                    for (n, &i) in step.inputs.iter().enumerate() {
                        if !wants(i) {
                            continue;
                        }
                        if self.has_grad[i] {
                            crate::ops::add_assign(&mut self.grads[i], &dy);
                        } else if n == last {
                            // dy is read no more: hand its storage over.
                            std::mem::swap(&mut self.grads[i], &mut dy);
                        } else {
                            crate::ops::copy(&mut self.grads[i], &dy);
                        }
                        self.has_grad[i] = true;
                    }
                }
                StepKind::Concat => {
                    let shape = &self.bufs[step.output].shape;
                    let (batch, channels) = (shape[0], shape[1]);
                    let inner: usize = shape[2..].iter().product();
                    let mut offset = 0;
                    for &i in &step.inputs {
                        let c = self.bufs[i].shape[1];
                        if wants(i) {
                            let fresh = !self.has_grad[i];
                            for nb in 0..batch {
                                let d0 = (nb * channels + offset) * inner;
                                let g = &mut self.grads[i][nb * c * inner..(nb + 1) * c * inner];
                                let d = &dy[d0..d0 + c * inner];
                                if fresh {
                                    g.copy_from_slice(d);
                                } else {
                                    g.iter_mut().zip(d).for_each(|(g, d)| *g += d);
                                }
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
                    if wants(input) {
                        self.has_grad[input] = true;
                    }
                }
            }
            self.grads[step.output] = dy;
        }
        // the last layer may have stopped early too
        self.stop_here();
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
        let wanted = input != 0 || self.keep_input_grad;
        let fresh = wanted && !self.has_grad[input];
        let overwrite_dx = fresh && kind.overwrites_dx();
        if fresh && !overwrite_dx {
            crate::ops::zero(&mut self.grads[input]);
        }
        let dx = wanted.then(|| &mut self.grads[input][..]);
        let cx = Backward {
            x: &self.bufs[input],
            y: &self.bufs[output],
            dy,
            dx,
            overwrite_dx,
            params,
            ids,
            cut_short: self.stoppable,
        };
        kind.backward(cx, &self.steps[si].saved);
    }
}

impl Step {
    /// The fields backward needs to dispatch, without the saved buffers.
    fn clone_shallow(&self) -> Step {
        Step {
            kind: self.kind.clone(),
            inputs: self.inputs.clone(),
            output: self.output,
            saved: Saved::Nothing,
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

#[cfg(test)]
mod tests;
