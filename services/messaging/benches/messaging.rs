//! Messaging benchmark (`make bench`): an announcement to a whole school (about
//! 1,700 guardians) and to a whole district (about 100,000) over gRPC, until every
//! guardian's row is committed, against raw Postgres inserting the same rows into a
//! copy of the table in the same run; `ListInbox` latency for a guardian whose
//! class group holds 10,000 messages; and `Subscribe`'s delivery lag (from the
//! writer's call to the subscriber's receipt) while messages are posted at 1,000 a
//! second over gRPC into a school's class groups and staff group, three of them
//! followed by three subscribers. The district is synthetic: its classes,
//! students and guardians are written straight into messaging's directory tables.
//! Writes `target/bench/messaging.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use kernel::config::ServiceId;
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, append};
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
/// Messages a second posted while subscribers follow, and for how long.
const LIVE_RATE: u64 = 1_000;
const LIVE_SECONDS: u64 = 10;

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let mut config = world.config(ServiceId::MESSAGING);
    config.identity_url = format!("http://{identity}");
    let mut settings = messaging::Settings::defaults(config);
    settings.attachments_dir =
        std::env::temp_dir().join(format!("{}-attachments", world.namespace));
    let app = messaging::Application::build(settings).await.unwrap();
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
    let live_store = live_lag(addr, &pool, &school, Writer::EventStore).await;
    let live_grpc = live_lag(addr, &pool, &school, Writer::Grpc).await;
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
    let lag_ms = |live: &Live, q: f64| round(live.lags.value_at_quantile(q) as f64 / 1000.0, 1);
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
        "live_rate_target_per_s": LIVE_RATE,
        "live_store_rate_achieved_per_s": round(live_store.achieved_rate, 0),
        "live_store_messages": live_store.messages,
        "live_store_deliveries": live_store.lags.len(),
        "subscribe_lag_p50_ms": lag_ms(&live_store, 0.5),
        "subscribe_lag_p99_ms": lag_ms(&live_store, 0.99),
        "subscribe_lag_max_ms": lag_ms(&live_store, 1.0),
        "live_grpc_rate_achieved_per_s": round(live_grpc.achieved_rate, 0),
        "live_grpc_deliveries": live_grpc.lags.len(),
        "grpc_subscribe_lag_p50_ms": lag_ms(&live_grpc, 0.5),
        "grpc_subscribe_lag_p99_ms": lag_ms(&live_grpc, 0.99),
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
            attachment_ids: Vec::new(),
            ..Default::default()
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

/// A load of messages and what the subscribers saw of it.
struct Live {
    /// From each message's recording in the service to its receipt.
    lags: Histogram<u64>,
    messages: u64,
    achieved_rate: f64,
}

/// How the load's messages are written.
#[derive(Clone, Copy)]
enum Writer {
    /// `PostMessage` over gRPC, by the school's principal.
    Grpc,
    /// `MessagePosted` events appended straight to the event store, as the
    /// service's own commands would: Subscribe's side alone at the target rate.
    EventStore,
}

