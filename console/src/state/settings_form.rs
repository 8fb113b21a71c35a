//! The site settings form: the widget's settings and the inbox's routing as the text the
//! inputs hold, and back. Only what a form cannot hold as typed is checked here (numbers,
//! the fallback link); the relay checks the rest and says what is wrong.

use protocol::inbox::InboxSettings;
use protocol::site::{EmailCapture, Fallback, Position, QuickAction, QuickReply, Theme, WidgetSettings};
use protocol::SafeUrl;

/// A quick reply in the form: one that sends text is edited as label and text; links and
/// menus are kept as they are, in their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickRow {
    Send { label: String, text: String },
    Kept(QuickReply),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsForm {
    pub site_name: String,
    pub title: String,
    pub greeting: String,
    pub color: String,
    pub position: Position,
    pub theme: Theme,
    pub email_capture: EmailCapture,
    pub async_mode: bool,
    pub fallback_message: String,
    pub fallback_link: String,
    pub fallback_link_label: String,
    pub reply_time_minutes: String,
    pub sound: bool,
    pub email_delay_seconds: String,
    pub retention_days: String,
    pub identity_verification: bool,
    /// One origin a line.
    pub allowed_origins: String,
    /// Numbered, so rows keep their identity when others are removed.
    pub quick_replies: Vec<(u32, QuickRow)>,
    pub auto_assign: bool,
    pub max_chats_per_agent: String,
    pub accept_timeout_minutes: String,
    pub unanswered_alert_minutes: String,
    pub reply_timeout_minutes: String,
    pub auto_close_minutes: String,
}

fn optional_number(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn number(raw: &str, what: &str) -> Result<u32, String> {
    raw.trim().parse().map_err(|_| format!("{what} must be a whole number."))
}

fn optional(raw: &str, what: &str) -> Result<Option<u32>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        number(raw, what).map(Some)
    }
}

