//! weixin-kit's integration tests: one test binary (`it`), linked once, one module per area.
//!
//! `cargo test -p weixin-kit --test it` runs them all; a module alone with a filter, e.g.
//! `cargo test -p weixin-kit --test it -- pay_client::`.

mod common;

mod bad_input;
mod bridge;
mod certificate_listing;
mod component_client;
mod component_crypto;
mod crypto_vectors;
mod dispatch;
mod fuzz_corpus;
mod generated_operations;
mod insecure_http;
mod mp_card;
mod mp_client;
mod mp_ext_json;
mod mp_refuses_component;
mod mp_token;
mod mp_token_chaos;
mod mp_token_store;
mod notification;
mod notification_limits;
mod pay_client;
mod replay;
mod retries;
mod sign_diagnosis;
mod soak;
mod tracing;
