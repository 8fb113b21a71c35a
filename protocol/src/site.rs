//! A site's widget settings: how the widget looks and behaves. Admins set them; the widget
//! reads them (with the live availability) when it opens.

use crate::content::{short_text, SafeUrl};
use crate::error::{ErrorCode, ProtocolError};
use crate::limits::{MAX_FLOW_DEPTH, MAX_LABEL_CHARS, MAX_QUICK_REPLIES, MAX_SITE_TEXT_CHARS};
use serde::{Deserialize, Serialize};

/// When the widget asks for the visitor's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailCapture {
    /// Never asks (the visitor may still give it through `identify`).
    Off,
    /// Before the first message.
    PreChat,
    /// After the first message, when no agent is online.
    InChat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Right,
    Left,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follows the visitor's `prefers-color-scheme`.
    Auto,
    Light,
    Dark,
}

/// A button the site offers in the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReply {
    pub label: String,
    pub action: QuickAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuickAction {
    /// Sends `text` as the visitor's message.
    Send { text: String },
    /// Opens a page.
    Url { url: SafeUrl },
    /// Shows another set of quick replies.
    Flow { replies: Vec<QuickReply> },
}

/// What the widget shows instead of a dead chat when nobody is online and async is off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<SafeUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetSettings {
    /// The site's name, as visitors know it.
    pub site_name: String,
    /// Panel heading.
    pub title: String,
    /// First line in every conversation, from the site (not stored as a message).
    pub greeting: String,
    /// Accent colour, `#rrggbb`.
    pub color: String,
    pub position: Position,
    pub theme: Theme,
    pub email_capture: EmailCapture,
    /// Nobody online: let visitors write anyway, answer by email.
    pub async_mode: bool,
    pub fallback: Fallback,
    pub quick_replies: Vec<QuickReply>,
    /// "Typically replies in N minutes", when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_time_minutes: Option<u32>,
    /// A short sound for new agent messages while the panel is closed or the tab hidden.
    pub sound: bool,
    /// How long an agent's reply may stay unread before it goes out by email.
    #[serde(default = "default_email_delay")]
    pub email_delay_seconds: u32,
    /// Closed (ended or blocked) conversations are erased this many days after they close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Every conversation needs the site's signed-in user, vouched for by the site's server.
    #[serde(default)]
    pub identity_verification: bool,
    /// Origins allowed to embed the widget (`https://shop.example`); empty allows any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

/// `scheme://host[:port]`, lowercase, nothing after the authority.
pub fn parse_origin(raw: &str) -> Result<String, ProtocolError> {
    let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    let valid = rest.is_some_and(|authority| {
        !authority.is_empty() && authority.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    });
    if valid {
        Ok(origin)
    } else {
        Err(ProtocolError::new(ErrorCode::InvalidContent, format!("\"{raw}\" is not an origin like https://shop.example")))
    }
}

impl WidgetSettings {
    /// Whether a page on `origin` may embed this site's widget.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty() || parse_origin(origin).is_ok_and(|o| self.allowed_origins.contains(&o))
    }
}

fn default_email_delay() -> u32 {
    600
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            site_name: "Demo shop".into(),
            title: "Chat with us".into(),
            greeting: "Hi! Ask us anything — we usually answer within minutes.".into(),
            color: "#1f5fbf".into(),
            position: Position::Right,
            theme: Theme::Auto,
            email_capture: EmailCapture::InChat,
            async_mode: true,
            fallback: Fallback {
                message: "We are away right now. Write to us and we will answer by email.".into(),
                link: None,
                link_label: None,
            },
            quick_replies: Vec::new(),
            reply_time_minutes: None,
            sound: false,
            email_delay_seconds: default_email_delay(),
            retention_days: None,
            identity_verification: false,
            allowed_origins: Vec::new(),
        }
    }
}

/// A day: a longer "typically replies in" says nothing a visitor can wait for.
pub const MAX_REPLY_TIME_MINUTES: u32 = 24 * 60;

fn site_text(raw: &str, what: &str) -> Result<String, ProtocolError> {
    let text = raw.trim();
    if text.chars().count() > MAX_SITE_TEXT_CHARS {
        return Err(ProtocolError::new(ErrorCode::InvalidContent, format!("{what} is at most {MAX_SITE_TEXT_CHARS} characters")));
    }
    Ok(text.to_owned())
}

fn validate_replies(replies: Vec<QuickReply>, depth: usize) -> Result<Vec<QuickReply>, ProtocolError> {
    if replies.len() > MAX_QUICK_REPLIES || depth > MAX_FLOW_DEPTH {
        return Err(ProtocolError::new(
            ErrorCode::InvalidContent,
            format!("at most {MAX_QUICK_REPLIES} quick replies per level, {MAX_FLOW_DEPTH} levels deep"),
        ));
    }
    replies
        .into_iter()
        .map(|reply| {
            let label = short_text(&reply.label, MAX_LABEL_CHARS, "a quick reply label")?;
            let action = match reply.action {
                QuickAction::Send { text } => QuickAction::Send { text: crate::frames::validate_body(&text)? },
                QuickAction::Url { url } => QuickAction::Url { url },
                // Opening an empty flow would show the visitor nothing to choose.
                QuickAction::Flow { replies } if replies.is_empty() => {
                    return Err(ProtocolError::new(ErrorCode::InvalidContent, format!("the flow \"{label}\" has no replies")));
                }
                QuickAction::Flow { replies } => QuickAction::Flow { replies: validate_replies(replies, depth + 1)? },
            };
            Ok(QuickReply { label, action })
        })
        .collect()
}

