//! Who gets a conversation: round robin among online agents below their chat limit. Pure
//! functions over the site's view of its agents, so the rules are tested without a relay.

use protocol::inbox::AgentPresence;
use protocol::AgentId;

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
    fn skips_offline_and_full_agents() {
        let agents = [agent(1, true, true), agent(2, false, false), agent(3, true, false)];
        assert_eq!(next_agent(&agents, None).unwrap().name.as_str(), "A3");
        let full = [agent(1, true, true), agent(2, false, false)];
        assert!(next_agent(&full, None).is_none());
    }
}
