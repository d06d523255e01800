//! Reporting benchmark (`make bench`), on one synthetic school year of a district of
//! 100 schools (33 classes of 35 students each, 170 school days, two sessions: about
//! 1.1 million `RollCallSubmitted` events with 35 marks each), published to
//! attendance's stream with the contract's subjects and CloudEvents headers.
//!
//! - Projection throughput: the first 20,000 events published at once, until all are
//!   in the read model; against raw Postgres running the projection's two statements
//!   on the same rows in batches of the same size, and raw JetStream publishing them.
//! - Lag at 1,000 events/s: from each publish until its roll call is visible.
//! - The rest of the year, then a rebuild of the attendance read model from the whole
//!   stream (replay into a new generation and swap), against raw JetStream reading
//!   the whole stream as the replay does (an ephemeral consumer without acks, the
//!   same pulls), and raw Postgres loading the same rows as the replay does (binary
//!   COPY into bare tables in batches of the rebuild's size, then the indexes), one
//!   batch at a time where the replay writes three at once.
//! - Report latencies on the rebuilt year over gRPC (school and district day
//!   summaries, the district's adoption report for a month), each against the
//!   report's main statement run straight on Postgres.
//!
//! Writes `target/bench/reporting.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::StreamExt as _;
use kernel::config::{ServiceId, stream_name_in, subject_prefix_in};
use kernel::consumer::{REPLAY_PULL_BYTES, REPLAY_PULL_MESSAGES};
use kernel::copy::BinaryRows;
use kernel::outbox::{CloudEventHeaders, event_subject};
use kernel::testing::{TestWorld, channel, with_token};
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use lienlac_proto::attendance::v2 as att;
use lienlac_proto::reporting::v1 as pb;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use lienlac_test_support::{School, start_identity};
use prost::{Message as _, Name as _};
use sqlx::PgPool;
use time::{Date, OffsetDateTime, Weekday};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const SCHOOLS: usize = 100;
const CLASSES: usize = 33;
const CLASS_SIZE: usize = 35;
const STAFF: usize = 57;
const SCHOOL_DAYS: usize = 170;
const SCHOOL_YEAR: &str = "2025-2026";
const ROLL_CALLS: usize = SCHOOL_DAYS * 2 * SCHOOLS * CLASSES;
const THROUGHPUT_EVENTS: usize = 20_000;
const PACED_RATE: usize = 1_000;
const PACED_EVENTS: usize = 10 * PACED_RATE;
/// Publishes awaiting JetStream's acknowledgement at once.
const IN_FLIGHT: usize = 2_048;
/// The consumer runtime's batch sizes (live, and rebuild), for the raw baselines.
const LIVE_BATCH: usize = 200;
const REBUILD_BATCH: usize = 1_000;
const SCHOOL_QUERIES: usize = 300;
const DISTRICT_QUERIES: usize = 100;
const ADOPTION_QUERIES: usize = 100;

/// Ids of the synthetic district's people and places: `kind`, school, class and
/// number laid out in the uuid's hex digits, so SQL (`bench_id`) makes the same ones
/// (and guardians, kind 5, which only SQL makes).
#[derive(Clone, Copy)]
enum Kind {
    School = 1,
    Class = 2,
    Student = 3,
    Staff = 4,
}

fn id(kind: Kind, school: usize, class: usize, n: usize) -> Uuid {
    Uuid::from_u128(
        ((kind as u128) << 120) | ((school as u128) << 64) | ((class as u128) << 32) | n as u128,
    )
}

const BENCH_ID_SQL: &str = "CREATE FUNCTION bench_id(kind int, school int, class int, n int) RETURNS uuid \
     LANGUAGE sql IMMUTABLE AS $$ SELECT (lpad(to_hex(kind), 2, '0') || lpad(to_hex(school), 14, '0') \
     || lpad(to_hex(class), 8, '0') || lpad(to_hex(n), 8, '0'))::uuid $$";

/// A well-mixed number from a few integers, for deterministic "random" choices.
fn mix(values: &[u64]) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    for value in values {
        x ^= value.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
    }
    x
}

/// The school year: one roll call per class, session and school day, in the
/// order a year happens (day, session, school, class).
struct Year {
    district: Uuid,
    subject_prefix: String,
    days: Vec<Date>,
}

/// One roll call of the year, as the projection's rows need it.
struct RollCall {
    class: Uuid,
    school: Uuid,
    date: Date,
    session: Session,
    submitted_at: OffsetDateTime,
    teacher: Uuid,
    marks: Vec<(Uuid, AttendanceStatus)>,
}

