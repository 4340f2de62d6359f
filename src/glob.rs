//! Glob-style matching identical to Redis's `stringmatchlen`: `*`, `?`,
//! `[abc]`, `[^a-z]`, and `\` escapes, optionally case-insensitive.

/// Returns true if `string` matches `pattern`.
///
/// ```
/// use ferrokv::glob::glob_match;
/// assert!(glob_match(b"user:[0-9]*", b"user:42", false));
/// assert!(!glob_match(b"h?llo", b"hllo", false));
/// assert!(glob_match(b"HELLO", b"hello", true));
/// ```
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

fn lower(c: u8, nocase: bool) -> u8 {
    if nocase { c.to_ascii_lowercase() } else { c }
}

fn match_impl(
    mut pattern: &[u8],
    mut string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    // Like Redis, refuse absurd nesting of `*` so a hostile pattern cannot
    // take exponential time or blow the stack.
    if nesting > 1000 {
        return false;
    }
    while !pattern.is_empty() && !string.is_empty() {
        match pattern[0] {
            b'*' => {
                while pattern.len() > 1 && pattern[1] == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !string.is_empty() {
                    if match_impl(&pattern[1..], string, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    string = &string[1..];
                }
                // No match for the rest of the pattern at any offset: a
                // longer string cannot match either.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                string = &string[1..];
            }
            b'[' => {
                pattern = &pattern[1..];
                let not = pattern.first() == Some(&b'^');
                if not {
                    pattern = &pattern[1..];
                }
                let mut matched = false;
                loop {
                    if pattern.first() == Some(&b'\\') && pattern.len() >= 2 {
                        pattern = &pattern[1..];
                        if pattern[0] == string[0] {
                            matched = true;
                        }
                    } else if pattern.first() == Some(&b']') {
                        break;
                    } else if pattern.is_empty() {
                        // An unterminated class: step back so the outer
                        // loop's advance lands on the end.
                        break;
                    } else if pattern.len() >= 3 && pattern[1] == b'-' {
                        let mut start = lower(pattern[0], nocase);
                        let mut end = lower(pattern[2], nocase);
                        let c = lower(string[0], nocase);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        pattern = &pattern[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if lower(pattern[0], nocase) == lower(string[0], nocase) {
                        matched = true;
                    }
                    pattern = &pattern[1..];
                }
                let matched = if not { !matched } else { matched };
                if !matched {
                    return false;
                }
                string = &string[1..];
                if pattern.is_empty() {
                    // Redis's pointer arithmetic ends here with the
                    // pattern exhausted.
                    return string.is_empty();
                }
            }
            b'\\' if pattern.len() >= 2 => {
                pattern = &pattern[1..];
                if lower(pattern[0], nocase) != lower(string[0], nocase) {
                    return false;
                }
                string = &string[1..];
            }
            c => {
                if lower(c, nocase) != lower(string[0], nocase) {
                    return false;
                }
                string = &string[1..];
            }
        }
        pattern = &pattern[1..];
        if string.is_empty() {
            while pattern.first() == Some(&b'*') {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && string.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        assert!(m("*", "anything"));
        // As in Redis, the loop never runs for an empty string.
        assert!(!m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("user:*", "user:1"));
        assert!(!m("", "a"));
        assert!(m("a*", "a"));
        assert!(glob_match(b"HELLO", b"hello", true));
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let p = "a*".repeat(50) + "b";
        let s = "a".repeat(100);
        assert!(!m(&p, &s));
    }
}
