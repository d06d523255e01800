//! The platform operator created at first start: its password follows the policy,
//! and the development password does not outlive development.

use identity::{Application, Settings};
use kernel::config::ServiceId;
use kernel::testing::TestWorld;
use secrecy::SecretString;
use tonic::Code;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_password_that_fails_the_policy_stops_the_start() {
    let world = TestWorld::new();
    for weak in ["admin", "password123", "01011990", "short"] {
        let mut settings = Settings::defaults(world.config(ServiceId::IDENTITY));
        settings.keep_keys_in(&key_file(&world.namespace, ""));
        settings.admin_password = Some(SecretString::from(weak));
        let error = Application::build(settings).await.err().expect(weak);
        assert!(
            error.to_string().starts_with("LIENLAC_ADMIN_PASSWORD"),
            "{weak}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_tried_in_development_does_not_keep_the_development_password() {
    let development = TestApp::spawn_in(TestWorld::new(), |settings| {
        settings.admin_password = None;
        settings.development = true;
    })
    .await;
    let dev_session = development
        .login("admin", identity::config::DEVELOPMENT_ADMIN_PASSWORD)
        .await
        .unwrap();
    let world = development.stop().await;

    let production = TestApp::spawn_in(world, |_| {}).await;
    let refused = production
        .login("admin", identity::config::DEVELOPMENT_ADMIN_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    production.login("admin", ADMIN_PASSWORD).await.unwrap();
    let ended = production
        .auth(None)
        .refresh(lienlac_proto::identity::v1::RefreshRequest {
            refresh_token: dev_session.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(
        ended.code(),
        Code::Unauthenticated,
        "the development sign-in ended"
    );
}
