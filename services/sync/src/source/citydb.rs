//! The city database's API (docs/sync.md): the one place that knows its wire
//! format. A token from OAuth 2.0 client credentials, kept until shortly before
//! it expires; every request retried on a timeout, a 5xx or a 429 (after its
//! `Retry-After`), with backoff, up to the configured attempts; paged lists
//! followed to their end, a page served twice read twice (normalise.rs keeps
//! each record once).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Place, RawClass, RawPerson, RawSchool, RawSchoolData, RawStudent, RawUnit};
use crate::config::CityDbSettings;

/// Why the source could not be read: the run fails saying so, and a run started
/// again reads it afresh.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    #[error("the city database did not answer {what} after {attempts} attempts: {last}")]
    Unavailable {
        what: String,
        attempts: u32,
        last: String,
    },
    #[error("the city database refused {what}: {status} {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("the city database answered {what} with something other than its contract: {detail}")]
    Malformed { what: String, detail: String },
}

impl SourceError {
    fn malformed(what: &str, detail: impl std::fmt::Display) -> Self {
        Self::Malformed {
            what: what.to_owned(),
            detail: detail.to_string(),
        }
    }
}

/// A token is asked for again this long before it would expire.
const RENEW_BEFORE: Duration = Duration::from_secs(30);
/// A `Retry-After` longer than this is cut to it.
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// The same cursor this many times in a row is a source going round in circles.
const MOST_REPEATS: usize = 3;

/// How long to wait before attempt `attempt` (from 1) after a failure; a
/// `Retry-After` from the source wins.
pub(crate) fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.map_or_else(
        || Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6))),
        |wait| wait.min(LONGEST_WAIT),
    )
}

pub(crate) struct CityDb {
    settings: CityDbSettings,
    client: reqwest::Client,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Listed<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct WireUnit {
    code: String,
    name: String,
}

#[derive(Deserialize)]
struct WireSchool {
    code: String,
    name: String,
    unit_code: String,
}

#[derive(Deserialize)]
struct WireClass {
    code: String,
    name: String,
    grade: i64,
    school_year: String,
    #[serde(default)]
    homeroom_teacher_code: String,
    version: u64,
}

#[derive(Deserialize)]
struct WireStaff {
    code: String,
    full_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    position: String,
    version: u64,
}

#[derive(Deserialize)]
struct WireGuardian {
    code: String,
    full_name: String,
    #[serde(default)]
    phone: String,
    version: u64,
    relation: String,
}

#[derive(Deserialize)]
struct WireStudent {
    code: String,
    full_name: String,
    birth_date: String,
    gender: String,
    class_code: String,
    #[serde(default)]
    class_since: String,
    status: String,
    #[serde(default)]
    left_on: String,
    version: u64,
    #[serde(default)]
    guardian_records: Vec<WireGuardian>,
}

/// One entry of the change feed: the school a changed record belongs to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct ChangeRef {
    pub seq: u64,
    pub kind: String,
    pub code: String,
    #[serde(default)]
    pub school_code: String,
    #[serde(default)]
    pub unit_code: String,
}

#[derive(Deserialize)]
struct Changes {
    items: Vec<ChangeRef>,
    last_seq: u64,
    more: bool,
}

