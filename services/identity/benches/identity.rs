//! Identity benchmark (`make bench`): token verification in another service against
//! a bare Ed25519 signature check, bulk account issue for 2,000 guardians, and
//! `ListStudents` of a 45-student class against the same queries run raw on
//! Postgres. Prints a table and writes `target/bench/identity.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

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
        IdentityJwks::new(&format!("http://{addr}")).unwrap(),
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
    let report = serde_json::json!({
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
