//! The site's quick replies: always there above the composer. A reply sends its text, opens
//! its page, or shows the next set of replies (a flow), with a way back.

use super::chips::{chips, Chip};
use super::dom::slot;
use super::refocus;
use crate::chat::Chat;
use leptos::prelude::*;
use protocol::site::{QuickAction, QuickReply};
use web_sys::Node;

fn level(replies: &[QuickReply], path: &[usize]) -> Vec<QuickReply> {
    let mut current = replies.to_vec();
    for &i in path {
        match current.get(i).map(|r| &r.action) {
            Some(QuickAction::Flow { replies }) => current = replies.clone(),
            _ => break,
        }
    }
    current
}

pub fn quick_replies(parent: &Node, chat: &'static Chat) {
    let strings = chat.strings;
    let path = RwSignal::new(Vec::<usize>::new());
    slot(parent, move |at| {
        let replies = chat.settings.with(|s| path.with(|p| level(&s.quick_replies, p)));
        if replies.is_empty() {
            return;
        }
        let back = (!path.with(Vec::is_empty)).then(|| Chip {
            class: "cw-chip cw-back",
            label: strings.back().to_owned(),
            pick: Box::new(move |ev| {
                refocus(ev, ".cw-quick .cw-chip");
                path.update(|p| {
                    p.pop();
                });
            }),
        });
        let buttons = replies.into_iter().enumerate().map(|(i, reply)| {
            let action = reply.action;
            Chip {
                class: "cw-chip",
                label: reply.label,
                pick: Box::new(move |ev| match &action {
                    QuickAction::Send { text } => {
                        refocus(ev, ".cw-input");
                        chat.send(text.clone());
                        if !path.with_untracked(Vec::is_empty) {
                            path.set(Vec::new());
                        }
                    }
                    QuickAction::Url { url } => {
                        if let Some(window) = web_sys::window() {
                            let _ = window.open_with_url_and_target_and_features(url.as_str(), "_blank", "noopener,noreferrer");
                        }
                    }
                    QuickAction::Flow { .. } => {
                        refocus(ev, ".cw-quick .cw-chip");
                        path.update(|p| p.push(i));
                    }
                }),
            }
        });
        chips(at, "cw-quick", strings.quick_replies(), back.into_iter().chain(buttons).collect());
    });
}
