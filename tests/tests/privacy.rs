//! Privacy: a visitor deletes their data from the widget, an agent deletes a conversation on
//! request, and a site's retention erases closed conversations; nothing of them is kept.

use e2e::browser::Browser;
use e2e::chat::{catch_up, id, wait_for};
use e2e::host::HostPage;
use e2e::{fresh_site, relay, Relay};
use protocol::http::{agent_conversation_path, ErrorBody};
use protocol::site::WidgetSettings;
use protocol::{ClientFrame, Contact, ConversationId, Email, ErrorCode, ServerFrame, SiteId, Status};
use std::time::Duration;

/// What an agent finds when it opens the conversation now.
async fn what_is_left(relay: &Relay, conversation: &ConversationId) -> (Status, u64, Contact) {
    let mut agent = relay.agent("Ana").await.join(conversation, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { status, last_seq, contact, .. } => (status, last_seq, contact),
        other => panic!("{other:?}"),
    }
}

async fn listed(relay: &Relay, site: &SiteId, conversation: &ConversationId) -> bool {
    let list = relay.agent("Ana").await.conversations(site).await.unwrap();
    list.conversations.iter().any(|c| &c.conversation_id == conversation)
}

#[tokio::test]
async fn a_visitor_deletes_their_data_and_nothing_is_kept() {
    let relay = relay();
    let site = fresh_site();
    let contact = Contact { email: Some(Email::parse("gone@example.com").unwrap()), name: Some("Gone".into()) };
    let started = relay.visitor().start_with(&site, contact).await.unwrap();
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    visitor.post(&id("m1"), "my private question").await.unwrap();
    let ana = relay.agent("Ana").await;
    // An agent's console is open on the site: its inbox lists the conversation.
    let mut console = ana.site_connection(&site).await.unwrap();
    let mut agent = ana.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;

    agent.send_frame(&ClientFrame::DeleteMyData).await.unwrap();
    assert!(matches!(agent.next().await.unwrap(), ServerFrame::Error { code: ErrorCode::Forbidden, .. }));

    visitor.send_frame(&ClientFrame::DeleteMyData).await.unwrap();
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Status { status: Status::Deleted });
    assert_eq!(what_is_left(relay, &started.conversation_id).await, (Status::Deleted, 0, Contact::default()));
    assert!(!listed(relay, &site, &started.conversation_id).await, "the inbox forgot it");
    // The open console is told to drop it, and hears nothing of the visitor in that.
    let gone = wait_for(&mut console, |frame| match frame {
        ServerFrame::Inbox { entry } if entry.conversation_id == started.conversation_id && entry.status == Status::Deleted => Some(entry),
        _ => None,
    })
    .await;
    assert_eq!((gone.contact, gone.preview.as_str()), (Contact::default(), ""));

    // Blocking what is erased brings nothing back into the inbox.
    let mut late = ana.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut late, 0).await;
    late.send_frame(&ClientFrame::Block).await.unwrap();
    // Answered after the block, in order: nothing can be written here either.
    late.send_frame(&ClientFrame::Send { client_id: id("late"), body: "hello?".into(), card: None, suggestions: vec![] }).await.unwrap();
    let refused = wait_for(&mut late, |frame| match frame {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    })
    .await;
    assert_eq!(refused, ErrorCode::ConversationClosed);
    assert_eq!(what_is_left(relay, &started.conversation_id).await.0, Status::Deleted);
    assert!(!listed(relay, &site, &started.conversation_id).await, "still forgotten");
}

