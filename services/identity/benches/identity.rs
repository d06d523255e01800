//! Identity benchmark (`make bench`): token verification in another service against
//! a bare Ed25519 signature check, bulk account issue for 2,000 guardians,
//! `ListStudents` of a 45-student class against the same queries run raw on
//! Postgres, and a legitimate sign-in's latency while 1,000 bad sign-ins arrive at
//! once from another address, against the same without them. Prints a table and
//! writes `target/bench/identity.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use identity::{Application, Settings};
use kernel::auth::{IdentityJwks, TokenVerifier};
use kernel::config::ServiceId;
use kernel::testing::{TestWorld, request_id as rid, with_token};
use lienlac_proto::identity::v1 as pb;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

const ADMIN_PASSWORD: &str = "bench-admin-password";
const GUARDIANS: usize = 2_000;
const CLASS_SIZE: usize = 45;
const DISTINCT_TOKENS: usize = 300;
const CACHED_VERIFICATIONS: usize = 100_000;
const LIST_CALLS: usize = 2_000;
const SIGN_IN_SAMPLES: u64 = 20;

const FLOOD: usize = 1_000;
const FLOOD_SAMPLES: usize = 50;

struct Flood {
    quiet: Histogram<u64>,
    during: Histogram<u64>,
    legitimate_refused: usize,
    throttled: usize,
    busy: usize,
    answered: usize,
    rss_before_mb: f64,
    rss_peak_mb: f64,
}

/// This process's resident memory, from /proc.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// A channel to `addr` whose connections come from `from` (a loopback address of
/// its own, so that the service sees another client).
fn channel_from(addr: std::net::SocketAddr, from: [u8; 4]) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .local_address(Some(std::net::IpAddr::from(from)))
        .connect_lazy()
}

