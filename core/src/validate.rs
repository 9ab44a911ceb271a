//! Checks run on every request before anything is sent. The generated `Validate` impls call these
//! with the rules from the spec; the errors name the field (as a dotted wire path) and the rule,
//! never the value (it may be personal data).

use crate::error::{Error, Result};

/// Implemented by every generated request type.
pub trait Validate {
    /// Checks `self`, reporting fields under `prefix` (the dotted wire path of `self`, or "").
    fn validate_at(&self, prefix: &str) -> Result<()>;

    fn validate(&self) -> Result<()> {
        self.validate_at("")
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate_at(&self, prefix: &str) -> Result<()> {
        self.as_ref().map_or(Ok(()), |v| v.validate_at(prefix))
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate_at(&self, prefix: &str) -> Result<()> {
        self.iter()
            .enumerate()
            .try_for_each(|(i, v)| v.validate_at(&format!("{prefix}[{i}]")))
    }
}

/// An enum that keeps unknown server values instead of failing to decode them.
pub trait OpenEnum {
    /// The documented values.
    const KNOWN: &'static [&'static str];
    fn as_str(&self) -> &str;
    fn is_known(&self) -> bool;
}

/// `prefix.name`, or `name` at the top.
pub fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Length limits count characters (Unicode scalar values), as the documents do:
/// "一个中文汉字/英文字母/数字均占用一个字数".
pub fn chars(
    prefix: &str,
    name: &str,
    value: &str,
    min: Option<u64>,
    max: Option<u64>,
) -> Result<()> {
    let n = value.chars().count() as u64;
    match (min, max) {
        (Some(min), Some(max)) if n < min || n > max => Err(Error::validation(
            path(prefix, name),
            format!("must be {min} to {max} characters long (got {n})"),
        )),
        (Some(min), None) if n < min => Err(Error::validation(
            path(prefix, name),
            format!("must be at least {min} characters long (got {n})"),
        )),
        (None, Some(max)) if n > max => Err(Error::validation(
            path(prefix, name),
            format!("must be at most {max} characters long (got {n})"),
        )),
        _ => Ok(()),
    }
}

/// A required string must carry something: an empty one is as good as absent to the server.
pub fn not_empty(prefix: &str, name: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::validation(
            path(prefix, name),
            "is required and must not be empty",
        ))
    } else {
        Ok(())
    }
}

pub fn range(
    prefix: &str,
    name: &str,
    value: i64,
    min: Option<i64>,
    max: Option<i64>,
) -> Result<()> {
    let below = min.is_some_and(|m| value < m);
    let above = max.is_some_and(|m| value > m);
    if !(below || above) {
        return Ok(());
    }
    let rule = match (min, max) {
        (Some(min), Some(max)) => format!("must be between {min} and {max}"),
        (Some(min), None) => format!("must be at least {min}"),
        (None, Some(max)) => format!("must be at most {max}"),
        (None, None) => unreachable!(),
    };
    Err(Error::validation(path(prefix, name), rule))
}

/// Requests may only carry documented enum values; unknown ones exist to decode responses.
/// `field` is the full dotted path of the value.
pub fn known<E: OpenEnum>(field: &str, value: &E) -> Result<()> {
    if value.is_known() {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            format!("must be one of {}", E::KNOWN.join(", ")),
        ))
    }
}

/// Implements an open enum's wire mapping (serde as the wire string, `From<&str>`, `Display`,
/// `OpenEnum`, `Validate`) for an enum with unit variants plus `Unknown(String)`. The generated code
/// declares the enum (with its docs) and invokes this.
#[macro_export]
macro_rules! open_enum_impls {
    ($name:ident { $( $variant:ident = $wire:literal ),+ $(,)? }) => {
        impl $crate::validate::OpenEnum for $name {
            const KNOWN: &'static [&'static str] = &[$($wire),+];
            fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(other) => other.as_str(),
                }
            }
            fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::validate::OpenEnum::as_str(self))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str($crate::validate::OpenEnum::as_str(self))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_ref()))
            }
        }

        impl $crate::validate::Validate for $name {
            fn validate_at(&self, field: &str) -> $crate::Result<()> {
                $crate::validate::known(field, self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        // 21 Chinese characters are 63 bytes in UTF-8 but within a 21-character limit.
        let name = "一二三四五六七八九十一二三四五六七八九十一";
        assert!(chars("", "stock_name", name, None, Some(21)).is_ok());
        let err = chars("", "stock_name", &format!("{name}二"), None, Some(21)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `stock_name`: must be at most 21 characters long (got 22)"
        );
    }

    #[test]
    fn nested_paths_name_the_field() {
        let err = chars(
            "custom_entrance.mini_programs_info",
            "entrance_words",
            "",
            Some(1),
            Some(5),
        )
        .unwrap_err();
        match err {
            Error::Validation { field, .. } => {
                assert_eq!(field, "custom_entrance.mini_programs_info.entrance_words")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn range_and_empty() {
        assert!(range("", "n", 5, Some(1), Some(5)).is_ok());
        assert!(range("", "n", 6, Some(1), Some(5)).is_err());
        assert!(not_empty("", "out_request_no", "").is_err());
        assert!(not_empty("", "out_request_no", "x").is_ok());
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    enum Mode {
        A,
        B,
        Unknown(String),
    }
    crate::open_enum_impls!(Mode { A = "A", B = "B" });

    #[test]
    fn open_enum_keeps_unknown_values_and_rejects_them_in_requests() {
        let m: Mode = serde_json::from_str("\"C\"").unwrap();
        assert_eq!(m, Mode::Unknown("C".into()));
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"C\"");
        assert_eq!(serde_json::from_str::<Mode>("\"B\"").unwrap(), Mode::B);
        let err = m.validate_at("x.mode").unwrap_err();
        assert_eq!(err.to_string(), "invalid `x.mode`: must be one of A, B");
    }
}
