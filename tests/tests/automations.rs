//! Automations on the real relay: signed webhook calls for conversation events, retried until
//! the endpoint takes them, a delivery log, nothing about spam, erasures told.

use e2e::chat::{catch_up, connected, id, visitor_says};
use e2e::endpoint::Endpoint;
use e2e::{fresh_site, Relay};
use protocol::automations::{
    Automations, Bot, BotReply, Delivery, DeliveryLog, DeliveryState, EventKind, FieldMapping, Webhook, WebhookEvent, WebhookField,
    WEBHOOK_DELIVERY_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER,
};
use protocol::http::{
    automations_path, bot_handover_path, bot_key_path, bot_message_path, deliveries_path, delivery_retry_path, webhook_secret_path,
    IdentitySecret,
};
use protocol::{ClientFrame, SafeUrl, ServerFrame, SiteId};
use std::time::{Duration, Instant};

/// A relay that retries webhooks after a fifth of a second (then twice as long each time).
fn relay() -> &'static Relay {
    static RELAY: std::sync::OnceLock<Relay> = std::sync::OnceLock::new();
    RELAY.get_or_init(|| Relay::start_with("automations", &[("WEBHOOK_RETRY_BASE_MS", "200")]))
}

async fn admin_get<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let admin = relay().agent("Admin").await;
    let response = reqwest::Client::new().get(format!("{}{path}", relay().origin)).bearer_auth(admin.session()).send().await.unwrap();
    agent::check(response).await.unwrap().json().await.unwrap()
}

async fn configure(site: &SiteId, webhooks: Vec<Webhook>) {
    let admin = relay().agent("Admin").await;
    let response = reqwest::Client::new()
        .put(format!("{}{}", relay().origin, automations_path(site)))
        .bearer_auth(admin.session())
        .json(&Automations { webhooks, bot: None })
        .send()
        .await
        .unwrap();
    agent::check(response).await.unwrap();
}

fn hook(endpoint: &Endpoint, events: &[EventKind]) -> Webhook {
    Webhook { url: SafeUrl::parse(&endpoint.url).unwrap(), events: events.to_vec(), fields: vec![] }
}

/// Waits until the endpoint has taken `count` calls.
async fn calls(endpoint: &Endpoint, count: usize) -> Vec<e2e::endpoint::Received> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let received = endpoint.received();
        if received.len() >= count || Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a call is signed with the site's webhook secret, as a receiver checks it: its
/// timestamp (within minutes of now), its delivery id and its body.
fn signed(call: &e2e::endpoint::Received, secret: &IdentitySecret) -> bool {
    let header = |name| call.header(name).expect(name);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let body = std::str::from_utf8(&call.body).unwrap();
    let check = |timestamp: &str, body: &str, now| {
        protocol::token::verify_webhook(&secret.secret, timestamp, header(WEBHOOK_DELIVERY_HEADER), body, header(WEBHOOK_SIGNATURE_HEADER), now)
    };
    let timestamp = header(WEBHOOK_TIMESTAMP_HEADER);
    let replayed_later = now + protocol::token::WEBHOOK_TOLERANCE_SECS + 60;
    check(timestamp, body, now) && !check(timestamp, body, replayed_later) && !check(&(now + 1).to_string(), body, now) && !check(timestamp, "{}", now)
}

fn events(received: &[e2e::endpoint::Received]) -> Vec<WebhookEvent> {
    received.iter().map(|r| serde_json::from_slice(&r.body).expect("a webhook event")).collect()
}

