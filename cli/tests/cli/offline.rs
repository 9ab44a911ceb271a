//! The offline commands (sign, verify, decrypt, card-ext), --help, completions, exit codes.

use serde_json::{json, Value};

use crate::support::{command, openssl_sign, output, run, vectors, write};

/// Every request-signing vector: the signing string and the Authorization header printed by
/// `sign` equal the vector's (made by Python cryptography, checked with openssl), and openssl
/// over the printed signing string gives the printed signature.
#[test]
fn sign_prints_the_signing_string_and_authorization_of_the_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let keys = vectors("keys.json");
    let key_file = write(
        dir.path(),
        "apiclient_key.pem",
        keys["merchant"]["private_key_pkcs8_pem"].as_str().unwrap(),
    );
    let cases = vectors("request_signing.json");
    let cases = cases["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let body_file = write(dir.path(), "body", case["body"].as_str().unwrap());
        let timestamp = case["timestamp"].to_string();
        let out = run(&[
            "sign",
            "--mchid",
            keys["mchid"].as_str().unwrap(),
            "--serial-no",
            keys["merchant_serial_no"].as_str().unwrap(),
            "--private-key-file",
            &key_file,
            "--method",
            case["method"].as_str().unwrap(),
            "--url",
            case["url"].as_str().unwrap(),
            "--body-file",
            &body_file,
            "--timestamp",
            &timestamp,
            "--nonce",
            case["nonce"].as_str().unwrap(),
        ])
        .ok();
        let name = &case["name"];
        assert_eq!(out["signing_string"], case["signing_string"], "{name}");
        assert_eq!(out["authorization"], case["authorization"], "{name}");
        let printed = out["signing_string"].as_str().unwrap();
        let signature = openssl_sign(&key_file, printed.as_bytes(), dir.path());
        assert!(
            out["authorization"]
                .as_str()
                .unwrap()
                .ends_with(&format!("signature=\"{signature}\"")),
            "{name}: openssl over the printed signing string gives another signature"
        );
    }
}

#[test]
fn sign_without_a_private_key_is_a_config_error_naming_the_key() {
    let out = run(&[
        "sign",
        "--mchid",
        "1",
        "--serial-no",
        "2",
        "--method",
        "GET",
        "--url",
        "/v3/x",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let error = out.error();
    assert_eq!(error["kind"], "ConfigError");
    assert!(error["text"].as_str().unwrap().contains("private_key"));
}

/// `verify` over spec/vectors/response_verification.json with the platform key of keys.json,
/// headers as JSON and as `Name: value` lines: valid cases exit 0, the others 5.
#[test]
fn verify_accepts_the_valid_vectors_and_rejects_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let keys = vectors("keys.json");
    let public_key = write(
        dir.path(),
        "pub_key.pem",
        keys["platform"]["public_key_spki_pem"].as_str().unwrap(),
    );
    let certificate = write(
        dir.path(),
        "cert.pem",
        keys["platform"]["certificate_pem"].as_str().unwrap(),
    );
    let cases = vectors("response_verification.json");
    let (mut valid, mut invalid) = (0, 0);
    for (i, case) in cases["cases"].as_array().unwrap().iter().enumerate() {
        let body = write(dir.path(), "body", case["body"].as_str().unwrap());
        let headers = json!({
            "Wechatpay-Serial": case["serial"],
            "Wechatpay-Timestamp": case["timestamp"].to_string(),
            "Wechatpay-Nonce": case["nonce"],
            "Wechatpay-Signature": case["signature"],
        });
        // Every other case as curl -D writes headers.
        let headers = if i % 2 == 0 {
            write(dir.path(), "headers", &headers.to_string())
        } else {
            let mut text = String::from("HTTP/1.1 200 OK\r\n");
            for (k, v) in headers.as_object().unwrap() {
                text.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap()));
            }
            write(dir.path(), "headers", &text)
        };
        let out = run(&[
            "verify",
            "--ignore-clock",
            "--wechatpay-public-key-id",
            keys["public_key_id"].as_str().unwrap(),
            "--wechatpay-public-key-file",
            &public_key,
            "--platform-certificate-file",
            &certificate,
            "--headers",
            &headers,
            "--body-file",
            &body,
        ]);
        let name = &case["name"];
        if case["valid"] == true {
            valid += 1;
            assert_eq!(out.code, 0, "{name}: {}", out.stderr);
            assert_eq!(out.json()["valid"], true, "{name}");
        } else {
            invalid += 1;
            assert_eq!(out.code, 5, "{name}: {} {}", out.stdout, out.stderr);
            assert_eq!(out.error()["kind"], "SignatureError", "{name}");
        }
    }
    assert!(valid > 0 && invalid > 0);

    // Without --ignore-clock, the vectors' 2023 timestamps break the 5-minute rule.
    let case = &cases["cases"][0];
    let headers = json!({
        "Wechatpay-Serial": case["serial"],
        "Wechatpay-Timestamp": case["timestamp"].to_string(),
        "Wechatpay-Nonce": case["nonce"],
        "Wechatpay-Signature": case["signature"],
    });
    let headers = write(dir.path(), "headers", &headers.to_string());
    let body = write(dir.path(), "body", case["body"].as_str().unwrap());
    let out = run(&[
        "verify",
        "--wechatpay-public-key-id",
        keys["public_key_id"].as_str().unwrap(),
        "--wechatpay-public-key-file",
        &public_key,
        "--headers",
        &headers,
        "--body-file",
        &body,
    ]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.error()["text"]
        .as_str()
        .unwrap()
        .contains("more than 5 minutes"));
}

