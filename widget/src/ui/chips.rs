//! Rows of buttons: the site's quick replies, the replies an agent suggests, the header's
//! actions. All are one shape, so the wasm holds their code once.

use super::dom::{attr, on, tag, tag_text};
use web_sys::{Event, Node};

/// One button of a group; `pick` runs when it is pressed.
pub struct Chip {
    pub class: &'static str,
    pub label: String,
    pub pick: Box<dyn Fn(&Event)>,
}

/// The group, labelled for screen readers; nothing when there is no chip.
pub fn chips(parent: &Node, class: &'static str, label: &'static str, chips: Vec<Chip>) {
    if chips.is_empty() {
        return;
    }
    let group = tag(parent, "div", class);
    attr(&group, "role", Some("group"));
    attr(&group, "aria-label", Some(label));
    buttons(&group, chips);
}

/// The buttons alone (the header's actions are such buttons too).
pub fn buttons(parent: &Node, chips: Vec<Chip>) {
    for Chip { class, label, pick } in chips {
        let button = tag_text(parent, "button", class, &label);
        attr(&button, "type", Some("button"));
        on(&button, "click", move |ev| pick(&ev));
    }
}
