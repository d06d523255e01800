//! Applying a plan through identity's API with the mirror's own token. Each
//! change carries its request id (plan/mod.rs), so identity answers a change it
//! already made with its first answer; a class's new students are registered and
//! enrolled together (`ImportClassRoster`, all or none). A change identity
//! refuses is recorded with the reason and the run goes on; an identity that
//! does not answer is tried again, then fails the run.

use std::collections::HashMap;
use std::time::Duration;

use lienlac_proto::identity::v1 as id;
use school::peers::{self, Reader};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use uuid::Uuid;

use crate::Ctx;
use crate::execute::Stopped;
use crate::plan::{Action, Change};
use crate::runs::{self, RunRow};

/// The most new students and guardians one roster import carries (identity's
/// caps).
const ROSTER_STUDENTS: usize = 100;
const ROSTER_GUARDIANS: usize = 200;
/// Tries of one change while identity does not answer.
const ATTEMPTS: u32 = 5;

pub(crate) struct Applier<'a> {
    ctx: &'a Ctx,
    reader: &'a Reader,
    run: &'a RunRow,
    pub(crate) district: Option<Uuid>,
}

/// A call's answer as an outcome: a made record's id (none for a change that
/// makes nothing), or the refusal.
fn done(answer: Result<String, String>) -> Outcome {
    match answer {
        Ok(made) => Outcome::Done(Some(made).filter(|m| !m.is_empty())),
        Err(reason) => Outcome::Refused(reason),
    }
}

/// What became of one change.
enum Outcome {
    /// Made (or made before: the same request id); the new record's id, if any.
    Done(Option<String>),
    Refused(String),
}

impl<'a> Applier<'a> {
    pub(crate) fn new(ctx: &'a Ctx, reader: &'a Reader, run: &'a RunRow) -> Self {
        Self {
            ctx,
            reader,
            run,
            district: run.district_id,
        }
    }

    pub(crate) async fn create_district(
        &mut self,
        change: &Change,
        seq: i32,
    ) -> anyhow::Result<Uuid> {
        let Action::CreateDistrict { name } = &change.action else {
            anyhow::bail!("not a district");
        };
        let request = id::CreateDistrictRequest {
            request_id: change.request_id("").to_string(),
            name: name.clone(),
            external_ref: change.external_ref.clone(),
        };
        let made = self
            .call(
                |mut c, r| async move { c.create_district(r).await.map(|r| r.into_inner().id) },
                request,
            )
            .await?;
        match made {
            Ok(id) => {
                runs::mark(
                    &mut *self.ctx.pool.acquire().await?,
                    self.run.id,
                    &[seq],
                    None,
                )
                .await?;
                Ok(id.parse()?)
            }
            Err(reason) => anyhow::bail!("identity refused the district: {reason}"),
        }
    }

    /// Applies a school's (or, `school_code` empty, the district office's) changes
    /// in order; `known` holds the ids of what the directory has, by kind and code.
    pub(crate) async fn apply(
        &mut self,
        school_code: &str,
        mut school_id: Option<String>,
        changes: &[Change],
        seqs: &[i32],
        mut known: HashMap<String, String>,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut n = 0;
        while n < changes.len() {
            if stop.is_cancelled() {
                return Err(Stopped.into());
            }
            let change = &changes[n];
            // A class's new students go together, with their guardians.
            if matches!(change.action, Action::RegisterStudent { .. }) {
                let roster = Roster::from(&changes[n..], &known);
                let taken = roster.changes;
                let outcome = self.import_roster(school_code, &roster, &known).await?;
                let batch = &seqs[n..n + taken];
                let mut conn = self.ctx.pool.acquire().await?;
                match outcome {
                    Ok(made) => {
                        known.extend(made);
                        runs::mark(&mut conn, self.run.id, batch, None).await?;
                    }
                    Err(reason) => runs::mark(&mut conn, self.run.id, batch, Some(&reason)).await?,
                }
                runs::renew(self.ctx, self.run.id).await?;
                n += taken;
                continue;
            }
            let outcome = self
                .one(school_code, school_id.as_deref(), change, &known)
                .await?;
            let refusal = match outcome {
                Outcome::Done(made) => {
                    if let Some(made) = made {
                        let key = match change.action {
                            Action::CreateSchool { .. } => {
                                school_id = Some(made.clone());
                                "school"
                            }
                            Action::CreateClass { .. } => "class",
                            Action::RegisterStaff { .. } => "staff",
                            Action::RegisterGuardian { .. } => "guardian",
                            _ => "other",
                        };
                        known.insert(format!("{key}:{}", change.external_ref), made);
                    }
                    None
                }
                Outcome::Refused(reason) => Some(reason),
            };
            runs::mark(
                &mut *self.ctx.pool.acquire().await?,
                self.run.id,
                &seqs[n..=n],
                refusal.as_deref(),
            )
            .await?;
            n += 1;
            if n % 50 == 0 {
                runs::renew(self.ctx, self.run.id).await?;
            }
        }
        Ok(())
    }

