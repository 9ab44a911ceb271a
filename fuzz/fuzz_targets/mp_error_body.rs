#![no_main]
//! The mini-program error body (`{"errcode","errmsg"}`).
//! The body is `weixin_kit::fuzzing::mp_error_body`, which `cargo test` replays on the corpus.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weixin_kit::fuzzing::mp_error_body(data));
