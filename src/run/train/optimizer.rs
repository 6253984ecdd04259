//! SGD and Adam, as torch.optim's single-tensor implementations, with their
//! per-tensor state. An update that would make a weight or the state NaN or
//! infinite is refused whole: nothing changes, so a diverged step leaves
//! the last finite parameters.

use super::super::params::{ModelState, Param};
use super::options::Optimizer;

/// Optimizer state per learnable tensor.
pub struct OptState {
    /// SGD momentum buffer, or Adam's first moment.
    m: Vec<Vec<f32>>,
    /// Adam's second moment.
    v: Vec<Vec<f32>>,
    /// Updates applied so far.
    t: i32,
}

/// The per-element rule of one update.
#[derive(Clone, Copy)]
enum Rule {
    Sgd {
        lr: f32,
        momentum: f32,
        weight_decay: f32,
        first: bool,
    },
    Adam {
        b1: f32,
        b2: f32,
        eps: f32,
        weight_decay: f32,
        step_size: f32,
        bc2_sqrt: f32,
    },
}

impl Rule {
    /// The rule of update number `t` (from 1).
    fn new(opt: &Optimizer, t: i32) -> Rule {
        match *opt {
            Optimizer::Sgd {
                lr,
                momentum,
                weight_decay,
            } => Rule::Sgd {
                lr,
                momentum,
                weight_decay,
                first: t == 1,
            },
            Optimizer::Adam {
                lr,
                b1,
                b2,
                eps,
                weight_decay,
            } => Rule::Adam {
                b1,
                b2,
                eps,
                weight_decay,
                step_size: lr / (1.0 - b1.powi(t)),
                bc2_sqrt: (1.0 - b2.powi(t)).sqrt(),
            },
        }
    }

    /// New (weight, m, v) of one element from its weight, gradient and state.
    #[inline(always)]
    fn apply(self, w: f32, g: f32, m: f32, v: f32) -> (f32, f32, f32) {
        match self {
            Rule::Sgd {
                lr,
                momentum,
                weight_decay,
                first,
            } => {
                let mut d = g + weight_decay * w;
                let mut m = m;
                if momentum != 0.0 {
                    // first step: buf = d; later: buf = momentum·buf + d (dampening 0)
                    m = if first { d } else { momentum * m + d };
                    d = m;
                }
                (w - lr * d, m, v)
            }
            Rule::Adam {
                b1,
                b2,
                eps,
                weight_decay,
                step_size,
                bc2_sqrt,
            } => {
                let d = g + weight_decay * w;
                let m = m + (d - m) * (1.0 - b1);
                let v = v * b2 + (1.0 - b2) * d * d;
                let denom = v.sqrt() / bc2_sqrt + eps;
                (w - step_size * m / denom, m, v)
            }
        }
    }

    /// Whether the update keeps every value of one tensor finite.
    fn stays_finite(self, p: &Param, m: &[f32], v: &[f32]) -> bool {
        let state = m.iter().zip(v);
        p.data
            .iter()
            .zip(&p.grad)
            .zip(state)
            .all(|((w, g), (m, v))| {
                let (w, m, v) = self.apply(*w, *g, *m, *v);
                w.is_finite() && m.is_finite() && v.is_finite()
            })
    }

    /// Update one tensor and its state in place.
    fn update(self, p: &mut Param, m: &mut [f32], v: &mut [f32]) {
        let state = m.iter_mut().zip(v.iter_mut());
        for ((w, g), (m, v)) in p.data.iter_mut().zip(&p.grad).zip(state) {
            (*w, *m, *v) = self.apply(*w, *g, *m, *v);
        }
    }
}

impl OptState {
    /// Zero state for every learnable tensor of `model`.
    pub fn new(model: &ModelState) -> OptState {
        let zeros = |p: &Param| {
            if p.learnable {
                vec![0.0; p.data.len()]
            } else {
                vec![]
            }
        };
        OptState {
            m: model.params.iter().map(zeros).collect(),
            v: model.params.iter().map(zeros).collect(),
            t: 0,
        }
    }

    /// One update from the gradients in `model`. When it would make a value
    /// NaN or infinite, nothing changes and the tensor's name is returned.
    pub fn step(&mut self, opt: &Optimizer, model: &mut ModelState) -> Result<(), String> {
        let rule = Rule::new(opt, self.t + 1);
        let learnable = || model.params.iter().enumerate().filter(|(_, p)| p.learnable);
        if let Some((_, p)) =
            learnable().find(|(i, p)| !rule.stays_finite(p, &self.m[*i], &self.v[*i]))
        {
            return Err(p.name.clone());
        }
        self.t += 1;
        for (i, p) in model.params.iter_mut().enumerate() {
            if p.learnable {
                rule.update(p, &mut self.m[i], &mut self.v[i]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::check::check_script;
    use crate::syntax::parse::parse_script;
    use rand::SeedableRng;

    /// `linear(out=1)` on two features: weight 1x2 and bias 1, gradients set.
    fn model(grad: f32) -> ModelState {
        let script = parse_script("model m(x: Nx2) = linear(out=1)").expect("parses");
        let checked = check_script(&script);
        let ir = checked.models().next().expect("a model").clone();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut m = ModelState::new(ir, &mut rng);
        for p in &mut m.params {
            p.data.fill(1.0);
            p.grad.fill(grad);
        }
        m
    }

    fn weights(m: &ModelState) -> Vec<Vec<f32>> {
        m.params.iter().map(|p| p.data.clone()).collect()
    }

    #[test]
    fn sgd_with_momentum_follows_torch() {
        let opt = Optimizer::Sgd {
            lr: 0.5,
            momentum: 0.9,
            weight_decay: 0.0,
        };
        let mut m = model(2.0);
        let mut state = OptState::new(&m);
        state.step(&opt, &mut m).expect("finite");
        assert_eq!(m.params[0].data, vec![0.0, 0.0]); // 1 - 0.5·2
        state.step(&opt, &mut m).expect("finite");
        // buf = 0.9·2 + 2 = 3.8; w = 0 - 0.5·3.8
        assert_eq!(m.params[0].data, vec![-1.9, -1.9]);
    }

    #[test]
    fn a_non_finite_update_changes_nothing() {
        for opt in [
            Optimizer::Sgd {
                lr: 1e30,
                momentum: 0.9,
                weight_decay: 0.0,
            },
            Optimizer::Adam {
                lr: 0.1,
                b1: 0.9,
                b2: 0.999,
                eps: 0.0,
                weight_decay: 1e38,
            },
        ] {
            let mut m = model(1e10);
            let mut state = OptState::new(&m);
            let before = weights(&m);
            let refused = state.step(&opt, &mut m);
            assert_eq!(refused, Err("0.weight".to_string()), "{opt:?}");
            assert_eq!(weights(&m), before, "{opt:?}");
            assert_eq!(state.t, 0);
            assert!(state.m.iter().chain(&state.v).flatten().all(|x| *x == 0.0));
        }
    }
}
