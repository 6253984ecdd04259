//! Neovim as the client, with the plugin in editors/vim: it opens LeNet,
//! gets a broken line's diagnostic, the inlay hint `Nx6x28x28` on the first
//! conv, a hover, the completion of `maxp` to `maxpool`, and formats the
//! buffer. Runs when `nvim` is on PATH; prints SKIPPED otherwise.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

fn nvim_found() -> bool {
    Command::new("nvim")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn neovim_drives_the_server() {
    if !nvim_found() {
        eprintln!("SKIPPED: nvim is not on PATH; the Neovim client test did not run (apt-get install neovim)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lenet =
        std::fs::read_to_string(root.join("examples/lenet.cnn")).expect("examples/lenet.cnn");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("lenet.cnn");
    std::fs::write(&file, &lenet).expect("write");
    let out = dir.path().join("record.json");
    let rtp = root.join("editors/vim");
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-n", "-i", "NONE"])
        .arg("--cmd")
        .arg(format!("set rtp^={}", rtp.display()))
        .arg("-c")
        .arg(format!(
            "luafile {}",
            root.join("tests/lsp/nvim_client.lua").display()
        ))
        .env("CNNSCRIPT_BIN", env!("CARGO_BIN_EXE_cnnscript"))
        .env("CNNSCRIPT_FILE", &file)
        .env("CNNSCRIPT_OUT", &out)
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path())
        .current_dir(dir.path())
        .status()
        .expect("nvim runs");
    assert!(status.success(), "nvim: {status}");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("a record"))
        .expect("the record is JSON");
    assert_eq!(record["ok"], json!(true), "{}", record["error"]);
    assert_eq!(record["filetype"], json!("cnnscript"));
    assert_eq!(record["attached"], json!(true));
    assert_eq!(record["first_diagnostics"], json!(0));

    let conv_line = record["conv_line"].clone();
    let hints = record["hints"].as_array().cloned().unwrap_or_default();
    assert!(
        hints.contains(&json!({ "line": conv_line, "label": "Nx6x28x28" })),
        "{hints:?}"
    );
    if record["native_hints"] == json!(false) {
        let drawn = &record["drawn"][conv_line.to_string()];
        assert_eq!(
            drawn,
            &json!("  → Nx6x28x28  → Nx6x28x28"),
            "{}",
            record["drawn"]
        );
    }

    let hover = record["hover"].as_str().unwrap_or("");
    assert!(
        hover.contains("output  Nx6x28x28") && hover.contains("params  156"),
        "{hover}"
    );

    let diags = record["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!diags.is_empty());
    assert_eq!(diags[0]["line"], record["broken_line"]);
    assert_eq!(diags[0]["severity"], json!(1));
    let message = diags[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("`conv` declares in=7, but its input has 6 channels"),
        "{message}"
    );
    assert_eq!(record["fixed_diagnostics"], json!(0));

    assert_eq!(record["completions"], json!(["maxpool"]));
    assert_eq!(record["completed"], json!("shape 8x8 -> maxpool"));

    let messy = record["messy"].as_str().unwrap_or("");
    assert!(
        messy.ends_with("model  t(x:1x1x8x8)=conv( out=2,k=3 )->relu\n"),
        "{messy}"
    );
    let want = cnnscript::fmt::format_source(messy).expect("formats");
    assert_eq!(record["formatted"].as_str(), Some(want.as_str()));
    assert_ne!(want, messy);
}
