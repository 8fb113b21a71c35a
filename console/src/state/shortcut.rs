//! The composer's `//` shortcut: `//` at the start of a word, then part of a canned
//! response's name or text, opens the canned responses menu; choosing one replaces the
//! `//query` with the response. Pure text handling, tested natively.

/// A `//query` the agent is typing, as byte offsets into the draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut {
    pub start: usize,
    pub end: usize,
    pub query: String,
}

/// The shortcut that ends at the caret (a byte offset), if one is being typed.
pub fn shortcut_at(text: &str, caret: usize) -> Option<Shortcut> {
    let before = text.get(..caret)?;
    let start = before.rfind("//")?;
    // Only at the start of a word, so that a link (https://) never opens the menu.
    if !before[..start].chars().next_back().is_none_or(char::is_whitespace) {
        return None;
    }
    let query = &before[start + 2..];
    (!query.contains('\n')).then(|| Shortcut { start, end: caret, query: query.to_owned() })
}

/// The draft with the shortcut replaced by `replacement`, and the caret (bytes) after it.
pub fn apply(text: &str, shortcut: &Shortcut, replacement: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len() + replacement.len());
    out.push_str(&text[..shortcut.start]);
    out.push_str(replacement);
    let caret = out.len();
    out.push_str(&text[shortcut.end..]);
    (out, caret)
}

/// A textarea's caret counts UTF-16 code units; Rust strings count bytes.
pub fn utf16_to_byte(text: &str, units: u32) -> usize {
    let mut seen = 0;
    for (at, c) in text.char_indices() {
        if seen >= units as usize {
            return at;
        }
        seen += c.len_utf16();
    }
    text.len()
}

pub fn byte_to_utf16(text: &str, byte: usize) -> u32 {
    text.get(..byte).unwrap_or(text).encode_utf16().count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_at_the_start_of_a_word_only() {
        let at_end = |t: &str| shortcut_at(t, t.len()).map(|s| s.query);
        assert_eq!(at_end("//ref"), Some("ref".into()));
        assert_eq!(at_end("Hello //ref po"), Some("ref po".into()));
        assert_eq!(at_end("//"), Some(String::new()));
        assert_eq!(at_end("see https://example"), None);
        assert_eq!(at_end("//ref\nmore"), None);
        assert_eq!(at_end("plain text"), None);
    }

    #[test]
    fn replaces_only_the_shortcut() {
        let text = "Hi //ref and more";
        let shortcut = shortcut_at(text, "Hi //ref".len()).unwrap();
        let (out, caret) = apply(text, &shortcut, "Refunds take 5 days.");
        assert_eq!(out, "Hi Refunds take 5 days. and more");
        assert_eq!(&out[..caret], "Hi Refunds take 5 days.");
    }

    #[test]
    fn caret_offsets_survive_wide_characters() {
        let text = "é😀 //x";
        let byte = utf16_to_byte(text, byte_to_utf16(text, text.len()));
        assert_eq!(byte, text.len());
        assert_eq!(utf16_to_byte(text, 1), "é".len());
        assert_eq!(byte_to_utf16(text, "é😀".len()), 3);
    }
}
