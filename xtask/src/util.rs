//! Helpers every task uses: running commands, announcing stages with their times, the cargo and
//! pip invocations, the test virtualenv, files and the README's code blocks.
//!
//! A leaf: it imports nothing from the other modules of xtask, so any of them can use it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

// ---------------------------------------------------------------------------------------------
// Progress

/// The stages of one task, announced as they start with the time since the task started, and
/// timed when they end:
///
/// ```text
/// ==> [03:12] Rust: cargo test --workspace
/// …cargo's own output…
///     done in 95 s
/// ```
pub struct Progress {
    started: Instant,
    stage: Option<Instant>,
}

impl Progress {
    pub fn start() -> Self {
        Progress {
            started: Instant::now(),
            stage: None,
        }
    }

    /// Ends the current stage (printing its duration) and announces the next one.
    pub fn stage(&mut self, name: &str) {
        self.end_stage();
        eprintln!("\n==> [{}] {name}", clock(self.started.elapsed()));
        self.stage = Some(Instant::now());
    }

    /// Ends the last stage and prints the task's total time.
    pub fn finish(mut self, task: &str) {
        self.end_stage();
        eprintln!("\n==> [{}] {task}: all done", clock(self.started.elapsed()));
    }

    fn end_stage(&mut self) {
        if let Some(stage) = self.stage.take() {
            eprintln!("    done in {}", seconds(stage.elapsed()));
        }
    }
}

impl Drop for Progress {
    /// A stage still open here failed (its error is on its way up).
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            eprintln!("    failed after {}", seconds(stage.elapsed()));
        }
    }
}

/// `mm:ss` (or `h:mm:ss` past an hour).
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// Whole seconds, or tenths below ten seconds.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

/// The cargo that runs xtask (`$CARGO`), so inner builds use the same toolchain.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs `cmd` with its output going to the terminal; fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` (described as `what`) with its output captured; a failure carries that output.
pub fn run_captured(cmd: &mut Command, what: &str) -> Result<Output> {
    let output = cmd.output().with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n--- stdout\n{}--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

// ---------------------------------------------------------------------------------------------
// Python

/// `python -m pip install --force-reinstall <binding>`: a rebuilt extension is always picked up.
/// Callers add the build's environment (profile, target directory). Not `--quiet`: pip shows
/// that it is building the wheel, which takes minutes when cargo compiles the dependencies.
pub fn pip_install(python: &Path, binding: &Path) -> Command {
    eprintln!(
        "pip install {}: maturin builds the extension (the first build compiles every \
         dependency: several minutes; later ones reuse them)",
        binding.display()
    );
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--force-reinstall",
    ])
    .arg(binding);
    cmd
}

/// A virtualenv under `target/` with the pinned test requirements, reused while they are unchanged.
pub fn python_env(root: &Path) -> Result<PathBuf> {
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
    eprintln!(
        "installing requirements-dev.txt into {} (once, until it changes)",
        venv.display()
    );
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

// ---------------------------------------------------------------------------------------------
// Files

/// Every file under `dir`, relative to it (none when `dir` does not exist).
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// Writes `contents` to `path` (creating its folder) unless the file already holds them, so an
/// unchanged file keeps its modification time.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().context("a file lives in a folder")?)?;
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// The fenced code block after `<!-- name -->` in README.md: the README's examples are run as
/// written.
pub fn readme_block(root: &Path, name: &str) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_seconds() {
        assert_eq!(clock(Duration::from_secs(192)), "03:12");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(seconds(Duration::from_millis(2345)), "2.3 s");
        assert_eq!(seconds(Duration::from_secs(95)), "95 s");
    }

    #[test]
    fn files_under_is_relative_and_recursive() {
        let dir = tempfile::tempdir().unwrap();
        write_if_changed(&dir.path().join("a/b/c.txt"), b"c").unwrap();
        write_if_changed(&dir.path().join("d.txt"), b"d").unwrap();
        let mut files = files_under(dir.path()).unwrap();
        files.sort();
        assert_eq!(
            files,
            vec![PathBuf::from("a/b/c.txt"), PathBuf::from("d.txt")]
        );
        assert!(files_under(&dir.path().join("missing")).unwrap().is_empty());
    }
}
