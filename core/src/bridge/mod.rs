//! The binding-neutral layer every language binding stands on, so that a binding (Python,
//! Node, Kotlin) is an adapter of a few hundred lines with nothing per operation in it:
//!
//! - [`config`]: each client's configuration from one serde structure ([`PayConfig`],
//!   [`MiniProgramConfig`], [`ComponentConfig`]) with the same keys in every language, errors
//!   naming the key;
//! - [`client`]: one [`Client`] whose `call(name, args)` reaches every spec operation, local
//!   operation (cardExt) and client-level action ([`ACTIONS`]: the escape hatch, notifications,
//!   tokens, certificate serials) by name, with wire-named JSON arguments;
//! - [`errors`]: every error as one serializable [`ErrorDescription`] (kind + fields) and the
//!   table of kinds ([`ERROR_KINDS`]) each binding maps to its classes;
//! - [`callbacks`]: functions of the host language — a token provider and a signer — designed
//!   once ([`HostFunction`]) and adapted to the core's traits;
//! - [`crypto`]: the crypto functions every binding exports, with plain arguments;
//! - [`logging`]: the library's `tracing` events as [`LogRecord`]s for a binding's logger;
//! - [`bench`]: the crypto floor the bindings' benchmarks compare client CPU with.
//!
//! The sandbox's part (start, stop, one generic control call) is in the `weixin-kit-sandbox`
//! crate (`Sandbox::control`), which depends on this one; bindings that ship it enable their
//! `sandbox` feature.

pub mod bench;
pub mod callbacks;
pub mod client;
pub mod config;
pub mod crypto;
pub mod errors;
pub mod logging;

pub use callbacks::{Callbacks, HostFunction, HostSigner, HostTokenProvider};
pub use client::{callable, Action, Argument, ArgumentKind, Client, Family, ACTIONS};
pub use config::{ComponentConfig, MiniProgramConfig, PayConfig, DEFAULT_CALLBACK_TIMEOUT};
pub use errors::{ErrorDescription, ErrorKind, KindInfo, ERROR_KINDS};
pub use logging::{LogLevel, LogRecord, LogSink};
