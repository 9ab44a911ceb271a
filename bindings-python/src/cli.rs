//! `cli_main(argv)`: the `weixin-kit` command line (`weixin_kit_cli::run`) for
//! `python -m weixin_kit` — the same code as the Rust binary, writing to the process's stdout
//! and stderr, with the GIL released while it runs (the `sandbox` command serves until
//! Ctrl-C / SIGTERM).

use pyo3::prelude::*;

/// Runs the command line with `argv` (without the program name); returns the exit code.
#[pyfunction]
pub fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    // What Python printed before must come first.
    let _ = py
        .import("sys")
        .and_then(|sys| sys.getattr("stdout")?.call_method0("flush"));
    py.detach(|| weixin_kit_cli::run(argv, &mut std::io::stdout(), &mut std::io::stderr()))
}
