//! How the widget draws: the browser's own DOM calls, driven by Leptos's signals. A part is
//! built once, and only what changes is bound to the signals it reads (a text, an attribute,
//! a slot whose content is drawn again). Tachys's typed views made every element with its
//! attributes a type of its own with build, rebuild, mount and unmount code in the wasm:
//! half the widget's weight, over the first-open budget.
//!
//! Listeners live as long as what they were drawn for: those added while a slot draws are
//! dropped when the slot draws again; the rest live as long as the widget.

use crate::reactive::effect;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Event, Node, Text};

type Listener = Closure<dyn FnMut(Event)>;

/// Listeners kept for as long as what they listen to is drawn.
#[derive(Default)]
pub struct Listeners {
    _held: Vec<Listener>,
}

thread_local! {
    static DOCUMENT: Document = web_sys::window().and_then(|w| w.document()).expect("a document");
    /// The listeners of what is being drawn now.
    static LISTENERS: RefCell<Vec<Listener>> = const { RefCell::new(Vec::new()) };
}

fn document() -> Document {
    DOCUMENT.with(Document::clone)
}

/// A new `name` element with `class` (none when empty), not yet in the page.
pub fn element(name: &str, class: &str) -> Element {
    let element = document().create_element(name).expect("a valid tag");
    if !class.is_empty() {
        element.set_class_name(class);
    }
    element
}

/// A new `name` element with `class`, appended to `parent`.
pub fn tag(parent: &Node, name: &str, class: &str) -> Element {
    let element = element(name, class);
    let _ = parent.append_child(&element);
    element
}

/// Sets (or, for `None`, removes) an attribute.
pub fn attr(element: &Element, name: &str, value: Option<&str>) {
    let _ = match value {
        Some(value) => element.set_attribute(name, value),
        None => element.remove_attribute(name),
    };
}

/// Several attributes that never change.
pub fn attrs(element: &Element, pairs: &[(&str, &str)]) {
    for (name, value) in pairs {
        attr(element, name, Some(value));
    }
}

/// A text node with `text` (as text, never HTML), appended to `parent`.
pub fn text(parent: &Node, text: &str) -> Text {
    let node = document().create_text_node(text);
    let _ = parent.append_child(&node);
    node
}

/// A `tag` element holding `content` as text.
pub fn tag_text(parent: &Node, name: &str, class: &str, content: &str) -> Element {
    let element = tag(parent, name, class);
    element.set_text_content(Some(content));
    element
}

/// A link to `href` (http(s) only: the protocol checked it) that opens in a new tab without
/// access to this page.
pub fn link(parent: &Node, class: &str, href: &str, label: &str) -> Element {
    let link = tag_text(parent, "a", class, label);
    attrs(&link, &[("href", href), ("target", "_blank"), ("rel", "noopener noreferrer")]);
    link
}

/// Runs `handle` on each `event` at `element`.
pub fn on(element: &Element, event: &str, handle: impl FnMut(Event) + 'static) {
    let handle: Box<dyn FnMut(Event)> = Box::new(handle);
    let listener = Closure::wrap(handle);
    let _ = element.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
    LISTENERS.with(|l| l.borrow_mut().push(listener));
}

/// Runs `draw`, and hands back what it drew with the listeners it added.
pub fn collect<T>(draw: impl FnOnce() -> T) -> (T, Listeners) {
    let outer = LISTENERS.with(|l| l.take());
    let drawn = draw();
    (drawn, Listeners { _held: LISTENERS.with(|l| l.replace(outer)) })
}

/// Draws the widget's lasting parts; their listeners live as long as the page.
pub fn draw_for_good(draw: impl FnOnce()) {
    std::mem::forget(collect(draw));
}

/// Keeps `element`'s text what `read` says.
pub fn bind_text(element: &Element, read: impl Fn() -> String + 'static) {
    let element = element.clone();
    effect(move || element.set_text_content(Some(&read())));
}

/// Keeps an attribute what `read` says (absent for `None`).
pub fn bind_attr(element: &Element, name: &'static str, read: impl Fn() -> Option<String> + 'static) {
    let element = element.clone();
    effect(move || attr(&element, name, read().as_deref()));
}

/// A place among `parent`'s children whose content `draw` draws again whenever a signal it
/// reads changes. What it draws should read its signals through `untrack`, so that only what
/// `draw` itself chose redraws it.
pub fn slot(parent: &Node, mut draw: impl FnMut(&Node) + 'static) {
    // Comments mark where the place begins and ends (the stylesheet does not count them as
    // content); whatever is between them, slots inside this one included, is its content.
    let start: Node = document().create_comment("").into();
    let end: Node = document().create_comment("").into();
    let _ = parent.append_child(&start);
    let _ = parent.append_child(&end);
    let mut listeners = Listeners::default();
    effect(move || {
        let fragment: Node = document().create_document_fragment().into();
        let ((), added) = collect(|| draw(&fragment));
        while let Some(node) = start.next_sibling().filter(|n| *n != end) {
            let _ = node.parent_node().map(|p| p.remove_child(&node));
        }
        // Dropped once what they listened to has left the page.
        drop(std::mem::replace(&mut listeners, added));
        if let Some(parent) = end.parent_node() {
            let _ = parent.insert_before(&fragment, Some(&end));
        }
    });
}
