//! Weight budgets, in bytes, from the same report a developer prints (`node scripts/size.mjs`).

use e2e::repo_root;
use serde_json::Value;

fn report() -> Value {
    let output = std::process::Command::new("node")
        .current_dir(repo_root())
        .args(["scripts/size.mjs", "--json"])
        .output()
        .expect("node runs the size report");
    assert!(output.status.success(), "size report failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

#[test]
fn the_loader_that_runs_on_every_page_view_stays_under_one_and_a_half_kilobytes_gzipped() {
    let report = report();
    let loader = &report["rows"][0];
    assert_eq!(loader["name"], "loader");
    assert!(
        report["loaderWithinBudget"].as_bool().unwrap(),
        "loader is {} B gzip, budget {} B",
        loader["gzip"],
        report["budgets"]["loader"]
    );
}

/// Everything a visitor's browser loads when they first open the chat (loader, widget wasm and
/// glue, styles, and the heaviest language's words) stays within 100 KB gzip. Judged on the
/// release build, what visitors get: `scripts/test` runs this file again after
/// `scripts/build --release`.
#[test]
fn everything_loaded_at_first_open_stays_under_one_hundred_kilobytes_gzipped() {
    let report = report();
    if report["profile"] != "release" {
        eprintln!("first open is judged on the release build; this is a {} build", report["profile"]);
        return;
    }
    assert!(
        report["firstOpenWithinBudget"].as_bool().unwrap(),
        "first open (with the heaviest language) is {} B gzip, budget {} B",
        report["firstOpen"]["gzip"],
        report["budgets"]["firstOpen"]
    );
}

/// The agents' console has no budget (a working tool, not on customers' pages), but it may
/// only grow past its ceiling on purpose, by moving the ceiling. Judged on the release build.
#[test]
fn the_agents_console_does_not_grow_past_its_ceiling() {
    let report = report();
    if report["profile"] != "release" {
        eprintln!("the console is judged on the release build; this is a {} build", report["profile"]);
        return;
    }
    assert!(
        report["consoleWithinCeiling"].as_bool().unwrap(),
        "the console is {} B gzip, grown past its {} B ceiling",
        report["console"]["gzip"],
        report["ceilings"]["console"]
    );
}

/// The release build of the widget and the console compiles `{:?}` to nothing
/// (`-Zfmt-debug=none`, `scripts/build`): a message that formats with Debug would lose its
/// value there and nowhere else. So the code they run (outside its tests) uses none.
#[test]
fn the_browser_code_formats_nothing_with_debug() {
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for crate_dir in ["widget/src", "console/src", "protocol/src"] {
        sources(&repo_root().join(crate_dir), &mut files);
    }
    let mut debug_formats = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests sit at the end of their file, after `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            if line.contains(":?}") || line.contains(":#?}") {
                debug_formats.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(debug_formats.is_empty(), "Debug formatting in code the browsers run:\n{}", debug_formats.join("\n"));
}
