//! lienlac's own services get a token with their configured secret, and with it
//! read what sending a notice needs: a guardian's phone number and whether they
//! signed in, a student's name. No person's token reads contacts.

use identity::config::ServiceSecrets;
use kernel::testing::TestWorld;
use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;

const SECRET: &str = "messaging-secret-of-thirty-two-chars";

async fn service_token(
    app: &TestApp,
    service: &str,
    secret: &str,
) -> Result<String, tonic::Status> {
    Ok(app
        .auth(None)
        .issue_service_token(pb::IssueServiceTokenRequest {
            service: service.to_owned(),
            secret: secret.to_owned(),
        })
        .await?
        .into_inner()
        .access_token)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_with_its_secret_reads_contacts_and_names_and_no_person_reads_contacts() {
    let app = TestApp::spawn_in(TestWorld::new(), |settings| {
        settings.service_secrets =
            ServiceSecrets::parse("IDENTITY_SERVICE_SECRETS", &format!("messaging={SECRET}"))
                .unwrap();
    })
    .await;
    let fixture = Fixture::create(&app).await;
    let a = &fixture.a;

    for (service, secret) in [("messaging", "wrong"), ("sync", SECRET), ("", "")] {
        let refused = service_token(&app, service, secret).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{service}");
    }
    let token = service_token(&app, "messaging", SECRET).await.unwrap();

    let asked = vec![a.guardian_id.clone(), fixture.c.guardian_id.clone()];
    let contacts = app
        .directory(&token)
        .describe_contacts(pb::DescribeContactsRequest {
            person_ids: asked.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contacts;
    let of = |id: &str| contacts.iter().find(|c| c.person_id == id).unwrap();
    let signed_in = of(&a.guardian_id);
    assert!(signed_in.has_account, "school A's guardian signed in");
    assert!(signed_in.phone.starts_with("849") && signed_in.phone.len() == 11);
    assert!(!of(&fixture.c.guardian_id).has_account, "never signed in");

    for persona in Persona::ALL {
        let refused = app
            .directory(fixture.token(persona))
            .describe_contacts(pb::DescribeContactsRequest {
                person_ids: asked.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{persona:?}");
    }

    let students = app
        .directory(&token)
        .describe_students(pb::DescribeStudentsRequest {
            student_ids: vec![a.student_id.clone(), fixture.c.student_id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .students;
    assert_eq!(
        students.len(),
        2,
        "a service names students of every school"
    );
    assert!(
        students
            .iter()
            .all(|s| !s.full_name.is_empty() && s.phone.is_empty())
    );

    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data_access WHERE what = 'identity.DescribeContacts' \
         AND 'service' = ANY(roles)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(logged, 2, "each contact read is in the access log");
}
