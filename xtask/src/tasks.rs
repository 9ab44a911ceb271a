//! `cargo xtask test` and `cargo xtask demo`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::codegen;

/// Every suite, in the order a failure is cheapest to see: drift, Rust, spec, sandbox, Python.
pub fn test(root: &Path) -> Result<()> {
    step("codegen drift check");
    codegen::run(root, true)?;

    step("Rust: cargo test --workspace");
    run(Command::new(cargo())
        .current_dir(root)
        // The Python extension is built by maturin below (a cdylib for the interpreter).
        .args([
            "test",
            "--workspace",
            "--all-features",
            "--exclude",
            "weixin-kit-python",
        ]))?;

    // --all-features above tests both crypto backends side by side; this proves the RustCrypto
    // backend alone builds and passes the same vectors.
    step("Rust: crypto vectors with only the rust-crypto backend");
    run(Command::new(cargo()).current_dir(root).args([
        "test",
        "-p",
        "weixin-kit",
        "--no-default-features",
        "--features",
        "rust-crypto",
        // The vector modules of the one integration test binary (core/tests/it).
        "--test",
        "it",
        "--",
        "crypto_vectors::",
        "notification::",
    ]))?;

    step("spec: OpenAPI validation and coverage of the API documents (pytest)");
    let python = python_env(root)?;
    run(Command::new(&python)
        .current_dir(root)
        .args(["-m", "pytest", "-q", "spec/tests"]))?;

    step("sandbox: driven by outside implementations (Python cryptography, wechatpayv3) (pytest)");
    run(Command::new(cargo()).current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "weixin-kit-sandbox",
        "--bin",
        "weixin-kit-sandbox",
    ]))?;
    run(Command::new(&python)
        .current_dir(root)
        .env(
            "WEIXIN_KIT_SANDBOX_BIN",
            root.join("target/debug/weixin-kit-sandbox"),
        )
        .args(["-m", "pytest", "-q", "sandbox/tests/python"]))?;

    step("Python: fresh venv + `pip install ./bindings-python` + the README quickstart");
    let fresh = root.join("target/py-fresh");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)?;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&fresh))?;
    let fresh_python = fresh.join("bin/python");
    pip_install_binding(root, &fresh_python)?;
    let quickstart = readme_block(root, "quickstart-python")?;
    let script = root.join("target/quickstart.py");
    std::fs::write(&script, quickstart)?;
    run(Command::new(&fresh_python).current_dir(root).arg(&script))?;

    step("Python: weixin_kit (pytest)");
    pip_install_binding(root, &python)?;
    run(Command::new(&python).current_dir(root).args([
        "-m",
        "pytest",
        "-q",
        "bindings-python/tests",
    ]))?;

    step("Python: an operation added to a fixture spec is callable from weixin_kit");
    crate::fixture::python_fixture_test(root, Path::new("python3"))?;
    Ok(())
}

/// `pip install ./bindings-python`, as a user runs it, with a debug build so CI shares the
/// target directory's debug artifacts (a release build is what users get by default).
fn pip_install_binding(root: &Path, python: &Path) -> Result<()> {
    run(pip_install(python, &root.join("bindings-python"))
        .env("MATURIN_PEP517_ARGS", "--profile dev"))
}

/// `python -m pip install --force-reinstall <binding>`: a rebuilt extension is always picked up.
/// Callers add the build's environment (profile, target directory).
pub(crate) fn pip_install(python: &Path, binding: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--force-reinstall",
    ])
    .arg(binding);
    cmd
}

/// The fenced code block after `<!-- name -->` in README.md: the README's examples are run as
/// written.
fn readme_block(root: &Path, name: &str) -> Result<String> {
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let marker = format!("<!-- {name} -->");
    let after = readme
        .split_once(&marker)
        .with_context(|| format!("README.md has no {marker}"))?
        .1;
    let start = after
        .find("```")
        .with_context(|| format!("no code block after {marker}"))?;
    let body = &after[start..];
    let body = &body[body.find('\n').context("unterminated code block")? + 1..];
    let end = body
        .find("\n```")
        .with_context(|| format!("unterminated code block after {marker}"))?;
    Ok(body[..end + 1].to_owned())
}

/// The main job. Later issues run the documented flows against the sandbox here.
pub fn demo(root: &Path) -> Result<()> {
    run(Command::new(cargo()).current_dir(root).args([
        "run",
        "--quiet",
        "-p",
        "weixin-kit",
        "--example",
        "demo",
    ]))
}

/// Benchmarks print numbers; nothing is asserted on timing (shared, noisy machines).
pub fn bench(root: &Path) -> Result<()> {
    step("sandbox throughput vs the crypto cost of one signed call");
    run(Command::new(cargo()).current_dir(root).args([
        "bench",
        "-p",
        "weixin-kit-sandbox",
        "--bench",
        "throughput",
    ]))?;

    // bindings-python/bench/README.md: a release build of the extension in its own venv, the
    // sandbox's release binary as a separate process, wechatpayv3 from PyPI as the baseline.
    step("Python: ModifyStockInfo calls/s, weixin_kit (sync, asyncio) vs wechatpayv3 2.0.4");
    let venv = root.join("target/py-bench");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&python).current_dir(root).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "wechatpayv3==2.0.4",
    ]))?;
    // A release build: what `pip install` gives users.
    run(&mut pip_install(&python, &root.join("bindings-python")))?;
    run(Command::new(cargo()).current_dir(root).args([
        "build",
        "--release",
        "-p",
        "weixin-kit-sandbox",
        "--bin",
        "weixin-kit-sandbox",
    ]))?;
    run(Command::new(&python)
        .current_dir(root)
        .env(
            "WEIXIN_KIT_SANDBOX_BIN",
            root.join("target/release/weixin-kit-sandbox"),
        )
        .arg("bindings-python/bench/modify_stock_info.py"))?;
    // Again with the sandbox on a core of its own: its CPU column then shows its headroom.
    run(Command::new(&python)
        .current_dir(root)
        .env(
            "WEIXIN_KIT_SANDBOX_BIN",
            root.join("target/release/weixin-kit-sandbox"),
        )
        .args(["bindings-python/bench/modify_stock_info.py", "--pin"]))
}

/// A virtualenv under `target/` with the pinned test requirements, reused while they are unchanged.
fn python_env(root: &Path) -> Result<std::path::PathBuf> {
    let venv = root.join("target/py-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("requirements-dev.txt");
    let wanted = std::fs::read_to_string(&requirements).context("reading requirements-dev.txt")?;
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Ok(python);
    }
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}
