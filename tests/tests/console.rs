//! The agents' console end to end: headless Chromium for the visitor (the widget on a
//! customer's page) and for each agent (the console), against the real relay. Screenshots of
//! the main screens go to `target/e2e/screenshots/console-*.png`.

use e2e::browser::Browser;
use e2e::chat::{catch_up, id, visitor_says, wait_for};
use e2e::console::{testid, Console};
use e2e::host::HostPage;
use e2e::{fresh_site, relay};
use protocol::inbox::{CannedResponse, CannedResponses};
use protocol::site::WidgetSettings;
use protocol::http::ConversationStarted;
use protocol::{ClientFrame, ConversationId, ServerFrame, SiteId};

/// A visitor on a customer's page who has written `text`; returns their browser and the
/// conversation.
async fn visitor_writes(site: &SiteId, text: &str) -> (Browser, HostPage, ConversationId) {
    let page = HostPage::serve(&relay().origin, site.as_str(), "").await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.write(text).await;
    browser.wait_for("the message stored", "root.querySelector('.cw-mine[data-seq]')").await;
    let conversation = browser.conversation(site.as_str()).await;
    (browser, page, conversation)
}

/// Today's date (UTC), as the analytics name days.
fn relay_today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let output = std::process::Command::new("date").args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d"]).output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn message_with(text: &str) -> String {
    format!("{} {}", testid("message"), text)
}

/// A high contrast theme (forced colours) paints every background alike: the console still
/// shows which of Reply and Private note is on, and which conversation is open.
#[tokio::test]
async fn a_high_contrast_theme_still_shows_what_is_chosen_in_the_console() {
    let site = fresh_site();
    let ana = Console::sign_in(relay(), "Ana").await;
    ana.browser.emulate_media_feature("forced-colors", "active").await;
    ana.use_site(&site).await;
    ana.go_online().await;
    let (_visitor, _page, conversation) = visitor_writes(&site, "Can you see me?").await;
    ana.open_conversation(&conversation, "tab-waiting").await;
    let outlines = |selector: &str| format!("return [...document.querySelectorAll('{selector}')].map(e => getComputedStyle(e).outlineStyle)");
    assert_eq!(ana.js(&outlines(".mode"), vec![]).await, serde_json::json!(["solid", "none"]), "Reply is on");
    ana.click("mode-note").await;
    ana.wait("Private note on", &format!("document.querySelector('{}').getAttribute('aria-pressed') === 'true'", testid("mode-note"))).await;
    assert_eq!(ana.js(&outlines(".mode"), vec![]).await, serde_json::json!(["none", "solid"]), "Private note is on");
    assert_eq!(ana.js(&outlines(".row[aria-current=\"true\"]"), vec![]).await, serde_json::json!(["solid"]), "the open conversation");
    ana.screenshot("console-forced-colors").await;
}

#[tokio::test]
async fn a_visitor_and_an_agent_chat_through_the_console() {
    let site = fresh_site();
    let ana = Console::sign_in(relay(), "Ana").await;
    ana.use_site(&site).await;
    ana.go_online().await;
    let (visitor, _page, conversation) = visitor_writes(&site, "Where is my order #1234?").await;

    ana.open_conversation(&conversation, "tab-waiting").await;
    ana.wait_for_text(&testid("message-body"), "Where is my order #1234?").await;
    ana.screenshot("console-waiting").await;
    // A tab's badge says what it counts, for screen readers too; a tab with nothing to count
    // has none (so "Mine" does not read "0" beside a conversation listed under it).
    let words = |name: &str| {
        format!("return [...document.querySelector('{}').childNodes].map(n => n.textContent.trim()).filter(t => t).join(' ')", testid(name))
    };
    assert_eq!(ana.js(&words("tab-waiting"), vec![]).await, serde_json::json!("Waiting 1 waiting"));
    assert_eq!(ana.js(&words("tab-mine"), vec![]).await, serde_json::json!("Mine"));
    ana.click("accept").await;
    ana.wait_for_text(&testid("assignee"), "Ana").await;
    // Hers now: the list she was looking at goes with it to Mine, where it is the open one.
    ana.wait("Mine shown", &format!("document.querySelector('{}').getAttribute('aria-selected') === 'true'", testid("tab-mine"))).await;
    ana.find(&format!("{}[data-conversation-id=\"{conversation}\"][aria-current=\"true\"]", testid("conversation-row"))).await;
    // The Accept button is gone: the keyboard is in the message field, where the reply goes.
    ana.wait("focus in the composer", "document.activeElement && document.activeElement.id === 'composer'").await;
    ana.write("It ships today.").await;
    visitor.wait_for_texts(".cw-theirs .cw-body", &["It ships today."]).await;

    // The visitor answers: it appears live, and the agent has read it (the widget says so).
    visitor.write("Thank you!").await;
    ana.wait_for_text(&testid("message-body"), "Thank you!").await;
    // A screen reader hears it once, from the announcement region, not the whole thread again.
    ana.wait("the announcement", "[...document.querySelectorAll('[aria-live=polite]')].some(e => e.textContent === 'New message from Visitor: Thank you!')").await;
    let thread_live = format!("return document.querySelector('{}').getAttribute('aria-live')", testid("thread"));
    assert_eq!(ana.js(&thread_live, vec![]).await, serde_json::json!("off"));
    visitor.wait_for("seen", "[...root.querySelectorAll('.cw-state')].some(s => s.textContent.includes('Seen'))").await;
    ana.click("tab-mine").await;
    ana.find(&format!("{}[data-conversation-id=\"{conversation}\"]", testid("conversation-row"))).await;
    ana.screenshot("console-conversation").await;

    // Ended from the keyboard: the End button goes, and focus stays in the conversation.
    ana.element("end").await.send_keys("\u{E007}").await.unwrap();
    visitor.wait_for("ended", "[...root.querySelectorAll('.cw-notice')].some(n => n.textContent.includes('ended'))").await;
    let focused = ana
        .wait("focus kept in the conversation", "document.activeElement !== document.body && document.activeElement.closest('[data-testid=conversation-view]') && (document.activeElement.id || document.activeElement.textContent)")
        .await;
    assert!(focused == "composer" || focused == "Block visitor", "focus on {focused}");
    assert!(ana.browser.console_errors().await.is_empty(), "{:?}", ana.browser.console_errors().await);
}