/// `verify --notification` over the signed notifications of spec/vectors/notification.json:
/// the decrypted resource is the vector's payload; a tampered ciphertext, an unknown serial and
/// a bad signature exit 5, an unsupported algorithm 4. Stale timestamps verify (no clock rule
/// here) and show their skew.
#[test]
fn verify_notification_decrypts_the_vectors_resource() {
    let dir = tempfile::tempdir().unwrap();
    let keys = vectors("keys.json");
    let public_key = write(
        dir.path(),
        "pub_key.pem",
        keys["platform"]["public_key_spki_pem"].as_str().unwrap(),
    );
    let certificate = write(
        dir.path(),
        "cert.pem",
        keys["platform"]["certificate_pem"].as_str().unwrap(),
    );
    let vectors = vectors("notification.json");
    let apiv3_key = vectors["apiv3_key"].as_str().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for case in vectors["notifications"].as_array().unwrap() {
        let headers = write(dir.path(), "headers", &case["headers"].to_string());
        let body = write(dir.path(), "body", case["body"].as_str().unwrap());
        let out = output(
            command(&[
                "verify",
                "--ignore-clock",
                "--notification",
                "--wechatpay-public-key-id",
                keys["public_key_id"].as_str().unwrap(),
                "--wechatpay-public-key-file",
                &public_key,
                "--platform-certificate-file",
                &certificate,
                "--headers",
                &headers,
                "--body-file",
                &body,
            ])
            .env("WEIXIN_KIT_APIV3_KEY", apiv3_key),
        );
        let (name, expect) = (&case["name"], case["expect"].as_str().unwrap());
        seen.insert(expect);
        match expect {
            "ok" => assert_eq!(out.ok()["resource"], case["payload"], "{name}"),
            "stale" => assert!(out.ok()["skew_seconds"].as_i64().is_some(), "{name}"),
            "aead_tag_mismatch" | "unknown_serial" | "bad_signature" | "missing_header" => {
                assert_eq!(out.code, 5, "{name}: {}", out.stderr);
                assert_eq!(out.error()["kind"], "SignatureError", "{name}");
            }
            "unsupported_algorithm" => {
                assert_eq!(out.code, 4, "{name}: {}", out.stderr);
                assert_eq!(out.error()["field"], "resource.algorithm", "{name}");
            }
            other => panic!("{name}: a new expectation {other}"),
        }
        assert!(!out.stdout.contains(apiv3_key) && !out.stderr.contains(apiv3_key));
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
}

#[test]
fn verify_names_a_missing_header() {
    let dir = tempfile::tempdir().unwrap();
    let headers = write(dir.path(), "headers", r#"{"Wechatpay-Serial":"X"}"#);
    let body = write(dir.path(), "body", "{}");
    let out = run(&["verify", "--headers", &headers, "--body-file", &body]);
    assert_eq!(out.code, 5);
    assert!(out.error()["text"]
        .as_str()
        .unwrap()
        .contains("Wechatpay-Timestamp"));
}

/// `decrypt` over spec/vectors/notification.json (ciphertexts made with Python cryptography's
/// AESGCM), the APIv3 key from the environment; a wrong key exits 5 and never shows the key.
#[test]
fn decrypt_gives_the_vectors_plaintexts() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = vectors("notification.json");
    for case in vectors["decrypt"].as_array().unwrap() {
        let plaintext = case["plaintext"].as_str().unwrap();
        let expected = serde_json::from_str(plaintext).unwrap_or(json!(plaintext));
        let resource = json!({"resource": {
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": case["ciphertext"],
            "nonce": case["nonce"],
            "associated_data": case["associated_data"],
        }});
        let file = write(dir.path(), "notification.json", &resource.to_string());
        let out = output(
            command(&["decrypt", "--resource", &file])
                .env("WEIXIN_KIT_APIV3_KEY", case["apiv3_key"].as_str().unwrap()),
        );
        assert_eq!(out.ok(), expected, "{}", case["name"]);
    }
    let case = &vectors["decrypt"][0];
    let wrong = "0123456789abcdef0123456789abcdef";
    let out = output(
        command(&[
            "decrypt",
            "--ciphertext",
            case["ciphertext"].as_str().unwrap(),
            "--nonce",
            case["nonce"].as_str().unwrap(),
            "--associated-data",
            case["associated_data"].as_str().unwrap(),
        ])
        .env("WEIXIN_KIT_APIV3_KEY", wrong),
    );
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(out.error()["kind"], "SignatureError");
    assert!(!out.stderr.contains(wrong) && !out.stdout.contains(wrong));
}

/// `card-ext` over spec/vectors/card_signature.json (WeChat's documented example and cases
/// made with Python hashlib), the api_ticket from a file. A nonce_str that breaks the core's
/// rule (1 to 32 letters and digits: WeChat's cardExt table) is refused with exit 4.
#[test]
fn card_ext_signs_like_the_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = vectors("card_signature.json");
    let (mut signed, mut refused) = (0, 0);
    for case in cases["cases"].as_array().unwrap() {
        // Without a nonce_str: the CLI always signs one (the core's rule against replays).
        let Some(nonce_str) = case["nonce_str"].as_str() else {
            continue;
        };
        let ticket = write(dir.path(), "ticket", case["api_ticket"].as_str().unwrap());
        let timestamp = case["timestamp"].to_string();
        let mut args = vec![
            "card-ext",
            "--api-ticket-file",
            &ticket,
            "--card-id",
            case["card_id"].as_str().unwrap(),
            "--timestamp",
            &timestamp,
            "--nonce-str",
            nonce_str,
        ];
        if let Value::String(code) = &case["code"] {
            args.extend(["--code", code]);
        }
        if let Value::String(openid) = &case["openid"] {
            args.extend(["--openid", openid]);
        }
        let out = run(&args);
        if !nonce_str.bytes().all(|b| b.is_ascii_alphanumeric()) {
            refused += 1;
            assert_eq!(out.code, 4, "{}", case["name"]);
            assert_eq!(out.error()["field"], "cardExt.nonce_str");
            continue;
        }
        signed += 1;
        let out = out.ok();
        assert_eq!(out["signature"], case["signature"], "{}", case["name"]);
        assert_eq!(out["timestamp"], json!(timestamp));
        assert!(!out
            .to_string()
            .contains(case["api_ticket"].as_str().unwrap()));
    }
    assert!(
        signed >= 4 && refused >= 1,
        "{signed} signed, {refused} refused"
    );
}