    /// Imports a class's roster; the ids made, by kind and code.
    async fn import_roster(
        &self,
        school_code: &str,
        roster: &Roster<'_>,
        known: &HashMap<String, String>,
    ) -> anyhow::Result<Result<Vec<(String, String)>, String>> {
        let class_ref = roster.class_ref;
        let Some(class_id) = known.get(&format!("class:{class_ref}")) else {
            return Ok(Err(format!("class {class_ref} is not in lienlac")));
        };
        let request = roster.request(school_code, class_id);
        let made = self
            .call(
                |mut c, r| async move { c.import_class_roster(r).await.map(|r| r.into_inner()) },
                request,
            )
            .await?;
        Ok(made.map(|made| {
            let students = made
                .students
                .into_iter()
                .map(|s| (format!("student:{}", s.external_ref), s.id));
            let guardians = made
                .guardians
                .into_iter()
                .map(|g| (format!("guardian:{}", g.external_ref), g.id));
            students.chain(guardians).collect()
        }))
    }

    async fn one(
        &self,
        school_code: &str,
        school_id: Option<&str>,
        change: &Change,
        known: &HashMap<String, String>,
    ) -> anyhow::Result<Outcome> {
        let request_id = change.request_id(school_code).to_string();
        let find = |key: String, what: &str| {
            known
                .get(&key)
                .cloned()
                .ok_or_else(|| format!("{what} is not in lienlac"))
        };
        let school = || {
            school_id
                .map(str::to_owned)
                .ok_or_else(|| format!("school {school_code} is not in lienlac"))
        };
        let class = || {
            find(
                format!("class:{}", change.class_ref),
                &format!("class {}", change.class_ref),
            )
        };
        macro_rules! needed {
            ($found:expr) => {
                match $found {
                    Ok(found) => found,
                    Err(reason) => return Ok(Outcome::Refused(reason)),
                }
            };
        }
        Ok(match &change.action {
            Action::CreateDistrict { .. } => {
                Outcome::Refused("a district is made before its schools".to_owned())
            }
            Action::CreateSchool { name } => {
                let district = needed!(
                    self.district
                        .ok_or_else(|| "the district is not in lienlac".to_owned())
                );
                let request = id::CreateSchoolRequest {
                    request_id,
                    district_id: district.to_string(),
                    name: name.clone(),
                    external_ref: change.external_ref.clone(),
                };
                done(self.call(|mut c, r| async move { c.create_school(r).await.map(|r| r.into_inner().id) }, request)
                    .await?)
            }
            Action::CreateClass {
                name,
                grade,
                school_year,
            } => {
                let request = id::CreateClassRequest {
                    request_id,
                    school_id: needed!(school()),
                    name: name.clone(),
                    grade: *grade,
                    school_year: school_year.clone(),
                    external_ref: change.external_ref.clone(),
                };
                done(self.call(|mut c, r| async move { c.create_class(r).await.map(|r| r.into_inner().id) }, request)
                    .await?)
            }
            Action::RegisterStaff {
                full_name,
                phone,
                position,
            } => {
                let (school_id, district_id) = if school_code.is_empty() {
                    let district = needed!(
                        self.district
                            .ok_or_else(|| "the district is not in lienlac".to_owned())
                    );
                    (String::new(), district.to_string())
                } else {
                    (needed!(school()), String::new())
                };
                let request = id::RegisterStaffRequest {
                    request_id,
                    school_id,
                    full_name: full_name.clone(),
                    phone: phone.clone(),
                    position: position.clone(),
                    external_ref: change.external_ref.clone(),
                    district_id,
                };
                done(self.call(|mut c, r| async move { c.register_staff(r).await.map(|r| r.into_inner().id) }, request)
                    .await?)
            }
            Action::UpdatePerson {
                person_id,
                full_name,
                phone,
                birth_date,
                position,
            } => {
                let request = id::UpdatePersonRequest {
                    request_id,
                    person_id: person_id.clone(),
                    full_name: full_name.clone().unwrap_or_default(),
                    phone: phone.clone().unwrap_or_default(),
                    birth_date: birth_date.map(|d| d.to_string()).unwrap_or_default(),
                    position: position.clone().unwrap_or_default(),
                };
                done(
                    self.call(
                        |mut c, r| async move { c.update_person(r).await.map(|_| String::new()) },
                        request,
                    )
                    .await?,
                )
            }
            Action::AssignHomeroomTeacher { staff_code } => {
                let request = id::AssignHomeroomTeacherRequest {
                    request_id,
                    class_id: needed!(class()),
                    staff_id: needed!(find(
                        format!("staff:{staff_code}"),
                        &format!("staff member {staff_code}")
                    )),
                };
                done(
                    self.call(
                        |mut c, r| async move {
                            c.assign_homeroom_teacher(r).await.map(|_| String::new())
                        },
                        request,
                    )
                    .await?,
                )
            }
            Action::RegisterStudent { .. } => {
                Outcome::Refused("students are registered with their class".to_owned())
            }
            Action::EnrolStudent { student_id } => {
                let request = id::EnrollStudentRequest {
                    request_id,
                    student_id: student_id.clone(),
                    class_id: needed!(class()),
                };
                done(
                    self.call(
                        |mut c, r| async move { c.enroll_student(r).await.map(|_| String::new()) },
                        request,
                    )
                    .await?,
                )
            }
            Action::TransferStudent {
                student_id,
                effective,
            } => {
                let request = id::TransferStudentRequest {
                    request_id,
                    student_id: student_id.clone(),
                    to_class_id: needed!(class()),
                    effective_date: effective.map(|d| d.to_string()).unwrap_or_default(),
                };
                done(self.call(|mut c, r| async move { c.transfer_student(r).await.map(|_| String::new()) }, request)
                    .await?)
            }
            Action::WithdrawStudent {
                student_id,
                effective,
                reason,
            } => {
                let request = id::WithdrawStudentRequest {
                    request_id,
                    student_id: student_id.clone(),
                    reason: reason.clone(),
                    effective_date: effective.map(|d| d.to_string()).unwrap_or_default(),
                };
                done(self.call(|mut c, r| async move { c.withdraw_student(r).await.map(|_| String::new()) }, request)
                    .await?)
            }
            Action::RegisterGuardian { full_name, phone } => {
                let request = id::RegisterGuardianRequest {
                    request_id,
                    school_id: needed!(school()),
                    full_name: full_name.clone(),
                    phone: phone.clone(),
                    external_ref: change.external_ref.clone(),
                };
                done(
                    self.call(
                        |mut c, r| async move {
                            c.register_guardian(r).await.map(|r| r.into_inner().id)
                        },
                        request,
                    )
                    .await?,
                )
            }
            Action::UnlinkGuardian {
                guardian_id,
                student_id,
            } => {
                let request = id::UnlinkGuardianRequest {
                    request_id,
                    guardian_id: guardian_id.clone(),
                    student_id: student_id.clone(),
                };
                done(
                    self.call(
                        |mut c, r| async move { c.unlink_guardian(r).await.map(|_| String::new()) },
                        request,
                    )
                    .await?,
                )
            }
            Action::LinkGuardian {
                student_code,
                relation,
            } => {
                let request = id::LinkGuardianRequest {
                    request_id,
                    guardian_id: needed!(find(
                        format!("guardian:{}", change.external_ref),
                        &format!("guardian {}", change.external_ref)
                    )),
                    student_id: needed!(find(
                        format!("student:{student_code}"),
                        &format!("student {student_code}")
                    )),
                    relation: *relation as i32,
                };
                done(
                    self.call(
                        |mut c, r| async move { c.link_guardian(r).await.map(|_| String::new()) },
                        request,
                    )
                    .await?,
                )
            }
        })
    }

