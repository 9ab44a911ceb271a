//! Text layout shared by the generators' documentation: wrapping at a column width (CJK
//! characters take two columns and may break anywhere; closing punctuation never starts a line)
//! and hanging indents.

/// `label` then `text` (which may have several lines), wrapped at `room` columns, with
/// continuation lines indented `cont` columns.
pub fn hanging(label: &str, cont: usize, text: &str, room: usize) -> Vec<String> {
    let pad = " ".repeat(cont);
    let rest = room.saturating_sub(cont).max(20);
    let mut out = Vec::new();
    for (i, line) in text_lines(text)
        .iter()
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let first = if i == 0 {
            room.saturating_sub(width(label)).max(20)
        } else {
            rest
        };
        for (j, w) in wrap(line, first, rest).into_iter().enumerate() {
            if i == 0 && j == 0 {
                out.push(format!("{label}{w}"));
            } else {
                out.push(format!("{pad}{w}"));
            }
        }
    }
    if out.is_empty() {
        out.push(label.trim_end().to_owned());
    }
    out
}

/// A description's lines, trimmed at the end.
pub fn text_lines(text: &str) -> Vec<String> {
    text.trim()
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// Wide (CJK) characters take two columns.
pub fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

pub fn width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// Punctuation that must not start a line: it sticks to what precedes it.
pub fn is_closing(c: char) -> bool {
    ",.;:!?)]}、,。;:!?)】」』》".contains(c)
}

/// Wraps one line of text, the first line at `first` columns and the others at `rest`: between
/// words, and between any two wide characters (Chinese has no spaces), never before closing
/// punctuation.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    // (token, preceded by whitespace)
    let mut tokens: Vec<(String, bool)> = Vec::new();
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let glue = !space
            && tokens.last().is_some_and(|(last, _)| {
                is_closing(c) || !(is_wide(c) || last.chars().last().is_some_and(is_wide))
            });
        if glue {
            tokens.last_mut().expect("checked").0.push(c);
        } else {
            tokens.push((c.to_string(), space));
        }
        space = false;
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    for (token, spaced) in tokens {
        let candidate = if line.is_empty() {
            token.clone()
        } else if spaced {
            format!("{line} {token}")
        } else {
            format!("{line}{token}")
        };
        let room = if lines.is_empty() { first } else { rest };
        if width(&candidate) > room && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line = token;
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `{indent}{head}(params){tail}` on one line when it fits in `limit` columns (or has no
/// parameters), else one parameter a line, indented `step` further, each with a trailing comma.
pub fn call_layout(
    indent: &str,
    step: &str,
    head: &str,
    params: &[String],
    tail: &str,
    limit: usize,
) -> String {
    let line = format!("{indent}{head}({}){tail}\n", params.join(", "));
    if width(&line) <= limit + 1 || params.is_empty() {
        return line;
    }
    let mut s = format!("{indent}{head}(\n");
    for p in params {
        s.push_str(&format!("{indent}{step}{p},\n"));
    }
    s.push_str(&format!("{indent}){tail}\n"));
    s
}

/// Documentation lines wrapped to `room` columns for a comment block: each line escaped by
/// `escape` and trimmed; a line too long is wrapped keeping its own indentation (a list item's
/// continuation two columns further); blank lines (paragraph breaks) kept inside, dropped at
/// both ends.
pub fn wrap_block(lines: &[String], room: usize, escape: impl Fn(&str) -> String) -> Vec<String> {
    let mut wrapped: Vec<String> = Vec::new();
    for line in lines {
        let line = escape(line.trim_end());
        if width(&line) <= room {
            wrapped.push(line);
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let (head, body) = line.split_at(lead);
        let cont = lead + if body.starts_with("- ") { 2 } else { 0 };
        let pieces = wrap(body, room.saturating_sub(lead), room.saturating_sub(cont));
        for (i, w) in pieces.into_iter().enumerate() {
            let pad = if i == 0 {
                head.to_owned()
            } else {
                " ".repeat(cont)
            };
            wrapped.push(format!("{pad}{w}"));
        }
    }
    while wrapped.last().is_some_and(String::is_empty) {
        wrapped.pop();
    }
    while wrapped.first().is_some_and(String::is_empty) {
        wrapped.remove(0);
    }
    wrapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_chinese_between_characters_not_before_punctuation() {
        let text = "批次名称,字数上限为21个,一个中文汉字/英文字母/数字均占用一个字数。".repeat(4);
        let lines = wrap(&text, 20, 30);
        assert!(width(&lines[0]) <= 20, "{}", lines[0]);
        for line in &lines {
            assert!(width(line) <= 30, "{line}");
            assert!(!line.starts_with(is_closing), "{line}");
        }
        assert_eq!(lines.concat(), text);
        assert_eq!(wrap("a b  c", 3, 3), vec!["a b", "c"]);
    }
}
