//! The visitor's view of the conversation: stored messages ordered by `seq`, followed by the
//! visitor's own messages that are still waiting for their ack. Pure data, no browser APIs,
//! so the ordering and dedup rules are unit-tested natively.

use protocol::{Author, Card, ClientMsgId, Message, Seq};

/// Where one of the visitor's own messages stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Written, not yet acknowledged by the relay.
    Sending,
    /// Stored by the relay at a seq.
    Sent,
    /// Refused by the relay (it said why); can be retried.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub client_id: ClientMsgId,
    pub seq: Option<Seq>,
    pub author: Author,
    pub body: String,
    pub card: Option<Card>,
    pub suggestions: Vec<String>,
    pub delivery: Delivery,
    /// Why the relay refused it, for a failed message.
    pub error: Option<String>,
    /// Its author changed it after sending.
    pub edited: bool,
    /// Its author took it back.
    pub deleted: bool,
    /// Counts revisions, so a revised message is drawn again.
    pub revision: u32,
}

impl Entry {
    pub fn is_mine(&self) -> bool {
        self.author == Author::Visitor
    }

    /// Stable across the ack, so the row is not re-created when it becomes "sent".
    pub fn key(&self) -> String {
        match &self.author {
            Author::Visitor => format!("v:{}", self.client_id),
            Author::Agent { name, .. } => format!("a:{name}:{}:{}", self.client_id, self.revision),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    entries: Vec<Entry>,
}

impl Thread {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The highest seq held: a reconnect asks for everything after it. The relay replays
    /// whole ranges and delivers live messages in order, so nothing below it is missing.
    pub fn last_seq(&self) -> Seq {
        self.entries.iter().filter_map(|e| e.seq).max().unwrap_or(0)
    }

    /// The visitor wrote a message; it shows at once as sending.
    pub fn push_own(&mut self, client_id: ClientMsgId, body: String) {
        self.entries.push(Entry {
            client_id,
            seq: None,
            author: Author::Visitor,
            body,
            card: None,
            suggestions: Vec::new(),
            delivery: Delivery::Sending,
            error: None,
            edited: false,
            deleted: false,
            revision: 0,
        });
    }

    /// A stored message from the relay (history, live, or our own from another tab).
    /// Known messages are updated in place, never added twice.
    pub fn receive(&mut self, message: Message) {
        let existing = self.entries.iter_mut().find(|e| {
            e.seq == Some(message.seq) || (e.author == message.author && e.client_id == message.client_id)
        });
        match existing {
            Some(entry) => {
                entry.seq = Some(message.seq);
                entry.delivery = Delivery::Sent;
                entry.error = None;
            }
            None => self.entries.push(Entry {
                client_id: message.client_id,
                seq: Some(message.seq),
                author: message.author,
                body: message.body,
                card: message.card,
                suggestions: message.suggestions,
                delivery: Delivery::Sent,
                error: None,
                edited: message.edited,
                deleted: message.deleted,
                revision: 0,
            }),
        }
        self.sort();
    }

    /// An agent edited or took back a message: it changes in place.
    pub fn revise(&mut self, message: Message) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.seq == Some(message.seq)) {
            // A reconnect hears every earlier revision again: unchanged, it is not drawn again.
            let unchanged = entry.body == message.body
                && entry.card == message.card
                && entry.suggestions == message.suggestions
                && (entry.edited, entry.deleted) == (message.edited, message.deleted);
            if unchanged {
                return;
            }
            entry.body = message.body;
            entry.card = message.card;
            entry.suggestions = message.suggestions;
            entry.edited = message.edited;
            entry.deleted = message.deleted;
            entry.revision += 1;
        }
    }

    pub fn ack(&mut self, client_id: &ClientMsgId, seq: Seq) {
        if let Some(entry) = self.own_mut(client_id) {
            entry.seq = Some(seq);
            entry.delivery = Delivery::Sent;
            entry.error = None;
            self.sort();
        }
    }

    pub fn fail(&mut self, client_id: &ClientMsgId, why: String) {
        if let Some(entry) = self.own_mut(client_id) {
            if entry.delivery != Delivery::Sent {
                entry.delivery = Delivery::Failed;
                entry.error = Some(why);
            }
        }
    }

    /// Puts a failed message back to sending; returns its body to send again.
    pub fn retry(&mut self, client_id: &ClientMsgId) -> Option<String> {
        let entry = self.own_mut(client_id)?;
        (entry.delivery == Delivery::Failed).then(|| {
            entry.delivery = Delivery::Sending;
            entry.error = None;
            entry.body.clone()
        })
    }

    /// Puts every failed message of the visitor's back to sending.
    pub fn retry_unsent(&mut self) {
        for entry in self.entries.iter_mut().filter(|e| e.is_mine() && e.delivery == Delivery::Failed) {
            entry.delivery = Delivery::Sending;
            entry.error = None;
        }
    }

    /// Agents' messages after the visitor's read mark.
    pub fn unread(&self, visitor_read: Seq) -> usize {
        self.entries.iter().filter(|e| !e.is_mine() && e.seq.is_some_and(|s| s > visitor_read)).count()
    }

