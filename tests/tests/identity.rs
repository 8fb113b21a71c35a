//! Identity verification: on a site that turns it on, a conversation is created, resumed or
//! attached only for the site's signed-in user, vouched for by the site's server with
//! `user_hash` = HMAC-SHA256(user_id, site secret); that user gets it back on any device.

use agent::ConnectionError;
use e2e::browser::Browser;
use e2e::chat::{catch_up, id};
use e2e::host::HostPage;
use e2e::{fresh_site, relay};
use protocol::http::{ErrorBody, IdentitySecret};
use protocol::site::WidgetSettings;
use protocol::{token, ErrorCode, Identity, ServerFrame, SiteId};

async fn verifying_site() -> (SiteId, String) {
    let site = fresh_site();
    let settings = WidgetSettings { identity_verification: true, ..WidgetSettings::default() };
    let admin = relay().agent("Admin").await;
    admin.put_settings(&site, &settings).await.unwrap();
    let secret: IdentitySecret = reqwest::Client::new()
        .get(format!("{}{}", relay().origin, protocol::http::identity_secret_path(&site)))
        .bearer_auth(admin.session())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (site, secret.secret)
}

/// What the site's server computes for its user.
fn vouch(secret: &str, user_id: &str) -> Identity {
    Identity { user_id: user_id.into(), user_hash: token::sign_bytes(secret.as_bytes(), user_id.as_bytes()) }
}