#[tokio::test]
async fn every_event_reaches_the_webhooks_that_want_it_signed_and_retried_until_taken() {
    let relay = relay();
    let site = fresh_site();
    let crm = Endpoint::start("/crm", 0, "200 OK").await;
    let audit = Endpoint::start("/audit", 2, "204 No Content").await;
    configure(&site, vec![hook(&crm, &EventKind::ALL), hook(&audit, &[EventKind::ConversationErased])]).await;

    let contact = protocol::Contact { email: Some(protocol::Email::parse("ida@example.com").unwrap()), name: Some("Ida".into()) };
    let started = relay.visitor().start_with(&site, contact).await.unwrap();
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    visitor.post(&id("v1"), "Do you ship to Norway?").await.unwrap();
    let ana = relay.agent("Ana").await;
    let mut chat = ana.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    chat.post(&id("a1"), "We do!").await.unwrap();
    chat.send_frame(&ClientFrame::End).await.unwrap();
    e2e::chat::wait_for(&mut visitor, |f| (f == ServerFrame::Status { status: protocol::Status::Ended }).then_some(())).await;
    visitor.send_frame(&ClientFrame::DeleteMyData).await.unwrap();

    let received = calls(&crm, 5).await;
    let got = events(&received);
    let kinds: Vec<EventKind> = got.iter().map(|e| e.event).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ConversationCreated,
            EventKind::VisitorMessage,
            EventKind::ConversationAssigned,
            EventKind::ConversationClosed,
            EventKind::ConversationErased
        ]
    );
    assert!(got.iter().all(|e| e.conversation_id == started.conversation_id && e.site == site && e.site_name == "Demo shop"));
    assert_eq!(got[1].text.as_deref(), Some("Do you ship to Norway?"));
    assert_eq!(got[1].contact.name.as_deref(), Some("Ida"));
    assert_eq!(got[2].agent.as_ref().unwrap().id, ana.account.id);
    assert_eq!(got[3].text.as_deref(), Some("We do!"), "every event carries the last message");
    assert_eq!((got[4].contact.clone(), got[4].text.as_deref()), (protocol::Contact::default(), None), "an erasure carries nothing it erased");

    // Signed with the site's webhook secret, which admins read.
    let secret: IdentitySecret = admin_get(&webhook_secret_path(&site)).await;
    assert!(received.iter().all(|call| signed(call, &secret)));
    let deliveries: std::collections::HashSet<_> = received.iter().map(|call| call.header(WEBHOOK_DELIVERY_HEADER).unwrap()).collect();
    assert_eq!(deliveries.len(), 5, "every delivery has its own id");

    // The audit endpoint failed twice and got its one erasure on the third call, under the
    // same delivery id each time.
    let audit_calls = calls(&audit, 1).await;
    assert_eq!(events(&audit_calls).iter().map(|e| e.event).collect::<Vec<_>>(), [EventKind::ConversationErased]);
    let tries = audit.tries();
    assert_eq!(tries.len(), 3);
    assert!(tries.iter().all(|call| signed(call, &secret) && call.header(WEBHOOK_DELIVERY_HEADER) == audit_calls[0].header(WEBHOOK_DELIVERY_HEADER)));
    let log: DeliveryLog = admin_get(&deliveries_path(&site)).await;
    let audit_delivery = log.deliveries.iter().find(|d| d.url == audit.url).unwrap();
    assert_eq!((audit_delivery.state, audit_delivery.attempts), (DeliveryState::Delivered, 3));
    assert_eq!(log.deliveries.iter().filter(|d| d.url == crm.url && d.state == DeliveryState::Delivered).count(), 5);

    // Erased again (a program retrying its DELETE): nothing more to erase or to tell.
    let url = format!("{}{}", relay.origin, protocol::http::agent_conversation_path(&started.conversation_id));
    assert_eq!(reqwest::Client::new().delete(&url).bearer_auth(ana.session()).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(crm.received().len(), 5, "one erasure, told once");
}

