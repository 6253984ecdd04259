//! Inference: a model applied to data without gradients (`let Z = m(X)`,
//! `eval`), planned and run apart from the autograd tape. The plan folds
//! each batchnorm into the conv before it and fuses residual adds and
//! relus into the steps that make their inputs ([`plan`]); the executor
//! frees every activation after its last reader into a buffer pool that
//! the next pass reuses ([`exec`]). Results equal the tape's eval-mode
//! forward up to float rounding (`tests.rs`).

pub mod exec;
pub mod plan;

use rand::Rng;

use crate::layers::{Buf, ForwardError};
use crate::run::params::ModelState;
pub use exec::Pool;
pub use plan::Plan;

/// What inference keeps between passes: the buffer pool and per-layer scratch.
#[derive(Default)]
pub struct Inference {
    pool: Pool,
    scratch: exec::Scratch,
}

impl Inference {
    /// Nothing pooled yet.
    pub fn new() -> Inference {
        Inference::default()
    }

    /// Run `model` (its first `layers` layers, if given) on an input of
    /// `shape`, which `fill` writes; returns the output.
    pub fn run(
        &mut self,
        model: &mut ModelState,
        shape: &[usize],
        fill: impl FnOnce(&mut [f32]),
        layers: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<Buf, ForwardError> {
        let plan = Plan::fused(&model.ir, layers);
        self.run_plan(&plan, model, shape, fill, rng)
    }

    /// Run a given plan (tests compare fused and unfused plans).
    pub fn run_plan(
        &mut self,
        plan: &Plan,
        model: &mut ModelState,
        shape: &[usize],
        fill: impl FnOnce(&mut [f32]),
        rng: &mut impl Rng,
    ) -> Result<Buf, ForwardError> {
        let len: usize = shape.iter().product();
        let mut input = self.pool.take(len);
        input.reshape(shape);
        fill(&mut input.data);
        exec::run(plan, model, input, &mut self.pool, &mut self.scratch, rng)
    }

    /// Give an output back once it has been read (the next pass reuses it).
    pub fn recycle(&mut self, b: Buf) {
        self.pool.give(b);
    }

    /// Floats held for the next pass.
    pub fn pooled_floats(&self) -> usize {
        self.pool.floats()
    }
}

#[cfg(test)]
mod tests;
