//! `batchnorm`: batch normalisation over channels (nn.BatchNorm2d on NCHW,
//! nn.BatchNorm1d on NxC). Training uses the batch statistics and updates
//! the running ones; eval uses the running ones.

use super::args::{ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec, Range};
use super::call::Args;
use super::export::{py_float, OnnxAttr, OnnxInput, OnnxMapping, OnnxNode, TorchModule};
use super::pass::{Backward, Forward, ForwardError, Mode};
use super::tensors::{weight_grads, Fill, Param, Role, TensorSpec};
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ops::{self, BatchNormGeom};

/// A `batchnorm` layer with every argument resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub channels: u64,
    pub eps: f64,
    pub momentum: f64,
}

pub const SPEC: LayerSpec = LayerSpec {
    name: "batchnorm",
    help: "batch normalisation over channels (nn.BatchNorm2d / 1d)",
    example: "batchnorm",
    input: InputRank::ImageIfRank3,
    lower,
    args: &[
        ArgSpec::new(
            "eps",
            ArgType::Real,
            ArgDefault::real(1e-5),
            "added to the variance",
        )
        .within(Range::Positive),
        ArgSpec::new(
            "momentum",
            ArgType::Real,
            ArgDefault::real(0.1),
            "running statistics update",
        )
        .within(Range::Fraction),
    ],
};

/// What forward keeps for backward: in training the batch statistics per
/// channel; in eval only that the running ones were used (constants then).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    /// 1/sqrt(var + eps)
    pub invstd: Vec<f32>,
    /// Forward ran in eval mode: backward treats the running statistics as constants.
    pub running: bool,
}

fn lower(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    let shape = at.shape;
    if !(shape.rank() == 2 || shape.rank() == 4) {
        return Err(vec![CheckError::rank(
            SPEC.name,
            "a rank-2 (NxC) or rank-4 (NxCxHxW)",
            shape,
            false,
            args.call.name.span,
        )]);
    }
    let channels = args.known_channels(shape)?;
    let bn = BatchNorm {
        channels,
        eps: args.real("eps")?,
        momentum: args.real("momentum")?,
    };
    let params = channels
        .checked_mul(2)
        .ok_or_else(|| vec![CheckError::overflow("the batchnorm weight", args.call.span)])?;
    Ok(Lowered {
        kind: LayerKind::BatchNorm(bn),
        out_shape: shape.clone(),
        params,
        macs: Some(0),
        rf: at.rf,
    })
}

/// weight (γ), bias (β), then PyTorch's buffers.
pub(super) fn tensors(b: &BatchNorm) -> Vec<TensorSpec> {
    let c = vec![b.channels as usize];
    let t = |suffix, shape, value, role| TensorSpec::new(suffix, shape, Fill::Const(value), role);
    vec![
        t("weight", c.clone(), 1.0, Role::Learnable),
        t("bias", c.clone(), 0.0, Role::Learnable),
        t("running_mean", c.clone(), 0.0, Role::Buffer),
        t("running_var", c, 1.0, Role::Buffer),
        t("num_batches_tracked", vec![], 0.0, Role::Counter),
    ]
}

pub(super) fn text(b: &BatchNorm, t: &mut ArgsText) {
    t.real("eps", b.eps).real("momentum", b.momentum);
}

/// A batch of `shape` (`NxC...`) trains a batchnorm only with more than one
/// value per channel (PyTorch's rule); the checker asks it of every batch
/// size `train` makes.
pub fn train_batch(shape: &[usize]) -> Result<(), String> {
    let values: usize = shape.iter().take(1).chain(shape.iter().skip(2)).product();
    if values <= 1 {
        return Err(format!(
            "batchnorm needs more than one value per channel to train, got input {}",
            crate::value::dims_string(shape)
        ));
    }
    Ok(())
}