impl Year {
    fn new(district: Uuid, namespace: &str) -> Self {
        let mut days = Vec::with_capacity(SCHOOL_DAYS);
        let mut day = Date::from_calendar_date(2025, time::Month::September, 8).unwrap();
        while days.len() < SCHOOL_DAYS {
            if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                days.push(day);
            }
            day = day.next_day().unwrap();
        }
        Self {
            district,
            subject_prefix: subject_prefix_in(namespace, ServiceId::ATTENDANCE),
            days,
        }
    }

    fn roll_call(&self, index: usize) -> RollCall {
        let class_number = index % CLASSES;
        let school_number = index / CLASSES % SCHOOLS;
        let session = if (index / (CLASSES * SCHOOLS)).is_multiple_of(2) {
            Session::Morning
        } else {
            Session::Afternoon
        };
        let date = self.days[index / (2 * CLASSES * SCHOOLS)];
        // Mornings from 07:00, afternoons from 13:30, a few after the cutoff.
        let minutes = match session {
            Session::Afternoon => 13 * 60 + 30,
            _ => 7 * 60,
        } + (mix(&[index as u64]) % 130) as i64;
        let submitted_at = date
            .midnight()
            .assume_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap())
            .saturating_add(time::Duration::minutes(minutes));
        let marks = (0..CLASS_SIZE)
            .map(|n| {
                let status = match mix(&[index as u64, n as u64]) % 1000 {
                    0..20 => AttendanceStatus::AbsentExcused,
                    20..35 => AttendanceStatus::AbsentUnexcused,
                    35..50 => AttendanceStatus::Late,
                    _ => AttendanceStatus::Present,
                };
                (id(Kind::Student, school_number, class_number, n), status)
            })
            .collect();
        RollCall {
            class: id(Kind::Class, school_number, class_number, 0),
            school: id(Kind::School, school_number, 0, 0),
            date,
            session,
            submitted_at,
            teacher: id(Kind::Staff, school_number, 0, class_number),
            marks,
        }
    }

    /// The event as attendance's relay publishes it.
    fn event(&self, index: usize) -> (Subject, HeaderMap, Bytes) {
        let roll_call = self.roll_call(index);
        let rfc3339 = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let event = att::RollCallSubmitted {
            class_id: roll_call.class.to_string(),
            school_id: roll_call.school.to_string(),
            date: roll_call.date.to_string(),
            session: roll_call.session as i32,
            marks: roll_call
                .marks
                .iter()
                .map(|(student, status)| att::Mark {
                    student_id: student.to_string(),
                    status: *status as i32,
                    ..Default::default()
                })
                .collect(),
            taken_at: rfc3339(roll_call.submitted_at),
            submitted_at: rfc3339(roll_call.submitted_at),
            submitted_by: roll_call.teacher.to_string(),
        };
        let headers = CloudEventHeaders {
            id: Uuid::now_v7(),
            source: format!("/lienlac/attendance/{}", roll_call.school),
            event_type: att::RollCallSubmitted::full_name(),
            time: rfc3339(OffsetDateTime::now_utc()),
            subject: format!(
                "roll_call:{}:{}:{}",
                roll_call.class,
                roll_call.date,
                roll_call.session.as_str_name()
            ),
            sequence: 1,
        };
        let subject = event_subject(
            &self.subject_prefix,
            &att::RollCallSubmitted::full_name(),
            Some(self.district),
            Some(roll_call.school),
        );
        (
            subject.into(),
            headers.to_header_map(),
            event.encode_to_vec().into(),
        )
    }
}

/// Publishes events `range` of `make`, keeping at most `IN_FLIGHT` unacknowledged.
async fn publish_all(
    jetstream: &jetstream::Context,
    range: std::ops::Range<usize>,
    make: impl Fn(usize) -> (Subject, HeaderMap, Bytes),
) {
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::with_capacity(IN_FLIGHT);
    for index in range {
        if pending.len() == IN_FLIGHT {
            pending.pop_front().unwrap().await.unwrap();
        }
        let (subject, headers, payload) = make(index);
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
}

async fn roll_calls_visible(pool: &PgPool) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM roll_calls")
        .fetch_one(pool)
        .await
        .unwrap();
    count as usize
}

