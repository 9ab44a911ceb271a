//! A real `redis-server` on a free loopback port, killed on drop — and the faults the store
//! tests inflict on it: paused (SIGSTOP), resumed, killed, restarted on the same port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

fn binary() -> &'static str {
    [
        "redis-server",
        "/usr/bin/redis-server",
        "/usr/local/bin/redis-server",
    ]
    .into_iter()
    .find(|b| {
        Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
    .expect("redis-server is not installed (apt-get install redis-server; .ci/run does)")
}

/// Starts redis-server on `port`; `None` when it exited at once (the port was taken).
fn spawn_on(port: u16) -> Option<Child> {
    let mut child = Command::new(binary())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if ping(port) {
            return Some(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-server did not answer on port {port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl RedisServer {
    pub fn start() -> Self {
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(child) = spawn_on(port) {
                return RedisServer { child, port };
            }
        }
        panic!("could not start redis-server on a free port");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// SIGSTOP: connections stay open, nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`Self::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// SIGKILL: every connection drops, the data is gone (no persistence).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new, empty redis-server on the same port after [`Self::kill`].
    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = spawn_on(self.port) {
                self.child = child;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "could not restart redis-server on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A paused server must be resumed to die cleanly on some systems; harmless otherwise.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A connection of the test's own (to inspect or corrupt what the store wrote).
pub async fn redis_conn(url: &str) -> redis::aio::ConnectionManager {
    redis::Client::open(url)
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap()
}

/// Waits until `n` processes have reached the barrier `name` (a counter in Redis at `url`), so
/// that child processes start asking at the same moment; fails after 20 s.
pub async fn redis_barrier(url: &str, name: &str, n: i64) {
    let mut conn = redis_conn(url).await;
    let barrier = format!("weixin-kit-test:barrier:{name}");
    let _: i64 = redis::cmd("INCR")
        .arg(&barrier)
        .query_async(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready: i64 = redis::cmd("GET")
            .arg(&barrier)
            .query_async(&mut conn)
            .await
            .unwrap();
        if ready >= n {
            return;
        }
        assert!(Instant::now() < deadline, "barrier: {ready}/{n}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
