//! A district's roster from a OneRoster 1.1 CSV zip: a bulk package mirrored
//! whole, its faulty rows reported by file, line and column, a package that breaks
//! the format refused saying how, and a delta applied as changes only.

use std::io::Write as _;

use citydb_sim::Faults;
use lienlac_proto::sync::v1 as pb;

use crate::helpers::*;

const DISTRICT: &str = "org-xa-tan-an";
const SCHOOL: &str = "org-th-tan-an";

const MANIFEST_BULK: &str = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n\
file.academicSessions,bulk\nfile.categories,absent\nfile.classes,bulk\nfile.classResources,absent\n\
file.courses,bulk\nfile.courseResources,absent\nfile.demographics,bulk\nfile.enrollments,bulk\n\
file.lineItems,absent\nfile.orgs,bulk\nfile.resources,absent\nfile.results,absent\nfile.users,bulk\n";

fn orgs() -> String {
    format!(
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n\
         {DISTRICT},,,Xã Tân An,district,,\n\
         {SCHOOL},,,Trường Tiểu học Tân An,school,79000999,{DISTRICT}\n"
    )
}

fn sessions(year_end: i32) -> String {
    format!(
        "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n\
         sy,,,Năm học {},schoolYear,{}-08-01,{year_end}-05-31,,{year_end}\n",
        year_end - 1,
        year_end - 1
    )
}

const COURSES: &str = "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n\
course-1,,,sy,Lớp 1,,01,org-th-tan-an,,\n\
course-tv,,,sy,Tiếng Việt 1,,01,org-th-tan-an,,\n";

const CLASSES: &str = "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n\
class-1a1,,,1A1,01,course-1,,homeroom,,org-th-tan-an,sy,,,\n\
class-1a2,,,1A2,01,course-1,,homeroom,,org-th-tan-an,sy,,,\n\
class-tv,,,Tiếng Việt 1A1,01,course-tv,,scheduled,,org-th-tan-an,sy,,,\n";

/// Two teachers, four students (one without a family name), two parents; the
/// first parent names their child, the second child names their parent.
const USERS: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n\
t1,,,true,org-th-tan-an,teacher,t1,,Lan,Nguyễn,Thị,,,,0912000001,,,\n\
t2,,,true,org-th-tan-an,teacher,t2,,Hùng,Trần,Văn,,,,0912000002,,,\n\
s1,,,true,org-th-tan-an,student,s1,,An,Lê,Minh,,,,,,01,\n\
s2,,,true,org-th-tan-an,student,s2,,Bình,Phạm,Gia,,,,,p2,01,\n\
s3,,,true,org-th-tan-an,student,s3,,Chi,Võ,Ngọc,,,,,,01,\n\
s4,,,true,org-th-tan-an,student,s4,,Dũng,,Văn,,,,,,01,\n\
p1,,,true,org-th-tan-an,parent,p1,,Mai,Lê,Thị,,,0903000001,,s1,,\n\
p2,,,true,org-th-tan-an,guardian,p2,,Tâm,Phạm,Văn,,,,0903000002,,,\n\
admin,,,true,org-xa-tan-an,administrator,admin,,Hòa,Đỗ,Văn,,,,0912000009,,,\n";

const ENROLLMENTS: &str = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
e1,,,class-1a1,org-th-tan-an,t1,teacher,true,,\n\
e2,,,class-1a2,org-th-tan-an,t2,teacher,true,,\n\
e3,,,class-1a1,org-th-tan-an,s1,student,false,,\n\
e4,,,class-1a1,org-th-tan-an,s2,student,false,,\n\
e5,,,class-1a2,org-th-tan-an,s3,student,false,,\n\
e6,,,class-tv,org-th-tan-an,s3,student,false,,\n";

const DEMOGRAPHICS: &str = "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n\
s1,,,2020-03-04,male,,,,,,,,,,,\n\
s2,,,2020-05-06,male,,,,,,,,,,,\n\
s3,,,2020-07-08,female,,,,,,,,,,,\n\
s4,,,2020-09-10,male,,,,,,,,,,,\n";

fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        // A spreadsheet's UTF-8 byte order mark, which a reader must accept.
        writer.write_all(b"\xEF\xBB\xBF").unwrap();
        writer.write_all(content.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn bulk(users: &str) -> Vec<u8> {
    let year_end: i32 = school_year()[5..].parse().unwrap();
    zip(&[
        ("manifest.csv", MANIFEST_BULK),
        ("orgs.csv", &orgs()),
        ("academicSessions.csv", &sessions(year_end)),
        ("courses.csv", COURSES),
        ("classes.csv", CLASSES),
        ("users.csv", users),
        ("enrollments.csv", ENROLLMENTS),
        ("demographics.csv", DEMOGRAPHICS),
    ])
}

async fn run_file(
    stack: &Stack,
    file: &str,
    bytes: Vec<u8>,
    district_id: Option<&str>,
) -> pb::SyncRun {
    std::fs::write(drop_dir(&stack.world).join(file), bytes).unwrap();
    let request = pb::StartSyncRunRequest {
        request_id: rid(),
        district_id: district_id.unwrap_or_default().to_owned(),
        unit_code: if district_id.is_some() {
            String::new()
        } else {
            DISTRICT.to_owned()
        },
        mode: pb::SyncMode::Full as i32,
        source_file: file.to_owned(),
        ..Default::default()
    };
    let started = stack.start_run(request).await;
    assert_eq!(started.source, format!("file:{file}"));
    stack.finished(&started).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_package_is_mirrored_whole_and_its_faulty_rows_are_reported_by_file_line_and_column()
{
    let stack = Stack::start(small_city(&school_year()), Faults::default()).await;
    let run = run_file(&stack, "roster.zip", bulk(USERS), None).await;

    let errors: Vec<(&str, i32, &str, &str)> = run
        .row_errors
        .iter()
        .map(|e| {
            (
                e.source.as_str(),
                e.line,
                e.column.as_str(),
                e.external_ref.as_str(),
            )
        })
        .collect();
    assert_eq!(errors, [("users.csv", 7, "familyName", "s4")]);

    let district = stack.export_district(&run.district_id).await;
    assert_eq!(district.district.unwrap().name, "Xã Tân An");
    let office: Vec<&str> = district
        .staff
        .iter()
        .map(|s| s.external_ref.as_str())
        .collect();
    assert_eq!(office, ["admin"]);
    let export = stack.export_school(&district.schools[0].id).await;
    let held = held(&export);
    let classes: Vec<&str> = held.classes.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(
        classes,
        ["class-1a1", "class-1a2"],
        "the scheduled class is not lienlac's"
    );
    let students: Vec<(&str, &str, &str)> = held
        .students
        .iter()
        .map(|(code, name, class)| (code.as_str(), name.as_str(), class.as_str()))
        .collect();
    assert_eq!(
        students,
        [
            ("s1", "Lê Minh An", "class-1a1"),
            ("s2", "Phạm Gia Bình", "class-1a1"),
            ("s3", "Võ Ngọc Chi", "class-1a2"),
        ]
    );
    let links: Vec<(&str, &str)> = held
        .links
        .iter()
        .map(|(s, g)| (s.as_str(), g.as_str()))
        .collect();
    assert_eq!(links, [("s1", "p1"), ("s2", "p2")], "from either side");
    let homerooms: Vec<(&str, &str)> = held
        .homerooms
        .iter()
        .map(|(c, t)| (c.as_str(), t.as_str()))
        .collect();
    assert_eq!(homerooms, [("class-1a1", "t1"), ("class-1a2", "t2")]);
    let s3 = export
        .students
        .iter()
        .find(|s| s.external_ref == "s3")
        .unwrap();
    assert_eq!(s3.birth_date, "2020-07-08");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_that_breaks_the_format_is_refused_saying_how() {
    let stack = Stack::start(small_city(&school_year()), Faults::default()).await;
    let reordered = USERS.replacen("givenName,familyName", "familyName,givenName", 1);
    std::fs::write(drop_dir(&stack.world).join("bad.zip"), bulk(&reordered)).unwrap();
    let started = stack
        .start_run(pb::StartSyncRunRequest {
            request_id: rid(),
            unit_code: DISTRICT.to_owned(),
            mode: pb::SyncMode::Full as i32,
            source_file: "bad.zip".to_owned(),
            ..Default::default()
        })
        .await;
    let failed = kernel::testing::eventually(
        "the run fails",
        std::time::Duration::from_secs(30),
        || async {
            let run = stack
                .sync()
                .get_sync_run(with_token(
                    pb::GetSyncRunRequest {
                        run_id: started.id.clone(),
                        limit: 10,
                    },
                    &stack.operator,
                ))
                .await
                .ok()?
                .into_inner();
            (run.state == pb::SyncRunState::Failed as i32).then_some(run)
        },
    )
    .await;
    assert!(
        failed.failure.contains("users.csv: the header must begin"),
        "{}",
        failed.failure
    );

    let missing = stack
        .sync()
        .start_sync_run(with_token(
            pb::StartSyncRunRequest {
                request_id: rid(),
                unit_code: DISTRICT.to_owned(),
                mode: pb::SyncMode::Full as i32,
                source_file: "nowhere.zip".to_owned(),
                ..Default::default()
            },
            &stack.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::FailedPrecondition);
    let escaping = stack
        .sync()
        .start_sync_run(with_token(
            pb::StartSyncRunRequest {
                request_id: rid(),
                unit_code: DISTRICT.to_owned(),
                mode: pb::SyncMode::Full as i32,
                source_file: "../identity/signing-key.pem".to_owned(),
                ..Default::default()
            },
            &stack.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(escaping.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delta_package_changes_what_it_lists_and_nothing_else() {
    let stack = Stack::start(small_city(&school_year()), Faults::default()).await;
    let first = run_file(&stack, "roster.zip", bulk(USERS), None).await;
    let manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n\
        file.academicSessions,absent\nfile.classes,absent\nfile.courses,absent\n\
        file.demographics,delta\nfile.enrollments,delta\nfile.orgs,absent\nfile.users,delta\n";
    let at = "2026-11-20T08:00:00.000Z";
    let users = format!(
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n\
         s1,tobedeleted,{at},true,{SCHOOL},student,s1,,An,Lê,Minh,,,,,,01,\n\
         s5,active,{at},true,{SCHOOL},student,s5,,Em,Đặng,Thu,,,,,,01,\n"
    );
    let enrollments = format!(
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
         e7,active,{at},class-1a2,{SCHOOL},s5,student,false,,\n"
    );
    let demographics = format!(
        "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n\
         s5,active,{at},2020-01-02,female,,,,,,,,,,,\n"
    );
    let delta = zip(&[
        ("manifest.csv", manifest),
        ("users.csv", &users),
        ("enrollments.csv", &enrollments),
        ("demographics.csv", &demographics),
    ]);
    // A delta names no district org: the run is the district's.
    let run = run_file(&stack, "delta.zip", delta, Some(&first.district_id)).await;
    let mut planned: Vec<(&str, &str)> = run
        .changes
        .iter()
        .map(|c| (c.kind.as_str(), c.external_ref.as_str()))
        .collect();
    planned.sort();
    assert_eq!(
        planned,
        [("register_student", "s5"), ("withdraw_student", "s1")]
    );
    let district = stack.export_district(&first.district_id).await;
    let export = stack.export_school(&district.schools[0].id).await;
    let held = held(&export);
    let studying: Vec<&str> = held
        .students
        .iter()
        .map(|(code, ..)| code.as_str())
        .collect();
    assert_eq!(
        studying,
        ["s2", "s3", "s5"],
        "s2 and s3, absent from the delta, stay"
    );
}
