//! The Kotlin binding's stage of `cargo xtask test`: the Maven build of `bindings-kotlin/`
//! (cargo build of both uniffi libraries, uniffi-bindgen, Kotlin, the JUnit suite under Surefire,
//! install, and the dependency-only consumer project run against the installed artifacts), and
//! its part of `cargo xtask bench` (`bindings-kotlin/bench/`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{run, Progress};

/// `mvn -B -f bindings-kotlin/pom.xml -Dcargo.profile=dev install` (Maven ≥ 3.8, JDK ≥ 17).
pub fn test(root: &Path, progress: &mut Progress) -> Result<()> {
    progress.stage("Kotlin: the uniffi crates' unit tests (the Maven build's cargo features)");
    run(crate::util::cargo().current_dir(root).args([
        "test",
        "-p",
        "weixin-kit-kotlin",
        "-p",
        "weixin-kit-kotlin-sandbox",
        "--features",
        "weixin-kit-kotlin/cli",
        "--lib",
    ]))?;
    progress.stage(
        "Kotlin: mvn -f bindings-kotlin/pom.xml -Dcargo.profile=dev install (JUnit + consumer project)",
    );
    run(Command::new("mvn")
        .current_dir(root)
        // `cargo xtask` runs under cargo, which puts target/debug on the library path: JNA must
        // load the library from the jar, as a user's JVM does.
        .env_remove("LD_LIBRARY_PATH")
        .args([
            "-B",
            "-f",
            "bindings-kotlin/pom.xml",
            "-Dcargo.profile=dev",
            "install",
        ]))
    .context("the Kotlin binding's Maven build failed (needs mvn and a JDK 17 on PATH)")?;
    progress.stage("Kotlin: an operation added to a fixture spec is callable from dev.weixinkit");
    crate::fixture::kotlin_fixture_test(root)
}

/// The Kotlin part of `cargo xtask bench` (bindings-kotlin/bench/README.md): a release install of
/// `dev.weixinkit:weixin-kit` (what users get from Maven; the suite is skipped, `cargo xtask test`
/// runs it), then ModifyStockInfo through weixin-kit and through wechatpay-java 0.2.17, sequential
/// and 16 in flight, against the sandbox binary `sandbox` (built by the caller); then again with
/// the sandbox pinned to a core of its own.
pub fn bench(root: &Path, sandbox: &Path, progress: &mut Progress) -> Result<()> {
    progress.stage(
        "Kotlin: release install of dev.weixinkit:weixin-kit (mvn -f bindings-kotlin/pom.xml -DskipTests install)",
    );
    // Not -q: cargo's `Compiling …` lines and Maven's module banners are the progress.
    run(Command::new("mvn").current_dir(root).args([
        "-B",
        "-f",
        "bindings-kotlin/pom.xml",
        "-Dcargo.profile=release",
        "-DskipTests",
        "install",
    ]))
    .context("the Kotlin binding's release install failed (needs mvn and a JDK 17 on PATH)")?;
    let bench = |progress: &mut Progress, stage: &str, args: &str| -> Result<()> {
        progress.stage(stage);
        run(Command::new("mvn")
            .current_dir(root)
            .env("WEIXIN_KIT_SANDBOX_BIN", sandbox)
            .env("WEIXIN_KIT_ROOT", root)
            .args([
                "-B",
                "-q",
                "-f",
                "bindings-kotlin/bench/pom.xml",
                "compile",
                "exec:exec",
                &format!("-Dbench.args={args}"),
            ]))
        .context("the Kotlin benchmark failed")
    };
    bench(
        progress,
        "Kotlin: ModifyStockInfo calls/s and client CPU per call, weixin-kit vs wechatpay-java 0.2.17",
        "--seconds 5",
    )?;
    // Again with the sandbox on a core of its own: its CPU column then shows its headroom.
    bench(
        progress,
        "Kotlin: the same with the sandbox pinned to a core of its own (--pin)",
        "--seconds 5 --pin",
    )
}
