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
    /// The responsible agent left the visitor without a reply: hand it on at this time.
    Return(u64),
}

impl TimeLimit {
    pub fn at(self) -> u64 {
        match self {
            TimeLimit::Offer(at) | TimeLimit::Alert(at) | TimeLimit::Return(at) => at,
        }
    }
}

/// What an open conversation's time limits count from, epoch ms. `None`: never, or not now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clocks {
    /// The oldest visitor message no agent has read.
    pub unread_since: Option<u64>,
    /// The oldest visitor message no agent has replied to.
    pub waiting_since: Option<u64>,
    /// When the current responsibility began: assigned to this agent, or back in the queue.
    pub responsible_since: Option<u64>,
    /// When it was last offered to an agent (waiting ones).
    pub offered_at: Option<u64>,
    /// When the agents were last alerted about its unread messages.
    pub alerted_at: Option<u64>,
}

/// The time limit an open conversation runs against next, if any. A waiting one: the accept
/// timeout, counted again from its last offer or its return to the queue. An assigned one:
/// the unanswered alert (once per unread batch) and the reply timeout, counted from the
/// visitor's oldest unread (unanswered) message but never from before the agent took it on.
pub fn time_limit(settings: &InboxSettings, minute_ms: u64, entry: &InboxEntry, clocks: &Clocks) -> Option<TimeLimit> {
    if entry.bot {
        // The site's bot has it: no agent is late until it hands it over.
        return None;
    }
    let after = |since: u64, minutes: u32| since + minutes as u64 * minute_ms;
    match &entry.assignee {
        None => {
            let since = clocks.offered_at.max(clocks.responsible_since).unwrap_or(entry.created_at);
            settings.accept_timeout_minutes.map(|minutes| TimeLimit::Offer(after(since, minutes)))
        }
        Some(_) => {
            let alert = clocks
                .unread_since
                .filter(|&since| clocks.alerted_at.is_none_or(|at| at < since))
                .map(|since| TimeLimit::Alert(after(since.max(clocks.responsible_since.unwrap_or(0)), settings.unanswered_alert_minutes)));
            let give_back = clocks.waiting_since.zip(settings.reply_timeout_minutes).map(|(since, minutes)| {
                TimeLimit::Return(after(since.max(clocks.responsible_since.unwrap_or(0)), minutes))
            });
            [alert, give_back].into_iter().flatten().min_by_key(|limit| limit.at())
        }
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

    fn entry(created_at: u64) -> InboxEntry {
        InboxEntry {
            conversation_id: protocol::ConversationId::parse(&"0a".repeat(32)).unwrap(),
            status: protocol::Status::Open,
            assignee: None,
            contact: protocol::Contact::default(),
            created_at,
            updated_at: created_at,
            last_seq: 1,
            unread: 1,
            preview: String::new(),
            first_response_at: None,
            first_response_secs: None,
            ended_at: None,
            page_url: None,
            browser: None,
            bot: false,
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
        let mut entry = entry(1_000);
        let unread = |since: u64| Clocks { unread_since: Some(since), waiting_since: Some(since), ..Clocks::default() };
        assert_eq!(time_limit(&settings, 1, &entry, &unread(1_000)), Some(TimeLimit::Offer(1_002)));
        let offered = Clocks { offered_at: Some(5_000), ..unread(1_000) };
        assert_eq!(time_limit(&settings, 1, &entry, &offered), Some(TimeLimit::Offer(5_002)), "again after an offer");
        let returned = Clocks { responsible_since: Some(7_000), ..offered };
        assert_eq!(time_limit(&settings, 1, &entry, &returned), Some(TimeLimit::Offer(7_002)), "again once back in the queue");
        let no_timeout = InboxSettings { accept_timeout_minutes: None, ..settings.clone() };
        assert_eq!(time_limit(&no_timeout, 1, &entry, &unread(1_000)), None);

        entry.assignee = Some(protocol::Assignee { id: agent(1, true, false).id, name: AgentName::parse("A1").unwrap() });
        assert_eq!(time_limit(&settings, 1, &entry, &unread(3_000)), Some(TimeLimit::Alert(3_010)));
        assert_eq!(time_limit(&settings, 1, &entry, &Clocks::default()), None, "nothing unread");
        let alerted = |at: u64| Clocks { alerted_at: Some(at), ..unread(3_000) };
        assert_eq!(time_limit(&settings, 1, &entry, &alerted(3_020)), None, "this batch was alerted");
        assert_eq!(time_limit(&settings, 1, &entry, &Clocks { unread_since: Some(4_000), ..alerted(3_020) }), Some(TimeLimit::Alert(4_010)), "a new batch");
        // Taken on long after the visitor wrote: the agent has their ten minutes from then.
        let taken_late = Clocks { responsible_since: Some(9_000), ..unread(3_000) };
        assert_eq!(time_limit(&settings, 1, &entry, &taken_late), Some(TimeLimit::Alert(9_010)));
    }

    #[test]
    fn an_unanswered_visitor_takes_the_conversation_back_from_its_agent() {
        let settings = InboxSettings { unanswered_alert_minutes: 10, reply_timeout_minutes: Some(4), ..InboxSettings::default() };
        let mut entry = entry(1_000);
        entry.assignee = Some(protocol::Assignee { id: agent(1, true, false).id, name: AgentName::parse("A1").unwrap() });
        // Read but not answered: only the reply timeout runs.
        let read = Clocks { waiting_since: Some(2_000), responsible_since: Some(1_500), ..Clocks::default() };
        assert_eq!(time_limit(&settings, 1, &entry, &read), Some(TimeLimit::Return(2_004)));
        // Unread and unanswered: whichever comes first.
        let unread = Clocks { unread_since: Some(2_000), ..read };
        assert_eq!(time_limit(&settings, 1, &entry, &unread), Some(TimeLimit::Return(2_004)));
        let slow_return = InboxSettings { reply_timeout_minutes: Some(30), ..settings.clone() };
        assert_eq!(time_limit(&slow_return, 1, &entry, &unread), Some(TimeLimit::Alert(2_010)));
        // An agent who just took it on gets the whole period, however long the visitor waited.
        let taken_on = Clocks { responsible_since: Some(9_000), ..read };
        assert_eq!(time_limit(&settings, 1, &entry, &taken_on), Some(TimeLimit::Return(9_004)));
        // The site's bot has it: no agent is late, whatever the clocks say.
        let with_bot = InboxEntry { bot: true, assignee: None, ..entry.clone() };
        let accept = InboxSettings { accept_timeout_minutes: Some(1), ..settings.clone() };
        assert_eq!(time_limit(&accept, 1, &with_bot, &read), None);
        // Answered, or no reply timeout: nothing to hand on.
        assert_eq!(time_limit(&settings, 1, &entry, &Clocks { waiting_since: None, ..read }), None);
        assert_eq!(time_limit(&InboxSettings { reply_timeout_minutes: None, ..settings }, 1, &entry, &read), None);
    }

    #[test]
    fn skips_offline_and_full_agents() {
        let agents = [agent(1, true, true), agent(2, false, false), agent(3, true, false)];
        assert_eq!(next_agent(&agents, None).unwrap().name.as_str(), "A3");
        let full = [agent(1, true, true), agent(2, false, false)];
        assert!(next_agent(&full, None).is_none());
    }
}
