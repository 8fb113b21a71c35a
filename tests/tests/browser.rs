//! A visitor in a real headless Chromium on the demo page, an agent on the real relay.

use e2e::browser::Browser;
use e2e::relay;
use protocol::{Author, ClientMsgId, ServerFrame};
use serde_json::Value;

fn id(s: &str) -> ClientMsgId {
    ClientMsgId::parse(s).unwrap()
}

#[tokio::test]
async fn a_visitor_chats_with_an_agent_and_finds_it_all_again_after_reload() {
    let relay = relay();
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}/", relay.origin)).await.unwrap();

    browser.open_widget().await;
    let focused = browser.wait_for("focus in the message field", "root.activeElement && root.activeElement.classList.contains('cw-input')").await;
    assert_eq!(focused, Value::Bool(true));
    browser.write("Hello, is anyone there?").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    // The agent joins and sees the visitor's message.
    let conversation = browser.conversation("demo").await;
    let mut agent = relay.agent("Ana").await.join(&conversation, 0).await.unwrap();
    assert!(matches!(agent.next().await.unwrap(), ServerFrame::Welcome { last_seq: 1, .. }));
    let ServerFrame::History { messages } = agent.next().await.unwrap() else { panic!("history") };
    assert_eq!((messages[0].body.as_str(), &messages[0].author), ("Hello, is anyone there?", &Author::Visitor));

    // A reply appears live; a second visitor message reaches the agent live.
    agent.post(&id("reply-1"), "Hi! I'm Ana. How can I help?").await.unwrap();
    browser.wait_for_texts(".cw-theirs .cw-body", &["Hi! I'm Ana. How can I help?"]).await;
    browser.wait_for_texts(".cw-theirs .cw-author", &["Ana"]).await;
    browser.write("My order has not arrived.").await;
    let message = e2e::chat::next_message(&mut agent).await;
    assert_eq!((message.seq, message.body.as_str()), (3, "My order has not arrived."));
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent", "Sent"]).await;
    browser.screenshot("skeleton-conversation").await;

    // Reload: the same conversation, whole, without signing in.
    browser.client.refresh().await.unwrap();
    browser.open_widget().await;
    browser
        .wait_for_texts(".cw-body", &["Hello, is anyone there?", "Hi! I'm Ana. How can I help?", "My order has not arrived."])
        .await;
    assert_eq!(browser.conversation("demo").await, conversation);
    browser.screenshot("skeleton-after-reload").await;

    // And it is still live after the reload.
    agent.post(&id("reply-2"), "Let me check that for you.").await.unwrap();
    browser.wait_for_texts(".cw-theirs .cw-body", &["Hi! I'm Ana. How can I help?", "Let me check that for you."]).await;
    browser.close().await;
}

#[tokio::test]
async fn message_text_is_shown_as_text_never_as_markup() {
    let relay = relay();
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}/", relay.origin)).await.unwrap();
    browser.open_widget().await;
    browser.write("<b>bold?</b>").await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    let payload = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;
    let mut agent = relay.agent("Ana").await.join(&browser.conversation("demo").await, 0).await.unwrap();
    agent.post(&id("xss"), payload).await.unwrap();
    browser.wait_for_texts(".cw-body", &["<b>bold?</b>", payload]).await;
    let injected = browser
        .wait_for("no injected elements", "root.querySelectorAll('.cw-body img, .cw-body script, .cw-body b').length === 0 ? 'none' : 'found'")
        .await;
    assert_eq!(injected, Value::from("none"));
    assert_eq!(browser.js("return window.__pwned === undefined;", vec![]).await, Value::Bool(true));
    browser.close().await;
}

#[tokio::test]
async fn the_host_page_styles_do_not_reach_the_widget() {
    let relay = relay();
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}/", relay.origin)).await.unwrap();
    browser.open_widget().await;
    // The demo page styles every button with a dashed magenta border and monospace font.
    let style = browser
        .wait_for(
            "the send button's computed style",
            "root.querySelector('.cw-send') && (() => { const s = getComputedStyle(root.querySelector('.cw-send')); return s.borderTopStyle + '|' + s.fontFamily; })()",
        )
        .await;
    let style = style.as_str().unwrap();
    assert!(!style.starts_with("dashed"), "host border leaked in: {style}");
    assert!(!style.contains("monospace"), "host font leaked in: {style}");
    let host_button = browser.js("return getComputedStyle(document.querySelector('main button')).borderTopStyle;", vec![]).await;
    assert_eq!(host_button, Value::from("dashed"), "and the widget's styles do not reach out");
    browser.close().await;
}

#[tokio::test]
async fn a_message_that_could_not_go_out_shows_failed_and_can_be_retried() {
    let relay = relay();
    let browser = Browser::open().await;
    browser.client.goto(&format!("{}/", relay.origin)).await.unwrap();
    browser.open_widget().await;

    // The relay cannot be reached, though the browser thinks it is online (a captive portal,
    // a firewall): nothing tells the widget when to try again, so the visitor can.
    browser.block_urls(&["*/api/sites/*"]).await;
    browser.write("Are you there?").await;
    let failed = browser.widget(".cw-failed").await;
    assert!(failed.text().await.unwrap().starts_with("Not sent"));
    browser.screenshot("skeleton-failed").await;

    browser.block_urls(&[]).await;
    browser.widget(".cw-retry").await.click().await.unwrap();
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;

    let mut agent = relay.agent("Ana").await.join(&browser.conversation("demo").await, 0).await.unwrap();
    assert!(matches!(agent.next().await.unwrap(), ServerFrame::Welcome { last_seq: 1, .. }), "stored exactly once");
    browser.close().await;
}
