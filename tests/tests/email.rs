//! The email fallback on the real relay: unread agent replies go out by email once, after
//! the site's delay (seconds here), through `wrangler dev`'s `send_email` (it writes files);
//! the link in it reopens the conversation anywhere; replies by email land in the chat.

use agent::Connection;
use e2e::browser::Browser;
use e2e::chat::{catch_up, next_message};
use e2e::host::HostPage;
use e2e::{fresh_site, relay, Relay, INBOUND_SECRET, TOKEN_SECRET};
use protocol::http::{ErrorBody, InboundEmail};
use protocol::site::WidgetSettings;
use protocol::token;
use protocol::{ClientFrame, ClientMsgId, Contact, ConversationId, Email, EmailStatus, ErrorCode, ServerFrame, SiteId};
use std::time::Duration;

const DELAY_SECONDS: u32 = 2;

fn id(s: &str) -> ClientMsgId {
    ClientMsgId::parse(s).unwrap()
}

async fn site_with_short_delay(relay: &Relay) -> SiteId {
    let site = fresh_site();
    let settings = WidgetSettings { email_delay_seconds: DELAY_SECONDS, ..WidgetSettings::default() };
    relay.agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    site
}

async fn start_with_email(relay: &Relay, site: &SiteId, email: &str) -> protocol::http::ConversationStarted {
    let contact = Contact { email: Some(Email::parse(email).unwrap()), name: Some("Vera".into()) };
    relay.visitor().start_with(site, contact).await.unwrap()
}

/// The next email-fallback status an agent hears.
async fn email_status(agent: &mut Connection) -> EmailStatus {
    loop {
        match agent.next().await.expect("an email status within the frame timeout") {
            ServerFrame::EmailFallback { status } => return status,
            _ => continue,
        }
    }
}

/// Waits past the delay (and then some) for anything more to happen.
async fn wait_past_the_delay() {
    tokio::time::sleep(Duration::from_secs(DELAY_SECONDS as u64 + 2)).await;
}

fn link_in(text: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix("Continue the conversation: ")).expect("a link in the email").to_owned()
}

#[tokio::test]
async fn one_email_covers_every_unread_reply_and_its_link_reopens_the_conversation_elsewhere() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let page = HostPage::serve(&relay.origin, site.as_str(), "").await;

    // The visitor writes, leaves an email, and leaves.
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.write("Is the blue one back in stock?").await;
    browser.widget(".cw-email-input").await.send_keys("vera@example.com").await.unwrap();
    browser.widget(".cw-email-form button[type=submit]").await.click().await.unwrap();
    browser.wait_for_texts(".cw-reply-to", &["We will reply to vera@example.com. Change"]).await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    browser.close().await;

    let mut agent = relay.agent("Ana").await.join(&conversation, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Yes, it came back today.").await.unwrap();
    agent.post(&id("r2"), "Shall I reserve one for you?").await.unwrap();
    assert_eq!(email_status(&mut agent).await, EmailStatus::Sent { up_to: 3 });
    relay.wait_for_emails(&conversation, 1).await;
    wait_past_the_delay().await;

    let emails = relay.emails_about(&conversation);
    assert_eq!(emails.len(), 1, "exactly one email for both replies: {emails:#?}");
    let email = &emails[0];
    assert_eq!(email.to, "vera@example.com");
    assert_eq!(email.from, "chat@demo.example");
    assert!(email.subject.contains("2 new replies"), "{}", email.subject);
    assert!(email.text.contains("Ana: Yes, it came back today.") && email.text.contains("Ana: Shall I reserve one for you?"));
    assert!(email.text.contains("Is the blue one back in stock?"), "the visitor's last message for context");
    assert!(email.html.contains("Shall I reserve one for you?"));

    // The link, on another device: the same conversation, whole, without signing in.
    let link = link_in(&email.text);
    assert!(link.starts_with(&page.url), "back to the page the visitor was on: {link}");
    let elsewhere = Browser::open().await;
    elsewhere.client.goto(&link).await.unwrap();
    elsewhere.widget(".cw-panel").await;
    elsewhere
        .wait_for_texts(".cw-body", &["Is the blue one back in stock?", "Yes, it came back today.", "Shall I reserve one for you?"])
        .await;
    assert_eq!(elsewhere.conversation(site.as_str()).await, conversation, "the session is this device's now");
    let address = elsewhere.js("return location.href;", vec![]).await;
    assert!(!address.as_str().unwrap().contains("chat-resume"), "the token leaves the address bar");
    elsewhere.screenshot("email-link-resumed").await;

    // And the relay's own page opens it too.
    let fallback = email.text.lines().find_map(|l| l.strip_prefix("Or open it here: ")).unwrap().to_owned();
    let third = Browser::open().await;
    third.client.goto(&fallback).await.unwrap();
    third.wait_for_texts(".cw-theirs .cw-body", &["Yes, it came back today.", "Shall I reserve one for you?"]).await;
}

