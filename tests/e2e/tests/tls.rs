//! gRPC over TLS: identity and attendance serve a certificate of a test CA, and
//! attendance fetches identity's keys over TLS to verify a caller's token.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

use kernel::config::{ServiceId, TlsSettings};
use kernel::testing::{TestWorld, test_pki, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as pb;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_test_support::ADMIN_PASSWORD;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread")]
async fn two_services_talk_over_tls_with_a_test_ca() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let tls = test_pki(&std::env::temp_dir().join(format!("lienlac-{}-tls", world.namespace)));

    let mut identity_settings = identity::Settings::defaults(world.config(ServiceId::IDENTITY));
    identity_settings.kernel.tls = tls.clone();
    identity_settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    identity_settings.argon2.memory_kib = 1024;
    identity_settings.argon2.iterations = 1;
    identity_settings
        .keep_keys_in(&std::env::temp_dir().join(format!("lienlac-{}", world.namespace)));
    let identity_app = identity::Application::build(identity_settings)
        .await
        .unwrap();
    let identity_url = format!("https://127.0.0.1:{}", identity_app.grpc_addr().port());
    tokio::spawn(identity_app.run_until_stopped(stop.clone()));

    let mut attendance_config = world.config(ServiceId::ATTENDANCE);
    attendance_config.tls = tls.clone();
    attendance_config.identity_url = identity_url.clone();
    let attendance_app =
        attendance::Application::build(attendance::Settings::defaults(attendance_config))
            .await
            .unwrap();
    let attendance_url = format!("https://127.0.0.1:{}", attendance_app.grpc_addr().port());
    tokio::spawn(attendance_app.run_until_stopped(stop.clone()));

    let client_tls = TlsSettings {
        ca_file: tls.ca_file.clone(),
        ..TlsSettings::default()
    };
    let mut auth =
        AuthServiceClient::new(client_tls.endpoint(&identity_url).unwrap().connect_lazy());
    let token = auth
        .login(pb::LoginRequest {
            username: "admin".to_owned(),
            password: ADMIN_PASSWORD.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    // Attendance verifies the token with keys it fetched from identity over TLS.
    let mut attendance =
        AttendanceServiceClient::new(client_tls.endpoint(&attendance_url).unwrap().connect_lazy());
    let unknown_class = attendance
        .get_roll_call(with_token(
            att::GetRollCallRequest {
                class_id: kernel::testing::request_id(),
                date: "2026-11-30".to_owned(),
                session: att::Session::Morning as i32,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        unknown_class.code(),
        tonic::Code::NotFound,
        "{unknown_class:?}"
    );

    let plaintext_channel =
        tonic::transport::Endpoint::from_shared(identity_url.replace("https://", "http://"))
            .unwrap()
            .connect_lazy();
    let plaintext = AuthServiceClient::new(plaintext_channel)
        .login(pb::LoginRequest {
            username: "admin".to_owned(),
            password: ADMIN_PASSWORD.to_owned(),
        })
        .await;
    assert!(plaintext.is_err(), "no plaintext on a TLS port");
    stop.cancel();
}
