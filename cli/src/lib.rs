//! The `weixin-kit` command line as a library: [`run`] is the whole CLI, called by the
//! `weixin-kit` binary and by the Python package (`python -m weixin_kit`, through
//! `weixin_kit._native.cli_main`), so both are the same code.
//!
//! Every command goes through the core's bridge (`weixin_kit::bridge`): `call` and
//! `certificates` through `Client::call`, `sign`/`verify`/`decrypt`/`card-ext` through
//! `bridge::crypto`. Output is JSON on stdout; a failure is the bridge's `ErrorDescription` as
//! JSON on stderr and an exit code per error kind ([`exit`]).

// Results carry the bridge's ErrorDescription (a few hundred bytes): at most one error per
// process, never on a hot path, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::Value;
use weixin_kit::bridge::ErrorDescription;

mod call;
mod config;
mod crypto;
pub mod exit;
#[cfg(feature = "sandbox")]
mod sandbox;

pub use config::{env_name, Sources};

/// weixin-kit: WeChat Pay APIv3 and mini-program server APIs from the command line.
///
/// Credentials come from flags, environment variables (WEIXIN_KIT_<KEY>, or
/// WEIXIN_KIT_<KEY>_FILE naming a file) or a TOML config file ([profile.NAME] tables with the
/// client configuration keys: mchid, serial_no, private_key_file, apiv3_key_file, …), in that
/// order of precedence. Secrets are read from files or the environment only and never printed.
/// Output is JSON on stdout; errors are JSON on stderr with an exit code per error kind (see
/// `weixin-kit exit-codes`).
#[derive(Parser, Debug)]
#[command(name = "weixin-kit", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the configuration comes from, and its non-secret values.
#[derive(Args, Debug, Default)]
pub struct Global {
    /// Config file (default: $XDG_CONFIG_HOME/weixin-kit/config.toml or
    /// ~/.config/weixin-kit/config.toml; env WEIXIN_KIT_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The [profile.NAME] of the config file (default: `default`; env WEIXIN_KIT_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print the configuration in effect (secrets redacted) to stderr before running.
    #[arg(long, global = true)]
    pub show_config: bool,
    /// Merchant id (商户号); key `mchid`.
    #[arg(long, global = true)]
    pub mchid: Option<String>,
    /// Merchant API certificate serial (商户API证书序列号); key `serial_no`.
    #[arg(long, global = true)]
    pub serial_no: Option<String>,
    /// File with the merchant private key PEM (apiclient_key.pem); key `private_key`.
    #[arg(long, global = true, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// WeChat Pay public key id (PUB_KEY_ID_…); key `wechatpay_public_key_id`.
    #[arg(long, global = true)]
    pub wechatpay_public_key_id: Option<String>,
    /// File with the WeChat Pay public key PEM (pub_key.pem); key `wechatpay_public_key`.
    #[arg(long, global = true, value_name = "FILE")]
    pub wechatpay_public_key_file: Option<PathBuf>,
    /// File with a platform certificate PEM; key `platform_certificates`.
    #[arg(long, global = true, value_name = "FILE")]
    pub platform_certificate_file: Option<PathBuf>,
    /// File with the 32-byte APIv3 key; key `apiv3_key`.
    #[arg(long, global = true, value_name = "FILE")]
    pub apiv3_key_file: Option<PathBuf>,
    /// Mini-program AppID; key `appid`.
    #[arg(long, global = true)]
    pub appid: Option<String>,
    /// File with the mini-program AppSecret; key `secret`.
    #[arg(long, global = true, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Main host (default: WeChat's); key `base_url`.
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// Failover host of WeChat Pay; key `backup_base_url`.
    #[arg(long, global = true, value_name = "URL")]
    pub backup_base_url: Option<String>,
    /// Seconds for one whole call; key `deadline`.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub deadline: Option<f64>,
    /// Requests sent in total, retries included; key `max_attempts`.
    #[arg(long, global = true, value_name = "N")]
    pub max_attempts: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the signing string and the Authorization header of a WeChat Pay request.
    Sign(crypto::SignArgs),
    /// Verify a WeChat Pay response's or notification's signature (headers + body files).
    Verify(crypto::VerifyArgs),
    /// Decrypt a notification resource (AEAD_AES_256_GCM with the APIv3 key).
    Decrypt(crypto::DecryptArgs),
    /// Sign a cardExt (卡券签名) with a wx_card api_ticket.
    CardExt(crypto::CardExtArgs),
    /// Call any operation by its official name (ModifyStockInfo, setUserNotifyExt, …): signed,
    /// verified, JSON output.
    Call(call::CallArgs),
    /// Download the platform certificates (/v3/certificates), verify and decrypt them.
    Certificates(call::CertificatesArgs),
    /// List the operations `call` knows, with their family.
    Operations,
    /// Start the local sandbox; print its URLs, credentials (secret files) and a config profile.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::SandboxArgs),
    /// Print the exit-code table (exit code per error kind).
    ExitCodes,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// What a command produces: JSON for stdout, or an error.
pub type Outcome = Result<Value, ErrorDescription>;

/// The whole CLI: parses `args` (without the program name), runs the command, writes JSON to
/// `stdout` / errors to `stderr`, and returns the exit code ([`exit`]).
pub fn run(args: Vec<String>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let argv = std::iter::once("weixin-kit".to_owned()).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are successes on stdout; usage errors exit 2.
            let text = e.render().to_string();
            let code = e.exit_code();
            let _ = if code == 0 {
                write!(stdout, "{text}")
            } else {
                write!(stderr, "{text}")
            };
            return if code == 0 { 0 } else { exit::USAGE };
        }
    };
    let outcome = dispatch(cli, stdout, stderr);
    match outcome {
        Ok(Value::Null) => exit::OK,
        Ok(value) => {
            let _ = writeln!(stdout, "{}", pretty(&value));
            let _ = stdout.flush();
            exit::OK
        }
        Err(error) => {
            let _ = writeln!(stderr, "{}", pretty(&serde_json::json!(error)));
            exit::code(error.kind)
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn dispatch(cli: Cli, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Outcome {
    match cli.command {
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "weixin-kit", stdout);
            return Ok(Value::Null);
        }
        Command::ExitCodes => return Ok(exit::table()),
        Command::Operations => return Ok(call::operations()),
        _ => {}
    }
    let sources = load(&cli.global)?;
    if cli.global.show_config {
        let _ = writeln!(stderr, "{}", pretty(&sources.show()));
    }
    match cli.command {
        Command::Sign(args) => crypto::sign(&sources, args),
        Command::Verify(args) => crypto::verify(&sources, args),
        Command::Decrypt(args) => crypto::decrypt(&sources, args),
        Command::CardExt(args) => crypto::card_ext(&sources, args),
        Command::Call(args) => call::call(&sources, args),
        Command::Certificates(args) => call::certificates(&sources, args),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => sandbox::run(args, stdout),
        Command::Completions { .. } | Command::ExitCodes | Command::Operations => {
            unreachable!("handled above")
        }
    }
}

fn load(global: &Global) -> Result<Sources, ErrorDescription> {
    let mut flags = config::Flags::default();
    let mut value = |key, v: Option<Value>| {
        if let Some(v) = v {
            flags.values.push((key, v));
        }
    };
    value("mchid", global.mchid.clone().map(Value::String));
    value("serial_no", global.serial_no.clone().map(Value::String));
    value(
        "wechatpay_public_key_id",
        global.wechatpay_public_key_id.clone().map(Value::String),
    );
    value("appid", global.appid.clone().map(Value::String));
    value("base_url", global.base_url.clone().map(Value::String));
    value(
        "backup_base_url",
        global.backup_base_url.clone().map(Value::String),
    );
    value(
        "deadline",
        global
            .deadline
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
    );
    value("max_attempts", global.max_attempts.map(Value::from));
    for (key, path) in [
        ("private_key", &global.private_key_file),
        ("wechatpay_public_key", &global.wechatpay_public_key_file),
        ("platform_certificates", &global.platform_certificate_file),
        ("apiv3_key", &global.apiv3_key_file),
        ("secret", &global.secret_file),
    ] {
        if let Some(path) = path {
            flags.files.push((key, path.clone()));
        }
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Sources::load(flags, global.config.clone(), global.profile.clone(), &env)
        .map_err(ErrorDescription::from)
}

/// A tokio runtime for one command (the client's certificate refresher and HTTP run on it).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ErrorDescription> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ErrorDescription::internal(format!("cannot start the async runtime: {e}")))
}

/// A file the user named as input (`--body-file`): its bytes, or a `ValidationError` naming
/// the flag.
pub(crate) fn read_input(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, ErrorDescription> {
    std::fs::read(path).map_err(|e| {
        weixin_kit::Error::validation(flag, format!("cannot read {}: {e}", path.display())).into()
    })
}
