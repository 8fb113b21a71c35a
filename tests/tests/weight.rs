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
