//! The Node package's part of `cargo xtask test`: the addon built and the suite run as a
//! developer does (`npm ci` in bindings-node), the declarations type-checked, and the README's
//! Node quickstart run as written in a fresh project that installs the package the way a user
//! does (`npm install <repository>/bindings-node`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{readme_block, run, Progress};

/// The cargo profile the test command builds the addon with: debug builds share the target
/// directory's artifacts with the Rust suites (users get a release build by default).
const PROFILE: &str = "dev";

/// `npm` with the environment every step here shares.
fn npm(dir: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir)
        .env("WEIXIN_KIT_NODE_PROFILE", PROFILE)
        // No "update available" notices, no funding messages: just the build and the results.
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false");
    cmd
}

fn package(root: &Path) -> PathBuf {
    root.join("bindings-node")
}

/// Builds the addon (the package's install script) and installs its dev dependencies.
pub fn install(root: &Path) -> Result<()> {
    // --foreground-scripts: cargo's progress is shown instead of a silent wait.
    run(npm(&package(root)).args(["ci", "--foreground-scripts"]))
}

/// The `node --test` suite.
pub fn suite(root: &Path) -> Result<()> {
    run(npm(&package(root)).args(["test"]))
}

/// `tsc --noEmit --strict` over the usage file whose `@ts-expect-error` lines are mistakes the
/// declarations must reject.
pub fn typecheck(root: &Path) -> Result<()> {
    run(npm(&package(root)).args(["run", "typecheck"]))
}

/// A fresh project in target/, `npm install <repository>/bindings-node`, then the README's
/// Node quickstart, as written.
pub fn quickstart(root: &Path) -> Result<()> {
    let project = root.join("target/node-fresh");
    if project.exists() {
        std::fs::remove_dir_all(&project)?;
    }
    std::fs::create_dir_all(&project)?;
    run(npm(&project)
        .args(["init", "-y"])
        .stdout(std::process::Stdio::null()))?;
    run(npm(&project)
        .args(["install", "--foreground-scripts"])
        .arg(package(root)))?;
    let script = project.join("quickstart.mjs");
    std::fs::write(&script, readme_block(root, "quickstart-node")?)?;
    run(Command::new("node").current_dir(&project).arg(&script))
        .context("the README's Node quickstart failed in a fresh project")
}

/// The stages above, in `cargo xtask test`.
pub fn test(root: &Path, progress: &mut Progress) -> Result<()> {
    progress.stage("Node: npm ci in bindings-node (builds the native addon with cargo)");
    install(root)?;
    progress.stage("Node: the declarations (tsc --noEmit --strict over test/types)");
    typecheck(root)?;
    progress
        .stage("Node: fresh project + `npm install <repo>/bindings-node` + the README quickstart");
    quickstart(root)?;
    progress.stage("Node: weixin-kit (node --test)");
    suite(root)?;
    progress.stage("Node: an operation added to a fixture spec is callable from weixin-kit");
    crate::fixture::node_fixture_test(root)
}