    /// One call to identity with the mirror's token: tried again while identity
    /// does not answer; a refusal is an outcome, not an error.
    async fn call<R, T, F, Fut>(&self, send: F, request: R) -> anyhow::Result<Result<T, String>>
    where
        R: Clone,
        F: Fn(
            id::directory_service_client::DirectoryServiceClient<peers::Traced>,
            tonic::Request<R>,
        ) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let client = peers::directory(&self.ctx.identity);
            match send(client, self.reader.request(request.clone())).await {
                Ok(made) => return Ok(Ok(made)),
                Err(status) => match status.code() {
                    Code::InvalidArgument
                    | Code::FailedPrecondition
                    | Code::AlreadyExists
                    | Code::NotFound
                    | Code::PermissionDenied
                    | Code::OutOfRange => return Ok(Err(status.message().to_owned())),
                    _ => {
                        last = format!("{:?}: {}", status.code(), status.message());
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                },
            }
        }
        anyhow::bail!("identity did not answer after {ATTEMPTS} attempts: {last}")
    }
}

/// A class's new students with their guardians, as one `ImportClassRoster`: the
/// run of changes from a `RegisterStudent` that register students of one class,
/// register their guardians (a guardian registered before is linked by id) and
/// link them. It ends at the first change of another kind, of another class, or
/// that links a student or guardian it does not hold.
struct Roster<'a> {
    class_ref: &'a str,
    /// How many of the changes it takes.
    changes: usize,
    taken: &'a [Change],
    students: Vec<&'a Change>,
    guardians: Vec<&'a Change>,
    links: Vec<id::RosterLink>,
}

