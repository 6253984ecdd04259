//! SGD and Adam, as torch.optim's single-tensor implementations, with their
//! per-tensor state. The new weights are written beside the old ones and
//! take their place only when every one is finite, so a diverged step
//! leaves the last finite parameters.

use super::super::params::{ModelState, Param};
use super::options::Optimizer;

/// Optimizer state per learnable tensor.
pub struct OptState {
    /// SGD momentum buffer, or Adam's first moment.
    pub(super) m: Vec<Vec<f32>>,
    /// Adam's second moment.
    pub(super) v: Vec<Vec<f32>>,
    /// Where the next weights are written before they replace the current.
    next: Vec<Vec<f32>>,
    /// Updates applied so far.
    pub(super) t: i32,
}

impl OptState {
    /// Zero state for every learnable tensor of `model`.
    pub fn new(model: &ModelState) -> OptState {
        let zeros = || {
            model
                .params
                .iter()
                .map(|p| {
                    if p.learnable {
                        vec![0.0; p.data.len()]
                    } else {
                        vec![]
                    }
                })
                .collect()
        };
        OptState {
            m: zeros(),
            v: zeros(),
            next: zeros(),
            t: 0,
        }
    }

    /// One update from the gradients in `model`. When a new weight or state
    /// value would be NaN or infinite, the weights stay as they are and the
    /// tensor's name is returned; the state is then spent (training stops).
    pub fn step(&mut self, opt: &Optimizer, model: &mut ModelState) -> Result<(), String> {
        let t = self.t + 1;
        let mut failed = None;
        for (i, p) in model.params.iter().enumerate() {
            if !p.learnable {
                continue;
            }
            let state = State {
                m: &mut self.m[i],
                v: &mut self.v[i],
                next: &mut self.next[i],
            };
            let finite = match *opt {
                Optimizer::Sgd {
                    lr,
                    momentum,
                    weight_decay,
                } => in_pieces(p, state, |p, s| {
                    sgd(p, s, lr, momentum, weight_decay, t == 1)
                }),
                Optimizer::Adam {
                    lr,
                    b1,
                    b2,
                    eps,
                    weight_decay,
                } => {
                    let step_size = lr / (1.0 - b1.powi(t));
                    let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
                    let rule = move |w: f32, g: f32, m: f32, v: f32| {
                        let d = g + weight_decay * w;
                        let m = m + (d - m) * (1.0 - b1);
                        let v = v * b2 + (1.0 - b2) * d * d;
                        let denom = v.sqrt() / bc2_sqrt + eps;
                        (w - step_size * m / denom, m, v)
                    };
                    in_pieces(p, state, |p, s| adam(p, s, rule))
                }
            };
            if !finite {
                failed = Some(p.name.clone());
                break;
            }
        }
        if let Some(name) = failed {
            return Err(name);
        }
        for (p, next) in model.params.iter_mut().zip(&mut self.next) {
            if p.learnable {
                std::mem::swap(&mut p.data, next);
            }
        }
        self.t = t;
        Ok(())
    }
}

/// Whether a value is finite, as an integer test that vectorizes in a loop.
#[inline(always)]
fn finite_bits(x: f32) -> bool {
    x.to_bits() & 0x7f80_0000 != 0x7f80_0000
}

/// One tensor's (or one piece's) optimizer state, all of the weights' length.
struct State<'a> {
    m: &'a mut [f32],
    v: &'a mut [f32],
    next: &'a mut [f32],
}

/// Run `update` over matching pieces of (weights, gradients) and `state`, in
/// parallel for large tensors; whether every piece stayed finite.
fn in_pieces(
    p: &Param,
    state: State,
    update: impl Fn((&[f32], &[f32]), State) -> bool + Sync,
) -> bool {
    use rayon::prelude::*;
    const PIECE: usize = 1 << 16;
    let (w, g) = (&p.data[..], &p.grad[..]);
    if w.len() < 2 * PIECE || rayon::current_num_threads() < 2 {
        return update((w, g), state);
    }
    let State { m, v, next } = state;
    let weights = w.par_chunks(PIECE).zip(g.par_chunks(PIECE));
    let state = m
        .par_chunks_mut(PIECE)
        .zip(v.par_chunks_mut(PIECE))
        .zip(next.par_chunks_mut(PIECE));
    weights
        .zip(state)
        .map(|(wg, ((m, v), next))| update(wg, State { m, v, next }))
        .reduce(|| true, |a, b| a & b)
}

/// torch.optim.SGD (dampening 0; the first step's buffer is the gradient
/// itself, kept in `m`): new weights into `next`; whether all of them are
/// finite.
fn sgd(
    (w, g): (&[f32], &[f32]),
    s: State,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    first: bool,
) -> bool {
    let mut finite = true;
    let weights = w.iter().zip(g).zip(s.next.iter_mut());
    if momentum == 0.0 {
        for ((w, g), n) in weights {
            *n = *w - lr * (*g + weight_decay * *w);
            finite &= finite_bits(*n);
        }
    } else {
        for (((w, g), n), b) in weights.zip(s.m.iter_mut()) {
            let d = *g + weight_decay * *w;
            *b = if first { d } else { momentum * *b + d };
            *n = *w - lr * *b;
            finite &= finite_bits(*n) & finite_bits(*b);
        }
    }
    finite
}

/// torch.optim.Adam: new weights into `next`, moments in place; whether all
/// of them are finite.
fn adam(
    (w, g): (&[f32], &[f32]),
    s: State,
    rule: impl Fn(f32, f32, f32, f32) -> (f32, f32, f32),
) -> bool {
    let mut finite = true;
    let state = s.m.iter_mut().zip(s.v.iter_mut());
    for (((w, g), n), (m, v)) in w.iter().zip(g).zip(s.next.iter_mut()).zip(state) {
        (*n, *m, *v) = rule(*w, *g, *m, *v);
        finite &= finite_bits(*n) & finite_bits(*m) & finite_bits(*v);
    }
    finite
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
        }
    }
}
