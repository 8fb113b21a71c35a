//! Who gets a conversation: round robin among online agents below their chat limit. Pure
//! functions over the site's view of its agents, so the rules are tested without a relay.

use protocol::inbox::{AgentPresence, InboxSettings};
use protocol::{AgentId, InboxEntry};

/// What an open conversation's time limit calls for, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimit {
    /// Nobody accepted it: offer it to the next agent at this time.
    Offer(u64),
    /// The responsible agent left the visitor unread: alert everyone at this time.
    Alert(u64),
}

impl TimeLimit {
    pub fn at(self) -> u64 {
        match self {
            TimeLimit::Offer(at) | TimeLimit::Alert(at) => at,
        }
    }
}

/// The time limit an open conversation runs against, if any: a waiting one against the accept
/// timeout (counted again from its last offer), an assigned one with unread visitor messages
/// against the unanswered alert (once per unread batch).
pub fn time_limit(
    settings: &InboxSettings,
    minute_ms: u64,
    entry: &InboxEntry,
    unread_since: Option<u64>,
    offered_at: Option<u64>,
    alerted_at: Option<u64>,
) -> Option<TimeLimit> {
    match (&entry.assignee, settings.accept_timeout_minutes) {
        (None, Some(minutes)) => Some(TimeLimit::Offer(offered_at.unwrap_or(entry.created_at) + minutes as u64 * minute_ms)),
        (Some(_), _) => {
            let since = unread_since?;
            if alerted_at.is_some_and(|at| at >= since) {
                return None;
            }
            Some(TimeLimit::Alert(since + settings.unanswered_alert_minutes as u64 * minute_ms))
        }
        _ => None,
    }
}

/// The next agent after `last` (in id order, wrapping) who is online and below the limit.
pub fn next_agent<'a>(agents: &'a [AgentPresence], last: Option<&AgentId>) -> Option<&'a AgentPresence> {
    let mut candidates: Vec<&AgentPresence> = agents.iter().filter(|a| a.online && !a.at_limit).collect();
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    let after_last = last.and_then(|last| candidates.iter().position(|a| &a.id > last));
    match (after_last, last) {
        (Some(i), _) => Some(candidates[i]),
        _ => candidates.first().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::AgentName;

    fn agent(n: u8, online: bool, at_limit: bool) -> AgentPresence {
        AgentPresence {
            id: AgentId::parse(&format!("ag-{n:016x}")).unwrap(),
            name: AgentName::parse(&format!("A{n}")).unwrap(),
            online,
            open_chats: 0,
            at_limit,
        }
    }

    #[test]
    fn takes_turns_and_wraps() {
        let agents = [agent(3, true, false), agent(1, true, false), agent(2, true, false)];
        let mut last = None;
        let mut order = Vec::new();
        for _ in 0..4 {
            let next = next_agent(&agents, last.as_ref()).unwrap();
            order.push(next.name.as_str().to_owned());
            last = Some(next.id.clone());
        }
        assert_eq!(order, ["A1", "A2", "A3", "A1"]);
    }

    #[test]
    fn time_limits_count_from_the_right_moment_and_alert_once_per_batch() {
        let settings = InboxSettings { accept_timeout_minutes: Some(2), unanswered_alert_minutes: 10, ..InboxSettings::default() };
        let mut entry = InboxEntry {
            conversation_id: protocol::ConversationId::parse(&"0a".repeat(32)).unwrap(),
            status: protocol::Status::Open,
            assignee: None,
            contact: protocol::Contact::default(),
            created_at: 1_000,
            updated_at: 1_000,
            last_seq: 1,
            unread: 1,
            preview: String::new(),
            first_response_at: None,
            page_url: None,
            browser: None,
        };
        assert_eq!(time_limit(&settings, 1, &entry, Some(1_000), None, None), Some(TimeLimit::Offer(1_002)));
        assert_eq!(time_limit(&settings, 1, &entry, Some(1_000), Some(5_000), None), Some(TimeLimit::Offer(5_002)), "again after an offer");
        let no_timeout = InboxSettings { accept_timeout_minutes: None, ..settings.clone() };
        assert_eq!(time_limit(&no_timeout, 1, &entry, Some(1_000), None, None), None);

        entry.assignee = Some(protocol::Assignee { id: agent(1, true, false).id, name: AgentName::parse("A1").unwrap() });
        assert_eq!(time_limit(&settings, 1, &entry, Some(3_000), None, None), Some(TimeLimit::Alert(3_010)));
        assert_eq!(time_limit(&settings, 1, &entry, None, None, None), None, "nothing unread");
        assert_eq!(time_limit(&settings, 1, &entry, Some(3_000), None, Some(3_020)), None, "this batch was alerted");
        assert_eq!(time_limit(&settings, 1, &entry, Some(4_000), None, Some(3_020)), Some(TimeLimit::Alert(4_010)), "a new batch");
    }

    #[test]
    fn skips_offline_and_full_agents() {
        let agents = [agent(1, true, true), agent(2, false, false), agent(3, true, false)];
        assert_eq!(next_agent(&agents, None).unwrap().name.as_str(), "A3");
        let full = [agent(1, true, true), agent(2, false, false)];
        assert!(next_agent(&full, None).is_none());
    }
}