#[tokio::test]
async fn a_webhook_gets_the_fields_the_admin_mapped_under_the_names_it_expects() {
    let relay = relay();
    let site = fresh_site();
    let crm = Endpoint::start("/crm-mapped", 0, "200 OK").await;
    let map = |field, key: &str| FieldMapping { field, key: key.into() };
    let fields = vec![
        map(WebhookField::Event, "type"),
        map(WebhookField::VisitorEmail, "email"),
        map(WebhookField::Text, "message"),
        map(WebhookField::AgentName, "owner"),
    ];
    let mapped = Webhook { fields, ..hook(&crm, &[EventKind::VisitorMessage, EventKind::ConversationAssigned]) };
    configure(&site, vec![mapped.clone()]).await;
    let stored: Automations = admin_get(&automations_path(&site)).await;
    assert_eq!(stored.webhooks, [mapped]);

    let contact = protocol::Contact { email: Some(protocol::Email::parse("lea@example.com").unwrap()), name: None };
    let started = relay.visitor().start_with(&site, contact).await.unwrap();
    let mut visitor = connected(relay, &started).await;
    visitor.post(&id("v1"), "Is the blue one in stock?").await.unwrap();
    calls(&crm, 1).await;
    let mut chat = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    chat.post(&id("a1"), "It is!").await.unwrap();

    let received = calls(&crm, 2).await;
    let bodies: Vec<serde_json::Value> = received.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(
        bodies,
        [
            serde_json::json!({"type": "visitor_message", "email": "lea@example.com", "message": "Is the blue one in stock?", "owner": null}),
            // Assigned as Ana replied: the last message then was the visitor's question.
            serde_json::json!({"type": "conversation_assigned", "email": "lea@example.com", "message": "Is the blue one in stock?", "owner": "Ana"}),
        ]
    );
    let secret: IdentitySecret = admin_get(&webhook_secret_path(&site)).await;
    assert!(received.iter().all(|call| signed(call, &secret)));

    // A name used twice is refused, and what was stored stays.
    let admin = relay.agent("Admin").await;
    let twice = Webhook { fields: vec![map(WebhookField::Text, "x"), map(WebhookField::At, "x")], ..hook(&crm, &[EventKind::VisitorMessage]) };
    let response = reqwest::Client::new()
        .put(format!("{}{}", relay.origin, automations_path(&site)))
        .bearer_auth(admin.session())
        .json(&Automations { webhooks: vec![twice], bot: None })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("invalid_content"));
    let kept: Automations = admin_get(&automations_path(&site)).await;
    assert_eq!(kept, stored);
}

/// The site's bot calls the bot API: its answer, or the relay's refusal.
async fn bot_api(path: &str, key: &str, body: Option<&BotReply>) -> reqwest::Response {
    let request = reqwest::Client::new().post(format!("{}{path}", relay().origin)).bearer_auth(key);
    let request = match body {
        Some(reply) => request.json(reply),
        None => request,
    };
    request.send().await.unwrap()
}

fn bot_reply(client_id: &str, text: &str) -> BotReply {
    BotReply { client_id: protocol::ClientMsgId::parse(client_id).unwrap(), text: text.into(), suggestions: vec![] }
}

