#![no_main]
//! A signed `/v3/certificates` listing, as the certificate manager reads a download.
//! The body is `weixin_kit::fuzzing::certificate_listing`, which `cargo test` replays on the corpus.

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use weixin_kit::fuzzing::{self, Fixture};

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    Fixture::from_vectors(
        include_str!("../../spec/vectors/keys.json"),
        include_str!("../../spec/vectors/notification.json"),
    )
});

fuzz_target!(|data: &[u8]| fuzzing::certificate_listing(&FIXTURE, data));