impl<'a> Roster<'a> {
    fn from(changes: &'a [Change], known: &HashMap<String, String>) -> Self {
        let class_ref = changes[0].class_ref.as_str();
        let mut roster = Roster {
            class_ref,
            changes: 0,
            taken: &[],
            students: Vec::new(),
            guardians: Vec::new(),
            links: Vec::new(),
        };
        let mut student_codes = std::collections::HashSet::new();
        let mut guardian_codes = std::collections::HashSet::new();
        for change in changes {
            if change.class_ref != class_ref {
                break;
            }
            match &change.action {
                Action::RegisterStudent { .. } if roster.students.len() < ROSTER_STUDENTS => {
                    student_codes.insert(change.external_ref.as_str());
                    roster.students.push(change);
                }
                // A parent of two children of the roster is registered once.
                Action::RegisterGuardian { .. }
                    if guardian_codes.contains(change.external_ref.as_str())
                        || known.contains_key(&format!("guardian:{}", change.external_ref)) => {}
                Action::RegisterGuardian { .. } if roster.guardians.len() < ROSTER_GUARDIANS => {
                    guardian_codes.insert(change.external_ref.as_str());
                    roster.guardians.push(change);
                }
                Action::LinkGuardian {
                    student_code,
                    relation,
                } if student_codes.contains(student_code.as_str()) => {
                    let code = change.external_ref.as_str();
                    let (guardian_ref, guardian_id) = if guardian_codes.contains(code) {
                        (code.to_owned(), String::new())
                    } else if let Some(id) = known.get(&format!("guardian:{code}")) {
                        (String::new(), id.clone())
                    } else {
                        break;
                    };
                    roster.links.push(id::RosterLink {
                        student_ref: student_code.clone(),
                        guardian_ref,
                        guardian_id,
                        relation: *relation as i32,
                    });
                }
                _ => break,
            }
            roster.changes += 1;
        }
        roster.taken = &changes[..roster.changes];
        roster
    }

