//! `weixin-kit sandbox`: starts the local sandbox (`weixin_kit_sandbox::Sandbox`), writes its
//! secrets to files (mode 0600) next to a config file with a ready profile, prints one JSON line
//! — URLs, the non-secret credentials, the secret files' paths, the config file and profile — and
//! serves until Ctrl-C / SIGTERM. The secrets themselves are never printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};
use weixin_kit::bridge::ErrorDescription;
use weixin_kit::Error;
use weixin_kit_sandbox::{Sandbox, SandboxConfig, SigningMode};

use crate::Outcome;

/// `weixin-kit sandbox`
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Main listener port (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Backup listener port (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub backup_port: u16,
    /// How the sandbox signs: public_key, certificate or migration.
    #[arg(long, default_value = "public_key")]
    pub signing_mode: String,
    /// Where to write the credentials and config.toml (default: a new temporary directory,
    /// removed when the sandbox stops).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The profile name written to config.toml.
    #[arg(long, default_value = "sandbox")]
    pub profile_name: String,
}

fn io_error(path: &Path, e: std::io::Error) -> ErrorDescription {
    Error::validation("--dir", format!("cannot write {}: {e}", path.display())).into()
}

/// Writes `text` to `dir/name`, readable by the owner only.
fn write_file(dir: &Path, name: &str, text: &str) -> Result<PathBuf, ErrorDescription> {
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| io_error(&path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| io_error(&path, e))?;
    Ok(path)
}

/// A TOML string literal (JSON's escaping is valid TOML for these values).
fn toml_str(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

pub fn run(args: SandboxArgs, stdout: &mut dyn Write) -> Outcome {
    let signing_mode = match args.signing_mode.as_str() {
        "public_key" => SigningMode::PublicKey,
        "certificate" => SigningMode::Certificate,
        "migration" => SigningMode::Migration,
        _ => {
            return Err(Error::validation(
                "--signing-mode",
                "must be public_key, certificate or migration",
            )
            .into())
        }
    };
    let (dir, temporary) = match args.dir {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("weixin-kit-sandbox-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let runtime = crate::runtime()?;
    let result = runtime.block_on(async {
        let config = SandboxConfig {
            port: args.port,
            backup_port: args.backup_port,
            signing_mode,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| ErrorDescription::from(Error::from(e)))?;
        let line = describe(&sandbox, &dir, &args.profile_name)?;
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
        wait_for_signal().await;
        sandbox.shutdown().await;
        Ok(Value::Null)
    });
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Writes the files and returns the line to print.
fn describe(sandbox: &Sandbox, dir: &Path, profile: &str) -> Result<Value, ErrorDescription> {
    let c = sandbox.credentials();
    let private_key = write_file(
        dir,
        "apiclient_key.pem",
        c.merchant_private_key_pem.expose(),
    )?;
    let public_key = write_file(dir, "pub_key.pem", &c.wechatpay_public_key_pem)?;
    let certificate = write_file(dir, "platform_cert.pem", &c.platform_certificate_pem)?;
    let apiv3_key = write_file(dir, "apiv3_key", c.apiv3_key.expose())?;
    let secret = write_file(dir, "app_secret", c.app_secret.expose())?;
    let card_secret = write_file(dir, "card_app_secret", c.card_app_secret.expose())?;
    let base_url = sandbox.base_url();
    let backup_base_url = sandbox.backup_base_url();
    let pairs = [
        ("mchid", toml_str(&c.mchid)),
        ("serial_no", toml_str(&c.merchant_serial_no)),
        ("private_key_file", toml_str("apiclient_key.pem")),
        (
            "wechatpay_public_key_id",
            toml_str(&c.wechatpay_public_key_id),
        ),
        ("wechatpay_public_key_file", toml_str("pub_key.pem")),
        ("apiv3_key_file", toml_str("apiv3_key")),
        ("base_url", toml_str(&base_url)),
        ("backup_base_url", toml_str(&backup_base_url)),
        ("appid", toml_str(&c.appid)),
        ("secret_file", toml_str("app_secret")),
        ("card_appid", toml_str(&c.card_appid)),
        ("card_secret_file", toml_str("card_app_secret")),
    ];
    let mut toml = format!(
        "# Written by `weixin-kit sandbox`: a local sandbox, not WeChat.\n[profile.{profile}]\n"
    );
    for (key, value) in pairs {
        toml.push_str(&format!("{key} = {value}\n"));
    }
    let config_file = write_file(dir, "config.toml", &toml)?;
    let path = |p: &Path| p.display().to_string();
    Ok(json!({
        "base_url": base_url,
        "backup_base_url": backup_base_url,
        "config_file": path(&config_file),
        "profile": profile,
        "credentials": {
            "mchid": c.mchid,
            "serial_no": c.merchant_serial_no,
            "wechatpay_public_key_id": c.wechatpay_public_key_id,
            "platform_serial_no": c.platform_serial_no,
            "appid": c.appid,
            "card_appid": c.card_appid,
            "private_key_file": path(&private_key),
            "wechatpay_public_key_file": path(&public_key),
            "platform_certificate_file": path(&certificate),
            "apiv3_key_file": path(&apiv3_key),
            "secret_file": path(&secret),
            "card_secret_file": path(&card_secret),
        },
    }))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
