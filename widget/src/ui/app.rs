//! The frame: launcher, panel, and what goes at the bottom of the panel (the composer, the
//! pre-chat form, or the site's fallback when nobody can answer).

use super::chips::{buttons, Chip};
use super::composer::Composer;
use super::email_form::EmailForm;
use super::launcher::Launcher;
use super::messages::MessageList;
use super::quick_replies::QuickReplies;
use super::refocus;
use crate::chat::{Chat, LinkStatus};
use crate::reactive::effect;
use leptos::html;
use leptos::prelude::*;
use protocol::site::{EmailCapture, Position, Theme};
use protocol::Status;
use wasm_bindgen::JsCast;

/// Black or white, whichever reads better on the site's colour (WCAG contrast). The browser's
/// `Math.pow`: Rust's `powf` would bring 1.7 KB of its own.
fn text_on(color: &str) -> &'static str {
    let channel = |i: usize| {
        let c = u8::from_str_radix(color.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64 / 255.0;
        if c <= 0.03928 { c / 12.92 } else { js_sys::Math::pow((c + 0.055) / 1.055, 2.4) }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white is 1.05 / (L + 0.05); with black (L + 0.05) / 0.05.
    if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 { "#ffffff" } else { "#111111" }
}

#[component]
pub fn App(chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    let open = chat.open;
    let root: NodeRef<html::Div> = NodeRef::new();
    let panel: NodeRef<html::Section> = NodeRef::new();
    let launcher: NodeRef<html::Button> = NodeRef::new();

    // The site's colour, through CSSOM (allowed under a strict CSP, unlike style attributes).
    effect(move || {
        let color = chat.settings.with(|s| s.color.clone());
        if let Some(root) = root.get() {
            let style = web_sys::HtmlElement::style(&root);
            let _ = style.set_property("--cw-accent", &color);
            let _ = style.set_property("--cw-accent-text", text_on(&color));
        }
    });
    // Opening moves focus into the panel (again when what is at the bottom changes, e.g. the
    // pre-chat form gives way to the composer); closing returns it to the launcher.
    let knows_email = Memo::new(move |_| chat.contact.with(|c| c.email.is_some()));
    let mut was_open = false;
    effect(move || {
        let is_open = open.get();
        chat.ready.track();
        knows_email.track();
        if is_open {
            request_animation_frame(move || {
                let target = panel.get_untracked().and_then(|p| p.query_selector("[data-autofocus]").ok().flatten());
                if let Some(target) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                    let _ = target.focus();
                }
            });
        } else if was_open {
            if let Some(button) = launcher.get_untracked() {
                let _ = button.focus();
            }
        }
        was_open = is_open;
    });

    let classes = move || {
        chat.settings.with(|s| {
            let theme = match s.theme {
                Theme::Auto => "cw-auto",
                Theme::Light => "cw-light",
                Theme::Dark => "cw-dark",
            };
            let side = if s.position == Position::Left { " cw-left" } else { "" };
            let state = if open.get() { " cw-open" } else { "" };
            format!("cw {theme}{side}{state}")
        })
    };
    let subtitle = move || {
        let online = chat.agents_online.get();
        match chat.settings.with(|s| s.reply_time_minutes) {
            Some(1) if online => strings.reply_time_one().to_owned(),
            Some(minutes) if online => strings.reply_time().replace("{n}", &minutes.to_string()),
            _ if online => strings.agents_online().to_owned(),
            _ => String::new(),
        }
    };
    let link_state = move || match chat.link.get() {
        LinkStatus::Reconnecting => strings.reconnecting(),
        LinkStatus::Connecting if chat.thread.with(|t| !t.entries().is_empty()) => strings.connecting(),
        _ => "",
    };

    view! {
        <div node_ref=root class=classes dir=if strings.rtl { "rtl" } else { "ltr" } lang=strings.lang>
            <section
                node_ref=panel
                id="cw-panel"
                class="cw-panel"
                role="dialog"
                aria-labelledby="cw-title"
                hidden=move || !open.get()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        open.set(false);
                    }
                }
            >
                <header class="cw-header">
                    <div class="cw-heading">
                        <h2 id="cw-title" class="cw-title">{move || chat.settings.with(|s| s.title.clone())}</h2>
                        <p class="cw-subtitle">{subtitle}</p>
                    </div>
                    <p class="cw-link-state" role="status">{link_state}</p>
                    <DeleteButton chat=chat/>
                    <button class="cw-close" type="button" aria-label=strings.close_chat() on:click=move |_| open.set(false)>
                        <span aria-hidden="true">"×"</span>
                    </button>
                </header>
                <MessageList chat=chat/>
                <Bottom chat=chat/>
            </section>
            <Launcher chat=chat node_ref=launcher/>
            <div class="cw-sr" aria-live="polite" aria-atomic="true">{move || chat.announcement.get()}</div>
        </div>
    }
}

