//! The widget's serde-free codec (`protocol::json_tree`) reads and writes exactly what serde
//! does: everything the relay sends a visitor decodes to the same value, everything the widget
//! writes decodes with serde (and the relay's own checks) to the same value.

use proptest::prelude::*;
use protocol::http::{ConversationStarted, ErrorBody, StartConversation};
use protocol::inbox::{AgentPresence, Assignee};
use protocol::json_tree::{FromTree, ToJson};
use protocol::site::{Fallback, QuickAction, QuickReply, SiteView, WidgetSettings};
use protocol::{
    AgentId, AgentName, Author, Card, ClientFrame, ClientMsgId, Contact, ConversationId, Email, ErrorCode, Identity, Message,
    ProtocolError, ReadMarks, Role, SafeUrl, ServerFrame, Status,
};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

/// What the relay sends, read the widget's way.
fn read_back<V: Serialize + FromTree + PartialEq + Debug>(value: &V) {
    let tree = serde_json::to_value(value).unwrap();
    assert_eq!(V::from_tree(&tree).as_ref(), Some(value), "{tree}");
}

/// What the widget writes, read serde's way.
fn written<V: ToJson + DeserializeOwned + PartialEq + Debug>(value: &V) {
    let text = value.to_json();
    assert_eq!(&serde_json::from_str::<V>(&text).unwrap_or_else(|e| panic!("{e}: {text}")), value);
}

const TRICKY: &str = "quote \" backslash \\ new\nline tab\t bell\u{7} </script> héllo 💬 \u{202e}";

fn message(seq: u64, author: Author) -> Message {
    Message {
        seq,
        client_id: ClientMsgId::parse(&format!("c-{seq}")).unwrap(),
        author,
        body: TRICKY.into(),
        card: None,
        suggestions: vec![],
        sent_at: 1_763_800_000_123,
        note: false,
        edited: false,
        deleted: false,
    }
}

fn agent(name: &str, id: Option<&str>) -> Author {
    Author::Agent { name: AgentName::parse(name).unwrap(), id: id.map(|i| AgentId::parse(i).unwrap()) }
}

fn url() -> SafeUrl {
    SafeUrl::parse("https://help.example.com/returns?x=1&y=\"2\"").unwrap()
}

fn rich_message() -> Message {
    Message {
        card: Some(Card::Article { title: "Returns".into(), summary: TRICKY.into(), url: url() }),
        suggestions: vec!["Yes".into(), "No, \"thanks\"".into()],
        edited: true,
        ..message(9, agent("Bo", Some("ag-00000000000000ff")))
    }
}

fn contact() -> Contact {
    Contact { email: Some(Email::parse("ana@example.com").unwrap()), name: Some(TRICKY.into()) }
}

fn conversation() -> ConversationId {
    ConversationId::parse(&"ab".repeat(32)).unwrap()
}

#[test]
fn every_frame_a_visitor_receives_reads_back() {
    let frames = [
        ServerFrame::Welcome {
            v: 1,
            conversation_id: conversation(),
            role: Role::Visitor,
            last_seq: 42,
            status: Status::Open,
            read: ReadMarks { visitor: 40, agent: 41 },
            contact: contact(),
            assignee: None,
            muted: false,
        },
        ServerFrame::History { messages: vec![message(1, Author::Visitor), rich_message(), message(3, agent("Ana María", None))] },
        ServerFrame::History { messages: vec![] },
        ServerFrame::Ack { client_id: ClientMsgId::parse("c-1").unwrap(), seq: 7, sent_at: 1_763_800_000_000 },
        ServerFrame::Message { message: rich_message() },
        ServerFrame::Message {
            message: Message {
                card: Some(Card::Link { label: "Track".into(), url: url() }),
                body: String::new(),
                ..message(10, agent("Bo", None))
            },
        },
        ServerFrame::Revised { message: Message { deleted: true, body: String::new(), ..message(4, Author::Visitor) } },
        ServerFrame::Typing { author: agent("Bo", None), active: true },
        ServerFrame::Typing { author: Author::Visitor, active: false },
        ServerFrame::Read { role: Role::Agent, up_to: 12 },
        ServerFrame::Status { status: Status::Ended },
        ServerFrame::Status { status: Status::Blocked },
        ServerFrame::Status { status: Status::Deleted },
        ServerFrame::Contact { contact: Contact::default() },
        ServerFrame::Contact { contact: contact() },
        ServerFrame::Availability { agents_online: true },
        ServerFrame::WidgetSettings { settings: settings() },
        ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "too many messages".into(),
            client_id: Some(ClientMsgId::parse("c-2").unwrap()),
            retry_after_secs: Some(3),
        },
        ServerFrame::Error { code: ErrorCode::InvalidEmail, message: TRICKY.into(), client_id: None, retry_after_secs: None },
        ServerFrame::Pong,
    ];
    for frame in &frames {
        read_back(frame);
    }
}

