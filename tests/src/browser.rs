//! A real headless Chromium through chromedriver (WebDriver), with helpers that reach into
//! the widget's shadow root. Elements found there are real WebDriver elements, so clicks and
//! keystrokes are real input events, as a visitor makes them.

use crate::{artifacts_dir, free_port, processes};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait for something on the page may take.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// WebDriver's key code for Enter.
pub const ENTER: &str = "\u{E007}";

/// Page script: every WebSocket the page opens from now on can be cut by the test, one tab
/// at a time (`window.__cut()` closes them and makes new ones fail; `window.__offline =
/// false` lets new ones through again, and `window.__restore()` does that and says `online`,
/// as a browser does when its network comes back). A dead connection as a frozen tab or a
/// tunnel makes. `window.__freeze()` kills the open ones without the page hearing of it:
/// they stay open, and nothing gets through either way (a phone that changed networks).
pub const SOCKETS_THE_TEST_CAN_CUT: &str = "const Real = window.WebSocket; window.__offline = false; window.__sockets = [];
    window.WebSocket = class extends Real {
      constructor(url, protocols) { super(window.__offline ? 'ws://127.0.0.1:9/' : url, protocols); window.__sockets.push(this); }
      send(data) { if (!this.__frozen) super.send(data); }
      get onmessage() { return super.onmessage; }
      set onmessage(handler) { super.onmessage = handler && (event => { if (!this.__frozen) handler(event); }); }
    };
    window.__cut = () => { window.__offline = true; window.__sockets.forEach(s => s.close()); };
    window.__freeze = () => { window.__sockets.forEach(s => { s.__frozen = true; }); };
    window.__restore = () => { window.__offline = false; window.dispatchEvent(new Event('online')); };";

/// One chromedriver per test binary. A port is free when picked, but another process (a
/// relay starting meanwhile) may bind it first: chromedriver then exits, and is started again
/// on another port. Readiness is chromedriver's own `/status`, not just an open port, which
/// might belong to that other process.
fn driver_url() -> &'static str {
    static DRIVER: OnceLock<String> = OnceLock::new();
    DRIVER.get_or_init(|| {
        const ATTEMPTS: u32 = 3;
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let mut command = Command::new(CHROMEDRIVER);
            command.arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null());
            let group = processes::spawn_group(&mut command);
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && processes::alive(group) {
                if is_chromedriver(&url) {
                    return url;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            processes::kill_group(group);
        }
        panic!("chromedriver did not start ({ATTEMPTS} attempts)");
    })
}

fn is_chromedriver(url: &str) -> bool {
    Command::new("curl")
        .args(["-s", "--max-time", "2", &format!("{url}/status")])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ChromeDriver"))
}

