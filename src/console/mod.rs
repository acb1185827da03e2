//! The operator console, on the admin listener when `[admin] console = true`: server-rendered
//! HTML pages (no script) over the store's read models, and two actions, "Reprocess" (the code
//! of `asnd reprocess`) and "Retry" (the code of `asnd deliveries retry`). Every page needs the
//! token ([`auth`]); handlers read through `Store::reads` and never touch SQL.

pub mod auth;
pub mod chart;
mod pages;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use auth::{ConsoleAuth, Via};

use crate::appstore_api::parse_time;
use crate::reprocess::reprocess;
use crate::server::AppState;
use crate::store::reads::NotificationSearch;
use crate::store::{DeliveryFilter, QuarantineFilter, StoreError};
use crate::time::now_ms;

/// Rows on one page of a list.
const PAGE: i64 = 50;

/// The console's routes, each behind [`auth::guard`].
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/notifications", get(notifications))
        .route("/notifications/{uuid}", get(notification))
        .route(
            "/subscriptions/{original_transaction_id}",
            get(subscription),
        )
        .route("/quarantine", get(quarantine))
        .route("/quarantine/reprocess", post(reprocess_action))
        .route("/deliveries", get(deliveries))
        .route("/deliveries/retry", post(retry_action))
        .route_layer(axum::middleware::from_fn_with_state(state, auth::guard))
}

/// What a console page could not do, as a page with its status.
#[derive(Debug)]
pub enum ConsoleError {
    /// The database failed or was slower than `database.timeout`.
    Unavailable(String),
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        ConsoleError::Unavailable(e.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ConsoleError::Unavailable(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The database did not answer: {why}. Reload the page to try again."),
            ),
            ConsoleError::NotFound(what) => (StatusCode::NOT_FOUND, what),
            ConsoleError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            ConsoleError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                format!("Refused: {why}. Use the console's own pages."),
            ),
        };
        (status, Html(pages::error(status, &message).into_string())).into_response()
    }
}

type Page = Result<Html<String>, ConsoleError>;

/// A read within the database timeout.
async fn read<T>(
    state: &AppState,
    query: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, ConsoleError> {
    match tokio::time::timeout(state.pipeline.store_timeout, query).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ConsoleError::Unavailable(format!(
            "no answer within {:?}",
            state.pipeline.store_timeout
        ))),
    }
}

fn auth(state: &AppState) -> Result<&ConsoleAuth, ConsoleError> {
    state
        .console
        .as_ref()
        .ok_or_else(|| ConsoleError::NotFound("the console is off".into()))
}

/// `?done=` on a page: what the last action did.
#[derive(Debug, Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn overview(State(state): State<Arc<AppState>>) -> Page {
    let csrf = auth(&state)?.csrf();
    let store = &state.pipeline.store;
    let now = now_ms();
    let first_hour = chart::first_hour(now);
    let overview = pages::Overview {
        now_ms: now,
        activity: read(&state, store.reads().activity()).await?,
        hours: chart::per_hour(
            &read(&state, store.reads().hourly(first_hour * 3_600_000)).await?,
            first_hour,
        ),
        first_hour,
        refusals: read(&state, store.reads().refusals()).await?,
        quarantine_rows: read(&state, store.quarantine().size()).await?,
        backlog: read(&state, store.outbox().backlog()).await?,
        reconcile: state.reconcile.snapshot(),
    };
    Ok(Html(pages::overview(csrf, &overview).into_string()))
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_form(Query(q): Query<LoginQuery>) -> Html<String> {
    Html(pages::login(auth::safe_next(q.next.as_deref()), None).into_string())
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(state): State<Arc<AppState>>, Form(form): Form<LoginForm>) -> Response {
    let Ok(auth) = auth(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let next = auth::safe_next(form.next.as_deref());
    if !auth.is_token(form.token.trim()) {
        tracing::warn!("console: login with a wrong token");
        let page = pages::login(next, Some("That is not the token. Try again."));
        return (StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response();
    }
    (
        [(header::SET_COOKIE, auth.session_cookie())],
        Redirect::to(next),
    )
        .into_response()
}

/// A posted form that carries the console's CSRF token (`csrf`).
trait CsrfForm: DeserializeOwned + Send {
    fn csrf(&self) -> &str;
}

/// An action's form, taken only when its CSRF token is right (or the request came with the
/// bearer token, which a browser never sends by itself): no action can forget the check.
struct CheckedForm<T>(T);

impl<T: CsrfForm> FromRequest<Arc<AppState>> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let via = request.extensions().get::<Via>().copied();
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let checked = match via {
            Some(via) => auth(state)
                .map_err(IntoResponse::into_response)?
                .csrf_ok(via, form.csrf()),
            None => false,
        };
        match checked {
            true => Ok(CheckedForm(form)),
            false => Err(ConsoleError::Forbidden(
                "the form's CSRF token is missing or wrong".into(),
            )
            .into_response()),
        }
    }
}