impl WidgetSettings {
    /// Checks every field an admin can set.
    pub fn validated(self) -> Result<WidgetSettings, ProtocolError> {
        let color = self.color.trim().to_ascii_lowercase();
        if color.len() != 7 || !color.starts_with('#') || !color[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ProtocolError::new(ErrorCode::InvalidContent, "the colour is #rrggbb"));
        }
        if self.reply_time_minutes.is_some_and(|minutes| !(1..=MAX_REPLY_TIME_MINUTES).contains(&minutes)) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidContent,
                format!("the typical reply time is 1 to {MAX_REPLY_TIME_MINUTES} minutes"),
            ));
        }
        Ok(WidgetSettings {
            site_name: short_text(&self.site_name, MAX_LABEL_CHARS, "the site name")?,
            title: short_text(&self.title, MAX_LABEL_CHARS, "the title")?,
            greeting: site_text(&self.greeting, "the greeting")?,
            color,
            fallback: Fallback {
                message: site_text(&self.fallback.message, "the fallback message")?,
                link_label: self.fallback.link_label.map(|l| short_text(&l, MAX_LABEL_CHARS, "the fallback link label")).transpose()?,
                link: self.fallback.link,
            },
            quick_replies: validate_replies(self.quick_replies, 1)?,
            allowed_origins: self.allowed_origins.iter().map(|o| parse_origin(o)).collect::<Result<_, _>>()?,
            ..self
        })
    }
}

/// Answer to `GET /api/sites/{site}/widget`: the settings and whether an agent is online now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteView {
    pub settings: WidgetSettings,
    pub agents_online: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let settings = WidgetSettings::default().validated().unwrap();
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(serde_json::from_str::<WidgetSettings>(&json).unwrap(), settings);
    }

    #[test]
    fn origins_are_normalised_and_matched_exactly() {
        assert_eq!(parse_origin("HTTPS://Shop.Example/").unwrap(), "https://shop.example");
        assert!(parse_origin("https://shop.example/page").is_err());
        assert!(parse_origin("javascript:alert(1)").is_err());
        let settings = WidgetSettings { allowed_origins: vec!["https://shop.example".into()], ..WidgetSettings::default() };
        assert!(settings.allows_origin("https://shop.example"));
        assert!(!settings.allows_origin("https://shop.example.evil.com"));
        assert!(!settings.allows_origin("http://shop.example"));
        assert!(WidgetSettings::default().allows_origin("https://anywhere.example"));
    }

    #[test]
    fn settings_are_checked() {
        let bad_colour = WidgetSettings { color: "red".into(), ..WidgetSettings::default() };
        assert_eq!(bad_colour.validated().unwrap_err().code, ErrorCode::InvalidContent);
        for (minutes, valid) in [(0, false), (1, true), (MAX_REPLY_TIME_MINUTES, true), (MAX_REPLY_TIME_MINUTES + 1, false)] {
            let settings = WidgetSettings { reply_time_minutes: Some(minutes), ..WidgetSettings::default() };
            assert_eq!(settings.validated().is_ok(), valid, "{minutes} minutes");
        }

        let last = vec![QuickReply { label: "Thanks".into(), action: QuickAction::Send { text: "Thanks".into() } }];
        let deep = (0..MAX_FLOW_DEPTH).fold(last.clone(), |inner, _| {
            vec![QuickReply { label: "more".into(), action: QuickAction::Flow { replies: inner } }]
        });
        let too_deep = WidgetSettings { quick_replies: deep, ..WidgetSettings::default() };
        assert!(too_deep.validated().is_err());
        let deep_enough = (1..MAX_FLOW_DEPTH).fold(last, |inner, _| {
            vec![QuickReply { label: "more".into(), action: QuickAction::Flow { replies: inner } }]
        });
        assert!(WidgetSettings { quick_replies: deep_enough, ..WidgetSettings::default() }.validated().is_ok());
        let empty_flow = vec![QuickReply { label: "Shipping".into(), action: QuickAction::Flow { replies: vec![] } }];
        let refused = WidgetSettings { quick_replies: empty_flow, ..WidgetSettings::default() }.validated().unwrap_err();
        assert_eq!(refused.message, "the flow \"Shipping\" has no replies");

        let quick = vec![
            QuickReply { label: "Pricing".into(), action: QuickAction::Send { text: "How much is it?".into() } },
            QuickReply { label: "Docs".into(), action: QuickAction::Url { url: SafeUrl::parse("https://docs.example.com").unwrap() } },
        ];
        assert!(WidgetSettings { quick_replies: quick, ..WidgetSettings::default() }.validated().is_ok());
        let js = r#"{"label":"x","action":{"kind":"url","url":"javascript:alert(1)"}}"#;
        assert!(serde_json::from_str::<QuickReply>(js).is_err());
    }
}