impl CityDb {
    pub(crate) fn new(settings: CityDbSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            settings,
            client,
            token: tokio::sync::Mutex::new(None),
        })
    }

    async fn token(&self, what: &str) -> Result<String, SourceError> {
        let mut held = self.token.lock().await;
        if let Some((token, renew_at)) = held.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let body = self
            .send(what, || {
                self.client
                    .post(format!("{}/oauth/token", self.settings.url))
                    .basic_auth(
                        &self.settings.client_id,
                        Some(self.settings.client_secret.expose_secret()),
                    )
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
            })
            .await?;
        let token: Token =
            serde_json::from_slice(&body).map_err(|e| SourceError::malformed("its token", e))?;
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(RENEW_BEFORE);
        *held = Some((token.access_token.clone(), Instant::now() + lifetime));
        Ok(token.access_token)
    }

    /// Sends the request `build` makes until it succeeds, retrying what a retry
    /// can mend.
    async fn send(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, SourceError> {
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts {
            let retry_after = match build().send().await {
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(body) => return Ok(body),
                    Err(error) => {
                        last = error.to_string();
                        None
                    }
                },
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let message = response.text().await.unwrap_or_default();
                    let retried =
                        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                    if !retried {
                        return Err(SourceError::Refused {
                            what: what.to_owned(),
                            status: status.as_u16(),
                            message: message.chars().take(300).collect(),
                        });
                    }
                    last = format!("{status}");
                    retry_after
                }
                Err(error) => {
                    last = if error.is_timeout() {
                        "timed out".to_owned()
                    } else {
                        error.to_string()
                    };
                    None
                }
            };
            if attempt < self.settings.attempts {
                tracing::warn!(what, attempt, reason = %last, "the city database failed a request; retrying");
                tokio::time::sleep(backoff(attempt, retry_after)).await;
            }
        }
        Err(SourceError::Unavailable {
            what: what.to_owned(),
            attempts: self.settings.attempts,
            last,
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, SourceError> {
        let url = format!("{}{path}{}", self.settings.url, query_string(query));
        let mut renewed = false;
        let body = loop {
            let token = self.token(what).await?;
            let sent = self
                .send(what, || self.client.get(&url).bearer_auth(&token))
                .await;
            match sent {
                // A token the source no longer takes (expired early, revoked): one
                // new token, once.
                Err(SourceError::Refused { status: 401, .. }) if !renewed => {
                    *self.token.lock().await = None;
                    renewed = true;
                }
                other => break other?,
            }
        };
        serde_json::from_slice(&body).map_err(|e| SourceError::malformed(what, e))
    }

    /// Every item of a paged list.
    async fn pages<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, SourceError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut repeats = 0;
        loop {
            let mut asked = query.to_vec();
            asked.push(("limit", self.settings.page.to_string()));
            if let Some(cursor) = &cursor {
                asked.push(("cursor", cursor.clone()));
            }
            let page: Page<T> = self.get(what, path, &asked).await?;
            items.extend(page.items);
            match page.next_cursor {
                None => return Ok(items),
                Some(next) if Some(&next) == cursor.as_ref() => {
                    repeats += 1;
                    if repeats >= MOST_REPEATS {
                        return Err(SourceError::malformed(
                            what,
                            format!("the cursor {next} came back {MOST_REPEATS} times"),
                        ));
                    }
                }
                Some(next) => {
                    repeats = 0;
                    cursor = Some(next);
                }
            }
        }
    }

    pub(crate) async fn units(&self) -> Result<Vec<RawUnit>, SourceError> {
        let listed: Listed<WireUnit> = self.get("the units", "/api/v1/units", &[]).await?;
        Ok(listed
            .items
            .into_iter()
            .map(|u| RawUnit {
                code: u.code,
                name: u.name,
            })
            .collect())
    }

    pub(crate) async fn schools(&self, unit_code: &str) -> Result<Vec<RawSchool>, SourceError> {
        let schools: Vec<WireSchool> = self
            .pages(
                "the schools",
                "/api/v1/schools",
                &[("unit_code", unit_code.to_owned())],
            )
            .await?;
        let mut seen = std::collections::BTreeSet::new();
        Ok(schools
            .into_iter()
            .filter(|s| seen.insert(s.code.clone()))
            .map(|s| RawSchool {
                code: s.code,
                name: s.name,
                unit_code: s.unit_code,
            })
            .collect())
    }

    /// The staff of a unit's office.
    pub(crate) async fn office_staff(
        &self,
        unit_code: &str,
    ) -> Result<Vec<RawPerson>, SourceError> {
        let path = format!("/api/v1/units/{unit_code}/staff");
        let staff: Vec<WireStaff> = self.pages("the office's staff", &path, &[]).await?;
        Ok(staff
            .into_iter()
            .map(|s| person(s, "citydb office staff"))
            .collect())
    }

    /// Everything of one school in a school year.
    pub(crate) async fn school(
        &self,
        school: RawSchool,
        school_year: &str,
    ) -> Result<RawSchoolData, SourceError> {
        let year = [("school_year", school_year.to_owned())];
        let base = format!("/api/v1/schools/{}", school.code);
        let classes: Vec<WireClass> = self
            .pages("a school's classes", &format!("{base}/classes"), &year)
            .await?;
        let staff: Vec<WireStaff> = self
            .pages("a school's staff", &format!("{base}/staff"), &[])
            .await?;
        let students: Vec<WireStudent> = self
            .pages("a school's students", &format!("{base}/students"), &year)
            .await?;
        let at = Place::list("citydb students");
        let mut guardians = Vec::new();
        let students = students
            .into_iter()
            .map(|s| {
                let links = s
                    .guardian_records
                    .into_iter()
                    .map(|g| {
                        let link = (g.code.clone(), g.relation.clone());
                        guardians.push(RawPerson {
                            at: Place::list("citydb guardians"),
                            code: g.code,
                            full_name: g.full_name,
                            phone: g.phone,
                            position: String::new(),
                            version: g.version,
                        });
                        link
                    })
                    .collect();
                RawStudent {
                    at: at.clone(),
                    code: s.code,
                    full_name: s.full_name,
                    birth_date: s.birth_date,
                    gender: s.gender,
                    class_code: s.class_code,
                    class_since: s.class_since,
                    status: s.status,
                    left_on: s.left_on,
                    guardians: links,
                    version: s.version,
                }
            })
            .collect();
        Ok(RawSchoolData {
            school,
            classes: classes
                .into_iter()
                .map(|c| RawClass {
                    at: Place::list("citydb classes"),
                    code: c.code,
                    name: c.name,
                    grade: c.grade.to_string(),
                    school_year: c.school_year,
                    homeroom_teacher_code: c.homeroom_teacher_code,
                    version: c.version,
                })
                .collect(),
            staff: staff
                .into_iter()
                .map(|s| person(s, "citydb staff"))
                .collect(),
            students,
            guardians,
        })
    }

    /// The change feed after `after`: the changes and the last sequence read.
    pub(crate) async fn changes(&self, after: u64) -> Result<(Vec<ChangeRef>, u64), SourceError> {
        let mut all = Vec::new();
        let mut last = after;
        loop {
            let page: Changes = self
                .get(
                    "the change feed",
                    "/api/v1/changes",
                    &[
                        ("after", last.to_string()),
                        ("limit", self.settings.page.to_string()),
                    ],
                )
                .await?;
            all.extend(page.items);
            if page.last_seq <= last || !page.more {
                return Ok((all, page.last_seq.max(last)));
            }
            last = page.last_seq;
        }
    }
}

