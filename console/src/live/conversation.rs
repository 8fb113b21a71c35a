//! The agent's connection to one open conversation: its messages, state and the actions the
//! agent takes in it.
//!
//! Every (re)connect asks for the messages after the last seq held. Messages still waiting
//! for their ack go out again on `welcome` with their original client id; the relay stores
//! each client id once, so nothing is lost or doubled.

use super::link::{self, Endpoint, Link};
use crate::browser;
use crate::state::desk::Desk;
use crate::state::outbox;
use crate::state::thread::{Entry, Outgoing, Thread};
use leptos::prelude::*;
use protocol::http::agent_connect_path;
use protocol::{
    Assignee, Author, Card, ClientFrame, ClientMsgId, Contact, ConversationId, EmailStatus, ReadMarks, Role, Seq,
    ServerFrame, Status,
};
use std::time::Duration;

/// Another side's "typing" ends by itself after this long without a refresh.
const OTHERS_TYPING_TIMEOUT: Duration = Duration::from_secs(8);
/// The agent's own "typing" is refreshed at most this often, and ends after this long idle.
const OWN_TYPING_MS: f64 = 3_000.0;

/// The conversation's state besides its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub status: Status,
    pub read: ReadMarks,
    pub contact: Contact,
    pub assignee: Option<Assignee>,
    pub email: Option<EmailStatus>,
    /// Welcomed, and every message up to the welcome's `last_seq` is here.
    pub caught_up: bool,
}

impl Default for Info {
    fn default() -> Self {
        Info { status: Status::Open, read: ReadMarks::default(), contact: Contact::default(), assignee: None, email: None, caught_up: false }
    }
}

#[derive(Default)]
struct Bookkeeping {
    welcomed: bool,
    /// The welcome's `last_seq`: caught up once the thread holds it.
    newest_seq: Seq,
    own_typing_sent_ms: Option<f64>,
    own_typing_generation: u32,
    others_typing_generation: u32,
}

#[derive(Clone, Copy)]
pub struct Conversation {
    pub desk: Desk,
    id: StoredValue<ConversationId>,
    pub thread: RwSignal<Thread>,
    pub info: RwSignal<Info>,
    /// Who is typing right now (the visitor, or another agent), with the frame that said so.
    pub typing: RwSignal<Vec<(Author, u32)>>,
    /// The latest refusal or failure, for the agent to read.
    pub problem: RwSignal<Option<String>>,
    /// The agent unsubscribed from this conversation's alerts (here, in this session).
    pub muted: RwSignal<bool>,
    /// Welcomed on its connection: what the agent does goes out.
    pub connected: RwSignal<bool>,
    /// The agent's own message being changed in the composer, and its text when started.
    pub editing: RwSignal<Option<(Seq, String)>>,
    books: StoredValue<Bookkeeping>,
    link: Link,
}

impl Conversation {
    /// Opens the connection; it closes when the calling view goes away.
    pub fn open(desk: Desk, id: ConversationId) -> Conversation {
        let conversation = Conversation {
            desk,
            id: StoredValue::new(id),
            thread: RwSignal::new(Thread::default()),
            info: RwSignal::new(Info::default()),
            typing: RwSignal::new(Vec::new()),
            problem: RwSignal::new(None),
            muted: RwSignal::new(false),
            connected: RwSignal::new(false),
            editing: RwSignal::new(None),
            books: StoredValue::new(Bookkeeping::default()),
            link: link::new_link(),
        };
        // What was on its way when the agent last left this conversation goes out on welcome.
        let id = conversation.id();
        conversation.thread.update(|t| outbox::load(&id).into_iter().for_each(|outgoing| t.push(outgoing)));
        let thread = conversation.thread;
        Effect::new(move |_| outbox::save(&id, &thread.with(Thread::outbox)));
        link::start(conversation.link, conversation);
        on_cleanup(move || link::stop(conversation.link));
        conversation
    }

    pub fn id(&self) -> ConversationId {
        self.id.get_value()
    }

    fn me(&self) -> Author {
        let me = self.desk.me();
        Author::Agent { name: me.name, id: Some(me.id) }
    }

    /// Whether the signed-in agent wrote this message: by account, as names may repeat.
    pub fn is_mine(&self, entry: &Entry) -> bool {
        match (&entry.author, self.me()) {
            (Author::Agent { id: Some(theirs), .. }, Author::Agent { id: Some(mine), .. }) => *theirs == mine,
            _ => false,
        }
    }

    // ---- what the agent writes ------------------------------------------------------------