#[tokio::test]
async fn a_link_opens_only_its_own_sites_chat_and_tells_it_nothing_this_browser_knows() {
    let relay = relay();
    let site = fresh_site();
    // A conversation on this site someone else started, and one on another site.
    let theirs = relay.visitor().start(&site).await.unwrap();
    let elsewhere = relay.visitor().start(&fresh_site()).await.unwrap();
    // This browser's visitor is known here: the page identified them on an earlier visit.
    let script = "window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)};\
        if (!location.hash) ChatWidget('identify', {email: 'me@example.com', name: 'Me'});";
    let page = HostPage::serve_with_script(&relay.origin, site.as_str(), "", script).await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.wait_for("the contact stored", &format!("localStorage.getItem('chat-widget:{site}:contact')")).await;

    // Another site's link opens nothing here.
    browser.client.goto(&format!("{}?from=mail#chat-resume={}", page.url, elsewhere.token)).await.unwrap();
    browser.widget(".cw-panel").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(browser.local_storage(&format!("chat-widget:{site}:session")).await.is_none());
    assert!(browser.widget_texts(".cw-body").await.is_empty());

    // This site's link opens its conversation, and what this browser knows of its visitor
    // stays here: the conversation is not told this visitor's email.
    browser.client.goto(&format!("{}?from=mail2#chat-resume={}", page.url, theirs.token)).await.unwrap();
    assert_eq!(browser.conversation(site.as_str()).await, theirs.conversation_id);
    browser.write("Hello?").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay.agent("Ana").await.join(&theirs.conversation_id, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { contact, .. } => assert_eq!(contact, Contact::default()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_visitor_who_reads_in_time_gets_no_email_and_a_later_batch_gets_its_own() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let started = start_with_email(relay, &site, "quick@example.com").await;
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;

    let seq = agent.post(&id("r1"), "Here you go").await.unwrap();
    next_message(&mut visitor).await;
    // A colleague's private note after the reply: the visitor never sees it, and reading up
    // to the reply is reading everything.
    let note = ClientFrame::Note { client_id: id("n1"), body: "they asked about returns too".into() };
    agent.post_frame(&id("n1"), &note).await.unwrap();
    visitor.send_frame(&ClientFrame::Read { up_to: seq }).await.unwrap();
    wait_past_the_delay().await;
    assert!(relay.emails_about(&started.conversation_id).is_empty(), "read in time: no email");

    // A new batch after the read: a new email later, with only the new message.
    agent.post(&id("r2"), "Anything else?").await.unwrap();
    assert_eq!(email_status(&mut agent).await, EmailStatus::Sent { up_to: seq + 2 });
    let emails = relay.wait_for_emails(&started.conversation_id, 1).await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0].text.contains("Anything else?") && !emails[0].text.contains("Here you go"));
}

/// A visitor marked as spam gets nothing more from the site: the reply written before the
/// block is not emailed either.
#[tokio::test]
async fn a_blocked_visitor_is_not_emailed() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let started = start_with_email(relay, &site, "spammer@example.com").await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Please stop").await.unwrap();
    agent.send_frame(&ClientFrame::Block).await.unwrap();
    wait_past_the_delay().await;
    assert!(relay.emails_about(&started.conversation_id).is_empty(), "no email to a blocked visitor");
}

