//! The site's conversations, kept current by `inbox` frames, most recently active first.
//!
//! The whole list is loaded when the site opens and again on every reconnect, while frames
//! keep arriving. Each frame is a whole entry, so replaying every frame that arrived since a
//! load began over that load's list is always right, whatever order the answers come in:
//! a change is never lost, and never undone by an older list. Loads are numbered: a list
//! older than one already shown is dropped, because a reconnect's load holds changes that
//! came while the connection was down, which no frame will replay.

use protocol::http::ClosedCursor;
use protocol::inbox::{Inbox, InboxEntry, InboxList};
use protocol::{AgentId, ConversationId, Status};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxState {
    entries: Vec<InboxEntry>,
    loads_in_flight: u32,
    /// Frames since the oldest load in flight began.
    held: Vec<InboxEntry>,
    /// The number of the last load begun, and of the newest whose list is shown.
    loads_begun: u64,
    shown_load: u64,
    /// The relay has older closed conversations than those listed.
    pub more_closed: bool,
    /// Where the relay's next page of closed conversations starts: after the oldest its
    /// pages gave. Not after one a frame brought: a chat ended today may have been quiet
    /// for a week, and the page would skip everything in between.
    closed_cursor: Option<ClosedCursor>,
}

/// The oldest closed conversation of a list the relay gave, in the relay's own order.
fn oldest_closed(entries: &[InboxEntry]) -> Option<ClosedCursor> {
    entries
        .iter()
        .filter(|e| e.status != Status::Open)
        .min_by(|a, b| a.updated_at.cmp(&b.updated_at).then_with(|| a.conversation_id.as_str().cmp(b.conversation_id.as_str())))
        .map(|e| ClosedCursor { updated_at: e.updated_at, conversation_id: e.conversation_id.clone() })
}

impl InboxState {
    /// A load begins; its number goes with its answer to [`InboxState::finish_load`].
    pub fn begin_load(&mut self) -> u64 {
        self.loads_in_flight += 1;
        self.loads_begun += 1;
        self.loads_begun
    }

    /// Load `number`'s answer (`None`: it failed; keep what is known).
    pub fn finish_load(&mut self, number: u64, loaded: Option<Inbox>) {
        if let Some(inbox) = loaded.filter(|_| number > self.shown_load) {
            self.shown_load = number;
            self.closed_cursor = oldest_closed(&inbox.conversations);
            self.entries = inbox.conversations;
            self.more_closed = inbox.more_closed;
            for entry in self.held.clone() {
                self.apply(entry);
            }
            self.sort();
        }
        self.loads_in_flight = self.loads_in_flight.saturating_sub(1);
        if self.loads_in_flight == 0 {
            self.held.clear();
        }
    }

    /// A conversation changed (or is new).
    pub fn upsert(&mut self, entry: InboxEntry) {
        if self.loads_in_flight > 0 {
            self.held.push(entry.clone());
        }
        self.apply(entry);
        self.sort();
    }

    fn apply(&mut self, entry: InboxEntry) {
        if entry.status == Status::Deleted {
            // Erased (the visitor asked, or an agent did): it leaves every list.
            self.entries.retain(|e| e.conversation_id != entry.conversation_id);
            return;
        }
        match self.entries.iter_mut().find(|e| e.conversation_id == entry.conversation_id) {
            Some(known) => *known = entry,
            None => self.entries.push(entry),
        }
    }

    /// A page of older closed conversations: added behind what is known (what is known is
    /// newer, from a load or a frame, and stays).
    pub fn add_older(&mut self, page: Inbox) {
        self.closed_cursor = oldest_closed(&page.conversations).or(self.closed_cursor.take());
        for entry in page.conversations {
            if self.get(&entry.conversation_id).is_none() {
                self.entries.push(entry);
            }
        }
        self.more_closed = page.more_closed;
        self.sort();
    }