    /// The newest agent message's seq, if any.
    pub fn last_agent_seq(&self) -> Option<Seq> {
        self.entries.iter().filter(|e| !e.is_mine()).filter_map(|e| e.seq).max()
    }

    /// Whether the visitor has written anything in this conversation.
    pub fn visitor_wrote(&self) -> bool {
        self.entries.iter().any(Entry::is_mine)
    }

    /// The suggested replies of the last message, when it is an agent's.
    pub fn open_suggestions(&self) -> Vec<String> {
        match self.entries.iter().rev().find(|e| e.seq.is_some()) {
            Some(last) if !last.is_mine() && !self.entries.iter().any(|e| e.seq.is_none()) => last.suggestions.clone(),
            _ => Vec::new(),
        }
    }

    /// The visitor's messages still waiting for an ack, oldest first: resent on (re)connect.
    pub fn unacked(&self) -> Vec<(ClientMsgId, String)> {
        self.entries
            .iter()
            .filter(|e| e.is_mine() && e.delivery == Delivery::Sending)
            .map(|e| (e.client_id.clone(), e.body.clone()))
            .collect()
    }

    /// Takes the messages still waiting for an ack out of the thread (they go elsewhere).
    pub fn take_unacked(&mut self) -> Vec<(ClientMsgId, String)> {
        let unacked = self.unacked();
        self.entries.retain(|e| !(e.is_mine() && e.delivery == Delivery::Sending));
        unacked
    }

    /// Takes one of the visitor's unsent messages out of the thread; returns its body.
    pub fn take_unsent(&mut self, client_id: &ClientMsgId) -> Option<String> {
        let at = self.entries.iter().position(|e| e.is_mine() && e.seq.is_none() && &e.client_id == client_id)?;
        Some(self.entries.remove(at).body)
    }

