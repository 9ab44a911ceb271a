//! The sandbox's integration tests: one test binary (`it`), linked once, one module per area.
//!
//! `cargo test -p weixin-kit-sandbox --test it` runs them all; a module alone with a filter,
//! e.g. `cargo test -p weixin-kit-sandbox --test it -- pay_api::`.

mod after_apply;
mod common;
mod component;
mod mp;
mod notify_faults;
mod pay_api;
mod ui;
mod wechat_fidelity;
