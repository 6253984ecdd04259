//! Every name in a script with what it refers to, found by one walk over the
//! syntax tree: hover, go to definition and semantic tokens read it. Names
//! resolve as the checker's scope does: to the latest definition before them.

use std::collections::HashMap;

use crate::syntax::ast::*;

/// One name in the text.
#[derive(Clone, Debug)]
pub struct Occ<'a> {
    pub span: Span,
    pub what: What<'a>,
}

/// What a name is.
#[derive(Clone, Debug)]
pub enum What<'a> {
    /// A model where it is declared (`stmt` is the declaration).
    ModelDecl { stmt: usize },
    /// A model named elsewhere; `decl` is its declaration, when known.
    ModelUse { decl: Option<(usize, Span)> },
    /// A tensor bound by `let`.
    TensorDef { stmt: usize },
    /// A tensor read; `def` is the name in its `let`.
    TensorUse { def: Option<(usize, Span)> },
    /// A layer's name in a model or a `shape` question.
    Layer { stmt: usize, call: &'a LayerCall },
    /// A layer's label where it is written.
    Label { stmt: usize, call: &'a LayerCall },
    /// An argument name in a layer call.
    Arg { call: &'a LayerCall, key: &'a str },
    /// A model's input name, where declared or read.
    Input { stmt: usize, def: Span },
    /// A graph node's name, where bound or read; `def` is where it is bound.
    Node {
        stmt: usize,
        name: &'a str,
        def: Option<Span>,
    },
    /// The fields of `m.c1.weight`: a parameter path of model `decl`.
    Param {
        decl: Option<(usize, Span)>,
        key: String,
    },
    /// A builtin function.
    Builtin,
}

/// A definition in scope.
#[derive(Clone, Copy)]
enum Def {
    Model(usize, Span),
    Tensor(usize, Span),
}

struct Walker<'a> {
    scope: HashMap<&'a str, Def>,
    out: Vec<Occ<'a>>,
}

/// Every name of the script, in source order.
pub fn occurrences(script: &Script) -> Vec<Occ<'_>> {
    let mut w = Walker {
        scope: HashMap::new(),
        out: Vec::new(),
    };
    for (i, stmt) in script.stmts.iter().enumerate() {
        w.stmt(i, stmt);
    }
    w.out.sort_by_key(|o| (o.span.start, o.span.end));
    w.out
}

/// The name at byte `offset` (touching it at either end counts).
pub fn at(script: &Script, offset: usize) -> Option<Occ<'_>> {
    let all = occurrences(script);
    let inside = all
        .iter()
        .position(|o| o.span.start <= offset && offset < o.span.end);
    let touching = || {
        all.iter()
            .position(|o| o.span.start <= offset && offset <= o.span.end)
    };
    inside.or_else(touching).map(|i| all[i].clone())
}

impl<'a> Walker<'a> {
    fn push(&mut self, span: Span, what: What<'a>) {
        self.out.push(Occ { span, what });
    }

    fn model_use(&mut self, id: &'a Ident) {
        let decl = match self.scope.get(id.name.as_str()) {
            Some(Def::Model(stmt, span)) => Some((*stmt, *span)),
            _ => None,
        };
        self.push(id.span, What::ModelUse { decl });
    }

