//! How people appear in conversations: each persona sees the staff and guardians
//! of their own schools only, a guardian as the parent of their child unless they
//! chose a name, and never a phone number in a chosen name.

use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_persona_sees_the_display_names_of_their_schools_people_only() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let (a, b, c) = (&fixture.a, &fixture.b, &fixture.c);
    let asked = vec![
        a.guardian_id.clone(),
        a.staff_id.clone(),
        b.guardian_id.clone(),
        c.staff_id.clone(),
    ];
    let described = |persona: Persona| {
        let mut directory = app.directory(fixture.token(persona));
        let asked = asked.clone();
        async move {
            let mut members = directory
                .describe_members(pb::DescribeMembersRequest { person_ids: asked })
                .await
                .unwrap()
                .into_inner()
                .members;
            members.sort_by_key(|m| m.display_name.clone());
            members
                .into_iter()
                .map(|m| m.display_name)
                .collect::<Vec<_>>()
        }
    };
    let own_school = vec!["Lê Thị Dung".to_owned(), "Phụ huynh em Ánh".to_owned()];
    let district = vec![
        "Lê Thị Dung".to_owned(),
        "Phụ huynh em Ánh".to_owned(),
        "Phụ huynh em Ánh".to_owned(),
    ];
    use Persona::*;
    let table = [
        (Guardian, own_school.clone()),
        (HomeroomTeacher, own_school.clone()),
        (Teacher, own_school.clone()),
        (Principal, own_school.clone()),
        (DistrictAdmin, district.clone()),
        (DistrictViewer, district),
        (Operator, vec![]),
    ];
    for (persona, expected) in table {
        assert_eq!(described(persona).await, expected, "{persona:?}");
    }

    // The guardian chooses a name; a phone number in it is refused.
    let mut guardian = app.directory(fixture.token(Guardian));
    let refused = guardian
        .set_display_name(pb::SetDisplayNameRequest {
            request_id: rid(),
            display_name: "Bố Ánh 0903 123 456".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let chosen = guardian
        .set_display_name(pb::SetDisplayNameRequest {
            request_id: rid(),
            display_name: " Bố bé Ánh ".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(chosen.display_name, "Bố bé Ánh");
    assert_eq!(
        described(Principal).await,
        vec!["Bố bé Ánh".to_owned(), "Lê Thị Dung".to_owned()]
    );
    let staff = app
        .directory(fixture.token(Teacher))
        .set_display_name(pb::SetDisplayNameRequest {
            request_id: rid(),
            display_name: "Cô Dung".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(staff.code(), Code::FailedPrecondition, "{staff:?}");

    // Back to the default.
    guardian
        .set_display_name(pb::SetDisplayNameRequest {
            request_id: rid(),
            display_name: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(described(Principal).await, own_school);
}
