//! After the faults: what the system holds, checked from outside through the
//! event store, the event stream and the public reporting API.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt as _;
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::reporting::v1 as rep;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use sqlx::{AssertSqlSafe, PgPool};

use crate::bench::district::District;
use crate::session;

const SUBMITTED: &str = "lienlac.attendance.v2.RollCallSubmitted";
const NOTICE: &str = "lienlac.messaging.v1.AbsenceNoticeRaised";
/// How long reporting and messaging may take to project what was published.
const PROJECTED_WITHIN: Duration = Duration::from_secs(180);

#[derive(Debug, Default, serde::Serialize)]
pub(super) struct EventStore {
    pub(super) acknowledged: usize,
    /// Acknowledged roll calls with no `RollCallSubmitted` in attendance's store.
    pub(super) lost: usize,
    /// Acknowledged roll calls taken more than once.
    pub(super) duplicated: usize,
    /// Roll calls in the store whose acknowledgement never reached the load (a
    /// reply lost to a fault): kept, and not an error.
    pub(super) stored_unacknowledged: usize,
}

/// Each acknowledged roll call's `RollCallSubmitted` in attendance's store exactly once.
pub(super) async fn event_store(
    pool: &PgPool,
    schema: &str,
    acknowledged: &[String],
) -> anyhow::Result<EventStore> {
    let stored: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT stream_id, count(*) FROM {schema}.events WHERE published_type = $1 GROUP BY stream_id"
    )))
    .bind(SUBMITTED)
    .fetch_all(pool)
    .await
    .context("reading attendance's event store")?;
    let stored: HashMap<String, i64> = stored.into_iter().collect();
    let mut check = EventStore {
        acknowledged: acknowledged.len(),
        ..Default::default()
    };
    for stream_id in acknowledged {
        match stored.get(stream_id).copied().unwrap_or(0) {
            0 => check.lost += 1,
            1 => {}
            _ => check.duplicated += 1,
        }
    }
    check.stored_unacknowledged = stored.len().saturating_sub(acknowledged.len() - check.lost);
    Ok(check)
}

#[derive(Debug, Default, serde::Serialize)]
pub(super) struct Stream {
    pub(super) events_in_store: usize,
    pub(super) messages: usize,
    /// Events of the store that never reached the stream in the current contract.
    pub(super) missing: usize,
    /// Events on the stream more than once in one contract version (by `ce-id`).
    pub(super) duplicated: usize,
}

/// Every published event of attendance's store on its stream exactly once per
/// contract version, by `ce-id`.
pub(super) async fn stream(
    pool: &PgPool,
    schema: &str,
    nats_url: &str,
    namespace: &str,
) -> anyhow::Result<Stream> {
    let stored: Vec<(uuid::Uuid,)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT event_id FROM {schema}.events WHERE published_type LIKE 'lienlac.attendance.v2.%'"
    )))
    .fetch_all(pool)
    .await?;
    let jetstream = jetstream::new(crate::nats::connect(nats_url).await?);
    let name = crate::events::stream_name(namespace, "attendance");
    let mut stream = jetstream
        .get_stream(&name)
        .await
        .with_context(|| format!("the stream {name}"))?;
    let last = stream.info().await?.state.last_sequence;
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    let mut messages = 0;
    if last > 0 {
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await?;
        let mut feed = consumer.messages().await?;
        while let Some(message) = feed.next().await {
            let message = message.context("reading the stream")?;
            let sequence = message
                .info()
                .map_err(|error| anyhow::anyhow!("{error}"))?
                .stream_sequence;
            let id = crate::events::header(&message, "ce-id").unwrap_or_default();
            // lienlac.attendance.v2.… (or namespace.lienlac.attendance.v2.…)
            let version = message
                .subject
                .split('.')
                .skip_while(|token| *token != "attendance")
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            *seen.entry((id, version)).or_default() += 1;
            messages += 1;
            if sequence >= last {
                break;
            }
        }
    }
    Ok(Stream {
        events_in_store: stored.len(),
        messages,
        missing: stored
            .iter()
            .filter(|(id,)| !seen.contains_key(&(id.to_string(), "v2".to_owned())))
            .count(),
        duplicated: seen.values().filter(|count| **count > 1).count(),
    })
}

#[derive(Debug, Default, serde::Serialize, PartialEq, Eq, Clone, Copy)]
pub(super) struct Morning {
    pub(super) roll_calls: i64,
    pub(super) present: i64,
    pub(super) absent_excused: i64,
    pub(super) absent_unexcused: i64,
    pub(super) late: i64,
}

#[derive(Debug, Default, serde::Serialize)]
pub(super) struct Reporting {
    pub(super) mornings: usize,
    /// Mornings whose district summary differs from the recount.
    pub(super) differing: Vec<String>,
    /// Seconds after the load until the summaries matched.
    pub(super) matched_after_s: Option<f64>,
}

