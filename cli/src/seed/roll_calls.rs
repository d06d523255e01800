//! Two weeks of roll calls, each taken by the class's homeroom teacher.

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;

use crate::credentials::Credentials;
use crate::{progress, session};

use super::plan::{exceptions, rid};
use super::{CONCURRENCY, Seed, SeededClass};

impl Seed {
    /// Two weeks of roll calls, taken by each homeroom teacher with their own
    /// sign-in: about one student in thirty absent, a few late.
    pub(super) async fn attendance(
        &self,
        classes: &[SeededClass],
        days: &[time::Date],
        credentials: &Credentials,
    ) -> anyhow::Result<()> {
        let attendance =
            AttendanceServiceClient::new(session::connect(&self.attendance_url).await?);
        let auth = AuthServiceClient::new(session::connect(&credentials.identity_url).await?);
        eprintln!("roll calls of {} school days", days.len());
        let bar = progress::bar(classes.len() as u64, "classes' roll calls");
        futures::stream::iter(classes)
            .map(|class| {
                let (mut attendance, mut auth, bar) = (attendance.clone(), auth.clone(), &bar);
                async move {
                    let teacher = Seed::sign_in(
                        &mut auth,
                        &credentials.identity_url,
                        &class.teacher_username,
                    )
                    .await?;
                    for day in days {
                        for session in [att::Session::Morning, att::Session::Afternoon] {
                            let key = format!("{}:{day}:{}", class.id, session as i32);
                            let marks = exceptions(&class.students, &key, 100);
                            let request = att::SubmitRollCallRequest {
                                request_id: rid(&format!("rollcall:{key}")),
                                class_id: class.id.clone(),
                                date: day.to_string(),
                                session: session as i32,
                                marks,
                                taken_at: String::new(),
                            };
                            attendance
                                .submit_roll_call(session::authorised(request, &teacher)?)
                                .await
                                .with_context(|| {
                                    format!("the roll call of {} on {day}", class.name)
                                })?;
                        }
                    }
                    bar.inc(1);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        bar.finish_and_clear();
        Ok(())
    }
}
