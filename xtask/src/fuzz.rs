//! `cargo xtask fuzz [--seconds N] [--runs N] [--target T] [--no-build]`: builds the cargo-fuzz
//! targets of `fuzz/` (`--no-build`: runs the binaries built last, e.g. during a campaign while
//! the sources change) (nightly toolchain, `cargo install cargo-fuzz`; optimised, with debug
//! assertions and overflow checks, without AddressSanitizer: see fuzz/README.md) and runs each
//! for N seconds (or `--runs N` executions, whichever comes first), starting from
//! its committed corpus (`fuzz/corpus/<target>/`, replayed by `cargo test` on stable) and the
//! regression inputs (`fuzz/regressions/<target>/`). New inputs go to `fuzz/work/<target>/`,
//! crashes to `fuzz/artifacts/<target>/` (both ignored by git). Prints per target the
//! executions (libFuzzer's `stat::number_of_executed_units`) and the crashes; fails when any
//! target crashed. Not part of `cargo xtask test`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The targets, as in `fuzz/Cargo.toml`.
pub const TARGETS: &[&str] = &[
    "response_signature",
    "notification",
    "pem",
    "certificate_listing",
    "mp_error_body",
    "json_args",
    "component_push",
];

pub const DEFAULT_SECONDS: u64 = 60;

/// What one run of a target did.
struct Outcome {
    target: &'static str,
    executions: Option<u64>,
    exec_per_sec: Option<u64>,
    crashed: bool,
}

/// `cargo +nightly fuzz …` in `fuzz/`, without the variables of the `cargo xtask` that runs it
/// (they name the stable toolchain).
fn cargo_fuzz(root: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root.join("fuzz"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO")
        .args(["+nightly", "fuzz"]);
    cmd
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only: Option<String> = None;
    let mut runs: Option<u64> = None;
    let mut build = true;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--seconds" => {
                let n = rest.next().context("--seconds needs a number")?;
                seconds = n.parse().with_context(|| format!("--seconds {n}"))?;
            }
            "--runs" => {
                let n = rest.next().context("--runs needs a number")?;
                runs = Some(n.parse().with_context(|| format!("--runs {n}"))?);
            }
            "--no-build" => build = false,
            "--target" => only = Some(rest.next().context("--target needs a name")?.to_string()),
            other => bail!("unknown argument {other} (usage: cargo xtask fuzz [--seconds N] [--runs N] [--target T] [--no-build])"),
        }
    }
    let targets: Vec<&'static str> =
        match &only {
            Some(t) => vec![TARGETS.iter().copied().find(|x| x == t).with_context(|| {
                format!("no fuzz target {t} (targets: {})", TARGETS.join(", "))
            })?],
            None => TARGETS.to_vec(),
        };
    if build {
        let status = cargo_fuzz(root)
            .args(["build", "-O", "--debug-assertions", "--sanitizer", "none"])
            .status()
            .context("starting `cargo +nightly fuzz build` (needs the nightly toolchain and `cargo install cargo-fuzz`)")?;
        if !status.success() {
            bail!("cargo +nightly fuzz build -O failed ({status})");
        }
    }
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(run_target(root, target, seconds, runs)?);
    }
    eprintln!(
        "\n{:<22} {:>14} {:>10}  crashes",
        "target", "executions", "exec/s"
    );
    for o in &outcomes {
        let show = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
        eprintln!(
            "{:<22} {:>14} {:>10}  {}",
            o.target,
            show(o.executions),
            show(o.exec_per_sec),
            if o.crashed {
                "CRASH (see fuzz/artifacts/)"
            } else {
                "0"
            }
        );
    }
    let crashed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.crashed)
        .map(|o| o.target)
        .collect();
    if !crashed.is_empty() {
        bail!(
            "crashes in {}: minimise the input (cargo +nightly fuzz tmin <target> <artifact>), \
             commit it under fuzz/regressions/<target>/ and fix",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// The nightly toolchain's host triple (where cargo fuzz puts the binaries).
fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["+nightly", "-vV"])
        .output()
        .context("starting rustc +nightly -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc +nightly -vV names no host")
}

fn run_target(
    root: &Path,
    target: &'static str,
    seconds: u64,
    runs: Option<u64>,
) -> Result<Outcome> {
    let fuzz = root.join("fuzz");
    let work = fuzz.join("work").join(target);
    let corpus = fuzz.join("corpus").join(target);
    let regressions = fuzz.join("regressions").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    for dir in [&work, &corpus, &regressions, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    eprintln!("\n==> fuzz {target} for {seconds} s");
    // The binary `cargo fuzz build` made, run directly: `cargo fuzz run` would rebuild first
    // whenever a source changed since (minutes), in the middle of a campaign.
    let binary = fuzz
        .join("target")
        .join(host_triple()?)
        .join("release")
        .join(target);
    let mut command = Command::new(&binary);
    if let Some(runs) = runs {
        command.arg(format!("-runs={runs}"));
    }
    // A libFuzzer dictionary (header names, extreme numbers …), when the target has one.
    let dict = fuzz.join("dict").join(format!("{target}.dict"));
    if dict.exists() {
        command.arg(format!("-dict={}", dict.display()));
    }
    let mut child = command
        .arg(&work)
        .arg(&corpus)
        .arg(&regressions)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg("-timeout=10")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut executions = None;
    let mut exec_per_sec = None;
    let stat = |line: &str, name: &str| {
        line.strip_prefix(name)
            .and_then(|v| v.trim().trim_start_matches(':').trim().parse::<u64>().ok())
    };
    for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
        let line = line?;
        eprintln!("{line}");
        if let Some(n) = stat(&line, "stat::number_of_executed_units") {
            executions = Some(n);
        }
        if let Some(n) = stat(&line, "stat::average_exec_per_sec") {
            exec_per_sec = Some(n);
        }
    }
    let status = child.wait()?;
    Ok(Outcome {
        target,
        executions,
        exec_per_sec,
        crashed: !status.success(),
    })
}