/// The district's morning summaries equal a recount of the roll calls in
/// attendance's event store, once reporting has caught up.
pub(super) async fn reporting(
    pool: &PgPool,
    schema: &str,
    reporting_url: &str,
    district: &District,
) -> anyhow::Result<Reporting> {
    let recount: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT e.data->>'date', count(DISTINCT e.stream_id), \
             count(*) FILTER (WHERE (m->>'status')::int = 1), count(*) FILTER (WHERE (m->>'status')::int = 2), \
             count(*) FILTER (WHERE (m->>'status')::int = 3), count(*) FILTER (WHERE (m->>'status')::int = 4) \
         FROM {schema}.events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'marks') m \
         WHERE e.published_type = $1 GROUP BY 1 ORDER BY 1"
    )))
    .bind(SUBMITTED)
    .fetch_all(pool)
    .await?;
    let recount: Vec<(String, Morning)> = recount
        .into_iter()
        .map(
            |(date, roll_calls, present, absent_excused, absent_unexcused, late)| {
                (
                    date,
                    Morning {
                        roll_calls,
                        present,
                        absent_excused,
                        absent_unexcused,
                        late,
                    },
                )
            },
        )
        .collect();
    let client = ReportingServiceClient::new(session::connect(reporting_url).await?);
    let reader = district
        .readers
        .first()
        .context("the district has no reader")?;
    let started = Instant::now();
    loop {
        let mut differing = Vec::new();
        for (date, counted) in &recount {
            let summary = client
                .clone()
                .get_district_daily_summary(session::authorised(
                    rep::GetDistrictDailySummaryRequest {
                        district_id: reader.district_id.clone(),
                        date: date.clone(),
                    },
                    &reader.credentials,
                )?)
                .await
                .context("reading the district's daily summary")?
                .into_inner();
            let reported = summary
                .totals
                .iter()
                .filter(|session| session.session == att::Session::Morning as i32)
                .map(|session| {
                    let counts = session.counts.unwrap_or_default();
                    Morning {
                        roll_calls: session.classes_submitted.into(),
                        present: counts.present.into(),
                        absent_excused: counts.absent_excused.into(),
                        absent_unexcused: counts.absent_unexcused.into(),
                        late: counts.late.into(),
                    }
                })
                .next()
                .unwrap_or_default();
            if reported != *counted {
                differing.push(format!(
                    "{date}: reported {reported:?}, recounted {counted:?}"
                ));
            }
        }
        if differing.is_empty() || started.elapsed() > PROJECTED_WITHIN {
            let matched = differing.is_empty();
            return Ok(Reporting {
                mornings: recount.len(),
                differing,
                matched_after_s: matched.then(|| started.elapsed().as_secs_f64()),
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[derive(Debug, Default, serde::Serialize)]
pub(super) struct Notices {
    /// Absences (excused or not) in the store's roll calls, each a notice to the
    /// student's one guardian.
    pub(super) expected: i64,
    pub(super) raised: i64,
    /// Guardian, student and morning with more than one first notice.
    pub(super) duplicated: i64,
    pub(super) missing: i64,
}

/// Exactly one absence notice per guardian per absence, once messaging has caught up.
pub(super) async fn notices(
    pool: &PgPool,
    attendance: &str,
    messaging: &str,
) -> anyhow::Result<Notices> {
    let started = Instant::now();
    loop {
        let (expected,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT count(*) FROM {attendance}.events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'marks') m \
             WHERE e.published_type = $1 AND (m->>'status')::int IN (2, 3)"
        )))
        .bind(SUBMITTED)
        .fetch_one(pool)
        .await?;
        let (raised, duplicated): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT count(*), count(*) FILTER (WHERE n > 1) FROM ( \
                 SELECT count(*) AS n FROM {messaging}.events WHERE published_type = $1 AND data->>'follows' = '' \
                 GROUP BY data->>'guardian_id', data->>'student_id', data->>'date', data->>'session') notices"
        )))
        .bind(NOTICE)
        .fetch_one(pool)
        .await?;
        let missing = expected - raised;
        if (missing == 0 && duplicated == 0) || started.elapsed() > PROJECTED_WITHIN {
            return Ok(Notices {
                expected,
                raised,
                duplicated,
                missing,
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Dead letters in every schema, by schema: none is injected, so none is expected.
pub(super) async fn dead_letters(pool: &PgPool) -> anyhow::Result<BTreeMap<String, i64>> {
    let schemas: Vec<(String,)> = sqlx::query_as(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'dead_letters' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let mut counts = BTreeMap::new();
    for (schema,) in schemas {
        let (count,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".dead_letters"
        )))
        .fetch_one(pool)
        .await?;
        counts.insert(schema, count);
    }
    Ok(counts)
}
