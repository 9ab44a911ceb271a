//! WeChat Pay APIv3: the generated operations plus the client, signing and notifications.
pub use crate::generated::pay::*; // types, operations, Operations trait, MAIN_HOST, BACKUP_HOST

mod builder;
pub mod certificates;
mod client;
pub mod diagnosis;
pub mod errors;
pub mod notification;
pub mod signer;
pub mod signing;
pub use builder::PayClientBuilder;
pub use client::{PayClient, RetryPolicy};
pub use diagnosis::{SignCause, SignDiagnosis, SignPart};
pub use notification::{Notification, NotificationEvent};
pub use signer::Signer;
