//! The agents' inbox on the real relay: who is responsible for a conversation and what only
//! they may do, private notes and mentions, transfers, edits, the live inbox, routing with a
//! chat cap, and sign-in. Time limits run on their own relay with one-second "minutes".

use agent::{Agent, Connection, ConnectionError};
use e2e::chat::{catch_up, connected, expect_message, id, visitor_says, wait_for};
use e2e::{fresh_site, relay, Relay};
use protocol::http::{ClosedCursor, ConversationStarted};
use protocol::inbox::{AccountChange, Alert, InboxSettings, Login, NewAccount, Outbound, OutboundStarted};
use protocol::{AccountRole, AgentName, Author, ClientFrame, Email, ErrorCode, InboxEntry, ServerFrame, Status};

/// The next status change a connection hears.
async fn next_status(connection: &mut Connection) -> Status {
    wait_for(connection, |f| match f {
        ServerFrame::Status { status } => Some(status),
        _ => None,
    })
    .await
}

async fn joined(agent: &Agent, started: &ConversationStarted) -> Connection {
    let mut connection = agent.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut connection, 0).await;
    connection
}

fn refused(result: Result<u64, ConnectionError>) -> ErrorCode {
    match result {
        Err(ConnectionError::Refused(err)) => err.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The entry of one conversation, from the inbox frames of a site connection.
async fn entry_where(site: &mut Connection, started: &ConversationStarted, what: impl Fn(&InboxEntry) -> bool) -> InboxEntry {
    wait_for(site, |frame| match frame {
        ServerFrame::Inbox { entry } if entry.conversation_id == started.conversation_id && what(&entry) => Some(entry),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn only_the_responsible_agent_replies_and_others_write_private_notes() {
    let relay = relay();
    let site = fresh_site();
    let (started, mut visitor) = visitor_says(relay, &site, "my order is late").await;
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);
    let mut ana_chat = joined(&ana, &started).await;
    let mut bo_chat = joined(&bo, &started).await;

    ana_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    let assignee = wait_for(&mut bo_chat, |f| match f {
        ServerFrame::Assigned { assignee } => Some(assignee),
        _ => None,
    })
    .await;
    assert_eq!(assignee.unwrap().id, ana.account.id);

    // Bo may not answer the visitor, nor take it over: the relay says so, nothing is stored.
    assert_eq!(refused(bo_chat.post(&id("b1"), "I'll take it").await), ErrorCode::NotResponsible);
    bo_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    assert!(matches!(bo_chat.next().await.unwrap(), ServerFrame::Error { code: ErrorCode::AlreadyAssigned, .. }));

    // His note reaches Ana, never the visitor.
    let note = ClientFrame::Note { client_id: id("n1"), body: "@Ana refund is approved".into() };
    let note_seq = bo_chat.post_frame(&id("n1"), &note).await.unwrap();
    let seen = wait_for(&mut ana_chat, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert!(seen.note && seen.seq == note_seq);
    let reply_seq = ana_chat.post(&id("a1"), "Refund approved!").await.unwrap();
    let to_visitor = expect_message(&mut visitor).await;
    assert_eq!((to_visitor.seq, to_visitor.note), (reply_seq, false), "the note was not sent to the visitor");
    let mut again = relay.visitor().connect(&started.token, 0).await.unwrap();
    let (welcome, history) = catch_up(&mut again, 0).await;
    assert!(matches!(welcome, ServerFrame::Welcome { last_seq, assignee: None, .. } if last_seq == reply_seq));
    assert_eq!(history.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["my order is late", "Refund approved!"]);
}

#[tokio::test]
async fn replying_to_a_waiting_conversation_takes_it_and_a_transfer_hands_it_on() {
    let relay = relay();
    let site = fresh_site();
    let (started, _visitor) = visitor_says(relay, &site, "hello?").await;
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);
    let mut bo_site = bo.site_connection(&site).await.unwrap();
    let mut ana_chat = joined(&ana, &started).await;
    let hello = ana_chat.post(&id("a1"), "Hi, Ana here").await.unwrap();
    let entry = entry_where(&mut bo_site, &started, |e| e.assignee.is_some()).await;
    assert_eq!(entry.assignee.unwrap().name.as_str(), "Ana");
    assert!(entry.first_response_at.is_some());

    // Only the responsible agent transfers; the new one hears it on their site connection.
    let mut bo_chat = joined(&bo, &started).await;
    bo_chat.send_frame(&ClientFrame::Transfer { to: Some(bo.account.id.clone()) }).await.unwrap();
    assert!(matches!(bo_chat.next().await.unwrap(), ServerFrame::Error { code: ErrorCode::NotResponsible, .. }));
    ana_chat.send_frame(&ClientFrame::Transfer { to: Some(bo.account.id.clone()) }).await.unwrap();
    let alert = wait_for(&mut bo_site, |f| match f {
        ServerFrame::Alert { conversation_id, alert } if conversation_id == started.conversation_id => Some(alert),
        _ => None,
    })
    .await;
    assert_eq!(alert, Alert::Assigned);
    assert_eq!(refused(ana_chat.post(&id("a2"), "still me").await), ErrorCode::NotResponsible);
    // Her console resends a reply it sent before (its ack was lost): acknowledged as stored.
    assert_eq!(ana_chat.post(&id("a1"), "Hi, Ana here").await.unwrap(), hello);
    bo_chat.post(&id("b1"), "Bo here, I have your history").await.unwrap();

    // Back to the queue: waiting again, and whoever replies next takes it.
    bo_chat.send_frame(&ClientFrame::Transfer { to: None }).await.unwrap();
    entry_where(&mut bo_site, &started, |e| e.assignee.is_none()).await;
    ana_chat.post(&id("a3"), "Ana again").await.unwrap();
    entry_where(&mut bo_site, &started, |e| e.assignee.as_ref().is_some_and(|a| a.name.as_str() == "Ana")).await;
}

#[tokio::test]
async fn authors_edit_and_take_back_their_own_messages_everywhere() {
    let relay = relay();
    let site = fresh_site();
    let (started, mut visitor) = visitor_says(relay, &site, "what are your hours?").await;
    let ana = relay.agent("Ana").await;
    let mut ana_chat = joined(&ana, &started).await;
    let seq = ana_chat.post(&id("a1"), "9 to 5").await.unwrap();
    expect_message(&mut visitor).await;

    ana_chat.send_frame(&ClientFrame::Edit { seq, body: "9 to 6, Monday to Friday".into() }).await.unwrap();
    let revised = wait_for(&mut visitor, |f| match f {
        ServerFrame::Revised { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!((revised.seq, revised.body.as_str(), revised.edited), (seq, "9 to 6, Monday to Friday", true));

    // Nobody changes someone else's message.
    visitor.send_frame(&ClientFrame::Retract { seq }).await.unwrap();
    assert!(matches!(visitor.next().await.unwrap(), ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    ana_chat.send_frame(&ClientFrame::Retract { seq }).await.unwrap();
    let gone = wait_for(&mut visitor, |f| match f {
        ServerFrame::Revised { message } => Some(message),
        _ => None,
    })
    .await;
    assert!(gone.deleted && gone.body.is_empty());
    let (_, history) = catch_up(&mut relay.visitor().connect(&started.token, 0).await.unwrap(), 0).await;
    assert!(history.iter().any(|m| m.seq == seq && m.deleted), "stays deleted after a reconnect");

    // A client that had the message and was away when it changed hears the change on its
    // return, after the (here empty) replay of what is new.
    let mut back = relay.visitor().connect(&started.token, seq).await.unwrap();
    let (_, new) = catch_up(&mut back, seq).await;
    assert!(new.is_empty());
    match back.next().await.unwrap() {
        ServerFrame::Revised { message } => assert!(message.seq == seq && message.deleted, "{message:?}"),
        other => panic!("expected the missed revision, got {other:?}"),
    }
    // History says who wrote each message, so the author's console still offers its edit
    // and delete after a reload.
    let ana_again = ana.join(&started.conversation_id, 0).await.unwrap();
    let (_, history) = catch_up(&mut { ana_again }, 0).await;
    let hers = history.iter().find(|m| m.seq == seq).unwrap();
    assert!(matches!(&hers.author, Author::Agent { id: Some(id), .. } if *id == ana.account.id), "{hers:?}");
}

#[tokio::test]
async fn a_mention_alerts_the_agent_named_unless_they_muted_the_conversation() {
    let relay = relay();
    let site = fresh_site();
    let (started, _visitor) = visitor_says(relay, &site, "help").await;
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);
    let mut ana_site = ana.site_connection(&site).await.unwrap();
    let mut bo_chat = joined(&bo, &started).await;
    let note = |n: &str, body: &str| ClientFrame::Note { client_id: id(n), body: body.into() };
    bo_chat.post_frame(&id("n1"), &note("n1", "@ana can you check the invoice?")).await.unwrap();
    let alert = wait_for(&mut ana_site, |f| match f {
        ServerFrame::Alert { alert, .. } => Some(alert),
        _ => None,
    })
    .await;
    assert_eq!(alert, Alert::Mentioned { by: AgentName::parse("Bo").unwrap() });

    let mut ana_chat = joined(&ana, &started).await;
    ana_chat.send_frame(&ClientFrame::Subscribe { on: false }).await.unwrap();
    ana_chat.send_frame(&ClientFrame::Ping).await.unwrap();
    assert_eq!(ana_chat.next().await.unwrap(), ServerFrame::Pong);
    bo_chat.post_frame(&id("n2"), &note("n2", "@Ana ping")).await.unwrap();
    bo_chat.post_frame(&id("n3"), &note("n3", "no mention here")).await.unwrap();
    // Ana hears the notes in the conversation, but no alert.
    ana_site.send_frame(&ClientFrame::Ping).await.unwrap();
    loop {
        match ana_site.next().await.unwrap() {
            ServerFrame::Pong => break,
            ServerFrame::Alert { .. } => panic!("a muted conversation alerted"),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn routing_takes_turns_respects_the_cap_and_hands_out_waiting_chats_when_someone_frees_up() {
    let relay = relay();
    let site = fresh_site();
    let admin = relay.agent("Admin").await;
    let settings = InboxSettings { auto_assign: true, max_chats_per_agent: 1, ..InboxSettings::default() };
    admin.put_inbox_settings(&site, &settings).await.unwrap();
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);
    let mut ana_site = ana.go_online(&site).await.unwrap();
    let _bo_site = bo.go_online(&site).await.unwrap();
    let first_in_turn = if ana.account.id < bo.account.id { "Ana" } else { "Bo" };

    let mut owners = Vec::new();
    let mut started = Vec::new();
    for n in 0..3 {
        let (conversation, _) = visitor_says(relay, &site, &format!("visitor {n}")).await;
        let entry = entry_where(&mut ana_site, &conversation, |e| e.assignee.is_some() || n == 2).await;
        owners.push(entry.assignee.map(|a| a.name.to_string()));
        started.push(conversation);
    }
    assert_eq!(owners[0].as_deref(), Some(first_in_turn), "round robin starts with the first agent in order");
    assert!(owners[1].is_some() && owners[1] != owners[0], "then the next one");
    assert_eq!(owners[2], None, "both at their limit: the third waits");
    let agents = wait_for(&mut ana_site, |f| match f {
        ServerFrame::Agents { agents } if agents.iter().filter(|a| a.at_limit).count() == 2 => Some(agents),
        _ => None,
    })
    .await;
    assert!(agents.iter().all(|a| a.open_chats == 1));

    // Ana ends hers: the waiting conversation goes to her.
    let anas = if owners[0].as_deref() == Some("Ana") { &started[0] } else { &started[1] };
    let mut chat = joined(&ana, anas).await;
    chat.send_frame(&ClientFrame::End).await.unwrap();
    let routed = entry_where(&mut ana_site, &started[2], |e| e.assignee.is_some()).await;
    assert_eq!(routed.assignee.unwrap().name.as_str(), "Ana");

    // She gives it back to the queue: it does not come straight back to her. Bo is at his
    // limit, so it waits, and goes to him when he has room.
    let mut returned = joined(&ana, &started[2]).await;
    returned.send_frame(&ClientFrame::Transfer { to: None }).await.unwrap();
    entry_where(&mut ana_site, &started[2], |e| e.assignee.is_none()).await;
    let bos = if anas == &started[0] { &started[1] } else { &started[0] };
    joined(&bo, bos).await.send_frame(&ClientFrame::End).await.unwrap();
    let routed = entry_where(&mut ana_site, &started[2], |e| e.assignee.is_some()).await;
    assert_eq!(routed.assignee.unwrap().name.as_str(), "Bo");
}

#[tokio::test]
async fn the_inbox_lists_entries_live_with_unread_counts_and_a_contacts_earlier_conversations() {
    let relay = relay();
    let site = fresh_site();
    let ana = relay.agent("Ana").await;
    let mut ana_site = ana.site_connection(&site).await.unwrap();
    let email = Email::parse("kim@example.com").unwrap();
    let contact = protocol::Contact { email: Some(email.clone()), name: Some("Kim".into()) };
    let earlier = relay.visitor().start_with(&site, contact.clone()).await.unwrap();
    let started = relay.visitor().start_with(&site, contact).await.unwrap();
    let mut visitor = connected(relay, &started).await;
    visitor.post(&id("v1"), "first").await.unwrap();
    visitor.post(&id("v2"), "second").await.unwrap();
    let entry = entry_where(&mut ana_site, &started, |e| e.unread == 2).await;
    assert_eq!((entry.preview.as_str(), entry.status, entry.assignee.is_none()), ("second", Status::Open, true));
    assert_eq!(entry.contact.name.as_deref(), Some("Kim"));

    let mut chat = joined(&ana, &started).await;
    chat.send_frame(&ClientFrame::Read { up_to: entry.last_seq }).await.unwrap();
    entry_where(&mut ana_site, &started, |e| e.unread == 0).await;

    let theirs = ana.contact_conversations(&site, &email).await.unwrap();
    let ids: Vec<_> = theirs.conversations.iter().map(|e| e.conversation_id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&earlier.conversation_id) && ids.contains(&started.conversation_id));
}

#[tokio::test]
async fn a_colleague_reading_along_leaves_the_responsible_agents_messages_unread() {
    let relay = relay();
    let site = fresh_site();
    let (started, mut visitor) = visitor_says(relay, &site, "hello?").await;
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);
    let mut ana_site = ana.site_connection(&site).await.unwrap();
    let mut ana_chat = joined(&ana, &started).await;
    ana_chat.post(&id("a1"), "Hi, Ana here").await.unwrap();
    let seq = visitor.post(&id("v2"), "my order is late").await.unwrap();

    // Bo reads along and writes a note: Ana still has not read it.
    let mut bo_chat = joined(&bo, &started).await;
    bo_chat.send_frame(&ClientFrame::Read { up_to: seq }).await.unwrap();
    let note = ClientFrame::Note { client_id: id("n1"), body: "I know this one".into() };
    bo_chat.post_frame(&id("n1"), &note).await.unwrap();
    visitor.post(&id("v3"), "order 1234").await.unwrap();
    let entry = entry_where(&mut ana_site, &started, |e| e.preview == "order 1234").await;
    assert_eq!(entry.unread, 2, "both of the visitor's messages wait for Ana");

    ana_chat.send_frame(&ClientFrame::Read { up_to: entry.last_seq }).await.unwrap();
    entry_where(&mut ana_site, &started, |e| e.unread == 0).await;
}

#[tokio::test]
async fn a_burst_of_messages_leaves_the_inbox_with_the_newest_entry() {
    let relay = relay();
    let site = fresh_site();
    let ana = relay.agent("Ana").await;
    let mut ana_site = ana.site_connection(&site).await.unwrap();
    let started = relay.visitor().start(&site).await.unwrap();
    let mut visitor = connected(relay, &started).await;
    // Sent without waiting for acks, so the conversation's inbox updates overlap and it sends
    // the changes made meanwhile together: the site must still end with the last of them.
    const BURST: u32 = 20;
    for n in 1..=BURST {
        let frame = ClientFrame::Send { client_id: id(&format!("b{n}")), body: format!("burst {n}"), card: None, suggestions: vec![] };
        visitor.send_frame(&frame).await.unwrap();
    }
    let live = entry_where(&mut ana_site, &started, |e| e.unread == BURST).await;
    assert_eq!(live.preview, format!("burst {BURST}"));
    let stored = ana.conversations(&site).await.unwrap();
    let stored = stored.conversations.iter().find(|e| e.conversation_id == started.conversation_id).expect("listed");
    assert_eq!((stored.unread, stored.preview.as_str(), stored.last_seq), (BURST, live.preview.as_str(), live.last_seq));
}

#[tokio::test]
async fn only_online_agents_write_first_and_the_contact_gets_an_email_with_a_link() {
    let relay = relay();
    let site = fresh_site();
    let ana = relay.agent("Ana").await;
    let http = reqwest::Client::new();
    let url = format!("{}{}", relay.origin, protocol::http::outbound_path(&site));
    let outbound = Outbound { email: Email::parse("lee@example.com").unwrap(), body: "Your parcel is ready".into(), client_id: None };
    // From the console (its cookie), offline: refused.
    let console = |request: reqwest::RequestBuilder| {
        request.header("Cookie", format!("{}={}", protocol::http::SESSION_COOKIE, ana.session())).header("Origin", &relay.origin)
    };
    let offline = console(http.post(&url)).json(&outbound).send().await.unwrap();
    assert_eq!(offline.status(), 403);
    let offline: protocol::http::ErrorBody = offline.json().await.unwrap();
    assert_eq!(offline.error.code, ErrorCode::AgentOffline);

    let _online = ana.go_online(&site).await.unwrap();
    let answer = agent::check(console(http.post(&url)).json(&outbound).send().await.unwrap()).await.unwrap();
    let started: OutboundStarted = answer.json().await.unwrap();
    let emails = relay.wait_for_emails(&started.conversation_id, 1).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, "lee@example.com");
    assert!(emails[0].text.contains("Your parcel is ready") && emails[0].text.contains("#chat-resume="));
    let inbox = ana.conversations(&site).await.unwrap();
    let entry = inbox.conversations.iter().find(|e| e.conversation_id == started.conversation_id).unwrap();
    assert_eq!(entry.assignee.as_ref().unwrap().id, ana.account.id);
    assert_eq!(entry.first_response_at, None, "writing first answers nobody: no first-response time for the analytics");
}

#[tokio::test]
async fn writing_first_to_a_contact_another_agent_is_talking_to_is_refused_and_changes_nothing() {
    let relay = relay();
    let site = fresh_site();
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);
    let (_ana_online, _bo_online) = (ana.go_online(&site).await.unwrap(), bo.go_online(&site).await.unwrap());
    let to_lee = |body: &str| Outbound { email: Email::parse("lee@example.com").unwrap(), body: body.into(), client_id: None };
    let started = bo.write_first(&site, &to_lee("Your parcel is ready")).await.unwrap();
    let entry = |list: protocol::inbox::Inbox| {
        list.conversations.into_iter().find(|e| e.conversation_id == started.conversation_id).unwrap()
    };

    // Bo's chat with Lee is open: Ana is refused, and the chat stays Bo's.
    let refused = ana.write_first(&site, &to_lee("Hello from Ana")).await.unwrap_err();
    assert_eq!(refused.downcast::<agent::HttpError>().unwrap().error.unwrap().code, ErrorCode::NotResponsible);
    let mut bo_chat = bo.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut bo_chat, 0).await;
    bo_chat.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(next_status(&mut bo_chat).await, Status::Ended);

    // Ended, it is nobody's: Ana's message opens it again, as hers.
    let again = ana.write_first(&site, &to_lee("Hello again, Ana here")).await.unwrap();
    assert_eq!(again.conversation_id, started.conversation_id, "the contact's conversation, opened again");
    let listed = entry(ana.conversations(&site).await.unwrap());
    assert_eq!((listed.status, listed.assignee.map(|a| a.id)), (Status::Open, Some(ana.account.id.clone())));
    assert_eq!(listed.preview, "Hello again, Ana here");
}

#[tokio::test]
async fn a_program_writes_first_with_nobody_online_once_however_often_it_retries() {
    let relay = relay();
    let site = fresh_site();
    // A shop's order system, signed in with its own account's token and never online.
    let orders = relay.agent("Orders").await;
    let outbound = Outbound {
        email: Email::parse("kim@example.com").unwrap(),
        body: "Order 1234 has shipped".into(),
        client_id: Some(id("order-1234-shipped")),
    };
    let started = orders.write_first(&site, &outbound).await.unwrap();
    // Its answer was lost, so it sends the same again: the same conversation, nothing twice.
    let retried = orders.write_first(&site, &outbound).await.unwrap();
    assert_eq!(retried.conversation_id, started.conversation_id);
    // An id a message could not be found by again is refused, and nothing is stored.
    let bad = serde_json::json!({ "email": "kim@example.com", "body": "Order 1234 is late", "client_id": "not valid!" });
    let refused = reqwest::Client::new()
        .post(format!("{}{}", relay.origin, protocol::http::outbound_path(&site)))
        .bearer_auth(orders.session())
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<protocol::http::ErrorBody>().await.unwrap().error.code, ErrorCode::InvalidClientId);

    let emails = relay.wait_for_emails(&started.conversation_id, 1).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, "kim@example.com");
    assert!(emails[0].text.contains("Order 1234 has shipped") && emails[0].text.contains("#chat-resume="));
    // Nobody took it: it waits for whoever is online to answer the contact.
    let ana = relay.agent("Ana").await;
    let inbox = ana.conversations(&site).await.unwrap();
    let entry = inbox.conversations.iter().find(|e| e.conversation_id == started.conversation_id).unwrap();
    assert_eq!((entry.status, entry.assignee.as_ref()), (Status::Open, None));
    assert_eq!(entry.preview, "Order 1234 has shipped");
    let mut reading = ana.join(&started.conversation_id, 0).await.unwrap();
    let (_, messages) = catch_up(&mut reading, 0).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(matches!(&messages[0].author, protocol::Author::Agent { name, .. } if name.as_str() == "Orders"));
    // Still one email once the retry has had time to send one.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(relay.emails_about(&started.conversation_id).len(), 1);
}

#[tokio::test]
async fn signing_in_sessions_and_admin_rights() {
    let relay = relay();
    let http = reqwest::Client::new();
    let login = |password: &str| Login { email: Email::parse(e2e::ADMIN_EMAIL).unwrap(), password: password.into(), bearer: false };
    let wrong = http.post(format!("{}/api/agent/login", relay.origin)).json(&login("not the password")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong: protocol::http::ErrorBody = wrong.json().await.unwrap();
    assert_eq!(wrong.error.code, ErrorCode::BadCredentials);

    // The console's cookie: HttpOnly, SameSite=Strict, no token in the body.
    let right = http.post(format!("{}/api/agent/login", relay.origin)).json(&login(e2e::ADMIN_PASSWORD)).send().await.unwrap();
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let signed_in: protocol::inbox::SignedIn = right.json().await.unwrap();
    assert!(signed_in.token.is_none());
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = http.get(format!("{}/api/agent/me", relay.origin)).header("Cookie", &session).send().await.unwrap();
    assert_eq!(me.status(), 200);

    // A page on another site cannot act with the cookie.
    let site = fresh_site();
    let settings_url = format!("{}{}", relay.origin, protocol::http::settings_path(&site));
    let forged = http
        .put(&settings_url)
        .header("Cookie", &session)
        .header("Origin", "https://evil.example")
        .json(&protocol::site::WidgetSettings::default())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let own = http
        .put(&settings_url)
        .header("Cookie", &session)
        .header("Origin", &relay.origin)
        .json(&protocol::site::WidgetSettings::default())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // Agents work conversations; only admins change settings or make accounts.
    let ana = relay.agent("Ana").await;
    let err = ana.put_settings(&site, &protocol::site::WidgetSettings::default()).await.unwrap_err().to_string();
    assert!(err.contains("admin_only"), "{err}");
    let admin = relay.agent("Admin").await;
    let again = NewAccount { email: e2e::agent_email("Ana"), name: AgentName::parse("Ana").unwrap(), role: AccountRole::Agent, password: "long enough password".into() };
    assert!(admin.create_account(&again).await.unwrap_err().to_string().contains("account_exists"));
    let short = NewAccount { email: Email::parse("new@team.test").unwrap(), password: "short".into(), ..again };
    assert!(admin.create_account(&short).await.unwrap_err().to_string().contains("invalid_content"));

    // Signing out ends the session.
    let out = http.post(format!("{}/api/agent/logout", relay.origin)).header("Cookie", &session).header("Origin", &relay.origin).send().await.unwrap();
    assert_eq!(out.status(), 204);
    let after = http.get(format!("{}/api/agent/me", relay.origin)).header("Cookie", &session).send().await.unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn signing_out_ends_that_session_and_what_it_opened_and_no_other() {
    let relay = relay();
    let site = fresh_site();
    relay.agent("Sol").await;
    let email = e2e::agent_email("Sol");
    // Sol on a laptop and on a phone: two sessions, each with the site and a chat open.
    let laptop = Agent::login(&relay.origin, &email, e2e::AGENT_PASSWORD).await.unwrap();
    let phone = Agent::login(&relay.origin, &email, e2e::AGENT_PASSWORD).await.unwrap();
    let (started, _visitor) = visitor_says(relay, &site, "anyone there?").await;
    let mut laptop_site = laptop.go_online(&site).await.unwrap();
    let mut laptop_chat = joined(&laptop, &started).await;
    let mut phone_site = phone.go_online(&site).await.unwrap();
    let mut phone_chat = joined(&phone, &started).await;
    // A second tab of the phone's session opened the chat too and closed it again: the chat is
    // still open in the first.
    let second_tab = joined(&phone, &started).await;
    second_tab.close().await;
    phone_chat.send_frame(&ClientFrame::Ping).await.unwrap();
    wait_for(&mut phone_chat, |f| (f == ServerFrame::Pong).then_some(())).await;

    phone.logout().await.unwrap();
    assert_eq!(closed(&mut phone_site).await, Some(4401));
    assert_eq!(closed(&mut phone_chat).await, Some(4401));
    assert!(phone.conversations(&site).await.unwrap_err().to_string().contains("unauthorized"));

    // The laptop's session and connections go on, and Sol is still online there.
    assert!(relay.visitor().view(&site).await.unwrap().agents_online);
    assert!(laptop.conversations(&site).await.is_ok());
    laptop_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    entry_where(&mut laptop_site, &started, |e| e.assignee.as_ref().is_some_and(|a| a.id == laptop.account.id)).await;

    // Signing out of the last session takes Sol offline at once.
    let mut watcher = relay.agent("Admin").await.site_connection(&site).await.unwrap();
    laptop.logout().await.unwrap();
    assert_eq!(closed(&mut laptop_site).await, Some(4401));
    assert_eq!(closed(&mut laptop_chat).await, Some(4401));
    assert!(!relay.visitor().view(&site).await.unwrap().agents_online);
    wait_for(&mut watcher, |f| match f {
        ServerFrame::Agents { agents } => agents.iter().any(|a| a.id == laptop.account.id && !a.online).then_some(()),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn a_program_posts_replies_and_notes_over_http() {
    let relay = relay();
    let site = fresh_site();
    let (started, mut visitor) = visitor_says(relay, &site, "is my order late?").await;
    let conversation = &started.conversation_id;
    let program = relay.agent("Orders").await;
    let (mut reader, _) = e2e::chat::agent_connection("Rhea", conversation).await;

    // A reply makes the program responsible, as on a connection; the visitor and the agents
    // reading along hear it at once.
    let reply = ClientFrame::Send { client_id: id("http-1"), body: "It ships tomorrow.".into(), card: None, suggestions: vec![] };
    let posted = program.post(conversation, &reply).await.unwrap();
    assert_eq!((posted.body.as_str(), posted.seq), ("It ships tomorrow.", 2));
    assert!(matches!(&posted.author, protocol::Author::Agent { name, .. } if name.as_str() == "Orders"), "{:?}", posted.author);
    let heard = expect_message(&mut visitor).await;
    assert_eq!((heard.seq, &heard.body), (posted.seq, &posted.body));
    let read_along = wait_for(&mut reader, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(read_along, posted);
    let entry = program.conversations(&site).await.unwrap().conversations.into_iter().find(|e| &e.conversation_id == conversation).unwrap();
    assert_eq!(entry.assignee.map(|a| a.id), Some(program.account.id.clone()));

    // Retried with the same client id: the same message, nothing new stored.
    let again = reqwest::Client::new()
        .post(format!("{}{}", relay.origin, protocol::http::agent_messages_path(conversation)))
        .bearer_auth(program.session())
        .body(reply.encode())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<protocol::Message>().await.unwrap(), posted);

    // Another agent may not reply, but writes notes the visitor never sees.
    let rhea = relay.agent("Rhea").await;
    let refused = rhea.post(conversation, &ClientFrame::Send { client_id: id("r-1"), body: "Me too".into(), card: None, suggestions: vec![] }).await;
    assert!(refused.unwrap_err().to_string().contains("not_responsible"));
    let note = rhea.post(conversation, &ClientFrame::Note { client_id: id("r-2"), body: "Checked the warehouse".into() }).await.unwrap();
    assert!(note.note);
    let later = ClientFrame::Send { client_id: id("http-2"), body: "Tracking number to follow.".into(), card: None, suggestions: vec![] };
    program.post(conversation, &later).await.unwrap();
    assert_eq!(expect_message(&mut visitor).await.body, "Tracking number to follow.", "the note did not reach the visitor");

    // Refused clearly, storing nothing: other frames, malformed bodies, unknown conversations,
    // no session.
    let post = |body: String, conversation: &protocol::ConversationId| {
        reqwest::Client::new()
            .post(format!("{}{}", relay.origin, protocol::http::agent_messages_path(conversation)))
            .bearer_auth(program.session())
            .body(body)
            .send()
    };
    let code = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<protocol::http::ErrorBody>().await.unwrap().error.code)
    };
    assert_eq!(code(post(ClientFrame::End.encode(), conversation).await.unwrap()).await, (400, ErrorCode::MalformedFrame));
    assert_eq!(code(post("{not json".into(), conversation).await.unwrap()).await, (400, ErrorCode::MalformedFrame));
    let unknown = protocol::ConversationId::parse(&"ab".repeat(32)).unwrap();
    assert_eq!(code(post(reply.encode(), &unknown).await.unwrap()).await.1, ErrorCode::UnknownConversation);
    let anonymous = reqwest::Client::new()
        .post(format!("{}{}", relay.origin, protocol::http::agent_messages_path(conversation)))
        .body(reply.encode())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(program.conversations(&site).await.unwrap().conversations.iter().find(|e| &e.conversation_id == conversation).unwrap().status, Status::Open);
}

#[tokio::test]
async fn a_session_in_use_is_renewed_and_an_unused_one_expires() {
    // Sessions last 10 s here instead of a week; times count from the sign-in's answer (the
    // session began before it: a slow sign-in on a busy machine must not shift the renewal
    // before half the term), with seconds to spare either way.
    let relay = Relay::start_with("sessions", &[("SESSION_SECONDS", "10")]);
    let admin_email = Email::parse(e2e::ADMIN_EMAIL).unwrap();
    let idle = Agent::login(&relay.origin, &admin_email, e2e::ADMIN_PASSWORD).await.unwrap();
    let http = reqwest::Client::new();
    let login = Login { email: admin_email.clone(), password: e2e::ADMIN_PASSWORD.into(), bearer: false };
    let signed_in = http.post(format!("{}/api/agent/login", relay.origin)).json(&login).send().await.unwrap();
    let signed_in_at = tokio::time::Instant::now();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Max-Age=10"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = || http.get(format!("{}{}", relay.origin, protocol::http::ME_PATH)).header("Cookie", &session).send();

    // Used past half its term, then again past the whole first term: still signed in, and the
    // console's cookie is renewed with it.
    tokio::time::sleep_until(signed_in_at + std::time::Duration::from_secs(6)).await;
    let renewed = me().await.unwrap();
    assert_eq!(renewed.status(), 200);
    assert!(renewed.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=10"));
    tokio::time::sleep_until(signed_in_at + std::time::Duration::from_secs(12)).await;
    assert_eq!(me().await.unwrap().status(), 200);

    // The session nobody used in that time has ended.
    assert!(idle.conversations(&fresh_site()).await.unwrap_err().to_string().contains("unauthorized"));
}

/// Reads a connection until the relay closes it; the close code.
async fn closed(connection: &mut Connection) -> Option<u16> {
    loop {
        match connection.next().await {
            Ok(_) => continue,
            Err(ConnectionError::Closed(frame)) => return frame.map(|(code, _)| code),
            Err(other) => panic!("expected the relay to close the connection, got {other:?}"),
        }
    }
}

/// A visitor who takes back their only message asks nothing: the conversation is no longer
/// unread or waiting for an answer.
#[tokio::test]
async fn a_message_taken_back_is_not_unread() {
    let relay = relay();
    let site = fresh_site();
    let ana = relay.agent("Ana").await;
    let mut inbox = ana.site_connection(&site).await.unwrap();
    let (started, mut visitor) = visitor_says(relay, &site, "wrong chat, sorry").await;
    entry_where(&mut inbox, &started, |e| e.unread == 1).await;
    visitor.send_frame(&ClientFrame::Retract { seq: 1 }).await.unwrap();
    let entry = entry_where(&mut inbox, &started, |e| e.unread == 0).await;
    assert_eq!(entry.preview, "");
}

#[tokio::test]
async fn admins_rename_promote_reset_and_remove_accounts() {
    let relay = relay();
    let site = fresh_site();
    let admin = relay.agent("Admin").await;
    let email = Email::parse("remy@team.test").unwrap();
    let first_password = "first long password";
    let new = NewAccount { email: email.clone(), name: AgentName::parse("Remy").unwrap(), role: AccountRole::Agent, password: first_password.into() };
    let created = admin.create_account(&new).await.unwrap();
    let remy = Agent::login(&relay.origin, &email, first_password).await.unwrap();
    let settings = protocol::site::WidgetSettings::default();

    // Renamed and made an admin: the team sees the new name, and their session has the new
    // rights at once, and loses them.
    let mut watcher = admin.site_connection(&site).await.unwrap();
    let _remy_site = remy.go_online(&site).await.unwrap();
    let (asked, mut asker) = visitor_says(relay, &site, "who is helping me?").await;
    let mut remys_chat = joined(&remy, &asked).await;
    remys_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    entry_where(&mut watcher, &asked, |e| e.assignee.as_ref().is_some_and(|a| a.name.as_str() == "Remy")).await;
    let promote = AccountChange { name: Some(AgentName::parse("Remi").unwrap()), role: Some(AccountRole::Admin), password: None };
    let changed = admin.change_account(&created.id, &promote).await.unwrap();
    assert_eq!((changed.name.as_str(), changed.role, &changed.email), ("Remi", AccountRole::Admin, &email));
    wait_for(&mut watcher, |f| match f {
        ServerFrame::Agents { agents } => agents.iter().any(|a| a.id == created.id && a.name.as_str() == "Remi").then_some(()),
        _ => None,
    })
    .await;
    // The conversation Remi had open and answers shows the new name, without reconnecting.
    entry_where(&mut watcher, &asked, |e| e.assignee.as_ref().is_some_and(|a| a.name.as_str() == "Remi")).await;
    remys_chat.send_frame(&ClientFrame::Send { client_id: id("remi-1"), body: "Me, Remi.".into(), card: None, suggestions: vec![] }).await.unwrap();
    let answer = expect_message(&mut asker).await;
    assert!(matches!(&answer.author, protocol::Author::Agent { name, .. } if name.as_str() == "Remi"), "{:?}", answer.author);
    remy.put_settings(&site, &settings).await.expect("an admin now");
    // As an admin Remi may hand on a colleague's conversation.
    let ana = relay.agent("Ana").await;
    let (anas, _anas_visitor) = visitor_says(relay, &site, "a question for Ana").await;
    let mut anas_chat = joined(&ana, &anas).await;
    anas_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    entry_where(&mut watcher, &anas, |e| e.assignee.as_ref().is_some_and(|a| a.id == ana.account.id)).await;
    let mut remis_view = joined(&remy, &anas).await;
    remis_view.send_frame(&ClientFrame::Transfer { to: None }).await.unwrap();
    entry_where(&mut watcher, &anas, |e| e.assignee.is_none()).await;
    anas_chat.send_frame(&ClientFrame::Accept).await.unwrap();
    entry_where(&mut watcher, &anas, |e| e.assignee.as_ref().is_some_and(|a| a.id == ana.account.id)).await;
    admin.change_account(&created.id, &AccountChange { role: Some(AccountRole::Agent), ..AccountChange::default() }).await.unwrap();
    assert!(remy.put_settings(&site, &settings).await.unwrap_err().to_string().contains("admin_only"));
    // Demoted, he may not, though his socket was opened while he could.
    remis_view.send_frame(&ClientFrame::Transfer { to: None }).await.unwrap();
    let refusal = wait_for(&mut remis_view, |f| match f {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    })
    .await;
    assert_eq!(refusal, ErrorCode::NotResponsible);
    let inbox = admin.conversations(&site).await.unwrap();
    let entry = inbox.conversations.iter().find(|e| e.conversation_id == anas.conversation_id).unwrap();
    assert_eq!(entry.assignee.as_ref().map(|a| &a.id), Some(&ana.account.id));

    // Refused: agents changing anyone, the last admin stepping down or anyone removing
    // themselves, short passwords, unknown accounts.
    let rename = AccountChange { name: Some(AgentName::parse("Mallory").unwrap()), ..AccountChange::default() };
    assert!(ana.change_account(&created.id, &rename).await.unwrap_err().to_string().contains("admin_only"));
    let step_down = AccountChange { role: Some(AccountRole::Agent), ..AccountChange::default() };
    assert!(admin.change_account(&admin.account.id, &step_down).await.unwrap_err().to_string().contains("forbidden"));
    assert!(admin.remove_account(&admin.account.id).await.unwrap_err().to_string().contains("forbidden"));
    let short = AccountChange { password: Some("short".into()), ..AccountChange::default() };
    assert!(admin.change_account(&created.id, &short).await.unwrap_err().to_string().contains("invalid_content"));
    let nobody = protocol::AgentId::parse("ag-00000000000000aa").unwrap();
    assert!(admin.remove_account(&nobody).await.unwrap_err().to_string().contains("invalid_id"));
    assert!(Agent::login(&relay.origin, &email, first_password).await.is_ok(), "nothing refused changed anything");

    // A new password ends every session, and the connections they opened.
    let mut remy_site = remy.go_online(&site).await.unwrap();
    let second_password = "second long password";
    let reset = AccountChange { password: Some(second_password.into()), ..AccountChange::default() };
    admin.change_account(&created.id, &reset).await.unwrap();
    assert_eq!(closed(&mut remy_site).await, Some(4401));
    assert!(remy.conversations(&site).await.unwrap_err().to_string().contains("unauthorized"));
    assert!(Agent::login(&relay.origin, &email, first_password).await.is_err());
    let remy = Agent::login(&relay.origin, &email, second_password).await.unwrap();

    // Removed: out of the team, disconnected everywhere, and their open conversation is
    // back in the queue.
    let mut watcher = admin.site_connection(&site).await.unwrap();
    let mut remy_site = remy.go_online(&site).await.unwrap();
    let (started, _visitor) = visitor_says(relay, &site, "hello?").await;
    let mut chat = joined(&remy, &started).await;
    chat.send_frame(&ClientFrame::Accept).await.unwrap();
    entry_where(&mut watcher, &started, |e| e.assignee.is_some()).await;
    let removed = admin.remove_account(&created.id).await.unwrap();
    assert_eq!(removed.id, created.id);
    entry_where(&mut watcher, &started, |e| e.assignee.is_none()).await;
    assert_eq!(closed(&mut chat).await, Some(4401));
    assert_eq!(closed(&mut remy_site).await, Some(4401));
    let team = admin.accounts().await.unwrap();
    assert!(!team.accounts.iter().any(|a| a.id == created.id));
    assert!(Agent::login(&relay.origin, &email, second_password).await.is_err());
    // The old session opens nothing: the relay answers the upgrade with the refusal.
    let mut again = remy.join(&started.conversation_id, 0).await.unwrap();
    assert!(matches!(again.next().await, Ok(ServerFrame::Error { code: ErrorCode::Unauthorized, .. })));
}

/// A relay whose inbox minutes last a second, with few sign-in attempts allowed, whose inbox
/// lists two closed conversations.
fn quick_relay() -> &'static Relay {
    static RELAY: std::sync::OnceLock<Relay> = std::sync::OnceLock::new();
    RELAY.get_or_init(|| {
        Relay::start_with("inbox-time", &[("MINUTE_SECONDS", "1"), ("LIMIT_LOGINS_PER_15_MINUTES", "3"), ("INBOX_CLOSED_LISTED", "2")])
    })
}

#[tokio::test]
async fn the_inbox_lists_every_open_conversation_however_many_closed_ones_are_newer() {
    let relay = quick_relay();
    let site = fresh_site();
    let ana = relay.agent("Ana").await;
    let mut watcher = ana.site_connection(&site).await.unwrap();
    let (waiting, _visitor) = visitor_says(relay, &site, "still waiting for someone").await;
    let mut ended = Vec::new();
    for n in 0..3 {
        let (started, _visitor) = visitor_says(relay, &site, &format!("question {n}")).await;
        let mut chat = joined(&ana, &started).await;
        chat.send_frame(&ClientFrame::End).await.unwrap();
        entry_where(&mut watcher, &started, |e| e.status == Status::Ended).await;
        ended.push(started.conversation_id);
    }
    let inbox = ana.conversations(&site).await.unwrap();
    assert!(inbox.more_closed, "the inbox says older closed ones are there");
    let oldest_listed = inbox.conversations.iter().find(|e| e.conversation_id == ended[1]).unwrap();
    let cursor = ClosedCursor { updated_at: oldest_listed.updated_at, conversation_id: oldest_listed.conversation_id.clone() };
    let listed: Vec<_> = inbox.conversations.into_iter().map(|e| e.conversation_id).collect();
    assert_eq!(listed, [ended[2].clone(), ended[1].clone(), waiting.conversation_id], "the oldest closed one is left out");

    // The next page has it, and says it is the last.
    let older = ana.older_closed(&site, &cursor).await.unwrap();
    assert_eq!(older.conversations.iter().map(|e| e.conversation_id.clone()).collect::<Vec<_>>(), [ended[0].clone()]);
    assert!(!older.more_closed);
    // A cursor that is not one is refused in words.
    let forged = reqwest::Client::new()
        .get(format!("{}{}?closed_before=yesterday", relay.origin, protocol::http::agent_conversations_path(&site)))
        .bearer_auth(ana.session())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
}

#[tokio::test]
async fn waiting_too_long_is_offered_unread_too_long_alerts_and_quiet_chats_close() {
    let relay = quick_relay();
    let site = fresh_site();
    let admin = relay.agent("Admin").await;
    let settings = InboxSettings {
        accept_timeout_minutes: Some(2),
        unanswered_alert_minutes: 2,
        auto_close_minutes: 6,
        ..InboxSettings::default()
    };
    admin.put_inbox_settings(&site, &settings).await.unwrap();
    let ana = relay.agent("Ana").await;
    let mut ana_site = ana.go_online(&site).await.unwrap();

    let (started, mut visitor) = visitor_says(relay, &site, "anyone?").await;
    let offered = wait_for(&mut ana_site, |f| match f {
        ServerFrame::Alert { conversation_id, alert } if conversation_id == started.conversation_id => Some(alert),
        _ => None,
    })
    .await;
    assert_eq!(offered, Alert::Offered);

    let mut chat = joined(&ana, &started).await;
    chat.send_frame(&ClientFrame::Accept).await.unwrap();
    visitor.post(&id("v2"), "hello??").await.unwrap();
    let unanswered = wait_for(&mut ana_site, |f| match f {
        ServerFrame::Alert { conversation_id, alert } if conversation_id == started.conversation_id && alert != Alert::Offered => Some(alert),
        _ => None,
    })
    .await;
    assert_eq!(unanswered, Alert::Unanswered);

    // Unanswered, it does not end for quiet: the visitor is waiting. Once answered, nobody
    // writes for the site's inactivity period: it ends by itself, both sides see it.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let entry = ana.conversations(&site).await.unwrap().conversations.into_iter().find(|e| e.conversation_id == started.conversation_id);
    assert_eq!(entry.map(|e| e.status), Some(Status::Open), "a visitor waiting for an answer is not closed for quiet");
    chat.post(&id("a1"), "Sorry for the wait, how can I help?").await.unwrap();
    assert_eq!(next_status(&mut visitor).await, Status::Ended);
}

/// Waits for this alert about this conversation on an agent's site connection.
async fn alerted(site: &mut Connection, started: &ConversationStarted, expected: Alert) {
    wait_for(site, |f| match f {
        ServerFrame::Alert { conversation_id, alert } if conversation_id == started.conversation_id && alert == expected => Some(()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_visitor_left_without_a_reply_goes_back_to_the_queue_or_on_to_the_next_agent() {
    let relay = quick_relay();
    let admin = relay.agent("Admin").await;
    let (ana, bo) = (relay.agent("Ana").await, relay.agent("Bo").await);

    // The site does not route: back to the queue, and Ana hears why.
    let site = fresh_site();
    admin.put_inbox_settings(&site, &InboxSettings { reply_timeout_minutes: Some(2), ..InboxSettings::default() }).await.unwrap();
    let mut ana_site = ana.go_online(&site).await.unwrap();
    let (started, _visitor) = visitor_says(relay, &site, "is anyone there?").await;
    let mut chat = joined(&ana, &started).await;
    chat.send_frame(&ClientFrame::Accept).await.unwrap();
    entry_where(&mut ana_site, &started, |e| e.assignee.is_some()).await;
    let back = entry_where(&mut ana_site, &started, |e| e.assignee.is_none()).await;
    assert_eq!(back.status, Status::Open);
    alerted(&mut ana_site, &started, Alert::Returned).await;
    // The open conversation shows it back in the queue.
    wait_for(&mut chat, |f| matches!(f, ServerFrame::Assigned { assignee: None }).then_some(())).await;

    // The site routes: on to the next agent in turn, who has the whole period again.
    let site = fresh_site();
    let routed = InboxSettings { auto_assign: true, reply_timeout_minutes: Some(2), ..InboxSettings::default() };
    admin.put_inbox_settings(&site, &routed).await.unwrap();
    let mut ana_site = ana.go_online(&site).await.unwrap();
    let mut bo_site = bo.go_online(&site).await.unwrap();
    let (started, _visitor) = visitor_says(relay, &site, "hello?").await;
    let first = entry_where(&mut ana_site, &started, |e| e.assignee.is_some()).await.assignee.unwrap();
    let next = entry_where(&mut ana_site, &started, |e| e.assignee.as_ref().is_some_and(|a| a.id != first.id)).await.assignee.unwrap();
    let (first_site, next_agent, next_site) =
        if first.id == ana.account.id { (&mut ana_site, &bo, &mut bo_site) } else { (&mut bo_site, &ana, &mut ana_site) };
    assert_eq!(next.id, next_agent.account.id);
    alerted(first_site, &started, Alert::Returned).await;
    alerted(next_site, &started, Alert::Assigned).await;

    // They answer in time: it stays theirs well past the period.
    let mut chat = joined(next_agent, &started).await;
    chat.post(&id("a1"), "Here now, sorry for the wait!").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let inbox = next_agent.conversations(&site).await.unwrap();
    let entry = inbox.conversations.iter().find(|e| e.conversation_id == started.conversation_id).unwrap();
    assert_eq!(entry.assignee.as_ref().map(|a| &a.id), Some(&next.id));
}

#[tokio::test]
async fn a_chat_that_keeps_talking_is_not_closed_for_quiet() {
    let relay = quick_relay();
    let site = fresh_site();
    let admin = relay.agent("Admin").await;
    admin.put_inbox_settings(&site, &InboxSettings { auto_close_minutes: 4, ..InboxSettings::default() }).await.unwrap();
    let (started, mut visitor) = visitor_says(relay, &site, "first").await;
    // A message a second for twice the inactivity period: the close time stored with the
    // first message passes while they talk, and every message is still taken.
    for n in 0..8 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        visitor.post(&id(&format!("talk-{n}")), "still here").await.expect("the chat is still open");
    }
    // Then an answer, and quiet: it ends by itself.
    let mut agent = joined(&relay.agent("Ana").await, &started).await;
    agent.post(&id("a1"), "Thanks, all sorted").await.unwrap();
    assert_eq!(next_status(&mut visitor).await, Status::Ended);
}

#[tokio::test]
async fn sign_in_attempts_are_limited() {
    let relay = quick_relay();
    let http = reqwest::Client::new();
    let login = Login { email: Email::parse("nobody@team.test").unwrap(), password: "guess guess guess".into(), bearer: false };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = http.post(format!("{}/api/agent/login", relay.origin)).json(&login).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // An IPv6 network is one address: the rest of its /64 is refused too.
    let from = |ip: &str| http.post(format!("{}/api/agent/login", relay.origin)).header("CF-Connecting-IP", ip).json(&login);
    let mut statuses = Vec::new();
    for n in 1..=4 {
        statuses.push(from(&format!("2001:db8:1:2::{n}")).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429], "three per network, here");
    // Many addresses guessing one account together: ten times one address's share, then refused.
    let login = Login { email: Email::parse("target@team.test").unwrap(), ..login };
    let from = |ip: &str| http.post(format!("{}/api/agent/login", relay.origin)).header("CF-Connecting-IP", ip).json(&login);
    for n in 1..=30 {
        assert_eq!(from(&format!("198.51.100.{n}")).send().await.unwrap().status(), 401);
    }
    assert_eq!(from("198.51.100.31").send().await.unwrap().status(), 429);
}

#[tokio::test]
async fn signing_out_makes_the_agent_offline_at_once() {
    let relay = relay();
    let site = fresh_site();
    let mut widget = relay.visitor().availability(&site).await.unwrap();
    assert_eq!(widget.next().await.unwrap(), ServerFrame::Availability { agents_online: false });
    assert!(matches!(widget.next().await.unwrap(), ServerFrame::WidgetSettings { .. }));
    // Lou signs in afresh: signing out must not end a session other tests share.
    let lou = relay.agent("Lou").await;
    let lou = Agent::login(&relay.origin, &lou.account.email, e2e::AGENT_PASSWORD).await.unwrap();
    let mut console = lou.go_online(&site).await.unwrap();
    assert_eq!(widget.next().await.unwrap(), ServerFrame::Availability { agents_online: true });

    let out = reqwest::Client::new()
        .post(format!("{}{}", relay.origin, protocol::http::LOGOUT_PATH))
        .bearer_auth(lou.session())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(widget.next().await.unwrap(), ServerFrame::Availability { agents_online: false });
    // The console's connection is closed by the relay.
    loop {
        match console.next().await {
            Ok(_) => continue,
            Err(ConnectionError::Closed(_)) => break,
            Err(other) => panic!("expected the relay to close the console's connection, got {other}"),
        }
    }
}

/// The first-response time is how long the visitor waited: from their first message, not
/// from when the conversation was made (a page that opened the chat, an outbound message, a
/// bot), and the end of a chat is remembered for "handled today".
#[tokio::test]
async fn the_first_response_is_timed_from_the_visitors_first_message() {
    let relay = relay();
    let site = fresh_site();
    let started = relay.visitor().start(&site).await.unwrap();
    let mut visitor = connected(relay, &started).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    visitor.post(&id("v1"), "Hello?").await.unwrap();
    let ana = relay.agent("Ana").await;
    let mut ana_chat = joined(&ana, &started).await;
    ana_chat.post(&id("a1"), "Hi, how can I help?").await.unwrap();
    ana_chat.send_frame(&ClientFrame::End).await.unwrap();
    assert_eq!(next_status(&mut ana_chat).await, Status::Ended);

    // The site hears of the end a moment after the conversation says it.
    let entry = loop {
        let inbox = ana.conversations(&site).await.unwrap();
        let entry = inbox.conversations.into_iter().find(|e| e.conversation_id == started.conversation_id).unwrap();
        if entry.status == Status::Ended {
            break entry;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (answered, ended) = (entry.first_response_at.unwrap(), entry.ended_at.unwrap());
    // The conversation waited two seconds for the visitor's first word; only what came after
    // counts.
    let age_secs = (answered - entry.created_at) / 1000;
    let waited = entry.first_response_secs.unwrap();
    assert!(waited + 2 <= age_secs, "waited {waited} s of a conversation {age_secs} s old at the answer");
    assert!(ended >= answered);
}

/// What agents work with reaches every open console as soon as an admin saves it: the
/// canned responses, and the inbox settings that word the alerts.
#[tokio::test]
async fn open_consoles_hear_new_canned_responses_and_inbox_settings_at_once() {
    let relay = relay();
    let site = fresh_site();
    let (admin, ana) = (relay.agent("Admin").await, relay.agent("Ana").await);
    let mut ana_site = ana.site_connection(&site).await.unwrap();
    let canned = protocol::inbox::CannedResponses {
        responses: vec![protocol::inbox::CannedResponse { name: "hours".into(), text: "We are open 9 to 5.".into() }],
    };
    admin.put_canned(&site, &canned).await.unwrap();
    wait_for(&mut ana_site, |f| (f == ServerFrame::CannedChanged).then_some(())).await;
    assert_eq!(ana.canned(&site).await.unwrap(), canned, "what the console reads then");

    let settings = InboxSettings { unanswered_alert_minutes: 7, ..InboxSettings::default() };
    admin.put_inbox_settings(&site, &settings).await.unwrap();
    let heard = wait_for(&mut ana_site, |f| match f {
        ServerFrame::InboxSettings { settings } => Some(settings),
        _ => None,
    })
    .await;
    assert_eq!(heard.unanswered_alert_minutes, 7);
}
