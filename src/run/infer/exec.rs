//! Runs a [`Plan`]: each step's output comes from a pool of buffers and
//! goes back to it after the step that reads it last, so a forward pass
//! holds only the activations still to be read, and repeated passes reuse
//! the same memory (no page faults after the first).

use rand::Rng;
use rayon::prelude::*;

use super::plan::{Op, Plan, Step};
use crate::ir::model::Model;
use crate::layers::{self, Buf, Forward, ForwardError, LayerKind, Mode, Param, Saved};
use crate::ops::conv::Epilogue;
use crate::run::params::ModelState;

/// Elements per parallel chunk of the element-wise passes.
const CHUNK: usize = 1 << 15;

/// Free buffers, handed out best fit.
#[derive(Default)]
pub struct Pool {
    free: Vec<Vec<f32>>,
}

impl Pool {
    /// An empty buffer with room for `len` floats if the pool has one.
    pub(super) fn take(&mut self, len: usize) -> Buf {
        // an unknown length (0) gets a buffer of its own
        let fit = (self.free.iter().enumerate())
            .filter(|(_, v)| len > 0 && v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        let data = match fit {
            Some(i) => self.free.swap_remove(i),
            None => Vec::new(),
        };
        Buf {
            shape: vec![],
            data,
        }
    }

    pub(super) fn give(&mut self, b: Buf) {
        if b.data.capacity() > 0 {
            self.free.push(b.data);
        }
    }

    /// Floats the pool holds.
    pub fn floats(&self) -> usize {
        self.free.iter().map(Vec::capacity).sum()
    }
}

/// Per layer, what its forward keeps from pass to pass (dropout's mask,
/// batchnorm's statistics: eval mode reads none, but the forwards write them).
#[derive(Default)]
pub struct Scratch {
    pub(super) saved: Vec<Saved>,
}

/// Run `plan` on `input`, taking buffers from `pool` and giving back all
/// but the output.
pub fn run(
    plan: &Plan,
    model: &mut ModelState,
    input: Buf,
    pool: &mut Pool,
    scratch: &mut Scratch,
    rng: &mut impl Rng,
) -> Result<Buf, ForwardError> {
    let last = plan.last_reads();
    let mut values: Vec<Option<Buf>> = (0..plan.values).map(|_| None).collect();
    values[0] = Some(input);
    let batch = values[0]
        .as_ref()
        .map_or(1, |b| b.shape.first().copied().unwrap_or(1));
    scratch
        .saved
        .resize_with(model.layer_params.len(), Saved::default);
    for (si, step) in plan.steps.iter().enumerate() {
        // the output leaves with the caller: a buffer of its own
        let mut y = if step.output == plan.output {
            Buf::default()
        } else {
            pool.take(expected_len(&model.ir, step, batch, &values))
        };
        let done = run_step(step, model, &values, &mut y, &mut scratch.saved, rng);
        if let Err(e) = done {
            values.into_iter().flatten().for_each(|b| pool.give(b));
            pool.give(y);
            return Err(e);
        }
        values[step.output] = Some(y);
        for &v in &step.inputs {
            if last[v] == Some(si) && v != plan.output {
                if let Some(b) = values[v].take() {
                    pool.give(b);
                }
            }
        }
    }
    let out = values[plan.output].take().unwrap_or_default();
    values.into_iter().flatten().for_each(|b| pool.give(b));
    Ok(out)
}

/// Floats the step's output will take, from the checked shapes (0 when a
/// size is symbolic: the pool then hands out any buffer).
fn expected_len(ir: &Model, step: &Step, batch: usize, values: &[Option<Buf>]) -> usize {
    let len = |v: &usize| values[*v].as_ref().map_or(0, |b| b.data.len());
    let layer = |li: usize| ir.layers().nth(li).map(|(_, l)| l.out_shape.clone());
    let shape = match step.op {
        Op::Layer(li) | Op::Conv { li, .. } => layer(li),
        Op::Add => return len(&step.inputs[0]),
        Op::Concat => return step.inputs.iter().map(len).sum(),
    };
    shape.map_or(0, |s| {
        s.0.iter()
            .skip(1)
            .map(|d| d.known().unwrap_or(0) as usize)
            .product::<usize>()
            * batch
    })
}

fn run_step(
    step: &Step,
    model: &mut ModelState,
    values: &[Option<Buf>],
    y: &mut Buf,
    saved: &mut [Saved],
    rng: &mut impl Rng,
) -> Result<(), ForwardError> {
    let input = |k: usize| -> Result<&Buf, ForwardError> {
        values[step.inputs[k]]
            .as_ref()
            .ok_or_else(|| "inference: a value was freed before its last reader".to_string())
    };
    let ModelState {
        ir,
        params,
        layer_params,
    } = model;
    match step.op {
        Op::Layer(li) => {
            let kind = &ir
                .layers()
                .nth(li)
                .ok_or("inference: no such layer")?
                .1
                .kind;
            if let LayerKind::MaxPool(p) = kind {
                layers::maxpool_forward_values(p, input(0)?, y)?;
            } else {
                let cx = Forward {
                    x: input(0)?,
                    y: &mut *y,
                    params,
                    ids: &layer_params[li],
                    mode: Mode::Eval,
                    // an inference pass runs whole (m(X), eval stop between batches)
                    cut_short: false,
                };
                kind.forward(cx, rng, &mut saved[li])?;
            }
            if step.relu {
                relu_in_place(&mut y.data);
            }
        }
        Op::Conv { li, bn } => {
            let residual = match step.inputs.get(1) {
                Some(_) => Some(input(1)?.data.as_slice()),
                None => None,
            };
            conv(
                ir,
                params,
                layer_params,
                (li, bn),
                input(0)?,
                residual,
                step.relu,
                y,
            )?;
        }
        Op::Add => {
            let ins = (0..step.inputs.len())
                .map(input)
                .collect::<Result<Vec<_>, _>>()?;
            add(&ins, step.relu, y)?;
        }
        Op::Concat => {
            let ins = (0..step.inputs.len())
                .map(input)
                .collect::<Result<Vec<_>, _>>()?;
            y.concat_channels(&ins)?;
            if step.relu {
                relu_in_place(&mut y.data);
            }
        }
    }
    Ok(())
}

/// A conv with its folded batchnorm, residual and relu in the output pass.
#[allow(clippy::too_many_arguments)]
fn conv(
    ir: &Model,
    params: &[Param],
    layer_params: &[Vec<usize>],
    (li, bn): (usize, Option<usize>),
    x: &Buf,
    residual: Option<&[f32]>,
    relu: bool,
    y: &mut Buf,
) -> Result<(), ForwardError> {
    let kind = |i: usize| ir.layers().nth(i).map(|(_, l)| &l.kind);
    let Some(LayerKind::Conv(c)) = kind(li) else {
        return Err("inference: a fused conv is not a conv".into());
    };
    let ids = &layer_params[li];
    let bias = layers::conv_bias(c, params, ids);
    let folded = match bn.map(|b| (kind(b), b)) {
        Some((Some(LayerKind::BatchNorm(b)), bi)) => {
            let f = layers::fold_batchnorm(b, params, &layer_params[bi], bias);
            Some(f.ok_or("batchnorm: its tensors do not match its channels")?)
        }
        Some(_) => return Err("inference: a folded batchnorm is not a batchnorm".into()),
        None => None,
    };
    let e = match &folded {
        Some((scale, shift)) => Epilogue {
            scale: Some(scale),
            shift: Some(shift),
            residual,
            relu,
        },
        None => Epilogue {
            scale: None,
            shift: bias,
            residual,
            relu,
        },
    };
    layers::conv_forward_fused(c, x, params, ids, &e, y)
}

/// y = relu?(Σ inputs), one pass.
fn add(ins: &[&Buf], relu: bool, y: &mut Buf) -> Result<(), ForwardError> {
    let shape = &ins[0].shape;
    if let Some(other) = ins.iter().find(|b| &b.shape != shape) {
        return Err(format!(
            "add: shapes {:?} and {:?} differ at run time",
            shape, other.shape
        ));
    }
    y.reshape(shape);
    let sum = |(start, out): (usize, &mut [f32])| {
        let at = start * CHUNK;
        out.copy_from_slice(&ins[0].data[at..at + out.len()]);
        for b in &ins[1..] {
            let src = &b.data[at..at + out.len()];
            out.iter_mut().zip(src).for_each(|(o, s)| *o += s);
        }
        if relu {
            relu_slice(out);
        }
    };
    let parallel = y.data.len() >= 2 * CHUNK && rayon::current_num_threads() > 1;
    crate::ops::for_each_chunk(&mut y.data[..], CHUNK, parallel, sum);
    Ok(())
}

fn relu_slice(v: &mut [f32]) {
    v.iter_mut().for_each(|x| {
        if *x < 0.0 {
            *x = 0.0
        }
    });
}

/// relu over a layer's own output, in place.
fn relu_in_place(v: &mut [f32]) {
    if v.len() >= 2 * CHUNK && rayon::current_num_threads() > 1 {
        v.par_chunks_mut(CHUNK).for_each(relu_slice);
    } else {
        relu_slice(v);
    }
}
