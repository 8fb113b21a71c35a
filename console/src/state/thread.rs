//! One conversation's messages as the agent sees them: stored messages in seq order, then what
//! this console sent that the relay has not acknowledged yet. Pure data, tested natively.

use protocol::{Author, Card, ClientMsgId, Message, Seq};

/// Where a message this console sent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    Sending,
    Sent,
    /// Refused by the relay (it said why); can be sent again.
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
    pub sent_at: Option<u64>,
    pub note: bool,
    pub edited: bool,
    pub deleted: bool,
    pub delivery: Delivery,
    pub error: Option<String>,
}

/// A message this console is about to send (kept in storage until acknowledged), or one the
/// relay refused (kept too, with why, until the agent sends it again: what they wrote is
/// never lost by switching chats).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outgoing {
    pub client_id: ClientMsgId,
    pub author: Author,
    pub body: String,
    pub card: Option<Card>,
    pub suggestions: Vec<String>,
    pub note: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Entry {
    fn stored(message: Message) -> Entry {
        Entry {
            client_id: message.client_id,
            seq: Some(message.seq),
            author: message.author,
            body: message.body,
            card: message.card,
            suggestions: message.suggestions,
            sent_at: Some(message.sent_at),
            note: message.note,
            edited: message.edited,
            deleted: message.deleted,
            delivery: Delivery::Sent,
            error: None,
        }
    }

    /// A public message from an agent (what the visitor can see and read).
    pub fn is_public_reply(&self) -> bool {
        matches!(self.author, Author::Agent { .. }) && !self.note
    }

    fn is_pending(&self) -> bool {
        self.delivery != Delivery::Sent
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

    /// The highest seq held: a reconnect asks for what follows it.
    pub fn last_seq(&self) -> Seq {
        self.entries.iter().filter_map(|e| e.seq).max().unwrap_or(0)
    }

    /// A message this console sends shows at once, as sending (or, kept from before, as
    /// refused).
    pub fn push(&mut self, outgoing: Outgoing) {
        let delivery = if outgoing.refused.is_some() { Delivery::Failed } else { Delivery::Sending };
        self.entries.push(Entry {
            client_id: outgoing.client_id,
            seq: None,
            author: outgoing.author,
            body: outgoing.body,
            card: outgoing.card,
            suggestions: outgoing.suggestions,
            sent_at: None,
            note: outgoing.note,
            edited: false,
            deleted: false,
            delivery,
            error: outgoing.refused,
        });
    }

    /// A stored message (history, live, or ours from another tab). Known ones are replaced,
    /// never added twice.
    pub fn receive(&mut self, message: Message) {
        let known = self.entries.iter().position(|e| {
            e.seq == Some(message.seq) || (e.author == message.author && e.client_id == message.client_id)
        });
        let entry = Entry::stored(message);
        match known {
            Some(at) => self.entries[at] = entry,
            None => self.entries.push(entry),
        }
        self.sort();
    }

    /// An edit or retraction: the message with that seq changes in place.
    pub fn revise(&mut self, message: Message) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.seq == Some(message.seq)) {
            *entry = Entry::stored(message);
        }
    }

    /// What the agent just changed shows at once; the relay's `revised` confirms it.
    pub fn ack(&mut self, client_id: &ClientMsgId, seq: Seq, sent_at: u64) {
        if let Some(entry) = self.pending_mut(client_id) {
            entry.seq = Some(seq);
            entry.sent_at = Some(sent_at);
            entry.delivery = Delivery::Sent;
            entry.error = None;
            self.sort();
        }
    }

    pub fn fail(&mut self, client_id: &ClientMsgId, why: String) {
        if let Some(entry) = self.pending_mut(client_id) {
            entry.delivery = Delivery::Failed;
            entry.error = Some(why);
        }
    }

    /// Puts a failed message back to sending and returns it, to send again (same client id:
    /// the relay stores it once however often it arrives).
    pub fn retry(&mut self, client_id: &ClientMsgId) -> Option<Entry> {
        let entry = self.pending_mut(client_id)?;
        entry.delivery = Delivery::Sending;
        entry.error = None;
        Some(entry.clone())
    }

    /// What still waits for its ack: sent again after a reconnect.
    pub fn unacked(&self) -> Vec<Entry> {
        self.entries.iter().filter(|e| e.delivery == Delivery::Sending).cloned().collect()
    }

    /// What is still on its way or was refused, as it was written: the outbox to keep.
    pub fn outbox(&self) -> Vec<Outgoing> {
        self.entries
            .iter()
            .filter(|e| e.is_pending())
            .map(|e| Outgoing {
                client_id: e.client_id.clone(),
                author: e.author.clone(),
                body: e.body.clone(),
                card: e.card.clone(),
                suggestions: e.suggestions.clone(),
                note: e.note,
                refused: e.error.clone().filter(|_| e.delivery == Delivery::Failed),
            })
            .collect()
    }

    /// The agents' newest public message the visitor has read up to `read_up_to`: "Seen"
    /// goes under it.
    pub fn seen_seq(&self, read_up_to: Seq) -> Option<Seq> {
        self.entries.iter().filter(|e| e.is_public_reply() && !e.deleted).filter_map(|e| e.seq).filter(|s| *s <= read_up_to).max()
    }

    fn pending_mut(&mut self, client_id: &ClientMsgId) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.is_pending() && &e.client_id == client_id)
    }

    /// Stored messages by seq; unacknowledged ones after them, in the order written.
    fn sort(&mut self) {
        self.entries.sort_by_key(|e| (e.seq.is_none(), e.seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::AgentName;

    fn agent(name: &str) -> Author {
        Author::Agent { name: AgentName::parse(name).unwrap(), id: None }
    }

    fn cid(s: &str) -> ClientMsgId {
        ClientMsgId::parse(s).unwrap()
    }

    fn message(seq: Seq, client_id: &str, author: Author) -> Message {
        Message {
            seq,
            client_id: cid(client_id),
            author,
            body: format!("body {seq}"),
            card: None,
            suggestions: Vec::new(),
            sent_at: 1_000 + seq,
            note: false,
            edited: false,
            deleted: false,
        }
    }

    fn outgoing(client_id: &str, note: bool) -> Outgoing {
        Outgoing { client_id: cid(client_id), author: agent("Ana"), body: "hi".into(), card: None, suggestions: Vec::new(), note, refused: None }
    }

    #[test]
    fn orders_by_seq_with_pending_last() {
        let mut thread = Thread::default();
        thread.push(outgoing("c-1", false));
        thread.receive(message(2, "v-2", Author::Visitor));
        thread.receive(message(1, "v-1", Author::Visitor));
        let order: Vec<_> = thread.entries().iter().map(|e| e.seq).collect();
        assert_eq!(order, [Some(1), Some(2), None]);
        thread.ack(&cid("c-1"), 3, 99);
        assert_eq!(thread.entries()[2].delivery, Delivery::Sent);
        assert_eq!(thread.last_seq(), 3);
    }

    #[test]
    fn never_doubles_a_message() {
        let mut thread = Thread::default();
        thread.push(outgoing("c-1", true));
        // Our own message echoed back (another tab, or the relay's broadcast).
        thread.receive(Message { note: true, ..message(4, "c-1", agent("Ana")) });
        thread.receive(message(4, "c-1", agent("Ana")));
        assert_eq!(thread.entries().len(), 1);
        // A visitor may use the same client id as an agent: different author, different message.
        thread.receive(message(5, "c-1", Author::Visitor));
        assert_eq!(thread.entries().len(), 2);
    }

    #[test]
    fn failures_retry_and_resend() {
        let mut thread = Thread::default();
        thread.push(outgoing("c-1", false));
        thread.fail(&cid("c-1"), "not responsible".into());
        assert!(thread.unacked().is_empty());
        let again = thread.retry(&cid("c-1")).unwrap();
        assert_eq!(again.delivery, Delivery::Sending);
        assert_eq!(thread.unacked().len(), 1);
    }

    #[test]
    fn a_refused_message_is_kept_with_why_and_comes_back_refused() {
        let mut thread = Thread::default();
        thread.push(outgoing("c-1", false));
        thread.fail(&cid("c-1"), "Not yours to answer.".into());
        let kept = thread.outbox();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].refused.as_deref(), Some("Not yours to answer."));

        // The agent switched chats and came back: it shows refused, and is not sent by itself.
        let mut again = Thread::default();
        kept.into_iter().for_each(|o| again.push(o));
        assert_eq!(again.entries()[0].delivery, Delivery::Failed);
        assert_eq!(again.entries()[0].error.as_deref(), Some("Not yours to answer."));
        assert!(again.unacked().is_empty());
        again.retry(&cid("c-1")).unwrap();
        assert_eq!(again.outbox()[0].refused, None);
    }

    #[test]
    fn revisions_replace_in_place() {
        let mut thread = Thread::default();
        thread.receive(message(1, "c-1", agent("Ana")));
        thread.revise(Message { edited: true, body: "fixed".into(), ..message(1, "c-1", agent("Ana")) });
        assert!(thread.entries()[0].edited && thread.entries()[0].body == "fixed");
        thread.revise(Message { deleted: true, body: String::new(), ..message(1, "c-1", agent("Ana")) });
        assert!(thread.entries()[0].deleted);
        assert_eq!(thread.entries().len(), 1);
    }

    #[test]
    fn seen_marks_the_newest_read_public_reply() {
        let mut thread = Thread::default();
        thread.receive(message(1, "c-1", agent("Ana")));
        thread.receive(Message { note: true, ..message(2, "c-2", agent("Ana")) });
        thread.receive(message(3, "v-1", Author::Visitor));
        thread.receive(message(4, "c-3", agent("Bo")));
        assert_eq!(thread.seen_seq(0), None);
        assert_eq!(thread.seen_seq(3), Some(1));
        assert_eq!(thread.seen_seq(4), Some(4));
    }
}