    /// Where the next page of closed conversations starts.
    pub fn closed_cursor(&self) -> Option<ClosedCursor> {
        self.closed_cursor.clone()
    }

    pub fn get(&self, id: &ConversationId) -> Option<&InboxEntry> {
        self.entries.iter().find(|e| &e.conversation_id == id)
    }

    /// The conversations of one tab, in order.
    pub fn list(&self, list: InboxList, me: &AgentId) -> Vec<ConversationId> {
        self.entries.iter().filter(|e| e.list_for(me) == list).map(|e| e.conversation_id.clone()).collect()
    }

    /// What a tab's badge says: everything waiting, elsewhere only what has unread messages.
    pub fn count(&self, list: InboxList, me: &AgentId) -> usize {
        self.entries.iter().filter(|e| e.list_for(me) == list && (list == InboxList::Waiting || e.unread > 0)).count()
    }

    fn sort(&mut self) {
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.updated_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Assignee, Contact};

    fn me() -> AgentId {
        AgentId::parse("ag-000000000000000a").unwrap()
    }

    fn entry(n: u8, updated_at: u64, unread: u32) -> InboxEntry {
        InboxEntry {
            conversation_id: ConversationId::parse(&format!("{n:02x}").repeat(32)).unwrap(),
            status: Status::Open,
            assignee: None,
            contact: Contact::default(),
            created_at: 1,
            updated_at,
            last_seq: 0,
            unread,
            preview: String::new(),
            first_response_at: None,
            first_response_secs: None,
            ended_at: None,
            page_url: None,
            browser: None,
            bot: false,
        }
    }

    fn listed(conversations: Vec<InboxEntry>) -> Inbox {
        Inbox { conversations, more_closed: false }
    }

    #[test]
    fn older_closed_pages_go_behind_and_the_cursor_follows_the_oldest() {
        let mut inbox = InboxState::default();
        let ended = |n, at| InboxEntry { status: Status::Ended, ..entry(n, at, 0) };
        let load = inbox.begin_load();
        inbox.finish_load(load, Some(Inbox { conversations: vec![entry(1, 90, 0), ended(2, 80), ended(3, 70)], more_closed: true }));
        assert!(inbox.more_closed);
        assert_eq!(inbox.closed_cursor().unwrap().conversation_id, entry(3, 0, 0).conversation_id);
        // Conversation 2 was reopened since (a frame): the page's older copy does not undo it.
        inbox.upsert(entry(2, 95, 1));
        inbox.add_older(Inbox { conversations: vec![ended(2, 80), ended(4, 60)], more_closed: false });
        assert!(!inbox.more_closed);
        assert_eq!(inbox.get(&entry(2, 0, 0).conversation_id).unwrap().status, Status::Open);
        assert_eq!(inbox.list(InboxList::Closed, &me()), [entry(3, 0, 0).conversation_id, entry(4, 0, 0).conversation_id]);
        assert_eq!(inbox.closed_cursor().unwrap().updated_at, 60);
    }

    /// A chat quiet since long ago ends now: its frame does not move where the next page
    /// starts, or the page would skip every closed chat in between.
    #[test]
    fn a_chat_ending_now_does_not_move_the_next_page() {
        let mut inbox = InboxState::default();
        let ended = |n, at| InboxEntry { status: Status::Ended, ..entry(n, at, 0) };
        let load = inbox.begin_load();
        inbox.finish_load(load, Some(Inbox { conversations: vec![entry(1, 10, 0), ended(2, 80), ended(3, 70)], more_closed: true }));
        inbox.upsert(ended(1, 10));
        assert_eq!(inbox.closed_cursor().unwrap().conversation_id, entry(3, 0, 0).conversation_id);
    }