#[test]
fn every_command_has_help_and_usage_errors_exit_2() {
    for command in [
        vec![],
        vec!["sign"],
        vec!["verify"],
        vec!["decrypt"],
        vec!["card-ext"],
        vec!["call"],
        vec!["certificates"],
        vec!["sandbox"],
        vec!["operations"],
        vec!["exit-codes"],
        vec!["completions"],
    ] {
        let mut args = command.clone();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.code, 0, "{command:?}: {}", out.stderr);
        assert!(
            out.stdout.contains("Usage: weixin-kit"),
            "{command:?}: {}",
            out.stdout
        );
    }
    let out = run(&["sign", "--no-such-flag"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--no-such-flag"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef weixin-kit"),
        ("fish", "complete -c weixin-kit"),
    ] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}");
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..200]
        );
        assert!(out.stdout.contains("certificates"), "{shell}");
    }
}

#[test]
fn the_exit_code_table_has_one_code_per_error_kind() {
    let table = run(&["exit-codes"]).ok();
    let rows = table.as_array().unwrap();
    let codes: Vec<i64> = rows.iter().map(|r| r["code"].as_i64().unwrap()).collect();
    let mut unique = codes.clone();
    unique.dedup();
    assert_eq!(codes, unique, "codes are distinct");
    for (kind, code) in [
        ("ConfigError", 3),
        ("ValidationError", 4),
        ("SignatureError", 5),
        ("ApiError", 6),
    ] {
        assert!(
            rows.iter().any(|r| r["kind"] == kind && r["code"] == code),
            "{kind}"
        );
    }
}
