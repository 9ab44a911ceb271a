//! `cargo xtask test` and `cargo xtask demo`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::codegen;
use crate::fixture;
use crate::util::{cargo, pip_install, python_env, readme_block, run, Progress};

/// Every suite, in the order a failure is cheapest to see: drift, Rust, spec, sandbox, Python,
/// Node, Kotlin.
pub fn test(root: &Path) -> Result<()> {
    let mut progress = Progress::start();
    progress.stage("codegen drift check");
    codegen::run(root, true)?;

    progress.stage("Rust: cargo test --workspace --all-features");
    run(cargo()
        .current_dir(root)
        // The Python extension is built by maturin below (a cdylib for the interpreter).
        .args([
            "test",
            "--workspace",
            "--all-features",
            "--exclude",
            "weixin-kit-python",
            // The Node addon is built by npm below (a cdylib for Node).
            "--exclude",
            "weixin-kit-node",
            // The Kotlin crates' unit tests run in the Kotlin stage with the Maven build's
            // features (--all-features here would build uniffi's bindgen a second time).
            "--exclude",
            "weixin-kit-kotlin",
            "--exclude",
            "weixin-kit-kotlin-sandbox",
        ]))?;

    // A core without its optional parts (what the Android/Kotlin build needs): only the default
    // crypto backend.
    progress.stage(
        "Rust: weixin-kit without optional features (--no-default-features --features aws-lc-rs)",
    );
    run(cargo().current_dir(root).args([
        "test",
        "-p",
        "weixin-kit",
        "--no-default-features",
        "--features",
        "aws-lc-rs",
    ]))?;

    // --all-features above tests both crypto backends side by side; this proves the RustCrypto
    // backend builds and passes the same vectors.
    progress.stage("Rust: crypto vectors with only the rust-crypto backend");
    run(cargo().current_dir(root).args([
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
        "component_crypto::",
    ]))?;

    progress.stage("spec: OpenAPI validation and coverage of the API documents (pytest)");
    let python = python_env(root)?;
    run(Command::new(&python)
        .current_dir(root)
        .args(["-m", "pytest", "-q", "spec/tests"]))?;

    progress.stage(
        "sandbox: driven by outside implementations (Python cryptography, wechatpayv3) (pytest)",
    );
    run(cargo().current_dir(root).args([
        "build",
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

    progress.stage("Python: fresh venv + `pip install ./bindings-python` + the README quickstart");
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

    progress.stage("Python: weixin_kit (pytest)");
    pip_install_binding(root, &python)?;
    run(Command::new(&python).current_dir(root).args([
        "-m",
        "pytest",
        "-q",
        "bindings-python/tests",
    ]))?;

    progress.stage("Python: an operation added to a fixture spec is callable from weixin_kit");
    fixture::python_fixture_test(root, Path::new("python3"))?;

    crate::node::test(root, &mut progress)?;
    crate::kotlin::test(root, &mut progress)?;
    progress.finish("cargo xtask test");
    Ok(())
}

/// `pip install ./bindings-python`, as a user runs it, with a debug build so CI shares the
/// target directory's debug artifacts (a release build is what users get by default).
fn pip_install_binding(root: &Path, python: &Path) -> Result<()> {
    run(pip_install(python, &root.join("bindings-python"))
        .env("MATURIN_PEP517_ARGS", "--profile dev"))
}

/// The main job. Later issues run the documented flows against the sandbox here.
pub fn demo(root: &Path) -> Result<()> {
    let mut progress = Progress::start();
    progress.stage("demo: cargo run -p weixin-kit --example demo (the first build takes minutes)");
    run(cargo()
        .current_dir(root)
        .args(["run", "-p", "weixin-kit", "--example", "demo"]))?;
    progress.finish("cargo xtask demo");
    Ok(())
}

/// Benchmarks print numbers; nothing is asserted on timing (shared, noisy machines).
pub fn bench(root: &Path) -> Result<()> {
    let mut progress = Progress::start();
    progress.stage("sandbox throughput vs the crypto cost of one signed call");
    run(cargo().current_dir(root).args([
        "bench",
        "-p",
        "weixin-kit-sandbox",
        "--bench",
        "throughput",
    ]))?;

    // bindings-python/bench/README.md: a release build of the extension in its own venv, the
    // sandbox's release binary as a separate process, wechatpayv3 from PyPI as the baseline.
    progress
        .stage("Python: ModifyStockInfo calls/s, weixin_kit (sync, asyncio) vs wechatpayv3 2.0.4");
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
    run(cargo().current_dir(root).args([
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
        .args(["bindings-python/bench/modify_stock_info.py", "--pin"]))?;

    // bindings-node/bench/README.md: the release addon (what `npm install` builds), the same
    // sandbox binary as a separate process, wechatpay-axios-plugin from npm as the baseline.
    node_bench(root, &mut progress)?;

    // bindings-kotlin/bench/README.md: the release jar (what Maven users get), the same sandbox
    // binary as a separate process, wechatpay-java 0.2.17 from Maven Central as the baseline.
    crate::kotlin::bench(
        root,
        &root.join("target/release/weixin-kit-sandbox"),
        &mut progress,
    )?;
    progress.finish("cargo xtask bench");
    Ok(())
}

/// The Node part of `cargo xtask bench`: ModifyStockInfo through weixin-kit and through
/// wechatpay-axios-plugin (pinned in `bindings-node/bench/package-lock.json`), sequential and 16
/// in flight, against the sandbox binary built above; then again with the sandbox pinned.
fn node_bench(root: &Path, progress: &mut Progress) -> Result<()> {
    let node = root.join("bindings-node");
    let bench = node.join("bench");
    progress.stage("Node: release build of the native addon (node scripts/build.js)");
    run(Command::new("node")
        .current_dir(&node)
        .env("WEIXIN_KIT_NODE_PROFILE", "release")
        .arg("scripts/build.js"))?;
    progress.stage("Node: npm install in bindings-node/bench (wechatpay-axios-plugin from npm)");
    run(Command::new("npm")
        .current_dir(&bench)
        .args(["install", "--no-audit", "--no-fund"]))?;
    let sandbox = root.join("target/release/weixin-kit-sandbox");
    progress.stage(
        "Node: ModifyStockInfo calls/s and client CPU per call, weixin-kit vs wechatpay-axios-plugin",
    );
    run(Command::new("node")
        .current_dir(&bench)
        .env("WEIXIN_KIT_SANDBOX_BIN", &sandbox)
        .arg("modify_stock_info.js"))?;
    // Again with the sandbox on a core of its own: its CPU column then shows its headroom.
    progress.stage("Node: the same with the sandbox pinned to a core of its own (--pin)");
    run(Command::new("node")
        .current_dir(&bench)
        .env("WEIXIN_KIT_SANDBOX_BIN", &sandbox)
        .args(["modify_stock_info.js", "--pin"]))?;
    Ok(())
}
