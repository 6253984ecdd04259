//! `linear`: a fully connected layer (nn.Linear) on NxF input.

use super::args::{ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec};
use super::call::{Args, FLAT};
use super::export::{OnnxAttr, OnnxInput, OnnxMapping, OnnxNode, TorchModule};
use super::pass::{Backward, Forward, ForwardError};
use super::tensors::{weight_grads, Fill, Init, Role, TensorSpec};
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ir::shape::{Dim, Shape};
use crate::ops::{self, LinearGeom};

/// A `linear` layer with every argument resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub in_f: u64,
    pub out_f: u64,
    pub bias: bool,
    pub init: Init,
}

pub const SPEC: LayerSpec = LayerSpec {
    name: "linear",
    help: "fully connected layer (nn.Linear)",
    example: "linear(out=10)",
    input: InputRank::AsIs,
    lower,
    args: &[
        ArgSpec::new(
            "in",
            ArgType::Count,
            ArgDefault::Inferred,
            "input features (inferred if omitted)",
        ),
        ArgSpec::new(
            "out",
            ArgType::Count,
            ArgDefault::Required,
            "output features (required)",
        ),
        ArgSpec::new(
            "bias",
            ArgType::Bool,
            ArgDefault::flag(true),
            "learnable bias",
        ),
        ArgSpec::new(
            "init",
            ArgType::Init,
            ArgDefault::init(Init::Default),
            "weight initialisation",
        ),
    ],
};

fn lower(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    args.need_rank(at, 2, FLAT)?;
    let shape = at.shape;
    let incoming = match &shape.0[1] {
        Dim::Known(n) => *n,
        Dim::Sym(s) => match args.given_count("in") {
            Some(n) => n,
            None => {
                return Err(vec![CheckError::other(
                    "symbolic_features",
                    format!(
                        "`linear` needs a known number of input features, but the input is {shape}"
                    ),
                    args.call.span,
                    &format!("{s} is symbolic"),
                    "give the model a concrete input size".into(),
                )])
            }
        },
    };
    let in_f = args.declared_in(incoming, shape, "features")?;
    let out_f = args.count("out")?;
    let bias = args.flag("bias")?;
    let macs = in_f.checked_mul(out_f);
    let params = macs
        .and_then(|v| v.checked_add(if bias { out_f } else { 0 }))
        .ok_or_else(|| vec![CheckError::overflow("the linear weight", args.call.span)])?;
    let linear = Linear {
        in_f,
        out_f,
        bias,
        init: args.init("init")?,
    };
    Ok(Lowered {
        kind: LayerKind::Linear(linear),
        out_shape: Shape(vec![shape.0[0].clone(), Dim::Known(out_f)]),
        params,
        macs,
        rf: at.rf,
    })
}

pub(super) fn tensors(l: &Linear) -> Vec<TensorSpec> {
    let fill = Fill::Init {
        init: l.init,
        fan_in: l.in_f,
    };
    let (in_f, out_f) = (l.in_f as usize, l.out_f as usize);
    let mut v = vec![TensorSpec::new(
        "weight",
        vec![out_f, in_f],
        fill,
        Role::Learnable,
    )];
    if l.bias {
        v.push(TensorSpec::new("bias", vec![out_f], fill, Role::Learnable));
    }
    v
}

pub(super) fn text(l: &Linear, t: &mut ArgsText) {
    t.count("in", l.in_f)
        .count("out", l.out_f)
        .flag("bias", l.bias);
    // `init` is left out, as for conv
}

pub(super) fn forward(l: &Linear, cx: Forward<'_>) -> Result<(), ForwardError> {
    let shape = &cx.x.shape;
    if shape.len() != 2 || shape[1] != l.in_f as usize {
        return Err(format!(
            "linear needs Nx{} input, got {}",
            l.in_f,
            crate::value::dims_string(shape)
        ));
    }
    let (batch, in_f, out_f) = (shape[0], l.in_f as usize, l.out_f as usize);
    let g = LinearGeom::new(batch, in_f, out_f).map_err(|e| e.to_string())?;
    cx.y.reshape(&[batch, out_f]);
    let weight = &cx.params[cx.ids[0]].data;
    let bias = l.bias.then(|| cx.params[cx.ids[1]].data.as_slice());
    ops::linear::linear_forward(&g, &cx.x.data, weight, bias, &mut cx.y.data);
    Ok(())
}

pub(super) fn backward(l: &Linear, cx: Backward<'_>) {
    let (weight, dweight, dbias) = weight_grads(cx.params, cx.ids[0], cx.ids.get(1).copied());
    let (batch, in_f, out_f) = (cx.x.shape[0], l.in_f as usize, l.out_f as usize);
    let Ok(g) = LinearGeom::new(batch, in_f, out_f) else {
        return;
    };
    ops::linear::linear_backward(&g, &cx.x.data, weight, cx.dy, cx.dx, dweight, dbias);
}

/// `Gemm(x, W, b, transB=1)`: y = x·Wᵀ + b, as `nn.Linear`.
pub(super) fn onnx(l: &Linear) -> OnnxMapping {
    let mut inputs = vec![OnnxInput::Input, OnnxInput::Tensor("weight")];
    if l.bias {
        inputs.push(OnnxInput::Tensor("bias"));
    }
    Ok(vec![
        OnnxNode::new("Gemm", inputs).attr("transB", OnnxAttr::Int(1))
    ])
}

pub(super) fn torch(l: &Linear) -> TorchModule {
    let mut args = vec![l.in_f.to_string(), l.out_f.to_string()];
    if !l.bias {
        args.push("bias=False".into());
    }
    TorchModule::nn("nn.Linear", args)
}
