use crate::syntax::parse::parse_script;

/// The one syntax error of `src`: message, underlined text, help, and the
/// script after the fix (when there is one).
fn error(src: &str) -> (String, String, String, Option<String>) {
    let errors = parse_script(src).expect_err("a syntax error");
    let e = &errors[0];
    let fixed = e.fix.as_ref().map(|f| {
        let mut s = src.to_string();
        s.replace_range(f.span.start..f.span.end, &f.replacement);
        s
    });
    (
        e.message.clone(),
        src[e.span.start..e.span.end].to_string(),
        e.help.clone().unwrap_or_default(),
        fixed,
    )
}

/// The fix of the first error makes the script parse.
fn fixed(src: &str) -> String {
    let (_, _, _, fixed) = error(src);
    let fixed = fixed.expect("a fix");
    assert!(parse_script(&fixed).is_ok(), "fixed script parses: {fixed}");
    fixed
}

#[test]
fn assignment_without_let() {
    let (message, at, help, _) = error("X = ones(6x8)\n");
    assert!(message.contains("needs `let`"), "{message}");
    assert_eq!(at, "X =");
    assert_eq!(help, "did you mean `let X = ones(6x8)`?");
    assert_eq!(fixed("X = ones(6x8)\n"), "let X = ones(6x8)\n");
}

#[test]
fn compound_assignment() {
    assert_eq!(
        fixed("let X = ones(2)\nX += 1\n"),
        "let X = ones(2)\nlet X = X + 1\n"
    );
    assert_eq!(
        fixed("let X = ones(2)\nX[0] *= 2 + 1\n"),
        "let X = ones(2)\nX[0] = X[0] * (2 + 1)\n"
    );
}

#[test]
fn positional_layer_arguments() {
    let src = "model m(x: 1x1x6x8) = maxpool(2)\n";
    let (message, at, help, _) = error(src);
    assert!(message.contains("named"), "{message}");
    assert_eq!(at, "2");
    assert_eq!(help, "name it `k=2`: `maxpool(k=2)`");
    assert_eq!(fixed(src), "model m(x: 1x1x6x8) = maxpool(k=2)\n");
    assert_eq!(
        fixed("shape 1x1x28x28 -> conv(1, 6, 5, p=2)\n"),
        "shape 1x1x28x28 -> conv(in=1, out=6, k=5, p=2)\n"
    );
    let (_, _, help, fix) = error("model m(x: Nx6x4x4) { batchnorm(6) }\n");
    assert!(help.contains("from its input"), "{help}");
    assert!(fix.is_none());
}

#[test]
fn an_empty_argument_beside_a_positional_one_is_the_parsers_error() {
    // fuzz seed 12, case 97862: `, ,` made an empty argument, sliced backwards
    let (message, _, _, _) = error("model m(x: 1x1x6x8) = conv(out=2, 2, , k=3)\n");
    assert!(!message.contains("named, not positional"), "{message}");
}

#[test]
fn spaced_dims() {
    let (message, at, _, _) = error("let X = ones(6 x 8)\n");
    assert!(message.contains("`6x8`"), "{message}");
    assert_eq!(at, "6 x 8");
    assert_eq!(fixed("let X = ones(6 x 8)\n"), "let X = ones(6x8)\n");
    assert_eq!(
        fixed("model m(x: N x 1 x 28 x 28) = relu\n"),
        "model m(x: Nx1x28x28) = relu\n"
    );
}

#[test]
fn tuple_dims() {
    assert_eq!(fixed("let X = zeros((6, 8))\n"), "let X = zeros(6x8)\n");
    assert_eq!(
        fixed("model m(x: (1, 1, 6, 8)) = relu\n"),
        "model m(x: 1x1x6x8) = relu\n"
    );
}

#[test]
fn misspelled_statements() {
    let (message, at, _, _) = error("let X = ones(2)\nprnt X\n");
    assert!(message.contains("did you mean `print`?"), "{message}");
    assert_eq!(at, "prnt");
    assert_eq!(
        fixed("let X = ones(2)\nprnt X\n"),
        "let X = ones(2)\nprint X\n"
    );
    assert_eq!(fixed("Print 1\n"), "print 1\n");
    assert_eq!(fixed("prnt(1)\n"), "print(1)\n");
}

#[test]
fn model_input_type() {
    let (message, at, help, fix) = error("model m = conv(out=1, k=3)\n");
    assert!(message.contains("needs its input type"), "{message}");
    assert_eq!(at, "m");
    assert!(help.contains("model m(x: Nx1x28x28) = ..."), "{help}");
    assert!(fix.is_none());
    assert_eq!(
        fixed("model m(1x1x6x8) = relu\n"),
        "model m(x: 1x1x6x8) = relu\n"
    );
    let (message, ..) = error("model m = relu\n");
    assert!(message.contains("needs its input type"), "{message}");
}

#[test]
fn bare_expressions() {
    let src = "let X = ones(6x8)\nedge(X)\n";
    let (message, at, help, _) = error(src);
    assert!(message.contains("not a statement"), "{message}");
    assert_eq!(at, "edge(X)");
    assert!(help.contains("`print edge(X)`"), "{help}");
    assert_eq!(fixed(src), "let X = ones(6x8)\nprint edge(X)\n");
    assert_eq!(fixed("1 + 2  # three\n"), "print 1 + 2  # three\n");
}

#[test]
fn imports() {
    assert_eq!(fixed("import torch\nprint 1\n"), "\nprint 1\n");
}

#[test]
fn other_names_starting_a_line() {
    let (message, at, help, fix) = error("foo bar\n");
    assert_eq!(message, "a statement cannot start with `foo`");
    assert_eq!(at, "foo");
    assert!(help.contains("let, model"), "{help}");
    assert!(fix.is_none());
}

#[test]
fn lines_inside_a_model_block_are_not_statements() {
    // `a = ...` binds a node here: no `let` is asked for
    let (message, ..) = error("model m(x: Nx1x8x8) {\n  a = x -> conv(out=2 k=3)\n}\n");
    assert!(!message.contains("let"), "{message}");
}
