//! What a message can carry besides its text, and the checked values inside: links that can
//! only be http(s), email addresses checked by a real parser, contact details.

use crate::error::{ErrorCode, ProtocolError};
use crate::limits::{MAX_LABEL_CHARS, MAX_NAME_CHARS, MAX_SUGGESTIONS, MAX_SUMMARY_CHARS, MAX_URL_LEN};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bidirectional overrides and invisible characters: in a link they only serve to disguise it.
fn is_disguise(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> ProtocolError {
    ProtocolError::new(code, message)
}

/// An `http:` or `https:` URL, nothing else: no `javascript:`, no `data:`, no spaces, control
/// characters or backslashes (which browsers read as `/`, so a link could point elsewhere than
/// it seems). Safe to put in an `href`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SafeUrl(String);

impl SafeUrl {
    pub fn parse(raw: &str) -> Result<SafeUrl, ProtocolError> {
        let url = raw.trim();
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let rest = if lower.starts_with("https://") {
            &url[8..]
        } else if lower.starts_with("http://") {
            &url[7..]
        } else {
            return Err(invalid(ErrorCode::InvalidUrl, "links are http:// or https:// URLs"));
        };
        let host_ok = rest.split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty());
        if !host_ok || url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\' || is_disguise(c)) {
            return Err(invalid(ErrorCode::InvalidUrl, format!("a link is a full URL of at most {MAX_URL_LEN} bytes")));
        }
        Ok(SafeUrl(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Encrypted on the way (`https:`), or not leaving the machine (`http:` to localhost or a
    /// loopback address, for a receiver under development).
    pub fn is_private_in_transit(&self) -> bool {
        let lower = self.0.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("http://") else { return lower.starts_with("https://") };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        host == "localhost" || host == "::1" || host.strip_prefix("127.").is_some_and(|rest| rest.split('.').count() == 3)
    }
}

impl TryFrom<String> for SafeUrl {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SafeUrl::parse(&value)
    }
}

impl From<SafeUrl> for String {
    fn from(url: SafeUrl) -> String {
        url.0
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked with the `email_address` parser (RFC 5321/5322 rules), trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, ProtocolError> {
        let trimmed = raw.trim();
        // A dot in the domain: "someone@localhost" parses, but no visitor can be reached there.
        let has_dotted_domain = trimmed.rsplit_once('@').is_some_and(|(_, domain)| {
            domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
        if trimmed.len() > 254 || !has_dotted_domain || !email_address::EmailAddress::is_valid(trimmed) {
            return Err(invalid(ErrorCode::InvalidEmail, "that does not look like an email address"));
        }
        Ok(Email(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a short, single-line piece of text (a label, a name, a title).
pub fn short_text(raw: &str, max_chars: usize, what: &str) -> Result<String, ProtocolError> {
    let trimmed = raw.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > max_chars || trimmed.chars().any(char::is_control) {
        return Err(invalid(ErrorCode::InvalidContent, format!("{what} is 1 to {max_chars} characters on one line")));
    }
    Ok(trimmed.to_owned())
}

/// What the visitor told us about themselves. Agents see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Contact {
    /// Checks a name given by the visitor (the email checks itself when parsed).
    pub fn validated(self) -> Result<Contact, ProtocolError> {
        let name = self.name.map(|n| short_text(&n, MAX_NAME_CHARS, "a name")).transpose()?;
        Ok(Contact { email: self.email, name })
    }
}

/// A user the site has signed in, vouched for by the site's server: `user_hash` is the hex
/// HMAC-SHA256 of `user_id` keyed with the site's identity secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub user_hash: String,
}

impl Identity {
    pub fn validated(self) -> Result<Identity, ProtocolError> {
        let user_id = short_text(&self.user_id, 128, "a user id").map_err(|e| ProtocolError::new(ErrorCode::InvalidIdentity, e.message))?;
        let hash = self.user_hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ProtocolError::new(ErrorCode::InvalidIdentity, "user_hash is 64 hex digits"));
        }
        Ok(Identity { user_id, user_hash: hash })
    }
}

/// A rich part of an agent's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Card {
    /// A help-centre article: title, a line or two, and where to read it.
    Article { title: String, summary: String, url: SafeUrl },
    /// A button that takes the visitor somewhere.
    Link { label: String, url: SafeUrl },
}

impl Card {
    /// What the card says in one line (an inbox preview).
    pub fn label(&self) -> &str {
        match self {
            Card::Article { title, .. } => title,
            Card::Link { label, .. } => label,
        }
    }

    pub fn validated(self) -> Result<Card, ProtocolError> {
        Ok(match self {
            Card::Article { title, summary, url } => Card::Article {
                title: short_text(&title, MAX_LABEL_CHARS * 2, "an article title")?,
                summary: {
                    let summary = summary.trim().to_owned();
                    if summary.chars().count() > MAX_SUMMARY_CHARS {
                        return Err(invalid(
                            ErrorCode::InvalidContent,
                            format!("an article summary is at most {MAX_SUMMARY_CHARS} characters"),
                        ));
                    }
                    summary
                },
                url,
            },
            Card::Link { label, url } => Card::Link { label: short_text(&label, MAX_LABEL_CHARS, "a link label")?, url },
        })
    }
}

/// Checks the replies an agent suggests under a message: at most [`MAX_SUGGESTIONS`], each a
/// short label that is sent as the visitor's message when tapped.
pub fn validate_suggestions(suggestions: Vec<String>) -> Result<Vec<String>, ProtocolError> {
    if suggestions.len() > MAX_SUGGESTIONS {
        return Err(invalid(ErrorCode::InvalidContent, format!("at most {MAX_SUGGESTIONS} suggested replies")));
    }
    suggestions.iter().map(|s| short_text(s, MAX_LABEL_CHARS, "a suggested reply")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_links() {
        for ok in ["https://example.com", "http://example.com/a?b=c#d", "HTTPS://EXAMPLE.COM/x"] {
            assert!(SafeUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//example.com",
            "https://",
            "https:///path",
            "https://exa mple.com",
            "https://example.com/\u{202e}txt",
            "http://crm.example\\@127.0.0.1/hook",
            "ftp://example.com",
        ] {
            assert_eq!(SafeUrl::parse(bad).unwrap_err().code, ErrorCode::InvalidUrl, "{bad}");
        }
        assert!(serde_json::from_str::<SafeUrl>(r#""javascript:alert(1)""#).is_err(), "checked when decoded too");
    }

    #[test]
    fn emails_are_parsed_not_guessed() {
        for ok in ["ana@example.com", " ana.maria+chat@mail.example.co.uk ", "o'neil@example.ie"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ana", "ana@", "@example.com", "ana@localhost", "ana@@example.com", "ana @example.com", "<script>@x.com"] {
            assert_eq!(Email::parse(bad).unwrap_err().code, ErrorCode::InvalidEmail, "{bad}");
        }
        assert_eq!(Email::parse("  a@b.co ").unwrap().as_str(), "a@b.co");
    }

    #[test]
    fn cards_and_suggestions_are_checked() {
        let url = SafeUrl::parse("https://help.example.com/returns").unwrap();
        let card = Card::Article { title: " Returns ".into(), summary: "How to return an order.".into(), url: url.clone() };
        assert!(matches!(card.validated().unwrap(), Card::Article { title, .. } if title == "Returns"));
        assert!(Card::Link { label: "".into(), url }.validated().is_err());
        assert!(validate_suggestions(vec!["Yes".into(), "No".into()]).is_ok());
        assert!(validate_suggestions(vec!["x".into(); MAX_SUGGESTIONS + 1]).is_err());
        assert!(validate_suggestions(vec!["line\nbreak".into()]).is_err());
    }
}
