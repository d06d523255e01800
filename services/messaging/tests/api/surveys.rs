//! Surveys: a permission slip per child to a class, a satisfaction survey to a
//! school, who answers for whom until the deadline, and the sender's results and
//! export.

use std::time::Duration;

use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::QuestionKind;
use lienlac_proto::messaging::v1::audience::Scope;
use tonic::Code;

use crate::helpers::Stack;

fn question(prompt: &str, kind: QuestionKind, options: &[&str], required: bool) -> pb::Question {
    pb::Question {
        prompt: prompt.into(),
        kind: kind as i32,
        options: options.iter().map(|o| o.to_string()).collect(),
        required,
    }
}

fn survey(scope: Scope, per_child: bool, questions: Vec<pb::Question>) -> pb::CreateSurveyRequest {
    pb::CreateSurveyRequest {
        request_id: request_id(),
        audience: Some(pb::Audience { scope: Some(scope) }),
        title: "Tham quan Thảo Cầm Viên".into(),
        description: "Thứ Sáu tuần sau, lớp đi tham quan.".into(),
        questions,
        deadline: String::new(),
        per_child,
    }
}

fn choose(question: i32, choice: i32) -> pb::AnswerValue {
    pb::AnswerValue {
        question,
        choices: vec![choice],
        ..Default::default()
    }
}

