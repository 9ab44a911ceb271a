//! `cargo xtask soak [--calls N] [--seed S] [--concurrency C]`: the fault soak (core/tests/it/soak) at full size —
//! 10,000 calls by default across every operation of both clients against the sandbox, 10 % of
//! the requests faulted with every kind of fault — printing its summary (calls per operation,
//! outcomes by kind, faults injected by kind, applications and duplicates). Fails when an
//! invariant does not hold.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::util::{cargo, run, Progress};

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub calls: Option<u64>,
    pub seed: Option<u64>,
    pub concurrency: Option<u64>,
}

pub fn parse(args: &[&str]) -> Result<Args> {
    let mut parsed = Args::default();
    let mut it = args.iter();
    while let Some(&flag) = it.next() {
        let slot = match flag {
            "--calls" => &mut parsed.calls,
            "--seed" => &mut parsed.seed,
            "--concurrency" => &mut parsed.concurrency,
            other => bail!(
                "soak: unknown argument `{other}` (expected --calls N, --seed S, --concurrency C)"
            ),
        };
        let value = it
            .next()
            .with_context(|| format!("soak: `{flag}` needs a value"))?;
        let n: u64 = value
            .parse()
            .with_context(|| format!("soak: `{flag}` must be a whole number, got `{value}`"))?;
        if n == 0 && flag != "--seed" {
            bail!("soak: `{flag}` must be at least 1");
        }
        *slot = Some(n);
    }
    Ok(parsed)
}

pub fn soak(root: &Path, args: &[&str]) -> Result<()> {
    let args = parse(args)?;
    let mut progress = Progress::start();
    progress.stage(&format!(
        "fault soak: {} calls, seed {} (cargo test -p weixin-kit --test it soak::full_soak)",
        args.calls.unwrap_or(10_000),
        args.seed
            .map_or_else(|| "random (printed)".to_owned(), |s| s.to_string())
    ));
    let mut cmd = cargo();
    cmd.current_dir(root).args([
        "test",
        "-p",
        "weixin-kit",
        "--test",
        "it",
        "--",
        "soak::full_soak",
        "--exact",
        "--ignored",
        "--nocapture",
    ]);
    if let Some(calls) = args.calls {
        cmd.env("SOAK_CALLS", calls.to_string());
    }
    if let Some(seed) = args.seed {
        cmd.env("SOAK_SEED", seed.to_string());
    }
    if let Some(concurrency) = args.concurrency {
        cmd.env("SOAK_CONCURRENCY", concurrency.to_string());
    }
    run(&mut cmd)?;
    progress.finish("cargo xtask soak");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls_and_seed() {
        assert_eq!(parse(&[]).unwrap(), Args::default());
        assert_eq!(
            parse(&["--calls", "500", "--seed", "7"]).unwrap(),
            Args {
                calls: Some(500),
                seed: Some(7),
                concurrency: None,
            }
        );
        for (bad, says) in [
            (&["--calls"][..], "needs a value"),
            (&["--calls", "many"][..], "whole number"),
            (&["--calls", "0"][..], "at least 1"),
            (
                &["--concurrency", "0"][..],
                "`--concurrency` must be at least 1",
            ),
            (&["--speed", "1"][..], "unknown argument `--speed`"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
