//! X.509 platform certificates, parsed with the pure-Rust `x509-parser` (both backends).

/// What the rest of the crate needs from a certificate.
pub(crate) struct Parsed {
    /// Upper-case hex, leading zero bytes stripped (as WeChat Pay prints `Wechatpay-Serial`).
    pub serial_no: String,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

pub(crate) fn parse(der: &[u8]) -> Result<Parsed, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("not a valid X.509 certificate ({e})"))?;
    Ok(Parsed {
        serial_no: serial_hex(cert.tbs_certificate.raw_serial()),
        spki_der: cert.public_key().raw.to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// The serial's magnitude as upper-case hex, two digits per byte (the DER sign byte and other
/// leading zero bytes dropped), as the official SDKs print it (`fmt.Sprintf("%X", serial.Bytes())`).
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode_upper(&raw[start..])
}

/// Serial numbers compare case-insensitively and ignoring leading zeros (Java's
/// `BigInteger.toString(16)` drops a leading zero nibble that Go's `%X` keeps).
pub(crate) fn serial_key(serial: &str) -> String {
    let trimmed = serial.trim().trim_start_matches('0');
    trimmed.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_formatting() {
        assert_eq!(serial_hex(&[0x00, 0x9a, 0x01]), "9A01");
        assert_eq!(serial_hex(&[0x0a, 0xbc]), "0ABC");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_key("0abc"), serial_key("ABC"));
    }
}