/// "Log out": nothing but the token.
#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn logout(CheckedForm(_): CheckedForm<LogoutForm>) -> Response {
    (
        [(header::SET_COOKIE, ConsoleAuth::ended_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

/// The search form's fields, as typed.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default, rename = "type")]
    pub notification_type: String,
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub page: i64,
}

impl SearchQuery {
    fn to_search(&self, now: i64) -> Result<NotificationSearch, ConsoleError> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let time = |name: &str, s: &str| {
            text(s)
                .map(|s| parse_time(&s, now))
                .transpose()
                .map_err(|e| ConsoleError::BadRequest(format!("{name}: {e}")))
        };
        Ok(NotificationSearch {
            q: text(&self.q),
            notification_type: text(&self.notification_type),
            subtype: text(&self.subtype),
            environment: text(&self.environment),
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
            offset: self.page.clamp(0, 100_000) * PAGE,
            limit: PAGE + 1,
        })
    }
}

async fn notifications(
    State(state): State<Arc<AppState>>,
    Query(query): Query<SearchQuery>,
) -> Page {
    let csrf = auth(&state)?.csrf();
    let search = query.to_search(now_ms())?;
    let mut rows = read(&state, state.pipeline.store.reads().search(&search)).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    Ok(Html(
        pages::notifications(csrf, &query, &rows, more).into_string(),
    ))
}

async fn notification(State(state): State<Arc<AppState>>, Path(uuid): Path<String>) -> Page {
    let csrf = auth(&state)?.csrf();
    let reads = state.pipeline.store.reads();
    let stored = read(&state, reads.notification(&uuid)).await?;
    if stored.is_empty() {
        return Err(ConsoleError::NotFound(format!(
            "No notification {uuid} is stored. Search for it by any of its ids on the \
             Notifications page; a refused one is in the Quarantine."
        )));
    }
    let attempts = read(&state, reads.apple_attempts(&uuid)).await?;
    let mut deliveries = Vec::new();
    for n in &stored {
        deliveries.push(read(&state, reads.deliveries_of(n.summary.id)).await?);
    }
    Ok(Html(
        pages::notification(csrf, &stored, &attempts, &deliveries).into_string(),
    ))
}

async fn subscription(
    State(state): State<Arc<AppState>>,
    Path(original_transaction_id): Path<String>,
) -> Page {
    let csrf = auth(&state)?.csrf();
    let reads = state.pipeline.store.reads();
    let current = read(&state, reads.subscription(&original_transaction_id)).await?;
    let timeline = read(&state, reads.timeline(&original_transaction_id, 1000)).await?;
    if current.is_none() && timeline.is_empty() {
        return Err(ConsoleError::NotFound(format!(
            "Nothing is stored for the original transaction id {original_transaction_id}."
        )));
    }
    Ok(Html(
        pages::subscription(csrf, &original_transaction_id, current.as_ref(), &timeline)
            .into_string(),
    ))
}

#[derive(Debug, Deserialize, Default)]
struct QuarantineQuery {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    page: i64,
    done: Option<String>,
}

async fn quarantine(
    State(state): State<Arc<AppState>>,
    Query(query): Query<QuarantineQuery>,
) -> Page {
    let csrf = auth(&state)?.csrf();
    let store = &state.pipeline.store;
    let page = query.page.clamp(0, 100_000);
    let mut rows = read(
        &state,
        store
            .reads()
            .quarantine_page(query.reason.trim(), page * PAGE, PAGE + 1),
    )
    .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let size = read(&state, store.quarantine().size()).await?;
    Ok(Html(
        pages::quarantine(
            csrf,
            query.reason.trim(),
            page,
            &rows,
            more,
            size,
            query.done.as_deref(),
        )
        .into_string(),
    ))
}

/// "Reprocess": one row (`id`), or every row whose reason starts with `reason`, received since
/// `since`.
#[derive(Debug, Deserialize)]
struct ReprocessForm {
    #[serde(default)]
    csrf: String,
    id: Option<i64>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    since: String,
}

impl CsrfForm for ReprocessForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn reprocess_action(
    State(state): State<Arc<AppState>>,
    CheckedForm(form): CheckedForm<ReprocessForm>,
) -> Result<Redirect, ConsoleError> {
    let filter = match form.id {
        Some(id) => QuarantineFilter::one(id),
        None => {
            let since = match form.since.trim() {
                "" => 0,
                since => parse_time(since, now_ms())
                    .map_err(|e| ConsoleError::BadRequest(format!("since: {e}")))?,
            };
            QuarantineFilter::matching(since, form.reason.trim())
        }
    };
    let counts = reprocess(&state.pipeline, filter, false)
        .await
        .map_err(ConsoleError::Unavailable)?;
    if counts.stored > 0 {
        state.pipeline.events.notify_one();
    }
    tracing::info!(
        id = form.id,
        reason = form.reason.trim(),
        stored = counts.stored,
        duplicate = counts.duplicate,
        still_refused = counts.still_refused,
        cut = counts.cut,
        "console: reprocessed"
    );
    let done = format!(
        "Reprocessed: {} stored, {} duplicate, {} still refused, {} cut (not reprocessable).",
        counts.stored, counts.duplicate, counts.still_refused, counts.cut
    );
    Ok(Redirect::to(&format!(
        "/quarantine?reason={}&done={}",
        pages::encode(form.reason.trim()),
        pages::encode(&done)
    )))
}

#[derive(Debug, Deserialize, Default)]
struct DeliveriesQuery {
    #[serde(default)]
    destination: String,
}

async fn deliveries(
    State(state): State<Arc<AppState>>,
    Query(query): Query<DeliveriesQuery>,
    Query(done): Query<Done>,
) -> Page {
    let csrf = auth(&state)?.csrf();
    let outbox = state.pipeline.store.outbox();
    let destination = Some(query.destination.trim().to_owned()).filter(|d| !d.is_empty());
    let list = |state: &str| DeliveryFilter {
        destination: destination.clone(),
        state: Some(state.to_owned()),
        since_ms: 0,
        limit: PAGE,
    };
    let backlog = read(&state, outbox.backlog()).await?;
    let dead = read(&state, outbox.list(&list("dead"))).await?;
    let pending = read(&state, outbox.list(&list("pending"))).await?;
    Ok(Html(
        pages::deliveries(
            csrf,
            destination.as_deref(),
            &backlog,
            &dead,
            &pending,
            now_ms(),
            done.done.as_deref(),
        )
        .into_string(),
    ))
}

/// "Retry": one dead delivery (`id`) or every dead one of `destination`.
#[derive(Debug, Deserialize)]
struct RetryForm {
    #[serde(default)]
    csrf: String,
    id: Option<i64>,
    destination: Option<String>,
}

impl CsrfForm for RetryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn retry_action(
    State(state): State<Arc<AppState>>,
    CheckedForm(form): CheckedForm<RetryForm>,
) -> Result<Redirect, ConsoleError> {
    let destination = form.destination.as_deref().filter(|d| !d.is_empty());
    if form.id.is_none() && destination.is_none() {
        return Err(ConsoleError::BadRequest(
            "say which delivery (id) or destination to retry".into(),
        ));
    }
    // What `asnd deliveries retry` does; then the workers are woken instead of polling.
    let retried = read(
        &state,
        state
            .pipeline
            .store
            .outbox()
            .retry(form.id, destination, now_ms()),
    )
    .await?;
    state.pipeline.events.notify_one();
    tracing::info!(id = form.id, destination, retried, "console: retried");
    let done = format!("Retried: {retried} dead deliveries made pending again.");
    Ok(Redirect::to(&format!(
        "/deliveries?done={}",
        pages::encode(&done)
    )))
}
