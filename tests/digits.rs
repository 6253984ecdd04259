//! The digits example end to end: a seeded split, training to at least 97%
//! test accuracy, one line per epoch, no progress bar when piped, the saved
//! parameters and its three pictures. Also: the CSV copy holds the same data.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example and the data it loads, laid out as in the repository, in a
/// fresh folder (so its outputs land there).
fn layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = |from: &str| {
        let to = dir.path().join(from);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo().join(from), &to).expect("copy");
    };
    copy("examples/digits.cnn");
    copy("data/digits/digits.npz");
    dir
}

fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn digits_example_reaches_97_percent_and_draws_its_pictures() {
    let dir = layout();
    let started = std::time::Instant::now();
    let output = Command::cargo_bin("cnnscript")
        .expect("binary")
        .current_dir(dir.path())
        .args(["run", "examples/digits.cnn"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    eprintln!("digits example: {:.1}s", started.elapsed().as_secs_f64());

    // one line per epoch: loss, train acc, test acc, time
    let epochs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Epoch ")).collect();
    assert!(epochs.len() >= 5, "{stdout}");
    for (i, line) in epochs.iter().enumerate() {
        assert!(
            line.starts_with(&format!("Epoch {}, loss ", i + 1)),
            "{line}"
        );
        for field in [", train acc ", ", test acc ", ", time "] {
            assert!(line.contains(field), "{line} lacks {field}");
        }
    }
    // piped: no progress bar on either stream
    assert!(
        !stdout.contains("batches") && !stderr.contains("batches"),
        "{stdout}{stderr}"
    );

    // `eval` prints `loss L, test acc A`
    let acc: f64 = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("loss ")
                .and_then(|r| r.split_once(", test acc "))
        })
        .map(|(_, a)| a.trim().parse().expect("a number"))
        .unwrap_or_else(|| panic!("no eval line in\n{stdout}"));
    assert!(acc >= 0.97, "test accuracy {acc} < 0.97\n{stdout}");

    let examples = dir.path().join("examples");
    assert!(examples.join("digits.safetensors").is_file());
    for (name, min_w, min_h) in [
        ("digits-loss.png", 400, 300),
        ("digits-kernels.png", 100, 100),
        ("digits-fmap.png", 100, 100),
    ] {
        let (w, h, pixels) = decode_png(&examples.join(name));
        assert!(w >= min_w && h >= min_h, "{name} is {w}x{h}");
        let first = &pixels[..3];
        let differing = pixels.chunks(3).filter(|p| p != &first).count();
        assert!(differing * 100 > (w * h) as usize, "{name} is nearly blank");
        let colours: std::collections::HashSet<&[u8]> = pixels.chunks(3).collect();
        assert!(colours.len() >= 3, "{name} has {} colours", colours.len());
    }
}

#[test]
fn csv_copy_matches_npz() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["digits.csv", "digits.npz"] {
        std::fs::copy(repo().join("data/digits").join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::write(
        dir.path().join("same.cnn"),
        "let C = load(\"digits.csv\")\nlet D = load(\"digits.npz\")\n\
         let diff = C.x.reshape(1797x1x8x8) - D.x\n\
         print diff.max()\nprint diff.min()\nprint (C.y - D.y).max()\nprint (C.y - D.y).min()\n",
    )
    .expect("write");
    let output = Command::cargo_bin("cnnscript")
        .expect("binary")
        .current_dir(dir.path())
        .args(["run", "same.cnn"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // the labels are int64 on both sides, so their difference is too (as in PyTorch)
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["tensor(0.)", "tensor(0.)", "tensor(0)", "tensor(0)"],
        "{stdout}"
    );
}
