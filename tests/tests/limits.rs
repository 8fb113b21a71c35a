//! Abuse limits on a relay started with small ones: over a limit is a typed `rate_limited`
//! refusal with a retry time (HTTP 429 with Retry-After), and nothing is stored.

use e2e::chat::{catch_up, expect_error, id};
use e2e::{Relay, DEMO_SITE};
use protocol::http::{ErrorBody, InboundEmail};
use protocol::{ClientFrame, Contact, Email, ErrorCode, ServerFrame, SiteId};
use std::sync::OnceLock;

/// Only this binary's tests use this relay, so its limits are theirs.
fn limited() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(|| {
        Relay::start_with(
            "limits",
            &[
                ("LIMIT_CONVERSATIONS_PER_HOUR", "3"),
                ("LIMIT_MESSAGES_PER_SECOND", "2"),
                ("LIMIT_CONTACT_CHANGES_PER_HOUR", "2"),
            ],
        )
    })
}

/// A conversation on a site of its own, started from an address of its own: the other tests
/// here count theirs.
async fn started_from(relay: &Relay, ip: &str) -> protocol::http::ConversationStarted {
    let response = reqwest::Client::new()
        .post(format!("{}/api/sites/{}/conversations", relay.origin, e2e::fresh_site()))
        .header("CF-Connecting-IP", ip)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test]
async fn new_conversations_per_ip_per_hour() {
    let relay = limited();
    let site = SiteId::parse(DEMO_SITE).unwrap();
    let before = relay.agent("Ana").await.conversations(&site).await.unwrap().conversations.len();
    // Another test in this binary may have started one already; take what is left of the 3.
    let mut started = 0;
    let refusal = loop {
        let response = reqwest::Client::new()
            .post(format!("{}/api/sites/{DEMO_SITE}/conversations", relay.origin))
            .header("CF-Connecting-IP", "203.0.113.7")
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            break response;
        }
        assert_eq!(response.status(), 201);
        started += 1;
        assert!(started <= 3, "the limit held");
    };
    assert_eq!(started, 3, "three per hour from one address");
    let retry_after: u32 = refusal.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 3000, "about an hour: {retry_after}");
    let body: ErrorBody = refusal.json().await.unwrap();
    assert_eq!((body.error.code, body.error.retry_after_secs), (ErrorCode::RateLimited, Some(retry_after)));
    let after = relay.agent("Ana").await.conversations(&site).await.unwrap().conversations.len();
    assert_eq!(after, before + 3, "the refused start created nothing");

    // Another address is not affected.
    let other = reqwest::Client::new()
        .post(format!("{}/api/sites/{DEMO_SITE}/conversations", relay.origin))
        .header("CF-Connecting-IP", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
}

#[tokio::test]
async fn messages_per_second_and_email_changes_per_conversation() {
    let relay = limited();
    let started = started_from(relay, "192.0.2.44").await;
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;

    // A burst of ten: the bucket (2 per second, bursts of 4) takes some, refuses the rest.
    for n in 0..10 {
        visitor.send_text(format!(r#"{{"type":"send","client_id":"m{n}","body":"flood {n}"}}"#)).await.unwrap();
    }
    let (mut acked, mut refused) = (Vec::new(), 0);
    for _ in 0..10 {
        match visitor.next().await.unwrap() {
            ServerFrame::Ack { seq, .. } => acked.push(seq),
            ServerFrame::Error { code: ErrorCode::RateLimited, client_id: Some(_), retry_after_secs: Some(_), .. } => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(acked.len() >= 4 && refused >= 4, "acked {acked:?}, refused {refused}");
    let (_, history) = catch_up(&mut relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap(), 0).await;
    assert_eq!(history.len(), acked.len(), "only what was acknowledged is stored");

    // A second later the visitor can write again; a refused message can be resent as it was.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(visitor.post(&id("m9"), "flood 9").await.is_ok());

    // Email captures: two per hour here.
    for n in 0..2 {
        let contact = Contact { email: Some(Email::parse(&format!("v{n}@example.com")).unwrap()), name: None };
        visitor.send_frame(&ClientFrame::SetContact { contact }).await.unwrap();
        assert!(matches!(visitor.next().await.unwrap(), ServerFrame::Contact { .. }));
    }
    let contact = Contact { email: Some(Email::parse("v3@example.com").unwrap()), name: None };
    visitor.send_frame(&ClientFrame::SetContact { contact }).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::RateLimited);
}

/// A reply by email to an ended chat opens it again only if it is stored: one refused for
/// coming too fast leaves the chat ended, as the inbox shows it.
#[tokio::test]
async fn a_refused_reply_by_email_leaves_an_ended_chat_ended() {
    let relay = limited();
    let started = started_from(relay, "192.0.2.45").await;
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Status { status: protocol::Status::Ended });
    // The visitor's bucket (bursts of 4) is spent on writing to the ended chat.
    for n in 0..6 {
        visitor.send_text(format!(r#"{{"type":"send","client_id":"late{n}","body":"hello?"}}"#)).await.unwrap();
    }
    let mut limited_seen = false;
    while !limited_seen {
        if let ServerFrame::Error { code: ErrorCode::RateLimited, .. } = visitor.next().await.unwrap() {
            limited_seen = true;
        }
    }

    let mail = InboundEmail {
        to: e2e::reply_to(&started.conversation_id),
        from: "late@example.com".into(),
        text: "Are you still there?".into(),
        message_id: Some("<too-fast@mail.example.com>".into()),
    };
    assert_eq!(relay.post_inbound(&mail, e2e::INBOUND_SECRET).await.status(), 429);
    let (welcome, history) = catch_up(&mut relay.agent("Bo").await.join(&started.conversation_id, 0).await.unwrap(), 0).await;
    assert!(matches!(welcome, ServerFrame::Welcome { status: protocol::Status::Ended, .. }), "{welcome:?}");
    assert!(history.is_empty(), "nothing stored");
}
