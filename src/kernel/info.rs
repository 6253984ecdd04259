//! What the kernel says about itself (`kernel_info_reply`).

use serde_json::{json, Value};

use super::wire::PROTOCOL_VERSION;

/// The language's name, as Jupyter lists it.
pub const LANGUAGE: &str = "cnnscript";

/// The first line a front end shows.
pub fn banner() -> String {
    format!(
        "cnnscript {} — statements, shape questions and :help in cells; \
         Tab completes, Shift-Tab inspects, the stop button interrupts training",
        env!("CARGO_PKG_VERSION")
    )
}

/// The content of `kernel_info_reply`. CodeMirror and Pygments have no
/// cnnscript mode; Python's colours its comments (`#`), strings, numbers
/// and brackets the same way, so front ends get that.
pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "cnnscript",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": LANGUAGE,
            "version": env!("CARGO_PKG_VERSION"),
            "mimetype": "text/x-cnnscript",
            "file_extension": ".cnn",
            "codemirror_mode": "python",
            "pygments_lexer": "python",
        },
        "banner": banner(),
        "help_links": [
            {
                "text": "Dive into Deep Learning: convolutional networks",
                "url": "https://d2l.ai/chapter_convolutional-neural-networks/index.html",
            },
        ],
        "debugger": false,
    })
}