#[tokio::test]
async fn a_bots_answer_left_unread_is_emailed_like_an_agents() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let bot = protocol::automations::Bot {
        url: protocol::SafeUrl::parse("https://bot.example/hook").unwrap(),
        name: protocol::AgentName::parse("Sunny").unwrap(),
    };
    let automations = protocol::automations::Automations { webhooks: vec![], bot: Some(bot) };
    relay.agent("Admin").await.put_automations(&site, &automations).await.unwrap();
    let started = start_with_email(relay, &site, "bot-reader@example.com").await;
    let answer = protocol::automations::BotReply { client_id: id("bot-1"), text: "Your parcel left today.".into(), suggestions: vec![] };
    let response = reqwest::Client::new()
        .post(format!("{}{}", relay.origin, protocol::http::bot_message_path(&started.conversation_id)))
        .bearer_auth(token::bot_key(TOKEN_SECRET.as_bytes(), &site))
        .json(&answer)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let emails = relay.wait_for_emails(&started.conversation_id, 1).await;
    assert!(emails[0].text.contains("Your parcel left today."), "{}", emails[0].text);
}

#[tokio::test]
async fn a_relay_killed_between_the_reply_and_the_alarm_still_sends_exactly_one_email() {
    let mut relay = Relay::start("email-restart");
    let site = site_with_short_delay(&relay).await;
    let started = start_with_email(&relay, &site, "restart@example.com").await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Sorry for the wait").await.unwrap();

    // Killed before the alarm is due; the due time passes while it is down.
    relay = relay.restart();
    relay.wait_for_emails(&started.conversation_id, 1).await;
    wait_past_the_delay().await;
    let emails = relay.emails_about(&started.conversation_id);
    assert_eq!(emails.len(), 1, "the alarm fired after the restart, once: {emails:#?}");

    // Another restart after it was sent sends nothing more.
    relay = relay.restart();
    wait_past_the_delay().await;
    assert_eq!(relay.emails_about(&started.conversation_id).len(), 1);
}

#[tokio::test]
async fn without_an_email_address_nothing_is_sent_and_agents_are_told_why() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let started = relay.visitor().start(&site).await.unwrap();
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Hello?").await.unwrap();
    assert_eq!(email_status(&mut agent).await, EmailStatus::NoAddress);
    assert!(relay.emails_about(&started.conversation_id).is_empty());
    // An agent who opens the conversation later sees it too.
    let mut later = relay.agent("Bo").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut later, 0).await;
    assert_eq!(email_status(&mut later).await, EmailStatus::NoAddress);
}

#[tokio::test]
async fn a_reply_by_email_lands_in_the_conversation_once_and_live() {
    let relay = relay();
    let site = fresh_site();
    let (browser, _page, conversation) = e2e::host::visitor_writes(&relay.origin, &site, "Please email me").await;
    let mut agent = relay.agent("Ana").await.join(&conversation, 0).await.unwrap();
    catch_up(&mut agent, 0).await;

    let mail = InboundEmail {
        to: format!("Demo shop <{}>", e2e::reply_to(&conversation)),
        from: "vera@example.com".into(),
        text: "Thanks, I'll pick it up tomorrow.\n\nOn Mon, Ana <chat@demo.example> wrote:\n> Shall I reserve one?\n-- \nVera".into(),
        message_id: Some("<abc@mail.example.com>".into()),
    };
    let response = relay.post_inbound(&mail, INBOUND_SECRET).await;
    assert_eq!(response.status(), 200);
    let message = next_message(&mut agent).await;
    assert_eq!(message.body, "Thanks, I'll pick it up tomorrow.", "quotes and signature stripped");
    browser.wait_for_texts(".cw-mine .cw-body", &["Please email me", "Thanks, I'll pick it up tomorrow."]).await;

    // The provider delivers it again: stored once.
    assert_eq!(relay.post_inbound(&mail, INBOUND_SECRET).await.status(), 200);
    let (_, history) = catch_up(&mut relay.agent("Bo").await.join(&conversation, 0).await.unwrap(), 0).await;
    assert_eq!(history.len(), 2);
}

