//! Labelled inputs bound to one field of a form held in a signal. The field is named by a pair
//! of plain functions (read, write), so every input is one line where it is used.

use leptos::prelude::*;

type Read<F, T> = fn(&F) -> &T;
type Write<F, T> = fn(&mut F) -> &mut T;

fn hint_view(id: &'static str, hint: &'static str) -> Option<impl IntoView> {
    (!hint.is_empty()).then(|| view! { <p class="hint" id=format!("{id}-hint")>{hint}</p> })
}

fn described_by(id: &'static str, hint: &'static str) -> Option<String> {
    (!hint.is_empty()).then(|| format!("{id}-hint"))
}

/// A field's frame: its label above the control, its hint (if any) below.
fn labelled(id: &'static str, label: &'static str, hint: &'static str, control: impl IntoView) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {control}
            {hint_view(id, hint)}
        </div>
    }
}

/// A one-line text input (`kind` is the input type: text, number, url, color…).
pub fn text<F: Send + Sync + 'static>(
    form: RwSignal<F>,
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    hint: &'static str,
    read: Read<F, String>,
    write: Write<F, String>,
) -> impl IntoView {
    let control = view! {
        <input
            id=id
            type=kind
            aria-describedby=described_by(id, hint)
            prop:value=move || form.with(|f| read(f).clone())
            on:input=move |ev| form.update(|f| *write(f) = event_target_value(&ev))
        />
    };
    labelled(id, label, hint, control)
}

pub fn area<F: Send + Sync + 'static>(
    form: RwSignal<F>,
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    read: Read<F, String>,
    write: Write<F, String>,
) -> impl IntoView {
    let control = view! {
        <textarea
            id=id
            rows="3"
            aria-describedby=described_by(id, hint)
            prop:value=move || form.with(|f| read(f).clone())
            on:input=move |ev| form.update(|f| *write(f) = event_target_value(&ev))
        ></textarea>
    };
    labelled(id, label, hint, control)
}

pub fn check<F: Send + Sync + 'static>(
    form: RwSignal<F>,
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    read: Read<F, bool>,
    write: Write<F, bool>,
) -> impl IntoView {
    view! {
        <div class="field field-check">
            <input
                id=id
                type="checkbox"
                aria-describedby=described_by(id, hint)
                prop:checked=move || form.with(|f| *read(f))
                on:change=move |ev| form.update(|f| *write(f) = event_target_checked(&ev))
            />
            <label for=id>{label}</label>
            {hint_view(id, hint)}
        </div>
    }
}

/// A select over a few values, each with its label.
pub fn choice<F: Send + Sync + 'static, T: Copy + PartialEq + Send + Sync + 'static>(
    form: RwSignal<F>,
    id: &'static str,
    label: &'static str,
    options: &'static [(T, &'static str)],
    read: Read<F, T>,
    write: Write<F, T>,
) -> impl IntoView {
    let control = view! {
        <select
            id=id
            on:change=move |ev| {
                let index: usize = event_target_value(&ev).parse().unwrap_or(0);
                if let Some((value, _)) = options.get(index) {
                    form.update(|f| *write(f) = *value);
                }
            }
        >
            {options
                .iter()
                .enumerate()
                .map(|(index, (value, text))| {
                    let value = *value;
                    view! {
                        <option value=index.to_string() prop:selected=move || form.with(|f| *read(f) == value)>
                            {*text}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    };
    labelled(id, label, "", control)
}
