//! A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`: Chromium reads
//! NUL-terminated JSON messages on file descriptor 3 and writes its answers and events on 4. No
//! websocket, no dependency beyond libc (for the pipes). Enough to evaluate JavaScript in a page:
//! click a button, read the DOM.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::FromRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Browser {
    child: Child,
    to: File,
    from: BufReader<File>,
    next_id: u64,
    session: Option<String>,
}

/// A pipe whose two ends are close-on-exec and numbered 10 or above (so that placing them on
/// 3 and 4 in the child cannot overwrite one another).
fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: plain libc calls on fds this function owns.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe()");
        let hi = |fd: i32| {
            let new = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            assert!(new >= 10, "fcntl(F_DUPFD_CLOEXEC)");
            libc::close(fd);
            new
        };
        (hi(fds[0]), hi(fds[1]))
    }
}

impl Browser {
    /// Starts headless `browser` on `url` (a fresh profile in `profile`) and attaches to its page.
    pub fn launch(browser: &Path, profile: &Path, url: &str) -> Browser {
        let (chrome_reads, we_write) = pipe();
        let (we_read, chrome_writes) = pipe();
        let mut cmd = Command::new(browser);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--remote-debugging-pipe",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(chrome_reads, 3) < 0 || libc::dup2(chrome_writes, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
        // SAFETY: the parent's copies of the child's ends are closed; ours become Files.
        let (to, from) = unsafe {
            libc::close(chrome_reads);
            libc::close(chrome_writes);
            (File::from_raw_fd(we_write), File::from_raw_fd(we_read))
        };
        let mut b = Browser {
            child,
            to,
            from: BufReader::new(from),
            next_id: 0,
            session: None,
        };
        let until = Instant::now() + Duration::from_secs(10);
        let page = loop {
            let targets = b.call("Target.getTargets", json!({}));
            let page = targets["targetInfos"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .map(|t| t["targetId"].clone());
            match page {
                Some(p) => break p,
                None if Instant::now() < until => std::thread::sleep(Duration::from_millis(100)),
                None => panic!("chromium opened no page: {targets}"),
            }
        };
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": page, "flatten": true}),
        );
        b.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_owned(),
        );
        b
    }

    /// Sends one command (to the attached page once there is one) and returns its `result`.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        loop {
            let mut buf = Vec::new();
            let n = self
                .from
                .read_until(0, &mut buf)
                .expect("read from chromium");
            assert!(n > 0, "chromium closed the pipe (answering {method})");
            buf.pop();
            let v: Value = serde_json::from_slice(&buf).expect("CDP message is JSON");
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    /// The value of `expression` evaluated in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is `true` (at most `timeout`); false if it never was.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.eval(expression) == json!(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
