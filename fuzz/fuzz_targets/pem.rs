#![no_main]
//! PEM and X.509: private keys, public keys, certificates (both crypto backends).
//! The body is `weixin_kit::fuzzing::pem`, which `cargo test` replays on the corpus.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weixin_kit::fuzzing::pem(data));
