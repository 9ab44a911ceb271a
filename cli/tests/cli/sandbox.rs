//! `weixin-kit sandbox` in the background, then `call`, `certificates`, `sign` and the config
//! sources against it, as a user would from a shell.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use serde_json::{json, Value};

use crate::support::{command, openssl_sign, output, run, Run};

/// The `weixin-kit sandbox` process; killed when dropped.
struct Sandbox {
    child: Child,
    line: Value,
    _dir: tempfile::TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    fn start() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let mut child = command(&["sandbox", "--dir", dir.path().to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start weixin-kit sandbox");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the sandbox's line");
        let line = serde_json::from_str(&line).expect("one line of JSON");
        Sandbox {
            child,
            line,
            _dir: dir,
        }
    }

    fn config(&self) -> &str {
        self.line["config_file"].as_str().unwrap()
    }

    fn credential(&self, name: &str) -> &str {
        self.line["credentials"][name].as_str().unwrap()
    }

    /// The same command with the sandbox's config file and profile.
    fn run(&self, args: &[&str]) -> Run {
        output(&mut command(
            &[&["--config", self.config(), "--profile", "sandbox"], args].concat(),
        ))
    }

    /// One request to the sandbox's control API (plain HTTP/1.1, no client library).
    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let base = self.line["base_url"].as_str().unwrap();
        let host = base.strip_prefix("http://").unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(host).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{response}"))
    }

    /// Every secret the sandbox wrote, which no output may contain.
    fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for name in ["apiv3_key_file", "secret_file", "card_secret_file"] {
            out.push(std::fs::read_to_string(self.credential(name)).unwrap());
        }
        let key = std::fs::read_to_string(self.credential("private_key_file")).unwrap();
        // Each base64 line of the private key.
        out.extend(
            key.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
        out
    }
}

fn assert_no_secret(sandbox: &Sandbox, outputs: &[&Run]) {
    let secrets = sandbox.secrets();
    assert!(secrets.len() > 10);
    for out in outputs {
        for secret in &secrets {
            assert!(
                !out.stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()),
                "a secret was printed: {}{}",
                out.stdout,
                out.stderr
            );
        }
    }
}

