//! Minimal PEM reading: the first block with an accepted label, base64-decoded.
//!
//! Error text names labels (never the input): a PEM body may be a private key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

/// One PEM block: its label and DER contents (zeroized on drop, it may be a private key).
pub(crate) struct Block {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// Why no block was read.
pub(crate) enum PemError {
    /// No `-----BEGIN …-----` line at all.
    NotPem,
    /// Only blocks with other labels (the labels found, in order).
    OtherLabels(Vec<String>),
    /// A block with an accepted label whose body is broken (the label).
    Broken(String, &'static str),
}

/// The first block whose label is one of `accepted`.
pub(crate) fn find(pem: &str, accepted: &[&str]) -> Result<Block, PemError> {
    let mut seen = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].trim().to_string();
        let body_and_more = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_and_more.find(&end_marker) else {
            if accepted.contains(&label.as_str()) {
                return Err(PemError::Broken(label, "no matching END line"));
            }
            seen.push(label);
            break;
        };
        if accepted.contains(&label.as_str()) {
            let body = &body_and_more[..end];
            if body.contains(':') {
                // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`): an encrypted legacy key.
                return Err(PemError::Broken(
                    label,
                    "has PEM headers (an encrypted key?); decrypt it first",
                ));
            }
            let b64: Zeroizing<String> =
                Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
            return match STANDARD.decode(b64.as_bytes()) {
                Ok(der) if !der.is_empty() => Ok(Block {
                    label,
                    der: Zeroizing::new(der),
                }),
                Ok(_) => Err(PemError::Broken(label, "is empty")),
                Err(_) => Err(PemError::Broken(label, "is not valid base64")),
            };
        }
        seen.push(label);
        rest = &body_and_more[end + end_marker.len()..];
    }
    if seen.is_empty() {
        Err(PemError::NotPem)
    } else {
        Err(PemError::OtherLabels(seen))
    }
}

/// `what: expected <formats>; <what was found>` for an Error::Config.
pub(crate) fn describe(what: &str, formats: &str, err: &PemError) -> String {
    match err {
        PemError::NotPem => format!("{what}: expected {formats}; the input is not PEM"),
        PemError::OtherLabels(labels) => format!(
            "{what}: expected {formats}; found only {}",
            labels
                .iter()
                .map(|l| format!("\"BEGIN {l}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PemError::Broken(label, why) => {
            format!("{what}: expected {formats}; the \"BEGIN {label}\" block {why}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_accepted_block_after_others() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
                   -----BEGIN PRIVATE KEY-----\r\nAQID\r\nBA==\r\n-----END PRIVATE KEY-----\n";
        let block = find(pem, &["PRIVATE KEY"]).ok().unwrap();
        assert_eq!(block.label, "PRIVATE KEY");
        assert_eq!(&block.der[..], &[1, 2, 3, 4]);
    }

    #[test]
    fn reports_what_it_found() {
        let err = find(
            "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----",
            &["PRIVATE KEY"],
        )
        .err()
        .unwrap();
        assert!(describe("k", "X", &err).contains("found only \"BEGIN EC PRIVATE KEY\""));
        let err = find("hello", &["PRIVATE KEY"]).err().unwrap();
        assert!(describe("k", "X", &err).contains("not PEM"));
    }
}
