//! The agents' console in a real browser: sign in, find things by their `data-testid`, wait
//! for what an agent would wait for. Each `Console` is its own browser profile (its own
//! cookie), like an agent on their own machine.

use crate::browser::Browser;
use crate::{Relay, ADMIN_EMAIL, ADMIN_NAME, ADMIN_PASSWORD, AGENT_PASSWORD};
use fantoccini::elements::Element;
use fantoccini::Locator;
use serde_json::{json, Value};

pub struct Console {
    pub browser: Browser,
    pub origin: String,
}

/// A CSS selector for a test id.
pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

impl Console {
    /// Opens the console and signs in as the test agent called `name` ("Admin": the first
    /// admin), whose account the harness makes on first use.
    pub async fn sign_in(relay: &Relay, name: &str) -> Console {
        let agent = relay.agent(name).await;
        let password = if name == ADMIN_NAME { ADMIN_PASSWORD } else { AGENT_PASSWORD };
        let email = if name == ADMIN_NAME { ADMIN_EMAIL.to_owned() } else { agent.account.email.to_string() };
        let console = Console::open(relay).await;
        console.fill("login-email", &email).await;
        console.fill("login-password", password).await;
        console.click("login-submit").await;
        console.element("presence-toggle").await;
        console
    }

    /// Opens the console's sign-in page.
    pub async fn open(relay: &Relay) -> Console {
        let browser = Browser::open().await;
        browser.client.goto(&format!("{}/console/", relay.origin)).await.expect("open the console");
        let console = Console { browser, origin: relay.origin.clone() };
        console.element("login-email").await;
        console
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.browser.js(script, args).await
    }

    /// Waits until a JS expression over `document` is truthy; returns its value.
    pub async fn wait(&self, what: &str, condition: &str) -> Value {
        self.browser.wait_until(what, condition).await
    }

    /// The first visible element matching a CSS selector, once it is there.
    pub async fn find(&self, selector: &str) -> Element {
        let condition = format!(
            "(() => {{ const el = [...document.querySelectorAll({sel})].find(e => e.checkVisibility()); return el ? true : null; }})()",
            sel = serde_json::to_string(selector).unwrap()
        );
        self.wait(&format!("visible {selector}"), &condition).await;
        let elements = self.browser.client.find_all(Locator::Css(selector)).await.expect("find elements");
        for element in elements {
            if element.is_displayed().await.unwrap_or(false) {
                return element;
            }
        }
        panic!("{selector} vanished");
    }

    /// The element with this test id, once visible.
    pub async fn element(&self, id: &str) -> Element {
        self.find(&testid(id)).await
    }

    pub async fn click(&self, id: &str) {
        self.element(id).await.click().await.unwrap_or_else(|e| panic!("click {id}: {e}"));
    }

    /// Replaces a field's text, typing it as a person would.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.element(id).await;
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type into the field");
    }

    /// Texts of every element matching a selector.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let value = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim());",
                vec![json!(selector)],
            )
            .await;
        value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    }

    /// Waits until some element matching `selector` contains `text`.
    pub async fn wait_for_text(&self, selector: &str, text: &str) {
        let condition = format!(
            "[...document.querySelectorAll({sel})].some(e => e.textContent.includes({text}))",
            sel = serde_json::to_string(selector).unwrap(),
            text = serde_json::to_string(text).unwrap()
        );
        self.wait(&format!("{text} in {selector}"), &condition).await;
    }

    /// Works on this site (the test relay serves many: the console offers a picker).
    pub async fn use_site(&self, site: &protocol::SiteId) {
        self.element("site-picker").await.select_by_value(site.as_str()).await.expect("pick the site");
        let condition = format!("document.querySelector('{}').value === {}", testid("site-picker"), serde_json::to_string(site.as_str()).unwrap());
        self.wait("the site picked", &condition).await;
    }

    /// Switches the agent online and waits until the toggle says so.
    pub async fn go_online(&self) {
        self.click("presence-toggle").await;
        self.wait("online", &format!("document.querySelector('{}[aria-pressed=\"true\"]')", testid("presence-toggle"))).await;
    }

    /// Opens a conversation from whichever list shows it, and waits for its connection (an
    /// action before it is refused, as the agent would see).
    pub async fn open_conversation(&self, conversation: &protocol::ConversationId, list: &str) {
        self.open_conversation_offline(conversation, list).await;
        self.find(&format!("{}[data-conversation-id=\"{conversation}\"][aria-busy=\"false\"]", testid("conversation-view"))).await;
    }

    /// Opens a conversation from whichever list shows it, without waiting for a connection
    /// (the network is down).
    pub async fn open_conversation_offline(&self, conversation: &protocol::ConversationId, list: &str) {
        self.click(list).await;
        self.find(&format!("{}[data-conversation-id=\"{conversation}\"]", testid("conversation-row"))).await.click().await.unwrap();
        self.find(&format!("{}[data-conversation-id=\"{conversation}\"]", testid("conversation-view"))).await;
    }

    /// Writes in the composer and sends with Enter.
    pub async fn write(&self, text: &str) {
        let composer = self.element("composer").await;
        composer.send_keys(text).await.expect("type");
        composer.send_keys("\u{E007}").await.expect("enter");
    }

    /// Violations of the WCAG A/AA rules on the whole page, as axe-core finds them, one line
    /// each.
    pub async fn axe(&self) -> Vec<String> {
        let source = std::fs::read_to_string(crate::repo_root().join("node_modules/axe-core/axe.min.js"))
            .expect("axe-core is installed by scripts/setup");
        self.js(&format!("{source}\n;return true;"), vec![]).await;
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
              .then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => JSON.stringify(n.target) + ' ' + n.failureSummary).join(' | '))))
              .catch(e => done(['axe failed: ' + e]));";
        let result = self.browser.client.execute_async(script, vec![]).await.expect("axe ran");
        serde_json::from_value(result).unwrap_or_default()
    }

    pub async fn screenshot(&self, name: &str) -> String {
        self.browser.screenshot(name).await
    }

    pub async fn close(self) {
        self.browser.close().await;
    }
}
