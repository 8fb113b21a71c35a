//! The right panel: who the visitor is, where they came from, and their earlier conversations.

use crate::api;
use crate::browser;
use crate::live::conversation::Conversation;
use crate::state::words::status_label;
use leptos::prelude::*;
use protocol::inbox::InboxEntry;
use protocol::SafeUrl;

#[component]
pub fn ContactPanel(conversation: Conversation) -> impl IntoView {
    let desk = conversation.desk;
    let id = StoredValue::new(conversation.id());
    let contact = Memo::new(move |_| conversation.info.with(|i| i.contact.clone()));
    let entry = Memo::new(move |_| desk.inbox.with(|i| i.get(&id.get_value()).cloned()));
    let fact = move |f: fn(&InboxEntry) -> Option<String>| move || entry.with(|e| e.as_ref().and_then(f));
    let page_url = fact(|e| e.page_url.clone());
    let browser_name = fact(|e| e.browser.clone());
    let started = fact(|e| Some(browser::local_time(e.created_at)));

    // Earlier conversations of the same email, loaded when the email is known (or changes).
    let email = Memo::new(move |_| contact.with(|c| c.email.clone()));
    let earlier = RwSignal::new(None::<Result<Vec<InboxEntry>, String>>);
    Effect::new(move |_| {
        let Some(email) = email.get() else {
            earlier.set(None);
            return;
        };
        let site = desk.site();
        let current = id.get_value();
        leptos::task::spawn_local(async move {
            let loaded = desk.session.settle(api::contact_conversations(&site, &email).await).map(|inbox| {
                inbox.conversations.into_iter().filter(|e| e.conversation_id != current).collect()
            });
            earlier.set(Some(loaded));
        });
    });

    let row = move |e: InboxEntry| {
        let target = e.conversation_id.clone();
        let preview = if e.preview.is_empty() { "No messages".to_owned() } else { e.preview.clone() };
        view! {
            <li>
                <button type="button" class="earlier" on:click=move |_| desk.open_conversation(target.clone())>
                    <span class="earlier-top">
                        <span>{browser::local_time(e.created_at)}</span>
                        <span class="status-pill">{status_label(e.status)}</span>
                    </span>
                    <span class="row-preview">{preview}</span>
                </button>
            </li>
        }
    };

    view! {
        <aside class="contact" aria-labelledby="contact-title" data-testid="contact-panel">
            <h2 id="contact-title" class="panel-title">"Contact"</h2>
            <dl class="facts">
                <dt>"Name"</dt>
                <dd>{move || contact.with(|c| c.name.clone()).unwrap_or_else(|| "Not given".into())}</dd>
                <dt>"Email"</dt>
                <dd>{move || email.get().map_or_else(|| "Not given".into(), |e| e.to_string())}</dd>
                <dt>"Page"</dt>
                <dd class="break">
                    {move || match page_url() {
                        // A link only when the address is a safe http(s) URL; otherwise text.
                        Some(url) => match SafeUrl::parse(&url) {
                            Ok(safe) => view! {
                                <a href=safe.to_string() target="_blank" rel="noopener noreferrer">{safe.to_string()}</a>
                            }
                            .into_any(),
                            Err(_) => view! { <span>{url}</span> }.into_any(),
                        },
                        None => view! { <span>"Unknown"</span> }.into_any(),
                    }}
                </dd>
                <dt>"Browser"</dt>
                <dd>{move || browser_name().unwrap_or_else(|| "Unknown".into())}</dd>
                <dt>"Started"</dt>
                <dd>{move || started().unwrap_or_else(|| "Unknown".into())}</dd>
            </dl>
            <section class="earlier-list" aria-labelledby="earlier-title" data-testid="earlier-conversations">
                <h3 id="earlier-title" class="panel-subtitle">"Earlier conversations"</h3>
                {move || match earlier.get() {
                    None if email.with(Option::is_none) => {
                        view! { <p class="muted">"Without an email address, earlier conversations cannot be found."</p> }.into_any()
                    }
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(Err(why)) => view! { <p class="form-error">{why}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"None."</p> }.into_any(),
                    Some(Ok(list)) => view! { <ul class="earlier-items">{list.into_iter().map(row).collect_view()}</ul> }.into_any(),
                }}
            </section>
        </aside>
    }
}