#[test]
fn frames_and_fields_for_agents_are_not_read() {
    let welcome = ServerFrame::Welcome {
        v: 1,
        conversation_id: conversation(),
        role: Role::Agent,
        last_seq: 0,
        status: Status::Open,
        read: ReadMarks::default(),
        contact: Contact::default(),
        assignee: Some(Assignee { id: AgentId::parse("ag-0000000000000001").unwrap(), name: AgentName::parse("Bo").unwrap() }),
        muted: true,
    };
    let read = ServerFrame::from_tree(&serde_json::to_value(&welcome).unwrap()).unwrap();
    assert!(matches!(read, ServerFrame::Welcome { assignee: None, muted: false, .. }));
    let agents_only = [
        ServerFrame::Assigned { assignee: None },
        ServerFrame::Agents { agents: Vec::<AgentPresence>::new() },
        ServerFrame::CannedChanged,
        ServerFrame::InboxSettings { settings: protocol::inbox::InboxSettings::default() },
    ];
    for agents_only in agents_only {
        assert_eq!(ServerFrame::from_tree(&serde_json::to_value(&agents_only).unwrap()), None);
    }
}

#[test]
fn what_serde_refuses_is_not_read() {
    for text in [
        r#"{"type":"status","status":"gone"}"#,
        r#"{"type":"ack","client_id":"c1","seq":-1,"sent_at":1}"#,
        r#"{"type":"ack","client_id":"c1","seq":1.5,"sent_at":1}"#,
        r#"{"type":"read","role":"agent"}"#,
        r#"{"type":"contact","contact":{"email":"not an email"}}"#,
        r#"{"type":"message","message":{"seq":1,"client_id":"a","author":{"role":"agent","name":"Bo"},"body":"x","sent_at":1,"card":{"kind":"link","label":"x","url":"javascript:alert(1)"}}}"#,
        r#"{"type":"error","code":"no_such_code","message":"x"}"#,
        r#"{"type":"nope"}"#,
        r#"[1,2]"#,
        r#""welcome""#,
    ] {
        let tree: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ServerFrame::from_tree(&tree), None, "{text}");
        assert!(serde_json::from_value::<ServerFrame>(tree).is_err(), "serde refuses {text} too");
    }
}