/// "Delete conversation", with a second step to confirm, while there is one to delete.
#[component]
fn DeleteButton(chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    let confirming = RwSignal::new(false);
    let has_conversation = Memo::new(move |_| chat.link.get() == LinkStatus::Connected);
    let action = move |class, label: &str, next: &'static str, confirm: Option<bool>| Chip {
        class,
        label: label.to_owned(),
        pick: Box::new(move |ev| {
            refocus(ev, next);
            match confirm {
                Some(ask) => confirming.set(ask),
                None => {
                    confirming.set(false);
                    chat.delete_my_data();
                }
            }
        }),
    };
    move || {
        buttons(match (has_conversation.get(), confirming.get()) {
            (false, _) => Vec::new(),
            (true, true) => vec![
                action("cw-header-action cw-confirm-delete", strings.confirm_delete(), ".cw-input", None),
                action("cw-header-action", strings.cancel(), ".cw-delete", Some(false)),
            ],
            (true, false) => vec![action("cw-header-action cw-delete", strings.delete_conversation(), ".cw-confirm-delete", Some(true))],
        })
        .into_any()
    }
}

/// What sits at the bottom of the panel. A memo, so the composer (and a half-typed draft
/// and focus in it) survives every message that arrives.
#[derive(Clone, PartialEq)]
enum BottomKind {
    Nothing,
    Fallback(protocol::site::Fallback),
    PreChat,
    Composer,
}

/// What the visitor can do at the bottom of the panel.
#[component]
fn Bottom(chat: &'static Chat) -> impl IntoView {
    let kind = Memo::new(move |_| {
        let (async_mode, capture, fallback) = chat.settings.with(|s| (s.async_mode, s.email_capture, s.fallback.clone()));
        let started = chat.has_session() || chat.thread.with(|t| !t.entries().is_empty());
        if !chat.ready.get() || chat.view.with(|v| v.status) == Status::Blocked {
            BottomKind::Nothing
        } else if !chat.agents_online.get() && !async_mode {
            BottomKind::Fallback(fallback)
        } else if capture == EmailCapture::PreChat && chat.contact.with(|c| c.email.is_none()) && !started {
            BottomKind::PreChat
        } else {
            BottomKind::Composer
        }
    });
    move || match kind.get() {
        BottomKind::Nothing => ().into_any(),
        BottomKind::Fallback(fallback) => view! {
            <div class="cw-fallback" role="status">
                <p>{fallback.message}</p>
                {fallback.link.map(|url| {
                    let label = fallback.link_label.unwrap_or_else(|| url.to_string());
                    view! { <a class="cw-button" href=url.to_string() target="_blank" rel="noopener noreferrer" data-autofocus="">{label}</a> }
                })}
            </div>
        }
        .into_any(),
        BottomKind::PreChat => view! { <EmailForm chat=chat prechat=true/> }.into_any(),
        BottomKind::Composer => view! {
            <QuickReplies chat=chat/>
            <Composer chat=chat/>
        }
        .into_any(),
    }
}
