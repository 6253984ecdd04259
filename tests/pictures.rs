//! `plot`, `show` and `check --dot`: PNGs are decoded and checked for size
//! and content, bad requests are diagnostics at their line, and the DOT of a
//! plain and a graph model is snapshotted.

use std::path::Path;

use assert_cmd::Command;

fn run_in(dir: &Path, script: &str) -> std::process::Output {
    std::fs::write(dir.join("case.cnn"), script).expect("write script");
    Command::cargo_bin("cnnscript")
        .expect("binary")
        .current_dir(dir)
        .args(["run", "case.cnn"])
        .output()
        .expect("run")
}

/// Width, height and RGB(A) pixels of a PNG, decoded by the `png` crate.
fn decode_png(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), buf)
}

/// Distinct colours in a picture.
fn colours(pixels: &[u8], samples: usize) -> usize {
    pixels
        .chunks(samples)
        .collect::<std::collections::HashSet<_>>()
        .len()
}

const TRAINED: &str = "\
seed 1
let X = rand(8x1x6x6)
let Y = rand(8x2x4x4)
model m(x: Nx1x6x6) {
  conv(out=3, k=3) relu
  conv(out=2, k=1)
}
data X -> Y
train m sgd lr=0.1 steps=6 loss=mse
";

#[test]
fn plot_and_show_write_pictures_with_content() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = format!(
        "{TRAINED}plot \"loss.png\"\n\
         show m.0.weight \"kernels.png\"\n\
         show m.2.weight \"mixing.png\"\n\
         show m[0:2](X[0:1]) \"fmap.png\"\n\
         show m[:1](X) \"fmap-batch.png\"\n\
         show X[0, 0] \"image.png\"\n\
         show m.0.bias \"bias.png\"\n"
    );
    let out = run_in(dir.path(), &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (w, h, samples, pixels) = decode_png(&dir.path().join("loss.png"));
    assert_eq!((w, h), (760, 460));
    assert!(
        colours(&pixels, samples) >= 4,
        "axes, grid, text and the loss curve"
    );

    // 3 kernels of 1x3x3, each scaled to at least 32 px
    for (name, tiles) in [
        ("kernels.png", 3),
        ("mixing.png", 6),
        ("fmap.png", 3),
        ("fmap-batch.png", 3),
    ] {
        let (w, h, samples, pixels) = decode_png(&dir.path().join(name));
        assert!(
            w >= 32 * (tiles as u32).min(2) && h >= 32,
            "{name} is {w}x{h}"
        );
        assert!(colours(&pixels, samples) >= 3, "{name} looks blank");
    }
    for name in ["image.png", "bias.png"] {
        let (w, h, samples, pixels) = decode_png(&dir.path().join(name));
        assert!(w >= 32 && h >= 32, "{name} is {w}x{h}");
        assert!(colours(&pixels, samples) >= 3, "{name} looks blank");
    }
}

#[test]
fn plot_of_epochs_shows_accuracy_axis() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script =
        "seed 0\nlet X = rand(20x4)\nlet Y = arange(20).reshape(20) - arange(20).reshape(20)\n\
                  model c(x: Nx4) = linear(out=2)\ndata X -> Y\n\
                  train c adam lr=0.01 epochs=3 batch=5 loss=xent\nplot \"acc.png\"\n";
    let out = run_in(dir.path(), script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h, samples, pixels) = decode_png(&dir.path().join("acc.png"));
    assert_eq!((w, h), (760, 460));
    // the train-accuracy curve is orange
    let orange = pixels
        .chunks(samples)
        .filter(|p| p[..3] == [255, 127, 14])
        .count();
    assert!(orange > 50, "no accuracy curve ({orange} orange pixels)");
}

/// A script that must fail at `line` with `message` on stderr.
fn assert_fails(script: &str, line: usize, message: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_in(dir.path(), script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{script}\n{stderr}");
    assert!(stderr.contains(message), "{stderr}");
    assert!(stderr.contains(&format!("case.cnn:{line}:")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let pngs = std::fs::read_dir(dir.path())
        .expect("list")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count();
    assert_eq!(pngs, 0, "a failed picture leaves no file");
}

#[test]
fn bad_pictures_are_diagnostics() {
    assert_fails(
        "let X = ones(2x2)\nplot \"loss.png\"\n",
        2,
        "nothing to plot",
    );
    assert_fails(
        "let X = ones(2x2)\nshow X \"x.jpg\"\n",
        2,
        "does not end in .png",
    );
    assert_fails(&format!("{TRAINED}show m \"m.png\"\n"), 10, "is a model");
    assert_fails(
        "let X = ones(2x2)\nshow X.sum() \"s.png\"\n",
        2,
        "not a scalar",
    );
    assert_fails(
        "let X = ones(2x2x2x2x2)\nshow X \"s.png\"\n",
        2,
        "up to 4 dimensions",
    );
    assert_fails(
        &format!("{TRAINED}show m[1:2](X) \"s.png\"\n"),
        10,
        "must start at layer 0",
    );
    // without a file only a notebook shows the picture
    assert_fails(
        &format!("{TRAINED}plot\n"),
        10,
        "`plot` needs a file name here: only a notebook shows pictures",
    );
    assert_fails(
        "let X = ones(2x2)\nshow X\n",
        2,
        "`show` needs a file name here",
    );
}

fn dot_of(example: &str) -> String {
    let out = Command::cargo_bin("cnnscript")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", example, "--dot"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn dot_of_a_plain_model() {
    insta::assert_snapshot!("dot_lenet", dot_of("examples/lenet.cnn"));
}

#[test]
fn dot_of_graph_models() {
    insta::assert_snapshot!("dot_resnet_block", dot_of("examples/resnet_block.cnn"));
}

#[test]
fn dot_and_json_exclude_each_other() {
    let out = Command::cargo_bin("cnnscript")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "examples/lenet.cnn", "--dot", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
