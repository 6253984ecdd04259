//! The one error type of file I/O: each variant holds the file and the facts of what is wrong.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

use super::human_bytes;

/// A file could not be read or written; every variant names the file and the reason.
#[derive(Debug, Error, Diagnostic)]
pub enum IoError {
    /// The file does not exist.
    #[error("cannot open {}: no such file", path.display())]
    #[diagnostic(
        code(io::not_found),
        help("check the spelling, and the folder a relative path is looked up in")
    )]
    NotFound {
        /// The file.
        path: PathBuf,
    },

    /// The operating system refused access.
    #[error("cannot access {}: permission denied", path.display())]
    #[diagnostic(code(io::permission))]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },

    /// The folder a file is to be written into does not exist.
    #[error("cannot write {}: the folder {} does not exist", path.display(), folder.display())]
    #[diagnostic(
        code(io::folder_missing),
        help("create the folder first, or save somewhere else")
    )]
    FolderMissing {
        /// The file.
        path: PathBuf,
        /// Its missing folder.
        folder: PathBuf,
    },

    /// A folder was given where a file was expected.
    #[error("{} is a folder, not a file", path.display())]
    #[diagnostic(code(io::is_directory))]
    IsDirectory {
        /// The folder.
        path: PathBuf,
    },

    /// Any other operating-system error.
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(io::os))]
    Os {
        /// The file.
        path: PathBuf,
        /// What was being done: "read", "write", "rename into".
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },

    /// The extension names no known format.
    #[error("{}: unknown file type '{}'", path.display(), if ext.is_empty() { "(no extension)".to_string() } else { format!(".{ext}") })]
    #[diagnostic(
        code(io::unknown_extension),
        help("supported extensions: .npy, .npz, .safetensors, .csv")
    )]
    UnknownExtension {
        /// The file.
        path: PathBuf,
        /// Its extension, lower-cased, without the dot (empty when none).
        ext: String,
    },

    /// The header of an `.npy` or `.safetensors` file is malformed.
    #[error("{}: not a valid {format} header: {reason}", path.display())]
    #[diagnostic(code(io::bad_header))]
    BadHeader {
        /// The file (for an `.npz` member, `archive.npz/member.npy`).
        path: PathBuf,
        /// "npy" or "safetensors".
        format: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The element type is not one cnnscript can hold.
    #[error("{}: unsupported dtype '{dtype}'", path.display())]
    #[diagnostic(
        code(io::unsupported_dtype),
        help("supported: float16/32/64 and bfloat16 (read as f32), int8/16/32/64, uint8/16/32/64 and bool (read as integers)")
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The dtype as the file spells it (`<c8`, `F8_E4M3`).
        dtype: String,
    },

    /// The file ends before the data its header declares.
    #[error("{}: truncated data: shape {shape} needs {expected} bytes, found {found}", path.display())]
    #[diagnostic(
        code(io::truncated),
        help("the file is incomplete or its header is wrong; write it again")
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The declared shape, as dims.
        shape: String,
        /// Bytes the header promises.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },

    /// The declared shape's element count does not fit in 64 bits.
    #[error("{}: declared shape {shape} has more elements than can be counted", path.display())]
    #[diagnostic(code(io::shape_overflow), help("the header is corrupt"))]
    ShapeOverflow {
        /// The file.
        path: PathBuf,
        /// The declared shape.
        shape: String,
    },

    /// Sizes inside the file disagree with each other.
    #[error("{}: {reason}", path.display())]
    #[diagnostic(code(io::size_mismatch))]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Which sizes disagree, with both numbers.
        reason: String,
    },

    /// A value does not fit the type cnnscript stores it in.
    #[error("{}: value {value} does not fit in a 64-bit integer", path.display())]
    #[diagnostic(code(io::out_of_range))]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// The offending value.
        value: u64,
    },

    /// The `.npz` archive is not a readable zip file.
    #[error("{}: not a valid .npz archive: {reason}", path.display())]
    #[diagnostic(code(io::bad_zip), help("an .npz is the zip file numpy.savez writes"))]
    BadArchive {
        /// The archive.
        path: PathBuf,
        /// What the zip reader reported.
        reason: String,
    },

    /// An archive member would unpack to more than the cap.
    #[error("{}: member '{member}' declares {} unpacked, more than the {} cap", path.display(), human_bytes(*bytes, 1), human_bytes(*cap, 1))]
    #[diagnostic(
        code(io::member_too_large),
        help("refusing to unpack it (possible zip bomb)")
    )]
    MemberTooLarge {
        /// The archive.
        path: PathBuf,
        /// The member's name.
        member: String,
        /// Its declared unpacked size.
        bytes: u64,
        /// The cap.
        cap: u64,
    },

    /// A CSV row has a different number of fields than the first row.
    #[error("{}: line {line} has {found} field{}, expected {expected} like the first row", path.display(), if *found == 1 { "" } else { "s" })]
    #[diagnostic(
        code(io::csv_ragged),
        help("every row needs the same number of comma-separated values")
    )]
    CsvRagged {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Fields in the first row.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },

    /// A CSV cell is not a number (or a label not an integer).
    #[error("{}: line {line}, column {column}: '{text}' is not {expected}", path.display())]
    #[diagnostic(code(io::csv_number))]
    CsvNumber {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column: its header name, or its 1-based number.
        column: String,
        /// The cell's text.
        text: String,
        /// "a number" or "an integer label".
        expected: &'static str,
    },

    /// The CSV file has no data rows.
    #[error("{}: no data rows", path.display())]
    #[diagnostic(code(io::csv_empty))]
    CsvEmpty {
        /// The file.
        path: PathBuf,
    },

    /// The CSV reader could not parse the file.
    #[error("{}: not valid CSV: {reason}", path.display())]
    #[diagnostic(code(io::csv_syntax))]
    CsvSyntax {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        reason: String,
    },

    /// The value cannot be stored in this format.
    #[error("cannot save a {what} as {}: {reason}", path.display())]
    #[diagnostic(code(io::cannot_save), help("{help}"))]
    CannotSave {
        /// The target file.
        path: PathBuf,
        /// What was being saved ("bundle", "tensor", "model").
        what: &'static str,
        /// Why this format cannot hold it.
        reason: String,
        /// What to do instead.
        help: String,
    },

    /// Two arrays share a name.
    #[error("{}: the name '{name}' appears twice", path.display())]
    #[diagnostic(code(io::duplicate_name))]
    DuplicateName {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },

    /// Parameters were asked of a file that holds one array.
    #[error("{}: parameters are loaded from .safetensors or .npz files", path.display())]
    #[diagnostic(
        code(io::not_state_dict),
        help("a model's parameters go in a .safetensors (PyTorch's format) or .npz file")
    )]
    NotAStateDict {
        /// The file.
        path: PathBuf,
    },

    /// An allocation would exceed the memory the machine can give.
    #[error("refusing to allocate {what}: it needs {}, but only {} is available ({limit_source})", human_bytes(*bytes, 1), human_bytes(*limit, 1))]
    #[diagnostic(code(io::out_of_memory), help("use smaller shapes or batches"))]
    OutOfMemory {
        /// What was about to be allocated (names the file when loading).
        what: String,
        /// The estimate in bytes.
        bytes: u64,
        /// The budget in bytes.
        limit: u64,
        /// Where the budget comes from ("MemAvailable in /proc/meminfo", "16 GiB cap").
        limit_source: String,
    },
}

impl IoError {
    /// Classifies an OS error on `path` met while reading.
    pub(crate) fn from_os(path: &Path, err: std::io::Error) -> Self {
        Self::from_os_action(path, "read", err)
    }

    /// Classifies an OS error on `path`, saying what was being done.
    pub(crate) fn from_os_action(path: &Path, action: &'static str, err: std::io::Error) -> Self {
        let path = path.to_path_buf();
        match err.kind() {
            std::io::ErrorKind::NotFound if action == "read" => IoError::NotFound { path },
            std::io::ErrorKind::NotFound => IoError::FolderMissing {
                folder: match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                },
                path,
            },
            std::io::ErrorKind::PermissionDenied => IoError::PermissionDenied { path },
            std::io::ErrorKind::IsADirectory => IoError::IsDirectory { path },
            _ => IoError::Os {
                path,
                action,
                source: err,
            },
        }
    }
}
