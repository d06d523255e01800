//! `lienlac.privacy.v1.PrivacyService`: who read a child's personal data, across
//! the services that serve it, and a guardian's copy of everything lienlac holds
//! about their child (docs/privacy.md). The other services answer with the
//! reader's own token, by their own rules.

use kernel::access_log;
use kernel::auth::{Role, Target, caller};
use kernel::error::{AppError, AppResult};
use kernel::grpc::Check;
use lienlac_proto::attendance::v1::ExportStudentRecordRequest;
use lienlac_proto::identity::v1::{GetPersonRequest, Person};
use lienlac_proto::messaging::v1::{ConversationKind, ListInboxRequest, ListMessagesRequest};
use lienlac_proto::privacy::v1 as pb;
use lienlac_proto::privacy::v1::privacy_service_server::PrivacyService;
use school::read_log::{self, LOG_READERS};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::Ctx;
use school::peers::{Reader, answer_of};

/// How far back a guardian's copy lists who read the child's data.
const EXPORTED_READS_DAYS: i64 = 365;

pub(crate) struct Privacy {
    pub(crate) ctx: Ctx,
}

impl Privacy {
    /// Where the student was last, as reporting's directory knows.
    async fn student_scope(&self, student: Uuid) -> AppResult<Target> {
        let pool = self.ctx.read_models.queries();
        school::enrolments::latest_class(&mut *pool.acquire().await?, student)
            .await?
            .ok_or(AppError::NotFound("student"))
    }

    /// Every service's reads of the student's data over the request's period,
    /// oldest first.
    async fn reads(
        &self,
        reader: &Reader,
        request: &pb::ListDataAccessRequest,
    ) -> AppResult<Vec<pb::DataAccess>> {
        let (student, from, to) = read_log::period(request)?;
        let mut reads: Vec<pb::DataAccess> =
            access_log::reads_of(&self.ctx.pool, student, from, to)
                .await?
                .into_iter()
                .map(|read| read_log::to_proto("reporting", read))
                .collect();
        for (peer, mut log) in self.ctx.peers.read_logs() {
            let answer = log
                .list_reads(reader.request(request.clone()))
                .await
                .map_err(|status| answer_of(peer, status))?;
            reads.extend(answer.into_inner().reads);
        }
        // RFC 3339 in UTC sorts as time does.
        reads.sort_by(|a, b| a.read_at.cmp(&b.read_at));
        Ok(reads)
    }

    /// The guardian's conversations about the child: the group of the child's
    /// class and the guardian's direct threads, each with its latest 200 messages.
    async fn conversations(
        &self,
        reader: &Reader,
        class_id: &str,
    ) -> AppResult<Vec<serde_json::Value>> {
        let mut messaging = self.ctx.peers.messaging();
        let inbox = messaging
            .list_inbox(reader.request(ListInboxRequest {
                cursor: String::new(),
                limit: 100,
            }))
            .await
            .map_err(|status| answer_of("messaging", status))?
            .into_inner();
        let mut conversations = Vec::new();
        for conversation in inbox.entries.into_iter().filter_map(|e| e.conversation) {
            let about_the_child = conversation.kind == ConversationKind::Direct as i32
                || (!class_id.is_empty() && conversation.class_id == class_id);
            if !about_the_child {
                continue;
            }
            let messages = messaging
                .list_messages(reader.request(ListMessagesRequest {
                    conversation_id: conversation.id.clone(),
                    before_seq: 0,
                    limit: 200,
                }))
                .await
                .map_err(|status| answer_of("messaging", status))?
                .into_inner()
                .messages;
            conversations.push(serde_json::json!({
                "conversation": conversation,
                "messages": messages,
            }));
        }
        Ok(conversations)
    }

    async fn person(&self, reader: &Reader, person_id: &str) -> AppResult<Person> {
        Ok(self
            .ctx
            .peers
            .directory()
            .get_person(reader.request(GetPersonRequest {
                person_id: person_id.to_owned(),
            }))
            .await
            .map_err(|status| answer_of("identity", status))?
            .into_inner())
    }
}

#[tonic::async_trait]
impl PrivacyService for Privacy {
    async fn list_data_access(
        &self,
        request: Request<pb::ListDataAccessRequest>,
    ) -> Result<Response<pb::ListDataAccessResponse>, Status> {
        let caller = caller(&request)?;
        let reader = Reader::of(request.metadata())?;
        let (student, _, _) = read_log::period(request.get_ref())?;
        let target = self.student_scope(student).await?;
        caller.require(LOG_READERS, &target)?;
        let reads = self.reads(&reader, request.get_ref()).await?;
        Ok(Response::new(pb::ListDataAccessResponse { reads }))
    }

    async fn export_my_child_data(
        &self,
        request: Request<pb::ExportMyChildDataRequest>,
    ) -> Result<Response<pb::ChildDataExport>, Status> {
        let caller = caller(&request)?;
        let reader = Reader::of(request.metadata())?;
        let mut check = Check::new();
        let student = check.uuid("student_id", &request.get_ref().student_id);
        check.done()?;
        let target = self.student_scope(student).await?;
        if !caller.holds(&[Role::Guardian], &target) {
            return Err(Status::permission_denied(
                "only the student's guardians may ask for a copy of the child's data",
            ));
        }
        let child = self.person(&reader, &student.to_string()).await?;
        // The caller's own record in full; another guardian as a link only.
        let mut guardians = Vec::with_capacity(child.guardianships.len());
        for link in &child.guardianships {
            if caller
                .person_id
                .is_some_and(|me| me.to_string() == link.guardian_id)
            {
                guardians.push(json(&self.person(&reader, &link.guardian_id).await?)?);
            } else {
                guardians.push(json(link)?);
            }
        }
        let record = self
            .ctx
            .peers
            .attendance()
            .export_student_record(reader.request(ExportStudentRecordRequest {
                student_id: student.to_string(),
            }))
            .await
            .map_err(|status| answer_of("attendance", status))?
            .into_inner();
        let messages = self.conversations(&reader, &child.class_id).await?;
        let today = school::dates::local_today();
        let reads = self
            .reads(
                &reader,
                &pb::ListDataAccessRequest {
                    student_id: student.to_string(),
                    from_date: (today - time::Duration::days(EXPORTED_READS_DAYS - 1)).to_string(),
                    to_date: today.to_string(),
                },
            )
            .await?;
        access_log::record_in(
            &self.ctx.pool,
            caller,
            "reporting.ExportMyChildData",
            &[(student, target)],
        )
        .await
        .map_err(AppError::from)?;
        let document = serde_json::json!({
            "exported_at": kernel::dates::rfc3339(OffsetDateTime::now_utc()),
            "student": child,
            "guardians": guardians,
            "attendance": record,
            "messages": messages,
            "reads": reads,
        });
        let code = if child.external_ref.is_empty() {
            student.to_string()
        } else {
            child.external_ref.clone()
        };
        Ok(Response::new(pb::ChildDataExport {
            file_name: format!("du-lieu-hoc-sinh-{code}-{today}.json"),
            document_json: serde_json::to_string_pretty(&document)
                .map_err(|error| AppError::Unexpected(error.into()))?,
        }))
    }
}

fn json(value: &impl serde::Serialize) -> AppResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|error| AppError::Unexpected(error.into()))
}
