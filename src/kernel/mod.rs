//! `cnnscript kernel`: a Jupyter kernel (messaging protocol 5.3 over
//! ZeroMQ). Jupyter starts it with a connection file; the sockets run on a
//! thread of their own ([`io`]) and the cells on this one ([`exec`]), in
//! the REPL's session, so notebooks see what the REPL would print, with
//! tables, pictures and training drawn for a notebook ([`sink`]).

pub mod assist;
pub mod connection;
pub mod exec;
pub mod html;
pub mod info;
pub mod inspect;
pub mod install;
pub mod io;
pub mod sink;
pub mod wire;

use std::path::Path;

use crate::session::{EXIT_SCRIPT, EXIT_USAGE};

/// `cnnscript kernel -f FILE`: serve Jupyter until it shuts the kernel down.
pub fn run(connection_file: Option<&Path>) -> u8 {
    let Some(file) = connection_file else {
        eprintln!(
            "error: `cnnscript kernel` is started by Jupyter with `-f CONNECTION_FILE`\n\
             help: run `cnnscript kernel install`, then pick \"cnnscript\" in Jupyter"
        );
        return EXIT_USAGE;
    };
    let conn = match connection::Connection::read(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_SCRIPT;
        }
    };
    let (jobs, requests) = std::sync::mpsc::channel();
    let outbox = match io::start(conn, jobs) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_SCRIPT;
        }
    };
    let mut executor = exec::Executor::new(outbox);
    while let Ok(msg) = requests.recv() {
        executor.handle(&msg);
    }
    0
}

/// `cnnscript kernel install [--user | --prefix DIR]`.
pub fn install(target: &install::Target) -> u8 {
    match install::install(target) {
        Ok(dir) => {
            println!(
                "installed the cnnscript kernel in {}\n(`jupyter kernelspec list` shows it)",
                dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_SCRIPT
        }
    }
}
