//! Stand-alone sandbox: prints one line of JSON
//! `{"base_url","backup_base_url","credentials":{…}}` to stdout, then serves until killed.
//!
//! Options: `--port N` (main listener), `--backup-port N`, `--host IP`,
//! `--signing-mode public_key|certificate|migration`.

use std::io::Write as _;

use weixin_kit_sandbox::{Sandbox, SandboxConfig, SigningMode};

fn usage() -> ! {
    eprintln!(
        "usage: weixin-kit-sandbox [--port N] [--backup-port N] [--host IP] \
         [--signing-mode public_key|certificate|migration]"
    );
    std::process::exit(2)
}

fn parse_args() -> SandboxConfig {
    let mut config = SandboxConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => config.port = value().parse().unwrap_or_else(|_| usage()),
            "--backup-port" => config.backup_port = value().parse().unwrap_or_else(|_| usage()),
            "--host" => config.host = value().parse().unwrap_or_else(|_| usage()),
            "--signing-mode" => {
                config.signing_mode = match value().as_str() {
                    "public_key" => SigningMode::PublicKey,
                    "certificate" => SigningMode::Certificate,
                    "migration" => SigningMode::Migration,
                    _ => usage(),
                }
            }
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    config
}

#[tokio::main]
async fn main() {
    let config = parse_args();
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("weixin-kit-sandbox: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let line = serde_json::json!({
        "base_url": sandbox.base_url(),
        "backup_base_url": sandbox.backup_base_url(),
        "credentials": sandbox.credentials(),
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    let _ = tokio::signal::ctrl_c().await;
    sandbox.shutdown().await;
}
