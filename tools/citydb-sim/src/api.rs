//! The city database's API as lienlac expects it (docs/sync.md): OAuth 2.0 client
//! credentials, paged lists of schools, classes, staff and students with their
//! guardians, a change feed, and month-end absence totals received.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::faults::{Fault, Faults};
use crate::model::{City, Guardian, MonthlyAbsences, Student};

/// The largest page a client may ask for, and the page it gets unasked.
const MAX_PAGE: usize = 1_000;
const DEFAULT_PAGE: usize = 200;

pub(crate) struct Shared {
    pub(crate) city: Mutex<City>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) token_lifetime: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
    requests: AtomicU64,
    pages: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        city: City,
        faults: Faults,
        client_id: String,
        client_secret: String,
        token_lifetime: Duration,
    ) -> Self {
        Self {
            city: Mutex::new(city),
            faults: Mutex::new(faults),
            client_id,
            client_secret,
            token_lifetime,
            tokens: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            pages: AtomicU64::new(0),
        }
    }

    pub(crate) fn city(&self) -> std::sync::MutexGuard<'_, City> {
        self.city
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

type AppState = Arc<Shared>;

pub(crate) fn router(shared: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/oauth/token", post(token))
        .route("/api/v1/units", get(units))
        .route("/api/v1/units/{code}/staff", get(unit_staff))
        .route("/api/v1/schools", get(schools))
        .route("/api/v1/schools/{code}/classes", get(classes))
        .route("/api/v1/schools/{code}/staff", get(school_staff))
        .route("/api/v1/schools/{code}/students", get(students))
        .route("/api/v1/schools/{code}/term-results", get(term_results))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/attendance/monthly", post(monthly))
        .route("/_faults", post(set_faults))
        .with_state(shared)
}

fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        &serde_json::json!({ "error": { "code": code, "message": message } }),
    )
}

/// `POST /oauth/token`: `grant_type=client_credentials` with the client's id and
/// secret in HTTP Basic (RFC 6749 §4.4, §2.3.1).
async fn token(State(shared): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = String::from_utf8_lossy(&body);
    if !form
        .split('&')
        .any(|pair| pair == "grant_type=client_credentials")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let expected = format!("{}:{}", shared.client_id, shared.client_secret);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        });
    if presented.as_deref() != Some(expected.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let n = shared.requests.fetch_add(1, Ordering::Relaxed);
    let token = hex(&Sha256::digest(
        format!("{expected}:{n}:{:?}", Instant::now()).as_bytes(),
    ));
    shared
        .tokens
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(token.clone(), Instant::now() + shared.token_lifetime);
    json(
        StatusCode::OK,
        &serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": shared.token_lifetime.as_secs(),
        }),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bearer token's check, then the request's fault; `Some` answers instead.
async fn admit(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = token.is_some_and(|token| {
        shared
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    });
    if !valid {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is missing, unknown or expired",
        ));
    }
    let n = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    match shared.faults().of_request(n) {
        Fault::None => None,
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::ServerError => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the database is busy",
        )),
        Fault::Throttled { retry_after_secs } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests",
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Some(response)
        }
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    school_year: Option<String>,
    unit_code: Option<String>,
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

/// A page of `all` from the query's cursor (an offset, opaque to clients), with
/// the faults of pages applied.
fn page<T: Clone + Serialize>(shared: &Shared, all: &[T], query: &PageQuery) -> Response {
    let Ok(offset) = query.cursor.as_deref().unwrap_or("0").parse::<usize>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "cursor is not one this API gave",
        );
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            "limit is from 1 to 1000",
        );
    }
    let end = (offset + limit).min(all.len());
    let mut items: Vec<T> = all.get(offset..end).unwrap_or_default().to_vec();
    let faults = shared.faults();
    if faults.reorder {
        items.reverse();
    }
    let n = shared.pages.fetch_add(1, Ordering::Relaxed) + 1;
    let next = if faults.repeats_page(n) {
        Some(offset)
    } else {
        (end < all.len()).then_some(end)
    };
    json(
        StatusCode::OK,
        &Page {
            items,
            next_cursor: next.map(|n| n.to_string()),
        },
    )
}

async fn units(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refused) = admit(&shared, &headers).await {
        return refused;
    }
    let units = shared.city().units.clone();
    json(StatusCode::OK, &serde_json::json!({ "items": units }))
}

async fn schools(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers).await {
        return refused;
    }
    let schools: Vec<_> = shared
        .city()
        .schools
        .iter()
        .filter(|s| {
            query
                .unit_code
                .as_ref()
                .is_none_or(|unit| &s.unit_code == unit)
        })
        .cloned()
        .collect();
    page(&shared, &schools, &query)
}

fn unknown_school(shared: &Shared, code: &str) -> Option<Response> {
    (!shared.city().schools.iter().any(|s| s.code == code)).then(|| {
        error(
            StatusCode::NOT_FOUND,
            "unknown_school",
            &format!("no school {code}"),
        )
    })
}

async fn classes(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers)
        .await
        .or_else(|| unknown_school(&shared, &code))
    {
        return refused;
    }
    let classes: Vec<_> = shared
        .city()
        .classes
        .iter()
        .filter(|c| {
            c.school_code == code
                && query
                    .school_year
                    .as_ref()
                    .is_none_or(|y| &c.school_year == y)
        })
        .cloned()
        .collect();
    page(&shared, &classes, &query)
}

