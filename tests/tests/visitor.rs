//! Everything a visitor touches, in a real headless Chromium on a page embedding the widget,
//! against the real relay. Sites other than the demo are served by a fake customer page on
//! its own origin with a strict Content-Security-Policy ([`e2e::host`]).

use e2e::browser::Browser;
use e2e::chat::{catch_up, next_message};
use e2e::host::{visitor_writes, HostPage};
use e2e::network::Network;
use e2e::{fresh_site, relay};
use protocol::site::{EmailCapture, Fallback, QuickAction, QuickReply, Theme, WidgetSettings};
use protocol::{Author, Card, ClientFrame, ClientMsgId, Role, SafeUrl, ServerFrame, SiteId};
use serde_json::Value;

fn id(s: &str) -> ClientMsgId {
    ClientMsgId::parse(s).unwrap()
}

async fn configure(site: &SiteId, settings: WidgetSettings) {
    relay().agent("Admin").await.put_settings(site, &settings).await.expect("settings stored");
}

/// A browser on a customer's page for `site`.
async fn visit(site: &SiteId, attributes: &str, script: &str) -> (Browser, HostPage) {
    let page = HostPage::serve_with_script(&relay().origin, site.as_str(), attributes, script).await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    (browser, page)
}

async fn demo() -> Browser {
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}/", relay().origin)).await.unwrap();
    browser
}

#[tokio::test]
async fn messages_written_while_the_network_is_down_arrive_exactly_once() {
    // The widget reaches the relay through a network the test can cut.
    let site = fresh_site();
    let network = Network::start(&relay().origin).await;
    // The loader is fetched through it too, so the widget's relay is the network's origin.
    let (browser, _page, conversation) = visitor_writes(&network.origin, &site, "first").await;

    network.cut();
    browser.wait_for_texts(".cw-link-state", &["Reconnecting…"]).await;
    for text in ["second", "third", "fourth"] {
        browser.write(text).await;
    }
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sending…", "Sending…", "Sending…"]).await;
    let outbox = browser.local_storage(&format!("chat-widget:{site}:outbox")).await.expect("unsent messages are kept");
    assert_eq!(serde_json::from_str::<Vec<Value>>(&outbox).unwrap().len(), 3);
    browser.screenshot("visitor-offline-outbox").await;

    network.restore();
    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-mine .cw-body", &["first", "second", "third", "fourth"]).await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent", "Sent", "Sent"]).await;

    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    let (_, history) = catch_up(&mut agent, 0).await;
    let bodies: Vec<_> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["first", "second", "third", "fourth"], "each exactly once, in order");
    assert!(browser.local_storage(&format!("chat-widget:{site}:outbox")).await.is_none(), "the outbox is empty again");
}

#[tokio::test]
async fn a_lost_connection_comes_back_by_itself_and_catches_up() {
    let site = fresh_site();
    let network = Network::start(&relay().origin).await;
    let (browser, _page, conversation) = visitor_writes(&network.origin, &site, "hello").await;
    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    browser.js("ChatWidget('on', 'message', m => (window.heard = window.heard || []).push(m.body)); return true;", vec![]).await;

    network.cut();
    browser.wait_for_texts(".cw-link-state", &["Reconnecting…"]).await;
    agent.post(&id("missed"), "You missed this while offline").await.unwrap();
    browser.write("written offline").await;
    network.restore();
    // No reload: the widget reconnects on its own, fetches what it missed, sends what waited.
    browser.wait_for_texts(".cw-theirs .cw-body", &["You missed this while offline"]).await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent"]).await;
    assert_eq!(next_message(&mut agent).await.body, "written offline");
    // What was missed is news: screen readers hear it and the page gets its event.
    browser.wait_for_texts(".cw-sr", &["Ana: You missed this while offline"]).await;
    assert_eq!(browser.js("return window.heard;", vec![]).await, serde_json::json!(["You missed this while offline"]));
}

#[tokio::test]
async fn messages_written_while_away_from_a_chat_that_ended_start_the_next_one() {
    let site = fresh_site();
    let network = Network::start(&relay().origin).await;
    let (browser, _page, first) = visitor_writes(&network.origin, &site, "first").await;
    let mut agent = relay().agent("Ana").await.join(&first, 0).await.unwrap();
    catch_up(&mut agent, 0).await;

    network.cut();
    browser.wait_for_texts(".cw-link-state", &["Reconnecting…"]).await;
    agent.post(&id("bye"), "Glad I could help, bye!").await.unwrap();
    agent.send_frame(&ClientFrame::End).await.unwrap();
    browser.write("wait, one more thing").await;
    network.restore();

    // Back online, the widget finds the chat ended: the message starts the next conversation,
    // and the ended one stays readable with the goodbye the visitor missed.
    let now = ".cw-messages:not(.cw-earlier .cw-messages)";
    browser.wait_for_texts(&format!("{now} .cw-mine .cw-state"), &["Sent"]).await;
    browser.wait_for_texts(&format!("{now} .cw-mine .cw-body"), &["wait, one more thing"]).await;
    browser.wait_for_texts(".cw-earlier .cw-body", &["first", "Glad I could help, bye!"]).await;
    let second = browser.conversation(site.as_str()).await;
    assert_ne!(second, first);
    let bodies = |messages: Vec<protocol::Message>| messages.into_iter().map(|m| m.body).collect::<Vec<_>>();
    let (_, ended) = catch_up(&mut relay().agent("Ana").await.join(&first, 0).await.unwrap(), 0).await;
    assert_eq!(bodies(ended), ["first", "Glad I could help, bye!"]);
    let (_, next) = catch_up(&mut relay().agent("Ana").await.join(&second, 0).await.unwrap(), 0).await;
    assert_eq!(bodies(next), ["wait, one more thing"], "exactly once, in the new conversation");
    assert!(browser.local_storage(&format!("chat-widget:{site}:outbox")).await.is_none());
}

#[tokio::test]
async fn a_first_message_that_could_not_start_the_chat_goes_out_after_a_reload() {
    let site = fresh_site();
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.set_offline(true).await;
    browser.write("written on a dead network").await;
    browser.wait_for("the message marked not sent", "root && !!root.querySelector('.cw-failed')").await;

    browser.set_offline(false).await;
    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    let (_, history) = catch_up(&mut relay().agent("Ana").await.join(&conversation, 0).await.unwrap(), 0).await;
    assert_eq!(history.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["written on a dead network"]);
}

#[tokio::test]
async fn a_first_message_that_could_not_start_the_chat_goes_out_when_the_network_is_back() {
    let site = fresh_site();
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.set_offline(true).await;
    browser.write("written in a tunnel").await;
    browser.wait_for("the message marked not sent", "root && !!root.querySelector('.cw-failed')").await;

    // Out of the tunnel, no reload and no Retry: the browser says it is online again.
    browser.set_offline(false).await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    let (_, history) = catch_up(&mut relay().agent("Ana").await.join(&conversation, 0).await.unwrap(), 0).await;
    assert_eq!(history.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["written in a tunnel"]);
}

