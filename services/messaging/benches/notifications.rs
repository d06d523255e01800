//! Notifications benchmark (`make bench`): absence notices from attendance's
//! `StudentAbsenceRecorded` events, published to attendance's stream with the
//! contract's subjects and CloudEvents headers, through messaging's consumer
//! (`messaging-attendance`) into each guardian's notice and its deliveries.
//!
//! - Lag at 1,000 absences a second for ten seconds: from each publish until its
//!   notices are committed, which is when `ListNotices` and `Subscribe` show them.
//! - The city morning: 5 % of 2.5 million students absent (125,000 absences in
//!   2,200 schools), one guardian for half of them and two for the others
//!   (187,500 notices), 60 % of guardians with a browser registered for push:
//!   from the first publish until every notice and delivery row is queued; against
//!   raw Postgres writing the same notice and delivery rows, event by event in
//!   transactions of the consumer's batch size, in the same run.
//!
//! The directory is synthetic: classes and guardianships are written straight into
//! messaging's tables. Delivery beyond the app is off (no service secret): the rows
//! are queued, nothing is sent. The tables are analyzed every five seconds, as
//! autovacuum does as they grow (a machine's Postgres may run without it).
//! Writes `target/bench/notifications.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use kernel::config::{ServiceId, subject_prefix_in};
use kernel::outbox::{CloudEventHeaders, event_subject};
use kernel::testing::{TestWorld, eventually};
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use lienlac_proto::attendance::v2 as att;
use lienlac_test_support::{School, start_identity};
use prost::{Message as _, Name as _};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const SCHOOLS: i32 = 2_200;
const CLASSES_PER_SCHOOL: i32 = 34;
/// 5 % of the city's 2.5 million students.
const CITY_ABSENCES: usize = 125_000;
const PACED_RATE: u64 = 1_000;
const PACED_SECONDS: u64 = 10;
const PACED_ABSENCES: usize = (PACED_RATE * PACED_SECONDS) as usize;
/// Share of guardians with a browser registered for push, in percent.
const PUSH_PERCENT: usize = 60;
/// Events published before the oldest is awaited.
const IN_FLIGHT: usize = 512;
/// Goal: the city morning's notices queued within this.
const CITY_GOAL: Duration = Duration::from_secs(60);

/// One absent student: where, and their guardians (with a push device or not).
struct Absent {
    student: Uuid,
    class: Uuid,
    school: Uuid,
    guardians: Vec<(Uuid, bool)>,
}

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let school = School::create(identity).await;
    let district: Uuid = school.district_id.parse().unwrap();
    let jetstream = world.jetstream().await;
    kernel::outbox::ensure_stream(&jetstream, &world.config(ServiceId::ATTENDANCE))
        .await
        .unwrap();
    let mut config = world.config(ServiceId::MESSAGING);
    config.identity_url = format!("http://{identity}");
    let batch_size = config.consumer.batch_size;
    let mut settings = messaging::Settings::defaults(config);
    settings.attachments_dir =
        std::env::temp_dir().join(format!("{}-attachments", world.namespace));
    let app = messaging::Application::build(settings).await.unwrap();
    let pool = app.pool().clone();
    tokio::spawn(app.run_until_stopped(stop.clone()));

    let absent = synthetic_city(&pool, district, CITY_ABSENCES + PACED_ABSENCES).await;
    // This machine's Postgres may run without autovacuum: the tables are analyzed
    // every few seconds, as autovacuum's analyze would as they grow.
    tokio::spawn(analyze_every(
        pool.clone(),
        Duration::from_secs(5),
        stop.clone(),
    ));
    let (paced, city) = absent.split_at(PACED_ABSENCES);
    let events = Events {
        district,
        subject_prefix: subject_prefix_in(&world.namespace, ServiceId::ATTENDANCE),
        date: school::dates::local_today(),
    };

    // Lag at 1,000 absences a second.
    let (lag_p50, lag_p99) = paced_lag(&jetstream, &pool, &events, paced).await;
    println!("lag at {PACED_RATE}/s: p50 {lag_p50} ms, p99 {lag_p99} ms");

    // The city morning, all at once.
    let (notices_before, deliveries_before) = counts(&pool).await;
    let city_notices: usize = city.iter().map(|a| a.guardians.len()).sum();
    let city_deliveries: usize = city
        .iter()
        .map(|a| a.guardians.iter().filter(|(_, push)| *push).count())
        .sum();
    let started = Instant::now();
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::with_capacity(IN_FLIGHT);
    for absence in city {
        if pending.len() == IN_FLIGHT {
            pending.pop_front().unwrap().await.unwrap();
        }
        let (subject, headers, payload) = events.of(absence);
        pending.push_back(
            jetstream
                .publish_with_headers(subject, headers, payload)
                .await
                .unwrap(),
        );
    }
    for ack in pending {
        ack.await.unwrap();
    }
    let published = started.elapsed();
    let expected = (
        notices_before + city_notices as i64,
        deliveries_before + city_deliveries as i64,
    );
    eventually(
        "the city morning's notices queued",
        Duration::from_secs(1_800),
        || {
            let pool = pool.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                (counts(&pool).await == expected).then_some(())
            }
        },
    )
    .await;
    let lienlac = started.elapsed();
    println!(
        "city morning: {} absences, {city_notices} notices, {city_deliveries} deliveries queued in {:.1} s (published in {:.1} s)",
        city.len(),
        lienlac.as_secs_f64(),
        published.as_secs_f64()
    );

    // Raw Postgres writing the same rows, event by event, in batches.
    let raw = raw_city(&pool, city, batch_size).await;
    let ratio = raw.as_secs_f64() / lienlac.as_secs_f64();
    println!(
        "raw Postgres: {:.1} s; lienlac at {ratio:.2} of raw",
        raw.as_secs_f64()
    );

    let report = serde_json::json!({
        "benchmark": "notifications",
        "machine_cores": std::thread::available_parallelism().map_or(0, usize::from),
        "paced": {
            "absences_per_s": PACED_RATE,
            "absences": PACED_ABSENCES,
            "lag_p50_ms": lag_p50,
            "lag_p99_ms": lag_p99,
            "goal_p99_ms": 2_000,
        },
        "city_morning": {
            "schools": SCHOOLS,
            "absences": city.len(),
            "notices": city_notices,
            "deliveries": city_deliveries,
            "seconds": round(lienlac.as_secs_f64(), 2),
            "published_seconds": round(published.as_secs_f64(), 2),
            "notices_per_s": round(city_notices as f64 / lienlac.as_secs_f64(), 0),
            "goal_seconds": CITY_GOAL.as_secs(),
            "raw_postgres_seconds": round(raw.as_secs_f64(), 2),
            "ratio_to_raw": round(ratio, 3),
            "goal_ratio": 0.5,
        },
    });
    std::fs::create_dir_all("../../target/bench").unwrap();
    std::fs::write(
        "../../target/bench/notifications.json",
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    println!("{report}");
    stop.cancel();
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// Analyzes messaging's tables every `every` until `stop`.
async fn analyze_every(pool: PgPool, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(error) = sqlx::query("ANALYZE").execute(&pool).await {
            println!("analyze: {error}");
        }
    }
}

