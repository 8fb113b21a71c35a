//! A conversation's state beyond its messages, on the real relay: read marks, typing,
//! contact details, rich agent messages, ending and blocking.

use e2e::chat::*;
use e2e::relay;
use protocol::{
    Author, Card, ClientFrame, Contact, Email, ErrorCode, ReadMarks, Role, SafeUrl, ServerFrame, Status,
};

#[tokio::test]
async fn read_marks_move_forward_reach_the_other_side_and_come_back_on_reconnect() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;
    visitor.post(&id("v1"), "hello").await.unwrap();
    expect_message(&mut agent).await;
    let seq = agent.post(&id("a1"), "hi there").await.unwrap();
    expect_message(&mut visitor).await;

    visitor.send_frame(&ClientFrame::Read { up_to: seq }).await.unwrap();
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Read { role: Role::Visitor, up_to: seq });
    // Backwards, or past the last message: ignored (the next frame is the pong).
    visitor.send_frame(&ClientFrame::Read { up_to: 1 }).await.unwrap();
    visitor.send_frame(&ClientFrame::Read { up_to: 99 }).await.unwrap();
    visitor.send_text(ClientFrame::PING_TEXT).await.unwrap();
    loop {
        match visitor.next().await.unwrap() {
            ServerFrame::Pong => break,
            ServerFrame::Read { role: Role::Visitor, up_to } => assert_eq!(up_to, seq, "only our own first mark"),
            other => panic!("unexpected {other:?}"),
        }
    }

    let mut again = relay().visitor().connect(&started.token, 0).await.unwrap();
    match again.next().await.unwrap() {
        // Each side has read what it wrote and the visitor read the agent's reply.
        ServerFrame::Welcome { read, .. } => assert_eq!(read, ReadMarks { visitor: 2, agent: 2 }),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn typing_is_relayed_to_the_other_side_and_never_stored() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;
    agent.send_frame(&ClientFrame::Typing { active: true }).await.unwrap();
    match visitor.next().await.unwrap() {
        ServerFrame::Typing { author: Author::Agent { name, .. }, active: true } => assert_eq!(name.as_str(), "Ana"),
        other => panic!("{other:?}"),
    }
    visitor.send_frame(&ClientFrame::Typing { active: false }).await.unwrap();
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Typing { author: Author::Visitor, active: false });
    let (_, history) = visitor_connection(&started, 0).await;
    assert!(history.is_empty());
}

