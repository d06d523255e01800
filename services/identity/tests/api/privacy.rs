//! Least privilege in the directory's reads: a student's birth date and a
//! guardian's phone number go only to those who need them (src/personal_details.rs),
//! whichever read asks; a search needs two characters; a guardian's record shown to
//! a school lists that school's children only.

use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;

/// What a read answered: denied, or whether the details came with it.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    Denied,
    Seen,
    Withheld,
}
use Read::{Denied, Seen, Withheld};

fn read(answer: Result<bool, tonic::Status>) -> Read {
    match answer {
        Ok(true) => Seen,
        Ok(false) => Withheld,
        Err(status) if status.code() == Code::PermissionDenied => Denied,
        Err(status) => panic!("unexpected answer {status:?}"),
    }
}

fn details(person: &pb::Person) -> bool {
    match pb::PersonKind::try_from(person.kind) {
        Ok(pb::PersonKind::Student) => !person.birth_date.is_empty(),
        _ => !person.phone.is_empty(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn birth_dates_and_phone_numbers_reach_only_those_who_need_them() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let a = &fixture.a;
    use Persona::*;
    // ListStudents of the first class (its student and her guardian), GetPerson of
    // that student and of her guardian, SearchPeople in her school.
    let table = [
        (Operator, Seen, Seen, Seen, Seen),
        (DistrictAdmin, Seen, Seen, Seen, Seen),
        (DistrictViewer, Withheld, Withheld, Withheld, Withheld),
        (Principal, Seen, Seen, Seen, Seen),
        (VicePrincipal, Seen, Seen, Seen, Seen),
        (ItOfficer, Seen, Seen, Seen, Seen),
        (Teacher, Withheld, Withheld, Withheld, Withheld),
        (Staff, Withheld, Withheld, Withheld, Withheld),
        (HomeroomTeacher, Seen, Seen, Seen, Withheld),
        (Guardian, Denied, Seen, Seen, Denied),
    ];
    for (persona, listed, student, guardian, searched) in table {
        let mut directory = app.directory(fixture.token(persona));
        let list = directory
            .list_students(pb::ListStudentsRequest {
                class_id: a.class_id.clone(),
            })
            .await
            .map(|answer| {
                let answer = answer.into_inner();
                let (students, guardians) = (&answer.students, &answer.guardians);
                assert!(!students.is_empty() && !guardians.is_empty());
                let seen = students.iter().chain(guardians).all(details);
                assert_eq!(
                    seen,
                    students.iter().chain(guardians).any(details),
                    "{persona:?}: all or none"
                );
                seen
            });
        assert_eq!(read(list), listed, "{persona:?} ListStudents");
        for (person_id, expected, what) in [
            (&a.student_id, &student, "student"),
            (&a.guardian_id, &guardian, "guardian"),
        ] {
            let got = directory
                .get_person(pb::GetPersonRequest {
                    person_id: person_id.clone(),
                })
                .await
                .map(|person| details(&person.into_inner()));
            assert_eq!(&read(got), expected, "{persona:?} GetPerson of the {what}");
        }
        // DescribeStudents, as reporting asks it with the reader's token: the same
        // answer as GetPerson for the student; a student of another school only to
        // the district office.
        let described = directory
            .describe_students(pb::DescribeStudentsRequest {
                student_ids: vec![a.student_id.clone(), fixture.b.student_id.clone()],
            })
            .await
            .unwrap()
            .into_inner()
            .students;
        let of = |id: &str| described.iter().find(|s| s.id == id);
        let described_a = of(&a.student_id).map_or(Denied, |s| read(Ok(details(s))));
        assert_eq!(described_a, student, "{persona:?} DescribeStudents");
        assert_eq!(
            of(&fixture.b.student_id).is_some(),
            matches!(persona, Operator | DistrictAdmin | DistrictViewer),
            "{persona:?} DescribeStudents of another school's student"
        );
        let found = directory
            .search_people(pb::SearchPeopleRequest {
                school_id: a.school_id.clone(),
                query: "nguyễn".into(),
                limit: 0,
            })
            .await
            .map(|answer| {
                let people = answer.into_inner().people;
                assert!(
                    people.iter().any(|p| p.id == a.student_id)
                        && people.iter().any(|p| p.id == a.guardian_id)
                );
                people
                    .iter()
                    .filter(|p| p.id == a.student_id || p.id == a.guardian_id)
                    .all(details)
            });
        assert_eq!(read(found), searched, "{persona:?} SearchPeople");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_needs_two_characters_and_a_guardian_shown_to_a_school_has_only_its_children() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let (a, b) = (&fixture.a, &fixture.b);
    let mut principal = app.directory(fixture.token(Persona::Principal));
    for query in ["", " n ", "a"] {
        let refused = principal
            .search_people(pb::SearchPeopleRequest {
                school_id: a.school_id.clone(),
                query: query.into(),
                limit: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["query"], "{query:?}");
    }

    // The guardian has a child in each school of the district.
    let mut admin = app.directory(fixture.token(Persona::Operator));
    link(&mut admin, &a.guardian_id, &b.student_id).await;
    let children = |person: pb::Person| {
        let mut children: Vec<String> = person
            .guardianships
            .into_iter()
            .map(|g| g.student_id)
            .collect();
        children.sort();
        children
    };
    let mut both = vec![a.student_id.clone(), b.student_id.clone()];
    both.sort();
    let request = || pb::GetPersonRequest {
        person_id: a.guardian_id.clone(),
    };
    let shown_to_school = principal.get_person(request()).await.unwrap().into_inner();
    assert_eq!(children(shown_to_school), vec![a.student_id.clone()]);
    let shown_to_district = app
        .directory(fixture.token(Persona::DistrictAdmin))
        .get_person(request())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(children(shown_to_district), both);
    let shown_to_herself = app
        .directory(fixture.token(Persona::Guardian))
        .get_person(request())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(children(shown_to_herself), both);
}