#[tokio::test]
async fn a_reply_by_email_after_the_chat_ended_opens_it_again() {
    let relay = relay();
    let started = start_with_email(relay, &fresh_site(), "late@example.com").await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Your refund is on its way.").await.unwrap();
    agent.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Status { status: protocol::Status::Ended });

    // Hours later (the chat ended for quiet, say) the visitor answers the email.
    let mail = InboundEmail {
        to: e2e::reply_to(&started.conversation_id),
        from: "late@example.com".into(),
        text: "It has not arrived yet.".into(),
        message_id: Some("<late@mail.example.com>".into()),
    };
    assert_eq!(relay.post_inbound(&mail, INBOUND_SECRET).await.status(), 200);
    assert_eq!(agent.next().await.unwrap(), ServerFrame::Status { status: protocol::Status::Open });
    assert_eq!(next_message(&mut agent).await.body, "It has not arrived yet.");
}

/// The site writing first to an address goes into a conversation with it only where that
/// address is proven the contact's: typed into a chat it proves nothing (anyone can type
/// anyone's), answered from its mailbox it does.
#[tokio::test]
async fn writing_first_goes_into_a_chat_only_where_the_address_was_proven() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let typed = start_with_email(relay, &site, "maybe-mine@example.com").await;
    let mut visitor = relay.visitor().connect(&typed.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    visitor.post(&id("v1"), "I am totally the owner of this address").await.unwrap();
    let ana = relay.agent("Ana").await;
    let _online = ana.go_online(&site).await.unwrap();
    let write = |body: &str| protocol::inbox::Outbound { email: Email::parse("maybe-mine@example.com").unwrap(), body: body.into(), client_id: None };

    let first = ana.write_first(&site, &write("Your invoice is attached")).await.unwrap();
    assert_ne!(first.conversation_id, typed.conversation_id, "a conversation of its own");
    let email = relay.wait_for_emails(&first.conversation_id, 1).await.remove(0);
    assert!(!email.text.contains("totally the owner"), "nothing of the other chat in it");
    let (_, history) = catch_up(&mut relay.visitor().connect(&typed.token, 0).await.unwrap(), 0).await;
    assert_eq!(history.len(), 1, "the chat where the address was typed got nothing");

    // The contact answers the email: that mailbox is theirs, and the next message goes there.
    let mail = InboundEmail {
        to: e2e::reply_to(&first.conversation_id),
        from: "maybe-mine@example.com".into(),
        text: "Thanks!".into(),
        message_id: Some("<thanks@mail.example.com>".into()),
    };
    assert_eq!(relay.post_inbound(&mail, INBOUND_SECRET).await.status(), 200);
    let again = ana.write_first(&site, &write("You are welcome")).await.unwrap();
    assert_eq!(again.conversation_id, first.conversation_id);
}

#[tokio::test]
async fn forged_unknown_and_oversized_inbound_mail_is_refused_and_stores_nothing() {
    let relay = relay();
    let started = relay.visitor().start(&SiteId::parse("demo").unwrap()).await.unwrap();
    let good = InboundEmail {
        to: e2e::reply_to(&started.conversation_id),
        from: "x@example.com".into(),
        text: "hello".into(),
        message_id: None,
    };
    let code = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<ErrorBody>().await.unwrap().error.code)
    };

    assert_eq!(code(relay.post_inbound(&good, "not the inbound secret").await).await, (401, ErrorCode::Unauthorized));
    let forged_address = InboundEmail { to: e2e::reply_to(&started.conversation_id).replace("r-", "r-a"), ..good.clone() };
    assert_eq!(code(relay.post_inbound(&forged_address, INBOUND_SECRET).await).await, (401, ErrorCode::InvalidToken));
    let stranger = InboundEmail { to: "someone@reply.demo.example".into(), ..good.clone() };
    assert_eq!(code(relay.post_inbound(&stranger, INBOUND_SECRET).await).await, (401, ErrorCode::InvalidToken));
    let huge = InboundEmail { text: "x".repeat(300 * 1024), ..good.clone() };
    assert_eq!(code(relay.post_inbound(&huge, INBOUND_SECRET).await).await, (413, ErrorCode::FrameTooLarge));
    let only_quotes = InboundEmail { text: "> all quoted".into(), ..good.clone() };
    assert_eq!(code(relay.post_inbound(&only_quotes, INBOUND_SECRET).await).await, (400, ErrorCode::EmptyBody));

    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    assert!(matches!(agent.next().await.unwrap(), ServerFrame::Welcome { last_seq: 0, .. }), "nothing was stored");
}

