//! A real HTTP proxy in front of the sandbox that may rewrite what passes through: what a
//! corporate proxy, an API gateway or a middleware does to a request after it was signed. It
//! records the path and body it received and the ones it forwarded.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};

/// Rewrites the path-and-query and the body of each request before it is forwarded.
pub type Rewrite = Arc<dyn Fn(&mut String, &mut Vec<u8>) + Send + Sync>;

/// One request as it came in and as it went out: (path and query, body).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub received: (String, Vec<u8>),
    pub forwarded: (String, Vec<u8>),
}

pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// A proxy forwarding to `upstream` (`http://host:port`), rewriting with `rewrite`.
    pub async fn start(upstream: String, rewrite: Rewrite) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let state = (reqwest::Client::new(), upstream, rewrite, seen.clone());
        let app = axum::Router::new().fallback(move |req: Request| {
            let (client, upstream, rewrite, seen) = state.clone();
            async move { forward(&client, &upstream, &*rewrite, &seen, req).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Proxy {
            base_url: format!("http://{addr}"),
            seen,
        }
    }

    /// A proxy that changes nothing.
    pub async fn passthrough(upstream: String) -> Proxy {
        Proxy::start(upstream, Arc::new(|_, _| {})).await
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    rewrite: &(dyn Fn(&mut String, &mut Vec<u8>) + Send + Sync),
    seen: &Mutex<Vec<Seen>>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let (mut new_path, mut new_body) = (path.clone(), body.clone());
    rewrite(&mut new_path, &mut new_body);
    seen.lock().unwrap().push(Seen {
        received: (path, body),
        forwarded: (new_path.clone(), new_body.clone()),
    });
    let mut out = client.request(parts.method, format!("{upstream}{new_path}"));
    for (name, value) in &parts.headers {
        if name != HOST && name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            out = out.header(name, value);
        }
    }
    let answer = out.body(new_body).send().await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
