//! `flatten`: every dim but the batch into one (nn.Flatten). The data is
//! already in that order, so forward copies and backward adds.

use super::args::{InputRank, LayerSpec};
use super::call::Args;
use super::export::{OnnxAttr, OnnxInput, OnnxMapping, OnnxNode, TorchModule};
use super::pass::{Backward, Forward};
use super::window::whole_map;
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ir::shape::{Dim, Shape};
use crate::syntax::ast::Span;

pub const FLATTEN: LayerSpec = LayerSpec {
    name: "flatten",
    help: "flatten all but the batch dimension",
    example: "flatten",
    input: InputRank::AsIs,
    lower,
    args: &[],
};

fn lower(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    args.need_rank_at_least(at, 2, "a rank-2 or higher")?;
    let shape = at.shape;
    let rest = flat_size(shape, args.call.span).map_err(|e| vec![e])?;
    let rf = if shape.rank() == 4 {
        whole_map(shape, at.rf)
    } else {
        at.rf
    };
    Ok(Lowered {
        kind: LayerKind::Flatten,
        out_shape: Shape(vec![shape.0[0].clone(), rest]),
        params: 0,
        macs: Some(0),
        rf,
    })
}

/// The product of every dim but the batch.
fn flat_size(shape: &Shape, span: Span) -> Result<Dim, CheckError> {
    let mut known = 1u64;
    let mut syms = Vec::new();
    for d in &shape.0[1..] {
        match d {
            Dim::Known(n) => {
                known = known
                    .checked_mul(*n)
                    .ok_or_else(|| CheckError::overflow(&format!("flatten of {shape}"), span))?
            }
            Dim::Sym(s) => syms.push(s.clone()),
        }
    }
    Ok(if syms.is_empty() {
        Dim::Known(known)
    } else {
        if known != 1 {
            syms.push(known.to_string());
        }
        Dim::Sym(syms.join("*"))
    })
}

/// `shape explain` of `flatten`.
pub(super) fn explain(in_shape: &Shape, out_shape: &Shape) -> String {
    format!(
        "  {} = product of {}\n",
        out_shape.0[1],
        Shape(in_shape.0[1..].to_vec())
    )
}

pub(super) fn forward(cx: Forward<'_>) {
    let s = &cx.x.shape;
    let rest: usize = s[1..].iter().product();
    cx.y.reshape(&[s[0], rest]);
    cx.y.data.copy_from_slice(&cx.x.data);
}

pub(super) fn backward(cx: Backward<'_>) {
    match cx.dx {
        Some(dx) if cx.overwrite_dx => dx.copy_from_slice(cx.dy),
        Some(dx) => dx.iter_mut().zip(cx.dy).for_each(|(g, d)| *g += d),
        None => {}
    }
}

/// `Flatten(axis=1)`: all but the batch dim.
pub(super) fn onnx() -> OnnxMapping {
    Ok(vec![
        OnnxNode::new("Flatten", vec![OnnxInput::Input]).attr("axis", OnnxAttr::Int(1))
    ])
}

pub(super) fn torch() -> TorchModule {
    TorchModule::nn("nn.Flatten", vec![])
}
