//! WCAG 2.2 AA as axe-core checks it, on the widget in a real Chromium: panel closed and
//! open (with messages, a card and the email form in it), light and dark, left-to-right and
//! right-to-left; and the widget under a high contrast theme.

use e2e::browser::Browser;
use e2e::host::HostPage;
use e2e::{fresh_site, relay, repo_root};
use protocol::site::{Theme, WidgetSettings};
use protocol::{Card, ClientFrame, ClientMsgId, SafeUrl};
use serde_json::Value;

/// Violations of the WCAG A/AA rules inside the widget, one line each.
async fn axe(browser: &Browser) -> Vec<String> {
    let source = std::fs::read_to_string(repo_root().join("node_modules/axe-core/axe.min.js"))
        .expect("axe-core is installed by scripts/setup");
    browser.js(&format!("{source}\n;return true;"), vec![]).await;
    let script = "const done = arguments[arguments.length - 1];
        axe.run({ include: [['#chat-widget']] },
                { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
          .then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => JSON.stringify(n.target) + ' ' + n.failureSummary).join(' | '))))
          .catch(e => done(['axe failed: ' + e]));";
    let result = browser.client.execute_async(script, vec![]).await.expect("axe ran");
    serde_json::from_value(result).unwrap_or_default()
}

async fn check(theme: Theme, lang: &str) {
    let site = fresh_site();
    relay().agent("Admin").await.put_settings(&site, &WidgetSettings { theme, ..WidgetSettings::default() }).await.unwrap();
    let attributes = format!("data-lang=\"{lang}\"");
    let page = HostPage::serve(&relay().origin, site.as_str(), &attributes).await;
    let browser = Browser::open().await;
    browser.client.goto(&page.url).await.unwrap();
    browser.widget(".cw-mount .cw-launcher").await;
    let closed = axe(&browser).await;
    assert!(closed.is_empty(), "{theme:?} {lang}, closed: {closed:#?}");

    browser.open_widget().await;
    browser.write("Hello, I need help with an order").await;
    browser.wait_for("the message stored", "root.querySelector('.cw-mine[data-seq]')").await;
    browser.widget(".cw-email-form").await;
    let mut agent = relay().agent("Ana").await.join(&browser.conversation(site.as_str()).await, 0).await.unwrap();
    let card = Card::Article {
        title: "Orders".into(),
        summary: "Where is my order?".into(),
        url: SafeUrl::parse("https://help.example.com/orders").unwrap(),
    };
    let frame = ClientFrame::Send {
        client_id: ClientMsgId::parse("card").unwrap(),
        body: "Have a look at this:".into(),
        card: Some(card),
        suggestions: vec!["Thanks".into()],
    };
    agent.post_frame(&ClientMsgId::parse("card").unwrap(), &frame).await.unwrap();
    browser.widget(".cw-card").await;
    let open = axe(&browser).await;
    browser.screenshot(&format!("a11y-{theme:?}-{lang}").to_lowercase()).await;
    assert!(open.is_empty(), "{theme:?} {lang}, open: {open:#?}");
    assert_eq!(browser.js("return true;", vec![]).await, Value::Bool(true));
}

#[tokio::test]
async fn light_left_to_right() {
    check(Theme::Light, "en").await;
}

#[tokio::test]
async fn dark_left_to_right() {
    check(Theme::Dark, "en").await;
}

#[tokio::test]
async fn light_right_to_left() {
    check(Theme::Light, "ar").await;
}

#[tokio::test]
async fn dark_right_to_left() {
    check(Theme::Dark, "ar").await;
}

/// High contrast themes (Windows' forced colours) paint every background in the theme's one
/// colour: whatever only a background outlined (the launcher and its bubble, the panel over the
/// page, a message, the Send and close buttons) has to be outlined again, or it is not seen.
#[tokio::test]
async fn a_high_contrast_theme_still_shows_the_launcher_messages_and_buttons() {
    let site = fresh_site();
    let page = HostPage::serve(&relay().origin, site.as_str(), "").await;
    let browser = Browser::open().await;
    browser.emulate_media_feature("forced-colors", "active").await;
    browser.client.goto(&page.url).await.unwrap();
    browser.widget(".cw-mount .cw-launcher").await;
    let launcher = browser
        .wait_for(
            "the launcher",
            "(() => { const l = root.querySelector('.cw-mount .cw-launcher'), s = getComputedStyle(l), icon = getComputedStyle(l, '::before');
                      return [s.outlineStyle, s.outlineWidth, icon.backgroundColor === s.color]; })()",
        )
        .await;
    assert_eq!(launcher, serde_json::json!(["solid", "2px", true]), "the launcher outlined, its bubble in the button text colour");

    browser.open_widget().await;
    browser.write("Hello").await;
    browser.wait_for("the message stored", "root.querySelector('.cw-mine[data-seq]')").await;
    let outlined = ".cw-panel, .cw-mine .cw-body, .cw-send, .cw-close";
    let borders = browser
        .wait_for("the panel's parts", &format!("Array.from(root.querySelectorAll('{outlined}'), e => getComputedStyle(e).borderTopStyle + ' ' + getComputedStyle(e).borderTopWidth)"))
        .await;
    assert_eq!(borders, serde_json::json!(["solid 1px", "solid 1px", "solid 1px", "solid 1px"]), "{outlined}");
    browser.screenshot("a11y-forced-colors").await;
}

