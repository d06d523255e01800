//! `lienlac.identity.v1.DirectoryService`.

use kernel::auth::caller;
use kernel::grpc::{Check, Violation};
use lienlac_proto::identity::v1 as pb;
use lienlac_proto::identity::v1::directory_service_server::DirectoryService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::fields::{effective_date, grade, known, listed_ids, new_student, optional_name};
use crate::Ctx;
use crate::directory::{
    contacts, create, described, enrolments, export, members, people, read, roster, update,
};
use crate::text;

pub(crate) struct Directory {
    pub ctx: Ctx,
}

#[tonic::async_trait]
impl DirectoryService for Directory {
    async fn create_district(
        &self,
        request: Request<pb::CreateDistrictRequest>,
    ) -> Result<Response<pb::District>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let name = check.take(text::name("name", &r.name, 200));
        let external_ref = check.take(text::external_ref("external_ref", &r.external_ref));
        check.done()?;
        let new = create::NewDistrict { name, external_ref };
        Ok(Response::new(
            create::district(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn create_school(
        &self,
        request: Request<pb::CreateSchoolRequest>,
    ) -> Result<Response<pb::School>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let district_id = check.uuid("district_id", &r.district_id);
        let name = check.take(text::name("name", &r.name, 200));
        let external_ref = check.take(text::external_ref("external_ref", &r.external_ref));
        check.done()?;
        let new = create::NewSchool {
            district_id,
            name,
            external_ref,
        };
        Ok(Response::new(
            create::school(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn create_class(
        &self,
        request: Request<pb::CreateClassRequest>,
    ) -> Result<Response<pb::Class>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let school_id = check.uuid("school_id", &r.school_id);
        let name = check.take(text::name("name", &r.name, 20));
        let grade = grade(&mut check, r.grade);
        let school_year = check.take(text::school_year("school_year", &r.school_year));
        let external_ref = check.take(text::optional_external_ref("external_ref", &r.external_ref));
        check.done()?;
        let new = create::NewClass {
            school_id,
            name,
            grade,
            school_year,
            external_ref,
        };
        Ok(Response::new(
            create::class(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn register_student(
        &self,
        request: Request<pb::RegisterStudentRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let school_id = check.uuid("school_id", &r.school_id);
        let new = new_student(
            &mut check,
            "",
            school_id,
            &pb::NewStudent {
                full_name: r.full_name,
                birth_date: r.birth_date,
                gender: r.gender,
                external_ref: r.external_ref,
            },
        );
        check.done()?;
        Ok(Response::new(
            people::register_student(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn import_class_roster(
        &self,
        request: Request<pb::ImportClassRosterRequest>,
    ) -> Result<Response<pb::ImportClassRosterResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let class_id = check.uuid("class_id", &r.class_id);
        let roster = super::roster::roster(&mut check, &r);
        check.done()?;
        Ok(Response::new(
            roster::import_class_roster(&self.ctx, &caller, request_key, class_id, roster).await?,
        ))
    }

    async fn register_staff(
        &self,
        request: Request<pb::RegisterStaffRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let place = match (r.school_id.is_empty(), r.district_id.is_empty()) {
            (false, true) => people::StaffPlace::School(check.uuid("school_id", &r.school_id)),
            (true, false) => {
                people::StaffPlace::DistrictOffice(check.uuid("district_id", &r.district_id))
            }
            _ => {
                check.add(Violation::new(
                    "school_id",
                    "give the staff member's school, or district_id alone for the district office",
                    "cần trường của nhân viên, hoặc chỉ district_id cho phòng giáo dục",
                ));
                people::StaffPlace::School(Uuid::nil())
            }
        };
        let full_name = check.take(text::name("full_name", &r.full_name, 100));
        let phone = check.take(text::phone("phone", &r.phone));
        let position = optional_name(&mut check, "position", &r.position);
        let external_ref = check.take(text::optional_external_ref("external_ref", &r.external_ref));
        check.done()?;
        let new = people::NewStaff {
            place,
            full_name,
            phone,
            position,
            external_ref,
        };
        Ok(Response::new(
            people::register_staff(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn register_guardian(
        &self,
        request: Request<pb::RegisterGuardianRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let school_id = check.uuid("school_id", &r.school_id);
        let full_name = check.take(text::name("full_name", &r.full_name, 100));
        let phone = check.take(text::phone("phone", &r.phone));
        let external_ref = check.take(text::optional_external_ref("external_ref", &r.external_ref));
        check.done()?;
        let new = people::NewGuardian {
            school_id,
            full_name,
            phone,
            external_ref,
        };
        Ok(Response::new(
            people::register_guardian(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn enroll_student(
        &self,
        request: Request<pb::EnrollStudentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let student_id = check.uuid("student_id", &r.student_id);
        let class_id = check.uuid("class_id", &r.class_id);
        check.done()?;
        Ok(Response::new(
            enrolments::enroll(&self.ctx, &caller, request_key, student_id, class_id).await?,
        ))
    }

    async fn transfer_student(
        &self,
        request: Request<pb::TransferStudentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let student_id = check.uuid("student_id", &r.student_id);
        let to_class_id = check.uuid("to_class_id", &r.to_class_id);
        let effective = effective_date(&mut check, &r.effective_date);
        check.done()?;
        let transfer = enrolments::Transfer {
            student_id,
            to_class_id,
            effective,
        };
        Ok(Response::new(
            enrolments::transfer(&self.ctx, &caller, request_key, transfer).await?,
        ))
    }

    async fn withdraw_student(
        &self,
        request: Request<pb::WithdrawStudentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let student_id = check.uuid("student_id", &r.student_id);
        let reason = check.text("reason", &r.reason, 500);
        let effective = effective_date(&mut check, &r.effective_date);
        check.done()?;
        let withdrawal = enrolments::Withdrawal {
            student_id,
            reason,
            effective,
        };
        Ok(Response::new(
            enrolments::withdraw(&self.ctx, &caller, request_key, withdrawal).await?,
        ))
    }

    async fn link_guardian(
        &self,
        request: Request<pb::LinkGuardianRequest>,
    ) -> Result<Response<pb::Guardianship>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let guardian_id = check.uuid("guardian_id", &r.guardian_id);
        let student_id = check.uuid("student_id", &r.student_id);
        let relation = known::<pb::Relation>(
            &mut check,
            "relation",
            r.relation,
            pb::Relation::Unspecified as i32,
        );
        check.done()?;
        let link = people::link_guardian(
            &self.ctx,
            &caller,
            request_key,
            guardian_id,
            student_id,
            relation,
        )
        .await?;
        Ok(Response::new(link))
    }

    async fn unlink_guardian(
        &self,
        request: Request<pb::UnlinkGuardianRequest>,
    ) -> Result<Response<pb::UnlinkGuardianResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let guardian_id = check.uuid("guardian_id", &r.guardian_id);
        let student_id = check.uuid("student_id", &r.student_id);
        check.done()?;
        people::unlink_guardian(&self.ctx, &caller, request_key, guardian_id, student_id).await?;
        Ok(Response::new(pb::UnlinkGuardianResponse {}))
    }

    async fn assign_homeroom_teacher(
        &self,
        request: Request<pb::AssignHomeroomTeacherRequest>,
    ) -> Result<Response<pb::Class>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let class_id = check.uuid("class_id", &r.class_id);
        let staff_id = check.uuid("staff_id", &r.staff_id);
        check.done()?;
        let class = enrolments::assign_homeroom_teacher(
            &self.ctx,
            &caller,
            request_key,
            class_id,
            staff_id,
        )
        .await?;
        Ok(Response::new(class))
    }

    async fn get_district(
        &self,
        request: Request<pb::GetDistrictRequest>,
    ) -> Result<Response<pb::District>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &request.get_ref().district_id);
        check.done()?;
        Ok(Response::new(
            read::district(&self.ctx, &caller, district_id).await?,
        ))
    }

    async fn get_school(
        &self,
        request: Request<pb::GetSchoolRequest>,
    ) -> Result<Response<pb::School>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &request.get_ref().school_id);
        check.done()?;
        Ok(Response::new(
            read::school(&self.ctx, &caller, school_id).await?,
        ))
    }

    async fn list_schools(
        &self,
        request: Request<pb::ListSchoolsRequest>,
    ) -> Result<Response<pb::ListSchoolsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &request.get_ref().district_id);
        check.done()?;
        let schools = read::schools(&self.ctx, &caller, district_id).await?;
        Ok(Response::new(pb::ListSchoolsResponse { schools }))
    }

    async fn list_classes(
        &self,
        request: Request<pb::ListClassesRequest>,
    ) -> Result<Response<pb::ListClassesResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &r.school_id);
        let school_year = if r.school_year.is_empty() {
            None
        } else {
            Some(check.take(text::school_year("school_year", &r.school_year)))
        };
        check.done()?;
        let classes = read::classes(&self.ctx, &caller, school_id, school_year).await?;
        Ok(Response::new(pb::ListClassesResponse { classes }))
    }

    async fn list_students(
        &self,
        request: Request<pb::ListStudentsRequest>,
    ) -> Result<Response<pb::ListStudentsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let class_id = check.uuid("class_id", &request.get_ref().class_id);
        check.done()?;
        Ok(Response::new(
            read::students(&self.ctx, &caller, class_id).await?,
        ))
    }

    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let person_id = check.uuid("person_id", &request.get_ref().person_id);
        check.done()?;
        Ok(Response::new(
            crate::directory::person::person(&self.ctx, &caller, person_id).await?,
        ))
    }

    async fn update_person(
        &self,
        request: Request<pb::UpdatePersonRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let person_id = check.uuid("person_id", &r.person_id);
        let asked = update::Corrections {
            full_name: given(&r.full_name).map(|raw| check.take(text::name("full_name", raw, 100))),
            phone: given(&r.phone).map(|raw| check.take(text::phone("phone", raw))),
            birth_date: given(&r.birth_date).map(|raw| {
                check
                    .take(text::date("birth_date", raw).map(Some))
                    .map(|date| date.to_string())
                    .unwrap_or_default()
            }),
            position: given(&r.position).map(|raw| check.take(text::name("position", raw, 100))),
        };
        if asked == update::Corrections::default() {
            check.add(Violation::new(
                "full_name",
                "give at least one of full_name, phone, birth_date or position",
                "cần ít nhất một trong full_name, phone, birth_date hoặc position",
            ));
        }
        check.done()?;
        Ok(Response::new(
            update::update_person(&self.ctx, &caller, request_key, person_id, asked).await?,
        ))
    }

    async fn export_school(
        &self,
        request: Request<pb::ExportSchoolRequest>,
    ) -> Result<Response<pb::SchoolExport>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &r.school_id);
        let school_year = check.take(text::school_year("school_year", &r.school_year));
        check.done()?;
        Ok(Response::new(
            export::school(&self.ctx, &caller, school_id, &school_year).await?,
        ))
    }

    async fn export_district(
        &self,
        request: Request<pb::ExportDistrictRequest>,
    ) -> Result<Response<pb::DistrictExport>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &request.get_ref().district_id);
        check.done()?;
        Ok(Response::new(
            export::district(&self.ctx, &caller, district_id).await?,
        ))
    }

    async fn find_people_by_ref(
        &self,
        request: Request<pb::FindPeopleByRefRequest>,
    ) -> Result<Response<pb::FindPeopleByRefResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &r.district_id);
        let kind = match pb::PersonKind::try_from(r.kind) {
            Ok(pb::PersonKind::Student) => "student",
            Ok(pb::PersonKind::Staff) => "staff",
            Ok(pb::PersonKind::Guardian) => "guardian",
            _ => {
                check.add(Violation::new(
                    "kind",
                    "must be one of the listed values",
                    "phải là một trong các giá trị cho phép",
                ));
                ""
            }
        };
        check.at_most("external_refs", r.external_refs.len(), 1_000);
        check.done()?;
        let people =
            export::by_ref(&self.ctx, &caller, district_id, kind, &r.external_refs).await?;
        Ok(Response::new(pb::FindPeopleByRefResponse { people }))
    }

    async fn search_people(
        &self,
        request: Request<pb::SearchPeopleRequest>,
    ) -> Result<Response<pb::SearchPeopleResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &r.school_id);
        let query = check.text("query", &r.query, 100);
        // An empty query is refused as required already.
        if query.trim().chars().count() == 1 {
            check.add(Violation::new(
                "query",
                "must have at least two characters",
                "phải có ít nhất hai ký tự",
            ));
        }
        if !(0..=50).contains(&r.limit) {
            check.add(Violation::new(
                "limit",
                "must be from 1 to 50",
                "phải từ 1 đến 50",
            ));
        }
        check.done()?;
        let limit = if r.limit == 0 { 20 } else { i64::from(r.limit) };
        let people = read::search(&self.ctx, &caller, school_id, &query, limit).await?;
        Ok(Response::new(pb::SearchPeopleResponse { people }))
    }

    async fn describe_students(
        &self,
        request: Request<pb::DescribeStudentsRequest>,
    ) -> Result<Response<pb::DescribeStudentsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let ids = listed_ids(
            &mut check,
            "student_ids",
            &r.student_ids,
            described::MAX_STUDENTS,
        );
        check.done()?;
        Ok(Response::new(
            described::describe_students(&self.ctx, &caller, &ids).await?,
        ))
    }

    async fn describe_members(
        &self,
        request: Request<pb::DescribeMembersRequest>,
    ) -> Result<Response<pb::DescribeMembersResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let ids = listed_ids(
            &mut check,
            "person_ids",
            &r.person_ids,
            members::MAX_MEMBERS,
        );
        check.done()?;
        Ok(Response::new(
            members::describe_members(&self.ctx, &caller, &ids).await?,
        ))
    }

    async fn describe_contacts(
        &self,
        request: Request<pb::DescribeContactsRequest>,
    ) -> Result<Response<pb::DescribeContactsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let ids = listed_ids(
            &mut check,
            "person_ids",
            &r.person_ids,
            contacts::MAX_CONTACTS,
        );
        check.done()?;
        Ok(Response::new(
            contacts::describe_contacts(&self.ctx, &caller, &ids).await?,
        ))
    }

    async fn set_display_name(
        &self,
        request: Request<pb::SetDisplayNameRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(&caller, &r.request_id, r);
        check.done()?;
        let name = members::check_display_name(&r.display_name)
            .map_err(|refusal| Status::invalid_argument(refusal.to_string()))?;
        Ok(Response::new(
            members::set_display_name(&self.ctx, &caller, key, name).await?,
        ))
    }

    async fn erase_personal_data(
        &self,
        request: Request<pb::ErasePersonalDataRequest>,
    ) -> Result<Response<pb::PersonalDataErasure>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(&caller, &r.request_id, r);
        let person_id = check.uuid("person_id", &r.person_id);
        check.done()?;
        Ok(Response::new(
            crate::erasure::erase(&self.ctx, &caller, key, person_id).await?,
        ))
    }

    async fn rebuild_write_model(
        &self,
        request: Request<pb::RebuildWriteModelRequest>,
    ) -> Result<Response<pb::WriteModelRebuilt>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            crate::write_model::rebuild(&self.ctx, caller).await?,
        ))
    }
}

/// A field a request may leave empty (blank) to keep what is held.
fn given(raw: &str) -> Option<&str> {
    (!raw.trim().is_empty()).then_some(raw)
}