/// Three subscribers (1A1's guardian, 1A1's teacher, 1A2's teacher) while
/// [`LIVE_RATE`] messages a second are written, in turn into each class group of
/// the school (1A1 and 1A2 first) and its staff group: each delivery's lag from
/// the message's recording, and every subscriber gets each of its messages
/// exactly once.
async fn live_lag(
    addr: std::net::SocketAddr,
    pool: &PgPool,
    school: &School,
    writer: Writer,
) -> Live {
    let others: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM classes WHERE school_id = $1::uuid AND id NOT IN ($2::uuid, $3::uuid)",
    )
    .bind(&school.school_id)
    .bind(&school.class_id)
    .bind(&school.other_class_id)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut conversations = vec![
        school.class_id.clone(),
        school.other_class_id.clone(),
        school.school_id.clone(),
    ];
    conversations.extend(others.iter().map(Uuid::to_string));
    let count = conversations.len() as u64;
    let subscribers = [
        (school.guardian.clone(), vec![0]),
        (school.homeroom.clone(), vec![0, 2]),
        (school.other_homeroom.clone(), vec![1, 2]),
    ];
    let messages = LIVE_RATE * LIVE_SECONDS;
    let writing_done = CancellationToken::new();
    let mut followers = Vec::new();
    for (token, followed) in subscribers {
        let mut stream = MessagingServiceClient::new(channel(addr))
            .subscribe(with_token(pb::SubscribeRequest::default(), &token))
            .await
            .unwrap()
            .into_inner();
        // The first update (a heartbeat) says the subscription is in place.
        stream.message().await.unwrap().unwrap();
        let expected = (0..messages)
            .filter(|n| followed.contains(&((n % count) as usize)))
            .count();
        let done = writing_done.clone();
        followers.push(tokio::spawn(async move {
            let mut lags = Vec::with_capacity(expected);
            let mut seen = std::collections::HashSet::new();
            while seen.len() < expected {
                let next = tokio::select! {
                    next = stream.message() => next.unwrap(),
                    () = async { done.cancelled().await; tokio::time::sleep(Duration::from_secs(10)).await } => None,
                };
                let Some(update) = next else { break };
                if let Some(pb::update::Item::Message(message)) = update.item {
                    let recorded = time::OffsetDateTime::parse(
                        &message.posted_at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap();
                    let lag = (time::OffsetDateTime::now_utc() - recorded).max(time::Duration::ZERO);
                    assert!(seen.insert(message.id), "a message delivered twice");
                    lags.push(lag.unsigned_abs());
                }
            }
            assert_eq!(seen.len(), expected, "every message of the subscriber's conversations");
            lags
        }));
    }

    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let client = MessagingServiceClient::new(channel(addr));
    let (district, school_id): (Uuid, Uuid) = (
        school.district_id.parse().unwrap(),
        school.school_id.parse().unwrap(),
    );
    let bench_writer = Uuid::now_v7();
    let started = tokio::time::Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..messages {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let at = started + Duration::from_micros(n * 1_000_000 / LIVE_RATE);
        let conversation = conversations[(n % count) as usize].clone();
        let (token, mut client, pool) = (school.principal.clone(), client.clone(), pool.clone());
        writers.spawn(async move {
            tokio::time::sleep_until(at).await;
            let body = format!("tin {n}");
            match writer {
                Writer::Grpc => {
                    client
                        .post_message(with_token(
                            pb::PostMessageRequest {
                                request_id: request_id(),
                                conversation_id: conversation,
                                body,
                                reply_to: String::new(),
                                attachment_ids: Vec::new(),
                            },
                            &token,
                        ))
                        .await
                        .unwrap();
                }
                Writer::EventStore => {
                    let posted = pb::MessagePosted {
                        message_id: Uuid::now_v7().to_string(),
                        conversation_id: conversation,
                        kind: pb::ConversationKind::Class as i32,
                        seq: n as i64 + 1,
                        school_id: school_id.to_string(),
                        author_account_id: bench_writer.to_string(),
                        ..Default::default()
                    };
                    let event = NewEvent::from_message(&posted)
                        .and_then(|event| event.keeping("body", &body))
                        .unwrap();
                    let mut tx = pool.begin().await.unwrap();
                    append(
                        &mut tx,
                        &format!("bench-live:{n}"),
                        ExpectedVersion::NoStream,
                        &[event],
                        &EventMeta::for_command(None).in_tenant(district, Some(school_id)),
                    )
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                }
            }
            drop(permit);
        });
    }
    writers.join_all().await;
    let achieved_rate = messages as f64 / started.elapsed().as_secs_f64();
    writing_done.cancel();
    let mut lags = Histogram::<u64>::new(3).unwrap();
    for follower in followers {
        for lag in follower.await.unwrap() {
            lags.record(lag.as_micros() as u64).unwrap();
        }
    }
    Live {
        lags,
        messages,
        achieved_rate,
    }
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
