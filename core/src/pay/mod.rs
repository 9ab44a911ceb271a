//! WeChat Pay APIv3: the generated operations plus the client, signing and notifications.
pub use crate::generated::pay::*; // types, operations, Operations trait, MAIN_HOST, BACKUP_HOST

pub mod certificates;
mod client;
pub mod errors;
pub mod notification;
pub mod signer;
pub mod signing;
pub use client::{PayClient, PayClientBuilder, RetryPolicy};
pub use notification::{Notification, NotificationEvent};
pub use signer::Signer;
