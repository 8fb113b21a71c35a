//! A corpus of XSS payloads (`tests/data/xss.txt`) everywhere text reaches the widget: visitor
//! and agent messages, agent names, card titles and summaries, suggested replies, quick reply
//! labels and the greeting. Nothing may run and no element may be injected: text is text.

use e2e::browser::Browser;
use e2e::host::HostPage;
use e2e::{fresh_site, relay, repo_root};
use protocol::site::{QuickAction, QuickReply, WidgetSettings};
use protocol::{ServerFrame, AgentName, Card, ClientFrame, ClientMsgId, SafeUrl};
use serde_json::Value;

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("tests/data/xss.txt")).unwrap();
    let payloads: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    assert!(payloads.len() >= 50, "the corpus keeps at least 50 payloads");
    payloads
}

fn short(payload: &str, max: usize) -> String {
    payload.chars().take(max).collect::<String>().trim().to_owned()
}

#[tokio::test]
async fn no_payload_runs_or_injects_an_element_anywhere_in_the_widget() {
    let payloads = corpus();
    let site = fresh_site();
    let quick_replies = payloads[..8]
        .iter()
        .map(|p| QuickReply { label: short(p, 60), action: QuickAction::Send { text: p.clone() } })
        .collect();
    let settings = WidgetSettings { greeting: payloads[0].clone(), quick_replies, ..WidgetSettings::default() };
    relay().agent("Admin").await.put_settings(&site, &settings).await.unwrap();

    let page = HostPage::serve(&relay().origin, site.as_str(), "").await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.open_widget().await;
    browser.write("hello").await;
    browser.wait_for("the message stored", "root.querySelector('.cw-mine[data-seq]')").await;
    let conversation = browser.conversation(site.as_str()).await;

    // Every payload as a visitor message (through the relay, as the widget would send it)...
    let session: Value = serde_json::from_str(&browser.local_storage(&format!("chat-widget:{site}:session")).await.unwrap()).unwrap();
    let mut visitor = relay().visitor().connect(session["token"].as_str().unwrap(), 0).await.unwrap();
    for (n, payload) in payloads.iter().enumerate() {
        visitor.post(&ClientMsgId::parse(&format!("v{n}")).unwrap(), payload).await.unwrap();
    }
    // ...and as agent messages from agents named after them, with cards and suggestions. Only
    // the responsible agent answers: the admin hands the conversation to each in turn.
    let mut admin = relay().agent("Admin").await.join(&conversation, u64::MAX).await.unwrap();
    for (n, payload) in payloads.iter().enumerate() {
        let name = AgentName::parse(&short(payload, 64)).unwrap_or_else(|_| AgentName::parse("Ana").unwrap());
        let author = relay().agent(name.as_str()).await;
        admin.send_frame(&ClientFrame::Transfer { to: Some(author.account.id.clone()) }).await.unwrap();
        e2e::chat::wait_for(&mut admin, |f| match f {
            ServerFrame::Assigned { assignee: Some(a) } if a.id == author.account.id => Some(()),
            _ => None,
        })
        .await;
        let mut agent = author.join(&conversation, u64::MAX).await.unwrap();
        let cid = ClientMsgId::parse(&format!("a{n}")).unwrap();
        let card = Card::Article {
            title: short(payload, 100),
            summary: payload.clone(),
            url: SafeUrl::parse("https://help.example.com/a").unwrap(),
        };
        let frame = ClientFrame::Send {
            client_id: cid.clone(),
            body: payload.clone(),
            card: (n % 2 == 0).then_some(card),
            suggestions: if n == payloads.len() - 1 { payloads[..6].iter().map(|p| short(p, 60)).collect() } else { vec![] },
        };
        agent.post_frame(&cid, &frame).await.unwrap();
    }
    browser.wait_for_texts(".cw-suggestions .cw-chip", &payloads[..6].iter().map(|p| short(p, 60)).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>()).await;

    // The texts arrived as text, every one of them.
    let bodies = browser.widget_texts(".cw-body").await;
    for payload in &payloads {
        assert!(bodies.iter().filter(|b| *b == payload.trim()).count() >= 2, "{payload} shown as text from both sides");
    }
    browser.screenshot("xss-corpus").await;

    // Nothing ran, nothing was injected, every link is http(s) and cannot reach this page.
    let report = browser
        .js(
            "const root = document.getElementById('chat-widget').shadowRoot;
             const injected = root.querySelectorAll('script, img, svg, iframe, object, embed, video, audio, style:not(:first-child), \
                form:not(.cw-composer):not(.cw-email-form), input:not(.cw-email-input):not(.cw-name-input), meta, base, link:not([rel=stylesheet]), \
                template, select, marquee, details, math, table, b, i, u, x, isindex, noscript').length;
             const links = [...root.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.rel]);
             const spoofed = document.querySelectorAll('#chat-widget').length;
             return { xss: window.__xss === undefined ? null : window.__xss, injected, links, spoofed };",
            vec![],
        )
        .await;
    assert_eq!(report["xss"], Value::Null, "a payload ran: {report}");
    assert_eq!(report["injected"], 0, "elements were injected: {report}");
    assert_eq!(report["spoofed"], 1);
    for link in report["links"].as_array().unwrap() {
        let href = link[0].as_str().unwrap();
        assert!(href.starts_with("https://") || href.starts_with("http://"), "link {href}");
        assert_eq!(link[1], "noopener noreferrer");
    }
    // Tapping a payload quick reply sends it as text, and still nothing runs.
    browser.widget(".cw-quick .cw-chip").await.click().await.unwrap();
    browser.wait_for("the quick reply sent", "root.querySelectorAll('.cw-mine .cw-state').length > 0").await;
    assert_eq!(browser.js("return window.__xss === undefined;", vec![]).await, Value::Bool(true));
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{errors:#?}");
}