#[test]
fn ids_are_checked_where_serde_takes_any_string() {
    let tree: serde_json::Value = serde_json::from_str(r#"{"type":"ack","client_id":"c 1","seq":1,"sent_at":1}"#).unwrap();
    assert_eq!(ServerFrame::from_tree(&tree), None);
}

#[test]
fn every_frame_the_widget_writes_is_what_serde_writes() {
    let frames = [
        ClientFrame::Send { client_id: ClientMsgId::parse("c-1").unwrap(), body: TRICKY.into(), card: None, suggestions: vec![] },
        ClientFrame::Send {
            client_id: ClientMsgId::parse("c-2").unwrap(),
            body: String::new(),
            card: Some(Card::Link { label: "Track".into(), url: url() }),
            suggestions: vec!["Yes".into()],
        },
        ClientFrame::Typing { active: true },
        ClientFrame::Typing { active: false },
        ClientFrame::Read { up_to: 9_007_199_254_740_991 },
        ClientFrame::SetContact { contact: contact() },
        ClientFrame::SetContact { contact: Contact::default() },
        ClientFrame::End,
        ClientFrame::Block,
        ClientFrame::SetStatus { online: true },
        ClientFrame::DeleteMyData,
        ClientFrame::Ping,
        ClientFrame::Accept,
        ClientFrame::Transfer { to: None },
        ClientFrame::Transfer { to: Some(AgentId::parse("ag-00000000000000ff").unwrap()) },
        ClientFrame::Note { client_id: ClientMsgId::parse("n-1").unwrap(), body: "@Bo look".into() },
        ClientFrame::Edit { seq: 3, body: "fixed".into() },
        ClientFrame::Retract { seq: 3 },
        ClientFrame::Subscribe { on: false },
    ];
    for frame in &frames {
        written(frame);
    }
    assert_eq!(ClientFrame::Ping.to_json(), ClientFrame::PING_TEXT, "the relay answers pings by their exact text");
    let send = ClientFrame::Send { client_id: ClientMsgId::parse("c-1").unwrap(), body: " hi ".into(), card: None, suggestions: vec![] };
    assert!(ClientFrame::decode(&send.to_json()).is_ok(), "the relay accepts it");
    written(&rich_message());
    written(&message(1, Author::Visitor));
}

/// Widget settings with every optional part set.
fn settings() -> WidgetSettings {
    let mut settings = WidgetSettings { reply_time_minutes: Some(5), retention_days: Some(30), ..WidgetSettings::default() };
    settings.fallback = Fallback { message: TRICKY.into(), link: Some(url()), link_label: Some("Help".into()) };
    settings.quick_replies = vec![
        QuickReply { label: "Pricing".into(), action: QuickAction::Send { text: "How much?".into() } },
        QuickReply { label: "Docs".into(), action: QuickAction::Url { url: url() } },
        QuickReply {
            label: "More".into(),
            action: QuickAction::Flow {
                replies: vec![QuickReply { label: "Back".into(), action: QuickAction::Send { text: "b".into() } }],
            },
        },
    ];
    settings.allowed_origins = vec!["https://shop.example".into()];
    settings
}

#[test]
fn the_http_bodies_the_widget_uses() {
    read_back(&SiteView { settings: settings(), agents_online: true });
    read_back(&SiteView { settings: WidgetSettings::default(), agents_online: false });

    // Settings stored before `email_delay_seconds` existed read as serde reads them.
    let mut old = serde_json::to_value(WidgetSettings::default()).unwrap();
    old.as_object_mut().unwrap().remove("email_delay_seconds");
    assert_eq!(WidgetSettings::from_tree(&old), serde_json::from_value(old.clone()).ok());

    read_back(&ConversationStarted { conversation_id: conversation(), token: "v1.abc.def".into() });
    read_back(&ErrorBody { error: ProtocolError::rate_limited("conversations", 30) });
    read_back(&ErrorBody { error: ProtocolError::new(ErrorCode::UnknownSite, "no such site") });

    written(&StartConversation { contact: contact(), page_url: Some(url()), identity: None });
    written(&StartConversation {
        contact: Contact::default(),
        page_url: None,
        identity: Some(Identity { user_id: "u-1".into(), user_hash: "ab".repeat(32) }),
    });
}

#[test]
fn every_error_code_reads_back_by_its_wire_name() {
    for code in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
    }
    let names: std::collections::HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), ErrorCode::ALL.len(), "no code twice");
}

proptest! {
    /// Any text in a message, in both directions.
    #[test]
    fn any_text_survives_both_ways(body in any::<String>(), name in "[^\\p{Cc}]{1,20}", seq in 0u64..9_007_199_254_740_992) {
        prop_assume!(!name.trim().is_empty());
        let message = Message { body, seq, ..message(1, agent(&name, None)) };
        read_back(&message);
        written(&message);
    }

    /// JSON of any shape is read or refused, never a panic.
    #[test]
    fn any_json_is_read_or_refused(
        kind in prop::sample::select(vec!["welcome", "history", "ack", "message", "typing", "read", "status", "error", "nope"]),
        field in prop::sample::select(vec!["seq", "client_id", "message", "messages", "author", "status", "code", "read", "contact"]),
        value in prop_oneof![Just("null".to_owned()), Just("[{}]".to_owned()), Just("{}".to_owned()), "-?[1-9][0-9]{0,19}(\\.[0-9])?", "\"[a-z_]{0,10}\""],
    ) {
        let text = format!(r#"{{"type":"{kind}","{field}":{value},"client_id":"x","seq":1,"sent_at":2}}"#);
        let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(frame) = ServerFrame::from_tree(&tree) {
            prop_assert_eq!(serde_json::from_value::<ServerFrame>(tree).ok(), Some(frame), "serde reads it the same");
        }
    }
}