#[tokio::test]
async fn two_agents_write_notes_mention_each_other_and_hand_a_conversation_over() {
    let relay = relay();
    let site = fresh_site();
    let (started, mut visitor) = visitor_says(relay, &site, "I was charged twice").await;
    let conversation = started.conversation_id.clone();

    let (ana, bo) = (Console::sign_in(relay, "Ana").await, Console::sign_in(relay, "Bo").await);
    ana.use_site(&site).await;
    bo.use_site(&site).await;
    ana.go_online().await;
    bo.go_online().await;
    ana.open_conversation(&conversation, "tab-waiting").await;
    ana.click("accept").await;
    ana.wait_for_text(&testid("assignee"), "Ana").await;
    // Ana allowed desktop notifications and looks at another window (the browser's own
    // notifications are not observable headless: a stand-in records them).
    ana.js(
        "window.__notified = []; window.__tags = [];
         window.Notification = class { constructor(title, options) { window.__notified.push(title + ' ' + ((options && options.body) || '')); window.__tags.push(options && options.tag); }
           static get permission() { return 'granted'; } static requestPermission() { return Promise.resolve('granted'); } };
         document.hasFocus = () => false;",
        vec![],
    )
    .await;

    // Bo reads along; his public reply is not his to send, a private note is: his composer
    // writes notes.
    bo.open_conversation(&conversation, "tab-others").await;
    bo.write("@Ana the refund is approved").await;
    ana.wait("the note", &format!("document.querySelector('{}[data-note=\"true\"]')", testid("message"))).await;
    ana.wait_for_text(&testid("alert"), "Bo").await;
    let notified = ana.wait("a desktop notification", "window.__notified.length && window.__notified.join('|')").await;
    assert!(notified.as_str().unwrap().contains("Bo"), "{notified}");
    ana.screenshot("console-note-and-alert").await;
    // A second mention in the same conversation replaces the first alert: one toast, and one
    // system notification per conversation (its tag), not a pile.
    bo.write("@Ana and the receipt is sent").await;
    ana.wait("the second notification", "window.__notified.length === 2").await;
    assert_eq!(ana.texts(&testid("alert")).await.len(), 1, "one toast for the conversation");
    let tags = ana.js("return window.__tags;", vec![]).await;
    assert_eq!(tags, serde_json::json!([conversation.to_string(), conversation.to_string()]));
    // Opening the conversation is what the alert asked for: its toast goes.
    ana.open_conversation(&conversation, "tab-mine").await;
    ana.wait("the toast gone", &format!("!document.querySelector('{}')", testid("alert"))).await;

    // Ana hands it to Bo: it moves to his Mine list; the visitor never saw the note.
    let bo_id = relay.agent("Bo").await.account.id;
    ana.element("transfer-select").await.select_by_value(bo_id.as_str()).await.unwrap();
    ana.click("transfer").await;
    bo.click("tab-mine").await;
    bo.find(&format!("{}[data-conversation-id=\"{conversation}\"]", testid("conversation-row"))).await;
    bo.open_conversation(&conversation, "tab-mine").await;
    // Still a note until he says otherwise: what he was writing must not reach the visitor.
    let mode = format!("return document.querySelector('{}').getAttribute('aria-pressed')", testid("mode-note"));
    assert_eq!(bo.js(&mode, vec![]).await, serde_json::json!("true"));
    bo.click("mode-note").await; // back to replies
    bo.write("Refunded, you will see it in 3 days.").await;
    let reply = wait_for(&mut visitor, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(reply.body, "Refunded, you will see it in 3 days.");
    assert!(!reply.note);
    bo.screenshot("console-transferred").await;
}

/// An alert about the conversation the agent has in front of them is said to screen readers,
/// not raised as a toast to dismiss; about another conversation, it is a toast.
#[tokio::test]
async fn an_alert_about_the_conversation_on_screen_is_said_not_toasted() {
    let relay = relay();
    let site = fresh_site();
    let (started, _visitor) = visitor_says(relay, &site, "Is my order on its way?").await;
    let conversation = started.conversation_id.clone();
    let (ana, bo) = (Console::sign_in(relay, "Ana").await, Console::sign_in(relay, "Bo").await);
    ana.use_site(&site).await;
    bo.use_site(&site).await;
    ana.go_online().await;
    ana.open_conversation(&conversation, "tab-waiting").await;
    ana.click("accept").await;
    ana.wait_for_text(&testid("assignee"), "Ana").await;

    bo.open_conversation(&conversation, "tab-others").await;
    bo.write("@Ana it left the warehouse today").await;
    ana.wait("the note", &format!("document.querySelector('{}[data-note=\"true\"]')", testid("message"))).await;
    ana.wait_for_text(".alerts [aria-live]", "Bo mentioned you in a note").await;
    assert!(ana.texts(&testid("alert")).await.is_empty(), "no toast for the conversation on screen");

    // On the analytics page the same conversation is out of sight: a toast.
    ana.click("nav-analytics").await;
    bo.write("@Ana and the tracking number is in the email").await;
    ana.wait_for_text(&testid("alert"), "Bo").await;
}

/// An agent attaches a link button and suggested replies to a reply. Enter in one of the
/// panel's fields attaches, as its button does; it does not send the half-written reply.
#[tokio::test]
async fn agents_attach_a_link_and_suggested_replies_and_enter_in_the_panel_sends_nothing() {
    let relay = relay();
    let site = fresh_site();
    let (started, mut visitor) = visitor_says(relay, &site, "Where is the returns form?").await;
    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-waiting").await;
    ana.element("composer").await.send_keys("Here it is:").await.unwrap();
    ana.click("attach").await;
    ana.find("#attach-link").await.click().await.unwrap();
    ana.fill("attach-label", "Returns form").await;
    ana.element("attach-suggestions").await.send_keys("Thanks!, Another question").await.unwrap();
    ana.element("attach-url").await.send_keys("https://shop.example/returns\u{E007}").await.unwrap();
    ana.wait_for_text(".attached .chip", "Link: Returns form").await;
    ana.wait_for_text(".attached .chip", "Suggested replies: Thanks!, Another question").await;
    let focused = ana.js("return document.activeElement.dataset.testid", vec![]).await;
    assert_eq!(focused, serde_json::json!("attach"), "focus goes back to the Attach button");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, history) = e2e::chat::visitor_connection(&started, 0).await;
    assert_eq!(history.len(), 1, "nothing sent yet: {history:?}");

    ana.element("composer").await.send_keys("\u{E007}").await.unwrap();
    let sent = wait_for(&mut visitor, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(sent.body, "Here it is:");
    let url = protocol::SafeUrl::parse("https://shop.example/returns").unwrap();
    assert_eq!(sent.card, Some(protocol::Card::Link { label: "Returns form".into(), url }));
    assert_eq!(sent.suggestions, ["Thanks!", "Another question"]);
    ana.wait("the chips cleared", "!document.querySelector('.attached .chip')").await;
}

#[tokio::test]
async fn canned_responses_drafts_and_editing_a_sent_reply() {
    let relay = relay();
    let site = fresh_site();
    let canned = CannedResponses {
        responses: vec![
            CannedResponse { name: "Refund policy".into(), text: "Refunds take 5 working days.".into() },
            CannedResponse { name: "Hours".into(), text: "We answer 9–17, Monday to Friday.".into() },
        ],
    };
    relay.agent("Admin").await.put_canned(&site, &canned).await.unwrap();
    let (started, mut visitor) = visitor_says(relay, &site, "How long do refunds take?").await;

    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-waiting").await;
    ana.element("composer").await.send_keys("//refu").await.unwrap();
    ana.find(&format!("{} {}", testid("canned-menu"), testid("canned-option"))).await;
    ana.screenshot("console-canned").await;
    ana.element("composer").await.send_keys("\u{E007}").await.unwrap();
    let value = ana.js(&format!("return document.querySelector('{}').value", testid("composer")), vec![]).await;
    assert_eq!(value.as_str().unwrap().trim(), "Refunds take 5 working days.");
    ana.element("composer").await.send_keys("\u{E007}").await.unwrap();
    let sent = wait_for(&mut visitor, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(sent.body, "Refunds take 5 working days.");

    // An admin adds a response while Ana's console is open: she has it without a reload.
    let mut more = canned.clone();
    more.responses.push(CannedResponse { name: "Shipping".into(), text: "Parcels leave within a day.".into() });
    relay.agent("Admin").await.put_canned(&site, &more).await.unwrap();
    ana.element("composer").await.send_keys("//ship").await.unwrap();
    ana.wait_for_text(&format!("{} {}", testid("canned-menu"), testid("canned-option")), "Shipping").await;
    // Not taken: the agent selects what they typed and deletes it.
    ana.element("composer").await.send_keys("\u{E009}a\u{E000}\u{E003}").await.unwrap();
    ana.wait("the composer empty", &format!("document.querySelector('{}').value === ''", testid("composer"))).await;

    // Edit the sent reply: the visitor's copy changes.
    ana.find(&format!("{}[data-seq=\"{}\"] {}", testid("message"), sent.seq, testid("edit"))).await.click().await.unwrap();
    ana.fill("composer", "Refunds take 3 working days.").await;
    ana.element("composer").await.send_keys("\u{E007}").await.unwrap();
    let revised = wait_for(&mut visitor, |f| match f {
        ServerFrame::Revised { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!((revised.seq, revised.body.as_str(), revised.edited), (sent.seq, "Refunds take 3 working days.", true));
    // The console shows the change once the relay has made it.
    ana.wait_for_text(&testid("message-body"), "Refunds take 3 working days.").await;

    // A half-written reply survives a reload.
    ana.element("composer").await.send_keys("Anything else I can").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    ana.browser.client.refresh().await.unwrap();
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-mine").await;
    let draft = ana.wait("the draft", &format!("document.querySelector('{}').value", testid("composer"))).await;
    assert_eq!(draft.as_str().unwrap(), "Anything else I can");

    // A half-written private note comes back as a note, never as a reply.
    ana.click("mode-note").await;
    ana.fill("composer", "Check the refund date with finance").await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    ana.browser.client.refresh().await.unwrap();
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-mine").await;
    ana.wait("the note draft", &format!("document.querySelector('{}').value === 'Check the refund date with finance'", testid("composer"))).await;
    let mode = format!("return document.querySelector('{}').getAttribute('aria-pressed')", testid("mode-note"));
    assert_eq!(ana.js(&mode, vec![]).await, serde_json::json!("true"));
}

#[tokio::test]
async fn the_console_shows_replies_by_email_and_why_no_email_went_out() {
    let relay = relay();
    let site = fresh_site();
    let settings = WidgetSettings { email_delay_seconds: 1, ..WidgetSettings::default() };
    relay.agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    let (started, visitor) = visitor_says(relay, &site, "Call me back?").await;
    visitor.close().await;

    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-waiting").await;
    ana.write("We can't call, but we can write here.").await;
    ana.wait_for_text(&testid("email-status"), "not reachable by email").await;
    ana.screenshot("console-no-email").await;

    // A reply by email (through the provider's signed hook) lands live in the console.
    let address = protocol::token::reply_address::for_conversation(
        e2e::TOKEN_SECRET.as_bytes(),
        &started.conversation_id,
        "reply.demo.example",
    );
    let mail = protocol::http::InboundEmail {
        to: address,
        from: "kim@example.com".into(),
        text: "Writing is fine, thanks.\n\nOn Monday, Chat wrote:\n> We can't call".into(),
        message_id: Some("<m1@example.com>".into()),
    };
    let body = serde_json::to_vec(&mail).unwrap();
    let signature = protocol::token::sign_bytes(e2e::INBOUND_SECRET.as_bytes(), &body);
    let response = reqwest::Client::new()
        .post(format!("{}{}", relay.origin, protocol::http::INBOUND_EMAIL_PATH))
        .header(protocol::http::INBOUND_SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ana.wait_for_text(&message_with(&testid("message-body")), "Writing is fine, thanks.").await;
    let bodies = ana.texts(&testid("message-body")).await;
    assert!(!bodies.iter().any(|b| b.contains("On Monday")), "the quoted part is gone: {bodies:?}");
}

/// Admins keep the canned responses in Settings. The form shows the latest list, once it has
/// come: what the admin types cannot be undone by a late answer, nor saved over a list they
/// never saw.
#[tokio::test]
async fn admins_edit_canned_responses_on_the_latest_list() {
    let relay = relay();
    let site = fresh_site();
    let hours = CannedResponse { name: "Hours".into(), text: "We are open 9 to 5.".into() };
    let admin_api = relay.agent("Admin").await;
    admin_api.put_canned(&site, &CannedResponses { responses: vec![hours.clone()] }).await.unwrap();
    let admin = Console::sign_in(relay, "Admin").await;
    admin.use_site(&site).await;
    // From now on the relay's answers about canned responses arrive two seconds late.
    let late_canned = "const fetch = window.fetch; window.__lateAnswers = 0;
        window.fetch = (url, init) => !String(url).includes('/canned') ? fetch(url, init)
            : new Promise(wait => setTimeout(wait, 2000)).then(() => fetch(url, init)).then(answer => { window.__lateAnswers += 1; return answer; });";
    admin.js(late_canned, vec![]).await;
    admin.click("nav-settings").await;
    admin.element("settings-form").await;
    let editable = format!("return !!document.querySelector('{}')", testid("canned-add"));
    if admin.js("return window.__lateAnswers", vec![]).await == serde_json::json!(0) {
        assert_eq!(admin.js(&editable, vec![]).await, serde_json::json!(false), "not editable before the list came");
    }
    admin.click("canned-add").await;
    let row = |n: usize, field: &str| format!(".canned-rows > li:nth-of-type({n}) {}", testid(field));
    assert_eq!(admin.find(&row(1, "canned-name")).await.prop("value").await.unwrap().as_deref(), Some("Hours"));
    admin.find(&row(2, "canned-name")).await.send_keys("Refunds").await.unwrap();
    admin.find(&row(2, "canned-text")).await.send_keys("Refunds take five days.").await.unwrap();
    admin.click("canned-save").await;
    admin.element("canned-saved").await;
    let refunds = CannedResponse { name: "Refunds".into(), text: "Refunds take five days.".into() };
    assert_eq!(admin_api.canned(&site).await.unwrap().responses, vec![hours, refunds]);
}

#[tokio::test]
async fn admins_change_the_widget_and_make_agents_in_the_console() {
    let relay = relay();
    let site = fresh_site();
    let admin = Console::sign_in(relay, "Admin").await;
    admin.use_site(&site).await;
    admin.click("nav-settings").await;
    admin.element("settings-form").await;
    let greeting = admin.find("#settings-greeting").await;
    greeting.clear().await.unwrap();
    greeting.send_keys("Hello from the console!").await.unwrap();
    admin.find("#settings-reply-timeout").await.send_keys("15").await.unwrap();
    // A value the relay refuses in the inbox's half is caught before the widget's half is
    // saved: nothing is stored, and the form says why.
    let limit = admin.find("#settings-max-chats").await;
    limit.clear().await.unwrap();
    limit.send_keys("500").await.unwrap();
    admin.click("settings-save").await;
    admin.wait_for_text(".settings-form .form-error", "The chat limit per agent is 1 to 100").await;
    assert_eq!(relay.visitor().view(&site).await.unwrap().settings.greeting, protocol::site::WidgetSettings::default().greeting);
    limit.clear().await.unwrap();
    limit.send_keys("5").await.unwrap();
    admin.click("settings-save").await;
    admin.element("settings-saved").await;
    let view = relay.visitor().view(&site).await.unwrap();
    assert_eq!(view.settings.greeting, "Hello from the console!");
    let inbox = relay.agent("Admin").await.inbox_settings(&site).await.unwrap();
    assert_eq!(inbox.reply_timeout_minutes, Some(15));
    admin.screenshot("console-settings").await;

    admin.fill("agent-email", "new.agent@team.test").await;
    admin.fill("agent-name", "Noor").await;
    admin.fill("agent-password", "a long new password").await;
    admin.click("agent-create").await;
    admin.wait_for_text(&testid("agents-list"), "Noor").await;
    let noor_email = protocol::Email::parse("new.agent@team.test").unwrap();
    let noor = agent::Agent::login(&relay.origin, &noor_email, "a long new password").await;
    assert_eq!(noor.unwrap().account.name.as_str(), "Noor");

    // Renamed and made an admin, then removed.
    let manage_noor = "[...document.querySelectorAll('[data-testid=account-manage]')].find(b => b.textContent.includes('Noor')).click()";
    admin.js(manage_noor, vec![]).await;
    admin.fill("account-name", "Noor Haddad").await;
    admin.find(&testid("account-role")).await.select_by_value("admin").await.unwrap();
    admin.screenshot("console-account").await;
    admin.click("account-save").await;
    admin.wait_for_text(&testid("accounts-notice"), "Noor Haddad saved.").await;
    let team = relay.agent("Admin").await.accounts().await.unwrap();
    let noor = team.accounts.iter().find(|a| a.email == noor_email).unwrap();
    assert_eq!((noor.name.as_str(), noor.role), ("Noor Haddad", protocol::AccountRole::Admin));
    admin.js(manage_noor, vec![]).await;
    admin.click("account-remove").await;
    admin.click("account-remove-confirm").await;
    admin.wait_for_text(&testid("accounts-notice"), "Noor Haddad removed").await;
    assert!(!admin.texts(&testid("agents-list")).await.concat().contains("Noor"));
    assert!(agent::Agent::login(&relay.origin, &noor_email, "a long new password").await.is_err());

    // A conversation answered and ended today shows in the numbers.
    let (started, mut visitor) = visitor_says(relay, &site, "hi").await;
    let mut chat = relay.agent("Admin").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    chat.post(&id("a1"), "hello!").await.unwrap();
    chat.send_frame(&ClientFrame::End).await.unwrap();
    wait_for(&mut visitor, |f| matches!(f, ServerFrame::Status { .. }).then_some(())).await;

    admin.click("nav-analytics").await;
    let today = relay_today();
    admin.wait_for_text(&testid("analytics-days"), &today).await;
    let summary = admin.texts(&testid("analytics-frt")).await.join(" ");
    assert!(!summary.contains("No answers yet"), "{summary}");
    admin.screenshot("console-analytics").await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_signing_out_returns_to_the_sign_in() {
    let relay = relay();
    let console = Console::open(relay).await;
    console.fill("login-email", e2e::ADMIN_EMAIL).await;
    console.fill("login-password", "not the password").await;
    console.click("login-submit").await;
    console.wait_for_text(&testid("login-error"), "wrong").await;
    console.screenshot("console-sign-in").await;

    // Lou leaves a half-written reply on a shared computer and signs out: it goes with them,
    // so the next person here cannot send it under their own name.
    let site = fresh_site();
    let (started, _visitor) = visitor_says(relay, &site, "Is anyone there?").await;
    let lou = Console::sign_in(relay, "Lou2").await;
    lou.use_site(&site).await;
    lou.open_conversation(&started.conversation_id, "tab-waiting").await;
    lou.element("composer").await.send_keys("Lou's half-written answer").await.unwrap();
    let stored = "return Object.keys(localStorage).filter(k => k.startsWith('console-draft') || k.startsWith('console-outbox')).length";
    lou.wait("the draft stored", &stored.replace("return ", "")).await;
    lou.click("logout").await;
    lou.element("login-email").await;
    let me = lou.js("return fetch('/api/agent/me').then(r => r.status)", vec![]).await;
    assert_eq!(me.as_u64(), Some(401));
    assert_eq!(lou.js(stored, vec![]).await, serde_json::json!(0), "nothing of Lou's is left here");
}

#[tokio::test]
async fn nothing_an_outsider_writes_runs_or_injects_an_element_in_the_console() {
    let relay = relay();
    let site = fresh_site();
    let corpus = std::fs::read_to_string(e2e::repo_root().join("tests/data/xss.txt")).unwrap();
    let payloads: Vec<String> = corpus.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(str::to_owned).collect();
    let short = |p: &str, n: usize| p.chars().take(n).collect::<String>().trim().to_owned();

    // Visitor messages and names, agent names, notes and cards, all carrying payloads.
    let contact = protocol::Contact { email: None, name: Some(short(&payloads[0], 80)) };
    let started = relay.visitor().start_with(&site, contact).await.unwrap();
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    for (n, payload) in payloads.iter().enumerate() {
        visitor.post(&id(&format!("v{n}")), payload).await.unwrap();
    }
    let evil = relay.agent(&short(&payloads[1], 64)).await;
    let mut chat = evil.join(&started.conversation_id, u64::MAX).await.unwrap();
    for (n, payload) in payloads.iter().enumerate().take(20) {
        let note = ClientFrame::Note { client_id: id(&format!("n{n}")), body: payload.clone() };
        chat.post_frame(&id(&format!("n{n}")), &note).await.unwrap();
        let card = protocol::Card::Article {
            title: short(payload, 100),
            summary: payload.clone(),
            url: protocol::SafeUrl::parse("https://help.example.com/a").unwrap(),
        };
        let send = ClientFrame::Send { client_id: id(&format!("a{n}")), body: payload.clone(), card: Some(card), suggestions: vec![] };
        chat.post_frame(&id(&format!("a{n}")), &send).await.unwrap();
    }

    let ana = Console::sign_in(relay, "Ana").await;
    ana.js("window.__xss = 0; window.alert = window.confirm = window.prompt = () => { window.__xss++; };", vec![]).await;
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-others").await;
    ana.wait_for_text(&testid("message-body"), &payloads[payloads.len() - 1]).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let report = ana
        .js(
            "return { ran: window.__xss, injected: document.querySelectorAll('main script, main img, main svg:not([aria-hidden]), main iframe, main object, main embed, main [onerror], main [onload], main [onclick], main a[href^=\"javascript\"]').length };",
            vec![],
        )
        .await;
    assert_eq!(report["ran"], 0, "a payload ran");
    assert_eq!(report["injected"], 0, "a payload became markup");
    let bodies = ana.texts(&testid("message-body")).await;
    for payload in &payloads {
        assert!(bodies.iter().any(|b| b.contains(payload.trim())), "not shown as text: {payload}");
    }
    ana.screenshot("console-xss").await;
}

#[tokio::test]
async fn an_online_agent_writes_first_and_the_contact_finds_it_by_email() {
    let relay = relay();
    let site = fresh_site();
    // A visitor who left their email chatted earlier; the chat ended and they left.
    let (visitor, _page, conversation) = visitor_writes(&site, "Tell me when the blue one is back").await;
    let mut chat = relay.agent("Ana").await.join(&conversation, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    visitor.js("ChatWidget('identify', { email: 'mia@example.com' })", vec![]).await;
    wait_for(&mut chat, |f| match f {
        ServerFrame::Contact { contact } if contact.email.is_some() => Some(()),
        _ => None,
    })
    .await;
    chat.post(&id("a1"), "Will do!").await.unwrap();
    chat.send_frame(&ClientFrame::End).await.unwrap();
    visitor.wait_for("ended", "[...root.querySelectorAll('.cw-notice')].some(n => n.textContent.includes('ended'))").await;
    visitor.client.goto("about:blank").await.unwrap();

    // Offline agents cannot start one; online, Ana writes to the contact from the console.
    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    let disabled = ana.js(&format!("return document.querySelector('{}').disabled", testid("outbound-open")), vec![]).await;
    assert_eq!(disabled, serde_json::json!(true), "offline: no outbound");
    ana.go_online().await;
    ana.click("outbound-open").await;
    ana.fill("outbound-email", "mia@example.com").await;
    ana.fill("outbound-body", "The blue one is back in stock!").await;
    // Sent twice in a row (a double click, Enter and a click): it goes out once.
    ana.js("const form = document.getElementById('outbound-form'); form.requestSubmit(); form.requestSubmit();", vec![]).await;

    // The address was only given in the chat, and anyone can give anyone's: the message
    // starts a conversation of its own, which only the email to that address reaches.
    let mia = protocol::Email::parse("mia@example.com").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let started = loop {
        let theirs = relay.agent("Ana").await.contact_conversations(&site, &mia).await.unwrap().conversations;
        if let Some(new) = theirs.iter().find(|e| e.conversation_id != conversation) {
            assert_eq!(theirs.len(), 2, "sent twice, started once: {theirs:?}");
            break new.conversation_id.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no conversation started");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let emails = relay.wait_for_emails(&started, 1).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, "mia@example.com");
    assert!(emails[0].text.contains("The blue one is back in stock!") && !emails[0].text.contains("Tell me when"));
    assert!(!relay.emails_about(&conversation).iter().any(|e| e.text.contains("The blue one")), "nothing to the chat where it was typed");
    ana.screenshot("console-outbound").await;

    // The email's link opens it in the widget.
    let link = emails[0].text.lines().find_map(|l| l.strip_prefix("Or open it here: ")).unwrap().to_owned();
    visitor.client.goto(&link).await.unwrap();
    visitor.wait_for_texts(".cw-theirs .cw-body", &["The blue one is back in stock!"]).await;
}

#[tokio::test]
async fn every_console_screen_meets_wcag_aa() {
    let relay = relay();
    let site = fresh_site();
    let (started, _visitor) = visitor_says(relay, &site, "Is this in stock?").await;
    let mut chat = relay.agent("Bo").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut chat, 0).await;
    let card = protocol::Card::Article {
        title: "Stock".into(),
        summary: "How we restock.".into(),
        url: protocol::SafeUrl::parse("https://help.example.com/stock").unwrap(),
    };
    let send = ClientFrame::Send { client_id: id("a1"), body: "See this:".into(), card: Some(card), suggestions: vec!["Thanks".into()] };
    chat.post_frame(&id("a1"), &send).await.unwrap();
    chat.post_frame(&id("n1"), &ClientFrame::Note { client_id: id("n1"), body: "@Admin FYI".into() }).await.unwrap();

    let console = Console::open(relay).await;
    let sign_in = console.axe().await;
    assert!(sign_in.is_empty(), "sign-in: {sign_in:#?}");
    console.close().await;

    let admin = Console::sign_in(relay, "Admin").await;
    admin.use_site(&site).await;
    admin.open_conversation(&started.conversation_id, "tab-others").await;
    admin.wait("the note", &format!("document.querySelector('{}[data-note=\"true\"]')", testid("message"))).await;
    let inbox = admin.axe().await;
    assert!(inbox.is_empty(), "inbox: {inbox:#?}");
    admin.click("nav-settings").await;
    admin.element("settings-form").await;
    // With the forms that open on demand open: a webhook's body fields, an account's panel.
    admin.find(&format!("{}:not([disabled])", testid("webhook-add"))).await;
    admin.click("webhook-add").await;
    admin.click("webhook-field-add").await;
    admin.click("bot-on").await;
    admin.element("bot-url").await;
    admin.click("account-manage").await;
    admin.element("account-save").await;
    let settings = admin.axe().await;
    assert!(settings.is_empty(), "settings: {settings:#?}");
    admin.click("nav-analytics").await;
    admin.element("analytics-days").await;
    let analytics = admin.axe().await;
    assert!(analytics.is_empty(), "analytics: {analytics:#?}");
}

#[tokio::test]
async fn admins_set_up_a_webhook_and_read_its_deliveries_in_the_console() {
    let relay = relay();
    let site = fresh_site();
    let endpoint = e2e::endpoint::Endpoint::start("/hook", 0, "200 OK").await;
    let admin = Console::sign_in(relay, "Admin").await;
    admin.use_site(&site).await;
    admin.click("nav-settings").await;
    admin.find(&format!("{}:not([disabled])", testid("webhook-add"))).await;
    admin.click("webhook-add").await;
    admin.fill("webhook-url", &endpoint.url).await;
    admin.click("automations-save").await;
    admin.element("automations-saved").await;

    relay.visitor().start(&site).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while endpoint.received().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event: protocol::automations::WebhookEvent = serde_json::from_slice(&endpoint.received()[0].body).unwrap();
    assert_eq!(event.event, protocol::automations::EventKind::ConversationCreated);

    // The endpoint wants two fields under its own names: the event as is, the email as "mail".
    admin.click("webhook-field-add").await;
    admin.click("webhook-field-add").await;
    let second = "li.field-map:nth-child(2)";
    admin.find(&format!("{second} [data-testid=webhook-field]")).await.select_by_label("Visitor email").await.unwrap();
    let key = admin.find(&format!("{second} [data-testid=webhook-key]")).await;
    key.clear().await.unwrap();
    key.send_keys("mail").await.unwrap();
    admin.click("automations-save").await;
    admin.element("automations-saved").await;
    let stored = relay.agent("Admin").await.automations(&site).await.unwrap();
    let fields: Vec<_> = stored.webhooks[0].fields.iter().map(|m| (m.field, m.key.as_str())).collect();
    use protocol::automations::WebhookField;
    assert_eq!(fields, [(WebhookField::Event, "event"), (WebhookField::VisitorEmail, "mail")]);
    let contact = protocol::Contact { email: Some(protocol::Email::parse("noa@example.com").unwrap()), name: None };
    relay.visitor().start_with(&site, contact).await.unwrap();
    while endpoint.received().len() < 2 && std::time::Instant::now() < deadline + std::time::Duration::from_secs(15) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let body: serde_json::Value = serde_json::from_slice(&endpoint.received()[1].body).unwrap();
    assert_eq!(body, serde_json::json!({"event": "conversation_created", "mail": "noa@example.com"}));

    // A bot takes new conversations first; its key is shown to the admin.
    admin.click("bot-on").await;
    admin.fill("bot-url", "https://bot.example/hook").await;
    admin.fill("bot-name", "Sunny").await;
    admin.click("automations-save").await;
    admin.element("automations-saved").await;
    let stored = relay.agent("Admin").await.automations(&site).await.unwrap();
    let bot = stored.bot.expect("a bot");
    assert_eq!((bot.url.as_str(), bot.name.as_str()), ("https://bot.example/hook", "Sunny"));
    admin.js("[...document.querySelectorAll('button')].find(b => b.textContent === 'Show the bot key').click()", vec![]).await;
    let shown = admin.element("bot-key").await.text().await.unwrap();
    assert_eq!(shown.len(), 64, "a hex key: {shown}");

    admin.browser.client.refresh().await.unwrap();
    admin.use_site(&site).await;
    admin.click("nav-settings").await;
    admin.wait_for_text(&testid("deliveries"), "Delivered").await;
    admin.find("#automations-title").await;
    admin.js("document.getElementById('automations-title').scrollIntoView()", vec![]).await;
    admin.screenshot("console-automations").await;
    admin.js("document.querySelector('.bot-settings').scrollIntoView()", vec![]).await;
    admin.screenshot("console-bot").await;
}

#[tokio::test]
async fn an_agent_erases_a_visitors_data_from_the_console() {
    let relay = relay();
    let site = fresh_site();
    let contact = protocol::Contact { email: Some(protocol::Email::parse("ola@example.com").unwrap()), name: Some("Ola".into()) };
    let started = relay.visitor().start_with(&site, contact).await.unwrap();
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    visitor.post(&id("v1"), "Please delete everything about me").await.unwrap();

    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    // A colleague has the site open too.
    let bo = Console::sign_in(relay, "Bo").await;
    bo.use_site(&site).await;
    let row = format!("{}[data-conversation-id=\"{}\"]", testid("conversation-row"), started.conversation_id);
    bo.find(&row).await;
    ana.open_conversation(&started.conversation_id, "tab-waiting").await;
    ana.wait_for_text(&testid("message-body"), "Please delete everything about me").await;
    // The agent confirms the browser's question.
    ana.js("window.confirm = () => true;", vec![]).await;
    ana.click("delete-data").await;
    wait_for(&mut visitor, |f| (f == ServerFrame::Status { status: protocol::Status::Deleted }).then_some(())).await;
    // Nothing of it stays on either screen: not the messages, not the row in the lists.
    ana.wait("the thread emptied", &format!("document.querySelectorAll('{}').length === 0", testid("message-body"))).await;
    bo.wait("the row gone", &format!("!document.querySelector('{row}')")).await;
    let inbox = relay.agent("Ana").await.conversations(&site).await.unwrap();
    assert!(inbox.conversations.iter().all(|e| e.conversation_id != started.conversation_id), "gone from the inbox");
    let theirs = relay.agent("Ana").await.contact_conversations(&site, &protocol::Email::parse("ola@example.com").unwrap()).await.unwrap();
    assert!(theirs.conversations.is_empty(), "and from the contact's history");
}

#[tokio::test]
async fn an_agent_takes_a_conversation_over_from_the_sites_bot() {
    let relay = relay();
    let site = fresh_site();
    let bot = protocol::automations::Bot {
        url: protocol::SafeUrl::parse("https://bot.example/hook").unwrap(),
        name: protocol::AgentName::parse("Sunny").unwrap(),
    };
    let automations = protocol::automations::Automations { webhooks: vec![], bot: Some(bot) };
    relay.agent("Admin").await.put_automations(&site, &automations).await.unwrap();
    let (started, mut visitor) = visitor_says(relay, &site, "Can a person help me?").await;

    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    ana.open_conversation(&started.conversation_id, "tab-others").await;
    // Connected once the history is in.
    ana.wait_for_text(&testid("message-body"), "Can a person help me?").await;
    ana.wait_for_text(&testid("conversation-row"), "With the bot").await;
    ana.wait_for_text(&testid("accept"), "Take over from the bot").await;
    ana.click("accept").await;
    ana.wait_for_text(&testid("assignee"), "Ana").await;
    ana.write("Hi, I am Ana. How can I help?").await;
    let reply = wait_for(&mut visitor, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(reply.body, "Hi, I am Ana. How can I help?");
}

/// Two visitors waiting on a new site, and Ana in the first one's chat, on a network the test
/// can cut (every socket her console opens from now on, and none while cut).
async fn ana_in_the_first_of_two_chats(
    relay: &e2e::Relay,
) -> (Console, (ConversationStarted, agent::Connection), (ConversationStarted, agent::Connection)) {
    let site = fresh_site();
    let first = visitor_says(relay, &site, "Are you there?").await;
    let second = visitor_says(relay, &site, "Another question").await;
    let ana = Console::sign_in(relay, "Ana").await;
    ana.js(e2e::browser::SOCKETS_THE_TEST_CAN_CUT, vec![]).await;
    ana.use_site(&site).await;
    ana.open_conversation(&first.0.conversation_id, "tab-waiting").await;
    ana.wait_for_text(&testid("message-body"), "Are you there?").await;
    (ana, first, second)
}

#[tokio::test]
async fn a_reply_on_its_way_when_the_agent_switches_chats_goes_out_once_when_they_return() {
    let relay = relay();
    let (ana, (started, mut visitor), (other, _other_visitor)) = ana_in_the_first_of_two_chats(relay).await;

    // The connection drops (a train tunnel) as Ana replies, and she looks at another chat.
    ana.js("window.__cut(); return true;", vec![]).await;
    ana.wait("the conversation disconnected", "[...document.querySelectorAll('.muted')].some(e => e.textContent === 'Connecting…')").await;
    ana.write("Yes, one moment please").await;
    ana.wait("the reply waiting", "[...document.querySelectorAll('.delivery')].some(e => e.textContent === 'Sending…')").await;
    ana.open_conversation_offline(&other.conversation_id, "tab-waiting").await;
    ana.wait("the other chat shown", "![...document.querySelectorAll('.delivery')].some(e => e.textContent === 'Sending…')").await;

    // Back online and back in the first chat: the reply goes out, once.
    ana.js("window.__offline = false; return true;", vec![]).await;
    ana.open_conversation(&started.conversation_id, "tab-waiting").await;
    let reply = wait_for(&mut visitor, |f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(reply.body, "Yes, one moment please");
    ana.wait("the reply sent", "![...document.querySelectorAll('.delivery')].some(e => e.textContent === 'Sending…')").await;
    let (_, history) = catch_up(&mut relay.agent("Bo").await.join(&started.conversation_id, 0).await.unwrap(), 0).await;
    assert_eq!(history.iter().filter(|m| m.body == "Yes, one moment please").count(), 1);
}

/// A reply written while the connection was down goes out when it is back, and is refused
/// there: a colleague took the chat meanwhile. What Ana wrote stays, refused and with why,
/// through a look at another chat, for her to copy into a note or send again.
#[tokio::test]
async fn a_reply_refused_while_the_agent_was_away_keeps_its_text_through_a_switch() {
    let relay = relay();
    let (ana, (started, _visitor), (other, _other_visitor)) = ana_in_the_first_of_two_chats(relay).await;

    ana.js("window.__cut(); return true;", vec![]).await;
    ana.write("Yes, one moment please").await;
    ana.wait("the reply waiting", "[...document.querySelectorAll('.delivery')].some(e => e.textContent === 'Sending…')").await;
    let mut bo = relay.agent("Bo").await.join(&started.conversation_id, 0).await.unwrap();
    catch_up(&mut bo, 0).await;
    bo.send_frame(&ClientFrame::Accept).await.unwrap();
    wait_for(&mut bo, |f| matches!(f, ServerFrame::Assigned { .. }).then_some(())).await;

    // Back online: the browser says so, and the console reconnects at once.
    ana.js("window.__restore(); return true;", vec![]).await;
    let refused = "[...document.querySelectorAll('.delivery-failed')].some(e => e.textContent.includes('Bo is responsible'))";
    ana.wait("the reply refused", refused).await;
    ana.open_conversation(&other.conversation_id, "tab-waiting").await;
    ana.wait("the other chat shown", &format!("!({refused})")).await;
    ana.open_conversation(&started.conversation_id, "tab-others").await;
    ana.wait("the refused reply kept", refused).await;
    ana.wait_for_text(&testid("message-body"), "Yes, one moment please").await;
    let (_, history) = catch_up(&mut relay.agent("Cy").await.join(&started.conversation_id, 0).await.unwrap(), 0).await;
    assert!(history.iter().all(|m| m.body != "Yes, one moment please"), "refused, so not stored");
    // Connections that failed while cut were let go cleanly (the page's CSP refusing the
    // test's dead address is the only thing logged).
    let errors = ana.browser.console_errors().await;
    assert!(errors.iter().all(|e| e.contains("Content Security Policy")), "{errors:?}");
}

/// The Closed tab lists the newest closed conversations (two, on this relay); the older ones
/// come a page at a time, and the keyboard goes on from the oldest when the last page is in.
#[tokio::test]
async fn the_closed_tab_shows_older_conversations_a_page_at_a_time() {
    static RELAY: std::sync::OnceLock<e2e::Relay> = std::sync::OnceLock::new();
    let relay = RELAY.get_or_init(|| e2e::Relay::start_with("console-paging", &[("INBOX_CLOSED_LISTED", "2")]));
    let site = fresh_site();
    let bo = relay.agent("Bo").await;
    let mut ended = Vec::new();
    for n in 0..3 {
        let (started, _visitor) = visitor_says(relay, &site, &format!("question {n}")).await;
        let mut chat = bo.join(&started.conversation_id, 0).await.unwrap();
        catch_up(&mut chat, 0).await;
        chat.send_frame(&ClientFrame::End).await.unwrap();
        wait_for(&mut chat, |f| matches!(f, ServerFrame::Status { .. }).then_some(())).await;
        ended.push(started.conversation_id);
    }
    let row = |id: &ConversationId| format!("{}[data-conversation-id=\"{id}\"]", testid("conversation-row"));
    let ana = Console::sign_in(relay, "Ana").await;
    ana.use_site(&site).await;
    ana.click("tab-closed").await;
    ana.find(&row(&ended[2])).await;
    ana.find(&row(&ended[1])).await;
    assert_eq!(ana.texts(&testid("conversation-row")).await.len(), 2, "a page of two");

    ana.element("closed-more").await.send_keys("\u{E007}").await.unwrap();
    ana.find(&row(&ended[0])).await;
    ana.wait("the button gone", &format!("!document.querySelector('{}')", testid("closed-more"))).await;
    let focused = ana.wait("focus on the oldest", "document.activeElement.dataset.conversationId").await;
    assert_eq!(focused, ended[0].to_string());
    assert_eq!(ana.texts(&testid("conversation-row")).await.len(), 3);
}

/// A delivery its endpoint never took shows as failed in the log once its retries are over
/// (three days; two seconds here), and the admin sends it again from there.
#[tokio::test]
async fn admins_send_a_failed_delivery_again_from_the_log() {
    static RELAY: std::sync::OnceLock<e2e::Relay> = std::sync::OnceLock::new();
    let relay = RELAY.get_or_init(|| {
        e2e::Relay::start_with("console-give-up", &[("WEBHOOK_RETRY_BASE_MS", "200"), ("WEBHOOK_RETRY_FOR_SECONDS", "2")])
    });
    let site = fresh_site();
    let down = e2e::endpoint::Endpoint::start("/down", usize::MAX, "200 OK").await;
    let hook = protocol::automations::Webhook {
        url: protocol::SafeUrl::parse(&down.url).unwrap(),
        events: vec![protocol::automations::EventKind::ConversationCreated],
        fields: vec![],
    };
    let automations = protocol::automations::Automations { webhooks: vec![hook], bot: None };
    relay.agent("Admin").await.put_automations(&site, &automations).await.unwrap();
    relay.visitor().start(&site).await.unwrap();

    let admin = Console::sign_in(relay, "Admin").await;
    admin.use_site(&site).await;
    admin.click("nav-settings").await;
    // The log is read when the page opens; Refresh reads it again until the retries are over.
    let failed = format!("document.querySelector('{}')", testid("delivery-send-again"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while admin.js(&format!("return !!{failed}"), vec![]).await != serde_json::json!(true) && std::time::Instant::now() < deadline {
        admin.js("[...document.querySelectorAll('button')].find(b => b.textContent === 'Refresh').click()", vec![]).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    admin.wait_for_text(&testid("deliveries"), "Failed").await;
    let tried = down.tries().len();
    admin.click("delivery-send-again").await;
    admin.wait_for_text(&testid("deliveries"), "Retrying").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while down.tries().len() == tried && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(down.tries().len() > tried, "called again");
}
