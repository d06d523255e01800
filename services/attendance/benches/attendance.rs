//! Attendance benchmark (`make bench`): `SubmitRollCall` for 35-student classes from
//! 32 concurrent homeroom teachers over gRPC, against raw Postgres running the same
//! transaction shape (roll call row, 35 marks, its events, the request id) with the
//! same concurrency in the same run; then latency at half the maximum rate. Writes
//! `target/bench/attendance.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hdrhistogram::Histogram;
use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, request_id as rid, with_token};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use secrecy::SecretString;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

const TEACHERS: usize = 32;
/// Classes, each with its own homeroom teacher signed in. Each of the `TEACHERS`
/// concurrent submitters has four and takes the next one's roll calls when a
/// class has none left, so that the roll calls since the school year began (each
/// taken once) last through every round.
const CLASSES: usize = 4 * TEACHERS;
const CLASS_SIZE: usize = 35;
const ROUND_SECONDS: u64 = 6;
const PACED_SECONDS: u64 = 8;
const ADMIN_PASSWORD: &str = "bench-admin-password";
const PASSWORD: &str = "bench-password";

/// School days a class can still take roll calls on: every date since the school
/// year began, both sessions, newest first.
fn roll_call_slots(today: time::Date) -> Vec<(String, i32)> {
    let start = school::dates::school_year_start(&school::dates::school_year_of(today)).unwrap();
    let mut slots = Vec::new();
    let mut day = today;
    while day >= start {
        for session in [pb::Session::Morning, pb::Session::Afternoon] {
            slots.push((day.to_string(), session as i32));
        }
        day = day.previous_day().unwrap();
    }
    slots
}

struct Teacher {
    token: String,
    class_id: String,
    students: Vec<String>,
    /// Roll calls the service still has to take, and the same dates for the raw
    /// baseline's own tables.
    slots: Slots,
    raw_slots: Slots,
}

/// (date, session) of roll calls still to take, popped from the end.
type Slots = Mutex<Vec<(String, i32)>>;