/// Notices and deliveries committed so far.
async fn counts(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM absence_notices), (SELECT count(*) FROM deliveries)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Schools and classes of a city, and `absences` absent students spread over
/// them, each with one or two guardians who activated their accounts, 60 % of
/// them with a browser registered for push.
async fn synthetic_city(pool: &PgPool, district: Uuid, absences: usize) -> Vec<Absent> {
    let year = school::dates::school_year_of(school::dates::local_today());
    sqlx::query(
        "INSERT INTO schools (id, district_id, name) \
         SELECT gen_random_uuid(), $1, 'bench' FROM generate_series(1, $2)",
    )
    .bind(district)
    .bind(SCHOOLS)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO classes (id, school_id, district_id, name, grade, school_year) \
         SELECT gen_random_uuid(), s.id, s.district_id, n % 5 + 1 || 'A' || n, n % 5 + 1, $1 \
         FROM schools s CROSS JOIN generate_series(1, $2) n WHERE s.name = 'bench'",
    )
    .bind(&year)
    .bind(CLASSES_PER_SCHOOL)
    .execute(pool)
    .await
    .unwrap();
    let classes: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT c.id, c.school_id FROM classes c JOIN schools s ON s.id = c.school_id \
         WHERE s.name = 'bench' ORDER BY c.id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut guardian_number = 0usize;
    let absent: Vec<Absent> = (0..absences)
        .map(|n| {
            let (class, school) = classes[n % classes.len()];
            let guardians = (0..1 + n % 2)
                .map(|_| {
                    guardian_number += 1;
                    (Uuid::now_v7(), guardian_number % 100 < PUSH_PERCENT)
                })
                .collect();
            Absent {
                student: Uuid::now_v7(),
                class,
                school,
                guardians,
            }
        })
        .collect();
    for chunk in absent.chunks(10_000) {
        let (mut students, mut guardians, mut pushed) = (Vec::new(), Vec::new(), Vec::new());
        for absence in chunk {
            for (guardian, push) in &absence.guardians {
                students.push(absence.student);
                guardians.push(*guardian);
                if *push {
                    pushed.push(*guardian);
                }
            }
        }
        sqlx::query(
            "INSERT INTO guardianships (guardian_id, student_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])",
        )
        .bind(&guardians)
        .bind(&students)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO activated_people (person_id) SELECT unnest($1::uuid[])")
            .bind(&guardians)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO devices (id, person_id, channel, address, p256dh, auth, created_at) \
             SELECT gen_random_uuid(), g, 1, 'https://fcm.googleapis.com/fcm/send/' || g, \
                 '\\x04'::bytea, '\\x00'::bytea, now() FROM unnest($1::uuid[]) g",
        )
        .bind(&pushed)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    absent
}

/// `StudentAbsenceRecorded` as attendance's relay publishes it.
struct Events {
    district: Uuid,
    subject_prefix: String,
    date: time::Date,
}

