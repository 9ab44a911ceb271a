//! The shared test vectors in `spec/vectors/` (made by `make_vectors.py` with Python's
//! `cryptography` and the openssl CLI) against every crypto backend compiled into this build.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use weixin_kit::crypto::{self, ApiV3Key, Backend, Certificate, PrivateKey, PublicKey};
use weixin_kit::pay::signing::{self, Verifier, VerifyFailure};
use weixin_kit::Error;

use crate::common::{s, vectors};

fn keys() -> Value {
    vectors("keys.json")
}

fn merchant_key(b: Backend) -> PrivateKey {
    PrivateKey::from_pem_with(b, s(&keys()["merchant"]["private_key_pkcs8_pem"])).unwrap()
}

fn platform_public_key(b: Backend) -> PublicKey {
    PublicKey::from_pem_with(b, s(&keys()["platform"]["public_key_spki_pem"])).unwrap()
}

fn platform_certificate(b: Backend) -> Certificate {
    Certificate::from_pem_with(b, s(&keys()["platform"]["certificate_pem"])).unwrap()
}

fn config_detail(e: Error) -> String {
    match e {
        Error::Config { detail } => detail,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

#[test]
fn every_compiled_backend_is_listed() {
    let names: Vec<&str> = crypto::backends().iter().map(|b| b.name()).collect();
    #[cfg(feature = "aws-lc-rs")]
    assert!(names.contains(&"aws-lc-rs"));
    #[cfg(feature = "rust-crypto")]
    assert!(names.contains(&"rust-crypto"));
    assert_eq!(crypto::backends()[0], Backend::DEFAULT);
    eprintln!("backends under test: {names:?}");
}

#[test]
fn digests() {
    for &b in crypto::backends() {
        for case in vectors("digests.json")["cases"].as_array().unwrap() {
            let input = s(&case["input"]).as_bytes();
            assert_eq!(
                hex::encode(b.sha256(input)),
                s(&case["sha256"]),
                "{b} sha256"
            );
            assert_eq!(hex::encode(b.sha1(input)), s(&case["sha1"]), "{b} sha1");
        }
    }
    let first = &vectors("digests.json")["cases"][1];
    assert_eq!(hex::encode(crypto::sha256(b"abc")), s(&first["sha256"]));
    assert_eq!(hex::encode(crypto::sha1(b"abc")), s(&first["sha1"]));
}

#[test]
fn request_signing_vectors() {
    let v = vectors("request_signing.json");
    for &b in crypto::backends() {
        for (format, pem_field) in [
            ("PKCS#8", "private_key_pkcs8_pem"),
            ("PKCS#1", "private_key_pkcs1_pem"),
        ] {
            let key = PrivateKey::from_pem_with(b, s(&keys()["merchant"][pem_field])).unwrap();
            assert_eq!(key.backend(), b);
            for case in v["cases"].as_array().unwrap() {
                let name = s(&case["name"]);
                let ts = case["timestamp"].as_i64().unwrap();
                let body = s(&case["body"]).as_bytes();
                let message = signing::signing_string(
                    s(&case["method"]),
                    s(&case["url"]),
                    ts,
                    s(&case["nonce"]),
                    body,
                );
                assert_eq!(
                    String::from_utf8(message.clone()).unwrap(),
                    s(&case["signing_string"]),
                    "{name}"
                );
                // PKCS#1 v1.5 is deterministic: the exact signature is the vector.
                let sig = key.sign_sha256(&message).unwrap();
                assert_eq!(
                    BASE64.encode(&sig),
                    s(&case["signature"]),
                    "{b} {format} {name}"
                );
                let auth = signing::build_authorization(
                    s(&v["mchid"]),
                    s(&v["serial_no"]),
                    &key,
                    s(&case["method"]),
                    s(&case["url"]),
                    body,
                    ts,
                    s(&case["nonce"]),
                )
                .unwrap();
                assert_eq!(auth, s(&case["authorization"]), "{b} {format} {name}");
            }
        }
    }
}

#[test]
fn pkcs1_and_pkcs8_give_the_same_signature() {
    for &b in crypto::backends() {
        let k8 =
            PrivateKey::from_pem_with(b, s(&keys()["merchant"]["private_key_pkcs8_pem"])).unwrap();
        let k1 =
            PrivateKey::from_pem_with(b, s(&keys()["merchant"]["private_key_pkcs1_pem"])).unwrap();
        let msg = "任意消息 any message".as_bytes();
        assert_eq!(
            k8.sign_sha256(msg).unwrap(),
            k1.sign_sha256(msg).unwrap(),
            "{b}"
        );
    }
}

#[test]
fn signatures_agree_across_backends() {
    let sigs: Vec<Vec<u8>> = crypto::backends()
        .iter()
        .map(|&b| merchant_key(b).sign_sha256(b"cross-backend").unwrap())
        .collect();
    assert!(sigs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn public_key_formats() {
    let v = vectors("response_verification.json");
    let case = &v["cases"][0];
    let message = format!(
        "{}\n{}\n{}\n",
        case["timestamp"],
        s(&case["nonce"]),
        s(&case["body"])
    );
    let sig = BASE64.decode(s(&case["signature"])).unwrap();
    for &b in crypto::backends() {
        for field in ["public_key_spki_pem", "public_key_pkcs1_pem"] {
            let key = PublicKey::from_pem_with(b, s(&keys()["platform"][field])).unwrap();
            assert_eq!(key.backend(), b);
            assert!(key.verify_sha256(message.as_bytes(), &sig), "{b} {field}");
            assert!(!key.verify_sha256(b"other", &sig), "{b} {field}");
        }
        // The merchant's public key does not verify WeChat's signature.
        let merchant =
            PublicKey::from_pem_with(b, s(&keys()["merchant"]["public_key_spki_pem"])).unwrap();
        assert!(!merchant.verify_sha256(message.as_bytes(), &sig), "{b}");
    }
}

#[test]
fn certificate_serial_key_and_validity() {
    let k = keys();
    for &b in crypto::backends() {
        let cert = platform_certificate(b);
        assert_eq!(
            cert.serial_no,
            s(&k["platform"]["certificate_serial_no"]),
            "{b}"
        );
        assert_eq!(
            cert.not_before,
            k["platform"]["certificate_not_before"].as_i64().unwrap()
        );
        assert_eq!(
            cert.not_after,
            k["platform"]["certificate_not_after"].as_i64().unwrap()
        );
        assert!(cert.is_valid_at(cert.not_before + 1));
        assert!(!cert.is_valid_at(cert.not_after + 1));
        assert_eq!(cert.public_key.backend(), b);
        let dbg = format!("{cert:?}");
        assert!(dbg.contains(&cert.serial_no), "{dbg}");
    }
    let e = Certificate::from_pem(s(&k["platform"]["public_key_spki_pem"])).unwrap_err();
    let detail = config_detail(e);
    assert!(
        detail.contains("BEGIN CERTIFICATE") && detail.contains("found only \"BEGIN PUBLIC KEY\""),
        "{detail}"
    );
}

#[test]
fn response_verification_vectors() {
    let v = vectors("response_verification.json");
    for &b in crypto::backends() {
        let verifier =
            Verifier::new().with_public_key(s(&keys()["public_key_id"]), platform_public_key(b));
        verifier.set_certificates(vec![platform_certificate(b)]);
        for case in v["cases"].as_array().unwrap() {
            let name = s(&case["name"]);
            let ts = case["timestamp"].as_i64().unwrap();
            let mut headers = http::HeaderMap::new();
            headers.insert("Wechatpay-Serial", s(&case["serial"]).parse().unwrap());
            headers.insert(
                "Wechatpay-Signature",
                s(&case["signature"]).parse().unwrap(),
            );
            headers.insert("Wechatpay-Timestamp", ts.to_string().parse().unwrap());
            headers.insert("Wechatpay-Nonce", s(&case["nonce"]).parse().unwrap());
            let result = signing::verify(&verifier, &headers, s(&case["body"]).as_bytes(), ts + 10);
            if case["valid"].as_bool().unwrap() {
                assert_eq!(result, Ok(()), "{b} {name}");
            } else {
                assert_eq!(result, Err(VerifyFailure::BadSignature), "{b} {name}");
            }
        }
    }
}

#[test]
fn expired_platform_certificates_are_not_trusted() {
    let k = keys();
    for &b in crypto::backends() {
        let platform =
            PrivateKey::from_pem_with(b, s(&k["platform"]["private_key_pkcs8_pem"])).unwrap();
        let cert = platform_certificate(b);
        let serial = cert.serial_no.clone();
        let not_after = cert.not_after;
        // Certificate mode only: the public key would verify regardless of the certificate.
        let verifier = Verifier::new();
        verifier.set_certificates(vec![cert]);
        let signed_at = |ts: i64| {
            let body = br#"{"ok":true}"#;
            let nonce = "expiry-nonce";
            let mut message = format!("{ts}\n{nonce}\n").into_bytes();
            message.extend_from_slice(body);
            message.push(b'\n');
            let sig = BASE64.encode(platform.sign_sha256(&message).unwrap());
            let mut h = http::HeaderMap::new();
            h.insert("Wechatpay-Serial", serial.parse().unwrap());
            h.insert("Wechatpay-Signature", sig.parse().unwrap());
            h.insert("Wechatpay-Timestamp", ts.to_string().parse().unwrap());
            h.insert("Wechatpay-Nonce", nonce.parse().unwrap());
            (h, body)
        };
        // The last second of validity: trusted.
        let (h, body) = signed_at(not_after);
        assert_eq!(
            signing::verify(&verifier, &h, body, not_after),
            Ok(()),
            "{b}"
        );
        // After notAfter the same certificate is no longer used: the serial counts as unknown
        // (which makes the client download the current certificates).
        let (h, body) = signed_at(not_after + 60);
        assert_eq!(
            signing::verify(&verifier, &h, body, not_after + 60),
            Err(VerifyFailure::UnknownSerial(serial.clone())),
            "{b}"
        );
    }
}

#[test]
fn aead_vectors() {
    let v = vectors("notification.json");
    for &b in crypto::backends() {
        for case in v["decrypt"].as_array().unwrap() {
            let name = s(&case["name"]);
            let key = ApiV3Key::new_with(b, s(&case["apiv3_key"])).unwrap();
            let plain = key
                .decrypt(
                    s(&case["nonce"]),
                    s(&case["associated_data"]),
                    s(&case["ciphertext"]),
                )
                .unwrap();
            assert_eq!(
                String::from_utf8(plain).unwrap(),
                s(&case["plaintext"]),
                "{b} {name}"
            );
            // Wrong associated data or key: the tag fails.
            let err = key
                .decrypt(s(&case["nonce"]), "other", s(&case["ciphertext"]))
                .unwrap_err();
            assert!(
                matches!(&err, Error::Signature { detail } if detail.contains("tag check failed")),
                "{err}"
            );
            let other = ApiV3Key::new_with(b, "0123456789abcdef0123456789abcdef").unwrap();
            assert!(other
                .decrypt(
                    s(&case["nonce"]),
                    s(&case["associated_data"]),
                    s(&case["ciphertext"])
                )
                .is_err());
        }
    }
}

#[test]
fn oaep_vectors_and_round_trip() {
    for &b in crypto::backends() {
        let key = merchant_key(b);
        for case in vectors("oaep.json")["cases"].as_array().unwrap() {
            let ct = BASE64.decode(s(&case["ciphertext"])).unwrap();
            let plain = key.decrypt_oaep_sha1(&ct).unwrap();
            assert_eq!(
                String::from_utf8(plain).unwrap(),
                s(&case["plaintext"]),
                "{b} {}",
                s(&case["name"])
            );
        }
        let public =
            PublicKey::from_pem_with(b, s(&keys()["merchant"]["public_key_spki_pem"])).unwrap();
        let ct = public
            .encrypt_oaep_sha1("李四 13800138000".as_bytes())
            .unwrap();
        assert_eq!(ct.len(), 256);
        assert_ne!(
            ct,
            public
                .encrypt_oaep_sha1("李四 13800138000".as_bytes())
                .unwrap(),
            "OAEP is randomized"
        );
        // Decrypted by every backend, not only the one that encrypted.
        for &other in crypto::backends() {
            assert_eq!(
                merchant_key(other).decrypt_oaep_sha1(&ct).unwrap(),
                "李四 13800138000".as_bytes()
            );
        }
        assert!(key.decrypt_oaep_sha1(&ct[1..]).is_err());
        assert!(
            public.encrypt_oaep_sha1(&[0u8; 300]).is_err(),
            "{b}: too long for one block"
        );
    }
}

#[test]
fn garbage_pem_names_both_formats() {
    for &b in crypto::backends() {
        let secretish = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDsecret";
        for input in [
            secretish.to_string(),
            format!("-----BEGIN PRIVATE KEY-----\n{secretish}!!\n-----END PRIVATE KEY-----\n"),
            String::new(),
        ] {
            let detail = config_detail(PrivateKey::from_pem_with(b, &input).unwrap_err());
            assert!(
                detail.contains("PKCS#8") && detail.contains("PKCS#1"),
                "{detail}"
            );
            assert!(
                detail.contains("BEGIN PRIVATE KEY") && detail.contains("BEGIN RSA PRIVATE KEY"),
                "{detail}"
            );
            assert!(!detail.contains("secret"), "the input is echoed: {detail}");
        }
        // A well-formed PEM block whose DER is not a key.
        let detail = config_detail(
            PrivateKey::from_pem_with(
                b,
                "-----BEGIN PRIVATE KEY-----\nAAECAwQ=\n-----END PRIVATE KEY-----\n",
            )
            .unwrap_err(),
        );
        assert!(
            detail.contains("not a valid PKCS#8 RSA private key") && detail.contains("PKCS#1"),
            "{detail}"
        );
        // A public key where a private key is expected.
        let detail = config_detail(
            PrivateKey::from_pem_with(b, s(&keys()["merchant"]["public_key_spki_pem"]))
                .unwrap_err(),
        );
        assert!(
            detail.contains("found only \"BEGIN PUBLIC KEY\""),
            "{detail}"
        );
        // And the other way round.
        let detail = config_detail(
            PublicKey::from_pem_with(b, s(&keys()["merchant"]["private_key_pkcs8_pem"]))
                .unwrap_err(),
        );
        assert!(
            detail.contains("SPKI") && detail.contains("BEGIN RSA PUBLIC KEY"),
            "{detail}"
        );
    }
}

#[test]
fn private_key_from_file() {
    let dir =
        std::env::temp_dir().join(format!("weixin-kit-crypto-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("apiclient_key.pem");
    std::fs::write(&path, s(&keys()["merchant"]["private_key_pkcs1_pem"])).unwrap();
    let key = PrivateKey::from_pem_file(&path).unwrap();
    assert_eq!(
        key.sign_sha256(b"x").unwrap(),
        merchant_key(Backend::DEFAULT).sign_sha256(b"x").unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let detail = config_detail(PrivateKey::from_pem_file(dir.join("missing.pem")).unwrap_err());
    assert!(
        detail.contains("cannot read") && detail.contains("missing.pem"),
        "{detail}"
    );
}

#[test]
fn apiv3_key_length() {
    for &b in crypto::backends() {
        let detail =
            config_detail(ApiV3Key::new_with(b, "0123456789012345678901234567890").unwrap_err());
        assert!(
            detail.contains("APIv3 key must be 32 bytes, got 31"),
            "{detail}"
        );
        assert!(
            !detail.contains("0123456789"),
            "the key is echoed: {detail}"
        );
        let detail = config_detail(ApiV3Key::new_with(b, "").unwrap_err());
        assert!(detail.contains("got 0"), "{detail}");
    }
}

#[test]
fn debug_never_shows_secrets() {
    let v = vectors("notification.json");
    let apiv3 = s(&v["apiv3_key"]);
    for &b in crypto::backends() {
        let key = merchant_key(b);
        assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
        assert_eq!(format!("{key:#?}"), "PrivateKey(<redacted>)");
        let k = ApiV3Key::new_with(b, apiv3).unwrap();
        let dbg = format!("{k:?} {k:#?}");
        assert!(!dbg.contains(apiv3) && dbg.contains("redacted"), "{dbg}");
        let verifier = Verifier::new().with_public_key("PUB_KEY_ID_1", platform_public_key(b));
        assert!(format!("{verifier:?}").contains("PUB_KEY_ID_1"));
    }
}

#[test]
fn nonces() {
    let a = crypto::nonce();
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
    let many: std::collections::HashSet<String> = (0..1000).map(|_| crypto::nonce()).collect();
    assert_eq!(many.len(), 1000);
}
