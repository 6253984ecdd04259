//! Lowering of one layer call: the layer table checks the arguments, the
//! layer's own rule (in `crate::layers`) gives the kind with its output
//! shape, parameter count, multiply-accumulates and receptive field.

use super::error::CheckError;
use super::model::{Layer, UNKNOWN_MACS};
use super::shape::Shape;
use crate::layers::{layer_spec, parse_args, LayerInput, LayerSpec, LAYERS};
use crate::syntax::ast::{LayerCall, Span};

/// The table entry of the called layer, or "unknown layer" with a suggestion.
fn spec_of(call: &LayerCall) -> Result<&'static LayerSpec, CheckError> {
    layer_spec(&call.name.name).ok_or_else(|| {
        let names: Vec<&str> = LAYERS.iter().map(|l| l.name).collect();
        CheckError::unknown_layer(&call.name.name, call.name.span, &names)
    })
}

/// The checks of a call that need no input shape (layer name, argument
/// names, types and ranges): used after an earlier layer failed, so one
/// run reports every broken layer.
pub fn validate_call(call: &LayerCall) -> Vec<CheckError> {
    match spec_of(call) {
        Err(e) => vec![e],
        Ok(spec) => parse_args(call, spec).err().unwrap_or_default(),
    }
}

/// Lower and infer one layer call.
pub fn infer_layer(call: &LayerCall, input: &LayerInput) -> Result<Layer, Vec<CheckError>> {
    let spec = spec_of(call).map_err(|e| vec![e])?;
    let args = parse_args(call, spec)?;
    let lowered = (spec.lower)(&args, input)?;
    check_size(&lowered.out_shape, call.span).map_err(|e| vec![e])?;
    Ok(Layer {
        kind: lowered.kind,
        label: call.label.as_ref().map(|l| l.name.clone()),
        index: input.index,
        span: call.span,
        in_shape: input.shape.clone(),
        out_shape: lowered.out_shape,
        params: lowered.params,
        macs: lowered.macs.unwrap_or(UNKNOWN_MACS),
        rf: lowered.rf,
    })
}

/// The element count of a shape must fit in 64 bits (symbols count as 1).
fn check_size(shape: &Shape, span: Span) -> Result<(), CheckError> {
    shape
        .0
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(d.known().unwrap_or(1)))
        .map(|_| ())
        .ok_or_else(|| CheckError::overflow(&format!("the shape {shape}"), span))
}
