//! The frame: launcher, panel, and what goes at the bottom of the panel (the composer, the
//! pre-chat form, or the site's fallback when nobody can answer).

use super::chips::{buttons, Chip};
use super::composer::composer;
use super::dom::{attr, attrs, bind_attr, bind_text, draw_for_good, link, on, slot, tag, tag_text};
use super::email_form::email_form;
use super::launcher::launcher;
use super::messages::message_list;
use super::quick_replies::quick_replies;
use super::refocus;
use crate::chat::{Chat, LinkStatus};
use crate::reactive::effect;
use leptos::prelude::*;
use protocol::site::{EmailCapture, Position, Theme};
use protocol::Status;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent, Node};

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

/// Draws the widget into `parent`, for as long as the page lives.
pub fn app(parent: &Node, chat: &'static Chat) {
    draw_for_good(|| {
        let strings = chat.strings;
        let open = chat.open;
        let root: HtmlElement = tag(parent, "div", "").unchecked_into();
        attrs(&root, &[("dir", if strings.rtl { "rtl" } else { "ltr" }), ("lang", strings.lang)]);
        bind_attr(&root, "class", move || {
            Some(chat.settings.with(|s| {
                let theme = match s.theme {
                    Theme::Auto => "cw-auto",
                    Theme::Light => "cw-light",
                    Theme::Dark => "cw-dark",
                };
                let side = if s.position == Position::Left { " cw-left" } else { "" };
                let state = if open.get() { " cw-open" } else { "" };
                format!("cw {theme}{side}{state}")
            }))
        });
        // The site's colour, through CSSOM (allowed under a strict CSP, unlike style attributes).
        effect({
            let root = root.clone();
            move || {
                let color = chat.settings.with(|s| s.color.clone());
                let style = root.style();
                let _ = style.set_property("--cw-accent", &color);
                let _ = style.set_property("--cw-accent-text", text_on(&color));
            }
        });

        let panel = tag(&root, "section", "cw-panel");
        attrs(&panel, &[("id", "cw-panel"), ("role", "dialog"), ("aria-labelledby", "cw-title")]);
        bind_attr(&panel, "hidden", move || (!open.get()).then(String::new));
        on(&panel, "keydown", move |ev| {
            if ev.unchecked_ref::<KeyboardEvent>().key() == "Escape" {
                open.set(false);
            }
        });
        let header = tag(&panel, "header", "cw-header");
        let heading = tag(&header, "div", "cw-heading");
        let title = tag(&heading, "h2", "cw-title");
        attr(&title, "id", Some("cw-title"));
        bind_text(&title, move || chat.settings.with(|s| s.title.clone()));
        bind_text(&tag(&heading, "p", "cw-subtitle"), move || {
            let online = chat.agents_online.get();
            match chat.settings.with(|s| s.reply_time_minutes) {
                Some(1) if online => strings.reply_time_one().to_owned(),
                Some(minutes) if online => strings.reply_time().replace("{n}", &minutes.to_string()),
                _ if online => strings.agents_online().to_owned(),
                _ => String::new(),
            }
        });
        let link_state = tag(&header, "p", "cw-link-state");
        attr(&link_state, "role", Some("status"));
        bind_text(&link_state, move || {
            match chat.link.get() {
                LinkStatus::Reconnecting => strings.reconnecting(),
                LinkStatus::Connecting if chat.thread.with(|t| !t.entries().is_empty()) => strings.connecting(),
                _ => "",
            }
            .to_owned()
        });
        delete_button(&header, chat);
        let close = tag(&header, "button", "cw-close");
        attrs(&close, &[("type", "button"), ("aria-label", strings.close_chat())]);
        attr(&tag_text(&close, "span", "", "×"), "aria-hidden", Some("true"));
        on(&close, "click", move |_| open.set(false));
        message_list(&panel, chat);
        bottom(&panel, chat);

        let launcher = launcher(&root, chat);
        let live = tag(&root, "div", "cw-sr");
        attrs(&live, &[("aria-live", "polite"), ("aria-atomic", "true")]);
        bind_text(&live, move || chat.announcement.get());

        // Opening moves focus into the panel (again when what is at the bottom changes, e.g.
        // the pre-chat form gives way to the composer); closing returns it to the launcher.
        let knows_email = Memo::new(move |_| chat.contact.with(|c| c.email.is_some()));
        let mut was_open = false;
        effect(move || {
            let is_open = open.get();
            chat.ready.track();
            knows_email.track();
            if is_open {
                let panel = panel.clone();
                request_animation_frame(move || {
                    let target = panel.query_selector("[data-autofocus]").ok().flatten();
                    if let Some(target) = target.and_then(|t| t.dyn_into::<HtmlElement>().ok()) {
                        let _ = target.focus();
                    }
                });
            } else if was_open {
                let _ = launcher.unchecked_ref::<HtmlElement>().focus();
            }
            was_open = is_open;
        });
    });
}

/// "Delete conversation", with a second step to confirm, while there is one to delete.
fn delete_button(parent: &Node, chat: &'static Chat) {
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
    slot(parent, move |at| {
        buttons(
            at,
            match (has_conversation.get(), confirming.get()) {
                (false, _) => Vec::new(),
                (true, true) => vec![
                    action("cw-header-action cw-confirm-delete", strings.confirm_delete(), ".cw-input", None),
                    action("cw-header-action", strings.cancel(), ".cw-delete", Some(false)),
                ],
                (true, false) => vec![action("cw-header-action cw-delete", strings.delete_conversation(), ".cw-confirm-delete", Some(true))],
            },
        )
    });
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
fn bottom(parent: &Node, chat: &'static Chat) {
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
    slot(parent, move |at| {
        let kind = kind.get();
        untrack(|| match kind {
            BottomKind::Nothing => {}
            BottomKind::Fallback(fallback) => {
                let box_ = tag(at, "div", "cw-fallback");
                attr(&box_, "role", Some("status"));
                tag_text(&box_, "p", "", &fallback.message);
                if let Some(url) = fallback.link {
                    let label = fallback.link_label.unwrap_or_else(|| url.to_string());
                    attr(&link(&box_, "cw-button", url.as_str(), &label), "data-autofocus", Some(""));
                }
            }
            BottomKind::PreChat => email_form(at, chat, true, None),
            BottomKind::Composer => {
                quick_replies(at, chat);
                composer(at, chat);
            }
        })
    });
}
