//! Small helpers: time in WeChat's format (RFC 3339, Beijing time).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Beijing time (+08:00), the offset WeChat writes its times in.
pub const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("valid offset"),
};

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn unix_now() -> i64 {
    now().unix_timestamp()
}

/// `2015-05-20T13:29:35+08:00`.
pub fn rfc3339_cst(t: OffsetDateTime) -> String {
    t.to_offset(CST)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub fn now_rfc3339() -> String {
    rfc3339_cst(now())
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_beijing_offset() {
        let t = OffsetDateTime::from_unix_timestamp(1_432_099_775).unwrap();
        assert_eq!(rfc3339_cst(t), "2015-05-20T13:29:35+08:00");
        assert_eq!(parse_rfc3339("2015-05-20T13:29:35+08:00"), Some(t));
    }
}
