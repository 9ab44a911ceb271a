//! A misbehaving HTTP peer on a real TCP listener: what the sandbox cannot be (a host that drops
//! the connection after reading a request, answers 429 with `Retry-After`, never answers, or is
//! not an HTTPS server at all), counting the connections and requests it gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the peer does with each connection.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Reads the whole request, then closes the connection without answering: the request
    /// reached the server (it may have been applied), the client gets no response.
    DropAfterRequest,
    /// Reads the whole request and never answers (holds the connection open).
    Hang,
    /// Closes each connection as soon as it is accepted, before reading anything: an `https://`
    /// URL to it fails in the TLS handshake, a connect-level failure (nothing was sent).
    CloseOnAccept,
    /// Answers the n-th request (0-based) with `answers[n]`, the last one repeated after that:
    /// raw HTTP/1.1 responses as built by [`answer`].
    Answer(Vec<String>),
}

/// A running peer. Dropping it stops nothing (the accept loop ends with the test runtime).
pub struct Peer {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Peer {
    pub async fn start(behaviour: Behaviour) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(conn, behaviour.clone(), r.clone()));
            }
        });
        Peer {
            port,
            connections,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `https://127.0.0.1:PORT` (for [`Behaviour::CloseOnAccept`]: a TLS handshake failure).
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Whole requests read.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A port nothing listens on (bound, then released): connecting is refused.
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A raw HTTP/1.1 response with a JSON body and extra header lines (`"Retry-After: 1"`).
pub fn answer(status: u16, headers: &[&str], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

async fn serve(mut conn: TcpStream, behaviour: Behaviour, requests: Arc<AtomicUsize>) {
    if let Behaviour::CloseOnAccept = behaviour {
        return;
    }
    loop {
        if !read_request(&mut conn).await {
            return;
        }
        let n = requests.fetch_add(1, Ordering::SeqCst);
        match &behaviour {
            Behaviour::DropAfterRequest => return,
            Behaviour::Hang => {
                // Keep the connection open until the client gives up.
                let mut buf = [0u8; 1024];
                while matches!(conn.read(&mut buf).await, Ok(k) if k > 0) {}
                return;
            }
            Behaviour::Answer(answers) => {
                let text = answers.get(n).or(answers.last()).expect("an answer");
                if conn.write_all(text.as_bytes()).await.is_err() {
                    return;
                }
            }
            Behaviour::CloseOnAccept => unreachable!(),
        }
    }
}

/// Reads one request (headers and a Content-Length body); false when the connection ended.
async fn read_request(conn: &mut TcpStream) -> bool {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => data.extend_from_slice(&buf[..k]),
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < header_end + length {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => data.extend_from_slice(&buf[..k]),
        }
    }
    true
}
