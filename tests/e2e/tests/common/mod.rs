//! Steps the end-to-end tests of delivery share.

use std::net::SocketAddr;

use kernel::testing::{channel, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_test_support::{School, today};

/// The homeroom teacher of the school's first class marks `student` absent
/// without leave today in `session`.
pub(crate) async fn absent(
    attendance: SocketAddr,
    school: &School,
    student: &str,
    session: att::Session,
) {
    AttendanceServiceClient::new(channel(attendance))
        .submit_roll_call(with_token(
            att::SubmitRollCallRequest {
                request_id: request_id(),
                class_id: school.class_id.clone(),
                date: today(),
                session: session as i32,
                marks: vec![att::Mark {
                    student_id: student.to_owned(),
                    status: att::AttendanceStatus::AbsentUnexcused as i32,
                    ..Default::default()
                }],
                taken_at: String::new(),
            },
            &school.homeroom,
        ))
        .await
        .expect("the roll call is taken");
}

/// The school's deliveries in `state` (all when empty), as its principal sees them.
pub(crate) async fn deliveries(
    messaging: &MessagingServiceClient<tonic::transport::Channel>,
    school: &School,
    state: &str,
) -> Vec<pb::Delivery> {
    messaging
        .clone()
        .list_deliveries(with_token(
            pb::ListDeliveriesRequest {
                school_id: school.school_id.clone(),
                state: state.to_owned(),
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .expect("the principal lists the school's deliveries")
        .into_inner()
        .deliveries
}