#[tokio::test]
async fn the_visitor_gives_an_email_and_agents_see_it() {
    let email = Email::parse("ana@example.com").unwrap();
    let started = relay()
        .visitor()
        .start_with(&demo_site(), Contact { email: Some(email.clone()), name: Some("Ana".into()) })
        .await
        .unwrap();
    let mut agent = relay().agent("Bo").await.join(&started.conversation_id, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { contact, .. } => assert_eq!(contact.email, Some(email)),
        other => panic!("{other:?}"),
    }

    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let changed = Email::parse("ana.new@example.com").unwrap();
    visitor.send_frame(&ClientFrame::SetContact { contact: Contact { email: Some(changed.clone()), name: None } }).await.unwrap();
    for side in [&mut agent, &mut visitor] {
        // Everyone hears it, the visitor's own tabs included.
        match side.next().await.unwrap() {
            ServerFrame::Contact { contact } => {
                assert_eq!(contact.email.as_ref(), Some(&changed));
                assert_eq!(contact.name.as_deref(), Some("Ana"), "the name stays");
            }
            other => panic!("{other:?}"),
        }
    }

    visitor.send_text(r#"{"type":"set_contact","contact":{"email":"not an email"}}"#).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::InvalidEmail);
    agent.send_text(r#"{"type":"set_contact","contact":{"email":"x@example.com"}}"#).await.unwrap();
    assert_eq!(expect_error(&mut agent).await.0, ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_bad_email_at_start_is_refused_and_nothing_is_created() {
    let response = reqwest::Client::new()
        .post(format!("{}/api/sites/demo/conversations", relay().origin))
        .body(r#"{"contact":{"email":"nobody@"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: protocol::http::ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, ErrorCode::InvalidEmail);
}

#[tokio::test]
async fn agents_send_cards_and_suggestions_visitors_cannot() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;
    let card = Card::Article {
        title: "Returns".into(),
        summary: "How to send an order back.".into(),
        url: SafeUrl::parse("https://help.example.com/returns").unwrap(),
    };
    let frame = ClientFrame::Send {
        client_id: id("card"),
        body: "This should help:".into(),
        card: Some(card.clone()),
        suggestions: vec!["Thanks!".into(), "I still need help".into()],
    };
    agent.post_frame(&id("card"), &frame).await.unwrap();
    let message = expect_message(&mut visitor).await;
    assert_eq!(message.card, Some(card));
    assert_eq!(message.suggestions, ["Thanks!", "I still need help"]);
    let (_, history) = visitor_connection(&started, 0).await;
    assert_eq!(history[0].card, message.card, "stored with the message");

    visitor
        .send_text(r#"{"type":"send","client_id":"v","body":"x","suggestions":["Free money"]}"#)
        .await
        .unwrap();
    assert_eq!(expect_error(&mut visitor).await, (ErrorCode::Forbidden, Some(id("v"))));
    agent
        .send_text(r#"{"type":"send","client_id":"j","body":"","card":{"kind":"link","label":"Go","url":"javascript:alert(1)"}}"#)
        .await
        .unwrap();
    assert_eq!(expect_error(&mut agent).await.0, ErrorCode::InvalidUrl);
}

#[tokio::test]
async fn an_ended_conversation_takes_no_more_messages_and_a_new_one_can_start() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;
    visitor.post(&id("v1"), "thanks, bye").await.unwrap();
    expect_message(&mut agent).await;

    visitor.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::Forbidden, "visitors do not end chats");

    agent.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(visitor.next().await.unwrap(), ServerFrame::Status { status: Status::Ended });
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Status { status: Status::Ended });
    visitor.send_text(r#"{"type":"send","client_id":"late","body":"one more thing"}"#).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await, (ErrorCode::ConversationClosed, Some(id("late"))));

    let (_, history) = visitor_connection(&started, 0).await;
    assert_eq!(history.len(), 1, "the earlier conversation stays readable, unchanged");
    let next = start().await;
    let (mut visitor, _) = visitor_connection(&next, 0).await;
    assert_eq!(visitor.post(&id("late"), "one more thing").await.unwrap(), 1);
}

#[tokio::test]
async fn a_blocked_visitor_can_no_longer_write() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;
    let seq = visitor.post(&id("v1"), "hello").await.unwrap();
    expect_message(&mut agent).await;
    agent.send_frame(&ClientFrame::Block).await.unwrap();
    assert_eq!(visitor.next().await.unwrap(), ServerFrame::Status { status: Status::Blocked });
    visitor.send_text(r#"{"type":"send","client_id":"spam","body":"buy now"}"#).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await, (ErrorCode::ConversationClosed, Some(id("spam"))));
    // Nor does what they wrote change, nor their contact details.
    visitor.send_frame(&ClientFrame::Edit { seq, body: "buy now".into() }).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::ConversationClosed);
    visitor.send_frame(&ClientFrame::Retract { seq }).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::ConversationClosed);
    let contact = Contact { email: Some(Email::parse("spam@example.com").unwrap()), name: None };
    visitor.send_frame(&ClientFrame::SetContact { contact }).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::ConversationClosed);
    let (_, history) = agent_connection("Ana", &started.conversation_id).await;
    assert_eq!((history[0].body.as_str(), history[0].edited), ("hello", false));
    let mut again = relay().visitor().connect(&started.token, 0).await.unwrap();
    assert!(matches!(again.next().await.unwrap(), ServerFrame::Welcome { status: Status::Blocked, .. }));
}