#[tokio::test]
async fn an_expired_or_tampered_link_says_so_and_offers_a_new_conversation() {
    let relay = relay();
    let site = fresh_site();
    let started = relay.visitor().start(&site).await.unwrap();
    let grant = token::VisitorGrant { site: site.clone(), conversation: started.conversation_id.clone() };
    let expired = token::sign(TOKEN_SECRET.as_bytes(), &grant, 1);
    let page = HostPage::serve(&relay.origin, site.as_str(), "").await;
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}#chat-resume={expired}", page.url)).await.unwrap();
    browser.wait_for_texts(".cw-notice", &["This link has expired or is not valid. Write a message to start a new conversation."]).await;
    browser.write("Starting over").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    assert_ne!(browser.conversation(site.as_str()).await, started.conversation_id);
}

#[tokio::test]
async fn unsubscribing_stops_the_emails_for_that_conversation() {
    let relay = relay();
    let site = site_with_short_delay(relay).await;
    let started = start_with_email(relay, &site, "enough@example.com").await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "First reply").await.unwrap();
    assert!(matches!(email_status(&mut agent).await, EmailStatus::Sent { .. }));
    let email = relay.wait_for_emails(&started.conversation_id, 1).await.remove(0);
    let link = email.text.lines().find_map(|l| l.strip_prefix("Stop emails about this conversation: ")).unwrap().to_owned();

    // The link's token stops emails and opens nothing: whoever the link reaches cannot read the chat.
    let unsubscribe_token = link.split_once("token=").unwrap().1.to_owned();
    e2e::chat::expect_refused_connection(relay.visitor().connect(&unsubscribe_token, 0).await, ErrorCode::InvalidToken).await;
    let tampered = reqwest::Client::new().post(link.replace("token=u1.", "token=u1.0")).send().await.unwrap();
    assert!(tampered.text().await.unwrap().contains("This link does not work"));

    // Opening the link changes nothing (mail scanners open links); the button does.
    let page = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert!(page.contains("Stop the emails"));
    let done = reqwest::Client::new().post(&link).send().await.unwrap();
    assert!(done.text().await.unwrap().contains("no more emails"));

    agent.post(&id("r2"), "Second reply").await.unwrap();
    assert_eq!(email_status(&mut agent).await, EmailStatus::Unsubscribed);
    assert_eq!(relay.emails_about(&started.conversation_id).len(), 1);
}

/// Whoever starts a conversation names the page it started on, and the email links there: a
/// start sent by hand must not make the site mail its visitor a link to somewhere else.
#[tokio::test]
async fn the_emails_link_goes_only_to_the_sites_own_pages() {
    let relay = relay();
    let site = fresh_site();
    let settings = WidgetSettings {
        email_delay_seconds: DELAY_SECONDS,
        allowed_origins: vec!["https://shop.example".into()],
        ..WidgetSettings::default()
    };
    relay.agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    let contact = Contact { email: Some(Email::parse("mallory-target@example.com").unwrap()), name: None };
    let page = |url: &str| protocol::SafeUrl::parse(url).unwrap();
    let forged = relay.visitor().start_on_page(&site, contact.clone(), page("https://evil.example/login")).await.unwrap();
    let honest = relay.visitor().start_on_page(&site, contact, page("https://shop.example/pricing")).await.unwrap();

    for started in [&forged, &honest] {
        let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
        catch_up(&mut agent, 0).await;
        agent.post(&id("r1"), "Here is your answer").await.unwrap();
        assert!(matches!(email_status(&mut agent).await, EmailStatus::Sent { .. }));
    }
    let forged_link = link_in(&relay.wait_for_emails(&forged.conversation_id, 1).await.remove(0).text);
    assert!(forged_link.starts_with(&format!("{}/resume#", relay.origin)), "the relay's own page instead: {forged_link}");
    let honest_link = link_in(&relay.wait_for_emails(&honest.conversation_id, 1).await.remove(0).text);
    assert!(honest_link.starts_with("https://shop.example/pricing#"), "the page the visitor was on: {honest_link}");

    // Agents are not shown the forged page as where the visitor was either.
    let inbox = relay.agent("Ana").await.conversations(&site).await.unwrap();
    let entry = |id: &ConversationId| inbox.conversations.iter().find(|e| &e.conversation_id == id).unwrap().clone();
    assert_eq!(entry(&forged.conversation_id).page_url, None);
    assert_eq!(entry(&honest.conversation_id).page_url.as_deref(), Some("https://shop.example/pricing"));
}