async fn school_staff(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers)
        .await
        .or_else(|| unknown_school(&shared, &code))
    {
        return refused;
    }
    let staff: Vec<_> = shared
        .city()
        .staff
        .iter()
        .filter(|s| s.school_code == code)
        .cloned()
        .collect();
    page(&shared, &staff, &query)
}

async fn unit_staff(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers).await {
        return refused;
    }
    let staff: Vec<_> = shared
        .city()
        .staff
        .iter()
        .filter(|s| s.unit_code == code && s.school_code.is_empty())
        .cloned()
        .collect();
    page(&shared, &staff, &query)
}

/// A student as the API lists one: their guardians' records inline.
#[derive(Clone, Serialize)]
struct ListedStudent {
    #[serde(flatten)]
    student: Student,
    guardian_records: Vec<ListedGuardian>,
}

#[derive(Clone, Serialize)]
struct ListedGuardian {
    #[serde(flatten)]
    guardian: Guardian,
    relation: String,
}

async fn students(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers)
        .await
        .or_else(|| unknown_school(&shared, &code))
    {
        return refused;
    }
    let listed: Vec<ListedStudent> = {
        let city = shared.city();
        let year_classes: Option<std::collections::HashSet<&str>> =
            query.school_year.as_ref().map(|year| {
                city.classes
                    .iter()
                    .filter(|c| c.school_code == code && &c.school_year == year)
                    .map(|c| c.code.as_str())
                    .collect()
            });
        city.students
            .iter()
            .filter(|s| s.school_code == code)
            .filter(|s| {
                year_classes
                    .as_ref()
                    .is_none_or(|classes| classes.contains(s.class_code.as_str()))
            })
            .map(|s| ListedStudent {
                guardian_records: s
                    .guardians
                    .iter()
                    .filter_map(|link| {
                        city.guardians
                            .get(&link.guardian_code)
                            .map(|g| ListedGuardian {
                                guardian: g.clone(),
                                relation: link.relation.clone(),
                            })
                    })
                    .collect(),
                student: s.clone(),
            })
            .collect()
    };
    page(&shared, &listed, &query)
}

#[derive(Deserialize)]
struct TermQuery {
    term: Option<i32>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/schools/{code}/term-results?school_year=&term=1|2`.
async fn term_results(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<TermQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers)
        .await
        .or_else(|| unknown_school(&shared, &code))
    {
        return refused;
    }
    let Some(term) = query.term.filter(|t| matches!(t, 1 | 2)) else {
        return error(StatusCode::BAD_REQUEST, "invalid_term", "term is 1 or 2");
    };
    let results = crate::term_results::of_school(&shared.city(), &code, term);
    let paging = PageQuery {
        cursor: query.cursor,
        limit: query.limit,
        ..PageQuery::default()
    };
    page(&shared, &results, &paging)
}

#[derive(Deserialize)]
struct ChangesQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/v1/changes?after=<seq>`: what changed after `seq`, oldest first.
async fn changes(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ChangesQuery>,
) -> Response {
    if let Some(refused) = admit(&shared, &headers).await {
        return refused;
    }
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let city = shared.city();
    let items: Vec<_> = city
        .changes
        .iter()
        .filter(|c| c.seq > after)
        .take(limit)
        .cloned()
        .collect();
    let last = items.last().map_or(after, |c| c.seq);
    let more = city.changes.last().is_some_and(|c| c.seq > last);
    json(
        StatusCode::OK,
        &serde_json::json!({ "items": items, "last_seq": last, "more": more }),
    )
}

/// `POST /api/v1/attendance/monthly` with an `Idempotency-Key`: a class's month
/// of absences. The same key again gets the same answer; an unknown class or
/// student, or a month not yet over, is refused with the reason.
async fn monthly(State(shared): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = admit(&shared, &headers).await {
        return refused;
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_idempotency_key",
            "send an Idempotency-Key header",
        );
    };
    let report: MonthlyAbsences = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_body", &e.to_string()),
    };
    let mut city = shared.city();
    if let Some(earlier) = city.monthly.get(&key) {
        return if *earlier == report {
            json(StatusCode::OK, &serde_json::json!({ "receipt": key }))
        } else {
            error(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this key was sent with other totals",
            )
        };
    }
    let Some(class) = city
        .classes
        .iter()
        .find(|c| c.code == report.class_code && c.school_code == report.school_code)
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_class",
            &format!(
                "no class {} in school {}",
                report.class_code, report.school_code
            ),
        );
    };
    let class_code = class.code.clone();
    if let Some(stranger) = report.students.iter().find(|s| {
        !city
            .students
            .iter()
            .any(|c| c.code == s.student_code && c.class_code == class_code)
    }) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_student",
            &format!(
                "student {} is not in class {class_code}",
                stranger.student_code
            ),
        );
    }
    city.monthly.insert(key.clone(), report);
    json(StatusCode::OK, &serde_json::json!({ "receipt": key }))
}

async fn set_faults(State(shared): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            *shared
                .faults
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_faults", &e.to_string()),
    }
}