/// Identity with its production sign-in limits and hashing cost (the operator's
/// username limit raised so that one account can be sampled repeatedly): the
/// operator signs in, each time from another address of 127.0.1.0/24, first alone,
/// then while 1,000 sign-ins with wrong passwords for made-up phone numbers arrive
/// at once from 127.0.0.2.
async fn sign_in_flood() -> Flood {
    let world = TestWorld::new();
    let mut settings = Settings::defaults(world.config(ServiceId::IDENTITY));
    settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    settings.keep_keys_in(&std::env::temp_dir().join(format!("lienlac-{}", world.namespace)));
    settings.sign_in_per_username.burst = 1_000;
    let app = Application::build(settings).await.unwrap();
    let addr = app.grpc_addr();
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone()));
    let legitimate = |sample: usize| {
        AuthServiceClient::new(channel_from(addr, [127, 0, 1, (sample % 250) as u8 + 1]))
    };
    let sign_in = |mut client: AuthServiceClient<Channel>| async move {
        let started = Instant::now();
        let outcome = client
            .login(pb::LoginRequest {
                username: "admin".into(),
                password: ADMIN_PASSWORD.into(),
            })
            .await;
        (started.elapsed().as_nanos() as u64, outcome.is_ok())
    };
    sign_in(legitimate(0)).await;
    let mut quiet = Histogram::<u64>::new(3).unwrap();
    for sample in 0..FLOOD_SAMPLES {
        let (nanos, ok) = sign_in(legitimate(sample)).await;
        assert!(ok);
        quiet.record(nanos).unwrap();
    }

    let rss_before_mb = rss_mb();
    let sampling = CancellationToken::new();
    let peak = tokio::spawn({
        let sampling = sampling.clone();
        async move {
            let mut peak = rss_mb();
            while !sampling.is_cancelled() {
                peak = peak.max(rss_mb());
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            peak
        }
    });
    let attackers: Vec<AuthServiceClient<Channel>> = (0..10)
        .map(|_| AuthServiceClient::new(channel_from(addr, [127, 0, 0, 2])))
        .collect();
    let flood: Vec<_> = (0..FLOOD)
        .map(|n| {
            let mut client = attackers[n % attackers.len()].clone();
            tokio::spawn(async move {
                client
                    .login(pb::LoginRequest {
                        username: format!("09{:08}", 70_000_000 + n),
                        password: "wrong-password".into(),
                    })
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    let mut during = Histogram::<u64>::new(3).unwrap();
    let mut legitimate_refused = 0;
    for sample in FLOOD_SAMPLES..2 * FLOOD_SAMPLES {
        let (nanos, ok) = sign_in(legitimate(sample)).await;
        during.record(nanos).unwrap();
        legitimate_refused += usize::from(!ok);
    }
    let (mut throttled, mut busy, mut answered) = (0, 0, 0);
    for attempt in flood {
        match attempt.await.unwrap() {
            Err(status) if status.message().starts_with("too many") => throttled += 1,
            Err(status) if status.code() == tonic::Code::ResourceExhausted => busy += 1,
            _ => answered += 1,
        }
    }
    sampling.cancel();
    let rss_peak_mb = peak.await.unwrap();
    stop.cancel();
    server.await.unwrap().unwrap();
    Flood {
        quiet,
        during,
        legitimate_refused,
        throttled,
        busy,
        answered,
        rss_before_mb,
        rss_peak_mb,
    }
}

fn micros(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// A bare Ed25519 verification of the token's signature: the floor under any verifier.
fn raw_signature_check(token: &str, key: &VerifyingKey) -> bool {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    key.verify(signed.as_bytes(), &signature).is_ok()
}

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let mut settings = Settings::defaults(world.config(ServiceId::IDENTITY));
    settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    // The timing comparison signs in with wrong passwords again and again.
    settings.sign_in_per_address.burst = 1_000_000;
    settings.sign_in_per_username.burst = 1_000;
    settings.lockout_attempts = 1_000;
    settings.keep_keys_in(&std::env::temp_dir().join(format!("lienlac-{}", world.namespace)));
    settings.kernel.db_max_connections = 20;
    let app = Application::build(settings).await.unwrap();
    let addr = app.grpc_addr();
    let pool = app.pool().clone();
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone()));
    let channel: Channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let mut auth = AuthServiceClient::new(channel.clone());
    let mut directory = DirectoryServiceClient::new(channel.clone());
    let login = auth
        .login(pb::LoginRequest {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let admin = login.access_token.clone();

    // Token verification, as another service does it.
    let verifier = TokenVerifier::new(Arc::new(
        IdentityJwks::new(&format!("http://{addr}"), &Default::default()).unwrap(),
    ));
    verifier.verify(&admin).await.unwrap();
    let mut tokens = Vec::with_capacity(DISTINCT_TOKENS);
    let mut refresh = login.refresh_token;
    for _ in 0..DISTINCT_TOKENS {
        let pair = auth
            .refresh(pb::RefreshRequest {
                refresh_token: refresh,
            })
            .await
            .unwrap()
            .into_inner();
        refresh = pair.refresh_token;
        tokens.push(pair.access_token);
    }
    let jwks = auth
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    let jwks: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let mut first_sight = Histogram::<u64>::new(3).unwrap();
    let mut raw = Histogram::<u64>::new(3).unwrap();
    for token in &tokens {
        let started = Instant::now();
        assert!(raw_signature_check(token, &key));
        raw.record(started.elapsed().as_nanos() as u64).unwrap();
        let started = Instant::now();
        verifier.verify(token).await.unwrap();
        first_sight
            .record(started.elapsed().as_nanos() as u64)
            .unwrap();
    }
    let mut cached = Histogram::<u64>::new(3).unwrap();
    for n in 0..CACHED_VERIFICATIONS {
        let token = &tokens[n % tokens.len()];
        let started = Instant::now();
        verifier.verify(token).await.unwrap();
        cached.record(started.elapsed().as_nanos() as u64).unwrap();
    }

    // A school with 2,000 guardians, one per student, and a class of 45.
    let district = directory
        .create_district(with_token(
            pb::CreateDistrictRequest {
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
        .create_school(with_token(
            pb::CreateSchoolRequest {
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
    let class = directory
        .create_class(with_token(
            pb::CreateClassRequest {
                request_id: rid(),
                school_id: school.clone(),
                name: "1A1".into(),
                grade: 1,
                school_year: "2025-2026".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    let seeding = Instant::now();
    futures::stream::iter(0..GUARDIANS)
        .for_each_concurrent(16, |n| {
            let (mut directory, admin, school, class) = (
                directory.clone(),
                admin.clone(),
                school.clone(),
                class.clone(),
            );
            async move {
                let student = directory
                    .register_student(with_token(
                        pb::RegisterStudentRequest {
                            request_id: rid(),
                            school_id: school.clone(),
                            full_name: format!("Nguyễn Văn Học Sinh {n}"),
                            birth_date: "2019-01-01".into(),
                            gender: pb::Gender::Male as i32,
                            external_ref: format!("HS{n:05}"),
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .id;
                let guardian = directory
                    .register_guardian(with_token(
                        pb::RegisterGuardianRequest {
                            request_id: rid(),
                            school_id: school.clone(),
                            full_name: format!("Trần Thị Phụ Huynh {n}"),
                            phone: format!("09{n:08}"),
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .id;
                directory
                    .link_guardian(with_token(
                        pb::LinkGuardianRequest {
                            request_id: rid(),
                            guardian_id: guardian,
                            student_id: student.clone(),
                            relation: pb::Relation::Mother as i32,
                        },
                        &admin,
                    ))
                    .await
                    .unwrap();
                if n < CLASS_SIZE {
                    directory
                        .enroll_student(with_token(
                            pb::EnrollStudentRequest {
                                request_id: rid(),
                                student_id: student,
                                class_id: class,
                            },
                            &admin,
                        ))
                        .await
                        .unwrap();
                }
            }
        })
        .await;
    let seeded_in = seeding.elapsed();

    let started = Instant::now();
    let issued = auth
        .issue_accounts(with_token(
            pb::IssueAccountsRequest {
                request_id: rid(),
                school_id: school.clone(),
                kinds: vec![pb::PersonKind::Guardian as i32],
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let issue_seconds = started.elapsed().as_secs_f64();
    assert_eq!(issued.accounts.len(), GUARDIANS);

    // ListStudents over gRPC, and the same three queries raw.
    let mut listed = Histogram::<u64>::new(3).unwrap();
    for _ in 0..LIST_CALLS {
        let started = Instant::now();
        let answer = directory
            .list_students(with_token(
                pb::ListStudentsRequest {
                    class_id: class.clone(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        listed.record(started.elapsed().as_nanos() as u64).unwrap();
        assert_eq!(answer.students.len(), CLASS_SIZE);
    }
    let class_id = Uuid::parse_str(&class).unwrap();
    let mut raw_list = Histogram::<u64>::new(3).unwrap();
    for _ in 0..LIST_CALLS {
        let started = Instant::now();
        let students: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT p.id, p.full_name FROM enrolments e JOIN people p ON p.id = e.student_id WHERE e.class_id = $1 AND e.active",
        )
        .bind(class_id)
        .fetch_all(&pool)
        .await
        .unwrap();
        let ids: Vec<Uuid> = students.iter().map(|s| s.0).collect();
        let links: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT guardian_id, student_id FROM guardianships WHERE student_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&pool)
        .await
        .unwrap();
        let guardians: Vec<Uuid> = links.iter().map(|l| l.0).collect();
        let _: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, full_name FROM people WHERE id = ANY($1)")
                .bind(&guardians)
                .fetch_all(&pool)
                .await
                .unwrap();
        raw_list
            .record(started.elapsed().as_nanos() as u64)
            .unwrap();
    }
    // Sign-in answers: an unknown username must cost what a wrong password costs.
    let mut unknown_user = Histogram::<u64>::new(3).unwrap();
    let mut wrong_password = Histogram::<u64>::new(3).unwrap();
    for n in 0..SIGN_IN_SAMPLES {
        let started = Instant::now();
        let status = auth
            .login(pb::LoginRequest {
                username: format!("09{:08}", 90_000_000 + n),
                password: "wrong-password".into(),
            })
            .await
            .unwrap_err();
        unknown_user
            .record(started.elapsed().as_nanos() as u64)
            .unwrap();
        let started = Instant::now();
        let other = auth
            .login(pb::LoginRequest {
                username: "admin".into(),
                password: "wrong-password".into(),
            })
            .await
            .unwrap_err();
        wrong_password
            .record(started.elapsed().as_nanos() as u64)
            .unwrap();
        assert_eq!(status.message(), other.message());
    }
    stop.cancel();
    server.await.unwrap().unwrap();

    let flood = sign_in_flood().await;

    println!("identity benchmark");
    println!(
        "token verification, cached      p50 {:.2} µs  p99 {:.2} µs   (target <= 50 µs)",
        micros(&cached, 0.5),
        micros(&cached, 0.99)
    );
    println!(
        "token verification, first sight p50 {:.1} µs  p99 {:.1} µs  (bare Ed25519 check p50 {:.1} µs, ratio {:.2})",
        micros(&first_sight, 0.5),
        micros(&first_sight, 0.99),
        micros(&raw, 0.5),
        micros(&first_sight, 0.5) / micros(&raw, 0.5)
    );
    println!(
        "issue accounts for {GUARDIANS} guardians  {issue_seconds:.2} s   (target <= 5 s; seeding took {:.1} s)",
        seeded_in.as_secs_f64()
    );
    println!(
        "ListStudents (45 + guardians)   p50 {:.2} ms  p99 {:.2} ms   (target p99 <= 10 ms; raw queries p50 {:.2} ms p99 {:.2} ms)",
        micros(&listed, 0.5) / 1000.0,
        micros(&listed, 0.99) / 1000.0,
        micros(&raw_list, 0.5) / 1000.0,
        micros(&raw_list, 0.99) / 1000.0,
    );
    println!(
        "sign-in refused: unknown user p50 {:.1} ms, wrong password p50 {:.1} ms (ratio {:.2})",
        micros(&unknown_user, 0.5) / 1000.0,
        micros(&wrong_password, 0.5) / 1000.0,
        micros(&unknown_user, 0.5) / micros(&wrong_password, 0.5)
    );
    println!(
        "sign-in during a flood of {FLOOD} bad sign-ins  p50 {:.1} ms  p99 {:.1} ms  (without the flood p50 {:.1} ms  p99 {:.1} ms, p99 ratio {:.2}); {} of {FLOOD_SAMPLES} refused; flood: {} throttled, {} told hashing is busy, {} answered; resident memory {:.0} MB before, {:.0} MB at most during",
        micros(&flood.during, 0.5) / 1000.0,
        micros(&flood.during, 0.99) / 1000.0,
        micros(&flood.quiet, 0.5) / 1000.0,
        micros(&flood.quiet, 0.99) / 1000.0,
        micros(&flood.during, 0.99) / micros(&flood.quiet, 0.99),
        flood.legitimate_refused,
        flood.throttled,
        flood.busy,
        flood.answered,
        flood.rss_before_mb,
        flood.rss_peak_mb,
    );
    let report = serde_json::json!({
        "sign_in_quiet_p50_ms": micros(&flood.quiet, 0.5) / 1000.0,
        "sign_in_quiet_p99_ms": micros(&flood.quiet, 0.99) / 1000.0,
        "sign_in_during_flood_p50_ms": micros(&flood.during, 0.5) / 1000.0,
        "sign_in_during_flood_p99_ms": micros(&flood.during, 0.99) / 1000.0,
        "sign_in_during_flood_p99_ratio_vs_quiet": micros(&flood.during, 0.99) / micros(&flood.quiet, 0.99),
        "sign_in_during_flood_refused": flood.legitimate_refused,
        "flood_sign_ins": FLOOD,
        "flood_throttled": flood.throttled,
        "flood_hashing_busy": flood.busy,
        "flood_answered": flood.answered,
        "rss_before_flood_mb": flood.rss_before_mb,
        "rss_peak_during_flood_mb": flood.rss_peak_mb,
        "login_unknown_user_p50_ms": micros(&unknown_user, 0.5) / 1000.0,
        "login_wrong_password_p50_ms": micros(&wrong_password, 0.5) / 1000.0,
        "login_unknown_vs_wrong_ratio": micros(&unknown_user, 0.5) / micros(&wrong_password, 0.5),
        "verify_cached_p50_us": micros(&cached, 0.5),
        "verify_cached_p99_us": micros(&cached, 0.99),
        "verify_first_sight_p50_us": micros(&first_sight, 0.5),
        "verify_first_sight_p99_us": micros(&first_sight, 0.99),
        "raw_ed25519_verify_p50_us": micros(&raw, 0.5),
        "verify_first_sight_ratio_vs_raw": micros(&first_sight, 0.5) / micros(&raw, 0.5),
        "issue_accounts_guardians": GUARDIANS,
        "issue_accounts_seconds": issue_seconds,
        "list_students_class_size": CLASS_SIZE,
        "list_students_p50_ms": micros(&listed, 0.5) / 1000.0,
        "list_students_p99_ms": micros(&listed, 0.99) / 1000.0,
        "raw_list_queries_p50_ms": micros(&raw_list, 0.5) / 1000.0,
        "raw_list_queries_p99_ms": micros(&raw_list, 0.99) / 1000.0,
        "list_students_p50_ratio_vs_raw": micros(&listed, 0.5) / micros(&raw_list, 0.5),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("identity.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", path.display());
}