    #[test]
    fn newest_first_and_replaced_in_place() {
        let mut inbox = InboxState::default();
        inbox.upsert(entry(1, 10, 0));
        inbox.upsert(entry(2, 20, 0));
        inbox.upsert(entry(1, 30, 2));
        assert_eq!(inbox.list(InboxList::Waiting, &me()), [entry(1, 0, 0).conversation_id, entry(2, 0, 0).conversation_id]);
        assert_eq!(inbox.get(&entry(1, 0, 0).conversation_id).unwrap().unread, 2);
    }

    #[test]
    fn an_erased_conversation_leaves_the_list_even_when_it_arrives_during_a_load() {
        let mut inbox = InboxState::default();
        inbox.upsert(entry(1, 10, 0));
        let load = inbox.begin_load();
        inbox.upsert(InboxEntry { status: Status::Deleted, ..entry(1, 10, 0) });
        assert!(inbox.get(&entry(1, 0, 0).conversation_id).is_none());
        inbox.finish_load(load, Some(listed(vec![entry(1, 10, 0), entry(2, 5, 0)])));
        assert!(inbox.get(&entry(1, 0, 0).conversation_id).is_none(), "the older list does not bring it back");
        assert!(inbox.get(&entry(2, 0, 0).conversation_id).is_some());
    }

    #[test]
    fn frames_during_a_load_win_over_the_loaded_list() {
        let mut inbox = InboxState::default();
        let load = inbox.begin_load();
        inbox.upsert(entry(1, 50, 3));
        inbox.finish_load(load, Some(listed(vec![entry(1, 40, 0), entry(2, 10, 0)])));
        assert_eq!(inbox.get(&entry(1, 0, 0).conversation_id).unwrap().unread, 3);
        assert_eq!(inbox.list(InboxList::Waiting, &me()).len(), 2);
    }

    #[test]
    fn an_older_list_answering_last_changes_nothing() {
        let mut inbox = InboxState::default();
        let (first, second) = (inbox.begin_load(), inbox.begin_load());
        inbox.upsert(entry(1, 50, 3));
        inbox.finish_load(second, Some(listed(vec![entry(1, 60, 0)])));
        inbox.finish_load(first, Some(listed(vec![entry(1, 40, 1)])));
        assert_eq!(inbox.get(&entry(1, 0, 0).conversation_id).unwrap().unread, 3);
        inbox.upsert(entry(1, 70, 0));
        assert_eq!(inbox.get(&entry(1, 0, 0).conversation_id).unwrap().unread, 0);
    }

    /// The connection dropped while the first load was on its way, and changes came that no
    /// frame told: the reconnect's load has them, and the first load's late list must not
    /// take them away.
    #[test]
    fn a_late_list_from_before_a_reconnect_does_not_undo_the_newer_one() {
        let mut inbox = InboxState::default();
        let before = inbox.begin_load();
        let after_reconnect = inbox.begin_load();
        inbox.finish_load(after_reconnect, Some(listed(vec![entry(1, 60, 2), entry(2, 55, 1)])));
        inbox.finish_load(before, Some(listed(vec![entry(1, 40, 0)])));
        assert_eq!(inbox.get(&entry(1, 0, 0).conversation_id).unwrap().unread, 2);
        assert!(inbox.get(&entry(2, 0, 0).conversation_id).is_some(), "the conversation that came while away stays");
    }

    #[test]
    fn counts_follow_the_tabs() {
        let mut inbox = InboxState::default();
        inbox.upsert(entry(1, 1, 0));
        inbox.upsert(entry(2, 2, 0));
        let mut mine = entry(3, 3, 2);
        mine.assignee = Some(Assignee { id: me(), name: protocol::AgentName::parse("Ana").unwrap() });
        inbox.upsert(mine.clone());
        inbox.upsert(InboxEntry { conversation_id: entry(4, 0, 0).conversation_id, unread: 0, ..mine });
        assert_eq!(inbox.count(InboxList::Waiting, &me()), 2);
        assert_eq!(inbox.count(InboxList::Mine, &me()), 1);
        assert_eq!(inbox.count(InboxList::Closed, &me()), 0);
    }
}