fn submission(
    teacher: &Teacher,
    date: String,
    session: i32,
    n: usize,
) -> pb::SubmitRollCallRequest {
    let absent = &teacher.students[n % CLASS_SIZE];
    let late = &teacher.students[(n + 7) % CLASS_SIZE];
    pb::SubmitRollCallRequest {
        request_id: rid(),
        class_id: teacher.class_id.clone(),
        date,
        session,
        marks: vec![
            pb::Mark {
                student_id: absent.clone(),
                status: pb::AttendanceStatus::AbsentUnexcused as i32,
                ..Default::default()
            },
            pb::Mark {
                student_id: late.clone(),
                status: pb::AttendanceStatus::Late as i32,
                ..Default::default()
            },
        ],
        taken_at: String::new(),
    }
}

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let mut identity_settings = identity::Settings::defaults(world.config(ServiceId::IDENTITY));
    identity_settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    identity_settings.sign_in_per_address.burst = 1_000_000;
    identity_settings
        .keep_keys_in(&std::env::temp_dir().join(format!("lienlac-{}", world.namespace)));
    let identity_app = identity::Application::build(identity_settings)
        .await
        .unwrap();
    let identity_addr = identity_app.grpc_addr();
    tokio::spawn(identity_app.run_until_stopped(stop.clone()));
    let mut config = world.config(ServiceId::ATTENDANCE);
    config.identity_url = format!("http://{identity_addr}");
    config.db_max_connections = 40;
    let attendance_app = attendance::Application::build(attendance::Settings::defaults(config))
        .await
        .unwrap();
    let attendance_addr = attendance_app.grpc_addr();
    let pool = attendance_app.pool().clone();
    tokio::spawn(attendance_app.run_until_stopped(stop.clone()));

    // A school of 32 classes of 35, each with its homeroom teacher signed in.
    let mut auth = AuthServiceClient::new(channel(identity_addr));
    let directory = DirectoryServiceClient::new(channel(identity_addr));
    let admin = auth
        .login(id::LoginRequest {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let today = school::dates::local_today();
    let school_year = school::dates::school_year_of(today);
    let district = directory
        .clone()
        .create_district(with_token(
            id::CreateDistrictRequest {
                request_id: rid(),
                name: "Huyện Củ Chi".into(),
                external_ref: "783".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    let school = directory
        .clone()
        .create_school(with_token(
            id::CreateSchoolRequest {
                request_id: rid(),
                district_id: district,
                name: "Trường Tiểu học Tân Thông".into(),
                external_ref: "TANTHONG".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    let seeding = Instant::now();
    let teachers: Vec<Teacher> = futures::stream::iter(0..CLASSES)
        .map(|class_number| {
            let (mut directory, mut auth, admin, school, school_year) = (
                directory.clone(),
                auth.clone(),
                admin.clone(),
                school.clone(),
                school_year.clone(),
            );
            async move {
                let class_id = directory
                    .create_class(with_token(
                        id::CreateClassRequest {
                            request_id: rid(),
                            school_id: school.clone(),
                            name: format!("{}A{}", class_number % 5 + 1, class_number / 5 + 1),
                            grade: (class_number % 5 + 1) as i32,
                            school_year,
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .id;
                let mut students = Vec::new();
                for n in 0..CLASS_SIZE {
                    let student = directory
                        .register_student(with_token(
                            id::RegisterStudentRequest {
                                request_id: rid(),
                                school_id: school.clone(),
                                full_name: format!("Học Sinh {class_number} {n}"),
                                birth_date: "2019-01-01".into(),
                                gender: id::Gender::Female as i32,
                                external_ref: format!("HS{class_number:02}{n:02}"),
                            },
                            &admin,
                        ))
                        .await
                        .unwrap()
                        .into_inner()
                        .id;
                    directory
                        .enroll_student(with_token(
                            id::EnrollStudentRequest {
                                request_id: rid(),
                                student_id: student.clone(),
                                class_id: class_id.clone(),
                            },
                            &admin,
                        ))
                        .await
                        .unwrap();
                    students.push(student);
                }
                students.sort();
                let staff = directory
                    .register_staff(with_token(
                        id::RegisterStaffRequest {
                            request_id: rid(),
                            school_id: school.clone(),
                            full_name: format!("Giáo Viên {class_number}"),
                            phone: format!("0903{class_number:06}"),
                            position: "Giáo viên".into(),
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .id;
                directory
                    .assign_homeroom_teacher(with_token(
                        id::AssignHomeroomTeacherRequest {
                            request_id: rid(),
                            class_id: class_id.clone(),
                            staff_id: staff.clone(),
                        },
                        &admin,
                    ))
                    .await
                    .unwrap();
                let issued = auth
                    .issue_accounts(with_token(
                        id::IssueAccountsRequest {
                            request_id: rid(),
                            school_id: school.clone(),
                            person_ids: vec![staff],
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .accounts
                    .remove(0);
                let token = auth
                    .activate_account(id::ActivateAccountRequest {
                        username: issued.username,
                        activation_code: issued.activation_code,
                        new_password: PASSWORD.into(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .access_token;
                Teacher {
                    token,
                    class_id,
                    students,
                    slots: Mutex::new(roll_call_slots(today)),
                    raw_slots: Mutex::new(roll_call_slots(today)),
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let teachers = Arc::new(teachers);
    // Wait for attendance's projection of the whole school.
    loop {
        let enrolled: i64 = sqlx::query_scalar("SELECT count(*) FROM enrolment_periods")
            .fetch_one(&pool)
            .await
            .unwrap();
        let homerooms: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM classes WHERE homeroom_teacher_id IS NOT NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if enrolled == (CLASSES * CLASS_SIZE) as i64 && homerooms == CLASSES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "attendance benchmark: {TEACHERS} teachers at a time, {CLASSES} classes of {CLASS_SIZE} (school seeded in {:.1} s)",
        seeding.elapsed().as_secs_f64()
    );

    let client = AttendanceServiceClient::new(channel(attendance_addr));
    sqlx::query("CREATE TABLE raw_roll_calls (LIKE roll_calls INCLUDING ALL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE raw_marks (LIKE marks INCLUDING DEFAULTS)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE raw_marks ADD PRIMARY KEY (class_id, date, session, student_id)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE raw_requests (LIKE requests INCLUDING ALL)")
        .execute(&pool)
        .await
        .unwrap();

    // Maximum rate, alternating the service and the raw baseline.
    let mut service_rounds = Vec::new();
    let mut raw_rounds = Vec::new();
    for _ in 0..2 {
        raw_rounds.push(raw_rate(&pool, &teachers).await);
        service_rounds.push(service_rate(&client, &teachers).await);
        // The raw tables start over each round, so the baseline never runs out of dates.
        sqlx::query("TRUNCATE raw_roll_calls, raw_marks, raw_events, raw_requests")
            .execute(&pool)
            .await
            .unwrap();
        for teacher in teachers.iter() {
            *teacher.raw_slots.lock().await = roll_call_slots(today);
        }
    }
    let mean = |rounds: &[f64]| rounds.iter().sum::<f64>() / rounds.len() as f64;
    let (max_rate, raw) = (mean(&service_rounds), mean(&raw_rounds));

    // Latency at half the maximum rate.
    let target = max_rate / 2.0;
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let interval = Duration::from_secs_f64(TEACHERS as f64 / target);
    let paced_until = Instant::now() + Duration::from_secs(PACED_SECONDS);
    let mut tasks = Vec::new();
    for index in 0..TEACHERS {
        let (client, teachers, latencies) = (client.clone(), teachers.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            // Teachers start spread over one interval, as a steady stream, not in bursts.
            let offset = interval.mul_f64(index as f64 / TEACHERS as f64);
            let mut ticker =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
            let mut n = 0;
            while Instant::now() < paced_until {
                ticker.tick().await;
                let Some((teacher, (date, session))) =
                    next_roll_call(&teachers, index, |teacher| &teacher.slots).await
                else {
                    break;
                };
                let started = Instant::now();
                client
                    .clone()
                    .submit_roll_call(with_token(
                        submission(teacher, date, session, n),
                        &teacher.token,
                    ))
                    .await
                    .unwrap();
                latencies
                    .lock()
                    .await
                    .record(started.elapsed().as_micros() as u64)
                    .unwrap();
                n += 1;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    stop.cancel();
    let latencies = latencies.lock().await;
    let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    let ratio = max_rate / raw;
    println!("rounds (raw / service roll calls/s): {raw_rounds:.0?} / {service_rounds:.0?}");
    println!(
        "SubmitRollCall at full rate      {max_rate:>8.0} roll calls/s ({:.0} marks/s)",
        max_rate * CLASS_SIZE as f64
    );
    println!("raw Postgres, same transaction    {raw:>8.0} roll calls/s");
    println!("service / raw                     {ratio:>8.2}   (target >= 0.5)");
    println!(
        "at half rate ({target:.0}/s): p50 {:.1} ms, p99 {:.1} ms over {} roll calls   (target p99 <= 25 ms)",
        ms(0.5),
        ms(0.99),
        latencies.len()
    );
    let report = serde_json::json!({
        "teachers": TEACHERS,
        "class_size": CLASS_SIZE,
        "submit_roll_calls_per_s": max_rate.round(),
        "marks_per_s": (max_rate * CLASS_SIZE as f64).round(),
        "raw_pg_roll_calls_per_s": raw.round(),
        "ratio_vs_raw_pg": (ratio * 1000.0).round() / 1000.0,
        "half_rate_per_s": target.round(),
        "half_rate_p50_ms": ms(0.5),
        "half_rate_p99_ms": ms(0.99),
        "half_rate_samples": latencies.len(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("attendance.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", path.display());
}

/// Roll calls per second submitted over gRPC by every teacher at once.
async fn service_rate(
    client: &AttendanceServiceClient<Channel>,
    teachers: &Arc<Vec<Teacher>>,
) -> f64 {
    let client = client.clone();
    run_for(
        teachers,
        |teacher| &teacher.slots,
        move |teacher, n, date, session| {
            let mut client = client.clone();
            let request = with_token(submission(teacher, date, session, n), &teacher.token);
            async move {
                client.submit_roll_call(request).await.unwrap();
            }
        },
    )
    .await
}

/// The same writes straight to Postgres: the roll call, 35 marks, its two events
/// and the request id with its answer, in one transaction.
async fn raw_rate(pool: &sqlx::PgPool, teachers: &Arc<Vec<Teacher>>) -> f64 {
    let pool = pool.clone();
    run_for(teachers, |teacher| &teacher.raw_slots, move |teacher, n, date, session| {
        let pool = pool.clone();
        let class: Uuid = teacher.class_id.parse().unwrap();
        let students: Vec<Uuid> = teacher.students.iter().map(|s| s.parse().unwrap()).collect();
        // The same event rows the service writes: the submission with every mark and
        // one absence, as stored JSON and as published protobuf.
        let submitted = pb::RollCallSubmitted {
            class_id: teacher.class_id.clone(),
            school_id: teacher.class_id.clone(),
            date: date.clone(),
            session,
            marks: teacher
                .students
                .iter()
                .map(|s| pb::Mark { student_id: s.clone(), status: pb::AttendanceStatus::Present as i32, ..Default::default() })
                .collect(),
            taken_at: "2026-11-28T07:00:00Z".into(),
            submitted_at: "2026-11-28T07:00:00Z".into(),
            submitted_by: teacher.class_id.clone(),
        };
        let absence = pb::StudentAbsenceRecorded { student_id: teacher.students[0].clone(), class_id: teacher.class_id.clone(), date: date.clone(), session, ..Default::default() };
        let events = [
            (serde_json::to_value(&submitted).unwrap(), prost::Message::encode_to_vec(&submitted)),
            (serde_json::to_value(&absence).unwrap(), prost::Message::encode_to_vec(&absence)),
        ];
        async move {
            let date = time::Date::parse(&date, &time::macros::format_description!("[year]-[month]-[day]")).unwrap();
            let statuses: Vec<i16> = (0..CLASS_SIZE).map(|i| if i == n % CLASS_SIZE { 3 } else { 1 }).collect();
            let notes: Vec<&str> = vec![""; CLASS_SIZE];
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO raw_roll_calls (class_id, date, session, school_id, district_id, taken_at, submitted_by) VALUES ($1, $2, $3, $1, $1, now(), $1)")
                .bind(class).bind(date).bind(session as i16).execute(&mut *tx).await.unwrap();
            sqlx::query("INSERT INTO raw_marks (class_id, date, session, student_id, status, note) SELECT $1, $2, $3, m.s, m.t, m.n FROM UNNEST($4::uuid[], $5::smallint[], $6::text[]) AS m(s, t, n)")
                .bind(class).bind(date).bind(session as i16).bind(&students).bind(&statuses).bind(&notes).execute(&mut *tx).await.unwrap();
            let stream = format!("raw:{class}:{date}:{session}");
            for (version, (data, payload)) in (1_i64..).zip(events.iter()) {
                sqlx::query("INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, schema_version, data, published_type, published_payload, published_count, correlation_id) VALUES ($1, $2, $3, 'RollCallSubmitted', 1, $4, 'lienlac.attendance.v1.RollCallSubmitted', $5, $3, $1)")
                    .bind(Uuid::now_v7()).bind(&stream).bind(version).bind(data).bind(payload).execute(&mut *tx).await.unwrap();
            }
            sqlx::query("INSERT INTO raw_requests (caller, request_id, command, fingerprint, response) VALUES ($1, $2, 'SubmitRollCall', $3, $4)")
                .bind(Uuid::now_v7()).bind(Uuid::now_v7()).bind([0u8; 32].as_slice()).bind(&events[0].0).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

/// Runs `submit` from every teacher concurrently for `ROUND_SECONDS`, each on its
/// class's next free roll call, and returns roll calls per second.
async fn run_for<F, Fut>(
    teachers: &Arc<Vec<Teacher>>,
    slots: fn(&Teacher) -> &Slots,
    submit: F,
) -> f64
where
    F: Fn(&Teacher, usize, String, i32) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for index in 0..TEACHERS {
        let (teachers, stop, done, submit) =
            (teachers.clone(), stop.clone(), done.clone(), submit.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let Some((teacher, (date, session))) =
                    next_roll_call(&teachers, index, slots).await
                else {
                    break;
                };
                submit(teacher, n, date, session).await;
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (start, started) = (done.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(ROUND_SECONDS)).await;
    let count = done.load(Ordering::Relaxed) - start;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / elapsed
}

/// The next roll call submitter `index` takes: from the first of its classes that
/// still has one to take.
async fn next_roll_call(
    teachers: &[Teacher],
    index: usize,
    slots: fn(&Teacher) -> &Slots,
) -> Option<(&Teacher, (String, i32))> {
    for teacher in teachers.iter().skip(index).step_by(TEACHERS) {
        if let Some(slot) = slots(teacher).lock().await.pop() {
            return Some((teacher, slot));
        }
    }
    None
}
