//! The probe service: `Note` appends one published `Noted` event, idempotently.

use kernel::auth::Caller;
use kernel::event_store::{
    AppendReceipt, EventMeta, ExpectedVersion, RequestKey, append, find_request, record_request,
    stream_version,
};
use kernel::grpc::{append_error_status, request_error_status};
use lienlac_proto::testing::v1::probe_service_server::ProbeService;
use lienlac_proto::testing::v1::{NoteRequest, NoteResponse};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub struct Probe {
    pub pool: PgPool,
}

fn uuid_field(name: &str, value: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(value).map_err(|_| Status::invalid_argument(format!("{name} must be a UUID")))
}

#[tonic::async_trait]
impl ProbeService for Probe {
    #[tracing::instrument(name = "probe.note", skip_all)]
    async fn note(&self, request: Request<NoteRequest>) -> Result<Response<NoteResponse>, Status> {
        let request = request.into_inner();
        let request_id = uuid_field("request_id", &request.request_id)?;
        // The probe has no callers: every request is the anonymous caller's.
        let anonymous = Caller {
            account_id: Uuid::nil(),
            person_id: None,
            session: None,
            bindings: Vec::new(),
        };
        let key = RequestKey::new(&anonymous, request_id, &request);
        let district_id = uuid_field("district_id", &request.district_id)?;
        let school_id = uuid_field("school_id", &request.school_id)?;
        if request.stream_id.is_empty() {
            return Err(Status::invalid_argument("stream_id is required"));
        }
        let internal = |error: sqlx::Error| {
            tracing::error!(error = ?error, "rpc failed");
            Status::internal("internal error")
        };
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let receipt = match find_request::<AppendReceipt>(&mut tx, &key)
            .await
            .map_err(request_error_status)?
        {
            Some(first) => first,
            None => {
                let version = stream_version(&mut tx, &request.stream_id)
                    .await
                    .map_err(internal)?;
                let meta = EventMeta::for_command(None).in_tenant(district_id, Some(school_id));
                let event = super::noted(&request.stream_id, &request.text);
                let receipt = append(
                    &mut tx,
                    &request.stream_id,
                    ExpectedVersion::from_loaded(version),
                    &[event],
                    &meta,
                )
                .await
                .map_err(append_error_status)?;
                record_request(&mut tx, &key, &receipt)
                    .await
                    .map_err(request_error_status)?;
                tx.commit().await.map_err(internal)?;
                receipt
            }
        };
        Ok(Response::new(NoteResponse {
            event_id: receipt
                .event_ids
                .first()
                .map(Uuid::to_string)
                .unwrap_or_default(),
            stream_version: receipt.stream_version,
        }))
    }
}