fn optional_text(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

impl SettingsForm {
    pub fn new(widget: &WidgetSettings, inbox: &InboxSettings) -> SettingsForm {
        let quick_replies = widget
            .quick_replies
            .iter()
            .map(|reply| match &reply.action {
                QuickAction::Send { text } => QuickRow::Send { label: reply.label.clone(), text: text.clone() },
                _ => QuickRow::Kept(reply.clone()),
            })
            .zip(0..)
            .map(|(row, id)| (id, row))
            .collect();
        SettingsForm {
            site_name: widget.site_name.clone(),
            title: widget.title.clone(),
            greeting: widget.greeting.clone(),
            color: widget.color.clone(),
            position: widget.position,
            theme: widget.theme,
            email_capture: widget.email_capture,
            async_mode: widget.async_mode,
            fallback_message: widget.fallback.message.clone(),
            fallback_link: widget.fallback.link.as_ref().map(SafeUrl::to_string).unwrap_or_default(),
            fallback_link_label: widget.fallback.link_label.clone().unwrap_or_default(),
            reply_time_minutes: optional_number(widget.reply_time_minutes),
            sound: widget.sound,
            email_delay_seconds: widget.email_delay_seconds.to_string(),
            retention_days: optional_number(widget.retention_days),
            identity_verification: widget.identity_verification,
            allowed_origins: widget.allowed_origins.join("\n"),
            quick_replies,
            auto_assign: inbox.auto_assign,
            max_chats_per_agent: inbox.max_chats_per_agent.to_string(),
            accept_timeout_minutes: optional_number(inbox.accept_timeout_minutes),
            unanswered_alert_minutes: inbox.unanswered_alert_minutes.to_string(),
            reply_timeout_minutes: optional_number(inbox.reply_timeout_minutes),
            auto_close_minutes: inbox.auto_close_minutes.to_string(),
        }
    }

    pub fn add_quick_reply(&mut self) {
        let id = self.quick_replies.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
        self.quick_replies.push((id, QuickRow::Send { label: String::new(), text: String::new() }));
    }

    pub fn widget_settings(&self) -> Result<WidgetSettings, String> {
        let link = optional_text(&self.fallback_link)
            .map(|url| SafeUrl::parse(&url).map_err(|e| format!("Fallback link: {}", e.message)))
            .transpose()?;
        Ok(WidgetSettings {
            site_name: self.site_name.trim().to_owned(),
            title: self.title.trim().to_owned(),
            greeting: self.greeting.trim().to_owned(),
            color: self.color.trim().to_owned(),
            position: self.position,
            theme: self.theme,
            email_capture: self.email_capture,
            async_mode: self.async_mode,
            fallback: Fallback {
                message: self.fallback_message.trim().to_owned(),
                link,
                link_label: optional_text(&self.fallback_link_label),
            },
            quick_replies: self
                .quick_replies
                .iter()
                .map(|(_, row)| match row {
                    QuickRow::Send { label, text } => QuickReply {
                        label: label.trim().to_owned(),
                        action: QuickAction::Send { text: text.trim().to_owned() },
                    },
                    QuickRow::Kept(reply) => reply.clone(),
                })
                .collect(),
            reply_time_minutes: optional(&self.reply_time_minutes, "The reply time")?,
            sound: self.sound,
            email_delay_seconds: number(&self.email_delay_seconds, "The email delay")?,
            retention_days: optional(&self.retention_days, "The retention")?,
            identity_verification: self.identity_verification,
            allowed_origins: self.allowed_origins.lines().filter_map(optional_text).collect(),
        })
    }

    pub fn inbox_settings(&self) -> Result<InboxSettings, String> {
        Ok(InboxSettings {
            auto_assign: self.auto_assign,
            max_chats_per_agent: number(&self.max_chats_per_agent, "The chat limit per agent")?,
            accept_timeout_minutes: optional(&self.accept_timeout_minutes, "The accept timeout")?,
            unanswered_alert_minutes: number(&self.unanswered_alert_minutes, "The unanswered alert")?,
            reply_timeout_minutes: optional(&self.reply_timeout_minutes, "The reply timeout")?,
            auto_close_minutes: number(&self.auto_close_minutes, "The auto-close period")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_links_and_menus_in_place() {
        let link = QuickReply { label: "Docs".into(), action: QuickAction::Url { url: SafeUrl::parse("https://docs.example.com").unwrap() } };
        let widget = WidgetSettings {
            quick_replies: vec![
                QuickReply { label: "Price".into(), action: QuickAction::Send { text: "How much?".into() } },
                link.clone(),
            ],
            allowed_origins: vec!["https://a.example".into(), "https://b.example".into()],
            retention_days: Some(30),
            ..WidgetSettings::default()
        };
        let inbox = InboxSettings { accept_timeout_minutes: Some(5), reply_timeout_minutes: Some(20), ..InboxSettings::default() };
        let mut form = SettingsForm::new(&widget, &inbox);
        assert_eq!(form.widget_settings().unwrap(), widget);
        assert_eq!(form.inbox_settings().unwrap(), inbox);

        form.add_quick_reply();
        if let (_, QuickRow::Send { label, text }) = &mut form.quick_replies[2] {
            *label = "Hours".into();
            *text = "When are you open?".into();
        }
        form.quick_replies.remove(0);
        let replies = form.widget_settings().unwrap().quick_replies;
        assert_eq!(replies[0], link);
        assert_eq!(replies[1].label, "Hours");
    }

    #[test]
    fn says_which_number_is_wrong() {
        let mut form = SettingsForm::new(&WidgetSettings::default(), &InboxSettings::default());
        form.max_chats_per_agent = "five".into();
        assert_eq!(form.inbox_settings().unwrap_err(), "The chat limit per agent must be a whole number.");
        form.fallback_link = "javascript:alert(1)".into();
        assert!(form.widget_settings().unwrap_err().starts_with("Fallback link:"));
        form.retention_days = " ".into();
        form.fallback_link = String::new();
        assert_eq!(form.widget_settings().unwrap().retention_days, None);
    }
}