    /// A public reply, with an optional card and suggested replies.
    pub fn reply(&self, body: String, card: Option<Card>, suggestions: Vec<String>) {
        self.stop_typing();
        self.write(Outgoing { client_id: browser::new_client_id(), author: self.me(), body, card, suggestions, note: false, refused: None });
    }

    /// A private note for the other agents.
    pub fn note(&self, body: String) {
        self.write(Outgoing {
            client_id: browser::new_client_id(),
            author: self.me(),
            body,
            card: None,
            suggestions: Vec::new(),
            note: true,
            refused: None,
        });
    }

    fn write(&self, outgoing: Outgoing) {
        let client_id = outgoing.client_id.clone();
        self.thread.update(|t| t.push(outgoing));
        if let Some(entry) = self.thread.with_untracked(|t| t.unacked().into_iter().find(|e| e.client_id == client_id)) {
            self.transmit(&entry);
        }
    }

    pub fn retry(&self, client_id: &ClientMsgId) {
        if let Some(entry) = self.thread.try_update(|t| t.retry(client_id)).flatten() {
            self.transmit(&entry);
        }
    }

    /// Sends a written message when welcomed; otherwise it waits for the next welcome.
    fn transmit(&self, entry: &Entry) {
        let frame = if entry.note {
            ClientFrame::Note { client_id: entry.client_id.clone(), body: entry.body.clone() }
        } else {
            ClientFrame::Send {
                client_id: entry.client_id.clone(),
                body: entry.body.clone(),
                card: entry.card.clone(),
                suggestions: entry.suggestions.clone(),
            }
        };
        if self.books.with_value(|b| b.welcomed) {
            link::send(self.link, &frame);
        }
    }

    /// Changes a sent message; the thread shows it when the relay's `revised` comes back (to
    /// every connection, this one too), so a refused or lost change is never shown as made.
    /// `false` when it could not be sent.
    pub fn edit(&self, seq: Seq, body: String) -> bool {
        self.act(ClientFrame::Edit { seq, body })
    }

    pub fn retract(&self, seq: Seq) {
        self.act(ClientFrame::Retract { seq });
    }

    pub fn set_muted(&self, muted: bool) {
        if self.act(ClientFrame::Subscribe { on: !muted }) {
            self.muted.set(muted);
        }
    }

    /// Sends an action (accept, transfer, end, block…); the relay's frames show the outcome.
    pub fn act(&self, frame: ClientFrame) -> bool {
        let sent = self.books.with_value(|b| b.welcomed) && link::send(self.link, &frame);
        if !sent {
            self.problem.set(Some("Not connected to this conversation right now. Try again in a moment.".into()));
        }
        sent
    }

    /// The agent typed in the reply box. Refreshed at most every 3 s; ends after 3 s idle.
    pub fn typing(&self) {
        let now = browser::now_ms();
        let (due, generation) = self
            .books
            .try_update_value(|b| {
                b.own_typing_generation += 1;
                let due = b.own_typing_sent_ms.is_none_or(|sent| now - sent > OWN_TYPING_MS);
                if due {
                    b.own_typing_sent_ms = Some(now);
                }
                (due && b.welcomed, b.own_typing_generation)
            })
            .unwrap_or((false, 0));
        if due {
            link::send(self.link, &ClientFrame::Typing { active: true });
        }
        let conversation = *self;
        set_timeout(
            move || {
                if conversation.books.try_with_value(|b| b.own_typing_generation) == Some(generation) {
                    conversation.stop_typing();
                }
            },
            Duration::from_millis(OWN_TYPING_MS as u64),
        );
    }

    pub fn stop_typing(&self) {
        let was_typing = self.books.try_update_value(|b| b.own_typing_sent_ms.take().is_some()).unwrap_or(false);
        if was_typing {
            link::send(self.link, &ClientFrame::Typing { active: false });
        }
    }

    /// Marks everything here as read by the agents, when the agent can actually see it and
    /// their reading counts: the agents' mark is the responsible agent's (anyone's while
    /// nobody is responsible), so a colleague reading along leaves it where it is.
    pub fn mark_read(&self) {
        let me = self.desk.my_id();
        let (caught_up, read, counts) =
            self.info.with_untracked(|i| (i.caught_up, i.read.agent, i.assignee.as_ref().is_none_or(|a| a.id == me)));
        let newest = self.thread.with_untracked(Thread::last_seq);
        if caught_up && counts && newest > read && !browser::page_hidden() && link::send(self.link, &ClientFrame::Read { up_to: newest }) {
            self.info.update(|i| i.read.agent = newest);
        }
    }