#[tokio::test]
async fn a_bot_takes_new_conversations_answers_through_its_api_and_hands_them_to_the_agents() {
    let relay = relay();
    let site = fresh_site();
    let bot = Endpoint::start("/bot", 0, "200 OK").await;
    let sunny = Bot { url: SafeUrl::parse(&bot.url).unwrap(), name: protocol::AgentName::parse("Sunny").unwrap() };
    let admin = relay.agent("Admin").await;
    let response = reqwest::Client::new()
        .put(format!("{}{}", relay.origin, automations_path(&site)))
        .bearer_auth(admin.session())
        .json(&Automations { webhooks: vec![], bot: Some(sunny) })
        .send()
        .await
        .unwrap();
    agent::check(response).await.unwrap();
    // With no agent online, the chat is still answered live.
    assert!(relay.visitor().view(&site).await.unwrap().agents_online);
    // The site routes: conversations go to online agents, but not while the bot has them.
    let routed = protocol::inbox::InboxSettings { auto_assign: true, ..Default::default() };
    admin.put_inbox_settings(&site, &routed).await.unwrap();
    let key: IdentitySecret = admin_get(&bot_key_path(&site)).await;

    let mut inbox = admin.site_connection(&site).await.unwrap();
    let (started, mut visitor) = visitor_says(relay, &site, "Where is my parcel?").await;
    // The bot hears the conversation start and the message, signed like any webhook.
    let heard = calls(&bot, 2).await;
    let kinds: Vec<EventKind> = events(&heard).iter().map(|e| e.event).collect();
    assert_eq!(kinds, [EventKind::ConversationCreated, EventKind::VisitorMessage]);
    assert_eq!(events(&heard)[1].text.as_deref(), Some("Where is my parcel?"));
    let secret: IdentitySecret = admin_get(&webhook_secret_path(&site)).await;
    assert!(heard.iter().all(|call| signed(call, &secret)));
    // The inbox shows it as the bot's, not waiting for an agent.
    let entry = e2e::chat::wait_for(&mut inbox, |f| match f {
        ServerFrame::Inbox { entry } if entry.conversation_id == started.conversation_id && entry.last_seq == 1 => Some(entry),
        _ => None,
    })
    .await;
    assert!(entry.bot);
    assert_eq!(entry.list_for(&admin.account.id), protocol::inbox::InboxList::Others);
    let ana = relay.agent("Ana").await;
    let mut ana_site = ana.go_online(&site).await.unwrap();

    // The bot answers under its name, with buttons; a retried call stores nothing new.
    let answer = BotReply { suggestions: vec!["Thanks!".into(), "Talk to a person".into()], ..bot_reply("bot-1", "It left our warehouse today.") };
    let first: protocol::Message = bot_api(&bot_message_path(&started.conversation_id), &key.secret, Some(&answer)).await.json().await.unwrap();
    let again: protocol::Message = bot_api(&bot_message_path(&started.conversation_id), &key.secret, Some(&answer)).await.json().await.unwrap();
    assert_eq!(first, again);
    let seen = e2e::chat::wait_for(&mut visitor, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(seen.author, protocol::Author::Agent { name: protocol::AgentName::parse("Sunny").unwrap(), id: None });
    assert_eq!((seen.seq, seen.body.as_str(), seen.suggestions.len()), (first.seq, "It left our warehouse today.", 2));

    // Refused, and nothing stored: a wrong key, no key, an empty answer, an unknown conversation.
    let path = bot_message_path(&started.conversation_id);
    assert_eq!(bot_api(&path, &"0".repeat(64), Some(&bot_reply("bot-2", "hi"))).await.status(), 401);
    let keyless = reqwest::Client::new().post(format!("{}{path}", relay.origin)).json(&bot_reply("bot-2", "hi")).send().await.unwrap();
    assert_eq!(keyless.status(), 401);
    let empty = bot_api(&path, &key.secret, Some(&bot_reply("bot-2", "  "))).await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("empty_body"));
    let unknown = protocol::ConversationId::parse(&"0b".repeat(32)).unwrap();
    assert_eq!(bot_api(&bot_message_path(&unknown), &key.secret, Some(&bot_reply("bot-2", "hi"))).await.status(), 404);
    let mut agent_view = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    let history = e2e::chat::wait_for(&mut agent_view, |f| match f {
        ServerFrame::History { messages, .. } => Some(messages),
        _ => None,
    })
    .await;
    assert_eq!(history.len(), 2, "the visitor's question and the bot's one answer");

    // It hands over: the conversation waits for an agent, and the bot neither hears nor answers it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let entries = admin.conversations(&site).await.unwrap().conversations;
    let still = entries.iter().find(|e| e.conversation_id == started.conversation_id).unwrap();
    assert!(still.bot && still.assignee.is_none(), "an agent online does not take the bot's conversation");
    assert!(bot_api(&bot_handover_path(&started.conversation_id), &key.secret, None).await.status().is_success());
    let handed = e2e::chat::wait_for(&mut ana_site, |f| match f {
        ServerFrame::Inbox { entry } if entry.conversation_id == started.conversation_id && entry.assignee.is_some() => Some(entry),
        _ => None,
    })
    .await;
    assert!(!handed.bot);
    // The bot's answer is not an agent's: the visitor's question waits for Ana, unread.
    assert_eq!(handed.unread, 1, "{handed:?}");
    assert_eq!(handed.assignee.map(|a| a.id), Some(ana.account.id.clone()), "routed once handed over");
    visitor.post(&id("v2"), "Talk to a person").await.unwrap();
    let late = bot_api(&path, &key.secret, Some(&bot_reply("bot-3", "Still me"))).await;
    assert_eq!(late.status(), 403);
    // A bot whose answers to the calls were lost retries them: the answer it gave before the
    // handover gets its message back, and the handover is done already.
    let retried: protocol::Message = bot_api(&path, &key.secret, Some(&answer)).await.json().await.unwrap();
    assert_eq!(retried, first);
    assert!(bot_api(&bot_handover_path(&started.conversation_id), &key.secret, None).await.status().is_success());
    assert_eq!(bot_api(&bot_handover_path(&started.conversation_id), &"0".repeat(64), None).await.status(), 401);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(bot.received().len(), 2, "nothing more to the bot once handed over");

    // On another conversation an agent takes over from the bot: the bot can no longer answer.
    let other = relay.visitor().start(&site).await.unwrap();
    let mut chat = ana.join(&other.conversation_id, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    chat.send_frame(&ClientFrame::Accept).await.unwrap();
    e2e::chat::wait_for(&mut chat, |f| matches!(f, ServerFrame::Assigned { assignee: Some(_) }).then_some(())).await;
    assert_eq!(bot_api(&bot_message_path(&other.conversation_id), &key.secret, Some(&bot_reply("bot-4", "hi"))).await.status(), 403);

    // The admin takes the bot away: a conversation it still had joins the queue, where
    // routing hands it to Ana.
    let third = relay.visitor().start(&site).await.unwrap();
    e2e::chat::wait_for(&mut inbox, |f| match f {
        ServerFrame::Inbox { entry } if entry.conversation_id == third.conversation_id && entry.bot => Some(()),
        _ => None,
    })
    .await;
    admin.put_automations(&site, &Automations::default()).await.unwrap();
    let routed = e2e::chat::wait_for(&mut ana_site, |f| match f {
        ServerFrame::Inbox { entry } if entry.conversation_id == third.conversation_id && entry.assignee.is_some() => Some(entry),
        _ => None,
    })
    .await;
    assert!(!routed.bot);
    assert_eq!(routed.assignee.map(|a| a.id), Some(ana.account.id.clone()));
}

#[tokio::test]
async fn nothing_is_sent_about_a_conversation_marked_as_spam() {
    let relay = relay();
    let site = fresh_site();
    let crm = Endpoint::start("/crm", 0, "200 OK").await;
    configure(&site, vec![hook(&crm, &EventKind::ALL)]).await;
    let (started, mut visitor) = visitor_says(relay, &site, "buy cheap watches").await;
    calls(&crm, 2).await;

    let mut chat = relay.agent("Ana").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    chat.send_frame(&ClientFrame::Block).await.unwrap();
    assert_eq!(visitor.next().await.unwrap(), ServerFrame::Status { status: protocol::Status::Blocked });
    visitor.send_frame(&ClientFrame::DeleteMyData).await.unwrap();
    assert_eq!(visitor.next().await.unwrap(), ServerFrame::Status { status: protocol::Status::Deleted });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kinds: Vec<EventKind> = events(&crm.received()).iter().map(|e| e.event).collect();
    assert_eq!(kinds, [EventKind::ConversationCreated, EventKind::VisitorMessage], "blocked: nothing after");
}

#[tokio::test]
async fn only_admins_configure_automations_and_links_must_be_https() {
    let relay = relay();
    let site = fresh_site();
    let ana = relay.agent("Ana").await;
    let http = reqwest::Client::new();
    let url = format!("{}{}", relay.origin, automations_path(&site));
    let by_agent = http.put(&url).bearer_auth(ana.session()).json(&Automations::default()).send().await.unwrap();
    assert_eq!(by_agent.status(), 403);
    let admin = relay.agent("Admin").await;
    let bad = serde_json::json!({ "webhooks": [{ "url": "javascript:alert(1)", "events": ["visitor_message"] }] });
    let refused = http.put(&url).bearer_auth(admin.session()).json(&bad).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    // Calls carry visitors' data: plain http only to this machine.
    let in_clear = serde_json::json!({ "webhooks": [{ "url": "http://crm.example/hook", "events": ["visitor_message"] }] });
    let refused = http.put(&url).bearer_auth(admin.session()).json(&in_clear).send().await.unwrap();
    assert_eq!(refused.json::<protocol::http::ErrorBody>().await.unwrap().error.code, protocol::ErrorCode::InvalidUrl);
    // A bot needs a name visitors can read (a blank one would be stored and then fail every call).
    let nameless = serde_json::json!({ "webhooks": [], "bot": { "url": "https://bot.example/hook", "name": "   " } });
    let refused = http.put(&url).bearer_auth(admin.session()).json(&nameless).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let stored: Automations = admin_get(&automations_path(&site)).await;
    assert!(stored.bot.is_none());
    let read = http.get(&url).bearer_auth(ana.session()).send().await.unwrap();
    assert_eq!(read.status(), 403, "endpoints are the admins' business");
}

/// An endpoint that never answers is called again and again, backing off, for as long as
/// retries last (three days; two seconds on this relay); then the delivery waits in the log
/// for an admin, who can send it again.
#[tokio::test]
async fn a_delivery_retried_for_too_long_waits_for_an_admin_to_send_it_again() {
    static RELAY: std::sync::OnceLock<Relay> = std::sync::OnceLock::new();
    let relay = RELAY.get_or_init(|| {
        Relay::start_with("automations-give-up", &[("WEBHOOK_RETRY_BASE_MS", "200"), ("WEBHOOK_RETRY_FOR_SECONDS", "2")])
    });
    let site = fresh_site();
    let down = Endpoint::start("/down", usize::MAX, "200 OK").await;
    let admin = relay.agent("Admin").await;
    admin
        .put_automations(&site, &Automations { webhooks: vec![hook(&down, &[EventKind::ConversationCreated])], bot: None })
        .await
        .unwrap();
    relay.visitor().start(&site).await.unwrap();

    let http = reqwest::Client::new();
    let log = || async {
        let response = http.get(format!("{}{}", relay.origin, deliveries_path(&site))).bearer_auth(admin.session()).send().await.unwrap();
        agent::check(response).await.unwrap().json::<DeliveryLog>().await.unwrap().deliveries.remove(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let delivery = log().await;
        if delivery.state == DeliveryState::Failed || Instant::now() > deadline {
            break delivery;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed.state, DeliveryState::Failed, "given up after its retries");
    assert!(failed.attempts >= 2, "called more than once: {}", failed.attempts);
    let tried = down.tries().len();

    // Only an admin sends it again; it is called at once and retried like a new one.
    let again = format!("{}{}", relay.origin, delivery_retry_path(&site, failed.id));
    let ana = relay.agent("Ana").await;
    assert_eq!(http.post(&again).bearer_auth(ana.session()).send().await.unwrap().status(), 403);
    let sent = agent::check(http.post(&again).bearer_auth(admin.session()).send().await.unwrap()).await.unwrap();
    assert_eq!(sent.json::<Delivery>().await.unwrap().state, DeliveryState::Pending);
    // One that has not failed (this one, now) is not sent twice.
    assert_eq!(http.post(&again).bearer_auth(admin.session()).send().await.unwrap().status(), 404);
    let deadline = Instant::now() + Duration::from_secs(10);
    while down.tries().len() == tried && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(down.tries().len() > tried, "called again");
    // Its calls are counted afresh, as a new delivery's: so it backs off from the start again.
    let attempts = log().await.attempts;
    let since = down.tries().len() - tried;
    assert!(attempts >= 1 && attempts as usize <= since, "{attempts} calls counted, {since} made since");
}