#[test]
fn a_session_against_the_sandbox() {
    let sb = Sandbox::start();
    assert!(sb.line["base_url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    // The line names the secrets' files, never the secrets.
    assert!(sb.line["credentials"].get("apiv3_key").is_none());
    sb.control(
        "POST",
        "/sandbox/stocks",
        Some(json!({"stock_name": "满100减10", "stock_id": "1212121212"})),
    );

    // call: a signed, verified ModifyStockInfo the sandbox applied.
    let modify = sb.run(&[
        "call",
        "ModifyStockInfo",
        "stock_id=1212121212",
        "out_request_no=1900000109202411260001",
        "comment=活动使用",
    ]);
    assert_eq!(modify.ok(), json!({}));
    let stock = sb.control("GET", "/sandbox/stocks/1212121212", None);
    assert_eq!(
        stock["applied_out_request_nos"],
        json!(["1900000109202411260001"])
    );
    assert_eq!(stock["comment"], "活动使用");

    // WeChat Pay's refusal: ApiError on stderr, exit 6.
    let missing = sb.run(&[
        "call",
        "ModifyStockInfo",
        "stock_id=404404404",
        "out_request_no=n2",
        "comment=x",
    ]);
    assert_eq!(missing.code, 6, "{}", missing.stderr);
    let error = missing.error();
    assert_eq!(error["kind"], "ApiError");
    assert_eq!(error["status"], 404);
    assert_eq!(error["code"], "RESOURCE_NOT_EXISTS");
    assert!(missing.stdout.is_empty());

    // Mini-program: an answer with a ticket prints it redacted.
    let ticket = sb.run(&["call", "getTicket", "type=wx_card"]);
    let answer = ticket.ok();
    assert_eq!(answer["errcode"], 0);
    assert!(answer["ticket"].as_str().unwrap().starts_with("<redacted"));
    let token = sb.run(&["call", "accessToken"]);
    assert!(token.ok()["access_token"]
        .as_str()
        .unwrap()
        .starts_with("<redacted"));

    // Bad input before anything is sent: exit 4 naming the field.
    let unknown = sb.run(&["call", "NoSuchOperation"]);
    assert_eq!(unknown.code, 4);
    assert_eq!(unknown.error()["field"], "operation");
    let bad = sb.run(&["call", "ModifyStockInfo", "stock_id:=not json"]);
    assert_eq!(bad.code, 4);
    assert_eq!(bad.error()["field"], "stock_id");

    // certificates: downloaded, verified and decrypted = the sandbox's certificate.
    let certificates = sb.run(&["certificates"]);
    let list = certificates.ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["serial_no"], sb.credential("platform_serial_no"));
    let pem = std::fs::read_to_string(sb.credential("platform_certificate_file")).unwrap();
    assert_eq!(list[0]["certificate_pem"], pem);

    // --show-config: where each key came from, secrets redacted.
    let shown = sb.run(&[
        "--show-config",
        "--mchid",
        "1900000002",
        "sign",
        "--method",
        "GET",
        "--url",
        "/v3/certificates",
    ]);
    let config: Value = serde_json::from_str(&shown.stderr).unwrap();
    assert_eq!(
        config["keys"]["mchid"],
        json!({"value": "1900000002", "from": "flag"})
    );
    assert_eq!(config["keys"]["serial_no"]["from"], "config file");
    assert!(config["keys"]["private_key"]["value"]
        .as_str()
        .unwrap()
        .starts_with("<redacted"));
    assert!(config["keys"]["apiv3_key"]["value"]
        .as_str()
        .unwrap()
        .starts_with("<redacted"));

    assert_no_secret(
        &sb,
        &[&modify, &missing, &ticket, &token, &certificates, &shown],
    );
}

/// `sign` with the sandbox's key: openssl over the printed signing string gives the printed
/// signature, and the sandbox accepts that Authorization header on the wire.
#[test]
fn sign_matches_openssl_and_the_sandbox_accepts_it() {
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let out = sb.run(&["sign", "--method", "GET", "--url", "/v3/certificates"]);
    let printed = out.ok();
    let signing_string = printed["signing_string"].as_str().unwrap();
    let lines: Vec<&str> = signing_string.split('\n').collect();
    assert_eq!(&lines[..2], ["GET", "/v3/certificates"]);
    assert_eq!(
        lines.len(),
        6,
        "METHOD, URL, TIMESTAMP, NONCE, empty body, end"
    );
    let signature = openssl_sign(
        sb.credential("private_key_file"),
        signing_string.as_bytes(),
        dir.path(),
    );
    let authorization = printed["authorization"].as_str().unwrap();
    assert!(authorization.ends_with(&format!("signature=\"{signature}\"")));
    assert!(authorization.contains(&format!("mchid=\"{}\"", sb.credential("mchid"))));

    // The header sent by hand: the sandbox answers 200 with a listing.
    let base = sb.line["base_url"].as_str().unwrap();
    let host = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /v3/certificates HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\
         Accept: application/json\r\nUser-Agent: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_no_secret(&sb, &[&out]);
}

/// Precedence: flags over environment over the config file; a profile that is not there is a
/// ConfigError (exit 3).
#[test]
fn flags_override_the_environment_which_overrides_the_file() {
    let sb = Sandbox::start();
    let show = |cmd: &mut std::process::Command| -> Value {
        let out = output(cmd);
        serde_json::from_str(&out.stderr).unwrap_or_else(|_| panic!("{}", out.stderr))
    };
    let args = [
        "--config",
        sb.config(),
        "--profile",
        "sandbox",
        "--show-config",
        "sign",
        "--method",
        "GET",
        "--url",
        "/v3/x",
    ];
    let file = show(&mut command(&args));
    assert_eq!(file["keys"]["mchid"]["value"], sb.credential("mchid"));
    let env = show(command(&args).env("WEIXIN_KIT_MCHID", "1900000003"));
    assert_eq!(
        env["keys"]["mchid"],
        json!({"value": "1900000003", "from": "env"})
    );
    let flag = show(
        command(&[&args[..], &["--mchid", "1900000004"]].concat())
            .env("WEIXIN_KIT_MCHID", "1900000003"),
    );
    assert_eq!(
        flag["keys"]["mchid"],
        json!({"value": "1900000004", "from": "flag"})
    );

    let none = output(&mut command(&[
        "--config",
        sb.config(),
        "--profile",
        "prod",
        "operations",
        "--help",
    ]));
    assert_eq!(none.code, 0);
    let none = run(&["--config", sb.config(), "--profile", "prod", "certificates"]);
    assert_eq!(none.code, 3, "{}", none.stderr);
    assert!(none.error()["text"]
        .as_str()
        .unwrap()
        .contains("profile.prod"));
}
