//! Rows of buttons: the site's quick replies, the replies an agent suggests, the header's
//! actions. All are one shape, so the wasm holds their code once.

use leptos::prelude::*;

/// One button of a group; `pick` runs when it is pressed.
pub struct Chip {
    pub class: &'static str,
    pub label: String,
    pub pick: Box<dyn Fn(&web_sys::Event)>,
}

/// The group, labelled for screen readers; nothing when there is no chip.
pub fn chips(class: &'static str, label: &'static str, chips: Vec<Chip>) -> AnyView {
    if chips.is_empty() {
        return ().into_any();
    }
    view! { <div class=class role="group" aria-label=label>{buttons(chips)}</div> }.into_any()
}

/// The buttons alone (the header's actions are such buttons too).
pub fn buttons(chips: Vec<Chip>) -> impl IntoView {
    chips
        .into_iter()
        .map(|Chip { class, label, pick }| view! { <button type="button" class=class on:click=move |ev| pick(&ev)>{label}</button> })
        .collect_view()
}
