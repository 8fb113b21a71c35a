//! What a scenario measured, and the printed report: one table per scenario with the relay (or
//! the platform's floor, with `--floor`), the baseline and their ratio side by side, then an
//! integrity line per scenario and target.

use std::fmt::Write;

/// One scenario's measurements on one target.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Labelled numbers, in the order they are printed. `None` when there was nothing to measure.
    pub rows: Vec<(String, Option<f64>)>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
    /// Acknowledged messages that never reached the other side.
    pub lost: u64,
    /// Extra deliveries of a message already delivered.
    pub duplicated: u64,
}

impl Outcome {
    pub fn row(&mut self, label: impl Into<String>, value: Option<f64>) {
        self.rows.push((label.into(), value));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn value(&self, label: &str) -> Option<f64> {
        self.rows.iter().find(|(l, _)| l == label).and_then(|(_, v)| *v)
    }
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e9 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The table of one scenario: every row of the relay's outcome (and any the baseline adds),
/// with relay/baseline where both have a non-zero number. `measured` names the relay's column
/// (`relay`, or `floor`).
pub fn table(name: &str, description: &str, measured: &str, relay: &Outcome, baseline: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {name} ==");
    let _ = writeln!(out, "{description}");
    let mut labels: Vec<&str> = relay.rows.iter().map(|(l, _)| l.as_str()).collect();
    for (label, _) in &baseline.rows {
        if !labels.contains(&label.as_str()) {
            labels.push(label);
        }
    }
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(10);
    let _ = writeln!(out, "  {:<width$}  {:>10}  {:>10}  {:>10}", "", measured, "baseline", format!("{measured}/base"));
    let rows = labels.iter().map(|l| (*l, relay.value(l), baseline.value(l)));
    let counts = [
        ("errors", relay.errors.len() as f64, baseline.errors.len() as f64),
        ("lost", relay.lost as f64, baseline.lost as f64),
        ("duplicated", relay.duplicated as f64, baseline.duplicated as f64),
    ];
    let counts = counts.iter().map(|&(l, r, b)| (l, Some(r), Some(b)));
    for (label, r, b) in rows.chain(counts) {
        let ratio = match (r, b) {
            (Some(r), Some(b)) if b != 0.0 => Some(r / b),
            _ => None,
        };
        let ratio = ratio.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(out, "  {label:<width$}  {:>10}  {:>10}  {ratio:>10}", number(r), number(b));
    }
    for (target, outcome) in [(measured, relay), ("baseline", baseline)] {
        for note in &outcome.notes {
            let _ = writeln!(out, "  {target}: {note}");
        }
        let mut shown = outcome.errors.clone();
        shown.dedup();
        for error in shown.iter().take(5) {
            let _ = writeln!(out, "  {target} error: {error}");
        }
        if shown.len() > 5 {
            let _ = writeln!(out, "  {target}: … and {} more errors", outcome.errors.len() - 5);
        }
    }
    out
}

/// A scenario run several times: for every row, the relay's smallest, middle and largest value
/// over the runs, and the baseline's middle one.
pub fn spread(name: &str, measured: &str, relay: &[Outcome], baseline: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {name} over {} runs ==", relay.len());
    let labels: Vec<&str> = relay.first().map(|o| o.rows.iter().map(|(l, _)| l.as_str()).collect()).unwrap_or_default();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(10);
    let _ = writeln!(out, "  {:<width$}  {:>10}  {:>10}  {:>10}  {:>10}", "", format!("{measured} min"), "median", "max", "baseline");
    let sorted = |outcomes: &[Outcome], label: &str| {
        let mut values: Vec<f64> = outcomes.iter().filter_map(|o| o.value(label)).collect();
        values.sort_by(f64::total_cmp);
        values
    };
    // The lower middle of an even count: a value one run measured, not a mean of two.
    let middle = |values: &[f64]| values.get(values.len().saturating_sub(1) / 2).copied();
    for label in labels {
        let ours = sorted(relay, label);
        let theirs = sorted(baseline, label);
        let _ = writeln!(
            out,
            "  {label:<width$}  {:>10}  {:>10}  {:>10}  {:>10}",
            number(ours.first().copied()),
            number(middle(&ours)),
            number(ours.last().copied()),
            number(middle(&theirs)),
        );
    }
    out
}

/// The line the integration test reads: `integrity SCENARIO TARGET: lost N, duplicated N, errors N`.
pub fn integrity(name: &str, target: &str, outcome: &Outcome) -> String {
    format!(
        "integrity {name} {target}: lost {}, duplicated {}, errors {}",
        outcome.lost,
        outcome.duplicated,
        outcome.errors.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_show_each_rows_range_over_the_runs() {
        let run = |p99: f64, base: f64| {
            let mut o = Outcome::default();
            o.row("p99 ms", Some(p99));
            o.row("nothing", None);
            let mut b = Outcome::default();
            b.row("p99 ms", Some(base));
            (o, b)
        };
        let (relay, baseline): (Vec<_>, Vec<_>) = [run(829.0, 0.3), run(52.0, 0.5), run(141.0, 0.4)].into_iter().unzip();
        let text = spread("live-1000", "relay", &relay, &baseline);
        assert!(text.starts_with("== live-1000 over 3 runs =="), "{text}");
        let row: Vec<&str> = text.lines().find(|l| l.contains("p99 ms")).unwrap().split_whitespace().collect();
        assert_eq!(row, ["p99", "ms", "52", "141", "829", "0.40"], "{text}");
        let empty: Vec<&str> = text.lines().find(|l| l.contains("nothing")).unwrap().split_whitespace().collect();
        assert_eq!(empty, ["nothing", "-", "-", "-", "-"], "{text}");
    }

    #[test]
    fn tables_show_ratios_and_counts() {
        let mut relay = Outcome::default();
        relay.row("delivered msg/s", Some(100.0));
        relay.row("p99 ms", Some(4.5));
        relay.row("missing", None);
        let mut baseline = Outcome::default();
        baseline.row("delivered msg/s", Some(400.0));
        baseline.row("p99 ms", Some(0.5));
        baseline.lost = 1;
        let text = table("live-1", "one conversation", "relay", &relay, &baseline);
        assert!(text.contains("== live-1 =="));
        assert!(text.lines().any(|l| l.contains("delivered msg/s") && l.trim_end().ends_with("0.25")));
        assert!(text.lines().any(|l| l.contains("p99 ms") && l.trim_end().ends_with("9.00")));
        assert!(text.lines().any(|l| l.trim_start().starts_with("lost") && l.contains(" 1 ")));
        assert_eq!(integrity("live-1", "baseline", &baseline), "integrity live-1 baseline: lost 1, duplicated 0, errors 0");
    }
}