async fn wait_for_roll_calls(pool: &PgPool, count: usize, poll: Duration) {
    while roll_calls_visible(pool).await < count {
        tokio::time::sleep(poll).await;
    }
}

/// The projection's two statements (roll calls with their counts, then the marks
/// other than present) on the same rows, in batches of `batch`, one transaction each.
async fn raw_projection_rate(pool: &PgPool, year: &Year, events: usize, batch: usize) -> f64 {
    sqlx::query("TRUNCATE roll_calls, marks")
        .execute(pool)
        .await
        .unwrap();
    let batches: Vec<Vec<RollCall>> = (0..events)
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(|chunk| chunk.iter().map(|&index| year.roll_call(index)).collect())
        .collect();
    let started = Instant::now();
    for roll_calls in &batches {
        let mut tx = pool.begin().await.unwrap();
        let mut counts = [vec![], vec![], vec![], vec![]];
        let (mut mark_classes, mut mark_dates, mut mark_sessions, mut students, mut statuses) =
            (vec![], vec![], vec![], vec![], vec![]);
        for roll_call in roll_calls {
            let mut tally = [0_i32; 4];
            for (student, status) in &roll_call.marks {
                let column = *status as usize - 1;
                tally[column] += 1;
                if column != 0 {
                    mark_classes.push(roll_call.class);
                    mark_dates.push(roll_call.date);
                    mark_sessions.push(roll_call.session as i16);
                    students.push(*student);
                    statuses.push(*status as i16);
                }
            }
            for (column, count) in counts.iter_mut().zip(tally) {
                column.push(count);
            }
        }
        sqlx::query(
            "INSERT INTO roll_calls (class_id, date, session, school_id, district_id, submitted_at, \
                                     present, absent_excused, absent_unexcused, late) \
             SELECT * FROM unnest($1::uuid[], $2::date[], $3::int2[], $4::uuid[], $5::uuid[], \
                                  $6::timestamptz[], $7::int4[], $8::int4[], $9::int4[], $10::int4[]) \
             ON CONFLICT (class_id, date, session) DO NOTHING",
        )
        .bind(roll_calls.iter().map(|r| r.class).collect::<Vec<_>>())
        .bind(roll_calls.iter().map(|r| r.date).collect::<Vec<_>>())
        .bind(roll_calls.iter().map(|r| r.session as i16).collect::<Vec<_>>())
        .bind(roll_calls.iter().map(|r| r.school).collect::<Vec<_>>())
        .bind(vec![year.district; roll_calls.len()])
        .bind(roll_calls.iter().map(|r| r.submitted_at).collect::<Vec<_>>())
        .bind(&counts[0])
        .bind(&counts[1])
        .bind(&counts[2])
        .bind(&counts[3])
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO marks (class_id, date, session, student_id, status) \
             SELECT * FROM unnest($1::uuid[], $2::date[], $3::int2[], $4::uuid[], $5::int2[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(mark_classes)
        .bind(mark_dates)
        .bind(mark_sessions)
        .bind(students)
        .bind(statuses)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// The replay's way of writing, raw: the same rows loaded with binary COPY into bare
/// tables, in batches of the rebuild's size, one transaction each that does not wait
/// for the disk; then the indexes, built once. The rows are made as it goes, one
/// batch at a time (the replay has three in flight).
async fn raw_rebuild_rate(pool: &PgPool, year: &Year, events: usize) -> f64 {
    sqlx::raw_sql("DROP TABLE roll_calls, marks, closures, replayed_corrections")
        .execute(pool)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!("../read_models/attendance.sql"))
        .execute(pool)
        .await
        .unwrap();
    let started = Instant::now();
    for first in (0..events).step_by(REBUILD_BATCH) {
        let mut roll_calls = BinaryRows::new(10);
        let mut marks = BinaryRows::new(5);
        for index in first..events.min(first + REBUILD_BATCH) {
            let roll_call = year.roll_call(index);
            let mut tally = [0_i32; 4];
            for (student, status) in &roll_call.marks {
                let column = *status as usize - 1;
                tally[column] += 1;
                if column != 0 {
                    marks
                        .row()
                        .uuid(roll_call.class)
                        .date(roll_call.date)
                        .int2(roll_call.session as i16)
                        .uuid(*student)
                        .int2(*status as i16);
                }
            }
            roll_calls
                .row()
                .uuid(roll_call.class)
                .date(roll_call.date)
                .int2(roll_call.session as i16)
                .uuid(roll_call.school)
                .uuid(year.district)
                .timestamptz(roll_call.submitted_at);
            for count in tally {
                roll_calls.int4(count);
            }
        }
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await
            .unwrap();
        roll_calls
            .send(
                &mut tx,
                "COPY roll_calls (class_id, date, session, school_id, district_id, submitted_at, \
                                  present, absent_excused, absent_unexcused, late) \
                 FROM STDIN (FORMAT binary)",
            )
            .await
            .unwrap();
        marks
            .send(
                &mut tx,
                "COPY marks (class_id, date, session, student_id, status) FROM STDIN (FORMAT binary)",
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!("../read_models/attendance_indexes.sql"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rate = events as f64 / started.elapsed().as_secs_f64();
    sqlx::query("TRUNCATE roll_calls, marks")
        .execute(pool)
        .await
        .unwrap();
    rate
}

/// The replay's way of reading, raw: the whole stream through an ephemeral consumer
/// without acks, in the replay's pulls, each message received and dropped.
async fn raw_read_rate(stream: &jetstream::stream::Stream, events: u64) -> f64 {
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(REPLAY_PULL_MESSAGES)
        .max_bytes_per_batch(REPLAY_PULL_BYTES)
        .messages()
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..events {
        messages.next().await.unwrap().unwrap();
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let name = consumer.cached_info().name.clone();
    stream.delete_consumer(&name).await.unwrap();
    rate
}

/// The directory of the synthetic district, written into the live directory read
/// model as identity's events would have left it: schools, classes with their
/// homeroom teachers, students enrolled all year, one or two guardians each (one
/// student in eight sharing a parent with a brother or sister; nine guardians in
/// ten with an account, seven in ten activated), staff (all with accounts, most
/// activated) signing in on nine school days in ten.
async fn seed_directory(pool: &PgPool, scratch: &str, year: &Year) {
    let statements = [
        "INSERT INTO schools SELECT {s}.bench_id(1, s, 0, 0), $1, 'Trường Tiểu học số ' || s \
         FROM generate_series(0, $2 - 1) s",
        "INSERT INTO staff SELECT {s}.bench_id(4, s, 0, n), {s}.bench_id(1, s, 0, 0), $1 \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $4 - 1) n",
        "INSERT INTO classes SELECT {s}.bench_id(2, s, c, 0), {s}.bench_id(1, s, 0, 0), $1, \
           (c / 7 + 1) || 'A' || (c % 7 + 1), c / 7 + 1, $6, {s}.bench_id(4, s, 0, c) \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) c",
        "INSERT INTO students SELECT {s}.bench_id(3, s, c, n), {s}.bench_id(1, s, 0, 0), $1, \
           'Nguyễn Văn ' || s || '.' || c || '.' || n, '2018-05-01', 'HS' || s || '.' || c || '.' || n \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) c, generate_series(0, $5 - 1) n",
        "INSERT INTO enrolment_periods SELECT {s}.bench_id(3, s, c, n), {s}.bench_id(2, s, c, 0), $6, \
           '2025-08-01', NULL \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) c, generate_series(0, $5 - 1) n",
        "INSERT INTO guardianships SELECT {s}.bench_id(5, s, c, g), {s}.bench_id(3, s, c, n) \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) c, generate_series(0, $5 - 1) n, \
              unnest(ARRAY[n, n + 100]) g WHERE g < 100 OR n % 2 = 0",
        // Brothers and sisters: one student in eight shares a parent with the one before.
        "INSERT INTO guardianships SELECT {s}.bench_id(5, s, c, n - 1), {s}.bench_id(3, s, c, n) \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) c, generate_series(0, $5 - 1) n \
         WHERE n % 8 = 1",
        "INSERT INTO accounts SELECT gen_random_uuid(), person, abs(hashtext(person::text)) % 16 <> 0 \
         FROM (SELECT {s}.bench_id(4, s, 0, n) FROM generate_series(0, $2 - 1) s, generate_series(0, $4 - 1) n) AS staff (person)",
        "INSERT INTO accounts SELECT gen_random_uuid(), person, abs(hashtext(person::text)) % 9 < 7 \
         FROM (SELECT DISTINCT guardian_id FROM guardianships) AS g (person) \
         WHERE abs(hashtext(person::text || 'account')) % 10 <> 9",
        "INSERT INTO sign_ins SELECT {s}.bench_id(4, s, 0, n), d \
         FROM generate_series(0, $2 - 1) s, generate_series(0, $4 - 1) n, unnest($7::date[]) d \
         WHERE abs(hashtext(s || '.' || n || '.' || d)) % 10 <> 0",
        // What the projection keeps for counting guardians (see directory.sql).
        "UPDATE guardianships g SET activated = EXISTS \
           (SELECT 1 FROM accounts a WHERE a.person_id = g.guardian_id AND a.activated), \
           shared = EXISTS (SELECT 1 FROM guardianships o \
                            WHERE o.guardian_id = g.guardian_id AND o.student_id <> g.student_id)",
        "UPDATE staff st SET accounts = a.accounts, activated = a.activated \
         FROM (SELECT person_id, count(*)::int AS accounts, bool_or(activated) AS activated \
               FROM accounts GROUP BY person_id) a \
         WHERE a.person_id = st.id",
        "UPDATE enrolment_periods e SET guardians = c.total, guardians_activated = c.activated \
         FROM (SELECT student_id, count(*) FILTER (WHERE NOT shared) AS total, \
                      count(*) FILTER (WHERE NOT shared AND activated) AS activated \
               FROM guardianships GROUP BY student_id) c \
         WHERE e.student_id = c.student_id",
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.replace("{s}", scratch)))
            .bind(year.district)
            .bind(SCHOOLS as i32)
            .bind(CLASSES as i32)
            .bind(STAFF as i32)
            .bind(CLASS_SIZE as i32)
            .bind(SCHOOL_YEAR)
            .bind(&year.days)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// p50 and p99 in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        round(samples[index].as_secs_f64() * 1e3, 2)
    };
    (at(0.5), at(0.99))
}

async fn latencies<F, Fut>(samples: usize, mut call: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    // One call first, untimed: the pool's connections open and the statements are
    // prepared, as on a service that has been answering for a while.
    call(samples).await;
    let mut timings = Vec::with_capacity(samples);
    for n in 0..samples {
        let started = Instant::now();
        call(n).await;
        timings.push(started.elapsed());
    }
    percentiles(timings)
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10_f64.powi(digits);
    (value * scale).round() / scale
}

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity_addr = start_identity(&world, &stop).await;
    let school = School::create(identity_addr).await;
    let district: Uuid = school.district_id.parse().unwrap();
    let jetstream = world.jetstream().await;
    kernel::outbox::ensure_stream(&jetstream, &world.config(ServiceId::ATTENDANCE))
        .await
        .unwrap();

    let mut config = world.config(ServiceId::REPORTING);
    config.identity_url = format!("http://{identity_addr}");
    let app = reporting::Application::build(reporting::Settings::defaults(config))
        .await
        .unwrap();
    let reporting_addr = app.grpc_addr();
    let read_models = app.read_models_pool();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let mut reporting = ReportingServiceClient::new(channel(reporting_addr));
    let attendance_stream = stream_name_in(&world.namespace, ServiceId::ATTENDANCE);
    let stream = jetstream.get_stream(&attendance_stream).await.unwrap();
    while stream
        .consumer_info("reporting-attendance-g1")
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A scratch schema for the raw baselines and the id function.
    let scratch = format!("{}_bench", world.namespace);
    let scratch_pool =
        kernel::db::connect_with_search_path(&world.config(ServiceId::REPORTING), &[&scratch], 4)
            .await
            .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {scratch}")))
        .execute(&scratch_pool)
        .await
        .unwrap();
    sqlx::raw_sql(BENCH_ID_SQL)
        .execute(&scratch_pool)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!("../read_models/attendance.sql"))
        .execute(&scratch_pool)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!("../read_models/attendance_indexes.sql"))
        .execute(&scratch_pool)
        .await
        .unwrap();
    let year = Year::new(district, &world.namespace);

    // Raw baselines, after a warm-up run (new tables' first writes are slow).
    raw_projection_rate(&scratch_pool, &year, 2 * REBUILD_BATCH, LIVE_BATCH).await;
    let raw_live = raw_projection_rate(&scratch_pool, &year, THROUGHPUT_EVENTS, LIVE_BATCH).await;
    let raw_rebuild = raw_rebuild_rate(&scratch_pool, &year, ROLL_CALLS).await;
    let raw_subject_root = format!("{}.benchraw", world.namespace);
    jetstream
        .create_stream(jetstream::stream::Config {
            name: format!("{}_BENCHRAW", world.namespace.to_ascii_uppercase()),
            subjects: vec![format!("{raw_subject_root}.>")],
            ..Default::default()
        })
        .await
        .unwrap();
    let started = Instant::now();
    publish_all(&jetstream, 0..THROUGHPUT_EVENTS, |index| {
        let (subject, headers, payload) = year.event(index);
        (
            format!("{raw_subject_root}.{subject}").into(),
            headers,
            payload,
        )
    })
    .await;
    let raw_publish = THROUGHPUT_EVENTS as f64 / started.elapsed().as_secs_f64();

    let seeding = Instant::now();
    seed_directory(&read_models, &scratch, &year).await;
    // The seed's writes checkpointed now rather than during the measurements.
    sqlx::query("CHECKPOINT")
        .execute(&mut world.admin().await)
        .await
        .unwrap();
    println!(
        "directory of {SCHOOLS} schools written in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    // Projection throughput.
    let started = Instant::now();
    publish_all(&jetstream, 0..THROUGHPUT_EVENTS, |index| year.event(index)).await;
    wait_for_roll_calls(&read_models, THROUGHPUT_EVENTS, Duration::from_millis(10)).await;
    let throughput = THROUGHPUT_EVENTS as f64 / started.elapsed().as_secs_f64();
    println!(
        "projection {throughput:.0} events/s, raw Postgres {raw_live:.0}/s, raw JetStream publish {raw_publish:.0}/s"
    );

    // Lag at a steady 1,000 events/s: a poller notes when each count became visible.
    let paced = THROUGHPUT_EVENTS..THROUGHPUT_EVENTS + PACED_EVENTS;
    let poller = {
        let pool = read_models.clone();
        let last = paced.end;
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let count = roll_calls_visible(&pool).await;
                seen.push((Instant::now(), count));
                if count >= last {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let paced_start = tokio::time::Instant::now();
    let mut published_at = Vec::with_capacity(PACED_EVENTS);
    let mut pending = VecDeque::new();
    for (n, index) in paced.clone().enumerate() {
        tokio::time::sleep_until(paced_start + Duration::from_millis(n as u64)).await;
        let (subject, headers, payload) = year.event(index);
        published_at.push(Instant::now());
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
    let seen = poller.await.unwrap();
    let lags: Vec<Duration> = published_at
        .iter()
        .enumerate()
        .map(|(n, at)| {
            let index = paced.start + n;
            let (visible, _) = seen.iter().find(|(_, count)| *count > index).unwrap();
            visible.saturating_duration_since(*at)
        })
        .collect();
    let (lag_p50, lag_p99) = percentiles(lags);
    println!("lag at {PACED_RATE}/s: p50 {lag_p50} ms, p99 {lag_p99} ms");

    // The rest of the year, then the rebuild from the whole stream.
    let started = Instant::now();
    publish_all(&jetstream, paced.end..ROLL_CALLS, |index| year.event(index)).await;
    let publish_rest = (ROLL_CALLS - paced.end) as f64 / started.elapsed().as_secs_f64();
    wait_for_roll_calls(&read_models, ROLL_CALLS, Duration::from_millis(200)).await;
    let ingest = (ROLL_CALLS - paced.end) as f64 / started.elapsed().as_secs_f64();
    println!(
        "rest of the year: published at {publish_rest:.0}/s, projected at {ingest:.0} events/s"
    );
    let stream_events = stream.get_info().await.unwrap().state.messages;
    let raw_read = raw_read_rate(&stream, stream_events).await;
    println!("raw JetStream read of the {stream_events} events: {raw_read:.0}/s");
    let started = Instant::now();
    reporting
        .rebuild_projections(with_token(
            pb::RebuildProjectionsRequest {
                name: "attendance".into(),
            },
            &school.operator,
        ))
        .await
        .unwrap();
    loop {
        let projections = reporting
            .list_projections(with_token(pb::ListProjectionsRequest {}, &school.operator))
            .await
            .unwrap()
            .into_inner()
            .projections;
        if projections
            .iter()
            .any(|p| p.name == "attendance" && p.generation == 2)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rebuild = stream_events as f64 / started.elapsed().as_secs_f64();
    println!(
        "rebuild from {stream_events} events: {rebuild:.0} events/s, raw JetStream read {raw_read:.0}/s, raw Postgres {raw_rebuild:.0}/s"
    );

    // Reports on the rebuilt year, once the old generation has been dropped.
    let old_generation = format!(
        "{}_attendance_g1",
        world.config(ServiceId::REPORTING).schema
    );
    loop {
        let dropped: bool =
            sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(&old_generation)
                .fetch_one(&scratch_pool)
                .await
                .unwrap();
        if dropped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let read_models = reporting_read_pool(&world).await;
    // The seeded directory as autovacuum keeps a long-lived one (visibility maps
    // set, statistics current); the rebuilt attendance tables as the rebuild left
    // them. VACUUM cannot share a statement with others. Then the writes are
    // checkpointed now rather than during the measurements.
    for table in [
        "schools",
        "classes",
        "students",
        "enrolment_periods",
        "staff",
        "guardianships",
        "accounts",
        "sign_ins",
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {table}")))
            .execute(&read_models)
            .await
            .unwrap();
    }
    sqlx::raw_sql("CHECKPOINT")
        .execute(&mut world.admin().await)
        .await
        .unwrap();
    assert_eq!(roll_calls_visible(&read_models).await, ROLL_CALLS);
    let day = |n: usize| year.days[mix(&[n as u64, 1]) as usize % SCHOOL_DAYS];
    let school_of = |n: usize| id(Kind::School, mix(&[n as u64, 2]) as usize % SCHOOLS, 0, 0);
    let admin = school.district_admin.clone();
    let (school_p50, school_p99) = latencies(SCHOOL_QUERIES, |n| {
        let (mut client, request) = (
            reporting.clone(),
            pb::GetSchoolDailySummaryRequest {
                school_id: school_of(n).to_string(),
                date: day(n).to_string(),
            },
        );
        let admin = admin.clone();
        async move {
            let summary = client
                .get_school_daily_summary(with_token(request, &admin))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(summary.sessions[0].classes_submitted, CLASSES as i32);
        }
    })
    .await;
    let (district_p50, district_p99) = latencies(DISTRICT_QUERIES, |n| {
        let (mut client, request) = (
            reporting.clone(),
            pb::GetDistrictDailySummaryRequest {
                district_id: district.to_string(),
                date: day(n).to_string(),
            },
        );
        let admin = admin.clone();
        async move {
            let summary = client
                .get_district_daily_summary(with_token(request, &admin))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                summary.totals[0].classes_submitted,
                (SCHOOLS * CLASSES) as i32
            );
        }
    })
    .await;
    let month = |n: usize| {
        let first = year.days[(n * 7) % (SCHOOL_DAYS - 25)]
            .replace_day(1)
            .unwrap();
        let last = time::util::days_in_month(first.month(), first.year());
        (first, first.replace_day(last).unwrap())
    };
    let (adoption_p50, adoption_p99) = latencies(ADOPTION_QUERIES, |n| {
        let (from, to) = month(n);
        let (mut client, request) = (
            reporting.clone(),
            pb::GetAdoptionReportRequest {
                district_id: district.to_string(),
                from_date: from.to_string(),
                to_date: to.to_string(),
                ..Default::default()
            },
        );
        let admin = admin.clone();
        async move {
            let report = client
                .get_adoption_report(with_token(request, &admin))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                report.totals.unwrap().homeroom_teachers_total,
                (SCHOOLS * CLASSES) as i32
            );
        }
    })
    .await;

    // The reports' main statements straight on Postgres.
    let (raw_school_p50, raw_school_p99) = latencies(SCHOOL_QUERIES, |n| {
        raw_day_counts(&read_models, "school_id", "class_id", school_of(n), day(n))
    })
    .await;
    let (raw_district_p50, raw_district_p99) = latencies(DISTRICT_QUERIES, |n| {
        raw_day_counts(&read_models, "district_id", "school_id", district, day(n))
    })
    .await;
    let (raw_adoption_p50, raw_adoption_p99) = latencies(ADOPTION_QUERIES, |n| {
        let (from, to) = month(n);
        raw_roll_calls_per_class(&read_models, district, from, to)
    })
    .await;

    let ratio = |service: f64, raw: f64| round(service / raw, 2);
    println!();
    println!("{ROLL_CALLS} roll calls of {SCHOOLS} schools, one school year");
    println!(
        "projection throughput   {throughput:>9.0} events/s   raw Postgres {raw_live:>9.0}/s   ratio {:.2}   (target >= 2,000/s)",
        throughput / raw_live
    );
    println!(
        "lag at {PACED_RATE}/s           p50 {lag_p50:>6.1} ms   p99 {lag_p99:>6.1} ms   (target p99 <= 500 ms)"
    );
    println!(
        "rebuild                 {rebuild:>9.0} events/s   raw JetStream read {raw_read:>9.0}/s   ratio {:.2}   raw Postgres {raw_rebuild:>9.0}/s   ratio {:.2}   (target >= 50,000/s)",
        rebuild / raw_read,
        rebuild / raw_rebuild
    );
    println!(
        "school day summary      p50 {school_p50:>6.1} ms   p99 {school_p99:>6.1} ms   raw p50 {raw_school_p50:.1} ms   (target p99 <= 20 ms)"
    );
    println!(
        "district day summary    p50 {district_p50:>6.1} ms   p99 {district_p99:>6.1} ms   raw p50 {raw_district_p50:.1} ms   (target p99 <= 100 ms)"
    );
    println!(
        "district adoption month p50 {adoption_p50:>6.1} ms   p99 {adoption_p99:>6.1} ms   raw p50 {raw_adoption_p50:.1} ms   (target p99 <= 200 ms)"
    );
    let report = serde_json::json!({
        "schools": SCHOOLS,
        "classes_per_school": CLASSES,
        "students_per_class": CLASS_SIZE,
        "school_days": SCHOOL_DAYS,
        "roll_calls": ROLL_CALLS,
        "projection_events_per_s": throughput.round(),
        "raw_pg_projection_events_per_s": raw_live.round(),
        "projection_ratio_vs_raw_pg": ratio(throughput, raw_live),
        "raw_js_publish_per_s": raw_publish.round(),
        "lag_rate_per_s": PACED_RATE,
        "lag_p50_ms": lag_p50,
        "lag_p99_ms": lag_p99,
        "year_projected_events_per_s": ingest.round(),
        "rebuild_events": stream_events,
        "rebuild_events_per_s": rebuild.round(),
        "raw_pg_rebuild_events_per_s": raw_rebuild.round(),
        "rebuild_ratio_vs_raw_pg": ratio(rebuild, raw_rebuild),
        "raw_js_read_events_per_s": raw_read.round(),
        "rebuild_ratio_vs_raw_js_read": ratio(rebuild, raw_read),
        "school_daily_summary_p50_ms": school_p50,
        "school_daily_summary_p99_ms": school_p99,
        "school_daily_summary_raw_p50_ms": raw_school_p50,
        "school_daily_summary_raw_p99_ms": raw_school_p99,
        "district_daily_summary_p50_ms": district_p50,
        "district_daily_summary_p99_ms": district_p99,
        "district_daily_summary_raw_p50_ms": raw_district_p50,
        "district_daily_summary_raw_p99_ms": raw_district_p99,
        "district_adoption_month_p50_ms": adoption_p50,
        "district_adoption_month_p99_ms": adoption_p99,
        "district_adoption_month_raw_p50_ms": raw_adoption_p50,
        "district_adoption_month_raw_p99_ms": raw_adoption_p99,
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reporting.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", path.display());
    stop.cancel();
}

/// A pool reading the live generations, opened after the swap.
async fn reporting_read_pool(world: &TestWorld) -> PgPool {
    let config = world.config(ServiceId::REPORTING);
    let schemas = [
        format!("{}_attendance_g2", config.schema),
        format!("{}_directory_g1", config.schema),
    ];
    let schemas: Vec<&str> = schemas.iter().map(String::as_str).collect();
    // As the reports' own connections are set (see read_models.rs).
    kernel::db::connect_with_search_path(&config, &schemas, 2)
        .await
        .unwrap()
}

/// The day summaries' statement: one day's roll calls summed per class of a school
/// or per school of a district.
async fn raw_day_counts(pool: &PgPool, filter: &str, group: &str, scope: Uuid, date: Date) {
    let sql = format!(
        "SELECT {group}, session, count(*), sum(present), sum(absent_excused), sum(absent_unexcused), sum(late) \
         FROM roll_calls WHERE {filter} = $1 AND date = $2 GROUP BY {group}, session"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(scope)
        .bind(date)
        .fetch_all(pool)
        .await
        .unwrap();
}

/// The adoption report's heaviest statement: a period's roll calls per class.
async fn raw_roll_calls_per_class(pool: &PgPool, district: Uuid, from: Date, to: Date) {
    sqlx::query(
        "SELECT class_id, count(DISTINCT date), count(*) FROM roll_calls \
         WHERE district_id = $1 AND date BETWEEN $2 AND $3 GROUP BY class_id",
    )
    .bind(district)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap();
}
