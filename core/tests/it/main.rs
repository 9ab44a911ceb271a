//! weixin-kit's integration tests: one test binary (`it`), linked once, one module per area.
//!
//! `cargo test -p weixin-kit --test it` runs them all; a module alone with a filter, e.g.
//! `cargo test -p weixin-kit --test it -- pay_client::`.

mod common;

mod bridge;
mod crypto_vectors;
mod dispatch;
mod generated_operations;
mod mp_card;
mod mp_client;
mod mp_ext_json;
mod mp_token;
mod notification;
mod pay_client;
mod retries;
mod soak;
