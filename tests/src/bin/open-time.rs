//! Widget open-time benchmark, in a real headless Chromium against the real relay:
//!
//!     scripts/build --release && cargo run --release -p e2e --bin open-time
//!
//! For each of 10 runs, on a customer's page (its own origin, a strict CSP, the one tag): long
//! tasks while the page loads with only the loader (it must add none: the same page without
//! the tag is measured too), and the time from the first click on the launcher until the panel
//! is interactive (the message field is there and focused), with a cold cache (a fresh browser
//! profile) and a warm one (the same browser, reloaded). Prints medians and extremes.

use e2e::browser::Browser;
use e2e::host::HostPage;
use e2e::Relay;

const RUNS: usize = 10;

/// Collects the page's long tasks (≥ 50 ms), those before it ran too (`buffered`).
const OBSERVE_LONG_TASKS: &str = "window.__longTasks = []; \
    new PerformanceObserver(l => l.getEntries().forEach(e => window.__longTasks.push([e.startTime, e.duration]))) \
      .observe({ type: 'longtask', buffered: true }); return true;";

/// The long tasks' time before the widget started to load: the loader's share of page load.
/// The widget loads when the browser is idle, sometimes before this is asked; its compiling
/// and first render are the open time's, not page load's.
const PAGE_LOAD_LONG_TASKS: &str = "const glue = performance.getEntriesByType('resource').find(e => e.name.endsWith('/widget/widget.js')); \
    const widgetFrom = glue ? glue.startTime : Infinity; \
    return window.__longTasks.filter(([start]) => start < widgetFrom).reduce((sum, [, duration]) => sum + duration, 0);";

/// Clicks the launcher and resolves once the message field exists and has focus.
const CLICK_TO_INTERACTIVE: &str = "const done = arguments[arguments.length - 1];
    const root = document.getElementById('chat-widget').shadowRoot;
    const start = performance.now();
    root.querySelector('.cw-launcher').click();
    (function check() {
      const input = root.querySelector('.cw-input');
      if (input && root.activeElement === input) done(performance.now() - start);
      else requestAnimationFrame(check);
    })();";

fn stats(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    format!("median {median:7.1} ms   min {:7.1}   max {:7.1}", values[0], values[values.len() - 1])
}

/// Loads `url` and returns its page load's long tasks.
async fn load(browser: &Browser, url: &str) -> f64 {
    browser.client.goto(url).await.unwrap();
    browser.js(OBSERVE_LONG_TASKS, vec![]).await;
    browser.js(PAGE_LOAD_LONG_TASKS, vec![]).await.as_f64().unwrap_or(0.0)
}

async fn load_and_open(browser: &Browser, url: &str) -> (f64, f64) {
    let load_long = load(browser, url).await;
    browser.wait_for("the loader's launcher", "root && root.querySelector('.cw-launcher')").await;
    let opened = browser.client.execute_async(CLICK_TO_INTERACTIVE, vec![]).await.unwrap();
    (load_long, opened.as_f64().unwrap())
}

/// Long tasks while a fresh browser loads `url` and nothing else happens yet.
async fn page_load_long_tasks(url: &str) -> f64 {
    let browser = Browser::open().await;
    let long = load(&browser, url).await;
    browser.close().await;
    long
}

#[tokio::main]
async fn main() {
    let profile = std::fs::read_to_string(e2e::repo_root().join("dist/build-profile")).unwrap_or_default();
    let relay = Relay::start("open-time");
    // A customer's page on its own origin, under its strict CSP, with the one tag; and the
    // same page without it, for what the page costs by itself.
    let page = HostPage::serve(&relay.origin, e2e::fresh_site().as_str(), "").await;
    let bare = HostPage::serve_without_widget(&relay.origin).await;

    let (mut cold, mut warm, mut long_tasks, mut bare_long_tasks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let alone = page_load_long_tasks(&bare.url).await;
        let browser = Browser::open().await;
        let (load_long, first) = load_and_open(&browser, &page.url).await;
        let (_, again) = load_and_open(&browser, &page.url).await;
        bare_long_tasks.push(alone);
        long_tasks.push(load_long);
        cold.push(first);
        warm.push(again);
        eprintln!(
            "[open-time] run {}/{RUNS}: cold {first:.1} ms, warm {again:.1} ms, long tasks at page load {load_long:.1} ms (the page alone {alone:.1} ms)",
            run + 1
        );
        browser.close().await;
    }

    println!("widget open time ({} build, headless Chromium, {RUNS} runs)", profile.trim());
    println!("  long tasks during page load, the page alone:       {}", stats(bare_long_tasks));
    println!("  long tasks during page load, with the loader:      {}", stats(long_tasks));
    println!("  first click → panel interactive, cold cache:       {}", stats(cold));
    println!("  first click → panel interactive, warm cache:       {}", stats(warm));
}
