//! A dry run draws what a real run draws, statement by statement, and
//! leaves the generator exactly where a real run leaves it.

use super::*;
use crate::ir::check::check_script;
use crate::syntax::parse::parse_script;

/// Every kind of draw: seeded models, `rand`/`randn`, `split` (in `let`
/// and inside `print`), epoch shuffles, dropout masks of known and
/// symbolic sizes, full-batch steps, a `train` between a `seed` and a
/// model, and statements that draw nothing.
const SCRIPT: &str = "seed 3
let X = randn(10x1x5x5)
let Y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
model a(x: Nx1x5x5) = conv(out=2, k=3) -> dropout(p=0.3) -> flatten -> linear(out=3) -> dropout(p=0.2)
let (u, v) = split(X, 0.7)
data X -> Y
train a sgd lr=0.1 epochs=3 batch=4 loss=xent
train a sgd lr=0.1 steps=2 loss=xent
print a(X[0:2])
model b(x: Nx1xHxW) = conv(out=2, k=3) -> dropout -> gap -> flatten -> linear(out=3)
train b adam lr=0.01 epochs=2 batch=3 loss=xent
print split(Y, 0.5)
summary b
let R = rand(2x2)
model c(x: Nx4) = linear(out=2)
";

fn checked(text: &str) -> (Script, Checked) {
    let script = parse_script(text).expect("parses");
    let checked = check_script(&script);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    (script, checked)
}

fn real_interp() -> Interp {
    let mut i = Interp::new();
    i.progress = false;
    i.draws = Some(Vec::new());
    i
}

#[test]
fn the_dry_run_draws_what_the_real_run_draws_after_every_statement() {
    let (script, checked) = checked(SCRIPT);
    let mut real = real_interp();
    let mut dry = DryRun::new(Path::new("."), true);
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        real.exec_stmt(stmt, info, &mut std::io::sink())
            .expect("runs");
        dry.exec(stmt, info).expect("runs dry");
        let line = &SCRIPT[stmt.span.start..stmt.span.end];
        assert_eq!(real.rng, dry.interp().rng, "generator after `{line}`");
        assert_eq!(
            real.draws.as_ref(),
            Some(dry.draws()),
            "draws after `{line}`"
        );
    }
    let orders = dry
        .draws()
        .iter()
        .filter(|(_, d)| matches!(d, Draw::Order(_)))
        .count();
    assert_eq!(orders, 5, "3 + 2 epochs");
    let splits = dry
        .draws()
        .iter()
        .filter(|(_, d)| matches!(d, Draw::Split { .. }))
        .count();
    assert_eq!(splits, 2, "the let's and the print's");
}

#[test]
fn the_dry_run_leaves_the_weights_as_declared() {
    let (script, checked) = checked(SCRIPT);
    let mut dry = DryRun::new(Path::new("."), false);
    let mut declared = None;
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        dry.exec(stmt, info).expect("runs dry");
        if declared.is_none() {
            declared = dry.interp().models.get("a").map(weights);
        }
    }
    assert_eq!(declared, dry.interp().models.get("a").map(weights));
    assert!(dry.draws().is_empty(), "nothing noted without record");
}

fn weights(m: &ModelState) -> Vec<Vec<f32>> {
    m.params.iter().map(|p| p.data.clone()).collect()
}

#[test]
fn initial_state_is_what_a_run_gives_right_after_the_declaration() {
    let texts = [
        SCRIPT,
        // nothing draws between the seed and the model: the fast path
        "let D = ones(3x4)\nseed 5\nmodel a(x: Nx4) = linear(out=2)\nmodel b(x: Nx4) = linear(out=3)\n",
        // no seed at all
        "model a(x: Nx4) = linear(out=2)\nlet R = rand(2x3)\nmodel b(x: Nx4) = linear(out=3)\n",
    ];
    for text in texts {
        let (script, checked) = checked(text);
        let mut real = real_interp();
        for (i, (stmt, info)) in script.stmts.iter().zip(&checked.stmts).enumerate() {
            real.exec_stmt(stmt, info, &mut std::io::sink())
                .expect("runs");
            let StmtKind::Model(decl) = &stmt.kind else {
                continue;
            };
            let state = initial_state(&script, &checked, i, Path::new(".")).expect("dry");
            let name = &decl.name.name;
            assert_eq!(
                weights(&state),
                weights(&real.models[name]),
                "`{name}` in:\n{text}"
            );
        }
    }
}

#[test]
fn what_draws_is_found_in_any_statement() {
    let (script, _) = checked(SCRIPT);
    let drawing: Vec<usize> = script
        .stmts
        .iter()
        .enumerate()
        .filter(|(_, s)| stmt_draws(&s.kind))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(drawing, [2, 4, 5, 7, 8, 10, 11, 12, 14, 15]);
}

#[test]
fn an_export_the_run_would_refuse_is_refused_dry() {
    let text = "model m(x: Nx3xHxW) = maxpool(k=2, ceil=true)\nexport m \"m.onnx\"\n";
    let (script, checked) = checked(text);
    let mut dry = DryRun::new(Path::new("."), false);
    dry.exec(&script.stmts[0], &checked.stmts[0])
        .expect("declares");
    let err = dry
        .exec(&script.stmts[1], &checked.stmts[1])
        .expect_err("refused");
    assert!(err.to_string().contains("ceil=true"), "{err}");
}
