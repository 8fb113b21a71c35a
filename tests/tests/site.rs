//! A site on the real relay: its widget settings, and agents' presence as the widget sees it.

use e2e::{fresh_site, relay};
use protocol::site::{EmailCapture, QuickAction, QuickReply, WidgetSettings};
use protocol::{ClientFrame, ErrorCode, ServerFrame, SiteId};

async fn availability(connection: &mut agent::Connection) -> bool {
    match connection.next().await.unwrap() {
        ServerFrame::Availability { agents_online } => agents_online,
        other => panic!("expected availability, got {other:?}"),
    }
}

/// An open widget's connection to its site, and what it says on opening: whether anyone is
/// online, and the widget's settings.
async fn site_connection(site: &SiteId) -> (agent::Connection, bool, WidgetSettings) {
    let mut widget = relay().visitor().availability(site).await.unwrap();
    let online = availability(&mut widget).await;
    match widget.next().await.unwrap() {
        ServerFrame::WidgetSettings { settings } => (widget, online, settings),
        other => panic!("expected the widget's settings, got {other:?}"),
    }
}

#[tokio::test]
async fn the_widget_learns_availability_on_open_and_live_while_open() {
    let site = fresh_site();
    let visitor = relay().visitor();
    assert!(!visitor.view(&site).await.unwrap().agents_online, "agents are offline by default");
    let (mut widget, online, settings) = site_connection(&site).await;
    assert!(!online);
    assert_eq!(settings, WidgetSettings::default());

    // Connected is not online: the agent says so.
    let ana = relay().agent("Ana").await;
    let online = ana.go_online(&site).await.unwrap();
    assert!(availability(&mut widget).await);
    assert!(visitor.view(&site).await.unwrap().agents_online);

    // A second agent going online changes nothing the widget needs to hear.
    let bo = relay().agent("Bo").await.go_online(&site).await.unwrap();
    bo.close().await;
    // Ana leaves: her connection closes, nobody is online.
    online.close().await;
    assert!(!availability(&mut widget).await, "exactly one change announced per transition");
    assert!(!visitor.view(&site).await.unwrap().agents_online);
}

#[tokio::test]
async fn going_offline_is_announced() {
    let site = fresh_site();
    let (mut widget, online, _) = site_connection(&site).await;
    assert!(!online);
    let mut ana = relay().agent("Ana").await.go_online(&site).await.unwrap();
    assert!(availability(&mut widget).await);
    ana.send_frame(&ClientFrame::SetStatus { online: false }).await.unwrap();
    assert!(!availability(&mut widget).await);
    // The widget's connection carries no commands.
    widget.send_frame(&ClientFrame::SetStatus { online: true }).await.unwrap();
    assert!(matches!(widget.next().await.unwrap(), ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
}

#[tokio::test]
async fn settings_are_stored_checked_and_served_to_the_widget() {
    let site = fresh_site();
    let defaults = relay().visitor().view(&site).await.unwrap().settings;
    assert_eq!(defaults, WidgetSettings::default());
    // A widget open meanwhile hears what is saved at once.
    let (mut open_widget, _, _) = site_connection(&site).await;

    let settings = WidgetSettings {
        title: "Talk to Demo".into(),
        color: "#AA3300".into(),
        email_capture: EmailCapture::PreChat,
        async_mode: false,
        quick_replies: vec![QuickReply { label: "Pricing".into(), action: QuickAction::Send { text: "How much?".into() } }],
        ..WidgetSettings::default()
    };
    let stored = relay().agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    assert_eq!(stored.color, "#aa3300", "normalised");
    assert_eq!(relay().visitor().view(&site).await.unwrap().settings, stored);
    assert_eq!(open_widget.next().await.unwrap(), ServerFrame::WidgetSettings { settings: stored.clone() });
    assert_eq!(site_connection(&site).await.2, stored, "a widget opened later has them on opening");

    let bad = WidgetSettings { color: "red".into(), ..settings };
    let refused = relay().agent("Admin").await.put_settings(&site, &bad).await.unwrap_err();
    let refused = refused.downcast::<agent::HttpError>().unwrap();
    assert_eq!((refused.status, refused.error.unwrap().code), (400, ErrorCode::InvalidContent));
    // Refused settings reach nobody: the next thing the open widget hears is its ping's answer.
    open_widget.send_text(ClientFrame::PING_TEXT).await.unwrap();
    assert_eq!(open_widget.next().await.unwrap(), ServerFrame::Pong);

    let anonymous = reqwest::Client::new()
        .put(format!("{}/api/agent/sites/{site}/settings", relay().origin))
        .json(&WidgetSettings::default())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_site_that_lists_its_origins_can_only_be_embedded_there() {
    let site = fresh_site();
    let settings = WidgetSettings { allowed_origins: vec!["https://shop.example".into()], ..WidgetSettings::default() };
    relay().agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    let start = |origin: &'static str| {
        let site = site.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{}/api/sites/{site}/conversations", relay().origin))
                .header("Origin", origin)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = start("https://evil.example").await;
    assert_eq!(refused.status(), 403);
    let body: protocol::http::ErrorBody = refused.json().await.unwrap();
    assert_eq!(body.error.code, ErrorCode::Forbidden);
    let started: protocol::http::ConversationStarted = start("https://shop.example").await.json().await.unwrap();

    // The WebSockets too: a browser on another page cannot use a token it got hold of.
    let url = format!("{}{}", relay().ws_origin(), protocol::http::visitor_connect_path(&started.token, 0));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    request.headers_mut().insert("Origin", "https://evil.example".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    use futures_util::StreamExt;
    let frame = socket.next().await.unwrap().unwrap();
    let frame = protocol::ServerFrame::decode(frame.to_text().unwrap()).unwrap();
    assert!(matches!(frame, ServerFrame::Error { code: ErrorCode::Forbidden, .. }), "{frame:?}");
    let mut allowed = relay().visitor().connect(&started.token, 0).await.unwrap();
    assert!(matches!(allowed.next().await.unwrap(), ServerFrame::Welcome { .. }));
}
