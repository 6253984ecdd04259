//! The `export MODEL "file.onnx"` statement: the model's current weights as ONNX.

use super::error::{RunError, RunResult};
use super::params::ModelState;
use super::Interp;
use crate::export::onnx;
use crate::syntax::ast::{Ident, Span, StrLit};

impl Interp {
    /// `export MODEL "file.onnx"`: written atomically, relative to the script's folder.
    pub fn export_onnx(&self, model: &Ident, path: &StrLit, span: Span) -> RunResult<()> {
        let state = self.models.get(&model.name).ok_or_else(|| {
            RunError::new(
                format!("unknown model `{}`", model.name),
                model.span,
                "not a model",
            )
        })?;
        let bytes = onnx_bytes(state, Some(span))?;
        onnx::write(&self.path(&path.value), &bytes).map_err(|e| RunError::io(&e, path.span))
    }
}

/// A model's ONNX file with its current weights. A layer ONNX cannot express
/// is an error at `stmt` (the `export` statement) pointing at the layer too,
/// or at the layer alone when there is no statement (the `export` command).
pub fn onnx_bytes(state: &ModelState, stmt: Option<Span>) -> RunResult<Vec<u8>> {
    onnx_proto(state, stmt).map(|m| prost::Message::encode_to_vec(&m))
}

/// A model's ONNX message with its current weights (errors as [`onnx_bytes`]).
pub fn onnx_proto(state: &ModelState, stmt: Option<Span>) -> RunResult<onnx::proto::ModelProto> {
    let name = &state.ir.name;
    let at = stmt.unwrap_or(state.ir.span);
    crate::io::check_alloc_bytes(
        onnx::export_bytes_estimate(&state.ir),
        &format!("exporting `{name}`"),
    )
    .map_err(|e| RunError::io(&e, at))?;
    let tensors: Vec<Vec<&[f32]>> = state
        .layer_params
        .iter()
        .map(|ids| {
            ids.iter()
                .map(|&i| state.params[i].data.as_slice())
                .collect()
        })
        .collect();
    onnx::model_proto(&state.ir, &tensors).map_err(|u| {
        let message = format!("cannot export `{name}` to ONNX: {}", u.refusal.message);
        let err = match stmt {
            Some(span) => RunError::new(message, span, "this export").also(u.span, "this layer"),
            None => RunError::new(message, u.span, "this layer"),
        };
        err.help(u.refusal.help)
    })
}
