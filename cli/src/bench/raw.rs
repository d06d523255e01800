//! The raw baselines measured beside the service in the same run: Postgres
//! executing a roll call's transaction straight from the client, and JetStream
//! publishing messages of a roll call's size, with the same concurrency.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use lienlac_proto::attendance::v1 as att;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

/// Work before this is not counted: connections open, caches warm.
const WARM_UP: Duration = Duration::from_secs(1);
/// The most connections the Postgres baseline opens: two cores are busy well
/// before, and the services under test hold much of the server's limit (100 by
/// default) at city scale.
const MAX_CONNECTIONS: usize = 32;

/// Transactions per second: each writes what attendance writes for a roll call
/// (the roll call row, every student's mark, its two events with their JSON and
/// protobuf, the request id with its answer) into copies of attendance's tables.
pub(super) async fn postgres(
    database_url: &str,
    attendance_schema: &str,
    class_size: usize,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    anyhow::ensure!(
        attendance_schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "{attendance_schema:?} is not a schema name"
    );
    // A scratch schema beside attendance's, dropped when the baseline ends.
    let raw_schema = format!("{attendance_schema}_raw_baseline");
    let options: PgConnectOptions = database_url
        .parse()
        .context("--database-url is not a Postgres URL")?;
    let concurrency = concurrency.min(MAX_CONNECTIONS);
    // The baseline's statements name its own tables unqualified, as attendance does.
    let pool = PgPoolOptions::new()
        .max_connections(concurrency as u32)
        .connect_with(options.options([("search_path", raw_schema.as_str()), ("jit", "off")]))
        .await
        .context("connecting to Postgres (--database-url)")?;
    let tables = [
        format!("DROP SCHEMA IF EXISTS {raw_schema} CASCADE"),
        format!("CREATE SCHEMA {raw_schema}"),
        format!(
            "CREATE TABLE {raw_schema}.roll_calls (LIKE {attendance_schema}.roll_calls INCLUDING ALL)"
        ),
        format!(
            "CREATE TABLE {raw_schema}.marks (LIKE {attendance_schema}.marks INCLUDING DEFAULTS)"
        ),
        format!(
            "ALTER TABLE {raw_schema}.marks ADD PRIMARY KEY (class_id, date, session, student_id)"
        ),
        format!("CREATE TABLE {raw_schema}.events (LIKE {attendance_schema}.events INCLUDING ALL)"),
        format!(
            "CREATE TABLE {raw_schema}.requests (LIKE {attendance_schema}.requests INCLUDING ALL)"
        ),
    ];
    for statement in &tables {
        sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
            .execute(&pool)
            .await
            .with_context(|| format!("preparing the baseline's tables: {statement}"))?;
    }
    let date = crate::dates::local_today();
    let workers_pool = pool.clone();
    let rate = for_duration(concurrency, duration, move |_| {
        let pool = workers_pool.clone();
        let students: Vec<Uuid> = (0..class_size).map(|_| Uuid::now_v7()).collect();
        move |n| roll_call_transaction(pool.clone(), students.clone(), date, n)
    })
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {raw_schema} CASCADE"
    )))
    .execute(&pool)
    .await?;
    rate
}

