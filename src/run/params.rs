//! A model's parameters and buffers, in PyTorch state-dict order and names.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::ir::layer::{Init, LayerKind};
use crate::ir::model::Model;
use crate::value::{shape_words, TensorRef, Value};

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

/// A model ready to run: its checked IR and its tensors.
#[derive(Clone, Debug)]
pub struct ModelState {
    pub ir: Model,
    pub params: Vec<Param>,
    /// For each layer (in `Model::layers()` order), the indices of its tensors
    /// in `params`, in `LayerKind::param_shapes` order.
    pub layer_params: Vec<Vec<usize>>,
}

impl ModelState {
    /// Create a model's tensors with their initial values (PyTorch's default
    /// init: uniform ±1/sqrt(fan_in) for weight and bias).
    pub fn new(ir: Model, rng: &mut impl Rng) -> ModelState {
        let mut params = Vec::new();
        let mut layer_params = Vec::new();
        for (node, layer) in ir.layers() {
            let prefix = ir.param_prefix(node, layer);
            let mut ids = Vec::new();
            let (init, fan_in) = match &layer.kind {
                LayerKind::Conv(c) => (
                    c.init,
                    (c.in_ch / c.groups.max(1)) * c.kernel[0] * c.kernel[1],
                ),
                LayerKind::Linear(l) => (l.init, l.in_f),
                _ => (Init::Default, 1),
            };
            for (suffix, shape) in layer.kind.param_shapes() {
                let len: usize = shape.iter().product();
                let data = match (&layer.kind, suffix) {
                    (LayerKind::BatchNorm(_), "weight" | "running_var") => vec![1.0; len],
                    (LayerKind::BatchNorm(_), _) => vec![0.0; len],
                    _ => init_values(init, fan_in, len, rng),
                };
                let learnable = LayerKind::is_learnable(suffix);
                ids.push(params.len());
                params.push(Param {
                    name: format!("{prefix}.{suffix}"),
                    grad: if learnable { vec![0.0; len] } else { vec![] },
                    shape,
                    data,
                    learnable,
                    integer: suffix == "num_batches_tracked",
                });
            }
            layer_params.push(ids);
        }
        ModelState {
            ir,
            params,
            layer_params,
        }
    }

    /// Find a tensor by state-dict name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Zero every gradient.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.grad.iter_mut().for_each(|g| *g = 0.0);
        }
    }

    /// The state dict as named tensors, for saving.
    pub fn state_dict(&self) -> Vec<(String, Value)> {
        self.params
            .iter()
            .map(|p| {
                let v = if p.integer {
                    Value::Int(
                        ndarray::ArrayD::from_shape_vec(
                            ndarray::IxDyn(&p.shape),
                            p.data.iter().map(|v| *v as i64).collect(),
                        )
                        .unwrap_or_else(|_| ndarray::ArrayD::zeros(ndarray::IxDyn(&p.shape))),
                    )
                } else {
                    Value::Float(
                        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&p.shape), p.data.clone())
                            .unwrap_or_else(|_| ndarray::ArrayD::zeros(ndarray::IxDyn(&p.shape))),
                    )
                };
                (p.name.clone(), v)
            })
            .collect()
    }

    /// Replace every tensor from a loaded state dict, strictly as PyTorch's
    /// `load_state_dict`: a missing, extra or misshapen tensor is an error
    /// naming it (and both shapes). Nothing changes unless everything fits.
    pub fn load_state_dict(
        &mut self,
        entries: Vec<(String, Value)>,
    ) -> Result<(), (String, String)> {
        let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        if let Some((extra, _)) = entries.iter().find(|(n, _)| !names.contains(&n.as_str())) {
            return Err((
                format!("unexpected tensor `{extra}` in the file"),
                format!("this model's tensors are: {}", names.join(", ")),
            ));
        }
        let mut new_data: Vec<Option<Vec<f32>>> = Vec::with_capacity(self.params.len());
        // in the model's state-dict order, so the first problem named is the first tensor
        for p in &self.params {
            let Some((_, value)) = entries.iter().find(|(n, _)| *n == p.name) else {
                let missing: Vec<&str> = self
                    .params
                    .iter()
                    .filter(|q| !entries.iter().any(|(n, _)| *n == q.name))
                    .map(|q| q.name.as_str())
                    .collect();
                return Err((
                    format!("tensor `{}` is missing from the file", p.name),
                    format!("missing: {}", missing.join(", ")),
                ));
            };
            let name = &p.name;
            let shape = value.shape().map(|s| s.to_vec()).unwrap_or_default();
            // PyTorch stores num_batches_tracked as a 0-d tensor; accept [] and [1]
            let fits = shape == p.shape || (p.shape.is_empty() && shape == [1]);
            if !fits {
                return Err((
                    format!(
                        "tensor `{name}` has shape {} in the file, but the model needs {}",
                        shape_words(&shape),
                        shape_words(&p.shape)
                    ),
                    "the file was saved from a model with different layer sizes".into(),
                ));
            }
            match value.to_float() {
                Some(a) => new_data.push(Some(a.iter().copied().collect())),
                None => {
                    return Err((
                        format!("`{name}` in the file is not a tensor"),
                        "save parameters with `save MODEL \"file.safetensors\"`".into(),
                    ))
                }
            }
        }
        for (p, d) in self.params.iter_mut().zip(new_data) {
            if let Some(d) = d {
                p.data = d;
            }
        }
        Ok(())
    }

    /// Borrowed views for the file writers.
    pub fn with_tensor_refs<R>(&self, f: impl FnOnce(&[(String, TensorRef<'_>)]) -> R) -> R {
        let ints: Vec<Vec<i64>> = self
            .params
            .iter()
            .map(|p| {
                if p.integer {
                    p.data.iter().map(|v| *v as i64).collect()
                } else {
                    vec![]
                }
            })
            .collect();
        let refs: Vec<(String, TensorRef<'_>)> = self
            .params
            .iter()
            .zip(&ints)
            .filter_map(|(p, iv)| {
                let view = if p.integer {
                    TensorRef::Int(
                        ndarray::ArrayViewD::from_shape(ndarray::IxDyn(&p.shape), iv).ok()?,
                    )
                } else {
                    TensorRef::Float(
                        ndarray::ArrayViewD::from_shape(ndarray::IxDyn(&p.shape), &p.data).ok()?,
                    )
                };
                Some((p.name.clone(), view))
            })
            .collect();
        f(&refs)
    }
}

fn init_values(init: Init, fan_in: u64, len: usize, rng: &mut impl Rng) -> Vec<f32> {
    match init {
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
    }
}
