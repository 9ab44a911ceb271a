#![no_main]
//! `JsonArgs` conversion into every operation's validated request.
//! The body is `weixin_kit::fuzzing::json_args`, which `cargo test` replays on the corpus.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weixin_kit::fuzzing::json_args(data));
