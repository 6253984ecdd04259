//! A layer's tensors: what each one is (learnable, buffer, counter), how it
//! starts, and the storage the tape reads and the optimizers update.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// How a layer's weights start (PyTorch's default, or a fixed fill).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// PyTorch's: uniform ±1/sqrt(fan_in) for weight and bias.
    Default,
    Randn,
    Zeros,
    Ones,
}

impl Init {
    /// Every initialisation, in the order `:help` lists them.
    pub const ALL: [Init; 4] = [Init::Default, Init::Randn, Init::Zeros, Init::Ones];

    /// The word a script writes.
    pub fn name(self) -> &'static str {
        match self {
            Init::Default => "default",
            Init::Randn => "randn",
            Init::Zeros => "zeros",
            Init::Ones => "ones",
        }
    }

    pub fn from_name(word: &str) -> Option<Init> {
        Init::ALL.into_iter().find(|i| i.name() == word)
    }
}

/// How a tensor's values start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// From the layer's `init`; `fan_in` sets PyTorch's default bound.
    Init {
        init: Init,
        fan_in: u64,
    },
    Const(f32),
}

impl Fill {
    /// `len` starting values, drawn from `rng` in order when random.
    pub fn values(self, len: usize, rng: &mut impl Rng) -> Vec<f32> {
        match self {
            Fill::Const(v) => vec![v; len],
            Fill::Init { init, fan_in } => match init {
                Init::Zeros => vec![0.0; len],
                Init::Ones => vec![1.0; len],
                Init::Randn => (0..len)
                    .map(|_| StandardNormal.sample(rng))
                    .collect::<Vec<f32>>(),
                Init::Default => {
                    // PyTorch: kaiming_uniform_(a=√5) for the weight and uniform for the
                    // bias both reduce to U(−1/√fan_in, 1/√fan_in).
                    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                    (0..len).map(|_| rng.random_range(-bound..bound)).collect()
                }
            },
        }
    }
}

/// What a tensor is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Trained: has a gradient.
    Learnable,
    /// Updated by the forward pass (running statistics).
    Buffer,
    /// A step count, stored as int64 in PyTorch (`num_batches_tracked`).
    Counter,
}

/// One tensor of a layer, in state-dict order.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    /// State-dict suffix: `weight`, `bias`, `running_mean`.
    pub suffix: &'static str,
    pub shape: Vec<usize>,
    pub fill: Fill,
    pub role: Role,
}

impl TensorSpec {
    pub fn new(suffix: &'static str, shape: Vec<usize>, fill: Fill, role: Role) -> TensorSpec {
        TensorSpec {
            suffix,
            shape,
            fill,
            role,
        }
    }
}

/// One named tensor of a model: a learnable parameter or a buffer.
#[derive(Clone, Debug)]
pub struct Param {
    /// State-dict name: `0.weight`, `c1.bias`, `a.1.running_mean`.
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    /// Gradient, same length as `data` (empty for buffers).
    pub grad: Vec<f32>,
    pub learnable: bool,
    /// Stored as int64 in PyTorch (`num_batches_tracked`).
    pub integer: bool,
}

impl Param {
    /// A tensor named `name` as `spec` describes it, its values drawn from `rng`.
    pub fn new(name: String, spec: TensorSpec, rng: &mut impl Rng) -> Param {
        let len: usize = spec.shape.iter().product();
        let learnable = spec.role == Role::Learnable;
        Param {
            name,
            data: spec.fill.values(len, rng),
            grad: if learnable { vec![0.0; len] } else { vec![] },
            shape: spec.shape,
            learnable,
            integer: spec.role == Role::Counter,
        }
    }
}

/// A layer's weight (read) with its gradient, and the bias gradient (written):
/// disjoint borrows of two entries of `params`.
pub(super) fn weight_grads(
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
