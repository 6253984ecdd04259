//! The `cnnscript` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cnnscript",
    version,
    about = "Check, run and explore convolutional network scripts"
)]
struct Cli {
    /// Worker threads for kernels (default: the machine's cores; also CNNSCRIPT_THREADS)
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
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
    /// Write a script as a project for another framework
    Export {
        /// The .cnn script
        file: std::path::PathBuf,
        /// Write the whole script as a PyTorch project in this folder
        #[arg(long, value_name = "DIR")]
        torch: Option<std::path::PathBuf>,
        /// Replace the project's files in a folder that is not empty
        #[arg(long)]
        force: bool,
    },
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
            ExitCode::from(cnnscript::cli::EXIT_SCRIPT)
        }
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
        Command::Export { file, torch, force } => {
            cnnscript::cli::export(&file, torch.as_deref(), force)
        }
    };
    ExitCode::from(code)
}
