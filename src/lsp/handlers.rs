//! One handler per request: read the parameters, ask the document's
//! analysis, shape the answer as the protocol wants it.

use lsp_server::ErrorCode;
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    InlayHintRequest, Request, SemanticTokensFullRequest,
};
use lsp_types::{
    CompletionResponse, DocumentSymbolResponse, GotoDefinitionResponse, Location,
    SemanticTokensResult,
};
use serde_json::Value;

use super::server::{Documents, Failure};
use super::{completion, edits, hints, hover, navigation, semantic};

/// Answer request `method`.
pub fn handle(docs: &mut impl Documents, method: &str, params: Value) -> Result<Value, Failure> {
    match method {
        HoverRequest::METHOD => answer::<HoverRequest>(params, |p| {
            let at = p.text_document_position_params;
            let an = docs.analysis(&at.text_document.uri)?;
            Ok(hover::hover(&an, at.position))
        }),
        Completion::METHOD => answer::<Completion>(params, |p| {
            let at = p.text_document_position;
            let an = docs.analysis(&at.text_document.uri)?;
            let items = completion::completion(&an, at.position);
            Ok(Some(CompletionResponse::Array(items)))
        }),
        InlayHintRequest::METHOD => answer::<InlayHintRequest>(params, |p| {
            let an = docs.analysis(&p.text_document.uri)?;
            Ok(Some(hints::inlay_hints(&an, p.range)))
        }),
        GotoDefinition::METHOD => answer::<GotoDefinition>(params, |p| {
            let at = p.text_document_position_params;
            let an = docs.analysis(&at.text_document.uri)?;
            Ok(navigation::definition(&an, at.position).map(|span| {
                GotoDefinitionResponse::Scalar(Location::new(at.text_document.uri, an.range(span)))
            }))
        }),
        DocumentSymbolRequest::METHOD => answer::<DocumentSymbolRequest>(params, |p| {
            let an = docs.analysis(&p.text_document.uri)?;
            Ok(Some(DocumentSymbolResponse::Nested(navigation::symbols(
                &an,
            ))))
        }),
        SemanticTokensFullRequest::METHOD => answer::<SemanticTokensFullRequest>(params, |p| {
            let an = docs.analysis(&p.text_document.uri)?;
            Ok(Some(SemanticTokensResult::Tokens(semantic::tokens(&an))))
        }),
        Formatting::METHOD => answer::<Formatting>(params, |p| {
            let an = docs.analysis(&p.text_document.uri)?;
            Ok(edits::format(&an))
        }),
        CodeActionRequest::METHOD => answer::<CodeActionRequest>(params, |p| {
            let an = docs.analysis(&p.text_document.uri)?;
            Ok(Some(edits::code_actions(
                &an,
                &p.text_document.uri,
                p.range,
            )))
        }),
        _ => Err((
            ErrorCode::MethodNotFound,
            format!("cnnscript lsp does not answer `{method}`"),
        )),
    }
}

/// Decode the parameters of `R`, run `f`, encode its result.
fn answer<R: Request>(
    params: Value,
    f: impl FnOnce(R::Params) -> Result<R::Result, Failure>,
) -> Result<Value, Failure> {
    let params: R::Params = serde_json::from_value(params).map_err(|e| {
        (
            ErrorCode::InvalidParams,
            format!("invalid parameters for `{}`: {e}", R::METHOD),
        )
    })?;
    let result = f(params)?;
    serde_json::to_value(result).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}
