//! Replies by email: what the visitor wrote, without the quoted history, the "On ... wrote:"
//! line and the signature their mail program adds.

/// The new text of a reply, trimmed; empty if the visitor only quoted.
pub fn new_text(reply: &str) -> String {
    let mut kept = Vec::new();
    for line in reply.lines() {
        let trimmed = line.trim_end();
        // The signature separator, and the "-----Original Message-----" style dividers.
        if trimmed == "--" || trimmed == "-- " || line == "-- " || trimmed.starts_with("-----Original Message") {
            break;
        }
        // "On Mon, 1 Jan 2026, Ana <ana@example.com> wrote:" (and its line-wrapped form).
        let lower = trimmed.to_ascii_lowercase();
        if (lower.starts_with("on ") && lower.ends_with("wrote:")) || lower.starts_with("le ") && lower.ends_with("a écrit :") {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        kept.push(trimmed);
    }
    kept.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_new_text_only() {
        let reply = "Thanks, that works!\n\nSee you.\n\nOn Mon, 1 Jan 2026 at 10:00, Demo shop <chat@example.com> wrote:\n> Ana: try again\n> now\n";
        assert_eq!(new_text(reply), "Thanks, that works!\n\nSee you.");
    }

    #[test]
    fn drops_signatures_and_quotes_anywhere() {
        assert_eq!(new_text("> quoted\nmine\n-- \nAna\nCEO"), "mine");
        assert_eq!(new_text("yes\n\n-----Original Message-----\nFrom: x"), "yes");
        assert_eq!(new_text("> only quoted"), "");
    }
}