async fn answer(
    stack: &Stack,
    token: &str,
    survey: &str,
    student: &str,
    answers: Vec<pb::AnswerValue>,
) -> Result<pb::SurveyAnswer, tonic::Status> {
    stack
        .client()
        .answer_survey(with_token(
            pb::AnswerSurveyRequest {
                request_id: request_id(),
                survey_id: survey.to_owned(),
                student_id: student.to_owned(),
                answers,
            },
            token,
        ))
        .await
        .map(|a| a.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_slip_is_answered_once_per_child_and_the_teacher_sees_who_has_not() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let (_, second_guardian) = stack.guardian_of(&school.students[1]).await;
    let (_, other_class_guardian) = stack.guardian_of(&school.other_student).await;
    let slip = survey(
        Scope::ClassId(school.class_id.clone()),
        true,
        vec![
            question(
                "Đồng ý cho con tham gia?",
                QuestionKind::SingleChoice,
                &["Đồng ý", "Không"],
                true,
            ),
            question(
                "Ghi chú (dị ứng, thuốc)",
                QuestionKind::ShortText,
                &[],
                false,
            ),
        ],
    );
    let refused = client
        .create_survey(with_token(
            survey(
                Scope::SchoolId(school.school_id.clone()),
                true,
                slip.questions.clone(),
            ),
            &school.homeroom,
        ))
        .await;
    assert_eq!(
        refused.unwrap_err().code(),
        Code::PermissionDenied,
        "a teacher asks their class only"
    );
    let district = client
        .create_survey(with_token(
            survey(
                Scope::DistrictId(school.district_id.clone()),
                true,
                slip.questions.clone(),
            ),
            &school.district_admin,
        ))
        .await;
    assert_eq!(district.unwrap_err().code(), Code::InvalidArgument);
    let created = client
        .create_survey(with_token(slip, &school.homeroom))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.guardians, 2);

    let listed = client
        .list_surveys(with_token(
            pb::ListSurveysRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.surveys.len(), 1);
    assert_eq!(
        listed.surveys[0].student_ids,
        vec![school.students[0].clone()]
    );
    let none = client
        .list_surveys(with_token(
            pb::ListSurveysRequest::default(),
            &other_class_guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(none.surveys.is_empty());

    let id = created.id.clone();
    let child = school.students[0].clone();
    let cases: [(&str, &String, &str, Vec<pb::AnswerValue>, Code); 5] = [
        (
            "without the child",
            &school.guardian,
            "",
            vec![choose(0, 0)],
            Code::InvalidArgument,
        ),
        (
            "for another's child",
            &school.guardian,
            &school.students[1],
            vec![choose(0, 0)],
            Code::PermissionDenied,
        ),
        (
            "two options of one",
            &school.guardian,
            &child,
            vec![pb::AnswerValue {
                question: 0,
                choices: vec![0, 1],
                ..Default::default()
            }],
            Code::InvalidArgument,
        ),
        (
            "the required one missing",
            &school.guardian,
            &child,
            vec![],
            Code::InvalidArgument,
        ),
        (
            "not sent to them",
            &other_class_guardian,
            &school.other_student,
            vec![choose(0, 0)],
            Code::PermissionDenied,
        ),
    ];
    for (case, token, student, answers, code) in cases {
        let refused = answer(&stack, token, &id, student, answers).await;
        assert_eq!(refused.unwrap_err().code(), code, "{case}");
    }
    answer(&stack, &school.guardian, &id, &child, vec![choose(0, 1)])
        .await
        .unwrap();
    let changed = answer(
        &stack,
        &school.guardian,
        &id,
        &child,
        vec![
            choose(0, 0),
            pb::AnswerValue {
                question: 1,
                text: "Cháu dị ứng tôm".into(),
                ..Default::default()
            },
        ],
    )
    .await
    .unwrap();
    assert_eq!(changed.answers.len(), 2);

    let results = client
        .get_survey_results(with_token(
            pb::GetSurveyResultsRequest {
                survey_id: id.clone(),
            },
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    let class = &results.classes[0];
    assert_eq!(
        (class.class_name.as_str(), class.expected, class.answered),
        ("1A1", 2, 1)
    );
    let consent: Vec<(&str, i64)> = class.questions[0]
        .choices
        .iter()
        .map(|c| (c.option.as_str(), c.count))
        .collect();
    assert_eq!(
        consent,
        [("Đồng ý", 1), ("Không", 0)],
        "the changed answer counts, once"
    );
    assert_eq!(results.missing_ids, vec![school.students[1].clone()]);
    for (who, token, allowed) in [
        ("another class's teacher", &school.other_homeroom, false),
        ("a guardian", &second_guardian, false),
        ("the principal", &school.principal, true),
        ("the district's administrator", &school.district_admin, true),
    ] {
        let answer = client
            .get_survey_results(with_token(
                pb::GetSurveyResultsRequest {
                    survey_id: id.clone(),
                },
                token,
            ))
            .await;
        assert_eq!(answer.is_ok(), allowed, "{who}");
    }

    let export = client
        .export_survey_results(with_token(
            pb::GetSurveyResultsRequest {
                survey_id: id.clone(),
            },
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(export.file_name.ends_with(".xlsx"));
    assert!(export.xlsx.starts_with(b"PK"), "an XLSX is a zip");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_school_survey_is_answered_once_per_guardian_until_its_deadline() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let (_, other_class_guardian) = stack.guardian_of(&school.other_student).await;
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let mut request = survey(
        Scope::SchoolId(school.school_id.clone()),
        false,
        vec![question(
            "Bao nhiêu con ăn bán trú?",
            QuestionKind::Number,
            &[],
            true,
        )],
    );
    request.deadline = kernel::dates::rfc3339(deadline);
    let created = client
        .create_survey(with_token(request, &school.principal))
        .await
        .unwrap()
        .into_inner();
    let number = |n: f64| {
        vec![pb::AnswerValue {
            question: 0,
            number: n,
            ..Default::default()
        }]
    };
    for (token, n) in [(&school.guardian, 1.0), (&other_class_guardian, 2.0)] {
        answer(&stack, token, &created.id, "", number(n))
            .await
            .unwrap();
    }
    let results = client
        .get_survey_results(with_token(
            pb::GetSurveyResultsRequest {
                survey_id: created.id.clone(),
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    let sum: f64 = results.classes.iter().map(|c| c.questions[0].sum).sum();
    assert_eq!(sum, 3.0);
    assert!(results.missing_ids.is_empty());

    tokio::time::sleep(Duration::from_secs(4)).await;
    let late = answer(&stack, &school.guardian, &created.id, "", number(3.0)).await;
    assert_eq!(late.unwrap_err().code(), Code::FailedPrecondition);
}
