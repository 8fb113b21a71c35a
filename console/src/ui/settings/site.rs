//! The site's settings in one form: how the widget looks and behaves, and how the inbox routes.

use super::fields::{area, check, choice, text};
use super::{saving_line, Saving};
use crate::api;
use crate::state::desk::Desk;
use crate::state::settings_form::{QuickRow, SettingsForm};
use leptos::prelude::*;
use protocol::site::{EmailCapture, Position, QuickAction, Theme};

const POSITIONS: &[(Position, &str)] = &[(Position::Right, "Bottom right"), (Position::Left, "Bottom left")];
const THEMES: &[(Theme, &str)] = &[(Theme::Auto, "Follow the visitor's system"), (Theme::Light, "Light"), (Theme::Dark, "Dark")];
const CAPTURES: &[(EmailCapture, &str)] = &[
    (EmailCapture::Off, "Never ask"),
    (EmailCapture::PreChat, "Before the first message"),
    (EmailCapture::InChat, "After the first message, when nobody is online"),
];

#[component]
pub fn SiteSettings(desk: Desk) -> impl IntoView {
    let loaded = RwSignal::new(None::<Result<RwSignal<SettingsForm>, String>>);
    let site = desk.site();
    leptos::task::spawn_local(async move {
        let widget = desk.session.settle(api::widget_settings(&site).await);
        let inbox = desk.session.settle(api::inbox_settings(&site).await);
        loaded.set(Some(match (widget, inbox) {
            (Ok(widget), Ok(inbox)) => Ok(RwSignal::new(SettingsForm::new(&widget, &inbox))),
            (Err(why), _) | (_, Err(why)) => Err(why),
        }));
    });
    view! {
        <section class="settings-section" aria-labelledby="site-settings-title">
            <h2 id="site-settings-title">"Site"</h2>
            {move || match loaded.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(why)) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
                Some(Ok(form)) => view! { <SiteForm desk=desk form=form/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn SiteForm(desk: Desk, form: RwSignal<SettingsForm>) -> impl IntoView {
    let saving = RwSignal::new(Saving::Idle);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Both halves are checked as the relay checks them before either is sent, so a value
        // it would refuse cannot leave the widget's half saved and the inbox's not.
        let values = form.with_untracked(|f| {
            let widget = f.widget_settings()?.validated().map_err(|e| sentence(&e.message))?;
            let inbox = f.inbox_settings()?.validated().map_err(|e| sentence(&e.message))?;
            Ok::<_, String>((widget, inbox))
        });
        let (widget, inbox) = match values {
            Ok(values) => values,
            Err(why) => return saving.set(Saving::Failed(why)),
        };
        saving.set(Saving::Busy);
        let site = desk.site();
        leptos::task::spawn_local(async move {
            let widget = match desk.session.settle(api::save_widget_settings(&site, &widget).await) {
                Ok(stored) => stored,
                Err(why) => return saving.set(Saving::Failed(why)),
            };
            match desk.session.settle(api::save_inbox_settings(&site, &inbox).await) {
                Ok(stored) => {
                    desk.unanswered_minutes.set(Some(stored.unanswered_alert_minutes));
                    // Show what the relay stored (it trims and normalises).
                    form.set(SettingsForm::new(&widget, &stored));
                    saving.set(Saving::Saved);
                }
                Err(why) => {
                    saving.set(Saving::Failed(format!("The widget settings were saved, the inbox settings were not: {why}")));
                }
            }
        });
    };

    view! {
        <form class="settings-form" data-testid="settings-form" novalidate on:submit=save on:input=move |_| saving.set(Saving::Idle)>
            <fieldset>
                <legend>"Widget"</legend>
                {text(form, "settings-site-name", "Site name", "text", "", |f| &f.site_name, |f| &mut f.site_name)}
                {text(form, "settings-widget-title", "Title", "text", "The heading of the chat panel.", |f| &f.title, |f| &mut f.title)}
                {area(form, "settings-greeting", "Greeting", "The first line of every conversation.", |f| &f.greeting, |f| &mut f.greeting)}
                {text(form, "settings-color", "Accent colour", "text", "As #rrggbb, e.g. #1f5fbf.", |f| &f.color, |f| &mut f.color)}
                {choice(form, "settings-position", "Position", POSITIONS, |f| &f.position, |f| &mut f.position)}
                {choice(form, "settings-theme", "Theme", THEMES, |f| &f.theme, |f| &mut f.theme)}
                {choice(form, "settings-email-capture", "Ask for the visitor's email", CAPTURES, |f| &f.email_capture, |f| &mut f.email_capture)}
                {check(form, "settings-async-mode", "Let visitors write while nobody is online (answered by email)", "", |f| &f.async_mode, |f| &mut f.async_mode)}
                {area(form, "settings-fallback-message", "Fallback message", "Shown when nobody is online and writing is not allowed.", |f| &f.fallback_message, |f| &mut f.fallback_message)}
                {text(form, "settings-fallback-link", "Fallback link", "url", "Optional, https://…", |f| &f.fallback_link, |f| &mut f.fallback_link)}
                {text(form, "settings-fallback-link-label", "Fallback link label", "text", "", |f| &f.fallback_link_label, |f| &mut f.fallback_link_label)}
                {text(form, "settings-reply-time", "Typical reply time (minutes)", "number", "Optional, 1 to 1440 (a day): shown as “Typically replies in N minutes”.", |f| &f.reply_time_minutes, |f| &mut f.reply_time_minutes)}
                {check(form, "settings-sound", "Play a sound for new replies", "", |f| &f.sound, |f| &mut f.sound)}
                {text(form, "settings-email-delay", "Email unread replies after (seconds)", "number", "", |f| &f.email_delay_seconds, |f| &mut f.email_delay_seconds)}
                {text(form, "settings-retention", "Erase closed conversations after (days)", "number", "Optional: empty keeps them.", |f| &f.retention_days, |f| &mut f.retention_days)}
                {check(form, "settings-identity-verification", "Require verified identities", "The site's server signs its users' ids.", |f| &f.identity_verification, |f| &mut f.identity_verification)}
                {area(form, "settings-allowed-origins", "Allowed origins", "One a line, e.g. https://shop.example. The chat works, and its emails link back, only there. Empty allows any.", |f| &f.allowed_origins, |f| &mut f.allowed_origins)}
            </fieldset>
            <QuickReplies form=form/>
            <fieldset>
                <legend>"Inbox routing"</legend>
                {check(form, "settings-auto-assign", "Assign new conversations to online agents in turn", "", |f| &f.auto_assign, |f| &mut f.auto_assign)}
                {text(form, "settings-max-chats", "Most open conversations per agent", "number", "", |f| &f.max_chats_per_agent, |f| &mut f.max_chats_per_agent)}
                {text(form, "settings-accept-timeout", "Offer to the next agent after (minutes)", "number", "Optional: a waiting conversation nobody accepted.", |f| &f.accept_timeout_minutes, |f| &mut f.accept_timeout_minutes)}
                {text(form, "settings-unanswered-alert", "Alert when a visitor message stays unread for (minutes)", "number", "Every online agent hears, once for each batch of unread messages.", |f| &f.unanswered_alert_minutes, |f| &mut f.unanswered_alert_minutes)}
                {text(form, "settings-reply-timeout", "Take back from an agent who has not replied after (minutes)", "number", "Optional: the conversation goes back to the queue, or to the next agent when assigning in turn.", |f| &f.reply_timeout_minutes, |f| &mut f.reply_timeout_minutes)}
                {text(form, "settings-auto-close", "End quiet conversations after (minutes)", "number", "", |f| &f.auto_close_minutes, |f| &mut f.auto_close_minutes)}
            </fieldset>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="settings-save" disabled=move || saving.get() == Saving::Busy>
                    "Save settings"
                </button>
                {saving_line(saving, "settings-saved", "Saved")}
            </div>
        </form>
    }
}

/// Quick replies that send a text, as label and text; links and menus stay as they are.
#[component]
fn QuickReplies(form: RwSignal<SettingsForm>) -> impl IntoView {
    let ids = move || form.with(|f| f.quick_replies.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    view! {
        <fieldset>
            <legend>"Quick replies"</legend>
            <p class="hint">"Buttons the visitor can tap to send a text."</p>
            <ul class="quick-replies">
                <For each=ids key=|id| *id children=move |id| view! { <QuickReplyRow form=form id=id/> }/>
            </ul>
            <button type="button" class="quiet" on:click=move |_| form.update(SettingsForm::add_quick_reply)>
                "Add quick reply"
            </button>
        </fieldset>
    }
}

#[component]
fn QuickReplyRow(form: RwSignal<SettingsForm>, id: u32) -> impl IntoView {
    let row = move || form.with(|f| f.quick_replies.iter().find(|(i, _)| *i == id).map(|(_, row)| row.clone()));
    let set = move |label: Option<String>, text: Option<String>| {
        form.update(|f| {
            if let Some((_, QuickRow::Send { label: l, text: t })) = f.quick_replies.iter_mut().find(|(i, _)| *i == id) {
                if let Some(label) = label {
                    *l = label;
                }
                if let Some(text) = text {
                    *t = text;
                }
            }
        })
    };
    let remove = move |_| form.update(|f| f.quick_replies.retain(|(i, _)| *i != id));
    let kept = form.with_untracked(|f| f.quick_replies.iter().find(|(i, _)| *i == id).map(|(_, row)| row.clone())).and_then(|row| match row {
        QuickRow::Kept(reply) => Some(match reply.action {
            QuickAction::Url { url } => format!("{}: opens {url}", reply.label),
            QuickAction::Flow { replies } => format!("{}: shows {} more replies", reply.label, replies.len()),
            QuickAction::Send { .. } => reply.label,
        }),
        QuickRow::Send { .. } => None,
    });
    let editable = kept.is_none().then(|| {
        let field = move |pick: fn(&QuickRow) -> String| {
            move || row().map(|r| pick(&r)).unwrap_or_default()
        };
        view! {
            <label for=format!("quick-label-{id}")>"Label"</label>
            <input
                id=format!("quick-label-{id}")
                prop:value=field(|r| if let QuickRow::Send { label, .. } = r { label.clone() } else { String::new() })
                on:input=move |ev| set(Some(event_target_value(&ev)), None)
            />
            <label for=format!("quick-text-{id}")>"Sends"</label>
            <input
                id=format!("quick-text-{id}")
                prop:value=field(|r| if let QuickRow::Send { text, .. } = r { text.clone() } else { String::new() })
                on:input=move |ev| set(None, Some(event_target_value(&ev)))
            />
        }
    });
    view! {
        <li class="quick-reply">
            {kept.map(|what| view! { <span class="muted">{what}</span> })}
            {editable}
            <button type="button" class="link" on:click=remove>"Remove"</button>
        </li>
    }
}

/// The relay's refusals start in lower case, to follow a field's name; here they stand alone.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
