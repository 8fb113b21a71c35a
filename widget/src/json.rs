//! The browser's JSON: `JSON.parse` builds the tree that `protocol::json_tree` reads, so no
//! JSON parser and no serde ship in the widget's wasm.

use protocol::json_tree::{FromTree, Tree};
use wasm_bindgen::JsValue;

/// A value from `JSON.parse`.
pub struct Js(JsValue);

impl Tree for Js {
    fn member(&self, key: &str) -> Option<Self> {
        if !self.0.is_object() {
            return None;
        }
        let value = js_sys::Reflect::get(&self.0, &JsValue::from_str(key)).ok()?;
        (!value.is_undefined() && !value.is_null()).then_some(Js(value))
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn elements(&self) -> Option<Vec<Self>> {
        js_sys::Array::is_array(&self.0).then(|| js_sys::Array::from(&self.0).iter().map(Js).collect())
    }
}

/// Parses JSON text into a `V`; `None` when it is not JSON or not a `V`.
pub fn parse<V: FromTree>(text: &str) -> Option<V> {
    V::from_tree(&Js(js_sys::JSON::parse(text).ok()?))
}
