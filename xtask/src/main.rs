//! weixin-kit's tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).

mod codegen;
mod fixture;
mod fuzz;
mod kotlin;
mod node;
mod soak;
mod tasks;
mod util;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  codegen [--check]   generate code from spec/ (--check: fail if the committed code differs)
  test                build what is needed and run every suite (Rust, spec, bindings)
  demo                the main job: run the documented flows end to end
  bench               benchmarks that print numbers (release builds)
  fuzz [--seconds N] [--runs N] [--target T] [--no-build]
                      run the cargo-fuzz targets of fuzz/ (nightly), N seconds each (default 60)
                      or until N executions
  soak [--calls N] [--seed S] [--concurrency C]
                      the fault soak: N calls (default 10000, C in flight, default 16) of every
                      operation against the sandbox with 10 % faults of every kind; prints its
                      summary (a finding replays exactly with its seed and --concurrency 1)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = project_root();
    let result = match args.as_slice() {
        ["codegen"] => codegen::run(&root, false),
        ["codegen", "--check"] => codegen::run(&root, true),
        ["test"] => tasks::test(&root),
        ["demo"] => tasks::demo(&root),
        ["bench"] => tasks::bench(&root),
        ["fuzz", rest @ ..] => fuzz::run(&root, rest),
        ["soak", rest @ ..] => soak::soak(&root, rest),
        // Part of `test`; on its own for working on the codegen or the binding.
        ["python-fixture"] => fixture::python_fixture_test(&root, Path::new("python3")),
        ["node-fixture"] => fixture::node_fixture_test(&root),
        ["kotlin-fixture"] => fixture::kotlin_fixture_test(&root),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (xtask lives one level below it).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}
