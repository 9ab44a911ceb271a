//! Helpers shared by the integration tests: the sandbox (one generated identity for all), an
//! independent signer and verifier (the `openssl` CLI), and a small client that signs WeChat Pay
//! requests with it.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use weixin_kit_sandbox::{Identity, Sandbox, SandboxConfig};

pub mod component;

pub struct Env {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

/// One generated identity for every sandbox of this binary (RSA key generation is slow; the
/// startup test and the binary's test still generate their own).
pub fn identity() -> Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::generate().unwrap()).clone()
}

/// A sandbox with [`identity`], its keys and certificate written to a temporary folder for the
/// openssl CLI, and an HTTP client.
pub async fn start() -> Env {
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        identity: Some(identity()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    eprintln!("sandbox started in {:?}", started.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let creds = sandbox.credentials();
    std::fs::write(
        dir.path().join("merchant_key.pem"),
        creds.merchant_private_key_pem.expose(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("wechatpay_pub.pem"),
        &creds.wechatpay_public_key_pem,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("platform_cert.pem"),
        &creds.platform_certificate_pem,
    )
    .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Env { sandbox, dir, http }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `openssl dgst -sha256 -sign key.pem | base64 -w0` over `message`.
pub fn openssl_sign(key: &Path, message: &[u8]) -> String {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl dgst -sha256 -sign '{}' | base64 -w0",
            key.display()
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `openssl dgst -sha256 -verify pub.pem -signature sig message`.
pub fn openssl_verify(dir: &Path, public_pem: &Path, message: &[u8], signature_b64: &str) -> bool {
    use base64::Engine as _;
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else {
        return false;
    };
    let n = rand_name();
    let sig_path = dir.join(format!("sig{n}.bin"));
    let msg_path = dir.join(format!("msg{n}.txt"));
    std::fs::write(&sig_path, sig).unwrap();
    std::fs::write(&msg_path, message).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public_pem)
        .arg("-signature")
        .arg(&sig_path)
        .arg(&msg_path)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

/// The platform certificate's public key, extracted with `openssl x509 -pubkey`.
pub fn cert_public_key(dir: &Path) -> PathBuf {
    let out = Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(dir.join("platform_cert.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = dir.join("platform_pub.pem");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

fn rand_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// How to build (or spoil) a signed request.
#[derive(Default, Clone)]
pub struct Tweak {
    /// Added to the current time for the header timestamp.
    pub timestamp_offset: i64,
    /// Sent instead of the signed body (a body tampered after signing).
    pub send_body: Option<Vec<u8>>,
    /// Send no Authorization header.
    pub no_auth: bool,
    pub serial_no: Option<String>,
    /// Content-Type (default application/json).
    pub content_type: Option<String>,
    /// Sent as well, e.g. the sandbox's `X-Sandbox-Signed-String`.
    pub extra_headers: Vec<(String, String)>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} (status {})",
                String::from_utf8_lossy(&self.body),
                self.status
            )
        })
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    }
}

impl Env {
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("merchant_key.pem")
    }

    /// Sends a WeChat Pay request signed with openssl over `signed_body`.
    pub async fn send_to(
        &self,
        base: &str,
        method: &str,
        path_and_query: &str,
        signed_body: &[u8],
        full_body: Option<Vec<u8>>,
        tweak: Tweak,
    ) -> reqwest::Result<Reply> {
        let creds = self.sandbox.credentials();
        let timestamp = (unix_now() + tweak.timestamp_offset).to_string();
        let nonce = "593BEC0C930BF1AFEB40B4A08C8FB242".to_owned();
        let mut message =
            format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n").into_bytes();
        message.extend_from_slice(signed_body);
        message.push(b'\n');
        let signature = openssl_sign(&self.key_path(), &message);
        let serial = tweak
            .serial_no
            .clone()
            .unwrap_or_else(|| creds.merchant_serial_no.clone());
        let auth = format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serial}\"",
            creds.mchid
        );
        let body = tweak
            .send_body
            .clone()
            .or(full_body)
            .unwrap_or_else(|| signed_body.to_vec());
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{base}{path_and_query}"))
            .header("Accept", "application/json")
            .header(
                "Content-Type",
                tweak
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".into()),
            )
            .body(body);
        if !tweak.no_auth {
            req = req.header("Authorization", auth);
        }
        for (name, value) in &tweak.extra_headers {
            req = req.header(name.as_str(), value.as_str());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn send(&self, method: &str, path: &str, body: &str) -> Reply {
        self.send_to(
            &self.sandbox.base_url(),
            method,
            path,
            body.as_bytes(),
            None,
            Tweak::default(),
        )
        .await
        .unwrap()
    }

    pub async fn send_tweaked(&self, method: &str, path: &str, body: &str, tweak: Tweak) -> Reply {
        self.send_to(
            &self.sandbox.base_url(),
            method,
            path,
            body.as_bytes(),
            None,
            tweak,
        )
        .await
        .unwrap()
    }

    /// Verifies a response's Wechatpay-* signature with openssl, choosing the key by serial.
    pub fn verify_response(&self, reply: &Reply) -> bool {
        let creds = self.sandbox.credentials();
        let serial = reply.header("Wechatpay-Serial");
        let public = if serial == creds.wechatpay_public_key_id {
            self.dir.path().join("wechatpay_pub.pem")
        } else if serial == creds.platform_serial_no {
            cert_public_key(self.dir.path())
        } else {
            return false;
        };
        let mut message = format!(
            "{}\n{}\n",
            reply.header("Wechatpay-Timestamp"),
            reply.header("Wechatpay-Nonce")
        )
        .into_bytes();
        message.extend_from_slice(&reply.body);
        message.push(b'\n');
        openssl_verify(
            self.dir.path(),
            &public,
            &message,
            &reply.header("Wechatpay-Signature"),
        )
    }

    pub async fn control(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let resp = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.sandbox.base_url()),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let value: serde_json::Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }
}