pub(super) fn forward(
    b: &BatchNorm,
    cx: Forward<'_>,
    stats: &mut BatchStats,
) -> Result<(), ForwardError> {
    let c = b.channels as usize;
    let shape = &cx.x.shape;
    if shape.len() < 2 || shape[1] != c {
        return Err(format!("batchnorm expects {c} channels"));
    }
    let n = shape[0];
    let inner: usize = shape[2..].iter().product();
    let g = BatchNormGeom::new(n, c, inner, b.eps as f32).map_err(|e| e.to_string())?;
    cx.y.reshape(shape);
    stats.running = cx.mode == Mode::Eval;
    let BatchStats { mean, invstd, .. } = stats;
    mean.clear();
    mean.resize(c, 0.0);
    invstd.clear();
    invstd.resize(c, 0.0);
    let (x, y, params, ids) = (&cx.x.data, &mut cx.y.data, cx.params, cx.ids);
    match cx.mode {
        Mode::Train => {
            train_batch(shape)?;
            let gamma = std::mem::take(&mut params[ids[0]].data);
            let beta = std::mem::take(&mut params[ids[1]].data);
            let mut rmean = std::mem::take(&mut params[ids[2]].data);
            let mut rvar = std::mem::take(&mut params[ids[3]].data);
            ops::batchnorm::batchnorm_train_forward(
                &g,
                x,
                ops::batchnorm::Affine {
                    gamma: &gamma,
                    beta: &beta,
                },
                y,
                mean,
                invstd,
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
        }
        Mode::Eval => {
            let (gamma, beta) = (&params[ids[0]].data, &params[ids[1]].data);
            let (rm, rv) = (&params[ids[2]].data, &params[ids[3]].data);
            ops::batchnorm::batchnorm_eval_forward(
                &g,
                x,
                ops::batchnorm::Affine { gamma, beta },
                rm,
                rv,
                y,
            );
        }
    }
    Ok(())
}

pub(super) fn backward(b: &BatchNorm, cx: Backward<'_>, stats: &BatchStats) {
    let s = &cx.x.shape;
    let inner: usize = s[2..].iter().product();
    let ids = cx.ids;
    let running = stats.running.then(|| {
        (
            cx.params[ids[2]].data.clone(),
            cx.params[ids[3]].data.clone(),
        )
    });
    let (gamma, dgamma, dbeta) = weight_grads(cx.params, ids[0], Some(ids[1]));
    let Some(dbeta) = dbeta else { return };
    let Ok(g) = BatchNormGeom::new(s[0], b.channels as usize, inner, b.eps as f32) else {
        return;
    };
    let grads = ops::batchnorm::Grads {
        dx: cx.dx,
        overwrite: cx.overwrite_dx,
        dgamma,
        dbeta,
    };
    if let Some((rmean, rvar)) = running {
        ops::batchnorm::batchnorm_eval_backward(&g, &cx.x.data, gamma, &rmean, &rvar, cx.dy, grads);
        return;
    }
    ops::batchnorm::batchnorm_backward(
        &g,
        &cx.x.data,
        gamma,
        &stats.mean,
        &stats.invstd,
        cx.dy,
        grads,
    );
}

/// Batchnorm on its running statistics folded into the layer before it,
/// for inference: bn(z + bias) = scale·z + shift with scale = γ/√(var + ε)
/// and shift = β + (bias − mean)·scale. `None` when the tensors do not have
/// `channels` entries (a model whose state was replaced by hand).
pub fn fold(
    b: &BatchNorm,
    params: &[Param],
    ids: &[usize],
    bias: Option<&[f32]>,
) -> Option<(Vec<f32>, Vec<f32>)> {
    let c = b.channels as usize;
    let [gamma, beta, mean, var] = [0, 1, 2, 3].map(|k| params[ids[k]].data.as_slice());
    if [gamma, beta, mean, var].iter().any(|t| t.len() != c) || bias.is_some_and(|t| t.len() != c) {
        return None;
    }
    let eps = b.eps as f32;
    let scale: Vec<f32> = (0..c)
        .map(|o| gamma[o] * (1.0 / (var[o] + eps).sqrt()))
        .collect();
    let shift = (0..c)
        .map(|o| beta[o] + (bias.map_or(0.0, |b| b[o]) - mean[o]) * scale[o])
        .collect();
    Some((scale, shift))
}

/// `BatchNormalization` in inference form (running statistics), for NxC and
/// NxCxHxW inputs alike; `num_batches_tracked` is not needed.
pub(super) fn onnx(b: &BatchNorm) -> OnnxMapping {
    let mut inputs = vec![OnnxInput::Input];
    inputs.extend(["weight", "bias", "running_mean", "running_var"].map(OnnxInput::Tensor));
    Ok(vec![
        OnnxNode::new("BatchNormalization", inputs).attr("epsilon", OnnxAttr::Float(b.eps as f32))
    ])
}

/// `nn.BatchNorm2d` on NCHW maps, `nn.BatchNorm1d` on `NxC` (or `NxCxL`).
pub(super) fn torch(b: &BatchNorm, in_rank: usize) -> TorchModule {
    let class = if in_rank == 4 {
        "nn.BatchNorm2d"
    } else {
        "nn.BatchNorm1d"
    };
    let mut args = vec![b.channels.to_string()];
    if b.eps != 1e-5 {
        args.push(format!("eps={}", py_float(b.eps)));
    }
    if b.momentum != 0.1 {
        args.push(format!("momentum={}", py_float(b.momentum)));
    }
    TorchModule::nn(class, args)
}