/// A browser session: its own fresh profile, so its own localStorage, like a new device.
pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn open() -> Browser {
        Self::open_with_size(1280, 800).await
    }

    pub async fn open_with_size(width: u32, height: u32) -> Browser {
        Self::launch(width, height, "en-US").await
    }

    /// A browser whose user reads `lang` (a BCP 47 tag): `navigator.language` says so.
    pub async fn open_in_language(lang: &str) -> Browser {
        Self::launch(1280, 800, lang).await
    }

    async fn launch(width: u32, height: u32, lang: &str) -> Browser {
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", format!("--window-size={width},{height}"),
                    format!("--lang={lang}"),
                ],
                "prefs": { "intl.accept_languages": lang },
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(driver_url())
            .await
            .expect("a Chromium session through chromedriver");
        Browser { client }
    }

    /// Runs JS in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `condition` (a JS expression, `root` is the widget's shadow root or null)
    /// is truthy; returns its value.
    pub async fn wait_for(&self, what: &str, condition: &str) -> Value {
        let condition =
            format!("(() => {{ const host = document.getElementById('chat-widget'); const root = host && host.shadowRoot; return {condition}; }})()");
        self.wait_until(what, &condition).await
    }

    /// Waits until a JS expression over the page is truthy; returns its value. On timeout,
    /// fails with a screenshot and the browser console.
    pub async fn wait_until(&self, what: &str, condition: &str) -> Value {
        let script = format!("return ({condition}) || null;");
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let value = self.js(&script, vec![]).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot(&format!("timeout-{}", what.replace(' ', "-"))).await;
                let console = self.console().await;
                panic!("timed out waiting for {what} ({condition}); screenshot: {shot}\nconsole: {console:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An element inside the widget's shadow root, waiting for it to appear and be visible.
    pub async fn widget(&self, selector: &str) -> Element {
        let condition = format!(
            "root && (() => {{ const el = root.querySelector({sel}); return el && el.checkVisibility() ? el : null; }})()",
            sel = serde_json::to_string(selector).unwrap()
        );
        let value = self.wait_for(&format!("visible {selector}"), &condition).await;
        let id = value
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{selector} did not come back as an element: {value}"));
        Element::from_element_id(self.client.clone(), ElementRef::from(id.to_owned()))
    }

    /// The texts of every element matching `selector` inside the widget.
    pub async fn widget_texts(&self, selector: &str) -> Vec<String> {
        let script = "const host = document.getElementById('chat-widget'); \
                      if (!host || !host.shadowRoot) return []; \
                      return [...host.shadowRoot.querySelectorAll(arguments[0])].map(e => e.textContent);";
        let value = self.js(script, vec![json!(selector)]).await;
        serde_json::from_value(value).unwrap_or_default()
    }

    /// Waits until the texts matching `selector` are exactly `expected`.
    pub async fn wait_for_texts(&self, selector: &str, expected: &[&str]) {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let texts = self.widget_texts(selector).await;
            if texts == expected {
                return;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("timeout-texts").await;
                panic!("{selector}: expected {expected:?}, found {texts:?}; screenshot: {shot}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the launcher (the loader's, or the widget's once it has mounted) until the
    /// panel shows. The loader replaces its launcher when the widget mounts, so a click can
    /// land on one that just went away; then the click is made again.
    /// A click that lands while the widget is mounting can go unseen (see the session notes);
    /// like a visitor, it clicks again when the panel has not opened after a few seconds.
    pub async fn open_widget(&self) {
        let panel_open = "root && (() => { const p = root.querySelector('.cw-panel'); return p && p.checkVisibility(); })()";
        let script = format!(
            "const host = document.getElementById('chat-widget'); const root = host && host.shadowRoot; return !!({panel_open});"
        );
        for _ in 0..4 {
            for _ in 0..20 {
                let launcher = self.widget(".cw-launcher").await;
                if launcher.click().await.is_ok() {
                    break;
                }
            }
            let deadline = Instant::now() + Duration::from_secs(4);
            while Instant::now() < deadline {
                if self.js(&script, vec![]).await == Value::Bool(true) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        self.widget(".cw-panel").await;
    }

    /// Types into the message field and presses Enter.
    pub async fn write(&self, text: &str) {
        let input = self.widget(".cw-input").await;
        input.send_keys(text).await.expect("type");
        input.send_keys(ENTER).await.expect("press Enter");
    }

    /// The conversation the widget saved for `site` (waiting for it to be saved).
    pub async fn conversation(&self, site: &str) -> protocol::ConversationId {
        let key = serde_json::to_string(&format!("chat-widget:{site}:session")).unwrap();
        let raw = self.wait_for("a saved session", &format!("localStorage.getItem({key})")).await;
        let session: Value = serde_json::from_str(raw.as_str().unwrap()).unwrap();
        protocol::ConversationId::parse(session["conversation_id"].as_str().unwrap()).unwrap()
    }

    /// Console errors (CSP violations included), ignoring nothing.
    pub async fn console_errors(&self) -> Vec<String> {
        self.console().await.into_iter().filter(|(level, _)| level == "SEVERE").map(|(_, m)| m).collect()
    }

    pub async fn local_storage(&self, key: &str) -> Option<String> {
        self.js("return localStorage.getItem(arguments[0]);", vec![json!(key)]).await.as_str().map(str::to_owned)
    }

    /// Saves a PNG under `target/e2e/screenshots/` and returns its path.
    pub async fn screenshot(&self, name: &str) -> String {
        let dir = artifacts_dir().join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        let path = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => {
                std::fs::write(&path, png).expect("write screenshot");
                path.display().to_string()
            }
            Err(e) => format!("(no screenshot: {e})"),
        }
    }

    /// The browser console since the last call: `(level, message)`, e.g. `("SEVERE", ...)`
    /// for errors and Content-Security-Policy violations.
    pub async fn console(&self) -> Vec<(String, String)> {
        let entries = self.client.issue_cmd(ConsoleLog).await.unwrap_or_default();
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| (e["level"].as_str().unwrap_or("").to_owned(), e["message"].as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Cuts or restores the page's network, as when a phone loses signal (Chromium's
    /// DevTools network emulation, through chromedriver).
    pub async fn set_offline(&self, offline: bool) {
        let params = json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 });
        // Emulation applies only while the Network domain is enabled.
        self.client.issue_cmd(DevTools { command: "Network.enable", params: json!({}) }).await.expect("network domain");
        self.client
            .issue_cmd(DevTools { command: "Network.emulateNetworkConditions", params })
            .await
            .expect("network emulation");
    }

    /// Sets a CSS media feature as a visitor's system would (`forced-colors`: a high contrast
    /// theme), through DevTools.
    pub async fn emulate_media_feature(&self, name: &str, value: &str) {
        let params = json!({ "features": [{ "name": name, "value": value }] });
        self.client.issue_cmd(DevTools { command: "Emulation.setEmulatedMedia", params }).await.expect("media emulation");
    }

    /// Makes requests whose URL matches one of `patterns` (`*` for anything) fail, as a
    /// blocked or lost download does; an empty list lets everything through again.
    pub async fn block_urls(&self, patterns: &[&str]) {
        self.client.issue_cmd(DevTools { command: "Network.enable", params: json!({}) }).await.expect("network domain");
        self.client
            .issue_cmd(DevTools { command: "Network.setBlockedURLs", params: json!({ "urls": patterns }) })
            .await
            .expect("blocked urls");
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A Chrome DevTools command sent through chromedriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.command, "params": self.params }).to_string()))
    }
}

/// chromedriver's console log endpoint.
#[derive(Debug)]
struct ConsoleLog;

impl WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}
