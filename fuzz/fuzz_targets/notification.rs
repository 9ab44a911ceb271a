#![no_main]
//! Notifications: size cap, signature, envelope, AEAD_AES_256_GCM decryption, typed payload.
//! The body is `weixin_kit::fuzzing::notification`, which `cargo test` replays on the corpus.

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use weixin_kit::fuzzing::{self, Fixture};

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    Fixture::from_vectors(
        include_str!("../../spec/vectors/keys.json"),
        include_str!("../../spec/vectors/notification.json"),
    )
});

fuzz_target!(|data: &[u8]| fuzzing::notification(&FIXTURE, data));
