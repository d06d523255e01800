//! Mirroring a unit of the city database: with the source's faults on, a dry run
//! that changes nothing and reports every change, later changes of the source
//! followed, and a run killed halfway finished by another replica.

use std::time::Duration;

use citydb_sim::Faults;
use kernel::testing::eventually;
use lienlac_proto::sync::v1 as pb;

use crate::helpers::*;

/// Slow answers past the client's timeout, 500s, 429s with Retry-After, pages
/// served twice and reversed.
fn bad_morning() -> Faults {
    Faults {
        timeout_every: 7,
        error_every: 5,
        throttle_every: 11,
        duplicate_page_every: 4,
        reorder: true,
        slow_for_ms: 1_500,
        retry_after_secs: 1,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unit_is_mirrored_through_a_bad_morning_and_the_directory_then_holds_the_source() {
    let year = school_year();
    let stack = Stack::start(small_city(&year), bad_morning()).await;
    let run = stack.finished(&stack.run_of_unit(false).await).await;
    let city = stack.simulator.city();

    let district = stack.export_district(&run.district_id).await;
    assert_eq!(district.district.unwrap().external_ref, UNIT);
    let office: Vec<&str> = district
        .staff
        .iter()
        .map(|s| s.external_ref.as_str())
        .collect();
    assert_eq!(office, ["CB0000001"], "the commune's office");
    assert_eq!(district.schools.len(), 1);
    let export = stack.export_school(&district.schools[0].id).await;
    assert_eq!(held(&export), expected(&city, "79999001"));
    let codes: Vec<&str> = export
        .students
        .iter()
        .map(|s| s.external_ref.as_str())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = codes.iter().collect();
    assert_eq!(
        codes.len(),
        unique.len(),
        "the student listed twice is one student"
    );

    // What could not be mirrored, and why: a birth date that is no date, a
    // guardian who cannot be reached.
    let mut errors: Vec<(&str, &str)> = run
        .row_errors
        .iter()
        .map(|e| (e.column.as_str(), e.source.as_str()))
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            ("birth_date", "citydb students"),
            ("phone", "citydb guardians")
        ]
    );
    assert_eq!(run.planned, run.applied, "every planned change applied");
    assert!(run.planned["register_student"] > 50, "{:?}", run.planned);

    // Nothing changed upstream: a second run of the unit plans nothing, and is
    // the district's run.
    let again = stack.finished(&stack.run_of_unit(false).await).await;
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(again.district_id, run.district_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_reports_every_change_the_source_made_and_changes_nothing() {
    let year = school_year();
    let stack = Stack::start(small_city(&year), Faults::default()).await;
    let first = stack.finished(&stack.run_of_unit(true).await).await;
    assert!(first.dry_run);
    assert_eq!(first.planned["create_district"], 1);
    assert_eq!(first.planned["create_school"], 1);
    assert!(first.applied.is_empty());
    assert!(first.district_id.is_empty(), "a dry run made no district");

    let applied = stack.finished(&stack.run_of_unit(false).await).await;
    let district = stack.export_district(&applied.district_id).await;
    let school_id = district.schools[0].id.clone();
    let before = stack.export_school(&school_id).await;

    // The city's schools change things: a name corrected, a move to another class
    // from a past date, a student who left, a new student, a guardian's new phone.
    let city = stack.simulator.city();
    let studying: Vec<_> = city
        .students
        .iter()
        .filter(|s| s.class_code.ends_with("-1A1"))
        .collect();
    let (renamed, moved, left) = (
        studying[0].code.clone(),
        studying[1].code.clone(),
        studying[2].code.clone(),
    );
    let guardian = studying[3].guardians[0].guardian_code.clone();
    let (parted, parted_student) = studying[4..]
        .iter()
        .find(|s| s.guardians.len() == 2)
        .map(|s| (s.guardians[1].guardian_code.clone(), s.code.clone()))
        .unwrap();
    let since = (school::dates::local_today() - time::Duration::days(2)).to_string();
    let left_on = (school::dates::local_today() - time::Duration::days(1)).to_string();
    stack.simulator.edit(|city| {
        city.edit_student(&renamed, |s| s.full_name = format!("{} Ngọc", s.full_name));
        city.edit_student(&moved, |s| {
            s.class_code = "79999001-1A2".to_owned();
            s.class_since = since.clone();
        });
        city.edit_student(&left, |s| {
            s.status = "left".to_owned();
            s.left_on = left_on.clone();
        });
        let mut newcomer = city.students[0].clone();
        newcomer.code = "7999999999".to_owned();
        newcomer.full_name = "Đặng Thu Trang".to_owned();
        newcomer.guardians.truncate(1);
        city.add_student(newcomer);
        city.edit_guardian(&guardian, |g| g.phone = "0399888777".to_owned());
        city.edit_student(&parted_student, |s| s.guardians.truncate(1));
    });

    // In lienlac, a leader retypes a teacher's name and adds a club as a class.
    let teacher = before
        .staff
        .iter()
        .find(|s| !s.external_ref.is_empty())
        .unwrap()
        .clone();
    stack
        .directory()
        .update_person(with_token(
            lienlac_proto::identity::v1::UpdatePersonRequest {
                request_id: rid(),
                person_id: teacher.id.clone(),
                full_name: "Tên Gõ Nhầm".to_owned(),
                ..Default::default()
            },
            &stack.operator,
        ))
        .await
        .unwrap();
    stack
        .directory()
        .create_class(with_token(
            lienlac_proto::identity::v1::CreateClassRequest {
                request_id: rid(),
                school_id: school_id.clone(),
                name: "CLB".to_owned(),
                grade: 1,
                school_year: year.clone(),
                ..Default::default()
            },
            &stack.operator,
        ))
        .await
        .unwrap();
    let before = stack.export_school(&school_id).await;

    let dry = stack
        .finished(
            &stack
                .start_run(pb::StartSyncRunRequest {
                    request_id: rid(),
                    school_id: school_id.clone(),
                    mode: pb::SyncMode::Full as i32,
                    dry_run: true,
                    ..Default::default()
                })
                .await,
        )
        .await;
    let mut plan: Vec<(String, String)> = dry
        .changes
        .iter()
        .map(|c| (c.kind.clone(), c.external_ref.clone()))
        .collect();
    plan.sort();
    let mut wanted = vec![
        ("update_person".to_owned(), teacher.external_ref.clone()),
        ("update_person".to_owned(), renamed.clone()),
        ("transfer_student".to_owned(), moved.clone()),
        ("withdraw_student".to_owned(), left.clone()),
        ("register_student".to_owned(), "7999999999".to_owned()),
        (
            "link_guardian".to_owned(),
            city.students[0].guardians[0].guardian_code.clone(),
        ),
        ("update_person".to_owned(), guardian.clone()),
        ("unlink_guardian".to_owned(), parted.clone()),
    ];
    wanted.sort();
    assert_eq!(plan, wanted);
    let transfer = dry
        .changes
        .iter()
        .find(|c| c.kind == "transfer_student")
        .unwrap();
    assert!(
        transfer.detail.ends_with(&format!("from {since}")),
        "{}",
        transfer.detail
    );
    assert_eq!(
        stack.export_school(&school_id).await,
        before,
        "a dry run changes nothing"
    );

    let report = stack
        .sync()
        .get_drift_report(with_token(
            pb::GetDriftReportRequest {
                district_id: applied.district_id.clone(),
                school_id: school_id.clone(),
            },
            &stack.operator,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.run_id, dry.id);
    let mut drift: Vec<(String, String, String)> = report
        .drift
        .iter()
        .map(|d| (d.kind.clone(), d.entity.clone(), d.external_ref.clone()))
        .collect();
    drift.sort();
    let mut wanted_drift = vec![
        (
            "differs".to_owned(),
            "staff".to_owned(),
            teacher.external_ref.clone(),
        ),
        ("differs".to_owned(), "student".to_owned(), renamed.clone()),
        (
            "differs".to_owned(),
            "guardian".to_owned(),
            guardian.clone(),
        ),
        (
            "not_in_lienlac".to_owned(),
            "student".to_owned(),
            "7999999999".to_owned(),
        ),
        (
            "made_in_lienlac".to_owned(),
            "class".to_owned(),
            "CLB".to_owned(),
        ),
        (
            "not_in_source".to_owned(),
            "guardian".to_owned(),
            parted.clone(),
        ),
    ];
    wanted_drift.sort();
    assert_eq!(drift, wanted_drift);

    let csv = stack
        .sync()
        .export_sync_run(with_token(
            pb::ExportSyncRunRequest {
                run_id: dry.id.clone(),
                format: pb::ExportFormat::Csv as i32,
            },
            &stack.operator,
        ))
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8(csv.content).unwrap();
    assert_eq!(
        text.lines().count(),
        1 + dry.changes.len() + dry.row_errors.len(),
        "{text}"
    );
    assert!(
        text.contains(&format!("change,transfer_student,{moved}")),
        "{text}"
    );

    // Applied from the change feed: only the school that changed is read.
    let incremental = stack
        .finished(
            &stack
                .start_run(pb::StartSyncRunRequest {
                    request_id: rid(),
                    district_id: applied.district_id.clone(),
                    mode: pb::SyncMode::Incremental as i32,
                    ..Default::default()
                })
                .await,
        )
        .await;
    // The feed names the school (its students and guardian changed), so the
    // teacher's name is mended too.
    assert_eq!(incremental.planned, dry.planned);
    assert_eq!(incremental.applied, incremental.planned);
    let export = stack.export_school(&school_id).await;
    let mut mirrored = held(&export);
    // The club made in lienlac stays: the source is silent on it.
    assert!(mirrored.classes.remove(&(String::new(), "CLB".to_owned())));
    assert!(mirrored.homerooms.remove(&(String::new(), String::new())));
    assert_eq!(mirrored, expected(&stack.simulator.city(), "79999001"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_halfway_is_finished_by_the_next_replica_without_duplicates() {
    let year = school_year();
    let mut stack = Stack::start(small_city(&year), Faults::default()).await;
    let run = stack.run_of_unit(false).await;
    // Wait until part of the plan is applied, then stop the service mid-run.
    let applied_then = eventually(
        "part of the plan applied",
        Duration::from_secs(60),
        || async {
            let run = stack
                .sync()
                .get_sync_run(with_token(
                    pb::GetSyncRunRequest {
                        run_id: run.id.clone(),
                        limit: 10_000,
                    },
                    &stack.operator,
                ))
                .await
                .ok()?
                .into_inner();
            let applied = run.changes.iter().filter(|c| c.status == "applied").count();
            (applied > 20 && run.state == pb::SyncRunState::Running as i32).then_some(applied)
        },
    )
    .await;
    stack.restart_sync().await;
    let finished = stack.finished(&run).await;
    let applied_in_all: i64 = finished.applied.values().sum();
    assert!(
        applied_in_all as usize > applied_then + 20,
        "stopped halfway: {applied_then} of {applied_in_all}"
    );
    let district = stack.export_district(&finished.district_id).await;
    let export = stack.export_school(&district.schools[0].id).await;
    assert_eq!(held(&export), expected(&stack.simulator.city(), "79999001"));
    let codes: Vec<&str> = export
        .students
        .iter()
        .map(|s| s.external_ref.as_str())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = codes.iter().collect();
    assert_eq!(codes.len(), unique.len());
    // Nothing was asked twice of identity in a way it refused (a second
    // registration of a student, a guardian linked twice).
    let refused: Vec<_> = finished
        .changes
        .iter()
        .filter(|c| c.status != "applied")
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirrored_district_is_kept_by_scheduled_incremental_runs() {
    let year = school_year();
    let schedule = sync::Schedule {
        incremental_every: Some(Duration::from_secs(1)),
        nightly_at: None,
    };
    let stack = Stack::start_with(small_city(&year), Faults::default(), schedule).await;
    let first = stack.finished(&stack.run_of_unit(false).await).await;
    let city = stack.simulator.city();
    let renamed = city.students[0].code.clone();
    stack
        .simulator
        .edit(|city| city.edit_student(&renamed, |s| s.full_name = "Lê Thị Đổi Tên".to_owned()));
    let scheduled = eventually(
        "a scheduled run mends the name",
        Duration::from_secs(90),
        || async {
            let runs = stack
                .sync()
                .list_sync_runs(with_token(
                    pb::ListSyncRunsRequest {
                        district_id: first.district_id.clone(),
                        school_id: String::new(),
                        limit: 20,
                    },
                    &stack.operator,
                ))
                .await
                .ok()?
                .into_inner()
                .runs;
            runs.into_iter().find(|run| {
                run.started_by.is_empty() && run.applied.get("update_person") == Some(&1)
            })
        },
    )
    .await;
    assert_eq!(scheduled.mode, pb::SyncMode::Incremental as i32);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_of_children_in_two_schools_is_one_guardian_linked_to_both() {
    let year = school_year();
    let mut city = small_city(&year);
    let parent = city.students[0].guardians[0].clone();
    city.schools.push(citydb_sim::model::School {
        code: "79999002".to_owned(),
        name: "Trường Tiểu học Thử Nghiệm Hai".to_owned(),
        unit_code: UNIT.to_owned(),
        version: 1,
    });
    let mut teacher = city
        .staff
        .iter()
        .find(|s| !s.school_code.is_empty())
        .unwrap()
        .clone();
    teacher.code = "GV9000001".to_owned();
    teacher.school_code = "79999002".to_owned();
    teacher.phone = "0399000001".to_owned();
    city.staff.push(teacher);
    let mut class = city.classes[0].clone();
    class.code = "79999002-1A1".to_owned();
    class.school_code = "79999002".to_owned();
    class.homeroom_teacher_code = "GV9000001".to_owned();
    city.classes.push(class);
    let mut sibling = city.students[0].clone();
    sibling.code = "7900900001".to_owned();
    sibling.full_name = "Võ Minh Khang".to_owned();
    sibling.school_code = "79999002".to_owned();
    sibling.class_code = "79999002-1A1".to_owned();
    sibling.guardians = vec![parent.clone()];
    city.students.push(sibling);

    let stack = Stack::start(city, Faults::default()).await;
    let run = stack.finished(&stack.run_of_unit(false).await).await;
    let refused: Vec<_> = run
        .changes
        .iter()
        .filter(|c| c.status != "applied")
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let district = stack.export_district(&run.district_id).await;
    let mut guardian_ids = Vec::new();
    for school in &district.schools {
        let export = stack.export_school(&school.id).await;
        let guardian = export
            .guardians
            .iter()
            .find(|g| g.external_ref == parent.guardian_code)
            .expect("the parent among each school's guardians");
        guardian_ids.push(guardian.id.clone());
    }
    assert_eq!(guardian_ids.len(), 2);
    assert_eq!(guardian_ids[0], guardian_ids[1], "one guardian");
}