#[tokio::test]
async fn two_tabs_show_the_same_conversation_live() {
    let browser = demo().await;
    let first_tab = browser.client.window().await.unwrap();
    browser.open_widget().await;
    let second_tab = browser.client.new_window(true).await.unwrap().handle;
    browser.client.switch_to_window(second_tab.clone()).await.unwrap();
    browser.client.goto(&format!("{}/", relay().origin)).await.unwrap();
    browser.open_widget().await;

    browser.client.switch_to_window(first_tab.clone()).await.unwrap();
    browser.write("from the first tab").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    browser.client.switch_to_window(second_tab).await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-body", &["from the first tab"]).await;
    browser.write("from the second tab").await;
    browser.wait_for_texts(".cw-mine .cw-body", &["from the first tab", "from the second tab"]).await;

    browser.client.switch_to_window(first_tab).await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-body", &["from the first tab", "from the second tab"]).await;
}

#[tokio::test]
async fn a_message_waiting_in_one_tab_is_not_lost_when_another_tab_saves_the_outbox() {
    // Each tab's page can cut its own sockets (a tab frozen by the browser, say).
    let site = fresh_site();
    let (browser, page) = visit(&site, "", e2e::browser::SOCKETS_THE_TEST_CAN_CUT).await;
    let first_tab = browser.client.window().await.unwrap();
    browser.open_widget().await;
    browser.write("first").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    let second_tab = browser.client.new_window(true).await.unwrap().handle;
    browser.client.switch_to_window(second_tab.clone()).await.unwrap();
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-mine .cw-body", &["first"]).await;

    // The first tab loses its connection and holds a message; the second, still connected,
    // hears an agent and saves the outbox.
    browser.client.switch_to_window(first_tab).await.unwrap();
    browser.js("window.__cut(); return true;", vec![]).await;
    browser.wait_for_texts(".cw-link-state", &["Reconnecting…"]).await;
    browser.write("written in the first tab").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sending…"]).await;
    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    catch_up(&mut agent, 0).await;
    agent.post(&id("a1"), "Hello from Ana").await.unwrap();
    browser.client.switch_to_window(second_tab).await.unwrap();
    browser.wait_for_texts(".cw-theirs .cw-body", &["Hello from Ana"]).await;

    // The second tab reloads: the first tab's message is still in the outbox, and goes out.
    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    assert_eq!(next_message(&mut agent).await.body, "written in the first tab");
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent"]).await;
}

#[tokio::test]
async fn a_connection_that_died_unnoticed_is_made_again_when_the_network_or_the_page_comes_back() {
    let site = fresh_site();
    let (browser, _page) = visit(&site, "", e2e::browser::SOCKETS_THE_TEST_CAN_CUT).await;
    browser.open_widget().await;
    browser.write("first").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    catch_up(&mut agent, 0).await;

    // The phone changed networks: its socket still looks open, but nothing gets through, and
    // the keepalive would take a minute to notice. The browser says it is online again: the
    // widget asks, hears nothing, connects again at once, and the message goes out.
    browser.js("window.__freeze(); return true;", vec![]).await;
    browser.write("written on a dead link").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sending…"]).await;
    browser.js("window.dispatchEvent(new Event('online')); return true;", vec![]).await;
    assert_eq!(next_message(&mut agent).await.body, "written on a dead link");
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent"]).await;

    // The same when the page is shown again (a phone waking, its tab brought back).
    browser.js("window.__freeze(); return true;", vec![]).await;
    browser.write("written while asleep").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent", "Sending…"]).await;
    browser.js("document.dispatchEvent(new Event('visibilitychange', { bubbles: true })); return true;", vec![]).await;
    assert_eq!(next_message(&mut agent).await.body, "written while asleep");
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent", "Sent"]).await;
}

#[tokio::test]
async fn nobody_online_with_async_on_the_visitor_writes_and_leaves_an_email() {
    let site = fresh_site();
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-notice > p:first-child", &["We are away right now. Leave a message and we will answer by email."]).await;
    browser.write("Do you ship to Norway?").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    // Asked for an email after the first message; a bad one is refused in words.
    let email = browser.widget(".cw-email-input").await;
    email.send_keys("not-an-email").await.unwrap();
    browser.widget(".cw-email-form button[type=submit]").await.click().await.unwrap();
    browser.wait_for_texts(".cw-error", &["Please enter a valid email address."]).await;
    email.clear().await.unwrap();
    email.send_keys("nora@example.no").await.unwrap();
    browser.widget(".cw-email-form button[type=submit]").await.click().await.unwrap();
    browser.wait_for_texts(".cw-reply-to", &["We will reply to nora@example.no. Change"]).await;

    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { contact, .. } => assert_eq!(contact.email.unwrap().as_str(), "nora@example.no"),
        other => panic!("{other:?}"),
    }
    browser.screenshot("visitor-async-email").await;
}