    /// Someone else's new message, for screen readers: once, as it arrives (the thread itself
    /// is not a live region, so acks, edits and reloaded history are not read out again).
    fn announce(&self, message: &protocol::Message) {
        let who = match &message.author {
            Author::Visitor => self.info.with_untracked(|i| i.contact.name.clone()).unwrap_or_else(|| "Visitor".to_owned()),
            Author::Agent { id: Some(id), .. } if *id == self.desk.my_id() => return,
            Author::Agent { name, .. } => name.to_string(),
        };
        let what = if message.note { "note" } else { "message" };
        let text = if message.body.is_empty() { message.card.as_ref().map(|c| c.label().to_owned()).unwrap_or_default() } else { message.body.clone() };
        self.desk.announcement.set(format!("New {what} from {who}: {text}"));
    }

    // ---- what the relay says --------------------------------------------------------------

    fn check_caught_up(&self) {
        let newest = self.books.with_value(|b| b.newest_seq);
        let held = self.thread.with_untracked(Thread::last_seq);
        if held >= newest && !self.info.with_untracked(|i| i.caught_up) && self.books.with_value(|b| b.welcomed) {
            self.info.update(|i| i.caught_up = true);
        }
    }

    fn someone_typing(&self, author: Author, active: bool) {
        if author == self.me() {
            return;
        }
        self.typing.update(|t| t.retain(|(who, _)| who != &author));
        if !active {
            return;
        }
        let generation = self.books.try_update_value(|b| {
            b.others_typing_generation += 1;
            b.others_typing_generation
        });
        let Some(generation) = generation else { return };
        self.typing.update(|t| t.push((author, generation)));
        let typing = self.typing;
        set_timeout(move || typing.update(|t| t.retain(|(_, g)| *g != generation)), OTHERS_TYPING_TIMEOUT);
    }
}

impl Endpoint for Conversation {
    fn url(&self) -> String {
        let after = self.thread.with_untracked(Thread::last_seq);
        browser::socket_url(&agent_connect_path(&self.id(), after))
    }

    /// Connected counts from the welcome: before it, actions are refused.
    fn opened(&self) {}

    fn frame(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome { last_seq, status, read, contact, assignee, muted, .. } => {
                self.muted.set(muted);
                self.books.update_value(|b| {
                    b.welcomed = true;
                    b.newest_seq = last_seq;
                });
                self.connected.set(true);
                self.info.update(|i| {
                    i.status = status;
                    i.read = read;
                    i.contact = contact;
                    i.assignee = assignee;
                    i.caught_up = false;
                });
                self.typing.set(Vec::new());
                for entry in self.thread.with_untracked(Thread::unacked) {
                    self.transmit(&entry);
                }
                self.check_caught_up();
            }
            ServerFrame::History { messages } => {
                self.thread.update(|t| messages.into_iter().for_each(|m| t.receive(m)));
                self.check_caught_up();
            }
            ServerFrame::Message { message } => {
                self.typing.update(|t| t.retain(|(who, _)| who != &message.author));
                self.announce(&message);
                self.thread.update(|t| t.receive(message));
            }
            ServerFrame::Ack { client_id, seq, sent_at } => self.thread.update(|t| t.ack(&client_id, seq, sent_at)),
            ServerFrame::Revised { message } => self.thread.update(|t| t.revise(message)),
            ServerFrame::Typing { author, active } => self.someone_typing(author, active),
            ServerFrame::Read { role, up_to } => self.info.update(|i| match role {
                Role::Visitor => i.read.visitor = i.read.visitor.max(up_to),
                Role::Agent => i.read.agent = i.read.agent.max(up_to),
            }),
            ServerFrame::Status { status } => {
                if status == Status::Deleted {
                    // Erased: nothing of it stays on screen either.
                    self.thread.set(Thread::default());
                }
                self.info.update(|i| i.status = status);
            }
            ServerFrame::Contact { contact } => self.info.update(|i| i.contact = contact),
            ServerFrame::EmailFallback { status } => self.info.update(|i| i.email = Some(status)),
            ServerFrame::Assigned { assignee } => {
                self.info.update(|i| i.assignee = assignee);
                // Given to this agent while open on screen: what they read along counts now.
                self.mark_read();
            }
            ServerFrame::Error { message, client_id, .. } => {
                let message = crate::state::words::sentence(&message);
                if let Some(client_id) = client_id {
                    self.thread.update(|t| t.fail(&client_id, message.clone()));
                }
                self.problem.set(Some(message));
            }
            _ => {}
        }
    }

    fn lost(&self) {
        self.connected.set(false);
        self.books.update_value(|b| {
            b.welcomed = false;
            b.own_typing_sent_ms = None;
        });
    }
}
