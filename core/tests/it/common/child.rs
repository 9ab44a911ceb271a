//! A child process of this test binary: the same executable re-run on one ignored test (the
//! child's body), configured through environment variables, talking in lines (`KEY=value` on its
//! stdout, `go` on its stdin). Shared by the token tests that need several real processes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The full name of `test` (a function of `module`, as `module_path!()` gives it) in this test
/// binary: the module path without the crate name.
pub fn test_name(module: &str, test: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{test}")
}

pub struct ChildProc {
    pub child: Child,
    /// Dropping it (`close_stdin`) tells the child to finish.
    pub stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProc {
    /// Runs the ignored test `test` (see [`test_name`]) alone in a new process with `env` set.
    pub fn spawn(test: &str, env: &[(&str, &str)]) -> ChildProc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                test,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        ChildProc {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    /// Blocks until the child prints `KEY=value`; the value.
    pub fn read(&mut self, key: &str) -> String {
        let prefix = format!("{key}=");
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "child exited before printing {key}");
            // The harness may print "test child_process ... " on the same line first.
            if let Some((_, value)) = line.split_once(&prefix) {
                return value.trim().to_owned();
            }
        }
    }

    /// Lets the child start its next phase.
    pub fn go(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "go").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes the child's stdin: its signal to finish.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Closes the child's stdin and waits for it to exit; fails the test if it failed. Call from
    /// a multi-threaded runtime (it blocks in place).
    pub fn finish(mut self) {
        self.close_stdin();
        let status = tokio::task::block_in_place(|| self.child.wait().unwrap());
        assert!(status.success(), "child failed: {status}");
    }
}
