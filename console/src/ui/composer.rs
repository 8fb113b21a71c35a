//! Where the agent writes: a public reply or a private note, or changes a message already
//! sent. Enter sends, Shift+Enter makes a new line, `//` opens the canned responses. The
//! draft survives reloads (per conversation), and waits aside while a message is edited.

use super::attach::{Attach, Attachment};
use super::canned_menu::{option_id, CannedMenu, CannedMenuView, KeyOutcome, MENU_ID};
use crate::live::conversation::Conversation;
use crate::state::draft;
use crate::state::shortcut::{self, byte_to_utf16, utf16_to_byte};
use leptos::html;
use leptos::prelude::*;
use protocol::frames::validate_body;
use protocol::inbox::CannedResponse;
use protocol::limits::MAX_BODY_CHARS;
use protocol::Status;

#[component]
pub fn Composer(conversation: Conversation) -> impl IntoView {
    let desk = conversation.desk;
    let id = StoredValue::new(conversation.id());
    let me = StoredValue::new(desk.my_id());
    let info = conversation.info;
    let draft = RwSignal::new(draft::load(&conversation.id()));
    // A note being written stays a note: across a switch or reload, and when this agent
    // becomes responsible while writing it (see below). Only the agent turns it into a reply.
    let note_mode = RwSignal::new(draft::is_note(&conversation.id()));
    let attachment = RwSignal::new(Attachment::default());
    let error = RwSignal::new(None::<String>);
    let field: NodeRef<html::Textarea> = NodeRef::new();
    let menu = CannedMenu::new(desk);

    let closed = Memo::new(move |_| info.with(|i| i.status != Status::Open));
    // Someone else answers the visitor; this agent may still write notes.
    let responsible_other = Memo::new(move |_| {
        info.with(|i| i.assignee.as_ref().filter(|a| a.id != me.get_value()).map(|a| a.name.to_string()))
    });
    let noting = Memo::new(move |_| note_mode.get() || responsible_other.with(Option::is_some));
    // While someone else is responsible, the composer writes notes; kept so when the
    // conversation comes to this agent, whatever is in the field does not go to the visitor.
    Effect::new(move |_| {
        if responsible_other.with(Option::is_some) {
            note_mode.set(true);
        }
    });
    Effect::new(move |_| draft::set_note(&id.get_value(), note_mode.get()));
    let editing = conversation.editing;
    let is_editing = Memo::new(move |_| editing.with(Option::is_some));
    // The draft put aside while a sent message is being edited.
    let put_aside = StoredValue::new(None::<String>);

    let set_draft = move |text: String| {
        if !is_editing.get_untracked() {
            draft::save(&id.get_value(), &text);
        }
        draft.set(text);
    };
    let focus_at_end = move || {
        request_animation_frame(move || {
            if let Some(field) = field.get_untracked() {
                let end = field.value().encode_utf16().count() as u32;
                let _ = field.focus();
                let _ = field.set_selection_range(end, end);
            }
        })
    };
    // Editing starts from the message's Edit button: its text takes the draft's place.
    Effect::new(move |_| {
        if let Some((_, text)) = editing.get() {
            if put_aside.with_value(Option::is_none) {
                put_aside.set_value(Some(draft.get_untracked()));
            }
            draft.set(text);
            focus_at_end();
        }
    });
    let finish_editing = move || {
        editing.set(None);
        if let Some(previous) = put_aside.try_update_value(Option::take).flatten() {
            draft.set(previous);
        }
    };
    let follow_caret = move || {
        if let Some(field) = field.get_untracked() {
            let text = field.value();
            let caret = field.selection_start().ok().flatten().unwrap_or(0);
            menu.follow(&text, utf16_to_byte(&text, caret));
        }
    };
    let choose = move |response: CannedResponse| {
        let Some(shortcut) = menu.shortcut.get_untracked() else { return };
        let (text, caret) = shortcut::apply(&draft.get_untracked(), &shortcut, &response.text);
        menu.close();
        if let Some(field) = field.get_untracked() {
            // Set directly so the caret can go right after the inserted text.
            field.set_value(&text);
            let at = byte_to_utf16(&text, caret);
            let _ = field.set_selection_range(at, at);
            let _ = field.focus();
        }
        set_draft(text);
    };
    let submit = move || {
        let text = draft.get_untracked();
        if let Some((seq, _)) = editing.get_untracked() {
            match validate_body(&text) {
                // Not connected: the edit stays in the field to save again.
                Ok(body) => {
                    if conversation.edit(seq, body) {
                        finish_editing();
                        error.set(None);
                    }
                }
                Err(err) => error.set(Some(err.message)),
            }
            return;
        }
        if closed.get_untracked() {
            return;
        }
        let attached = attachment.get_untracked();
        let sent = if noting.get_untracked() {
            validate_body(&text).map(|body| conversation.note(body))
        } else if attached.card.is_some() && text.trim().is_empty() {
            // A card may go alone.
            conversation.reply(String::new(), attached.card, attached.suggestions);
            Ok(())
        } else {
            validate_body(&text).map(|body| conversation.reply(body, attached.card, attached.suggestions))
        };
        match sent {
            Ok(()) => {
                set_draft(String::new());
                if !noting.get_untracked() {
                    attachment.set(Attachment::default());
                }
                menu.close();
                error.set(None);
            }
            Err(err) => error.set(Some(err.message)),
        }
    };

    let explanation = move || {
        if is_editing.get() {
            None
        } else if closed.get() {
            Some("This conversation is closed: nothing more can be written in it.".to_owned())
        } else {
            responsible_other
                .get()
                .map(|name| format!("{name} is responsible for this conversation: you can write private notes, not replies."))
        }
    };
    let placeholder = move || {
        if noting.get() {
            "Private note for the team. @Name alerts an agent."
        } else {
            "Reply to the visitor. Type // for canned responses."
        }
    };

    view! {
        <form
            class="composer"
            class:composer-note=move || noting.get() && !is_editing.get()
            aria-label="Write"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <div class="composer-modes" role="group" aria-label="Message type" hidden=move || is_editing.get()>
                <button
                    type="button"
                    class="mode"
                    aria-pressed=move || if noting.get() { "false" } else { "true" }
                    disabled=move || responsible_other.with(Option::is_some) || closed.get()
                    on:click=move |_| note_mode.set(false)
                >
                    "Reply"
                </button>
                <button
                    type="button"
                    class="mode mode-note"
                    data-testid="mode-note"
                    aria-pressed=move || if noting.get() { "true" } else { "false" }
                    disabled=move || closed.get()
                    on:click=move |_| {
                        // While someone else is responsible, notes are the only choice; choosing
                        // them anyway keeps them chosen once this agent becomes responsible.
                        let forced = responsible_other.with_untracked(Option::is_some);
                        note_mode.set(forced || !note_mode.get_untracked());
                    }
                >
                    "Private note"
                </button>
                <Attach attachment=attachment disabled=Signal::derive(move || noting.get() || closed.get())/>
            </div>
            <Show when=move || is_editing.get()>
                <p class="composer-editing">
                    "Editing your message. Enter saves, Escape cancels. "
                    <button type="button" class="link" on:click=move |_| finish_editing()>"Cancel editing"</button>
                </p>
            </Show>
            {move || explanation().map(|why| view! { <p class="composer-explanation" id="composer-explanation">{why}</p> })}
            <div class="composer-field">
                <CannedMenuView menu=menu on_choose=Callback::new(choose)/>
                <label class="sr-only" for="composer">
                    {move || match (is_editing.get(), noting.get()) {
                        (true, _) => "Edit message",
                        (false, true) => "Private note",
                        (false, false) => "Reply",
                    }}
                </label>
                <textarea
                    id="composer"
                    node_ref=field
                    rows="3"
                    data-testid="composer"
                    maxlength=MAX_BODY_CHARS.to_string()
                    placeholder=placeholder
                    disabled=move || closed.get() && !is_editing.get()
                    aria-describedby=move || explanation().map(|_| "composer-explanation")
                    aria-autocomplete="list"
                    aria-controls=move || menu.is_open().then_some(MENU_ID)
                    aria-activedescendant=move || menu.is_open().then(|| option_id(menu.active.get()))
                    prop:value=move || draft.get()
                    on:input=move |ev| {
                        set_draft(event_target_value(&ev));
                        follow_caret();
                        if !noting.get_untracked() && !is_editing.get_untracked() {
                            conversation.typing();
                        }
                    }
                    on:click=move |_| follow_caret()
                    on:keyup=move |ev| {
                        if matches!(ev.key().as_str(), "ArrowLeft" | "ArrowRight" | "Home" | "End") {
                            follow_caret();
                        }
                    }
                    on:blur=move |_| {
                        conversation.stop_typing();
                        menu.close();
                    }
                    on:keydown=move |ev| match menu.key(&ev) {
                        KeyOutcome::Chosen(response) => choose(response),
                        KeyOutcome::Handled => {}
                        KeyOutcome::Ignored => match ev.key().as_str() {
                            "Enter" if !ev.shift_key() && !ev.is_composing() => {
                                ev.prevent_default();
                                submit();
                            }
                            "Escape" if is_editing.get_untracked() => finish_editing(),
                            _ => {}
                        },
                    }
                ></textarea>
            </div>
            {move || error.get().map(|why| view! { <p class="form-error" role="alert">{why}</p> })}
            <div class="composer-actions">
                <span class="hint">"Enter sends, Shift+Enter adds a line."</span>
                <button type="submit" class="primary" data-testid="send" disabled=move || closed.get() && !is_editing.get()>
                    {move || match (is_editing.get(), noting.get()) {
                        (true, _) => "Save edit",
                        (false, true) => "Add note",
                        (false, false) => "Send reply",
                    }}
                </button>
            </div>
        </form>
    }
}
