//! The console's pages, rendered with maud: every value is escaped as it is written (maud
//! escapes whatever is not marked `PreEscaped`, and only the style sheet is), so a quarantined
//! body holding `<script>` stays text. No page has a script; every action is a form.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::SearchQuery;
use super::chart;
use crate::appstore_api::reconcile::ReconcileSnapshot;
use crate::store::reads::{
    AppActivity, NotificationDetail, NotificationSummary, ReasonCount, SubscriptionState,
    TimelineEntry,
};
use crate::store::{Backlog, DeliveryAttempt, DeliveryRow, QuarantineEntry};
use crate::time::format_ms;

const CSS: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
nav{background:#1d2b3a;padding:.6em 1em;display:flex;gap:1.2em;align-items:center}
nav a{color:#fff;text-decoration:none;font-weight:600}nav form{margin-left:auto}
main{padding:1em 1.5em;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1.5em;background:#fff}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef2f6}pre{white-space:pre-wrap;word-break:break-all;margin:0;max-width:70em}
pre.body{max-height:12em;overflow:auto;background:#f4f4f4;padding:.3em}
.muted{color:#777}.done{background:#e6f4ea;padding:.5em 1em;border:1px solid #9c9}
.error{background:#fdecea;padding:.5em 1em;border:1px solid #e99}
.changed{font-weight:700;color:#a0522d}form.inline{display:inline}
input[type=text],input[type=password]{padding:.25em;min-width:14em}
.grid{display:flex;flex-wrap:wrap;gap:2em}
";

/// `s` for a URL's query or path.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn layout(title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · asnd console" }
                style { (PreEscaped(CSS)) }
            }
            body {
                nav {
                    a href="/" { "Overview" }
                    a href="/notifications" { "Notifications" }
                    a href="/quarantine" { "Quarantine" }
                    a href="/deliveries" { "Deliveries" }
                    @if let Some(csrf) = csrf {
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn time(ms: Option<i64>) -> Markup {
    match ms {
        Some(ms) => html! { (format_ms(ms)) },
        None => html! { span.muted { "–" } },
    }
}

fn opt(s: Option<&str>) -> Markup {
    match s {
        Some(s) if !s.is_empty() => html! { (s) },
        _ => html! { span.muted { "–" } },
    }
}

/// How long ago, for people: `3 min`, `5 h`, `2 days`.
pub fn ago(ms: i64) -> String {
    let secs = (ms / 1000).max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// Apple's subscription status, in words.
fn status_name(status: Option<i64>) -> &'static str {
    match status {
        Some(1) => "1 active",
        Some(2) => "2 expired",
        Some(3) => "3 billing retry",
        Some(4) => "4 grace period",
        Some(5) => "5 revoked",
        Some(_) => "unknown",
        None => "–",
    }
}

fn notification_link(uuid: &str) -> Markup {
    html! { a href=(format!("/notifications/{}", encode(uuid))) { (uuid) } }
}

fn subscription_link(id: Option<&str>) -> Markup {
    match id {
        Some(id) => html! { a href=(format!("/subscriptions/{}", encode(id))) { (id) } },
        None => opt(None),
    }
}

pub fn error(status: StatusCode, message: &str) -> Markup {
    layout(
        status.canonical_reason().unwrap_or("Error"),
        None,
        html! { p.error { (message) } },
    )
}

pub fn login(next: &str, problem: Option<&str>) -> Markup {
    let body = html! {
        @if let Some(problem) = problem { p.error { (problem) } }
        p { "The console needs the token set as " code { "[admin] token" } " (or "
            code { "ASND_ADMIN__TOKEN" } ")." }
        form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "Token " input type="password" name="token" autofocus required autocomplete="current-password"; }
            " "
            button type="submit" { "Log in" }
        }
    };
    layout("Log in", None, body)
}

/// What the overview shows.
pub struct Overview {
    pub now_ms: i64,
    pub activity: Vec<AppActivity>,
    pub hours: Vec<i64>,
    pub first_hour: i64,
    pub refusals: Vec<ReasonCount>,
    pub quarantine_rows: i64,
    pub backlog: Vec<Backlog>,
    pub reconcile: ReconcileSnapshot,
}

pub fn overview(csrf: &str, o: &Overview) -> Markup {
    let body = html! {
        h2 { "Last notification stored, per app and environment" }
        @if o.activity.is_empty() {
            p.muted { "Nothing stored yet." }
        } @else {
            table #activity {
                tr { th { "App" } th { "Environment" } th { "Last stored" } th { "Ago" } th { "Stored" } }
                @for a in &o.activity {
                    tr {
                        td { (opt(a.bundle_id.as_deref())) }
                        td { (opt(a.environment.as_deref())) }
                        td { (format_ms(a.last_received_at)) }
                        td { (ago(o.now_ms - a.last_received_at)) }
                        td.count { (a.count) }
                    }
                }
            }
        }
        h2 { "Notifications per hour, last 48 hours" }
        (chart::svg(&o.hours, o.first_hour))
        div.grid {
            div {
                h2 { "Refusals by reason" }
                p { "Quarantine: " a href="/quarantine" { span #quarantine-rows { (o.quarantine_rows) } " rows" } }
                @if o.refusals.is_empty() {
                    p.muted { "None." }
                } @else {
                    table #refusals {
                        tr { th { "Reason" } th { "Rows" } }
                        @for r in &o.refusals {
                            tr {
                                td { a href=(format!("/quarantine?reason={}", encode(&r.reason))) { (r.reason) } }
                                td { (r.count) }
                            }
                        }
                    }
                }
            }
            div {
                h2 { "Deliveries" }
                (backlog_table(&o.backlog, o.now_ms, None))
            }
            div {
                h2 { "Reconciliation" }
                @if o.reconcile.last_run_ms > 0 {
                    p { "Last run " (format_ms(o.reconcile.last_run_ms)) ", "
                        (ago(o.now_ms - o.reconcile.last_run_ms)) " ago." }
                } @else {
                    p.muted { "Never ran in this process (see [reconcile])." }
                }
                table {
                    tr { th { "Runs" } th { "New" } th { "Duplicate" } th { "Rejected" } th { "Errors" } }
                    tr {
                        td { (o.reconcile.runs) } td { (o.reconcile.new) } td { (o.reconcile.duplicate) }
                        td { (o.reconcile.rejected) } td { (o.reconcile.errors) }
                    }
                }
            }
        }
    };
    layout("Overview", Some(csrf), body)
}

/// Pending and dead deliveries per destination; with `csrf`, a "Retry" of the dead ones.
fn backlog_table(backlog: &[Backlog], now_ms: i64, csrf: Option<&str>) -> Markup {
    let mut destinations: Vec<&str> = backlog.iter().map(|b| b.destination.as_str()).collect();
    destinations.sort_unstable();
    destinations.dedup();
    let of = |destination: &str, state: &str| {
        backlog
            .iter()
            .find(|b| b.destination == destination && b.state == state)
    };
    html! {
        @if destinations.is_empty() {
            p.muted { "Nothing pending or dead." }
        } @else {
            table #backlog {
                tr { th { "Destination" } th { "Pending" } th { "Oldest pending" } th { "Dead" }
                     @if csrf.is_some() { th {} } }
                @for d in &destinations {
                    @let pending = of(d, "pending");
                    @let dead = of(d, "dead").map_or(0, |b| b.count);
                    tr {
                        td { a href=(format!("/deliveries?destination={}", encode(d))) { (d) } }
                        td { (pending.map_or(0, |b| b.count)) }
                        td { @if let Some(p) = pending { (ago(now_ms - p.oldest)) } @else { span.muted { "–" } } }
                        td { (dead) }
                        @if let Some(csrf) = csrf {
                            td {
                                @if dead > 0 {
                                    form.inline method="post" action="/deliveries/retry" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="destination" value=(d);
                                        button type="submit" { "Retry all dead" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn summary_rows(rows: &[NotificationSummary]) -> Markup {
    html! {
        table #results {
            tr {
                th { "Received" } th { "Signed" } th { "Type" } th { "Subtype" } th { "Environment" }
                th { "App" } th { "Original transaction" } th { "Notification" }
            }
            @for n in rows {
                tr {
                    td { (format_ms(n.received_at)) }
                    td { (time(n.signed_date)) }
                    td { (n.notification_type) }
                    td { (opt(n.subtype.as_deref())) }
                    td { (opt(n.environment.as_deref())) }
                    td { (opt(n.bundle_id.as_deref())) }
                    td { (subscription_link(n.original_transaction_id.as_deref())) }
                    td { (notification_link(&n.notification_uuid)) }
                }
            }
        }
    }
}

pub fn notifications(
    csrf: &str,
    q: &SearchQuery,
    rows: &[NotificationSummary],
    more: bool,
) -> Markup {
    let page_link = |page: i64| {
        format!(
            "/notifications?q={}&type={}&subtype={}&environment={}&since={}&until={}&page={page}",
            encode(&q.q),
            encode(&q.notification_type),
            encode(&q.subtype),
            encode(&q.environment),
            encode(&q.since),
            encode(&q.until),
        )
    };
    let body = html! {
        form #search method="get" action="/notifications" {
            label { "Any id " input type="text" name="q" value=(q.q)
                placeholder="notification UUID, transaction id, original transaction id or appAccountToken"; }
            " "
            label { "Type " input type="text" name="type" value=(q.notification_type) placeholder="DID_RENEW"; }
            " "
            label { "Subtype " input type="text" name="subtype" value=(q.subtype); }
            " "
            label { "Environment "
                select name="environment" {
                    @for (value, text) in [("", "any"), ("Production", "Production"), ("Sandbox", "Sandbox")] {
                        option value=(value) selected[q.environment == value] { (text) }
                    }
                }
            }
            br;
            label { "Received since " input type="text" name="since" value=(q.since) placeholder="72h or 2026-11-01T00:00:00Z"; }
            " "
            label { "until " input type="text" name="until" value=(q.until) placeholder="now"; }
            " "
            button type="submit" { "Search" }
        }
        p.muted { "Newest first, " (super::PAGE) " a page." }
        @if rows.is_empty() {
            p #no-results { "No stored notification matches." }
        } @else {
            (summary_rows(rows))
        }
        p {
            @if q.page > 0 { a href=(page_link(q.page - 1)) { "← newer" } " " }
            @if more { a href=(page_link(q.page + 1)) { "older →" } }
        }
    };
    layout("Notifications", Some(csrf), body)
}

/// The subjects of each certificate chain a body carries: the outer JWS's, then each nested
/// signed payload's (by field name). Empty for a V1 body.
fn chains(raw_body: &[u8]) -> Vec<(String, Vec<String>)> {
    use crate::apple::{chain, jws};
    let Ok(body) = serde_json::from_slice::<Value>(raw_body) else {
        return Vec::new();
    };
    let Some(Ok(outer)) = body
        .get("signedPayload")
        .and_then(Value::as_str)
        .map(jws::parse)
    else {
        return Vec::new();
    };
    let mut found = vec![("signedPayload".to_owned(), chain::subjects(&outer.x5c))];
    if let Some(data) = outer.payload.get("data").and_then(Value::as_object) {
        for (field, value) in data {
            if let Some(Ok(nested)) = value
                .as_str()
                .filter(|_| field.starts_with("signed"))
                .map(jws::parse)
            {
                found.push((format!("data.{field}"), chain::subjects(&nested.x5c)));
            }
        }
    }
    found
}

pub fn notification(
    csrf: &str,
    stored: &[NotificationDetail],
    attempts: &[DeliveryAttempt],
    deliveries: &[Vec<DeliveryRow>],
) -> Markup {
    let body = html! {
        @for (n, deliveries) in stored.iter().zip(deliveries) {
            @let s = &n.summary;
            table #summary {
                tr { th { "notificationUUID" } td { (s.notification_uuid) } }
                tr { th { "Type" } td { (s.notification_type) " " (opt(s.subtype.as_deref())) } }
                tr { th { "Environment" } td { (opt(s.environment.as_deref())) } }
                tr { th { "App" } td { (opt(s.bundle_id.as_deref())) } }
                tr { th { "Version" } td { (n.version) } }
                tr { th { "Signed" } td { (time(s.signed_date)) } }
                tr { th { "Received" } td { (format_ms(s.received_at)) " from " (s.source_address) } }
                tr { th { "Transaction" } td { (opt(s.transaction_id.as_deref())) } }
                tr { th { "Original transaction" } td { (subscription_link(s.original_transaction_id.as_deref())) } }
                tr { th { "verified_by" } td #verified-by { (s.verified_by) } }
            }
            h2 { "Certificate chains" }
            @let chains = chains(&n.raw_body);
            @if chains.is_empty() {
                p.muted { "None: a V1 body, authenticated by a shared secret." }
            } @else {
                table #chains {
                    tr { th { "Signed payload" } th { "Certificates, leaf first (subjects)" } }
                    @for (field, subjects) in &chains {
                        tr { td { code { (field) } } td { @for subject in subjects { div { (subject) } } } }
                    }
                }
            }
            h2 { "Event deliveries" }
            @if deliveries.is_empty() {
                p.muted { "None." }
            } @else {
                table #event-deliveries {
                    tr { th { "Id" } th { "Destination" } th { "State" } th { "Attempts" } th { "Last status" } th { "Last error" } th { "Created" } }
                    @for d in deliveries {
                        tr {
                            td { (d.id) } td { (d.destination) } td { (d.state) } td { (d.attempts) }
                            td { (opt(d.last_status.map(|s| s.to_string()).as_deref())) }
                            td { (opt(d.last_error.as_deref())) } td { (format_ms(d.created_at)) }
                        }
                    }
                }
            }
            h2 { "Decoded payload" }
            pre #payload { (serde_json::to_string_pretty(&n.payload.0).unwrap_or_default()) }
        }
        h2 { "Apple's delivery attempts" }
        @if attempts.is_empty() {
            p.muted { "None recorded (they come from " code { "asnd backfill" } " and reconciliation)." }
        } @else {
            table #apple-attempts {
                tr { th { "Attempt" } th { "Result" } }
                @for a in attempts { tr { td { (format_ms(a.attempt_date)) } td { (a.send_attempt_result) } } }
            }
        }
    };
    layout("Notification", Some(csrf), body)
}

pub fn subscription(
    csrf: &str,
    original_transaction_id: &str,
    current: Option<&SubscriptionState>,
    timeline: &[TimelineEntry],
) -> Markup {
    // Each entry with its status, marked where the status differs from the one before.
    let mut previous = None;
    let marked: Vec<(&TimelineEntry, Option<i64>, bool)> = timeline
        .iter()
        .map(|e| {
            let status = e.status();
            let changed = previous.is_some() && status != previous;
            previous = status.or(previous);
            (e, status, changed)
        })
        .collect();
    let body = html! {
        p { "Original transaction id " code { (original_transaction_id) } }
        @if let Some(s) = current {
            table #state {
                tr { th { "Status" } td #status { (status_name(s.status)) } }
                tr { th { "Product" } td { (opt(s.product_id.as_deref())) } }
                tr { th { "Auto-renew" } td { (match s.auto_renew_status { Some(1) => "on", Some(0) => "off", _ => "–" }) } }
                tr { th { "Expires" } td { (time(s.expires_date)) } }
                tr { th { "App" } td { (opt(s.bundle_id.as_deref())) } }
                tr { th { "Environment" } td { (opt(s.environment.as_deref())) } }
                tr { th { "appAccountToken" } td { (opt(s.app_account_token.as_deref())) } }
                tr { th { "Since" } td { (s.last_notification_type) " " (opt(s.last_subtype.as_deref())) ", signed " (format_ms(s.signed_date)) } }
                tr { th { "verified_by" } td { (s.verified_by) } }
            }
        } @else {
            p.muted { "No subscription state is stored (not an auto-renewable subscription?)." }
        }
        h2 { "Timeline, in signedDate order" }
        table #timeline {
            tr { th { "Signed" } th { "Type" } th { "Subtype" } th { "Status" } th { "Notification" } }
            @for (e, status, changed) in &marked {
                @let status = *status;
                tr {
                    td.signed { (time(e.summary.signed_date)) }
                    td { (e.summary.notification_type) }
                    td { (opt(e.summary.subtype.as_deref())) }
                    td {
                        (status_name(status))
                        @if *changed { " " span.changed { "◆ status changed" } }
                    }
                    td { (notification_link(&e.summary.notification_uuid)) }
                }
            }
        }
    };
    layout("Subscription", Some(csrf), body)
}

/// Bytes of a body shown; the rest is in the database.
const BODY_SHOWN: usize = 4096;

pub fn quarantine(
    csrf: &str,
    reason: &str,
    page: i64,
    rows: &[QuarantineEntry],
    more: bool,
    size: i64,
    done: Option<&str>,
) -> Markup {
    let page_link = |page: i64| format!("/quarantine?reason={}&page={page}", encode(reason));
    let body = html! {
        @if let Some(done) = done { p.done #done { (done) } }
        p { (size) " rows in all. Bodies come from anyone on an allowed network: they are shown as text." }
        form method="get" action="/quarantine" {
            label { "Reason starts with " input type="text" name="reason" value=(reason) placeholder="INVALID_APP_IDENTIFIER"; }
            " " button type="submit" { "Filter" }
        }
        form #reprocess-set method="post" action="/quarantine/reprocess" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="reason" value=(reason);
            label { "Received since " input type="text" name="since" placeholder="72h (all when empty)"; }
            " "
            button type="submit" {
                "Reprocess every row"
                @if !reason.is_empty() { " whose reason starts with “" (reason) "”" }
            }
        }
        table #quarantine {
            tr { th { "Id" } th { "Received" } th { "Source" } th { "Status" } th { "Reason" } th { "Body" } th { "Reprocessed" } }
            @for r in rows {
                @let shown = &r.raw_body[..r.raw_body.len().min(BODY_SHOWN)];
                tr {
                    td { (r.id) }
                    td { (format_ms(r.received_at)) }
                    td { (r.source_address) }
                    td { (r.http_status) }
                    td.reason { (r.reason) }
                    td {
                        pre.body { (String::from_utf8_lossy(shown)) }
                        @let length = r.body_length.unwrap_or(r.raw_body.len() as i64);
                        @if length > shown.len() as i64 {
                            span.muted { (shown.len()) " of " (length) " bytes shown" }
                        }
                    }
                    td {
                        @match r.reprocess_result.as_deref() {
                            Some(result @ ("stored" | "duplicate")) => { (result) }
                            other => {
                                @if let Some(result) = other { div.muted { (result) } }
                                form.inline method="post" action="/quarantine/reprocess" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="id" value=(r.id);
                                    button type="submit" { "Reprocess" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p {
            @if page > 0 { a href=(page_link(page - 1)) { "← newer" } " " }
            @if more { a href=(page_link(page + 1)) { "older →" } }
        }
    };
    layout("Quarantine", Some(csrf), body)
}

pub fn deliveries(
    csrf: &str,
    destination: Option<&str>,
    backlog: &[Backlog],
    dead: &[DeliveryRow],
    pending: &[DeliveryRow],
    now_ms: i64,
    done: Option<&str>,
) -> Markup {
    let body = html! {
        @if let Some(done) = done { p.done #done { (done) } }
        (backlog_table(backlog, now_ms, Some(csrf)))
        @if let Some(d) = destination { p { "Destination " code { (d) } " only. " a href="/deliveries" { "All" } } }
        h2 { "Dead" }
        @if dead.is_empty() {
            p.muted #no-dead { "None." }
        } @else {
            table #dead {
                tr { th { "Id" } th { "Destination" } th { "Event" } th { "Attempts" } th { "Last status" } th { "Last error" } th { "Created" } th {} }
                @for d in dead {
                    tr {
                        td { (d.id) } td { (d.destination) } td { (crate::store::outbox::event_id(d.notification_id)) }
                        td { (d.attempts) }
                        td { (opt(d.last_status.map(|s| s.to_string()).as_deref())) }
                        td { (opt(d.last_error.as_deref())) } td { (format_ms(d.created_at)) }
                        td {
                            form.inline method="post" action="/deliveries/retry" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="id" value=(d.id);
                                button type="submit" { "Retry" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Pending" }
        @if pending.is_empty() {
            p.muted { "None." }
        } @else {
            table #pending {
                tr { th { "Id" } th { "Destination" } th { "Event" } th { "Attempts" } th { "Next attempt" } th { "Last error" } th { "Created" } }
                @for d in pending {
                    tr {
                        td { (d.id) } td { (d.destination) } td { (crate::store::outbox::event_id(d.notification_id)) }
                        td { (d.attempts) } td { (format_ms(d.next_attempt_at)) }
                        td { (opt(d.last_error.as_deref())) } td { (format_ms(d.created_at)) }
                    }
                }
            }
        }
    };
    layout("Deliveries", Some(csrf), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_body_stays_text() {
        let row = QuarantineEntry {
            id: 1,
            received_at: 0,
            source_address: "127.0.0.1".into(),
            reason: "bad_request: <b>not JSON</b>".into(),
            http_status: 400,
            raw_body: b"<script>alert(1)</script><img src=x onerror=alert(2)>".to_vec(),
            body_length: None,
            reprocess_result: Some("<i>x</i>".into()),
        };
        let html = quarantine("csrf\"x", "<r>", 0, &[row], false, 1, Some("<done>")).into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(
                "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
            )
        );
        assert!(
            !html.contains("<b>not JSON") && !html.contains("<i>x") && !html.contains("<done>")
        );
        assert!(!html.contains("csrf\"x") && html.contains("csrf&quot;x"));
    }

    #[test]
    fn ago_reads_in_the_largest_unit() {
        assert_eq!(ago(5_000), "5 s");
        assert_eq!(ago(125_000), "2 min");
        assert_eq!(ago(3 * 3_600_000), "3 h");
        assert_eq!(ago(3 * 86_400_000), "3 days");
        assert_eq!(ago(-5), "0 s");
    }
}
