//! Two weeks of roll calls, each taken by the class's homeroom teacher on its own
//! day, then the month before this one closed and its totals transferred to the
//! city database.

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use time::macros::{offset, time};

use crate::credentials::Credentials;
use crate::{progress, session};

use super::plan::{exceptions, rid};
use super::{CONCURRENCY, Seed, SeededClass};

impl Seed {
    /// Two weeks of roll calls, taken by each homeroom teacher with their own
    /// sign-in at the start of each session (about one student in thirty absent, a
    /// few late); then the teacher closes `month`, and the sync service sends its
    /// totals to the city database.
    pub(super) async fn attendance(
        &self,
        classes: &[SeededClass],
        days: &[time::Date],
        month: &str,
        credentials: &Credentials,
    ) -> anyhow::Result<()> {
        let this_month = crate::dates::local_today().replace_day(1)?;
        let attendance =
            AttendanceServiceClient::new(session::connect(&self.attendance_url).await?);
        let auth = AuthServiceClient::new(session::connect(&credentials.identity_url).await?);
        eprintln!(
            "roll calls of {} school days, then {month} closed",
            days.len()
        );
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
                        for (session, start) in [
                            (att::Session::Morning, time!(7:35)),
                            (att::Session::Afternoon, time!(13:35)),
                        ] {
                            let key = format!("{}:{day}:{}", class.id, session as i32);
                            let taken_at = day.with_time(start).assume_offset(offset!(+7));
                            let request = att::SubmitRollCallRequest {
                                request_id: rid(&format!("rollcall:{key}")),
                                class_id: class.id.clone(),
                                date: day.to_string(),
                                session: session as i32,
                                marks: exceptions(&class.students, &key, 100),
                                taken_at: rfc3339(taken_at)?,
                            };
                            match attendance
                                .submit_roll_call(session::authorised(request, &teacher)?)
                                .await
                            {
                                Ok(_) => {}
                                // A seed on an earlier day closed that month: its
                                // roll calls stay as they were then.
                                Err(status)
                                    if *day < this_month
                                        && status.code() == tonic::Code::FailedPrecondition => {}
                                Err(status) => {
                                    return Err(anyhow::Error::from(status).context(format!(
                                        "the roll call of {} on {day}",
                                        class.name
                                    )));
                                }
                            }
                        }
                    }
                    let request = att::CloseMonthRequest {
                        request_id: rid(&format!("close:{}:{month}", class.id)),
                        class_id: class.id.clone(),
                        month: month.to_owned(),
                    };
                    attendance
                        .close_month(session::authorised(request, &teacher)?)
                        .await
                        .with_context(|| format!("closing {month} of {}", class.name))?;
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

fn rfc3339(at: time::OffsetDateTime) -> anyhow::Result<String> {
    Ok(at.format(&time::format_description::well_known::Rfc3339)?)
}
