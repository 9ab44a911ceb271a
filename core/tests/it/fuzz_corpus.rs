//! Replays the fuzz targets' committed inputs on stable `cargo test`: every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the function the
//! target runs (`weixin_kit::fuzzing`), so a crash the fuzzer once found stays fixed without a
//! nightly build. `cargo xtask fuzz` runs the targets themselves.

use std::path::Path;
use std::sync::OnceLock;

use weixin_kit::fuzzing::{self, ComponentFixture, Fixture};

use crate::common::repo_file;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let read = |name: &str| std::fs::read_to_string(repo_file(name)).unwrap();
        Fixture::from_vectors(
            &read("spec/vectors/keys.json"),
            &read("spec/vectors/notification.json"),
        )
    })
}

fn component_fixture() -> &'static ComponentFixture {
    static F: OnceLock<ComponentFixture> = OnceLock::new();
    F.get_or_init(|| {
        ComponentFixture::from_vectors(
            &std::fs::read_to_string(repo_file("spec/vectors/msg_crypt.json")).unwrap(),
        )
    })
}

/// Every input of `target` (corpus and regressions), each run through `run`; a panic names the
/// file. Returns how many were replayed.
fn replay(target: &str, run: impl Fn(&[u8])) -> usize {
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let dir = repo_file(&format!("fuzz/{dir}/{target}"));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
            if outcome.is_err() {
                panic!("fuzz input {} panics", shown(&path));
            }
            count += 1;
        }
    }
    count
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo_file(""))
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn response_signature_inputs() {
    assert!(
        replay("response_signature", |d| fuzzing::response_signature(
            fixture(),
            d
        )) > 0
    );
}

#[test]
fn notification_inputs() {
    assert!(replay("notification", |d| fuzzing::notification(fixture(), d)) > 0);
}

#[test]
fn pem_inputs() {
    assert!(replay("pem", fuzzing::pem) > 0);
}

#[test]
fn certificate_listing_inputs() {
    assert!(
        replay("certificate_listing", |d| fuzzing::certificate_listing(
            fixture(),
            d
        )) > 0
    );
}

#[test]
fn mp_error_body_inputs() {
    assert!(replay("mp_error_body", fuzzing::mp_error_body) > 0);
}

#[test]
fn component_push_inputs() {
    assert!(
        replay("component_push", |d| fuzzing::component_push(
            component_fixture(),
            d
        )) > 0
    );
}

#[test]
fn json_args_inputs() {
    assert!(replay("json_args", fuzzing::json_args) > 0);
}

/// Files of `fuzz/corpus/<target>/`.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    std::fs::read_dir(repo_file(&format!("fuzz/corpus/{target}")))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

/// The corpus is real: signed vectors in it verify and decrypt through the fuzz functions'
/// entry points, so the fuzzer starts past the signature check.
#[test]
fn the_corpus_gets_past_the_signature_check() {
    let f = fixture();
    let notifications = corpus("notification")
        .iter()
        .filter(|data| {
            let (headers, now, body) = fuzzing::message(data);
            weixin_kit::pay::notification::parse(&f.verifier, &f.apiv3_key, &headers, body, now)
                .is_ok()
        })
        .count();
    assert!(notifications > 0, "no notification of the corpus verifies");
    let listings = corpus("certificate_listing")
        .iter()
        .filter(|data| {
            let (headers, now, body) = fuzzing::message(data);
            weixin_kit::pay::certificates::read_listing(
                &f.public_key_only,
                &f.apiv3_key,
                &headers,
                body,
                now,
            )
            .is_ok_and(|certs| certs.len() == 1)
        })
        .count();
    assert!(
        listings > 0,
        "no certificate listing of the corpus verifies"
    );
    let pushes = corpus("component_push")
        .iter()
        .filter(|data| {
            let text = String::from_utf8_lossy(data);
            let (query, body) = text.split_once('\n').unwrap_or((&text, ""));
            weixin_kit::component::push::PushQuery::parse(query)
                .and_then(|q| {
                    weixin_kit::component::push::parse_push(
                        &component_fixture().crypts[0],
                        &q,
                        body.as_bytes(),
                    )
                })
                .is_ok()
        })
        .count();
    assert!(pushes > 0, "no push of the corpus decrypts");
}
