//! Messaging benchmark (`make bench`): an announcement to a whole school (about
//! 1,700 guardians) and to a whole district (about 100,000) over gRPC, until every
//! guardian's row is committed, against raw Postgres inserting the same rows into a
//! copy of the table in the same run; and `ListInbox` latency for a guardian whose
//! class group holds 10,000 messages. The district is synthetic: its classes,
//! students and guardians are written straight into messaging's directory tables.
//! Writes `target/bench/messaging.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::audience::Scope;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_test_support::{School, start_identity};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Schools besides the test school, classes per school, students per class: with
/// the test school, 59 schools of 1,700 students, each with a guardian.
const OTHER_SCHOOLS: i32 = 58;
const CLASSES_PER_SCHOOL: i32 = 50;
const CLASS_SIZE: i32 = 34;
const SCHOOL_RUNS: usize = 10;
const DISTRICT_RUNS: usize = 3;
const MESSAGES: i64 = 10_000;
const INBOX_CALLS: usize = 500;

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let mut config = world.config(ServiceId::MESSAGING);
    config.identity_url = format!("http://{identity}");
    let app = messaging::Application::build(messaging::Settings::defaults(config))
        .await
        .unwrap();
    let (addr, pool) = (app.grpc_addr(), app.pool().clone());
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let school = School::create(identity).await;
    let known = pool.clone();
    eventually(
        "messaging knows the school",
        Duration::from_secs(30),
        || {
            let pool = known.clone();
            async move {
                let leaders: i64 = sqlx::query_scalar("SELECT count(*) FROM school_leaders")
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                (leaders >= 2).then_some(())
            }
        },
    )
    .await;
    let district: Uuid = school.district_id.parse().unwrap();
    let school_id: Uuid = school.school_id.parse().unwrap();
    synthetic_district(&pool, district, school_id).await;
    let mut client = MessagingServiceClient::new(channel(addr));

    // An announcement to the whole test school, then to the whole district.
    let to_school = Scope::SchoolId(school.school_id.clone());
    let (school_times, school_recipients) =
        publish(&mut client, &school.principal, to_school, SCHOOL_RUNS).await;
    let to_district = Scope::DistrictId(school.district_id.clone());
    let (district_times, district_recipients) = publish(
        &mut client,
        &school.district_admin,
        to_district,
        DISTRICT_RUNS,
    )
    .await;

    // The same rows, inserted raw into a copy of the table.
    let guardians: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT g.guardian_id FROM classes c \
         JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
         JOIN guardianships g ON g.student_id = e.student_id WHERE c.district_id = $1",
    )
    .bind(district)
    .fetch_all(&pool)
    .await
    .unwrap();
    let in_school: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT g.guardian_id FROM classes c \
         JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
         JOIN guardianships g ON g.student_id = e.student_id WHERE c.school_id = $1",
    )
    .bind(school_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    sqlx::query("CREATE TABLE bench_recipients (LIKE announcement_recipients INCLUDING ALL)")
        .execute(&pool)
        .await
        .unwrap();
    let raw_school = raw_inserts(&pool, &in_school, SCHOOL_RUNS).await;
    let raw_district = raw_inserts(&pool, &guardians, DISTRICT_RUNS).await;

    // A guardian's inbox when their class group holds 10,000 messages.
    history(&pool, school.class_id.parse().unwrap()).await;
    let mut inbox = Histogram::<u64>::new(3).unwrap();
    for _ in 0..INBOX_CALLS {
        let started = Instant::now();
        let page = client
            .list_inbox(with_token(
                pb::ListInboxRequest::default(),
                &school.guardian,
            ))
            .await
            .unwrap()
            .into_inner();
        inbox.record(started.elapsed().as_micros() as u64).unwrap();
        assert!(
            page.entries
                .iter()
                .any(|e| e.state.as_ref().unwrap().unread >= MESSAGES)
        );
    }
    stop.cancel();

    let median = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        sorted[sorted.len() / 2]
    };
    let (school_ms, district_s) = (
        median(&school_times).as_secs_f64() * 1e3,
        median(&district_times).as_secs_f64(),
    );
    let (raw_school_ms, raw_district_s) = (
        median(&raw_school).as_secs_f64() * 1e3,
        median(&raw_district).as_secs_f64(),
    );
    let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
    let ms = |q: f64| round(inbox.value_at_quantile(q) as f64 / 1000.0, 2);
    let report = serde_json::json!({
        "school_guardians": school_recipients,
        "school_announcement_ms": round(school_ms, 1),
        "raw_school_rows_ms": round(raw_school_ms, 1),
        "school_ratio_vs_raw_pg": round(raw_school_ms / school_ms, 3),
        "district_guardians": district_recipients,
        "district_announcement_s": round(district_s, 2),
        "raw_district_rows_s": round(raw_district_s, 2),
        "district_ratio_vs_raw_pg": round(raw_district_s / district_s, 3),
        "history_messages": MESSAGES,
        "list_inbox_p50_ms": ms(0.5),
        "list_inbox_p99_ms": ms(0.99),
        "list_inbox_samples": INBOX_CALLS,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("messaging.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", path.display());
}

/// The test school filled to 1,700 students, and 58 more schools like it, each
/// student with one guardian, written straight into messaging's directory tables.
async fn synthetic_district(pool: &PgPool, district: Uuid, school: Uuid) {
    let year = school::dates::school_year_of(school::dates::local_today());
    let statements = [
        "INSERT INTO schools (id, district_id, name) \
         SELECT gen_random_uuid(), $1, 'bench' FROM generate_series(1, $3)",
        "INSERT INTO classes (id, school_id, district_id, name, grade, school_year) \
         SELECT gen_random_uuid(), s.id, s.district_id, 'bench', (n % 5) + 1, $2 \
         FROM schools s CROSS JOIN generate_series(1, $5) n \
         WHERE s.district_id = $1 AND (s.name = 'bench' OR s.id = $4)",
        "INSERT INTO enrolment_periods (student_id, class_id, school_year, from_date) \
         SELECT gen_random_uuid(), c.id, $2, current_date - 30 \
         FROM classes c CROSS JOIN generate_series(1, $6) WHERE c.name = 'bench'",
        "INSERT INTO guardianships (guardian_id, student_id) \
         SELECT gen_random_uuid(), e.student_id FROM enrolment_periods e \
         JOIN classes c ON c.id = e.class_id WHERE c.name = 'bench'",
        "ANALYZE",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(district)
            .bind(&year)
            .bind(OTHER_SCHOOLS)
            .bind(school)
            .bind(CLASSES_PER_SCHOOL)
            .bind(CLASS_SIZE)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// `runs` announcements to `scope`: each call's time and the guardians reached.
async fn publish(
    client: &mut MessagingServiceClient<tonic::transport::Channel>,
    token: &str,
    scope: Scope,
    runs: usize,
) -> (Vec<Duration>, i64) {
    let mut times = Vec::with_capacity(runs);
    let mut recipients = 0;
    for _ in 0..runs {
        let request = pb::PublishAnnouncementRequest {
            request_id: request_id(),
            audience: Some(pb::Audience {
                scope: Some(scope.clone()),
            }),
            title: "Thông báo".into(),
            body: "Kính gửi quý phụ huynh.".into(),
            requires_ack: true,
            scheduled_at: String::new(),
        };
        let started = Instant::now();
        let announcement = client
            .publish_announcement(with_token(request, token))
            .await
            .unwrap()
            .into_inner();
        times.push(started.elapsed());
        recipients = announcement.recipients;
    }
    (times, recipients)
}

/// `runs` inserts of one row per guardian into the copy of the recipients table.
async fn raw_inserts(pool: &PgPool, guardians: &[Uuid], runs: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        sqlx::query(
            "INSERT INTO bench_recipients (announcement_id, guardian_id, visible_at) \
             SELECT $1, unnest($2::uuid[]), now()",
        )
        .bind(Uuid::now_v7())
        .bind(guardians)
        .execute(pool)
        .await
        .unwrap();
        times.push(started.elapsed());
    }
    times
}

/// 10,000 messages in the class group, none of them read by its guardians.
async fn history(pool: &PgPool, class: Uuid) {
    sqlx::query(
        "INSERT INTO messages (conversation_id, seq, id, author_account_id, body, posted_at) \
         SELECT $1, n, gen_random_uuid(), gen_random_uuid(), 'tin nhắn', now() \
         FROM generate_series(1, $2) n",
    )
    .bind(class)
    .bind(MESSAGES)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO conversation_heads (conversation_id, last_seq, last_message_at) VALUES ($1, $2, now()) \
         ON CONFLICT (conversation_id) DO UPDATE SET last_seq = excluded.last_seq",
    )
    .bind(class)
    .bind(MESSAGES)
    .execute(pool)
    .await
    .unwrap();
}
