//! The site's numbers, computed from its inbox: conversations per day by status, first
//! response times, completed chats and each agent's load. Pure, so it is tested directly.

use protocol::inbox::{AgentPresence, Analytics, DayCount, InboxEntry, Workload};
use protocol::Status;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// `YYYY-MM-DD` (UTC) of a time in milliseconds since the epoch.
pub fn day_of(ms: u64) -> String {
    // Civil-from-days (Howard Hinnant's algorithm): no calendar crate in the Worker.
    let days = (ms / DAY_MS) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The numbers for conversations started on days `from..=to` (`YYYY-MM-DD`; empty: all).
pub fn compute(entries: &[InboxEntry], agents: &[AgentPresence], from: &str, to: &str, now_ms: u64) -> Analytics {
    let in_range = |entry: &&InboxEntry| {
        let day = day_of(entry.created_at);
        (from.is_empty() || day.as_str() >= from) && (to.is_empty() || day.as_str() <= to)
    };
    let chosen: Vec<&InboxEntry> = entries.iter().filter(in_range).collect();

    let mut days: Vec<DayCount> = Vec::new();
    for entry in &chosen {
        let day = day_of(entry.created_at);
        let index = match days.iter().position(|d| d.day == day) {
            Some(i) => i,
            None => {
                days.push(DayCount { day, ..DayCount::default() });
                days.len() - 1
            }
        };
        match entry.status {
            Status::Open => days[index].open += 1,
            Status::Ended => days[index].ended += 1,
            Status::Blocked => days[index].blocked += 1,
            Status::Deleted => {}
        }
    }
    days.sort_by(|a, b| a.day.cmp(&b.day));

    // Conversations answered before the wait was recorded count from their creation.
    let waited = |e: &&InboxEntry| e.first_response_secs.or_else(|| e.first_response_at.map(|at| at.saturating_sub(e.created_at) / 1000));
    let mut response_secs: Vec<u64> = chosen.iter().filter_map(waited).collect();
    response_secs.sort_unstable();
    let completed = chosen.iter().filter(|e| e.status == Status::Ended && e.first_response_at.is_some()).count() as u32;

    let today = day_of(now_ms);
    let workload = agents
        .iter()
        .map(|agent| {
            let theirs = || entries.iter().filter(|e| e.assignee.as_ref().is_some_and(|a| a.id == agent.id));
            Workload {
                id: agent.id.clone(),
                name: agent.name.clone(),
                open_chats: theirs().filter(|e| e.status == Status::Open).count() as u32,
                handled_today: theirs()
                    .filter(|e| e.status == Status::Ended && day_of(e.ended_at.unwrap_or(e.updated_at)) == today)
                    .count() as u32,
            }
        })
        .collect();

    Analytics {
        days,
        first_response_median_secs: percentile(&response_secs, 0.5),
        first_response_p90_secs: percentile(&response_secs, 0.9),
        completed,
        workload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AgentId, AgentName, Assignee, Contact, ConversationId};

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
        assert_eq!(day_of(1_795_305_600_000 - 1), "2026-11-21");
        assert_eq!(day_of(1_795_305_600_000), "2026-11-22");
    }

    fn entry(n: u8, created_at: u64, status: Status, answered_after_secs: Option<u64>, assignee: Option<&AgentPresence>) -> InboxEntry {
        InboxEntry {
            conversation_id: ConversationId::parse(&format!("{n:02x}").repeat(32)).unwrap(),
            status,
            assignee: assignee.map(|a| Assignee { id: a.id.clone(), name: a.name.clone() }),
            contact: Contact::default(),
            created_at,
            updated_at: created_at + 60_000,
            last_seq: 2,
            unread: 0,
            preview: String::new(),
            first_response_at: answered_after_secs.map(|s| created_at + s * 1000),
            first_response_secs: None,
            ended_at: (status == Status::Ended).then_some(created_at + 120_000),
            page_url: None,
            browser: None,
            bot: false,
        }
    }

    fn ana() -> AgentPresence {
        AgentPresence {
            id: AgentId::parse("ag-000000000000000a").unwrap(),
            name: AgentName::parse("Ana").unwrap(),
            online: true,
            open_chats: 1,
            at_limit: false,
        }
    }

    #[test]
    fn counts_times_and_load() {
        let ana = ana();
        let day1 = 1_795_305_600_000; // 2026-11-22
        let entries = [
            entry(1, day1, Status::Ended, Some(30), Some(&ana)),
            entry(2, day1 + 1000, Status::Open, Some(90), Some(&ana)),
            entry(3, day1 + DAY_MS, Status::Blocked, None, None),
            entry(4, day1 - DAY_MS, Status::Ended, Some(10), None),
        ];
        let stats = compute(&entries, std::slice::from_ref(&ana), "2026-11-22", "2026-11-23", day1 + 3_600_000);
        assert_eq!(stats.days.len(), 2);
        assert_eq!((stats.days[0].open, stats.days[0].ended, stats.days[0].blocked), (1, 1, 0));
        assert_eq!(stats.days[1].blocked, 1);
        assert_eq!(stats.first_response_median_secs, Some(30));
        assert_eq!(stats.first_response_p90_secs, Some(90));
        assert_eq!(stats.completed, 1);
        assert_eq!((stats.workload[0].open_chats, stats.workload[0].handled_today), (1, 1));
    }

    /// An outbound message written days before the contact answered, or a bot's chat handed
    /// over late: the agents' time is the visitor's wait, not the conversation's age. A chat
    /// ended today counts as handled today, whenever its last message was.
    #[test]
    fn response_times_are_the_visitors_wait_and_handled_is_the_day_it_ended() {
        let ana = ana();
        let day1 = 1_795_305_600_000; // 2026-11-22
        let outbound = InboxEntry { first_response_secs: Some(45), ..entry(1, day1, Status::Open, Some(3 * 86_400), None) };
        let before_waits_were_kept = entry(2, day1, Status::Open, Some(75), None);
        let ended_today = InboxEntry { ended_at: Some(day1 + DAY_MS + 60_000), ..entry(3, day1, Status::Ended, Some(60), Some(&ana)) };
        let entries = [outbound, before_waits_were_kept, ended_today];
        let stats = compute(&entries, std::slice::from_ref(&ana), "", "", day1 + DAY_MS + 3_600_000);
        assert_eq!(stats.first_response_median_secs, Some(60));
        assert_eq!(stats.first_response_p90_secs, Some(75));
        assert_eq!(stats.workload[0].handled_today, 1, "ended today, its last message yesterday");
    }
}
