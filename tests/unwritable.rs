//! A checkpoint or a saved file that cannot be written (a folder that is a
//! file, a read-only folder, a file-size limit, a full disk) is a clear
//! error that leaves the previous file as it was, and no temporary file.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{bytes, listing, ok, run_file, run_in, sgd, sgd_width, BIN};

#[test]
fn a_checkpoint_whose_folder_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("file"), "").expect("write");
    let (code, out, err) = run_in(
        dir.path(),
        &sgd(3, "checkpoint=\"file/ck.safetensors\"", "m.safetensors"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("Step 3, loss"), "training ran: {out}");
    assert!(err.contains("file/ck.safetensors"), "{err}");
    assert!(
        err.contains("the model keeps the weights of step 3"),
        "{err}"
    );
    assert!(
        !dir.path().join("m.safetensors").exists(),
        "the script stopped"
    );
}

/// A command for `cnnscript run s.cnn` in `dir` as a user whom folder
/// permissions stop: this one, or `nobody` (through `setpriv`) when this one
/// is root, as in many containers; `probe` is a folder it must not write
/// into. `None` when no such user can be had.
fn unprivileged(dir: &Path, probe: &Path) -> Option<Command> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::write(probe.join("probe"), "").is_err() {
        return Some(Command::new(BIN));
    }
    std::fs::remove_file(probe.join("probe")).expect("remove the probe");
    // tempfile makes its folders private to their owner
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let can = Command::new("setpriv")
        .args(nobody)
        .args([
            "sh",
            "-c",
            &format!("! touch '{}/probe' 2>/dev/null", probe.display()),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !can {
        return None;
    }
    let mut c = Command::new("setpriv");
    c.args(nobody).arg(BIN);
    Some(c)
}

#[test]
fn a_read_only_folder_keeps_the_previous_checkpoint() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let ro = d.join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    let ck = "checkpoint=\"ro/ck.safetensors\"";
    ok(d, &sgd(2, ck, "m.safetensors"));
    let before = bytes(&ro.join("ck.safetensors"));
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let Some(mut cnnscript) = unprivileged(d, &ro) else {
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        eprintln!("SKIPPED: running as root without setpriv; no user whom a read-only folder stops (the file-size limit and small-disk tests cover a failing write)");
        return;
    };
    std::fs::write(d.join("s.cnn"), sgd(3, ck, "m.safetensors")).expect("write");
    let (code, out, err) = run_file(d, cnnscript.args(["run", "s.cnn"]));
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("Step 3, loss"), "training ran: {out}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("ro/ck.safetensors"), "{err}");
    assert!(err.contains("keeps its previous contents"), "{err}");
    assert_eq!(bytes(&ro.join("ck.safetensors")), before);
    assert_eq!(listing(&ro), vec!["ck.safetensors"]);
}

#[test]
fn a_file_size_limit_keeps_the_previous_checkpoint() {
    // A file-size limit (RLIMIT_FSIZE, set by the shell's `ulimit -f` in the
    // child only) makes writes fail as a full disk does; SIGXFSZ is ignored
    // so the write returns an error instead of ending the process.
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    ok(d, &sgd(2, "checkpoint=\"ck.safetensors\"", "m.safetensors"));
    let before = bytes(&d.join("ck.safetensors"));
    assert!(
        before.len() > 1024,
        "the checkpoint is bigger than the limit"
    );
    std::fs::write(
        d.join("s.cnn"),
        sgd(3, "checkpoint=\"ck.safetensors\"", "m.safetensors"),
    )
    .expect("write");
    let limited = format!("trap '' XFSZ; ulimit -f 1 || exit 99; exec '{BIN}' run s.cnn");
    let (code, out, err) = run_file(d, Command::new("sh").args(["-c", &limited]));
    if code == 99 {
        eprintln!("SKIPPED: this shell cannot set a file-size limit");
        return;
    }
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("cannot write"), "{err}");
    assert!(err.contains("ck.safetensors"), "{err}");
    assert!(err.contains("keeps its previous contents"), "{err}");
    assert_eq!(bytes(&d.join("ck.safetensors")), before);
    assert_eq!(listing(d), vec!["ck.safetensors", "m.safetensors", "s.cnn"]);
}

/// Run the shell `script` in `dir` with a tmpfs of `size` bytes mounted on
/// `dir/small`, in user and mount namespaces of its own (`unshare -rm`, no
/// privileges needed where the kernel allows them): (status, stdout,
/// stderr). `None` (SKIPPED) where the machine does not allow it.
fn on_a_small_disk(dir: &Path, size: u64, script: &str) -> Option<(i32, String, String)> {
    let mounted = "small disk mounted";
    let whole =
        format!("mount -t tmpfs -o size={size} tmpfs small || exit 99\necho '{mounted}'\n{script}");
    let result = run_file(
        dir,
        Command::new("unshare").args(["-rm", "sh", "-c", &whole]),
    );
    if !result.1.contains(mounted) {
        eprintln!(
            "SKIPPED: cannot mount a small tmpfs here (unshare -rm): {}",
            result.2
        );
        return None;
    }
    Some(result)
}

/// The memory page size, from `getconf` (4096 where it cannot say).
fn page_size() -> u64 {
    Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(4096)
}

#[test]
fn a_full_disk_keeps_the_previous_checkpoint_and_saved_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::create_dir(d.join("small")).expect("mkdir");
    let ck = "checkpoint=\"small/ck.safetensors\"";
    // outside the tmpfs (which hides it), to learn the checkpoint's size
    ok(d, &sgd_width(1024, 2, ck, "m.safetensors"));
    // tmpfs counts whole pages (4 KiB on x86-64, up to 64 KiB on aarch64)
    let page = page_size();
    let len = std::fs::metadata(d.join("small/ck.safetensors"))
        .expect("checkpoint")
        .len();
    let pages = len.div_ceil(page);
    // room for one checkpoint and most of a second
    let size = (2 * pages - 1) * page;
    std::fs::write(d.join("first.cnn"), sgd_width(1024, 2, ck, "m.safetensors")).expect("write");
    std::fs::write(
        d.join("second.cnn"),
        sgd_width(1024, 3, ck, "m.safetensors"),
    )
    .expect("write");
    // a tensor of a checkpoint's size saved over it: no room for it either
    let floats = pages * page / 4;
    std::fs::write(
        d.join("third.cnn"),
        format!("save randn({floats}) \"small/ck.safetensors\"\n"),
    )
    .expect("write");
    let script = format!(
        "'{BIN}' run first.cnn > /dev/null || exit 98\n\
         cp small/ck.safetensors before.safetensors\n\
         '{BIN}' run second.cnn; second=$?\n\
         '{BIN}' run third.cnn; third=$?\n\
         cp small/ck.safetensors after.safetensors\n\
         ls -A small > listing.txt\n\
         echo \"second $second third $third\"\n"
    );
    let Some((code, out, err)) = on_a_small_disk(d, size, &script) else {
        return;
    };
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("second 1 third 1"), "{out}{err}");
    assert!(out.contains("Step 3, loss"), "training ran: {out}");
    assert_eq!(
        err.matches("small/ck.safetensors: No space left on device")
            .count(),
        2,
        "the checkpoint and the save: {err}"
    );
    assert!(err.contains("keeps its previous contents"), "{err}");
    assert_eq!(
        bytes(&d.join("after.safetensors")),
        bytes(&d.join("before.safetensors"))
    );
    let listing = std::fs::read_to_string(d.join("listing.txt")).expect("listing");
    assert_eq!(listing, "ck.safetensors\n", "no temporary file is left");
}