    /// The request, with an id from the changes it takes: the same changes make
    /// the same request again.
    fn request(&self, school_code: &str, class_id: &str) -> id::ImportClassRosterRequest {
        let mut key = Sha256::new();
        for change in self.taken {
            key.update(change.request_id(school_code).as_bytes());
        }
        let hash = key.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        id::ImportClassRosterRequest {
            request_id: uuid::Builder::from_custom_bytes(bytes)
                .into_uuid()
                .to_string(),
            class_id: class_id.to_owned(),
            students: self
                .students
                .iter()
                .filter_map(|s| match &s.action {
                    Action::RegisterStudent {
                        full_name,
                        birth_date,
                        gender,
                    } => Some(id::NewStudent {
                        full_name: full_name.clone(),
                        birth_date: birth_date.to_string(),
                        gender: *gender as i32,
                        external_ref: s.external_ref.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            guardians: self
                .guardians
                .iter()
                .filter_map(|g| match &g.action {
                    Action::RegisterGuardian { full_name, phone } => Some(id::RosterGuardian {
                        full_name: full_name.clone(),
                        phone: phone.clone(),
                        external_ref: g.external_ref.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            links: self.links.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use lienlac_proto::identity::v1::{Gender, Relation};
    use time::macros::date;

    use super::*;

    fn change(action: Action, code: &str, class: &str) -> Change {
        Change {
            action,
            external_ref: code.to_owned(),
            class_ref: class.to_owned(),
            version: 1,
            detail: String::new(),
        }
    }

    fn student(code: &str, class: &str) -> Change {
        let action = Action::RegisterStudent {
            full_name: "Trần Gia Bảo".to_owned(),
            birth_date: date!(2019 - 03 - 02),
            gender: Gender::Male,
        };
        change(action, code, class)
    }

    fn guardian(code: &str, class: &str) -> Change {
        let action = Action::RegisterGuardian {
            full_name: "Trần Văn Hùng".to_owned(),
            phone: "0908123456".to_owned(),
        };
        change(action, code, class)
    }

    fn link(guardian: &str, student: &str, class: &str) -> Change {
        let action = Action::LinkGuardian {
            student_code: student.to_owned(),
            relation: Relation::Father,
        };
        change(action, guardian, class)
    }

    /// What a roster takes: changes taken, students, guardians registered, and
    /// links as (student, guardian_ref, guardian_id).
    type Taken = (
        usize,
        Vec<String>,
        Vec<String>,
        Vec<(String, String, String)>,
    );

    fn taken(changes: &[Change], known: &[(&str, &str)]) -> Taken {
        let known: HashMap<String, String> = known
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let roster = Roster::from(changes, &known);
        let codes = |changes: &[&Change]| changes.iter().map(|c| c.external_ref.clone()).collect();
        (
            roster.changes,
            codes(&roster.students),
            codes(&roster.guardians),
            roster
                .links
                .iter()
                .map(|l| {
                    (
                        l.student_ref.clone(),
                        l.guardian_ref.clone(),
                        l.guardian_id.clone(),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn a_roster_takes_a_classs_new_students_with_their_guardians_and_stops_at_what_it_cannot_hold()
    {
        let s = |v: &[&str]| v.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        let l = |student: &str, by_ref: &str, by_id: &str| {
            (student.to_owned(), by_ref.to_owned(), by_id.to_owned())
        };
        // Two siblings with one father: registered once, linked twice; another
        // class ends the roster.
        let siblings = [
            student("S1", "1A1"),
            guardian("P1", "1A1"),
            link("P1", "S1", "1A1"),
            student("S2", "1A1"),
            guardian("P1", "1A1"),
            link("P1", "S2", "1A1"),
            student("S3", "1A2"),
        ];
        assert_eq!(
            taken(&siblings, &[]),
            (
                6,
                s(&["S1", "S2"]),
                s(&["P1"]),
                vec![l("S1", "P1", ""), l("S2", "P1", "")]
            )
        );
        // A parent the directory has is linked by id, not registered again.
        let known_parent = [
            student("S1", "1A1"),
            guardian("P9", "1A1"),
            link("P9", "S1", "1A1"),
        ];
        assert_eq!(
            taken(&known_parent, &[("guardian:P9", "g-9")]),
            (3, s(&["S1"]), s(&[]), vec![l("S1", "", "g-9")])
        );
        // A link to a student already in lienlac, or to a guardian neither in the
        // roster nor known, is left to be applied on its own.
        let outside = [
            student("S1", "1A1"),
            link("P1", "S0", "1A1"),
            link("P2", "S1", "1A1"),
        ];
        assert_eq!(taken(&outside, &[]), (1, s(&["S1"]), s(&[]), vec![]));
        let unknown_guardian = [student("S1", "1A1"), link("P2", "S1", "1A1")];
        assert_eq!(
            taken(&unknown_guardian, &[]),
            (1, s(&["S1"]), s(&[]), vec![])
        );
        // At most a hundred students.
        let many: Vec<Change> = (0..101).map(|n| student(&format!("S{n}"), "1A1")).collect();
        assert_eq!(taken(&many, &[]).0, 100);
    }
}