impl Events {
    fn of(&self, absence: &Absent) -> (Subject, HeaderMap, Bytes) {
        self.with_id(absence, Uuid::now_v7())
    }

    fn with_id(&self, absence: &Absent, id: Uuid) -> (Subject, HeaderMap, Bytes) {
        let date = kernel::dates::format(self.date);
        let event = att::StudentAbsenceRecorded {
            student_id: absence.student.to_string(),
            class_id: absence.class.to_string(),
            school_id: absence.school.to_string(),
            date: date.clone(),
            session: Session::Morning as i32,
            status: AttendanceStatus::AbsentUnexcused as i32,
        };
        let headers = CloudEventHeaders {
            id,
            source: format!("/lienlac/attendance/{}", absence.school),
            event_type: att::StudentAbsenceRecorded::full_name(),
            time: kernel::dates::rfc3339(OffsetDateTime::now_utc()),
            subject: format!("absence:{}:{date}:MORNING", absence.student),
            sequence: 1,
        };
        let subject = event_subject(
            &self.subject_prefix,
            &att::StudentAbsenceRecorded::full_name(),
            Some(self.district),
            Some(absence.school),
        );
        (
            subject.into(),
            headers.to_header_map(),
            event.encode_to_vec().into(),
        )
    }
}

/// Publishes `absent` at [`PACED_RATE`] a second; each one's time from its
/// publish until its notices are committed, as p50 and p99 in milliseconds.
async fn paced_lag(
    jetstream: &jetstream::Context,
    pool: &PgPool,
    events: &Events,
    absent: &[Absent],
) -> (f64, f64) {
    let since: OffsetDateTime = sqlx::query_scalar("SELECT now()")
        .fetch_one(pool)
        .await
        .unwrap();
    let done = CancellationToken::new();
    let poller = {
        let (pool, done) = (pool.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen: HashMap<Uuid, Instant> = HashMap::new();
            loop {
                let finished = done.is_cancelled();
                let committed: Vec<Uuid> = sqlx::query_scalar(
                    "SELECT DISTINCT source_event FROM absence_notices WHERE created_at >= $1",
                )
                .bind(since)
                .fetch_all(&pool)
                .await
                .unwrap();
                let now = Instant::now();
                for event in committed {
                    seen.entry(event).or_insert(now);
                }
                if finished && seen.len() >= PACED_ABSENCES {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let start = tokio::time::Instant::now();
    let gap = Duration::from_secs(1) / PACED_RATE as u32;
    let mut published_at = Vec::with_capacity(absent.len());
    let mut pending = VecDeque::new();
    for (n, absence) in absent.iter().enumerate() {
        tokio::time::sleep_until(start + gap * n as u32).await;
        let id = Uuid::now_v7();
        let (subject, headers, payload) = events.with_id(absence, id);
        published_at.push((id, Instant::now()));
        pending.push_back(
            jetstream
                .publish_with_headers(subject, headers, payload)
                .await
                .unwrap(),
        );
        if pending.len() > 64 {
            pending.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in pending {
        ack.await.unwrap();
    }
    done.cancel();
    let seen = poller.await.unwrap();
    let mut lags: Vec<Duration> = published_at
        .iter()
        .map(|(id, at)| seen[id].saturating_duration_since(*at))
        .collect();
    lags.sort();
    let at = |q: f64| {
        let index = ((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1;
        round(lags[index].as_secs_f64() * 1e3, 1)
    };
    (at(0.5), at(0.99))
}

/// Raw Postgres writing the city morning's notice and delivery rows into copies
/// of the tables: per absence, its guardians' notices and their push deliveries,
/// `batch` absences to a transaction, as the consumer's batches are.
async fn raw_city(pool: &PgPool, absent: &[Absent], batch: usize) -> Duration {
    for sql in [
        "CREATE TABLE bench_notices (LIKE absence_notices INCLUDING ALL)",
        "CREATE TABLE bench_deliveries (LIKE deliveries INCLUDING ALL)",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    let started = Instant::now();
    for chunk in absent.chunks(batch) {
        let mut tx = pool.begin().await.unwrap();
        for absence in chunk {
            sqlx::query(
                "WITH raised AS (INSERT INTO bench_notices (id, source_event, guardian_id, \
                     student_id, class_id, date, session, status, created_at) \
                     SELECT gen_random_uuid(), $1, g.guardian_id, $2, $3, current_date, $5, $6, now() \
                     FROM guardianships g WHERE g.student_id = $2 RETURNING id, guardian_id) \
                 INSERT INTO bench_deliveries (id, notice_id, recipient_id, school_id, channel, \
                     fallback, state, due_at, created_at) \
                 SELECT gen_random_uuid(), r.id, r.guardian_id, $4, 1, false, 'queued', now(), now() \
                 FROM raised r WHERE EXISTS (SELECT 1 FROM devices d \
                     WHERE d.person_id = r.guardian_id AND d.channel = 1)",
            )
            .bind(Uuid::now_v7())
            .bind(absence.student)
            .bind(absence.class)
            .bind(absence.school)
            .bind(Session::Morning as i16)
            .bind(AttendanceStatus::AbsentUnexcused as i16)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    started.elapsed()
}
