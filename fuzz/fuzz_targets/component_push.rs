#![no_main]
//! Open-platform pushes: query, size cap, XML envelope, msg_signature, AES-256-CBC with 32-byte
//! PKCS#7 padding, the trailing appid, the inner XML and its typed event, on both crypto backends.
//! The body is `weixin_kit::fuzzing::component_push`, which `cargo test` replays on the corpus.

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use weixin_kit::fuzzing::{self, ComponentFixture};

static FIXTURE: LazyLock<ComponentFixture> = LazyLock::new(|| {
    ComponentFixture::from_vectors(include_str!("../../spec/vectors/msg_crypt.json"))
});

fuzz_target!(|data: &[u8]| fuzzing::component_push(&FIXTURE, data));
