//! The unread-reply email: what it says, and how it leaves.
//!
//! Two senders: Cloudflare's `send_email` binding (locally, `wrangler dev` writes each email to
//! a file), or, when `MAIL_API_URL` is set, an HTTP mail API taking a JSON body
//! `{from, to, reply_to, subject, text, html}` with `Authorization: Bearer MAIL_API_KEY`.

use protocol::{Author, Message};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, SendEmailBuilder};

/// An email ready to send.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Email {
    pub from: String,
    pub to: String,
    pub reply_to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What goes into the email besides the messages.
pub struct Context<'a> {
    pub site_name: &'a str,
    pub visitor_name: Option<&'a str>,
    pub visitor_last: Option<&'a str>,
    pub resume_link: &'a str,
    pub fallback_link: &'a str,
    pub unsubscribe_link: &'a str,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn author(message: &Message) -> &str {
    match &message.author {
        Author::Agent { name, .. } => name.as_str(),
        Author::Visitor => "You",
    }
}

fn text_of(message: &Message) -> String {
    match &message.card {
        Some(protocol::Card::Article { title, url, .. }) => format!("{} [{title}: {url}]", message.body).trim().to_owned(),
        Some(protocol::Card::Link { label, url }) => format!("{} [{label}: {url}]", message.body).trim().to_owned(),
        None => message.body.clone(),
    }
}

/// The subject, plain text and HTML of an email about `unread` agent messages.
pub fn compose(unread: &[Message], context: &Context) -> (String, String, String) {
    let count = unread.len();
    let subject = format!("{}: {} new {}", context.site_name, count, if count == 1 { "reply" } else { "replies" });
    let greeting = match context.visitor_name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    };

    let mut text = format!("{greeting}\n\n{} replied to your chat:\n\n", context.site_name);
    for message in unread {
        text.push_str(&format!("{}: {}\n\n", author(message), text_of(message)));
    }
    if let Some(last) = context.visitor_last {
        text.push_str(&format!("(You wrote: \"{last}\")\n\n"));
    }
    text.push_str(&format!(
        "Continue the conversation: {}\nOr open it here: {}\nOr simply reply to this email.\n\n\
         Stop emails about this conversation: {}\n",
        context.resume_link, context.fallback_link, context.unsubscribe_link
    ));

    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif;line-height:1.5\"><p>{}</p><p>{} replied to your chat:</p>",
        escape(&greeting),
        escape(context.site_name)
    );
    for message in unread {
        html.push_str(&format!(
            "<p><strong>{}</strong><br>{}</p>",
            escape(author(message)),
            escape(&text_of(message)).replace('\n', "<br>")
        ));
    }
    if let Some(last) = context.visitor_last {
        html.push_str(&format!("<p style=\"color:#555\">You wrote: “{}”</p>", escape(last)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">Continue the conversation</a> · <a href=\"{}\">open it here</a>, or simply reply to this email.</p>\
         <p style=\"font-size:12px;color:#555\"><a href=\"{}\">Stop emails about this conversation</a></p></body></html>",
        escape(context.resume_link),
        escape(context.fallback_link),
        escape(context.unsubscribe_link)
    ));
    (subject, text, html)
}

/// Sends `email` through the configured sender. `Err` carries a reason for the agent.
pub async fn send(env: &Env, email: &Email) -> Result<(), String> {
    let api = env.var("MAIL_API_URL").map(|v| v.to_string()).ok().filter(|v| !v.is_empty());
    match api {
        Some(url) => send_by_api(env, &url, email).await,
        None => {
            let binding = env.send_email("EMAIL").map_err(|e| format!("no email binding: {e}"))?;
            let message = SendEmailBuilder::builder(&email.from, &email.to, &email.subject)
                .reply_to(&email.reply_to)
                .text(&email.text)
                .html(&email.html)
                .build();
            binding.send_with_builder(&message).await.map(|_| ()).map_err(|e| format!("send_email failed: {e:?}"))
        }
    }
}

async fn send_by_api(env: &Env, url: &str, email: &Email) -> Result<(), String> {
    let key = env.var("MAIL_API_KEY").map(|v| v.to_string()).unwrap_or_default();
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("Authorization", &format!("Bearer {key}"));
    let body = serde_json::to_string(email).map_err(|e| e.to_string())?;
    let request = Request::new_with_init(
        url,
        RequestInit::new().with_method(Method::Post).with_headers(headers).with_body(Some(body.into())),
    )
    .map_err(|e| e.to_string())?;
    let response = Fetch::Request(request).send().await.map_err(|e| format!("mail API unreachable: {e}"))?;
    match response.status_code() {
        200..=299 => Ok(()),
        status => Err(format!("mail API answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AgentName, ClientMsgId};

    #[test]
    fn the_email_lists_every_unread_message_and_escapes_html() {
        let agent = |seq, body: &str| Message {
            seq,
            client_id: ClientMsgId::parse(&format!("c{seq}")).unwrap(),
            author: Author::Agent { name: AgentName::parse("Ana").unwrap(), id: None },
            body: body.into(),
            card: None,
            suggestions: vec![],
            sent_at: 0,
            note: false,
            edited: false,
            deleted: false,
        };
        let context = Context {
            site_name: "Demo <shop>",
            visitor_name: Some("Kim"),
            visitor_last: Some("Where is my order?"),
            resume_link: "https://shop.example/#chat-resume=t",
            fallback_link: "https://chat.example/resume.html#chat-resume=t",
            unsubscribe_link: "https://chat.example/api/email/unsubscribe?token=t",
        };
        let (subject, text, html) = compose(&[agent(2, "It shipped."), agent(3, "<b>Tomorrow</b>")], &context);
        assert_eq!(subject, "Demo <shop>: 2 new replies");
        assert!(text.contains("Ana: It shipped.") && text.contains("Ana: <b>Tomorrow</b>"));
        assert!(text.contains("https://shop.example/#chat-resume=t"));
        assert!(html.contains("&lt;b&gt;Tomorrow&lt;/b&gt;") && !html.contains("<b>Tomorrow"));
        assert!(html.contains("Demo &lt;shop&gt;"));
    }
}
