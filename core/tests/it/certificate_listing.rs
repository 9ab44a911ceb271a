//! Certificate listings (`GET /v3/certificates`) as the client's certificate manager reads
//! them: the signature is checked before anything is decrypted, an empty or all-expired listing
//! never replaces the known certificates, expired entries are left out, and an expired cached
//! serial is downloaded again. Against the misbehaving peer (the sandbox only serves good
//! listings); the long and empty listings are rows of `bad_input`.

use weixin_kit::pay::PayClient;

use crate::common::pay_peer::{self as peer, Answer, Peer};
use crate::common::{fast_retry, identity, pay_builder, pay_builder_with_public_key, sandbox};

/// Public-key mode plus the APIv3 key: listings signed with the public key verify directly.
async fn public_key_client(peer: &Peer) -> PayClient {
    let sb = sandbox().await;
    pay_builder_with_public_key(&sb)
        .apiv3_key(sb.credentials().apiv3_key.expose())
        .unwrap()
        .base_url(peer.base_url.clone())
        .no_backup()
        .retry(fast_retry())
        .build()
        .unwrap()
}

/// A listing of `pems` (serial, PEM), signed with the WeChat Pay public key now.
fn listing_signed_by_public_key(entries: &[(&str, &str)]) -> Answer {
    let bodies: Vec<serde_json::Value> = entries
        .iter()
        .map(|(serial, pem)| {
            let one: serde_json::Value =
                serde_json::from_slice(&peer::listing(pem, serial, 1)).unwrap();
            one["data"][0].clone()
        })
        .collect();
    Answer::signed_now(&serde_json::to_vec(&serde_json::json!({ "data": bodies })).unwrap())
}

#[tokio::test]
async fn an_empty_or_all_expired_listing_keeps_the_known_certificates() {
    let peer = Peer::start().await;
    let client = public_key_client(&peer).await;
    let id = identity();
    peer.set_listing(listing_signed_by_public_key(&[(
        &id.platform_serial_no,
        &id.platform_certificate_pem,
    )]));
    assert_eq!(
        client.refresh_certificates().await.unwrap(),
        vec![id.platform_serial_no.clone()]
    );

    peer.set_listing(Answer::signed_now(br#"{"data":[]}"#));
    let e = client.refresh_certificates().await.unwrap_err();
    assert!(e.to_string().contains("empty listing"), "{e}");
    assert_eq!(
        client.platform_certificate_serials(),
        vec![id.platform_serial_no.clone()]
    );

    let expired = peer::platform_certificate("7E57ED", -400, -1);
    peer.set_listing(listing_signed_by_public_key(&[("7E57ED", &expired)]));
    let e = client.refresh_certificates().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("listed only expired certificates (7E57ED)"),
        "{e}"
    );
    assert_eq!(
        client.platform_certificate_serials(),
        vec![id.platform_serial_no.clone()]
    );
}

#[tokio::test]
async fn expired_entries_are_left_out() {
    let peer = Peer::start().await;
    let client = public_key_client(&peer).await;
    let id = identity();
    let expired = peer::platform_certificate("7E57ED", -400, -1);
    peer.set_listing(listing_signed_by_public_key(&[
        ("7E57ED", &expired),
        (&id.platform_serial_no, &id.platform_certificate_pem),
    ]));
    assert_eq!(
        client.refresh_certificates().await.unwrap(),
        vec![id.platform_serial_no.clone()]
    );
}

#[tokio::test]
async fn the_signature_is_checked_before_anything_is_decrypted() {
    let peer = Peer::start().await;
    let client = public_key_client(&peer).await;
    let id = identity();
    // Entries that decrypt to something that is not a certificate, under a signature over
    // another body: the signature failure is what is reported, nothing was parsed.
    let listing = peer::listing("not a certificate", &id.platform_serial_no, 3);
    let mut answer = Answer::signed_now(b"{}");
    answer.body = listing;
    peer.set_listing(answer);
    let e = client.refresh_certificates().await.unwrap_err();
    assert!(
        matches!(&e, weixin_kit::Error::Signature { detail } if detail.contains("signature does not match")),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_expired_cached_serial_is_downloaded_again() {
    let peer = Peer::start().await;
    let sb = sandbox().await;
    let client = pay_builder(&sb)
        .apiv3_key(sb.credentials().apiv3_key.expose())
        .unwrap()
        .base_url(peer.base_url.clone())
        .no_backup()
        .retry(fast_retry())
        .build()
        .unwrap();
    let id = identity();
    // The cached copy of the platform certificate expired yesterday; WeChat Pay's listing has
    // the renewed one (same serial and key, later validity) and still signs with it.
    let expired = peer::platform_certificate(&id.platform_serial_no, -400, -1);
    client.verifier().set_certificates(vec![
        weixin_kit::crypto::Certificate::from_pem(&expired).unwrap()
    ]);
    let renewed = peer::platform_certificate(&id.platform_serial_no, -1, 400);
    let sign =
        |body: &[u8]| Answer::signed(body, &id.platform_key, &id.platform_serial_no, &peer::now());
    peer.set_listing(sign(&peer::listing(&renewed, &id.platform_serial_no, 1)));
    peer.set_answer(sign(br#"{"stock_id":"1"}"#));
    let answer = client
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
        .unwrap();
    assert_eq!(answer["stock_id"], "1");
    assert_eq!(client.certificate_downloads(), 1);
    assert_eq!(
        peer.seen(),
        vec!["/v3/marketing/busifavor/stocks/1", "/v3/certificates"]
    );
}