async fn refused_code(result: Result<agent::Connection, ConnectionError>) -> ErrorCode {
    match result.unwrap().next().await.unwrap() {
        ServerFrame::Error { code, .. } => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn conversations_open_only_for_their_verified_user_on_any_device() {
    let (site, secret) = verifying_site().await;
    let visitor = relay().visitor();
    let http_code = |err: agent::BoxError| err.downcast::<agent::HttpError>().unwrap().error.unwrap().code;

    assert_eq!(http_code(visitor.start(&site).await.unwrap_err()), ErrorCode::IdentityRequired);
    let forged = Identity { user_hash: "ab".repeat(32), ..vouch(&secret, "user-42") };
    assert_eq!(http_code(visitor.start_verified(&site, forged).await.unwrap_err()), ErrorCode::InvalidIdentity);

    let kim = vouch(&secret, "user-42");
    let started = visitor.start_verified(&site, kim.clone()).await.unwrap();
    let mut connection = visitor.connect_verified(&started.token, 0, &kim).await.unwrap();
    catch_up(&mut connection, 0).await;
    connection.post(&id("m1"), "from my laptop").await.unwrap();

    // Another device, same user: the same conversation, with its history.
    let again = visitor.start_verified(&site, kim.clone()).await.unwrap();
    assert_eq!(again.conversation_id, started.conversation_id);
    let (_, history) = catch_up(&mut visitor.connect_verified(&again.token, 0, &kim).await.unwrap(), 0).await;
    assert_eq!(history[0].body, "from my laptop");

    // The token alone, or with someone else's identity, opens nothing.
    assert_eq!(refused_code(visitor.connect(&started.token, 0).await).await, ErrorCode::IdentityRequired);
    let other = vouch(&secret, "user-7");
    assert_eq!(refused_code(visitor.connect_verified(&started.token, 0, &other).await).await, ErrorCode::InvalidIdentity);
    let theirs = visitor.start_verified(&site, other).await.unwrap();
    assert_ne!(theirs.conversation_id, started.conversation_id, "another user, another conversation");

    // Once Kim erased it, it is Kim's no more: the next start is a new conversation.
    let mut kims = visitor.connect_verified(&started.token, 0, &kim).await.unwrap();
    catch_up(&mut kims, 0).await;
    kims.send_frame(&protocol::ClientFrame::DeleteMyData).await.unwrap();
    assert_eq!(kims.next().await.unwrap(), ServerFrame::Status { status: protocol::Status::Deleted });
    let after = visitor.start_verified(&site, kim.clone()).await.unwrap();
    assert_ne!(after.conversation_id, started.conversation_id, "a new conversation after the erasure");

    // The secret is for the site's admins only.
    let anonymous = reqwest::get(format!("{}/api/agent/sites/{site}/identity-secret", relay().origin)).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.json::<ErrorBody>().await.unwrap().error.code, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn the_widget_carries_the_identity_the_page_gives_it() {
    let (site, secret) = verifying_site().await;
    let kim = vouch(&secret, "user-99");
    let script = format!(
        "window.ChatWidget=window.ChatWidget||function(){{(ChatWidget.q=ChatWidget.q||[]).push(arguments)}};\
         ChatWidget('identify', {{user_id: '{}', user_hash: '{}', email: 'kim@example.com'}});",
        kim.user_id, kim.user_hash
    );
    let page = HostPage::serve_with_script(&relay().origin, site.as_str(), "", &script).await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.write("Verified hello").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-mine .cw-body", &["Verified hello"]).await;

    // The same user on a fresh device finds the conversation.
    let again = relay().visitor().start_verified(&site, kim.clone()).await.unwrap();
    assert_eq!(again.conversation_id, browser.conversation(site.as_str()).await);

    // Kim signs out (the page calls `shutdown`, no reload) and someone else writes: the
    // widget no longer speaks for Kim, so this site (which verifies) opens nothing for them.
    browser.js("ChatWidget('shutdown'); return true;", vec![]).await;
    browser.open_widget().await;
    browser.write("Whose chat is this?").await;
    browser.wait_for("the message refused", "root && !!root.querySelector('.cw-failed')").await;
    assert_eq!(browser.widget_texts(".cw-body").await, ["Whose chat is this?"], "none of Kim's conversation shows");
    let (_, history) = catch_up(&mut relay().visitor().connect_verified(&again.token, 0, &kim).await.unwrap(), 0).await;
    assert_eq!(history.len(), 1, "Kim's conversation has only Kim's message");
}

/// A shared computer where Kim left without signing out, and Lee signs in: the page now
/// identifies Lee, whom Kim's stored conversation does not open for. The widget lets it go
/// and starts Lee's own, instead of trying to reconnect to Kim's for ever.
#[tokio::test]
async fn the_next_user_on_a_shared_computer_gets_their_own_chat() {
    let (site, secret) = verifying_site().await;
    let (kim, lee) = (vouch(&secret, "user-kim"), vouch(&secret, "user-lee"));
    let script = format!(
        "window.ChatWidget=window.ChatWidget||function(){{(ChatWidget.q=ChatWidget.q||[]).push(arguments)}};\
         const users = {{kim: {{user_id: '{}', user_hash: '{}'}}, lee: {{user_id: '{}', user_hash: '{}'}}}};\
         ChatWidget('identify', users[new URLSearchParams(location.search).get('who')]);",
        kim.user_id, kim.user_hash, lee.user_id, lee.user_hash
    );
    let page = HostPage::serve_with_script(&relay().origin, site.as_str(), "", &script).await;
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}?who=kim", page.url)).await.unwrap();
    browser.open_widget().await;
    browser.write("Kim's question").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let kims = browser.conversation(site.as_str()).await;

    browser.client.goto(&format!("{}?who=lee", page.url)).await.unwrap();
    browser.open_widget().await;
    browser.write("Lee here").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    assert_eq!(browser.widget_texts(".cw-body").await, ["Lee here"], "none of Kim's conversation shows");
    let lees = relay().visitor().start_verified(&site, lee).await.unwrap().conversation_id;
    assert_eq!(browser.conversation(site.as_str()).await, lees);
    assert_ne!(lees, kims);
}

/// On a site that verifies its users, the ended conversation before this one opens only for
/// its user too: the widget reads it once the page has said who is signed in.
#[tokio::test]
async fn the_earlier_conversation_stays_readable_for_its_verified_user() {
    let (site, secret) = verifying_site().await;
    let kim = vouch(&secret, "user-kim");
    let script = format!(
        "window.ChatWidget=window.ChatWidget||function(){{(ChatWidget.q=ChatWidget.q||[]).push(arguments)}};\
         ChatWidget('identify', {{user_id: '{}', user_hash: '{}'}});",
        kim.user_id, kim.user_hash
    );
    let page = HostPage::serve_with_script(&relay().origin, site.as_str(), "", &script).await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.write("My first question").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let first = browser.conversation(site.as_str()).await;
    let mut agent = relay().agent("Ana").await.join(&first, 0).await.unwrap();
    agent.send_frame(&protocol::ClientFrame::End).await.unwrap();
    browser.wait_for_texts(".cw-notice", &["This chat has ended. Write a message to start a new conversation."]).await;
    browser.write("A new question").await;
    browser.wait_for_texts(".cw-messages:not(.cw-earlier .cw-messages) .cw-mine .cw-state", &["Sent"]).await;
    assert_ne!(browser.conversation(site.as_str()).await, first, "a new conversation");

    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-messages:not(.cw-earlier .cw-messages) .cw-mine .cw-body", &["A new question"]).await;
    browser.wait_for_texts(".cw-earlier .cw-body", &["My first question"]).await;
}
