//! A customer's site: a page on its own origin that embeds the widget with one tag, served
//! with the strict Content-Security-Policy a careful site owner would set. The outside edge
//! of the system, so a fake: the simplest HTTP server that answers every path with the page.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct HostPage {
    pub url: String,
}

/// What the page's CSP allows: itself and the relay, and wasm compilation; nothing inline.
pub fn strict_csp(relay: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' {relay} 'wasm-unsafe-eval'; style-src 'self' {relay}; \
         connect-src 'self' {relay} {ws}; img-src 'self' data:; base-uri 'none'; form-action 'none'",
        ws = relay.replacen("http", "ws", 1)
    )
}

impl HostPage {
    /// Serves a page embedding the widget for `site`, with `attributes` added to the tag
    /// (e.g. `data-lang="ar"`) and `extra` HTML in the body (an external script, say).
    pub async fn serve(relay: &str, site: &str, attributes: &str) -> HostPage {
        Self::serve_with_script(relay, site, attributes, "").await
    }

    /// Also serves `/site.js` with `script` (the site's own code, e.g. `ChatWidget` calls),
    /// loaded before the embed tag, as a site would.
    pub async fn serve_with_script(relay: &str, site: &str, attributes: &str, script: &str) -> HostPage {
        let embed = format!("<script async src=\"{relay}/embed.js\" data-site=\"{site}\" {attributes}></script>");
        Self::serve_html(page_html(&embed), script.to_owned(), strict_csp(relay)).await
    }

    /// The same page without the widget: what the page costs by itself.
    pub async fn serve_without_widget(relay: &str) -> HostPage {
        Self::serve_html(page_html(""), String::new(), strict_csp(relay)).await
    }

    pub async fn serve_html(html: String, script: String, csp: String) -> HostPage {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind host page");
        let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let (html, script, csp) = (html.clone(), script.clone(), csp.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (kind, body) = if request.starts_with(b"GET /site.js") {
                        ("text/javascript", script)
                    } else {
                        ("text/html; charset=utf-8", html)
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Security-Policy: {csp}\r\n\
                         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                });
            }
        });
        HostPage { url }
    }
}

/// The customer's page, with `embed` (the widget's tag, or nothing) at the end of its body.
fn page_html(embed: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>A customer's shop</title>\
         <link rel=\"icon\" href=\"data:,\"></head>\
         <body><main><h1>A customer's shop</h1><p>Some page content.</p><button type=\"button\">Buy</button></main>\
         <script src=\"/site.js\"></script>{embed}</body></html>"
    )
}

/// A visitor on a customer's page for `site` (its widget talking to `relay`: the relay, or a
/// network in front of it) who opens the chat and writes `text`; returns once it is stored.
pub async fn visitor_writes(
    relay: &str,
    site: &protocol::SiteId,
    text: &str,
) -> (crate::browser::Browser, HostPage, protocol::ConversationId) {
    let page = HostPage::serve(relay, site.as_str(), "").await;
    let browser = crate::browser::Browser::open().await;
    browser.client.goto(&page.url).await.expect("open the customer's page");
    browser.open_widget().await;
    browser.write(text).await;
    browser.wait_for_texts(".cw-mine .cw-state", &["Sent"]).await;
    let conversation = browser.conversation(site.as_str()).await;
    (browser, page, conversation)
}