    fn own_mut(&mut self, client_id: &ClientMsgId) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.is_mine() && &e.client_id == client_id)
    }

    /// Stored messages by seq; unacknowledged ones after them, in the order written.
    fn sort(&mut self) {
        // An insertion sort: stable (the written order among unacknowledged messages stays),
        // linear on a thread that is sorted but for its newest entry, and smaller in the wasm
        // than the standard library's general sorts.
        let key = |e: &Entry| e.seq.unwrap_or(Seq::MAX);
        for i in 1..self.entries.len() {
            let mut j = i;
            while j > 0 && key(&self.entries[j - 1]) > key(&self.entries[j]) {
                self.entries.swap(j - 1, j);
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::AgentName;

    fn id(s: &str) -> ClientMsgId {
        ClientMsgId::parse(s).unwrap()
    }

    fn stored(seq: Seq, client_id: &str, author: Author) -> Message {
        Message { seq, client_id: id(client_id), author, body: format!("m{seq}"), card: None, suggestions: vec![], sent_at: 0, note: false, edited: false, deleted: false }
    }

    fn agent() -> Author {
        Author::Agent { name: AgentName::parse("Ana").unwrap(), id: None }
    }

    fn seqs(thread: &Thread) -> Vec<Option<Seq>> {
        thread.entries().iter().map(|e| e.seq).collect()
    }

    #[test]
    fn orders_by_seq_with_pending_last() {
        let mut t = Thread::default();
        t.push_own(id("p1"), "pending".into());
        t.receive(stored(2, "x", agent()));
        t.receive(stored(1, "y", Author::Visitor));
        assert_eq!(seqs(&t), vec![Some(1), Some(2), None]);
        assert_eq!(t.last_seq(), 2);
    }

    #[test]
    fn ack_moves_a_pending_message_into_place() {
        let mut t = Thread::default();
        t.push_own(id("a"), "first".into());
        t.push_own(id("b"), "second".into());
        t.ack(&id("b"), 5);
        t.receive(stored(4, "z", agent()));
        assert_eq!(seqs(&t), vec![Some(4), Some(5), None]);
        assert_eq!(t.unacked(), vec![(id("a"), "first".to_owned())]);
    }

    #[test]
    fn a_message_is_never_shown_twice() {
        let mut t = Thread::default();
        t.push_own(id("a"), "hi".into());
        // the echo of our own message (another tab, or a replay after reconnect) merges
        t.receive(stored(1, "a", Author::Visitor));
        t.receive(stored(1, "a", Author::Visitor));
        t.ack(&id("a"), 1);
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.entries()[0].delivery, Delivery::Sent);
        // an agent's message with the same client id is a different message
        t.receive(stored(2, "a", agent()));
        assert_eq!(t.entries().len(), 2);
    }

    #[test]
    fn unread_counts_agent_messages_after_the_read_mark() {
        let mut t = Thread::default();
        t.receive(stored(1, "v", Author::Visitor));
        t.receive(stored(2, "a", agent()));
        t.receive(stored(3, "b", agent()));
        assert_eq!(t.unread(0), 2);
        assert_eq!(t.unread(2), 1);
        assert_eq!(t.last_agent_seq(), Some(3));
    }

    #[test]
    fn suggestions_are_offered_only_under_the_last_message() {
        let mut t = Thread::default();
        let mut with = stored(1, "a", agent());
        with.suggestions = vec!["Yes".into()];
        t.receive(with);
        assert_eq!(t.open_suggestions(), ["Yes"]);
        t.push_own(id("p"), "typing an answer".into());
        assert!(t.open_suggestions().is_empty());
    }

    #[test]
    fn revised_messages_change_in_place() {
        let mut thread = Thread::default();
        thread.receive(stored(1, "a1", agent()));
        let key = thread.entries()[0].key();
        thread.revise(Message { body: "fixed".into(), edited: true, ..stored(1, "a1", agent()) });
        assert_eq!((thread.entries()[0].body.as_str(), thread.entries()[0].edited), ("fixed", true));
        assert_ne!(thread.entries()[0].key(), key, "drawn again");
        thread.revise(Message { body: String::new(), deleted: true, ..stored(1, "a1", agent()) });
        assert!(thread.entries()[0].deleted);
        assert_eq!(thread.entries().len(), 1);
    }

    #[test]
    fn a_revision_heard_again_is_not_drawn_again() {
        let mut thread = Thread::default();
        thread.receive(stored(1, "a1", agent()));
        let fixed = Message { body: "fixed".into(), edited: true, ..stored(1, "a1", agent()) };
        thread.revise(fixed.clone());
        let key = thread.entries()[0].key();
        thread.revise(fixed);
        assert_eq!(thread.entries()[0].key(), key);
    }

    #[test]
    fn unsent_messages_can_be_taken_out_to_go_elsewhere() {
        let mut t = Thread::default();
        t.receive(stored(1, "a1", agent()));
        t.push_own(id("a"), "one".into());
        t.push_own(id("b"), "two".into());
        t.fail(&id("b"), "refused".into());
        assert_eq!(t.take_unacked(), vec![(id("a"), "one".to_owned())]);
        assert_eq!(t.entries().len(), 2, "the failed one and the agent's stay");
        assert_eq!(t.take_unsent(&id("b")).as_deref(), Some("two"));
        assert_eq!(t.take_unsent(&id("b")), None);
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn failed_messages_can_be_retried_and_sent_ones_cannot_fail() {
        let mut t = Thread::default();
        t.push_own(id("a"), "hi".into());
        t.fail(&id("a"), "too long".into());
        assert_eq!(t.entries()[0].delivery, Delivery::Failed);
        assert!(t.unacked().is_empty());
        assert_eq!(t.retry(&id("a")), Some("hi".into()));
        assert_eq!(t.retry(&id("a")), None);
        t.ack(&id("a"), 1);
        t.fail(&id("a"), "late".into());
        assert_eq!(t.entries()[0].delivery, Delivery::Sent);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// What can happen to a visitor's view of the conversation.
        #[derive(Debug, Clone)]
        enum Event {
            /// The visitor writes message n.
            Write(u8),
            /// The relay delivers stored message k (history, live, another tab, a replay).
            Deliver(usize),
            /// The relay acks the visitor's message n at the seq it got.
            Ack(u8),
        }

        fn event() -> impl Strategy<Value = Event> {
            prop_oneof![(0u8..6).prop_map(Event::Write), (0usize..12).prop_map(Event::Deliver), (0u8..6).prop_map(Event::Ack)]
        }

        proptest! {
            #[test]
            fn never_twice_always_in_order_unsent_last(events in prop::collection::vec(event(), 0..60)) {
                // The relay's log: agents' messages and the visitor's own, each with one seq.
                let log: Vec<Message> = (0..12)
                    .map(|k| {
                        let author = if k % 3 == 0 { Author::Visitor } else { agent() };
                        // Visitor messages in the log are the visitor's writes 0, 1, 2, 3.
                        let client = if author == Author::Visitor { format!("w{}", k / 3) } else { format!("a{k}") };
                        stored(k as Seq + 1, &client, author)
                    })
                    .collect();
                let mut t = Thread::default();
                for e in events {
                    match e {
                        Event::Write(n) => {
                            let cid = id(&format!("w{n}"));
                            if !t.entries().iter().any(|x| x.is_mine() && x.client_id == cid) {
                                t.push_own(cid, format!("w{n}"));
                            }
                        }
                        Event::Deliver(k) => t.receive(log[k].clone()),
                        Event::Ack(n) => {
                            if let Some(m) = log.iter().find(|m| m.client_id == id(&format!("w{n}"))) {
                                t.ack(&m.client_id, m.seq);
                            }
                        }
                    }
                    let entries = t.entries();
                    let keys: std::collections::HashSet<_> = entries.iter().map(Entry::key).collect();
                    prop_assert_eq!(keys.len(), entries.len(), "shown twice");
                    let seqs: Vec<Seq> = entries.iter().filter_map(|x| x.seq).collect();
                    prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of order: {:?}", seqs);
                    let first_unsent = entries.iter().position(|x| x.seq.is_none()).unwrap_or(entries.len());
                    prop_assert!(entries[first_unsent..].iter().all(|x| x.seq.is_none()), "unsent messages come last");
                }
            }
        }
    }
}

