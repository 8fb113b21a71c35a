//! What a reply can carry besides its text: an article card, a link button, suggested replies.
//! Checked here with the protocol's own rules, so the relay never has to refuse them.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use protocol::content::validate_suggestions;
use protocol::{Card, SafeUrl};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub card: Option<Card>,
    pub suggestions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardKind {
    None,
    Article,
    Link,
}

/// The panel's inputs, as typed.
#[derive(Clone, Copy)]
struct Fields {
    kind: RwSignal<CardKind>,
    title: RwSignal<String>,
    summary: RwSignal<String>,
    label: RwSignal<String>,
    url: RwSignal<String>,
    suggestions: RwSignal<String>,
}

impl Fields {
    fn new() -> Fields {
        Fields {
            kind: RwSignal::new(CardKind::None),
            title: RwSignal::new(String::new()),
            summary: RwSignal::new(String::new()),
            label: RwSignal::new(String::new()),
            url: RwSignal::new(String::new()),
            suggestions: RwSignal::new(String::new()),
        }
    }

    /// Shows what is attached now, to change it.
    fn fill(&self, attachment: &Attachment) {
        let (kind, title, summary, label, url) = match &attachment.card {
            None => (CardKind::None, "", "", "", String::new()),
            Some(Card::Article { title, summary, url }) => (CardKind::Article, title.as_str(), summary.as_str(), "", url.to_string()),
            Some(Card::Link { label, url }) => (CardKind::Link, "", "", label.as_str(), url.to_string()),
        };
        self.kind.set(kind);
        self.title.set(title.to_owned());
        self.summary.set(summary.to_owned());
        self.label.set(label.to_owned());
        self.url.set(url);
        self.suggestions.set(attachment.suggestions.join("\n"));
    }

    fn attachment(&self) -> Result<Attachment, String> {
        let url = || SafeUrl::parse(&self.url.get_untracked()).map_err(|e| e.message);
        let card = match self.kind.get_untracked() {
            CardKind::None => None,
            CardKind::Article => Some(Card::Article {
                title: self.title.get_untracked(),
                summary: self.summary.get_untracked(),
                url: url()?,
            }),
            CardKind::Link => Some(Card::Link { label: self.label.get_untracked(), url: url()? }),
        };
        let card = card.map(Card::validated).transpose().map_err(|e| e.message)?;
        let suggestions: Vec<String> = self
            .suggestions
            .get_untracked()
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let suggestions = validate_suggestions(suggestions).map_err(|e| e.message)?;
        Ok(Attachment { card, suggestions })
    }
}

fn input(id: &'static str, label: &'static str, value: RwSignal<String>, kind: &'static str) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id type=kind data-testid=id prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
    }
}

#[component]
pub fn Attach(attachment: RwSignal<Attachment>, #[prop(into)] disabled: Signal<bool>) -> impl IntoView {
    let open = RwSignal::new(false);
    let fields = Fields::new();
    let error = RwSignal::new(None::<String>);
    let toggle = move |_| {
        if !open.get_untracked() {
            fields.fill(&attachment.get_untracked());
            error.set(None);
        }
        open.update(|o| *o = !*o);
    };
    let button = NodeRef::<leptos::html::Button>::new();
    let attach = move || match fields.attachment() {
        Ok(attached) => {
            attachment.set(attached);
            open.set(false);
            // The field that had focus is hidden now.
            if let Some(button) = button.get_untracked() {
                let _ = button.focus();
            }
        }
        Err(why) => error.set(Some(why)),
    };
    let add = move |_| attach();
    let kind_choice = move |kind: CardKind, label: &'static str, id: &'static str| {
        view! {
            <label class="choice" for=id>
                <input
                    type="radio"
                    id=id
                    name="attach-kind"
                    prop:checked=move || fields.kind.get() == kind
                    on:change=move |_| fields.kind.set(kind)
                />
                {label}
            </label>
        }
    };
    let attached = move || {
        attachment.with(|a| {
            let card = a.card.as_ref().map(|card| match card {
                Card::Article { title, .. } => format!("Article: {title}"),
                Card::Link { label, .. } => format!("Link: {label}"),
            });
            let suggestions = (!a.suggestions.is_empty()).then(|| format!("Suggested replies: {}", a.suggestions.join(", ")));
            card.into_iter().chain(suggestions).collect::<Vec<_>>()
        })
    };

    view! {
        <div class="attach" on:keydown=move |ev| {
            if !open.get_untracked() {
                return;
            }
            // Enter in one of the panel's one-line fields attaches, as the panel's button
            // does: the fields sit in the composer's form, which would send the reply
            // without the card.
            let one_line = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).is_some_and(|i| i.type_() != "radio");
            match ev.key().as_str() {
                "Escape" => open.set(false),
                "Enter" if one_line => {
                    ev.prevent_default();
                    attach();
                }
                _ => {}
            }
        }>
            <button
                type="button"
                class="quiet"
                data-testid="attach"
                node_ref=button
                aria-expanded=move || if open.get() { "true" } else { "false" }
                aria-controls="attach-panel"
                disabled=move || disabled.get()
                on:click=toggle
            >
                "Attach"
            </button>
            <ul class="attached" aria-label="Attached to the reply">
                {move || attached().into_iter().map(|what| view! { <li class="chip">{what}</li> }).collect_view()}
            </ul>
            <Show when=move || attachment.with(|a| *a != Attachment::default())>
                <button type="button" class="link" on:click=move |_| attachment.set(Attachment::default())>
                    "Remove attachments"
                </button>
            </Show>
            <div id="attach-panel" class="attach-panel" role="group" aria-label="Attach to the reply" hidden=move || !open.get()>
                <fieldset class="choices">
                    <legend>"Card"</legend>
                    {kind_choice(CardKind::None, "None", "attach-none")}
                    {kind_choice(CardKind::Article, "Article", "attach-article")}
                    {kind_choice(CardKind::Link, "Link button", "attach-link")}
                </fieldset>
                <div class="attach-fields" hidden=move || fields.kind.get() != CardKind::Article>
                    {input("attach-title", "Title", fields.title, "text")}
                    <label for="attach-summary">"Summary"</label>
                    <textarea
                        id="attach-summary"
                        data-testid="attach-summary"
                        rows="2"
                        prop:value=move || fields.summary.get()
                        on:input=move |ev| fields.summary.set(event_target_value(&ev))
                    ></textarea>
                </div>
                <div class="attach-fields" hidden=move || fields.kind.get() != CardKind::Link>
                    {input("attach-label", "Button label", fields.label, "text")}
                </div>
                <div class="attach-fields" hidden=move || fields.kind.get() == CardKind::None>
                    {input("attach-url", "Link (https://…)", fields.url, "url")}
                </div>
                <label for="attach-suggestions">"Suggested replies"</label>
                <textarea
                    id="attach-suggestions"
                    data-testid="attach-suggestions"
                    rows="2"
                    aria-describedby="attach-suggestions-hint"
                    prop:value=move || fields.suggestions.get()
                    on:input=move |ev| fields.suggestions.set(event_target_value(&ev))
                ></textarea>
                <p id="attach-suggestions-hint" class="hint">"Separate them with commas or new lines. The visitor taps one to answer."</p>
                {move || error.get().map(|why| view! { <p class="form-error" role="alert">{why}</p> })}
                <div class="form-actions">
                    <button type="button" class="primary" data-testid="attach-add" on:click=add>"Attach to reply"</button>
                    <button type="button" class="quiet" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </div>
        </div>
    }
}
