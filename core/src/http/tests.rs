use super::*;
use bytes::Bytes;
use http::Method;

#[test]
fn delays_grow_and_are_capped() {
    let p = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        failover: true,
    };
    for _ in 0..50 {
        let d1 = p.delay(1);
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d3 = p.delay(3);
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
        let d30 = p.delay(30);
        assert!(d30 <= Duration::from_millis(400));
    }
}

#[test]
fn query_is_never_in_error_text() {
    assert_eq!(strip_query("/cgi-bin/x?access_token=SECRET"), "/cgi-bin/x");
}

#[test]
fn base_urls_are_checked() {
    let e =
        HttpClient::new(&HttpConfig::default(), "ftp://x", None, RetryPolicy::none()).unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
}

#[test]
fn base_urls_with_a_path_are_rejected() {
    let new = |main: &str, backup: Option<&str>| {
        HttpClient::new(
            &HttpConfig::default(),
            main,
            backup.map(str::to_owned),
            RetryPolicy::none(),
        )
    };
    for bad in [
        "https://api.mch.weixin.qq.com/prefix",
        "https://api.mch.weixin.qq.com/prefix/",
        "http://127.0.0.1:8080/v3",
        "https://api.mch.weixin.qq.com?x=1",
    ] {
        let e = new(bad, None).unwrap_err();
        assert!(
            matches!(&e, Error::Config { detail } if detail.contains("without a path")),
            "{bad}: {e:?}"
        );
    }
    let e = new("https://api.mch.weixin.qq.com", Some("https://b.example/x")).unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    // A trailing slash is fine: it is trimmed.
    let ok = new("https://api.mch.weixin.qq.com/", Some("http://127.0.0.1:1")).unwrap();
    assert_eq!(ok.main_base_url(), "https://api.mch.weixin.qq.com");
}

#[test]
fn outgoing_debug_hides_the_query() {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let o = Outgoing {
        method: Method::GET,
        path_and_query: "/cgi-bin/x?access_token=SECRETTOKEN".into(),
        headers,
        body: Body::Bytes(Bytes::from_static(b"{\"openid\":\"oUSER\"}")),
        idempotent: false,
    };
    let debug = format!("{o:?}");
    assert!(
        !debug.contains("SECRETTOKEN") && !debug.contains("oUSER"),
        "{debug}"
    );
    assert!(debug.contains("/cgi-bin/x?<redacted>"), "{debug}");
    assert!(debug.contains("content-type"), "{debug}");
}

#[tokio::test]
async fn local_errors_are_not_retried() {
    // A part whose Content-Type does not parse: nothing can be sent, so no retry (the
    // loop would otherwise sleep and try three times).
    let client = HttpClient::new(
        &HttpConfig::default(),
        "http://127.0.0.1:1",
        None,
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(30),
            failover: false,
        },
    )
    .unwrap();
    let request = Outgoing {
        method: Method::POST,
        path_and_query: "/upload".into(),
        headers: HeaderMap::new(),
        body: Body::Multipart(vec![Part {
            name: "file".into(),
            filename: None,
            content_type: "not a mime type".into(),
            data: Bytes::from_static(b"x"),
        }]),
        idempotent: false,
    };
    let mut attempts = 0;
    let e = tokio::time::timeout(
        Duration::from_secs(10),
        client.send(
            &request,
            |_| {
                attempts += 1;
                std::future::ready(Ok(HeaderMap::new()))
            },
            |_| ResponseVerdict::Final,
        ),
    )
    .await
    .expect("returned at once, without backoff")
    .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn oversized_bodies_are_rejected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                // Chunked, no Content-Length: the limit is enforced while reading.
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = vec![b'a'; 1024 * 1024];
                for _ in 0..17 {
                    let _ = conn.write_all(b"100000\r\n").await;
                    if conn.write_all(&chunk).await.is_err() {
                        return;
                    }
                    let _ = conn.write_all(b"\r\n").await;
                }
                let _ = conn.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    let client = HttpClient::new(
        &HttpConfig::default(),
        format!("http://{addr}"),
        None,
        RetryPolicy::default(),
    )
    .unwrap();
    let request = Outgoing {
        method: Method::GET,
        path_and_query: "/big".into(),
        headers: HeaderMap::new(),
        body: Body::Empty,
        idempotent: true,
    };
    let mut attempts = 0;
    let e = client
        .send(
            &request,
            |_| {
                attempts += 1;
                std::future::ready(Ok(HeaderMap::new()))
            },
            |_| ResponseVerdict::Final,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnexpectedResponse { status: 200, detail } if detail.contains("larger than")),
        "{e:?}"
    );
    assert_eq!(attempts, 1);
}

#[test]
fn retry_after_takes_seconds_or_an_http_date() {
    let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    let headers = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_str(v).unwrap(),
        );
        h
    };
    assert_eq!(
        retry_after(&headers("120"), now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(retry_after(&headers(" 0 "), now), Some(Duration::ZERO));
    // RFC 9110's own example date, 90 s after `now`.
    assert_eq!(
        retry_after(&headers("Sun, 06 Nov 1994 08:51:07 GMT"), now),
        Some(Duration::from_secs(90))
    );
    // A date already past: no wait.
    assert_eq!(
        retry_after(&headers("Sun, 06 Nov 1994 08:00:00 GMT"), now),
        Some(Duration::ZERO)
    );
    assert_eq!(retry_after(&headers("soon"), now), None);
    assert_eq!(retry_after(&headers("-5"), now), None);
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
}