#[tokio::test]
async fn a_known_email_can_be_changed_before_the_first_message() {
    let site = fresh_site();
    let script = "window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)};\
        ChatWidget('identify', {email: 'old@example.com'});";
    let (browser, _page) = visit(&site, "", script).await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-reply-to", &["We will reply to old@example.com. Change"]).await;
    browser.widget(".cw-reply-to button").await.click().await.unwrap();
    // The form holds the address it replaces.
    let email = browser.widget(".cw-email-input").await;
    assert_eq!(email.prop("value").await.unwrap().as_deref(), Some("old@example.com"));
    email.clear().await.unwrap();
    email.send_keys("new@example.com").await.unwrap();
    browser.widget(".cw-email-form button[type=submit]").await.click().await.unwrap();
    browser.wait_for_texts(".cw-reply-to", &["We will reply to new@example.com. Change"]).await;

    browser.write("Is the shop open on Sunday?").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { contact, .. } => assert_eq!(contact.email.unwrap().as_str(), "new@example.com"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn open_close_toggle_and_shutdown_made_before_load_count_in_their_order() {
    let stub = "window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)};";
    let panel_open = "root && root.querySelector('.cw-mount .cw-launcher') && !root.querySelector('.cw-panel').hidden";
    let site = fresh_site();
    for (calls, open) in [("ChatWidget('toggle'); ChatWidget('toggle');", false), ("ChatWidget('shutdown'); ChatWidget('open');", true)] {
        let (browser, _page) = visit(&site, "", &format!("{stub}{calls}")).await;
        browser.widget(".cw-mount .cw-launcher").await;
        let shown = browser.js(&format!("const root = document.getElementById('chat-widget').shadowRoot; return !!({panel_open});"), vec![]).await;
        assert_eq!(shown, Value::Bool(open), "{calls}");
        browser.close().await;
    }
}

#[tokio::test]
async fn nobody_online_with_async_off_shows_the_fallback_until_an_agent_comes_online() {
    let site = fresh_site();
    configure(
        &site,
        WidgetSettings {
            async_mode: false,
            fallback: Fallback {
                message: "We are closed. Our help centre has answers.".into(),
                link: Some(SafeUrl::parse("https://help.example.com").unwrap()),
                link_label: Some("Visit the help centre".into()),
            },
            ..WidgetSettings::default()
        },
    )
    .await;
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-fallback p", &["We are closed. Our help centre has answers."]).await;
    let link = browser.widget(".cw-fallback a").await;
    assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("https://help.example.com"));
    assert_eq!(link.attr("rel").await.unwrap().as_deref(), Some("noopener noreferrer"));
    assert!(browser.widget_texts(".cw-input").await.is_empty(), "no dead chat to write into");
    browser.screenshot("visitor-fallback").await;

    // An agent comes online: the open widget hears it and offers the chat.
    let _online = relay().agent("Ana").await.go_online(&site).await.unwrap();
    browser.widget(".cw-input").await;
    browser.wait_for_texts(".cw-subtitle", &["We are online"]).await;
}

/// The availability socket drops while the panel is open (a phone that lost signal): the
/// widget opens it again by itself, and hears who came online meanwhile.
#[tokio::test]
async fn availability_comes_back_after_a_lost_connection_while_the_panel_stays_open() {
    let site = fresh_site();
    configure(&site, WidgetSettings { async_mode: false, ..WidgetSettings::default() }).await;
    let network = Network::start(&relay().origin).await;
    let page = HostPage::serve_with_script(&network.origin, site.as_str(), "", "").await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.widget(".cw-fallback").await;

    network.cut();
    let _online = relay().agent("Ana").await.go_online(&site).await.unwrap();
    network.restore();
    // No reload, no closing and opening: the panel offers the chat.
    browser.widget(".cw-input").await;
    browser.wait_for_texts(".cw-subtitle", &["We are online"]).await;
}

#[tokio::test]
async fn the_typical_reply_time_shows_while_someone_is_online() {
    let site = fresh_site();
    let admin = relay().agent("Admin").await;
    // Refused by the relay: a reply time of nothing, or of more than a day.
    for minutes in [0, 24 * 60 + 1] {
        let settings = WidgetSettings { reply_time_minutes: Some(minutes), ..WidgetSettings::default() };
        assert!(admin.put_settings(&site, &settings).await.is_err(), "{minutes} minutes");
    }
    configure(&site, WidgetSettings { reply_time_minutes: Some(1), ..WidgetSettings::default() }).await;
    let _online = relay().agent("Ana").await.go_online(&site).await.unwrap();
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-subtitle", &["Typically replies in a minute"]).await;
    browser.close().await;

    configure(&site, WidgetSettings { reply_time_minutes: Some(5), ..WidgetSettings::default() }).await;
    let page = HostPage::serve_with_script(&relay().origin, site.as_str(), "", "").await;
    let browser = Browser::open_in_language("de").await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-subtitle", &["Antwortet meist innerhalb von 5 Minuten"]).await;
}

/// A site with its launcher on the left, in its own colour: from the second page on, the
/// loader's launcher (shown before the widget loads) is already there, so it does not jump.
#[tokio::test]
async fn the_loaders_launcher_takes_the_sites_side_and_colour_it_saw_last() {
    let site = fresh_site();
    configure(&site, WidgetSettings { position: protocol::site::Position::Left, color: "#aa3300".into(), ..WidgetSettings::default() }).await;
    let (browser, _page) = visit(&site, "", "").await;
    browser.wait_for("the widget's launcher on the left", "root && root.querySelector('.cw-left .cw-launcher')").await;

    // The next page, on a network where the widget itself does not arrive: the loader's launcher stays.
    browser.block_urls(&["*widget.js*", "*widget_bg.wasm*"]).await;
    browser.client.refresh().await.unwrap();
    let placed = browser
        .wait_for(
            "the loader's launcher",
            "root && (() => { const b = root.querySelector('.cw-boot'); if (!b) return null; const s = getComputedStyle(b); \
             return [b.getBoundingClientRect().left, s.backgroundColor]; })()",
        )
        .await;
    assert_eq!(placed, serde_json::json!([20, "rgb(170, 51, 0)"]));
    browser.block_urls(&[]).await;
}

/// An admin tunes the widget while a visitor has it open: the open widget takes the new title,
/// greeting, colour, side and quick replies at once, and keeps what the visitor was writing.
#[tokio::test]
async fn settings_an_admin_saves_reach_an_open_widget_at_once() {
    let site = fresh_site();
    configure(&site, WidgetSettings { title: "Chat with us".into(), ..WidgetSettings::default() }).await;
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-title", &["Chat with us"]).await;
    browser.widget(".cw-input").await.send_keys("Half a thought").await.unwrap();

    configure(
        &site,
        WidgetSettings {
            title: "Talk to the shop".into(),
            greeting: "We changed our greeting.".into(),
            color: "#aa3300".into(),
            position: protocol::site::Position::Left,
            quick_replies: vec![QuickReply { label: "Pricing".into(), action: QuickAction::Send { text: "How much?".into() } }],
            ..WidgetSettings::default()
        },
    )
    .await;
    browser.wait_for_texts(".cw-title", &["Talk to the shop"]).await;
    browser.wait_for_texts(".cw-greeting", &["We changed our greeting."]).await;
    browser.wait_for_texts(".cw-quick .cw-chip", &["Pricing"]).await;
    let looks = browser
        .wait_for(
            "the new colour, on the left",
            "root.querySelector('.cw-left') && (() => { const l = root.querySelector('.cw-launcher'); \
             const c = getComputedStyle(l).backgroundColor; return c === 'rgb(170, 51, 0)' ? [c, l.getBoundingClientRect().left] : null; })()",
        )
        .await;
    assert_eq!(looks, serde_json::json!(["rgb(170, 51, 0)", 20]));
    let draft = browser.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw-input').value;", vec![]).await;
    assert_eq!(draft, Value::from("Half a thought"), "the draft survives the new settings");
}

/// The widget did not arrive (a phone in a tunnel as the page loaded, and still at the first
/// tap): the loader's launcher stays, not busy, and says why on the console; a tap once the
/// network is back loads the chat.
#[tokio::test]
async fn a_widget_that_did_not_load_loads_at_the_next_tap() {
    let site = fresh_site();
    let page = HostPage::serve(&relay().origin, site.as_str(), "").await;
    let browser = Browser::open().await;
    browser.block_urls(&["*widget_bg.wasm*"]).await;
    browser.client.goto(&page.url).await.unwrap();
    let mut warned = 0;
    // The loader loads the widget when the browser is idle, then again at the tap.
    for tap in [false, true] {
        if tap {
            browser.widget(".cw-boot").await.click().await.unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while warned < 1 + tap as usize {
            let console = browser.console().await;
            warned += console.iter().filter(|(_, m)| m.contains("ChatWidget: could not load from")).count();
            assert!(std::time::Instant::now() < deadline, "no warning that the chat did not load: {console:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let busy = browser.wait_for("the loader's launcher", "root.querySelector('.cw-boot') && [root.querySelector('.cw-boot').getAttribute('aria-busy')]").await;
        assert_eq!(busy, serde_json::json!([null]), "the launcher is not left busy");
    }

    browser.block_urls(&[]).await;
    browser.open_widget().await;
    browser.write("Back in signal").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
}

#[tokio::test]
async fn pre_chat_asks_for_the_email_first_and_agents_see_it() {
    let site = fresh_site();
    configure(&site, WidgetSettings { email_capture: EmailCapture::PreChat, ..WidgetSettings::default() }).await;
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    let focused = browser
        .wait_for("focus in the email field", "root.activeElement && root.activeElement.className === 'cw-email-input' && 'cw-email-input'")
        .await;
    assert_eq!(focused, Value::from("cw-email-input"));
    assert!(browser.widget_texts(".cw-input").await.is_empty(), "no composer before the email");

    browser.widget(".cw-email-input").await.send_keys("pia@example.com").await.unwrap();
    browser.widget(".cw-name-input").await.send_keys("Pia").await.unwrap();
    browser.widget(".cw-email-form button[type=submit]").await.click().await.unwrap();
    browser.write("Hello!").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { contact, .. } => {
            assert_eq!(contact.email.unwrap().as_str(), "pia@example.com");
            assert_eq!(contact.name.as_deref(), Some("Pia"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_identified_visitor_is_not_asked_again_and_the_js_api_queues_calls_made_before_load() {
    let site = fresh_site();
    configure(&site, WidgetSettings { email_capture: EmailCapture::PreChat, ..WidgetSettings::default() }).await;
    let script = "window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)};\
        ChatWidget('identify', {email: 'kim@example.com', name: 'Kim'});\
        ChatWidget('on', 'ready', function () { window.chatReady = true; });\
        ChatWidget('on', 'open', function () { window.opened = (window.opened || 0) + 1; });\
        ChatWidget('on', 'message', function (m) { window.lastMessage = m.body; });\
        ChatWidget('on', 'unread', function (n) { window.unread = n; });\
        ChatWidget('open');";
    let (browser, _page) = visit(&site, "", script).await;
    // Opened by the page's call, without a click; no pre-chat form: the email is known.
    browser.widget(".cw-panel").await;
    browser.widget(".cw-input").await;
    assert!(browser.widget_texts(".cw-email-form").await.is_empty());
    assert_eq!(browser.js("return window.chatReady === true;", vec![]).await, Value::Bool(true));

    browser.write("Where is my order?").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    match agent.next().await.unwrap() {
        ServerFrame::Welcome { contact, .. } => assert_eq!(contact.email.unwrap().as_str(), "kim@example.com"),
        other => panic!("{other:?}"),
    }
    agent.post(&id("r1"), "On its way!").await.unwrap();
    browser.wait_for_texts(".cw-theirs .cw-body", &["On its way!"]).await;
    assert_eq!(browser.js("return window.lastMessage;", vec![]).await, Value::from("On its way!"));

    // close from the page; an agent message while closed makes it unread.
    browser.js("ChatWidget('close'); return true;", vec![]).await;
    agent.post(&id("r2"), "It arrives tomorrow.").await.unwrap();
    browser.wait_for("the unread event", "window.unread === 1").await;
    browser.wait_for_texts(".cw-badge", &["1"]).await;
    let title = browser.js("return document.title;", vec![]).await;
    assert!(title.as_str().unwrap().starts_with("(1)"), "title hint: {title}");
    assert_eq!(browser.js("return window.opened;", vec![]).await, Value::from(1));

    // shutdown forgets the visitor on this browser.
    browser.js("ChatWidget('shutdown'); return true;", vec![]).await;
    assert!(browser.local_storage(&format!("chat-widget:{site}:session")).await.is_none());
    assert!(browser.local_storage(&format!("chat-widget:{site}:contact")).await.is_none());
}

/// A shared computer: the site signs its user out (`shutdown`) while their first message is
/// still starting the conversation. The start must not bring them back for the next person.
#[tokio::test]
async fn shutdown_while_a_chat_is_starting_leaves_nothing_for_the_next_visitor() {
    let site = fresh_site();
    // The page holds the widget's start request until the test lets it go.
    let hold_start = "const realFetch = window.fetch.bind(window);\
        window.fetch = (url, init) => (init && init.method === 'POST')\
            ? new Promise(go => { window.releaseStart = () => go(realFetch(url, init)); })\
            : realFetch(url, init);";
    let (browser, _page) = visit(&site, "", hold_start).await;
    browser.open_widget().await;
    browser.write("Kim's private question").await;
    browser.wait_for("the start on its way", "typeof window.releaseStart === 'function'").await;

    browser.js("ChatWidget('shutdown'); window.releaseStart(); window.releaseStart = undefined; return true;", vec![]).await;
    // The start's answer arrives for nobody: no session is kept, nothing reconnects.
    browser.wait_for("the start answered", "performance.getEntriesByType('resource').some(e => e.initiatorType === 'fetch' && e.name.includes('/conversations') && e.responseEnd > 0)").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(browser.local_storage(&format!("chat-widget:{site}:session")).await.is_none(), "no session kept");
    browser.open_widget().await;
    assert!(browser.widget_texts(".cw-body").await.is_empty(), "none of Kim's chat shows");
    assert!(browser.widget_texts(".cw-link-state").await.iter().all(|s| s.is_empty()), "nothing connects");
}

/// A single-page shop changes its title as the visitor moves on. The unread hint goes before
/// whatever the title is now, and reading the messages leaves the page's newest title.
#[tokio::test]
async fn the_unread_hint_follows_a_single_page_site_s_own_title() {
    let site = fresh_site();
    let (browser, _page, conversation) = visitor_writes(&relay().origin, &site, "Is this in stock?").await;
    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    let title = || async { browser.js("return document.title;", vec![]).await };
    browser.js("ChatWidget('close'); return true;", vec![]).await;

    agent.post(&id("a1"), "Yes, two left.").await.unwrap();
    browser.wait_until("the hint", "document.title === '(1) New message · A customer\\'s shop'").await;
    // The visitor goes to the checkout, a new "page" in the same document.
    browser.js("document.title = 'Checkout'; return true;", vec![]).await;
    agent.post(&id("a2"), "Shall I hold one?").await.unwrap();
    browser.wait_until("the hint on the new title", "document.title === '(2) New message · Checkout'").await;

    browser.open_widget().await;
    browser.wait_until("the hint gone", "document.title === 'Checkout'").await;
    browser.js("ChatWidget('close'); document.title = 'Order placed'; return true;", vec![]).await;
    agent.post(&id("a3"), "Thank you!").await.unwrap();
    browser.wait_until("the hint again", "document.title === '(1) New message · Order placed'").await;
    // The page changes its title while the hint shows, then the visitor reads: the page's
    // title stays, without our hint.
    browser.js("document.title = 'Track your order'; return true;", vec![]).await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-theirs .cw-body", &["Yes, two left.", "Shall I hold one?", "Thank you!"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(title().await, Value::from("Track your order"));
}

/// The launcher's speech bubble is the stylesheet's: an emoji would be an empty box on a
/// system without an emoji font (this machine's Chromium has none), and differ on every other.
#[tokio::test]
async fn the_launcher_draws_its_icon_without_an_emoji_font() {
    let browser = demo().await;
    // (An expression: the launcher, its drawn icon, then what to return.)
    let launcher = |then: &str| {
        format!("(() => {{ const l = root.querySelector('.cw-mount .cw-launcher'); if (!l) return null; const icon = getComputedStyle(l, '::before'); return {then}; }})()")
    };
    let closed = browser
        .wait_for("the loaded launcher", &launcher("[l.textContent, icon.content, icon.width, icon.backgroundColor === getComputedStyle(l).color]"))
        .await;
    assert_eq!(closed, serde_json::json!(["", "\"\"", "26px", true]), "closed: no glyph, a bubble in the launcher's text colour");
    browser.open_widget().await;
    let open = browser.wait_for("the open launcher", &launcher("l.textContent === '×' && icon.content")).await;
    assert_eq!(open, Value::from("none"), "open: the close sign instead of the bubble");
}

#[tokio::test]
async fn the_widget_is_usable_by_keyboard_alone() {
    let browser = demo().await;
    browser.widget(".cw-mount .cw-launcher").await; // loaded, so the launcher stays put
    // The visitor tabs from the page's last control to the launcher.
    browser.js("document.querySelector('main button').focus(); return true;", vec![]).await;
    let active = || async { browser.client.active_element().await.unwrap() };
    active().await.send_keys("\u{E004}").await.unwrap(); // Tab
    let focused = browser.wait_for("the launcher focused", "root.activeElement && root.activeElement.className").await;
    assert_eq!(focused, Value::from("cw-launcher"));

    active().await.send_keys("\u{E007}").await.unwrap(); // Enter opens, focus goes to the field
    browser.wait_for("focus in the message field", "root.activeElement && root.activeElement.className === 'cw-input'").await;
    active().await.send_keys("Typed with the keyboard\u{E007}").await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    active().await.send_keys("\u{E00C}").await.unwrap(); // Escape closes, focus returns
    browser.wait_for("the panel closed", "root.querySelector('.cw-panel').hidden").await;
    let focused = browser
        .wait_for("focus back on the launcher", "root.activeElement && root.activeElement.className === 'cw-launcher' && 'cw-launcher'")
        .await;
    assert_eq!(focused, Value::from("cw-launcher"));
}

/// Keyboard users keep their place when the control they pressed goes away with what it did
/// (a flow's chip, Back, "Change", a suggested reply): focus moves to what comes next in the
/// widget, never back to the top of the page.
#[tokio::test]
async fn focus_stays_in_the_widget_when_the_control_pressed_goes_away() {
    let site = fresh_site();
    let flow = QuickReply {
        label: "Shipping".into(),
        action: QuickAction::Flow {
            replies: vec![QuickReply { label: "Europe".into(), action: QuickAction::Send { text: "Do you ship to Europe?".into() } }],
        },
    };
    configure(&site, WidgetSettings { quick_replies: vec![flow], ..WidgetSettings::default() }).await;
    let script = "window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)};\
        ChatWidget('identify', {email: 'kim@example.com'});";
    let (browser, _page) = visit(&site, "", script).await;
    browser.open_widget().await;
    let focused = |what: &'static str, selector: &'static str| {
        let condition = format!("root.activeElement && root.activeElement.matches({}) && (root.activeElement.textContent || '(a field)')", serde_json::to_string(selector).unwrap());
        let browser = &browser;
        async move { browser.wait_for(what, &condition).await }
    };
    let enter = "\u{E007}";

    browser.wait_for_texts(".cw-quick .cw-chip", &["Shipping"]).await;
    browser.widget(".cw-quick .cw-chip").await.send_keys(enter).await.unwrap();
    let on = focused("focus on one of the flow's chips", ".cw-quick .cw-chip").await;
    assert!(on == "Back" || on == "Europe", "focus on {on}");
    browser.widget(".cw-back").await.send_keys(enter).await.unwrap();
    assert_eq!(focused("focus back on the first level", ".cw-quick .cw-chip").await, Value::from("Shipping"));

    // A suggested reply sends itself and goes: focus goes to the message field.
    browser.write("Hello").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    let frame = ClientFrame::Send { client_id: id("offer"), body: "Shall I help?".into(), card: None, suggestions: vec!["Yes please".into()] };
    agent.post_frame(&id("offer"), &frame).await.unwrap();
    browser.widget(".cw-suggestions .cw-chip").await.send_keys(enter).await.unwrap();
    focused("focus in the message field", ".cw-input").await;
    browser.wait_for_texts(".cw-mine .cw-body", &["Hello", "Yes please"]).await;

    // Nobody is online: the answer goes to the known address, which "Change" opens for editing.
    browser.widget(".cw-reply-to button").await.send_keys(enter).await.unwrap();
    focused("focus in the email field", ".cw-email-input").await;
    // A wrong address is said again on every try (an alert that does not change is not read
    // out again), and the field keeps the focus.
    browser
        .js(
            "const error = document.getElementById('chat-widget').shadowRoot.getElementById('cw-email-error'); window.errorsSaid = 0;\
             new MutationObserver(() => { if (error.textContent) window.errorsSaid++; }).observe(error, {childList: true, subtree: true, characterData: true});\
             return true;",
            vec![],
        )
        .await;
    let email = browser.widget(".cw-email-input").await;
    for tries in 1..=2 {
        email.clear().await.unwrap();
        email.send_keys(&format!("not-an-email{enter}")).await.unwrap();
        browser.wait_until("the error said again", &format!("window.errorsSaid >= {tries}")).await;
        focused("focus kept in the email field", ".cw-email-input").await;
    }
    browser.wait_for_texts(".cw-error", &["Please enter a valid email address."]).await;
}

#[tokio::test]
async fn quick_replies_send_text_open_flows_and_go_back() {
    let site = fresh_site();
    let replies = vec![
        QuickReply { label: "Pricing".into(), action: QuickAction::Send { text: "How much is it?".into() } },
        QuickReply {
            label: "Shipping".into(),
            action: QuickAction::Flow {
                replies: vec![QuickReply { label: "Europe".into(), action: QuickAction::Send { text: "Do you ship to Europe?".into() } }],
            },
        },
        QuickReply { label: "Docs".into(), action: QuickAction::Url { url: SafeUrl::parse("https://docs.example.com").unwrap() } },
    ];
    configure(&site, WidgetSettings { quick_replies: replies, ..WidgetSettings::default() }).await;
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-quick .cw-chip", &["Pricing", "Shipping", "Docs"]).await;
    browser.widget(".cw-quick .cw-chip").await.click().await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-body", &["How much is it?"]).await;
    browser.wait_for_texts(".cw-quick .cw-chip", &["Pricing", "Shipping", "Docs"]).await;

    let shipping = browser.wait_for("the shipping chip", "[...root.querySelectorAll('.cw-quick .cw-chip')].find(b => b.textContent === 'Shipping')").await;
    let shipping = fantoccini::elements::Element::from_element_id(
        browser.client.clone(),
        fantoccini::elements::ElementRef::from(shipping.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_owned()),
    );
    shipping.click().await.unwrap();
    browser.wait_for_texts(".cw-quick .cw-chip", &["Back", "Europe"]).await;
    browser.widget(".cw-quick .cw-chip:not(.cw-back)").await.click().await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-body", &["How much is it?", "Do you ship to Europe?"]).await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent"]).await;
}

#[tokio::test]
async fn agent_cards_suggestions_typing_and_seen_receipts() {
    let browser = demo().await;
    browser.open_widget().await;
    browser.write("Can you help with returns?").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation("demo").await, 0).await.unwrap();
    let (_, history) = catch_up(&mut agent, 0).await;

    // The agent reads: the visitor sees "Seen".
    agent.send_frame(&ClientFrame::Read { up_to: history[0].seq }).await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-state", &["Seen"]).await;

    // The agent types: the visitor sees it; the visitor types: the agent hears it.
    agent.send_frame(&ClientFrame::Typing { active: true }).await.unwrap();
    browser.wait_for_texts(".cw-typing", &["Ana is typing…"]).await;
    browser.widget(".cw-input").await.send_keys("thinking").await.unwrap();
    loop {
        match agent.next().await.unwrap() {
            ServerFrame::Typing { author: Author::Visitor, active: true } => break,
            _ => continue,
        }
    }

    let card = Card::Article {
        title: "Returns".into(),
        summary: "Send it back within 30 days.".into(),
        url: SafeUrl::parse("https://help.example.com/returns").unwrap(),
    };
    let frame = ClientFrame::Send {
        client_id: id("card"),
        body: "This explains it:".into(),
        card: Some(card),
        suggestions: vec!["Thanks!".into(), "I need more help".into()],
    };
    agent.post_frame(&id("card"), &frame).await.unwrap();
    browser.wait_for_texts(".cw-card-title", &["Returns"]).await;
    assert!(browser.widget_texts(".cw-typing").await.is_empty(), "a message ends the typing indicator");
    let link = browser.widget(".cw-card-link").await;
    assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("https://help.example.com/returns"));
    assert_eq!(link.attr("target").await.unwrap().as_deref(), Some("_blank"));
    assert_eq!(link.attr("rel").await.unwrap().as_deref(), Some("noopener noreferrer"));
    browser.wait_for_texts(".cw-suggestions .cw-chip", &["Thanks!", "I need more help"]).await;
    browser.screenshot("visitor-card-and-suggestions").await;

    // The visitor has seen the card (panel open, page visible): the agent hears it.
    let card_seq = history[0].seq + 1;
    loop {
        if let ServerFrame::Read { role: Role::Visitor, up_to } = agent.next().await.unwrap() {
            assert_eq!(up_to, card_seq);
            break;
        }
    }

    // Tapping a suggestion sends it; the suggestions are done.
    browser.widget(".cw-suggestions .cw-chip").await.click().await.unwrap();
    assert_eq!(next_message(&mut agent).await.body, "Thanks!");
    browser.wait_for_texts(".cw-suggestions .cw-chip", &[]).await;

}

#[tokio::test]
async fn an_ended_chat_stays_readable_and_writing_again_starts_a_new_one() {
    let browser = demo().await;
    browser.open_widget().await;
    browser.write("Thanks, that's all").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let first = browser.conversation("demo").await;
    let mut agent = relay().agent("Ana").await.join(&first, 0).await.unwrap();
    agent.send_frame(&ClientFrame::End).await.unwrap();
    browser.wait_for_texts(".cw-notice", &["This chat has ended. Write a message to start a new conversation."]).await;

    browser.write("Actually, one more question").await;
    browser.wait_for_texts(".cw-messages:not(.cw-earlier .cw-messages) .cw-mine .cw-state", &["Sent"]).await;
    let second = browser.conversation("demo").await;
    assert_ne!(first, second, "a new conversation");
    browser.wait_for_texts(".cw-earlier .cw-body", &["Thanks, that's all"]).await;

    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-earlier .cw-body", &["Thanks, that's all"]).await;
    browser.wait_for_texts(".cw-messages:not(.cw-earlier .cw-messages) .cw-mine .cw-body", &["Actually, one more question"]).await;
    // The earlier conversation and the notices arrive after the thread: it still ends in view.
    browser.wait_for("the thread at its end", THREAD_AT_END).await;
    browser.screenshot("visitor-earlier-conversation").await;
}

/// The thread shows its end (within a few pixels).
const THREAD_AT_END: &str =
    "root && (() => { const l = root.querySelector('.cw-scroll'); return l.scrollHeight - l.scrollTop - l.clientHeight <= 4; })()";

/// The visitor scrolls back to the thread's start to read.
const READ_BACK: &str = "document.getElementById('chat-widget').shadowRoot.querySelector('.cw-scroll').scrollTop = 0;";

/// The thread shows a message with this text, the visitor's (`mine`) or the agents' (`theirs`).
fn shown(side: &str, text: &str) -> String {
    format!("root && [...root.querySelectorAll('.cw-{side} .cw-body')].some(b => b.textContent === '{text}')")
}

#[tokio::test]
async fn the_thread_follows_new_messages_but_not_a_visitor_reading_back() {
    let site = fresh_site();
    let (browser, _page, conversation) = visitor_writes(&relay().origin, &site, "Hello").await;
    let mut agent = relay().agent("Ana").await.join(&conversation, 0).await.unwrap();
    for n in 1..=20 {
        agent.post(&id(&format!("long-{n}")), &format!("Line {n} of a long answer")).await.unwrap();
    }
    browser.wait_for("the last line", &shown("theirs", "Line 20 of a long answer")).await;
    browser.wait_for("the thread at its end", THREAD_AT_END).await;

    // Scrolled back to read: a new message does not pull the visitor away.
    browser.js(READ_BACK, vec![]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    agent.post(&id("long-21"), "One more thing").await.unwrap();
    browser.wait_for("the new message", &shown("theirs", "One more thing")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let top = browser.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw-scroll').scrollTop;", vec![]).await;
    assert_eq!(top.as_f64(), Some(0.0), "the thread moved while the visitor read back");
    // A button says so, and takes them there; the thread keeps the focus.
    let jump = browser.widget(".cw-jump").await;
    browser.screenshot("visitor-reading-back").await;
    assert_eq!(jump.text().await.unwrap(), "New messages");
    jump.click().await.unwrap();
    browser.wait_for("the thread at its end", THREAD_AT_END).await;
    browser
        .wait_for("the button gone and the focus on the thread", "root.querySelector('.cw-jump').hidden && root.activeElement === root.querySelector('.cw-scroll')")
        .await;

    // Back to reading; writing brings the end back too.
    browser.js(READ_BACK, vec![]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    browser.write("Got it").await;
    browser.wait_for("the visitor's message", &shown("mine", "Got it")).await;
    browser.wait_for("the thread at its end", THREAD_AT_END).await;
    agent.post(&id("long-22"), "Great").await.unwrap();
    browser.wait_for("the reply", &shown("theirs", "Great")).await;
    browser.wait_for("the thread at its end", THREAD_AT_END).await;
    assert_eq!(browser.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw-jump').hidden;", vec![]).await, Value::Bool(true));
}

#[tokio::test]
async fn a_blocked_visitor_is_told_and_cannot_write() {
    let browser = demo().await;
    browser.open_widget().await;
    browser.write("spam spam spam").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation("demo").await, 0).await.unwrap();
    agent.send_frame(&ClientFrame::Block).await.unwrap();
    browser.wait_for_texts(".cw-notice", &["You can no longer send messages in this chat."]).await;
    browser.wait_for("the composer gone", "!root.querySelector('.cw-input')").await;
    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser.wait_for_texts(".cw-notice", &["You can no longer send messages in this chat."]).await;
}

#[tokio::test]
async fn arabic_lays_out_right_to_left_and_german_speaks_german() {
    let site = fresh_site();
    let (browser, _page) = visit(&site, "data-lang=\"ar\"", "").await;
    browser.open_widget().await;
    let dir = browser.wait_for("rtl", "root.querySelector('.cw') && root.querySelector('.cw').dir").await;
    assert_eq!(dir, Value::from("rtl"));
    assert_eq!(browser.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw').lang;", vec![]).await, Value::from("ar"));
    let send = browser.widget_texts(".cw-send").await;
    assert_ne!(send, ["Send"], "Arabic words, not English");
    browser.write("مرحبا").await;
    browser.wait_for_texts(".cw-mine .cw-body", &["مرحبا"]).await;
    // The visitor's own bubble sits at the start edge's opposite: on the left in RTL.
    let (left, right) = (
        browser.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw-mine').getBoundingClientRect().left;", vec![]).await,
        browser.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw-scroll').getBoundingClientRect().left;", vec![]).await,
    );
    assert!(left.as_f64().unwrap() - right.as_f64().unwrap() < 40.0, "own messages on the left in RTL");
    browser.screenshot("visitor-arabic-rtl").await;

    let (german, _page) = visit(&fresh_site(), "data-lang=\"de\"", "").await;
    german.open_widget().await;
    let placeholder = german.widget(".cw-input").await.attr("placeholder").await.unwrap().unwrap();
    assert_eq!(placeholder, "Nachricht schreiben…");
}

/// Words other than English come as a bundle the loader fetches with the widget: a region
/// tag finds its language's, without `data-lang` the browser's language decides, and a
/// language without a bundle gets English and fetches nothing.
#[tokio::test]
async fn a_language_comes_as_its_own_bundle_and_any_other_is_english() {
    const BUNDLES_FETCHED: &str =
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/widget/locales/')).map(e => e.name.split('/').pop());";
    let (spanish, _page) = visit(&fresh_site(), "data-lang=\"es-419\"", "").await;
    spanish.open_widget().await;
    spanish.wait_for_texts(".cw-send", &["Enviar"]).await;
    assert_eq!(spanish.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw').lang;", vec![]).await, Value::from("es"));
    assert_eq!(spanish.js(BUNDLES_FETCHED, vec![]).await, serde_json::json!(["es.json"]));
    // Why a message was not sent is said in the visitor's language too.
    spanish.set_offline(true).await;
    spanish.write("¿Hola?").await;
    let reason = "root && [...root.querySelectorAll('.cw-failed')].some(e => e.textContent.includes('No enviado: no se pudo conectar con el chat'))";
    spanish.wait_for("the reason, in Spanish", reason).await;

    // Without `data-lang`, the browser's language decides.
    let page = HostPage::serve_with_script(&relay().origin, fresh_site().as_str(), "", "").await;
    let french = Browser::open_in_language("fr-FR").await;
    french.client.goto(&page.url).await.unwrap();
    french.open_widget().await;
    french.wait_for_texts(".cw-send", &["Envoyer"]).await;
    assert_eq!(french.js(BUNDLES_FETCHED, vec![]).await, serde_json::json!(["fr.json"]));

    let (japanese, _page) = visit(&fresh_site(), "data-lang=\"ja\"", "").await;
    japanese.open_widget().await;
    japanese.wait_for_texts(".cw-send", &["Send"]).await;
    assert_eq!(japanese.js("return document.getElementById('chat-widget').shadowRoot.querySelector('.cw').lang;", vec![]).await, Value::from("en"));
    assert_eq!(japanese.js(BUNDLES_FETCHED, vec![]).await, serde_json::json!([]));
}

/// The site's settings, when the first request for them fails (a flaky network), are asked
/// for again: the widget does not stay with the defaults.
#[tokio::test]
async fn settings_that_failed_to_load_are_asked_for_again() {
    let site = fresh_site();
    let settings = WidgetSettings { title: "Ask Ferdinand".into(), ..WidgetSettings::default() };
    relay().agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    let fail_once = "const fetchNow = window.fetch; window.__settingsFailed = false; \
        window.fetch = (url, init) => String(url).endsWith('/widget') && !window.__settingsFailed \
            ? (window.__settingsFailed = true, Promise.reject(new TypeError('Failed to fetch'))) : fetchNow(url, init);";
    let (browser, _page) = visit(&site, "", fail_once).await;
    browser.open_widget().await;
    browser.wait_for_texts(".cw-title", &["Ask Ferdinand"]).await;
    assert_eq!(browser.js("return window.__settingsFailed", vec![]).await, Value::from(true));
}

/// A language bundle that never comes (a stalled network) costs the visitor their words, not
/// the chat: after a few seconds the widget opens in English.
#[tokio::test]
async fn a_bundle_that_never_comes_leaves_the_chat_in_english() {
    let stall_bundles = "const fetchNow = window.fetch; \
        window.fetch = (url, init) => String(url).includes('/widget/locales/') ? new Promise(() => {}) : fetchNow(url, init);";
    let (german, _page) = visit(&fresh_site(), "data-lang=\"de\"", stall_bundles).await;
    // Until the widget has loaded, the loader's own launcher speaks the visitor's language.
    let boot = german
        .wait_for(
            "the loader's launcher",
            "(b => b && { label: b.getAttribute('aria-label'), lang: b.lang })(root && root.querySelector('.cw-boot'))",
        )
        .await;
    assert_eq!(boot["label"], "Chat öffnen", "{boot}");
    assert_eq!(boot["lang"], "de", "{boot}");
    german.open_widget().await;
    german.wait_for_texts(".cw-send", &["Send"]).await;
    german.write("Hallo").await;
    german.wait_for_texts(".cw-mine .cw-body", &["Hallo"]).await;
}

#[tokio::test]
async fn on_a_phone_the_panel_fills_the_screen() {
    let browser = Browser::open_with_size(390, 800).await;
    browser.client.goto(&format!("{}/", relay().origin)).await.unwrap();
    browser.open_widget().await;
    // Once the opening animation is over, the panel covers the viewport exactly.
    browser
        .wait_for(
            "a full-screen panel",
            "(() => { const r = root.querySelector('.cw-panel').getBoundingClientRect(); \
             const d = document.documentElement; \
             return r.left === 0 && r.top === 0 && r.width === d.clientWidth && r.height === d.clientHeight; })()",
        )
        .await;
    // What a phone needs that a desktop does not: fields a phone does not zoom into when they
    // take focus (16px text or more), and a thread whose scrolling stops at its ends instead
    // of carrying on into the page behind the panel.
    // Read once the composer is there: it comes with the site's settings, after the panel.
    let phone = browser
        .wait_for(
            "the composer on a phone",
            "root.querySelector('.cw-input') && (() => { \
               const style = (sel) => getComputedStyle(root.querySelector(sel)); \
               const d = document.documentElement; \
               return { field: parseFloat(style('.cw-input').fontSize), \
                        thread: style('.cw-scroll').overscrollBehaviorY, \
                        panel: style('.cw-panel').overscrollBehaviorY, \
                        page_overflow: d.scrollWidth - d.clientWidth }; })()",
        )
        .await;
    assert!(phone["field"].as_f64().unwrap() >= 16.0, "the message field's text is under 16px: {phone}");
    assert_eq!(phone["thread"], "contain", "{phone}");
    assert_eq!(phone["panel"], "contain", "{phone}");
    // The demo page itself fits a phone: nothing scrolls sideways under the panel.
    assert_eq!(phone["page_overflow"], 0, "{phone}");
    browser.screenshot("visitor-phone").await;
}

/// What a phone reports as its on-screen keyboard opens under a focused field: the part of
/// the page in view (the visual viewport) shrinks to `height` and pans down to `top`, or the
/// visitor zooms in (`scale`). Headless Chromium has no keyboard, so the test reports it.
fn visual_viewport(top: u32, height: u32, scale: u32) -> String {
    format!(
        "const v = window.visualViewport; \
         Object.defineProperties(v, {{ offsetTop: {{ get: () => {top}, configurable: true }}, \
           height: {{ get: () => {height}, configurable: true }}, scale: {{ get: () => {scale}, configurable: true }} }}); \
         v.dispatchEvent(new Event('resize'));"
    )
}

#[tokio::test]
async fn on_a_phone_the_panel_stays_in_view_above_the_keyboard() {
    let site = fresh_site();
    let page = HostPage::serve(&relay().origin, site.as_str(), "").await;
    let browser = Browser::open_with_size(390, 800).await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.write("Hello").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    for n in 1..=12 {
        agent.post(&id(&format!("line-{n}")), &format!("Line {n} of a long answer")).await.unwrap();
    }
    browser.wait_for("the last line", &shown("theirs", "Line 12 of a long answer")).await;
    browser.wait_for("the thread at its end", THREAD_AT_END).await;

    // The keyboard opens: header, thread end and message field all stay in the part in view.
    browser.js(&visual_viewport(160, 420, 1), vec![]).await;
    let placed = "(() => { const box = (sel) => root.querySelector(sel).getBoundingClientRect(); \
                   const panel = box('.cw-panel'), header = box('.cw-header'), field = box('.cw-input'); \
                   return panel.top === TOP && panel.height === HEIGHT && header.top === TOP && field.bottom <= TOP + HEIGHT; })()";
    browser.wait_for("the panel over the part in view", &placed.replace("TOP", "160").replace("HEIGHT", "420")).await;
    browser.wait_for("the thread at its end", THREAD_AT_END).await;
    browser.screenshot("visitor-phone-keyboard").await;

    // Closed again: the whole screen.
    let screen = browser.js("return document.documentElement.clientHeight;", vec![]).await.as_u64().unwrap().to_string();
    browser.js(&visual_viewport(0, screen.parse().unwrap(), 1), vec![]).await;
    let whole = placed.replace("TOP", "0").replace("HEIGHT", &screen);
    browser.wait_for("the panel on the whole screen", &whole).await;
    browser.wait_for("the thread at its end", THREAD_AT_END).await;

    // Zoomed in, the visitor pans over the page: the panel stays put on it, full size.
    browser.js(&visual_viewport(300, 400, 2), vec![]).await;
    browser.wait_for("the panel on the page while zoomed", &whole).await;
}

#[tokio::test]
async fn on_a_phone_the_email_field_takes_focus_without_zooming() {
    let site = fresh_site();
    configure(&site, WidgetSettings { email_capture: EmailCapture::PreChat, ..WidgetSettings::default() }).await;
    let page = HostPage::serve_with_script(&relay().origin, site.as_str(), "", "").await;
    let browser = Browser::open_with_size(390, 800).await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    let size = browser
        .wait_for(
            "the email field focused",
            "root.activeElement && root.activeElement.className === 'cw-email-input' && getComputedStyle(root.activeElement).fontSize",
        )
        .await;
    let px: f64 = size.as_str().and_then(|s| s.strip_suffix("px")).and_then(|s| s.parse().ok()).unwrap();
    assert!(px >= 16.0, "the email field's text is {px}px");
}

#[tokio::test]
async fn a_strict_csp_page_sees_no_violation_and_no_error() {
    let site = fresh_site();
    configure(&site, WidgetSettings { theme: Theme::Dark, ..WidgetSettings::default() }).await;
    let (browser, _page) = visit(&site, "", "").await;
    browser.open_widget().await;
    browser.write("Hello under a strict CSP").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    agent.post(&id("csp"), "Hi!").await.unwrap();
    browser.wait_for_texts(".cw-theirs .cw-body", &["Hi!"]).await;
    browser.screenshot("visitor-dark-strict-csp").await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors (CSP violations included): {errors:#?}");
}