#[tokio::test]
async fn an_agent_deletes_a_conversation_on_request() {
    let relay = relay();
    let site = fresh_site();
    let started = relay.visitor().start(&site).await.unwrap();
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    visitor.post(&id("m1"), "please forget me").await.unwrap();

    // Ana is responsible for it.
    let ana = relay.agent("Ana").await;
    let mut ana_chat = ana.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut ana_chat, 0).await;
    ana_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    wait_for(&mut ana_chat, |f| matches!(f, ServerFrame::Assigned { .. }).then_some(())).await;

    let url = format!("{}{}", relay.origin, agent_conversation_path(&started.conversation_id));
    let http = reqwest::Client::new();
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 401);
    // Deleting is for good: not for a colleague, only for her or an admin.
    let bo = relay.agent("Bo").await.session().to_owned();
    let refused = http.delete(&url).bearer_auth(&bo).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<ErrorBody>().await.unwrap().error.code, ErrorCode::NotResponsible);
    assert_eq!(what_is_left(relay, &started.conversation_id).await.1, 1, "nothing erased");
    let session = ana.session().to_owned();
    assert_eq!(http.delete(&url).bearer_auth(&session).send().await.unwrap().status(), 200);
    assert_eq!(visitor.next().await.unwrap(), ServerFrame::Status { status: Status::Deleted });
    assert_eq!(what_is_left(relay, &started.conversation_id).await.1, 0);

    // An admin may, whoever is responsible.
    let (other, _) = e2e::chat::visitor_says(relay, &site, "and forget this one too").await;
    let mut ana_other = ana.join(&other.conversation_id, 0).await.unwrap();
    catch_up(&mut ana_other, 0).await;
    ana_other.send_frame(&ClientFrame::Accept).await.unwrap();
    wait_for(&mut ana_other, |f| matches!(f, ServerFrame::Assigned { .. }).then_some(())).await;
    let admin = relay.agent("Admin").await.session().to_owned();
    let other_url = format!("{}{}", relay.origin, agent_conversation_path(&other.conversation_id));
    assert_eq!(http.delete(&other_url).bearer_auth(&admin).send().await.unwrap().status(), 200);

    let nobody = format!("{}{}", relay.origin, agent_conversation_path(&ConversationId::parse(&"ab".repeat(32)).unwrap()));
    let response = http.delete(&nobody).bearer_auth(&session).send().await.unwrap();
    assert_eq!(response.json::<ErrorBody>().await.unwrap().error.code, ErrorCode::UnknownConversation);
}

#[tokio::test]
async fn closed_conversations_are_erased_after_the_sites_retention() {
    // A "day" of one second here.
    let relay = Relay::start_with("retention", &[("RETENTION_DAY_SECONDS", "1")]);
    let site = fresh_site();
    let settings = WidgetSettings { retention_days: Some(2), ..WidgetSettings::default() };
    relay.agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    let closed = relay.visitor().start(&site).await.unwrap();
    let open = relay.visitor().start(&site).await.unwrap();
    for started in [&closed, &open] {
        let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
        catch_up(&mut visitor, 0).await;
        visitor.post(&id("m1"), "hello").await.unwrap();
    }
    let mut agent = relay.agent("Ana").await.join(&closed.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Status { status: Status::Ended });

    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(what_is_left(&relay, &closed.conversation_id).await.0, Status::Deleted, "erased after two days");
    assert_eq!(what_is_left(&relay, &open.conversation_id).await, (Status::Open, 1, Contact::default()), "open ones stay");
}

#[tokio::test]
async fn the_widget_offers_deletion_and_forgets_everything() {
    let relay = relay();
    let site = fresh_site();
    let (browser, _page, conversation) = e2e::host::visitor_writes(&relay.origin, &site, "delete me later").await;

    browser.widget(".cw-delete").await.click().await.unwrap();
    browser.widget(".cw-confirm-delete").await.click().await.unwrap();
    browser.wait_for_texts(".cw-notice", &["Your conversation and email were deleted."]).await;
    assert!(browser.widget_texts(".cw-body").await.is_empty());
    assert!(browser.local_storage(&format!("chat-widget:{site}:session")).await.is_none());
    assert_eq!(what_is_left(relay, &conversation).await.0, Status::Deleted);
    browser.screenshot("privacy-deleted").await;
}

#[tokio::test]
async fn in_consent_mode_nothing_is_stored_until_the_visitor_opens_the_chat() {
    let relay = relay();
    let site = fresh_site();
    let script = "window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)};\
                  ChatWidget('identify', {email: 'careful@example.com'});";
    let page = HostPage::serve_with_script(&relay.origin, site.as_str(), "data-consent=\"required\"", script).await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.widget(".cw-mount .cw-launcher").await; // loaded and identified
    let stored = browser.js("return Object.keys(localStorage).filter(k => k.startsWith('chat-widget:'));", vec![]).await;
    assert_eq!(stored, serde_json::json!([]), "nothing before consent");

    browser.open_widget().await;
    let key = format!("chat-widget:{site}:contact");
    let contact = browser.wait_for("the contact stored", &format!("localStorage.getItem({})", serde_json::to_string(&key).unwrap())).await;
    assert!(contact.as_str().unwrap().contains("careful@example.com"));
}
