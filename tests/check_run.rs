//! What `check` accepts, `run` gets past (issue 11): cases the fuzzer's
//! check/run oracle found (`src/bin/fuzz`, docs/fuzzing.md).

mod common;

use common::{flat, ok, run_in};

#[test]
fn a_conv_model_on_a_2d_input_trains_against_targets_of_its_real_output_shape() {
    let dir = tempfile::tempdir().expect("temp dir");
    // the 2-D input is one 6x7 image (its height is the type's `N`)
    let model = "model m(x: Nx7) = conv(out=1, k=3)\nlet X = randn(6x7)\n";
    let out = ok(
        dir.path(),
        &format!("{model}data X -> randn(4x5)\ntrain sgd lr=0.01 steps=2 log=1\neval m\n"),
    );
    assert!(out.contains("Step 2, loss"), "{out}");
    let (code, _, err) = run_in(
        dir.path(),
        &format!("{model}data X -> randn(3x5)\ntrain sgd lr=0.01 steps=2\n"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the targets have shape 3x5 (15 values) but the model gives 1x1x4x5 per item for 1 items"),
        "{err}"
    );
}

#[test]
fn eval_reads_whole_numbers_written_as_a_literal_as_class_labels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ok(
        dir.path(),
        "seed 2\n\
         model m(x: Nx4) = linear(out=3)\n\
         let X = randn(6x4)\n\
         data X -> [0, 1, 2, 0, 1, 2]\n\
         train sgd lr=0.1 steps=3 loss=xent\n\
         data test = X -> [0, 1, 2, 2, 1, 0]\n\
         eval m\n",
    );
    let out = flat(&out);
    assert!(out.contains(", test acc "), "{out}");
}

#[test]
fn a_conv_model_on_a_huge_2d_input_is_refused_by_the_memory_guard_not_allocated() {
    // the type's `N` is the image's height: the activation estimate takes
    // the real input's 200000 rows (not 1), so 400+ GB are refused up front
    let dir = tempfile::tempdir().expect("temp dir");
    let model = "model m(x: Nx8) = conv(out=65536, k=1)\nlet X = zeros(200000x8)\n";
    let train = "data X -> zeros(1x65536)\ntrain m sgd lr=0.1 steps=1\n";
    for (model, tail) in [
        (model.to_string(), "print m(X)\n"),
        (model.replace("k=1)", "k=1) -> gap -> flatten"), train),
        (
            model.replace("k=1)", "k=1) -> gap -> flatten"),
            "data test = X -> zeros(1x65536)\neval m\n",
        ),
    ] {
        let (code, _, err) = run_in(dir.path(), &format!("{model}{tail}"));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("`m`"), "{err}");
        assert!(err.contains("GiB") || err.contains("GB"), "{err}");
    }
}

#[test]
fn split_of_a_scalar_is_a_check_error_at_the_call_not_a_panic() {
    // fuzz seed 12, case 12398: `split((3), 0)` indexed the rows of a 0-d tensor
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, _, err) = run_in(dir.path(), "let (a, b) = split((3), 0)\nprint a\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("split takes a tensor with rows"), "{err}");
    assert!(err.contains(":1:"), "{err}");
}

#[test]
fn a_field_a_tensor_does_not_have_is_a_check_error() {
    // fuzz seed 12, case 111004 replayed: `0 .5` is the field `5` of 0, which
    // check passed and run refused
    let dir = tempfile::tempdir().expect("temp dir");
    for (text, help) in [
        ("print [2, 0 .5]\n", "tensors have .T"),
        ("let X = ones(2x3)\nprint X.sum\n", "`sum` is a method"),
    ] {
        std::fs::write(dir.path().join("s.cnn"), text).expect("script written");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cnnscript"))
            .current_dir(dir.path())
            .args(["check", "s.cnn"])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains("a tensor has no field"), "{text}: {err}");
        assert!(err.contains(help), "{text}: {err}");
    }
}