#[tokio::test]
async fn through_an_http_mail_api_a_failed_send_is_retried_until_it_goes_out_once() {
    let api = e2e::mail_api::MailApi::start(2).await;
    let relay = Relay::start_with(
        "email-api",
        &[("MAIL_API_URL", &api.url), ("MAIL_API_KEY", &api.key), ("EMAIL_RETRY_BASE_MS", "500")],
    );
    let site = site_with_short_delay(&relay).await;
    let started = start_with_email(&relay, &site, "api@example.com").await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Sent through the API").await.unwrap();
    // Two failures, then the third attempt goes out.
    assert_eq!(email_status(&mut agent).await, EmailStatus::Sent { up_to: 1 });
    let sent = api.sent();
    assert_eq!(sent.len(), 1);
    let (auth, body) = &sent[0];
    assert_eq!(auth.as_deref(), Some("Bearer test-mail-api-key"));
    assert_eq!(body["to"], "api@example.com");
    assert!(body["text"].as_str().unwrap().contains("Sent through the API"));
    assert!(body["reply_to"].as_str().unwrap().starts_with("r-"));
}

#[tokio::test]
async fn a_send_that_keeps_failing_is_given_up_and_agents_are_told_and_the_next_batch_gets_its_own_tries() {
    // Down for the first batch's five tries and the next batch's first.
    let api = e2e::mail_api::MailApi::start(6).await;
    let relay = Relay::start_with("email-api-down", &[("MAIL_API_URL", &api.url), ("EMAIL_RETRY_BASE_MS", "200")]);
    let site = site_with_short_delay(&relay).await;
    let started = start_with_email(&relay, &site, "down@example.com").await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("r1"), "Nobody will get this").await.unwrap();
    match email_status(&mut agent).await {
        EmailStatus::Failed { reason } => assert!(reason.contains("503"), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    // And the chat itself never waited on it: the agent can still write.
    assert_eq!(agent.post(&id("r2"), "Still here").await.unwrap(), 2);
    // The next batch is tried again after its first failure, and goes out.
    assert_eq!(email_status(&mut agent).await, EmailStatus::Sent { up_to: 2 });
    let sent = api.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1["text"].as_str().unwrap().contains("Still here"));
}

/// Delivers a raw email the way Cloudflare Email Workers would (wrangler's local endpoint).
async fn deliver_through_email_workers(relay: &Relay, to: &str, raw: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/cdn-cgi/handler/email", relay.origin))
        .query(&[("from", "vera@example.com"), ("to", to)])
        .body(raw.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reply_through_email_workers_lands_in_the_conversation_and_forgeries_bounce() {
    let relay = relay();
    let started = relay.visitor().start(&SiteId::parse("demo").unwrap()).await.unwrap();
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    let to = e2e::reply_to(&started.conversation_id);
    let raw = format!(
        "From: Vera <vera@example.com>\r\nTo: {to}\r\nSubject: Re: Demo shop\r\nMessage-ID: <xyz@mail.example.com>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nSee you tomorrow!\r\n\r\nOn Mon, Ana <chat@demo.example> wrote:\r\n> hi\r\n"
    );
    deliver_through_email_workers(relay, &to, &raw).await;
    assert_eq!(next_message(&mut agent).await.body, "See you tomorrow!");

    let forged = to.replace("r-", "r-b");
    deliver_through_email_workers(relay, &forged, &raw.replace(&to, &forged)).await;
    let (_, history) = catch_up(&mut relay.agent("Bo").await.join(&started.conversation_id, 0).await.unwrap(), 0).await;
    assert_eq!(history.len(), 1, "the forged reply stored nothing");
}
