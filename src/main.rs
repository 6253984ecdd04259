//! The `cnnscript` command line.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cnnscript",
    version,
    about = "Check, run and explore convolutional network scripts"
)]
struct Cli {
    /// Worker threads for kernels, at least 1 (default: the machine's cores; also CNNSCRIPT_THREADS)
    #[arg(long, global = true, value_parser = thread_count)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

/// `--threads N`: a whole number of at least 1.
fn thread_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("a thread count must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number of threads")),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Execute a script
    Run {
        /// The .cnn script
        file: std::path::PathBuf,
    },
    /// Parse and infer every model and shape question; run nothing
    Check {
        /// The .cnn script
        file: std::path::PathBuf,
        /// Print the models as one JSON object
        #[arg(long)]
        json: bool,
        /// Print the models as a Graphviz DOT graph, shapes on the edges
        #[arg(long, conflicts_with = "json")]
        dot: bool,
    },
    /// Interactive session: statements and shape questions
    Repl,
    /// Rewrite scripts in the canonical layout (comments kept)
    Fmt {
        /// Change nothing: show a diff and fail when a file is not formatted
        #[arg(long)]
        check: bool,
        /// Scripts, or folders to search for .cnn files
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// Compare each script's model tables with NAME.cnn.snap beside it
    Test {
        /// Write new and changed snapshots
        #[arg(long)]
        accept: bool,
        /// Scripts, or folders to search for .cnn files
        #[arg(default_value = ".")]
        paths: Vec<std::path::PathBuf>,
    },
    /// Language server for editors, on stdin/stdout (LSP)
    Lsp,
    /// Write a model as ONNX, or the whole script as a PyTorch project
    Export(ExportArgs),
    /// Jupyter kernel (started by Jupyter with -f FILE); `install` registers it
    Kernel(KernelArgs),
}

#[derive(Args)]
struct KernelArgs {
    /// The connection file Jupyter writes
    #[arg(short = 'f', value_name = "CONNECTION_FILE")]
    connection_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    action: Option<KernelAction>,
}

#[derive(Subcommand)]
enum KernelAction {
    /// Write the kernelspec so Jupyter lists "cnnscript" (default: --user)
    Install {
        /// In your Jupyter data folder (~/.local/share/jupyter)
        #[arg(long, conflicts_with = "prefix")]
        user: bool,
        /// In DIR/share/jupyter (a virtual environment)
        #[arg(long, value_name = "DIR")]
        prefix: Option<std::path::PathBuf>,
    },
}

#[derive(Args)]
struct ExportArgs {
    /// The .cnn script
    file: std::path::PathBuf,
    #[command(flatten)]
    to: ExportTo,
    /// The model to export (default: the script's only model)
    #[arg(long, value_name = "M", conflicts_with = "torch")]
    model: Option<String>,
    /// Weights to export (.safetensors or .npz, strict names as `load`);
    /// default: the seeded initial weights `run` gives the model
    #[arg(long, value_name = "W", conflicts_with = "torch")]
    weights: Option<std::path::PathBuf>,
    /// Replace the project's files in a folder that is not empty
    #[arg(long, requires = "torch")]
    force: bool,
}

/// What to write: exactly one target.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct ExportTo {
    /// Write the model as an ONNX file
    #[arg(long, value_name = "OUT")]
    onnx: Option<std::path::PathBuf>,
    /// Write the whole script as a PyTorch project in this folder
    #[arg(long, value_name = "DIR")]
    torch: Option<std::path::PathBuf>,
}

/// Stack for the pipeline: parsing, checking and evaluating recurse over the
/// script's nesting, which the syntax pre-scan bounds (256 brackets, 4096
/// operators per statement); this leaves ample room for that depth.
const STACK_BYTES: usize = 256 * 1024 * 1024;

fn main() -> ExitCode {
    let worker = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(run_cli);
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("error: cnnscript stopped unexpectedly");
            ExitCode::from(cnnscript::session::EXIT_SCRIPT)
        }
    }
}

fn export(args: ExportArgs) -> u8 {
    match args.to {
        ExportTo {
            onnx: Some(out), ..
        } => {
            let req = cnnscript::cli::export::OnnxRequest {
                out,
                model: args.model,
                weights: args.weights,
            };
            cnnscript::cli::export::onnx(&args.file, &req)
        }
        ExportTo {
            torch: Some(dir), ..
        } => cnnscript::cli::export::torch(&args.file, &dir, args.force),
        // clap's group makes one target required
        ExportTo {
            onnx: None,
            torch: None,
        } => cnnscript::session::EXIT_USAGE,
    }
}

fn kernel(args: KernelArgs) -> u8 {
    use cnnscript::kernel::install::Target;
    match args.action {
        Some(KernelAction::Install { prefix, .. }) => {
            let target = prefix.map_or(Target::User, Target::Prefix);
            cnnscript::kernel::install(&target)
        }
        None => cnnscript::kernel::run(args.connection_file.as_deref()),
    }
}

fn run_cli() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    cnnscript::cli::init_threads(cli.threads);
    let code = match cli.command {
        Command::Check { file, json, dot } => {
            use cnnscript::cli::CheckOutput;
            let output = match (json, dot) {
                (true, _) => CheckOutput::Json,
                (false, true) => CheckOutput::Dot,
                (false, false) => CheckOutput::Text,
            };
            cnnscript::cli::check_as(&file, output)
        }
        Command::Run { file } => cnnscript::cli::run(&file),
        Command::Repl => cnnscript::cli::repl(),
        Command::Fmt { check, paths } => cnnscript::fmt::command::run(&paths, check),
        Command::Test { accept, paths } => cnnscript::snapshot::run(&paths, accept),
        Command::Export(args) => export(args),
        Command::Lsp => cnnscript::lsp::run(),
        Command::Kernel(args) => kernel(args),
    };
    ExitCode::from(code)
}