#[derive(Deserialize)]
struct WireSubject {
    subject: String,
    level: String,
    score: Option<i64>,
}

#[derive(Deserialize)]
struct WireRated {
    name: String,
    level: String,
}

#[derive(Deserialize)]
struct WireTermResult {
    student_code: String,
    class_code: String,
    subjects: Vec<WireSubject>,
    #[serde(default)]
    qualities: Vec<WireRated>,
    #[serde(default)]
    competencies: Vec<WireRated>,
    #[serde(default)]
    comment: String,
}

/// A student's term results as the city database gives them.
#[derive(Debug, Clone)]
pub(crate) struct TermResultRow {
    pub student_code: String,
    pub class_code: String,
    pub result: crate::term_results::rules::RawResult,
    pub comment: String,
}

impl CityDb {
    /// A school's results of `term` (1 or 2) in a school year.
    pub(crate) async fn term_results(
        &self,
        school_code: &str,
        school_year: &str,
        term: i32,
    ) -> Result<Vec<TermResultRow>, SourceError> {
        let path = format!("/api/v1/schools/{school_code}/term-results");
        let rows: Vec<WireTermResult> = self
            .pages(
                "a school's term results",
                &path,
                &[
                    ("school_year", school_year.to_owned()),
                    ("term", term.to_string()),
                ],
            )
            .await?;
        let pairs = |rated: Vec<WireRated>| rated.into_iter().map(|r| (r.name, r.level)).collect();
        Ok(rows
            .into_iter()
            .map(|row| TermResultRow {
                student_code: row.student_code,
                class_code: row.class_code,
                result: crate::term_results::rules::RawResult {
                    subjects: row
                        .subjects
                        .into_iter()
                        .map(|s| (s.subject, s.level, s.score))
                        .collect(),
                    qualities: pairs(row.qualities),
                    competencies: pairs(row.competencies),
                },
                comment: row.comment,
            })
            .collect())
    }
}

/// A class's month of absences as the city database takes them.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct MonthTotals {
    pub school_code: String,
    pub class_code: String,
    /// `YYYY-MM`.
    pub month: String,
    pub students: Vec<StudentTotals>,
    pub amended: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct StudentTotals {
    pub student_code: String,
    pub absent_excused: i32,
    pub absent_unexcused: i32,
    pub late: i32,
}

impl CityDb {
    /// Sends a class's month under `key`: the same key again gets the same answer.
    /// A refusal is `SourceError::Refused` with the city's reason.
    pub(crate) async fn send_month(
        &self,
        key: &str,
        totals: &MonthTotals,
    ) -> Result<(), SourceError> {
        let what = "a class's month";
        let body = serde_json::to_vec(totals).map_err(|e| SourceError::malformed(what, e))?;
        let url = format!("{}/api/v1/attendance/monthly", self.settings.url);
        let mut renewed = false;
        loop {
            let token = self.token(what).await?;
            let sent = self
                .send(what, || {
                    self.client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("idempotency-key", key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                })
                .await;
            match sent {
                Err(SourceError::Refused { status: 401, .. }) if !renewed => {
                    *self.token.lock().await = None;
                    renewed = true;
                }
                other => return other.map(|_| ()),
            }
        }
    }
}

/// `?a=1&b=2`, each value percent-encoded (RFC 3986); empty for none.
fn query_string(query: &[(&str, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let pairs: Vec<String> = query
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn person(staff: WireStaff, source: &str) -> RawPerson {
    RawPerson {
        at: Place::list(source),
        code: staff.code,
        full_name: staff.full_name,
        phone: staff.phone,
        position: staff.position,
        version: staff.version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_longer_each_time_and_as_long_as_the_source_asks_within_reason() {
        let waits: Vec<u64> = (1..=8)
            .map(|a| backoff(a, None).as_millis() as u64)
            .collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 6400, 6400]);
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), LONGEST_WAIT);
    }
}
