//! Access tokens verified the way every other service verifies them: the kernel's
//! verifier with identity's JWKS fetched over gRPC.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::auth::{IdentityJwks, Role, TokenVerifier, VerifyError};
use lienlac_proto::identity::v1 as pb;

use crate::helpers::*;

fn verifier(app: &TestApp) -> TokenVerifier {
    TokenVerifier::new(Arc::new(
        IdentityJwks::new(&format!("http://{}", app.addr), &Default::default()).unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn another_service_verifies_a_token_and_sees_the_callers_roles() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let caller = verifier(&app).verify(&admin).await.unwrap();
    assert!(caller.person_id.is_none());
    assert_eq!(caller.bindings.len(), 1);
    assert_eq!(caller.bindings[0].role, Role::Operator);

    let jwks = app
        .auth(None)
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    let set: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(set["keys"][0]["kty"], "OKP");
    assert_eq!(set["keys"][0]["crv"], "Ed25519");
    assert_eq!(set["keys"][0]["alg"], "EdDSA");
}

/// Rewrites a token's header or claims without re-signing it.
fn tamper(token: &str, part: usize, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[part]).unwrap()).unwrap();
    change(&mut json);
    parts[part] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap());
    parts.join(".")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_token_does_not_vouch_for_another_with_the_same_signature() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let verifier = verifier(&app);
    verifier.verify(&admin).await.unwrap();
    let other_account = tamper(&admin, 1, |claims| claims["sub"] = serde_json::json!(rid()));
    assert_eq!(
        admin.rsplit('.').next(),
        other_account.rsplit('.').next(),
        "the same signature segment"
    );
    assert!(matches!(
        verifier.verify(&other_account).await,
        Err(VerifyError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_expired_and_unsigned_tokens_are_rejected() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let verifier = verifier(&app);

    let escalated = tamper(&admin, 1, |claims| claims["sub"] = serde_json::json!(rid()));
    assert!(matches!(
        verifier.verify(&escalated).await,
        Err(VerifyError::Invalid(_))
    ));

    let unsigned = tamper(&admin, 0, |header| {
        header["alg"] = serde_json::json!("none")
    });
    let unsigned = format!("{}.", unsigned.rsplit_once('.').unwrap().0);
    assert!(verifier.verify(&unsigned).await.is_err());

    let unknown_key = tamper(&admin, 0, |header| {
        header["kid"] = serde_json::json!("not-a-key")
    });
    assert!(matches!(
        verifier.verify(&unknown_key).await,
        Err(VerifyError::UnknownKey)
    ));

    assert!(matches!(
        verifier.verify("not.a.token").await,
        Err(VerifyError::Malformed)
    ));

    let expiring = TestApp::spawn_in(kernel::testing::TestWorld::new(), |settings| {
        settings.access_token_ttl = std::time::Duration::from_secs(1);
    })
    .await;
    let short = expiring.admin_token().await;
    let short_verifier = super::tokens::verifier(&expiring);
    short_verifier.verify(&short).await.unwrap();
    // Past the expiry and the verifier's 5 s of tolerated clock skew.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    assert!(matches!(
        short_verifier.verify(&short).await,
        Err(VerifyError::Expired)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_key_rotation_old_and_new_tokens_both_verify() {
    let app = TestApp::spawn().await;
    let old_token = app.admin_token().await;
    let world = app.stop().await;
    let rotated_key = key_file(&world.namespace, "rotated-key.pem");
    let app = TestApp::spawn_in(world, |settings| settings.signing_key_file = rotated_key).await;
    let new_token = app.admin_token().await;
    let verifier = verifier(&app);
    verifier.verify(&new_token).await.unwrap();
    verifier.verify(&old_token).await.unwrap();
    let jwks = app
        .auth(None)
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    let set: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(set["keys"].as_array().unwrap().len(), 2);
}
