//! How the site is doing over a range of days: conversations per day, first response times,
//! completed conversations, each agent's load.

use crate::api;
use crate::browser;
use crate::state::desk::Desk;
use crate::state::words::duration;
use leptos::prelude::*;
use protocol::inbox::Analytics as Report;

#[component]
pub fn Analytics(desk: Desk) -> impl IntoView {
    let from = RwSignal::new(browser::utc_day(6));
    let to = RwSignal::new(browser::utc_day(0));
    let report = RwSignal::new(None::<Result<Report, String>>);
    // Only the answer to the latest request is shown, however answers arrive.
    let latest = StoredValue::new(0u32);
    Effect::new(move |_| {
        let (from, to) = (from.get(), to.get());
        let request = latest.try_update_value(|n| {
            *n += 1;
            *n
        });
        let site = desk.site();
        leptos::task::spawn_local(async move {
            let answer = desk.session.settle(api::analytics(&site, &from, &to).await);
            if latest.try_get_value() == request {
                report.set(Some(answer));
            }
        });
    });
    let date = move |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input
                    id=id
                    type="date"
                    data-testid=id
                    prop:value=move || value.get()
                    on:change=move |ev| {
                        let chosen = event_target_value(&ev);
                        if !chosen.is_empty() {
                            value.set(chosen);
                        }
                    }
                />
            </div>
        }
    };

    view! {
        <main class="page analytics">
            <h1>"Analytics"</h1>
            <div class="range" role="group" aria-label="Days (UTC)">
                {date("analytics-from", "From", from)}
                {date("analytics-to", "To", to)}
            </div>
            {move || match report.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(why)) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
                Some(Ok(report)) => view! { <ReportView report=report/> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn ReportView(report: Report) -> impl IntoView {
    let time = |secs: Option<u64>| secs.map_or_else(|| "No answers yet".to_owned(), duration);
    view! {
        <section class="report" aria-labelledby="report-speed">
            <h2 id="report-speed">"Summary"</h2>
            <dl class="stats" data-testid="analytics-frt">
                <div class="stat">
                    <dt>"First response, median"</dt>
                    <dd>{time(report.first_response_median_secs)}</dd>
                </div>
                <div class="stat">
                    <dt>"First response, 90th percentile"</dt>
                    <dd>{time(report.first_response_p90_secs)}</dd>
                </div>
                <div class="stat">
                    <dt>"Completed conversations"</dt>
                    <dd>{report.completed}</dd>
                </div>
            </dl>
        </section>
        <section class="report" aria-labelledby="report-days">
            <h2 id="report-days">"Conversations by day"</h2>
            <table class="table" data-testid="analytics-days">
                <thead>
                    <tr>
                        <th scope="col">"Day"</th>
                        <th scope="col">"Open"</th>
                        <th scope="col">"Ended"</th>
                        <th scope="col">"Blocked"</th>
                    </tr>
                </thead>
                <tbody>
                    {report
                        .days
                        .into_iter()
                        .map(|day| view! {
                            <tr>
                                <th scope="row">{day.day}</th>
                                <td>{day.open}</td>
                                <td>{day.ended}</td>
                                <td>{day.blocked}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section class="report" aria-labelledby="report-workload">
            <h2 id="report-workload">"Workload"</h2>
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Open now"</th>
                        <th scope="col">"Ended today"</th>
                    </tr>
                </thead>
                <tbody>
                    {report
                        .workload
                        .into_iter()
                        .map(|agent| view! {
                            <tr>
                                <th scope="row">{agent.name.to_string()}</th>
                                <td>{agent.open_chats}</td>
                                <td>{agent.handled_today}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}