    fn stmt(&mut self, i: usize, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Let { name, value } => {
                self.expr(value);
                self.define_tensor(i, name);
            }
            StmtKind::LetTuple { names, value } => {
                self.expr(value);
                names.iter().for_each(|n| self.define_tensor(i, n));
            }
            StmtKind::Assign {
                target,
                index,
                value,
                ..
            } => {
                self.name(target);
                self.index(index);
                self.expr(value);
            }
            StmtKind::Print(e)
            | StmtKind::Show { value: e, .. }
            | StmtKind::Save { value: e, .. } => self.expr(e),
            StmtKind::SetParam { target, value } => {
                self.expr(target);
                self.expr(value);
            }
            StmtKind::LoadModel { model, .. }
            | StmtKind::Summary { model }
            | StmtKind::Export { model, .. }
            | StmtKind::Assert { model, .. } => self.model_use(model),
            StmtKind::Train { model, .. } | StmtKind::Eval { model } => {
                if let Some(m) = model {
                    self.model_use(m);
                }
            }
            StmtKind::Data { x, y, .. } => {
                self.expr(x);
                self.expr(y);
            }
            StmtKind::Model(decl) => self.model(i, decl),
            StmtKind::Shape { layers, .. } => layers.iter().for_each(|c| self.call(i, c)),
            StmtKind::Seed { .. } | StmtKind::Plot { .. } => {}
        }
    }

    fn define_tensor(&mut self, stmt: usize, name: &'a Ident) {
        self.push(name.span, What::TensorDef { stmt });
        self.scope
            .insert(name.name.as_str(), Def::Tensor(stmt, name.span));
    }

    fn model(&mut self, i: usize, decl: &'a ModelDecl) {
        self.push(decl.name.span, What::ModelDecl { stmt: i });
        let input = decl.input_name.span;
        self.push(
            input,
            What::Input {
                stmt: i,
                def: input,
            },
        );
        let mut bound: HashMap<&str, Span> = HashMap::new();
        for line in &decl.lines {
            let read = |id: &'a Ident, w: &mut Walker<'a>| {
                let what = if id.name == decl.input_name.name {
                    What::Input {
                        stmt: i,
                        def: input,
                    }
                } else {
                    What::Node {
                        stmt: i,
                        name: &id.name,
                        def: bound.get(id.name.as_str()).copied(),
                    }
                };
                w.push(id.span, what);
            };
            match &line.source {
                Some(Source::Name(id)) => read(id, self),
                Some(Source::Merge { args, .. }) => args.iter().for_each(|a| read(a, self)),
                None => {}
            }
            if let Some(b) = &line.bind {
                bound.entry(&b.name).or_insert(b.span);
                let def = bound.get(b.name.as_str()).copied();
                self.push(
                    b.span,
                    What::Node {
                        stmt: i,
                        name: &b.name,
                        def,
                    },
                );
            }
            line.layers.iter().for_each(|c| self.call(i, c));
        }
        self.scope
            .insert(decl.name.name.as_str(), Def::Model(i, decl.name.span));
    }

    fn call(&mut self, stmt: usize, call: &'a LayerCall) {
        if let Some(label) = &call.label {
            self.push(label.span, What::Label { stmt, call });
        }
        self.push(call.name.span, What::Layer { stmt, call });
        for kv in call.args.iter().flatten() {
            self.push(
                kv.key.span,
                What::Arg {
                    call,
                    key: &kv.key.name,
                },
            );
        }
    }

    fn name(&mut self, id: &'a Ident) {
        match self.scope.get(id.name.as_str()).copied() {
            Some(Def::Model(stmt, span)) => self.push(
                id.span,
                What::ModelUse {
                    decl: Some((stmt, span)),
                },
            ),
            Some(Def::Tensor(stmt, span)) => self.push(
                id.span,
                What::TensorUse {
                    def: Some((stmt, span)),
                },
            ),
            None if crate::ir::builtins::function(&id.name).is_some() => {
                self.push(id.span, What::Builtin)
            }
            None => self.push(id.span, What::TensorUse { def: None }),
        }
    }

    fn index(&mut self, items: &'a [IndexItem]) {
        for item in items {
            match item {
                IndexItem::Single(e) => self.expr(e),
                IndexItem::Slice {
                    start, stop, step, ..
                } => [start, stop, step]
                    .into_iter()
                    .flatten()
                    .for_each(|e| self.expr(e)),
            }
        }
    }

    fn expr(&mut self, expr: &'a Expr) {
        match &expr.kind {
            ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Dims(_) => {}
            ExprKind::List(items) => items.iter().for_each(|e| self.expr(e)),
            ExprKind::Name(id) => self.name(id),
            ExprKind::Call {
                callee,
                args,
                named,
                ..
            } => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
                named.iter().for_each(|n| self.expr(&n.value));
            }
            ExprKind::Field { .. } => self.field(expr),
            ExprKind::Index { base, items } => {
                self.expr(base);
                self.index(items);
            }
            ExprKind::Neg(e) => self.expr(e),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
        }
    }

    /// `m.c1.weight` (a model's parameter) or `X.reshape`, `D.x`.
    fn field(&mut self, expr: &'a Expr) {
        let mut fields: Vec<&'a Ident> = Vec::new();
        let mut root = expr;
        while let ExprKind::Field { base, field } = &root.kind {
            fields.push(field);
            root = base;
        }
        fields.reverse();
        let model = match &root.kind {
            ExprKind::Name(id) => match self.scope.get(id.name.as_str()) {
                Some(Def::Model(stmt, span)) => Some((id, (*stmt, *span))),
                _ => None,
            },
            _ => None,
        };
        self.expr(root);
        if let (Some((_, decl)), Some(first), Some(last)) = (model, fields.first(), fields.last()) {
            let key: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            self.push(
                first.span.join(last.span),
                What::Param {
                    decl: Some(decl),
                    key: key.join("."),
                },
            );
        }
    }
}
