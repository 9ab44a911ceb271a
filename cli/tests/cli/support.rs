//! Running the binary and reading the spec's vectors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON (panics with the run's output when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {}\n{}", self.stdout, self.stderr)
        })
    }

    /// stderr as JSON: the error description.
    pub fn error(&self) -> Value {
        serde_json::from_str(&self.stderr)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr))
    }

    /// Asserts exit code 0 and returns stdout as JSON.
    pub fn ok(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.json()
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_weixin-kit")
}

/// A command with no WEIXIN_KIT_* variables of the caller's environment and no user config
/// file (HOME and XDG_CONFIG_HOME point at an empty directory).
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("WEIXIN_KIT_") {
            cmd.env_remove(name);
        }
    }
    let empty = std::env::temp_dir().join("weixin-kit-cli-test-home");
    let _ = std::fs::create_dir_all(&empty);
    cmd.env("HOME", &empty).env("XDG_CONFIG_HOME", &empty);
    cmd
}

pub fn output(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run weixin-kit");
    Run {
        code: status.code().expect("exited, not killed"),
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
    }
}

pub fn run(args: &[&str]) -> Run {
    output(&mut command(args))
}

pub fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

pub fn vectors(name: &str) -> Value {
    let text = std::fs::read_to_string(spec_dir().join(name)).expect("read vectors");
    serde_json::from_str(&text).expect("vectors are JSON")
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// `openssl dgst -sha256 -sign key` over `message`, base64.
pub fn openssl_sign(key_file: &str, message: &[u8], dir: &Path) -> String {
    let msg = dir.join("openssl-message");
    std::fs::write(&msg, message).expect("write");
    let sig = dir.join("openssl-signature");
    let status = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", key_file, "-out"])
        .arg(&sig)
        .arg(&msg)
        .status()
        .expect("the openssl CLI");
    assert!(status.success());
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(sig).expect("read"))
}
