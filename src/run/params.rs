//! A model's parameters and buffers, in PyTorch state-dict order and names.

use rand::Rng;

use crate::ir::model::Model;
pub use crate::layers::Param;
use crate::value::{shape_words, TensorRef, Value};

/// A model ready to run: its checked IR and its tensors.
#[derive(Clone, Debug)]
pub struct ModelState {
    pub ir: Model,
    pub params: Vec<Param>,
    /// For each layer (in `Model::layers()` order), the indices of its tensors
    /// in `params`, in `LayerKind::tensors` order.
    pub layer_params: Vec<Vec<usize>>,
}

impl ModelState {
    /// Create a model's tensors with their initial values, as each layer's
    /// `tensors` says (PyTorch's defaults unless `init=` chose otherwise).
    pub fn new(ir: Model, rng: &mut impl Rng) -> ModelState {
        let mut params = Vec::new();
        let mut layer_params = Vec::new();
        for (node, layer) in ir.layers() {
            let prefix = ir.param_prefix(node, layer);
            let mut ids = Vec::new();
            for spec in layer.kind.tensors() {
                ids.push(params.len());
                params.push(Param::new(format!("{prefix}.{}", spec.suffix), spec, rng));
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
            crate::ops::zero(&mut p.grad);
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
        let data = self.state_dict_data(entries)?;
        self.set_data(data);
        Ok(())
    }

    /// Put in data that [`ModelState::state_dict_data`] checked.
    pub fn set_data(&mut self, data: Vec<Vec<f32>>) {
        for (p, d) in self.params.iter_mut().zip(data) {
            p.data = d;
        }
    }

    /// Every tensor's new data from a state dict, in `params` order, checked
    /// as [`ModelState::load_state_dict`] says; the error and a help line.
    pub fn state_dict_data(
        &self,
        entries: Vec<(String, Value)>,
    ) -> Result<Vec<Vec<f32>>, (String, String)> {
        let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        if let Some((extra, _)) = entries.iter().find(|(n, _)| !names.contains(&n.as_str())) {
            return Err((
                format!("unexpected tensor `{extra}` in the file"),
                format!("this model's tensors are: {}", names.join(", ")),
            ));
        }
        let mut new_data: Vec<Vec<f32>> = Vec::with_capacity(self.params.len());
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
                Some(a) => new_data.push(a.iter().copied().collect()),
                None => {
                    return Err((
                        format!("`{name}` in the file is not a tensor"),
                        "save parameters with `save MODEL \"file.safetensors\"`".into(),
                    ))
                }
            }
        }
        Ok(new_data)
    }

    /// Borrowed views for the file writers.
    pub fn with_tensor_refs<R>(&self, f: impl FnOnce(&[(String, TensorRef<'_>)]) -> R) -> R {
        let ints = self.integer_copies();
        f(&self.tensor_refs(&ints))
    }

    /// The integer tensors (`num_batches_tracked`) as i64, for
    /// [`ModelState::tensor_refs`]; empty for the others.
    pub fn integer_copies(&self) -> Vec<Vec<i64>> {
        self.params
            .iter()
            .map(|p| {
                if p.integer {
                    p.data.iter().map(|v| *v as i64).collect()
                } else {
                    vec![]
                }
            })
            .collect()
    }

    /// Borrowed views of every tensor in state-dict order, the integer ones
    /// from `ints` (see [`ModelState::integer_copies`]).
    pub fn tensor_refs<'a>(&'a self, ints: &'a [Vec<i64>]) -> Vec<(String, TensorRef<'a>)> {
        self.params
            .iter()
            .zip(ints)
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
            .collect()
    }
}