async fn roll_call_transaction(
    pool: sqlx::PgPool,
    students: Vec<Uuid>,
    date: time::Date,
    n: u64,
) -> anyhow::Result<()> {
    // A new class each time, so that every transaction inserts, as a first
    // submission does.
    let class = Uuid::now_v7();
    let absent = students[n as usize % students.len()];
    let submitted = att::RollCallSubmitted {
        class_id: class.to_string(),
        school_id: class.to_string(),
        date: date.to_string(),
        session: att::Session::Morning as i32,
        marks: students
            .iter()
            .map(|student| att::Mark {
                student_id: student.to_string(),
                status: if *student == absent {
                    att::AttendanceStatus::AbsentUnexcused
                } else {
                    att::AttendanceStatus::Present
                } as i32,
                ..Default::default()
            })
            .collect(),
        taken_at: "2026-11-30T07:00:00Z".into(),
        submitted_at: "2026-11-30T07:00:00Z".into(),
        submitted_by: class.to_string(),
    };
    let absence = att::StudentAbsenceRecorded {
        student_id: absent.to_string(),
        class_id: class.to_string(),
        date: date.to_string(),
        session: att::Session::Morning as i32,
        ..Default::default()
    };
    let events = [
        (
            "RollCallSubmitted",
            serde_json::to_value(&submitted)?,
            prost::Message::encode_to_vec(&submitted),
        ),
        (
            "StudentAbsenceRecorded",
            serde_json::to_value(&absence)?,
            prost::Message::encode_to_vec(&absence),
        ),
    ];
    let statuses: Vec<i16> = students
        .iter()
        .map(|student| if *student == absent { 3 } else { 1 })
        .collect();
    let notes = vec![""; students.len()];
    let session = att::Session::Morning as i16;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO roll_calls (class_id, date, session, school_id, district_id, taken_at, submitted_by) \
         VALUES ($1, $2, $3, $1, $1, now(), $1)",
    )
    .bind(class)
    .bind(date)
    .bind(session)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO marks (class_id, date, session, student_id, status, note) \
         SELECT $1, $2, $3, m.s, m.t, m.n FROM UNNEST($4::uuid[], $5::smallint[], $6::text[]) AS m(s, t, n)",
    )
    .bind(class)
    .bind(date)
    .bind(session)
    .bind(&students)
    .bind(&statuses)
    .bind(&notes)
    .execute(&mut *tx)
    .await?;
    let stream = format!("rollcall:{class}:{date}:{session}");
    for (version, (name, data, payload)) in (1_i64..).zip(&events) {
        sqlx::query(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, \
             published_type, published_payload, published_count, correlation_id) \
             VALUES ($1, $2, $3, $4, 1, $5, 'lienlac.attendance.v1.' || $4, $6, $3, $1)",
        )
        .bind(Uuid::now_v7())
        .bind(&stream)
        .bind(version)
        .bind(name)
        .bind(data)
        .bind(payload)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO requests (caller, request_id, command, fingerprint, response) VALUES ($1, $2, 'SubmitRollCall', $3, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(Uuid::now_v7())
    .bind([0u8; 32].as_slice())
    .bind(&events[0].1)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Messages per second published to a scratch stream and acknowledged by
/// JetStream: a roll call's `RollCallSubmitted` payload, each with its own
/// deduplication id as the services publish.
pub(super) async fn jetstream(
    nats_url: &str,
    namespace: &str,
    class_size: usize,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let client = crate::nats::connect(nats_url).await?;
    let jetstream = jetstream::new(client);
    let name = crate::events::stream_name(namespace, "bench_raw");
    let subject = if namespace.is_empty() {
        "lienlac.benchraw".to_owned()
    } else {
        format!("{namespace}.lienlac.benchraw")
    };
    let _ = jetstream.delete_stream(&name).await;
    jetstream
        .create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{subject}.>")],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .context("creating the baseline's stream")?;
    let payload = bytes_of_a_roll_call(class_size);
    let rate = for_duration(concurrency, duration, {
        let jetstream = jetstream.clone();
        move |worker| {
            let (jetstream, payload) = (jetstream.clone(), payload.clone());
            let subject = format!("{subject}.{worker}");
            move |_| {
                let (jetstream, payload, subject) =
                    (jetstream.clone(), payload.clone(), subject.clone());
                async move {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", Uuid::now_v7().to_string().as_str());
                    jetstream
                        .publish_with_headers(subject, headers, payload)
                        .await?
                        .await?;
                    anyhow::Ok(())
                }
            }
        }
    })
    .await;
    jetstream
        .delete_stream(&name)
        .await
        .context("deleting the baseline's stream")?;
    rate
}

/// An encoded `RollCallSubmitted` of a class of `class_size`.
fn bytes_of_a_roll_call(class_size: usize) -> bytes::Bytes {
    let id = || Uuid::now_v7().to_string();
    let submitted = att::RollCallSubmitted {
        class_id: id(),
        school_id: id(),
        date: "2026-11-30".into(),
        session: att::Session::Morning as i32,
        marks: (0..class_size)
            .map(|_| att::Mark {
                student_id: id(),
                status: att::AttendanceStatus::Present as i32,
                ..Default::default()
            })
            .collect(),
        taken_at: "2026-11-30T07:00:00Z".into(),
        submitted_at: "2026-11-30T07:00:00Z".into(),
        submitted_by: id(),
    };
    prost::Message::encode_to_vec(&submitted).into()
}

/// Runs `concurrency` workers, each repeating its operation, for `duration` after
/// a warm-up, and returns operations per second. `worker(i)` makes worker i's
/// operation, called with a running count.
async fn for_duration<W, O, F>(
    concurrency: usize,
    duration: Duration,
    worker: W,
) -> anyhow::Result<f64>
where
    W: Fn(usize) -> O,
    O: Fn(u64) -> F + Send + 'static,
    F: Future<Output = anyhow::Result<()>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for index in 0..concurrency {
        let operation = worker(index);
        let (stop, done) = (stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                operation(n).await?;
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(WARM_UP).await;
    let (before, started) = (done.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(duration).await;
    let counted = done.load(Ordering::Relaxed) - before;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok(counted as f64 / elapsed)
}
