//! Conversation helpers shared by the relay tests: start, connect, catch up, expect frames.

use crate::{relay, Relay, DEMO_SITE};
use agent::{Connection, ConnectionError};
use protocol::http::ConversationStarted;
use protocol::{ClientMsgId, ConversationId, ErrorCode, Message, Role, Seq, ServerFrame, SiteId};

pub fn demo_site() -> SiteId {
    SiteId::parse(DEMO_SITE).unwrap()
}

pub fn id(s: &str) -> ClientMsgId {
    ClientMsgId::parse(s).unwrap()
}

pub async fn start() -> ConversationStarted {
    relay().visitor().start(&demo_site()).await.expect("start a conversation")
}

/// The visitor's connection to a conversation they started, caught up.
pub async fn connected(relay: &Relay, started: &ConversationStarted) -> Connection {
    let mut visitor = relay.visitor().connect(&started.token, 0).await.expect("connect the visitor");
    catch_up(&mut visitor, 0).await;
    visitor
}

/// A visitor starts a conversation on `site` and writes `text` in it.
pub async fn visitor_says(relay: &Relay, site: &SiteId, text: &str) -> (ConversationStarted, Connection) {
    let started = relay.visitor().start(site).await.expect("start a conversation");
    let mut visitor = connected(relay, &started).await;
    visitor.post(&id("v1"), text).await.expect("the visitor's first message");
    (started, visitor)
}

/// Reads the welcome and the replay that follows it.
pub async fn catch_up(connection: &mut Connection, after_seq: Seq) -> (ServerFrame, Vec<Message>) {
    let welcome = connection.next().await.expect("welcome");
    let ServerFrame::Welcome { last_seq, .. } = welcome else { panic!("expected welcome, got {welcome:?}") };
    let mut messages = Vec::new();
    while messages.last().map_or(after_seq, |m: &Message| m.seq) < last_seq {
        match connection.next().await.expect("history") {
            ServerFrame::History { messages: page } => messages.extend(page),
            other => panic!("expected history, got {other:?}"),
        }
    }
    (welcome, messages)
}

pub async fn visitor_connection(started: &ConversationStarted, after_seq: Seq) -> (Connection, Vec<Message>) {
    let mut connection = relay().visitor().connect(&started.token, after_seq).await.expect("visitor connects");
    let (welcome, history) = catch_up(&mut connection, after_seq).await;
    match welcome {
        ServerFrame::Welcome { role, conversation_id, .. } => {
            assert_eq!(role, Role::Visitor);
            assert_eq!(conversation_id, started.conversation_id);
        }
        _ => unreachable!(),
    }
    (connection, history)
}

pub async fn agent_connection(name: &str, conversation: &ConversationId) -> (Connection, Vec<Message>) {
    let mut connection = relay().agent(name).await.join(conversation, 0).await.expect("agent joins");
    let (_, history) = catch_up(&mut connection, 0).await;
    (connection, history)
}

pub async fn expect_message(connection: &mut Connection) -> Message {
    match connection.next().await.expect("a message") {
        ServerFrame::Message { message } => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

pub async fn expect_error(connection: &mut Connection) -> (ErrorCode, Option<ClientMsgId>) {
    match connection.next().await.expect("an error frame") {
        ServerFrame::Error { code, client_id, .. } => (code, client_id),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A refused connection: an error frame with the code, then a close with 4000 + status.
pub async fn expect_refused_connection(result: Result<Connection, ConnectionError>, code: ErrorCode) {
    let mut connection = result.expect("the upgrade itself succeeds so the browser can read why");
    assert_eq!(expect_error(&mut connection).await.0, code);
    match connection.next().await {
        Err(ConnectionError::Closed(Some((close, reason)))) => {
            assert_eq!(close, 4000 + code.http_status());
            assert_eq!(reason, code.as_str());
        }
        other => panic!("expected a close, got {other:?}"),
    }
}


/// The next message, skipping what a live widget also sends (typing, read marks, contact).
pub async fn next_message(connection: &mut Connection) -> Message {
    loop {
        match connection.next().await.expect("a message") {
            ServerFrame::Message { message } => return message,
            ServerFrame::Typing { .. } | ServerFrame::Read { .. } | ServerFrame::Contact { .. } => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Reads frames until `pick` takes one (the frames before it are skipped).
pub async fn wait_for<T>(connection: &mut Connection, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
    loop {
        let frame = connection.next().await.expect("the frame waited for");
        if let Some(found) = pick(frame) {
            return found;
        }
    }
}
