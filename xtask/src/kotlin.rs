//! The Kotlin binding's stage of `cargo xtask test`: the Maven build of `bindings-kotlin/`
//! (cargo build of both uniffi libraries, uniffi-bindgen, Kotlin, the JUnit suite under Surefire,
//! install, and the dependency-only consumer project run against the installed artifacts).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{run, Progress};

/// `mvn -B -f bindings-kotlin/pom.xml -Dcargo.profile=dev install` (Maven ≥ 3.8, JDK ≥ 17).
pub fn test(root: &Path, progress: &mut Progress) -> Result<()> {
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
