//! The canned responses menu the `//` shortcut opens under the composer. The textarea keeps
//! focus; arrow keys move through the options, Enter or Tab chooses, Escape closes.

use crate::state::desk::Desk;
use crate::state::shortcut::{shortcut_at, Shortcut};
use leptos::prelude::*;
use protocol::inbox::CannedResponse;

/// Most options shown at once: the agent narrows down by typing.
const MAX_OPTIONS: usize = 8;

pub const MENU_ID: &str = "canned-menu";

pub fn option_id(index: usize) -> String {
    format!("canned-option-{index}")
}

/// What a key press in the textarea meant to the menu.
pub enum KeyOutcome {
    /// Not for the menu (it is closed, or the key means nothing to it).
    Ignored,
    Handled,
    Chosen(CannedResponse),
}

#[derive(Clone, Copy)]
pub struct CannedMenu {
    pub shortcut: RwSignal<Option<Shortcut>>,
    pub active: RwSignal<usize>,
    /// The start of a shortcut the agent closed with Escape: it stays closed.
    dismissed: RwSignal<Option<usize>>,
    pub options: Memo<Vec<CannedResponse>>,
}

impl CannedMenu {
    pub fn new(desk: Desk) -> CannedMenu {
        let shortcut = RwSignal::new(None::<Shortcut>);
        let options = Memo::new(move |_| {
            shortcut.with(|s| {
                s.as_ref().map_or_else(Vec::new, |s| {
                    desk.canned.with(|c| c.search(&s.query).into_iter().take(MAX_OPTIONS).cloned().collect())
                })
            })
        });
        CannedMenu { shortcut, active: RwSignal::new(0), dismissed: RwSignal::new(None), options }
    }

    pub fn is_open(&self) -> bool {
        self.options.with(|o| !o.is_empty())
    }

    /// The draft or the caret (a byte offset) changed.
    pub fn follow(&self, text: &str, caret: usize) {
        let found = shortcut_at(text, caret);
        let dismissed = self.dismissed.get_untracked();
        match found {
            Some(s) if Some(s.start) == dismissed => self.shortcut.set(None),
            Some(s) => {
                if self.shortcut.with_untracked(|old| old.as_ref().map(|o| (&o.query, o.start)) != Some((&s.query, s.start))) {
                    self.active.set(0);
                    self.shortcut.set(Some(s));
                }
            }
            None => {
                self.dismissed.set(None);
                self.shortcut.set(None);
            }
        }
    }

    pub fn close(&self) {
        self.shortcut.set(None);
    }

    pub fn key(&self, ev: &leptos::ev::KeyboardEvent) -> KeyOutcome {
        let count = self.options.with_untracked(Vec::len);
        if count == 0 {
            return KeyOutcome::Ignored;
        }
        let outcome = match ev.key().as_str() {
            "ArrowDown" => {
                self.active.update(|a| *a = (*a + 1) % count);
                KeyOutcome::Handled
            }
            "ArrowUp" => {
                self.active.update(|a| *a = (*a + count - 1) % count);
                KeyOutcome::Handled
            }
            "Enter" | "Tab" if !ev.shift_key() => {
                let index = self.active.get_untracked().min(count - 1);
                match self.options.with_untracked(|o| o.get(index).cloned()) {
                    Some(chosen) => KeyOutcome::Chosen(chosen),
                    None => KeyOutcome::Ignored,
                }
            }
            "Escape" => {
                self.dismissed.set(self.shortcut.with_untracked(|s| s.as_ref().map(|s| s.start)));
                self.close();
                KeyOutcome::Handled
            }
            _ => return KeyOutcome::Ignored,
        };
        ev.prevent_default();
        outcome
    }
}

#[component]
pub fn CannedMenuView(menu: CannedMenu, on_choose: Callback<CannedResponse>) -> impl IntoView {
    move || {
        let options = menu.options.get();
        (!options.is_empty()).then(|| {
            view! {
                <ul class="canned-menu" id=MENU_ID role="listbox" aria-label="Canned responses" data-testid="canned-menu">
                    {options
                        .into_iter()
                        .enumerate()
                        .map(|(index, response)| {
                            let name = response.name.clone();
                            let text = response.text.clone();
                            view! {
                                <li
                                    id=option_id(index)
                                    class="canned-option"
                                    role="option"
                                    data-testid="canned-option"
                                    aria-selected=move || if menu.active.get() == index { "true" } else { "false" }
                                    // Keep focus (and the caret) in the textarea.
                                    on:mousedown=|ev| ev.prevent_default()
                                    on:click=move |_| on_choose.run(response.clone())
                                >
                                    <span class="canned-name">{name}</span>
                                    <span class="canned-text">{text}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
        })
    }
}
