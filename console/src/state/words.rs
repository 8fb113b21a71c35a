//! How values read to an agent: who a visitor is, how long ago, how long it took, what an
//! alert means. Pure, tested natively.

use protocol::inbox::Alert;
use protocol::{Contact, EmailStatus, Status};

/// The visitor's name, else their email, else "Visitor".
pub fn contact_label(contact: &Contact) -> String {
    match (&contact.name, &contact.email) {
        (Some(name), _) => name.clone(),
        (None, Some(email)) => email.to_string(),
        (None, None) => "Visitor".into(),
    }
}

/// `now`, `5 min`, `3 h`, `2 d`.
pub fn time_ago(now_ms: f64, then_ms: u64) -> String {
    let minutes = ((now_ms - then_ms as f64) / 60_000.0).max(0.0) as u64;
    match minutes {
        0 => "now".into(),
        1..=59 => format!("{minutes} min"),
        60..=1439 => format!("{} h", minutes / 60),
        _ => format!("{} d", minutes / 1440),
    }
}

/// A duration in seconds as people say it: `45 s`, `3 min`, `1 h 5 min`, `2 d 3 h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", (secs + 30) / 60),
        3600..=86_399 => match (secs / 60) % 60 {
            0 => format!("{} h", secs / 3600),
            minutes => format!("{} h {minutes} min", secs / 3600),
        },
        _ => match (secs / 3600) % 24 {
            0 => format!("{} d", secs / 86_400),
            hours => format!("{} d {hours} h", secs / 86_400),
        },
    }
}

pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Open => "Open",
        Status::Ended => "Ended",
        Status::Blocked => "Blocked",
        Status::Deleted => "Data deleted",
    }
}

pub fn email_status(status: &EmailStatus) -> String {
    match status {
        EmailStatus::NoAddress => "Visitor not reachable by email".into(),
        EmailStatus::Sent { .. } => "Unread replies emailed".into(),
        EmailStatus::Unsubscribed => "Visitor unsubscribed from emails".into(),
        EmailStatus::Failed { reason } => format!("Email could not be sent: {reason}"),
    }
}

/// The relay's words ("only an admin may change this") as the console shows them: a
/// sentence, capitalised and ended.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let Some(first) = chars.next() else { return String::new() };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// What an alert tells the agent. `unanswered_minutes` is the site's setting, when known.
pub fn alert_text(alert: &Alert, unanswered_minutes: Option<u32>) -> String {
    match alert {
        Alert::Assigned => "You were assigned a conversation".into(),
        Alert::Mentioned { by } => format!("{by} mentioned you in a note"),
        Alert::Offered => "A waiting conversation is offered to you".into(),
        Alert::Unanswered => match unanswered_minutes {
            Some(1) => "A visitor has waited 1 minute for an answer".into(),
            Some(minutes) => format!("A visitor has waited {minutes} minutes for an answer"),
            None => "A visitor is waiting for an answer".into(),
        },
        Alert::Returned => "A visitor waited too long for your reply: the conversation was handed on".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AgentName, Email};

    #[test]
    fn contacts_read_naturally() {
        let email = Email::parse("ana@example.com").unwrap();
        assert_eq!(contact_label(&Contact::default()), "Visitor");
        assert_eq!(contact_label(&Contact { email: Some(email.clone()), name: None }), "ana@example.com");
        assert_eq!(contact_label(&Contact { email: Some(email), name: Some("Ana".into()) }), "Ana");
    }

    #[test]
    fn times_and_durations() {
        let now = 10.0 * 86_400_000.0;
        assert_eq!(time_ago(now, (now - 30_000.0) as u64), "now");
        assert_eq!(time_ago(now, (now - 5.0 * 60_000.0) as u64), "5 min");
        assert_eq!(time_ago(now, (now - 3.0 * 3_600_000.0) as u64), "3 h");
        assert_eq!(time_ago(now, (now - 2.0 * 86_400_000.0) as u64), "2 d");
        assert_eq!(time_ago(now, (now + 5_000.0) as u64), "now");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(179), "3 min");
        assert_eq!(duration(3_900), "1 h 5 min");
        assert_eq!(duration(7_200), "2 h");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2 d 3 h");
    }

    #[test]
    fn the_relays_words_read_as_sentences() {
        assert_eq!(sentence("only an admin may change this"), "Only an admin may change this.");
        assert_eq!(sentence("Ana is responsible for this conversation: write a private note instead"), "Ana is responsible for this conversation: write a private note instead.");
        assert_eq!(sentence("ébauche?"), "Ébauche?");
        assert_eq!(sentence("  "), "");
    }

    #[test]
    fn alerts_say_what_happened() {
        let by = AgentName::parse("Bo").unwrap();
        assert_eq!(alert_text(&Alert::Mentioned { by }, None), "Bo mentioned you in a note");
        assert_eq!(alert_text(&Alert::Unanswered, Some(10)), "A visitor has waited 10 minutes for an answer");
    }
}
