//! What a base URL may be (`base_url`, `backup_base_url` of every client): `https://host[:port]`,
//! or `http://` on a loopback host only — 127.0.0.0/8, `::1` or `localhost` (a sandbox, a
//! TLS-terminating sidecar on the same machine). Anything else in clear text would carry the
//! AppSecret, access tokens and personal data unencrypted, so it needs the loudly named opt-in
//! `danger_allow_insecure_http` (builder method and configuration key).

use crate::error::{Error, Result};

/// The builder method and configuration key that accept clear text to any host.
pub const INSECURE_HTTP_OPT_IN: &str = "danger_allow_insecure_http";

/// Checks the base URL given as `key`. A base URL is `scheme://host[:port]`: a path prefix would
/// be sent but not signed (WeChat Pay signs the path), and a query or fragment would be mangled
/// by the path appended to it. Error text shows the URL without any user name or password.
pub(super) fn check_base_url(key: &str, url: &str, allow_insecure_http: bool) -> Result<()> {
    let https = url.starts_with("https://");
    if !(https || url.starts_with("http://")) {
        return Err(Error::Config {
            detail: format!("`{key}` must start with https:// (or http:// for a loopback host)"),
        });
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::Config {
        detail: format!("`{key}` is not a URL: {e}"),
    })?;
    let shown = without_credentials(&parsed);
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config {
            detail: format!(
                "`{key}` ({shown}) must be scheme://host[:port] without a path, query or fragment \
                 (a path prefix would be sent but not signed)"
            ),
        });
    }
    if !https && !allow_insecure_http && !is_loopback(&parsed) {
        return Err(Error::Config {
            detail: format!(
                "`{key}` ({shown}) uses http:// on a host that is not loopback (127.0.0.0/8, ::1, \
                 localhost): the AppSecret, tokens and personal data would travel unencrypted. \
                 Use https://, or opt in with `{INSECURE_HTTP_OPT_IN}`"
            ),
        });
    }
    Ok(())
}

/// 127.0.0.0/8, `::1` or `localhost` (any case; the URL parser lower-cases host names).
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed (`[::1]`); the parser has already normalised IPv4 forms.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

fn without_credentials(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, url: &str, allow: bool) -> Option<String> {
        match check_base_url(key, url, allow) {
            Ok(()) => None,
            Err(Error::Config { detail }) => Some(detail),
            Err(other) => panic!("{url}: not a configuration error: {other:?}"),
        }
    }

    #[test]
    fn clear_text_only_to_loopback_hosts() {
        for ok in [
            "https://api.mch.weixin.qq.com",
            "https://example.com:8443",
            "http://127.0.0.1:8080",
            "http://127.255.0.9",
            "http://[::1]:9000",
            "http://localhost:3000",
            "http://LOCALHOST",
        ] {
            assert_eq!(rule("base_url", ok, false), None, "{ok}");
        }
        for bad in [
            "http://api.mch.weixin.qq.com",
            "http://10.0.0.5:8080",
            "http://128.0.0.1",
            "http://0.0.0.0:80",
            "http://[::2]",
            "http://[::ffff:127.0.0.1]",
            "http://localhost.example.com",
            "http://notlocalhost",
        ] {
            let detail = rule("backup_base_url", bad, false).unwrap_or_else(|| panic!("{bad}"));
            assert!(
                detail.starts_with("`backup_base_url` (")
                    && detail.contains("not loopback")
                    && detail.contains("danger_allow_insecure_http"),
                "{bad}: {detail}"
            );
            // The opt-in accepts it.
            assert_eq!(rule("backup_base_url", bad, true), None, "{bad}");
        }
    }

    #[test]
    fn errors_never_show_url_credentials() {
        let detail = rule("base_url", "http://user:hunter2@api.example.com", false).unwrap();
        assert!(
            !detail.contains("hunter2") && !detail.contains("user"),
            "{detail}"
        );
        assert!(detail.contains("http://api.example.com"), "{detail}");
    }

    #[test]
    fn the_opt_in_does_not_allow_other_schemes_or_paths() {
        let detail = rule("base_url", "ftp://127.0.0.1", true).unwrap();
        assert!(detail.contains("must start with https://"), "{detail}");
        let detail = rule("base_url", "http://example.com/v3", true).unwrap();
        assert!(detail.contains("without a path"), "{detail}");
    }
}
