//! `lienlac report`: the reporting service's figures as tables in the terminal,
//! or JSON; and the month's attendance sheet as a file.

use std::io::Write as _;

use anyhow::Context as _;
use lienlac_proto::reporting::v1 as pb;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tonic::transport::Channel;

use crate::credentials::Credentials;
use crate::dates;
use crate::directory::{Directory, Scope};
use crate::session;

/// The signed-in user's reporting client.
pub(crate) struct Reports {
    client: ReportingServiceClient<Channel>,
    credentials: Credentials,
    json: bool,
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

impl Reports {
    pub(crate) async fn connect(url: &str, json: bool) -> anyhow::Result<Self> {
        let credentials = session::current().await?;
        Ok(Self {
            client: ReportingServiceClient::new(session::connect(url).await?),
            credentials,
            json,
        })
    }

    fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        session::authorised(message, &self.credentials)
    }

    fn print_json(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    pub(crate) async fn school(
        &mut self,
        school: Option<String>,
        date: String,
    ) -> anyhow::Result<()> {
        let school_id = match school {
            Some(school) => school,
            None => {
                Directory::connect(&self.credentials)
                    .await?
                    .own_scope(Scope::School)
                    .await?
            }
        };
        let request = self.request(pb::GetSchoolDailySummaryRequest { school_id, date })?;
        let summary = self
            .client
            .get_school_daily_summary(request)
            .await?
            .into_inner();
        if self.json {
            return self.print_json(&summary);
        }
        println!(
            "{} — {}{}",
            summary.school_name,
            summary.date,
            if summary.closed { " (closed)" } else { "" }
        );
        print_sessions(&summary.sessions);
        Ok(())
    }

    pub(crate) async fn district(
        &mut self,
        district: Option<String>,
        date: String,
    ) -> anyhow::Result<()> {
        let district_id = match district {
            Some(district) => district,
            None => {
                Directory::connect(&self.credentials)
                    .await?
                    .own_scope(Scope::District)
                    .await?
            }
        };
        let request = self.request(pb::GetDistrictDailySummaryRequest { district_id, date })?;
        let summary = self
            .client
            .get_district_daily_summary(request)
            .await?
            .into_inner();
        if self.json {
            return self.print_json(&summary);
        }
        println!("district {} — {}", summary.district_id, summary.date);
        println!(
            "{:<36} {:<10} {:>9} {:>9} {:>7} {:>7} {:>9} {:>5} {:>8}",
            "school",
            "session",
            "classes",
            "submitted",
            "present",
            "excused",
            "unexcused",
            "late",
            "absent"
        );
        for school in &summary.schools {
            for session in &school.sessions {
                print_session_row(&school.school_name, session);
            }
        }
        for session in &summary.totals {
            print_session_row("all schools", session);
        }
        Ok(())
    }

    pub(crate) async fn class(
        &mut self,
        class_id: String,
        from: String,
        to: String,
    ) -> anyhow::Result<()> {
        let request = self.request(pb::GetClassAttendanceRequest {
            class_id,
            from_date: from,
            to_date: to,
        })?;
        let class = self
            .client
            .get_class_attendance(request)
            .await?
            .into_inner();
        if self.json {
            return self.print_json(&class);
        }
        println!("class {}", class.class_name);
        println!(
            "{:<12} {:<10} {:>7} {:>7} {:>9} {:>5}  not present",
            "date", "session", "present", "excused", "unexcused", "late"
        );
        for roll_call in &class.roll_calls {
            let counts = roll_call.counts.unwrap_or_default();
            let not_present: Vec<String> = roll_call
                .marks
                .iter()
                .filter(|mark| {
                    mark.status != lienlac_proto::attendance::v1::AttendanceStatus::Present as i32
                })
                .map(|mark| mark.full_name.clone())
                .collect();
            println!(
                "{:<12} {:<10} {:>7} {:>7} {:>9} {:>5}  {}",
                roll_call.date,
                dates::session_name(roll_call.session),
                counts.present,
                counts.absent_excused,
                counts.absent_unexcused,
                counts.late,
                not_present.join(", ")
            );
        }
        Ok(())
    }

    pub(crate) async fn adoption(
        &mut self,
        school: Option<String>,
        district: Option<String>,
        from: String,
        to: String,
    ) -> anyhow::Result<()> {
        let (school_id, district_id) = match (school, district) {
            (Some(school), None) => (school, String::new()),
            (None, Some(district)) => (String::new(), district),
            // A school's people see their school; the district office its district.
            (None, None) => {
                Directory::connect(&self.credentials)
                    .await?
                    .own_school_or_district()
                    .await?
            }
            (Some(_), Some(_)) => anyhow::bail!("give --school or --district, not both"),
        };
        let request = self.request(pb::GetAdoptionReportRequest {
            school_id,
            district_id,
            from_date: from,
            to_date: to,
        })?;
        let report = self.client.get_adoption_report(request).await?.into_inner();
        if self.json {
            return self.print_json(&report);
        }
        println!(
            "adoption {} to {} (totals transferred: {})",
            report.from_date, report.to_date, report.transfer_month
        );
        println!(
            "{:<36} {:>11} {:>13} {:>16} {:>12} {:>19} {:>8}",
            "school",
            "staff",
            "signed in",
            "homeroom daily",
            "transferred",
            "guardians active",
            "on time"
        );
        let row = |name: &str, figures: &pb::AdoptionFigures| {
            println!(
                "{:<36} {:>11} {:>13} {:>16} {:>12} {:>19} {:>8}",
                name,
                format!("{}/{}", figures.staff_activated, figures.staff_total),
                format!("{}/{}", figures.staff_signed_in, figures.staff_total),
                format!(
                    "{}/{}",
                    figures.homeroom_teachers_regular, figures.homeroom_teachers_total
                ),
                format!(
                    "{}/{}",
                    figures.homeroom_teachers_transferred, figures.homeroom_teachers_total
                ),
                format!(
                    "{}/{}",
                    figures.guardians_activated, figures.guardians_total
                ),
                format!(
                    "{}/{}",
                    figures.roll_calls_on_time, figures.roll_calls_submitted
                ),
            );
        };
        for school in &report.schools {
            row(&school.school_name, &school.figures.unwrap_or_default());
        }
        if report.schools.len() > 1 {
            row("all schools", &report.totals.unwrap_or_default());
        }
        Ok(())
    }

    /// Writes the month's sheet to `output` (the server's file name by default).
    pub(crate) async fn export(
        &mut self,
        request: pb::ExportAttendanceRequest,
        output: Option<std::path::PathBuf>,
    ) -> anyhow::Result<()> {
        let request = self.request(request)?;
        let mut chunks = self.client.export_attendance(request).await?.into_inner();
        // The whole file arrives before anything is written: a stream cut short
        // leaves no half sheet, and an existing file is replaced only by a whole one.
        let mut name = String::new();
        let mut data = Vec::new();
        while let Some(chunk) = chunks.message().await? {
            if name.is_empty() {
                name = chunk.file_name;
            }
            data.extend_from_slice(&chunk.data);
        }
        anyhow::ensure!(!name.is_empty(), "the service sent no file");
        // The service's name, without any directory in it.
        let path = match output {
            Some(path) => path,
            None => std::path::Path::new(&name)
                .file_name()
                .map(std::path::PathBuf::from)
                .context("the service sent a file without a name")?,
        };
        let mut partial = path.clone().into_os_string();
        partial.push(".part");
        std::fs::File::create(&partial)
            .and_then(|mut file| file.write_all(&data))
            .and_then(|()| std::fs::rename(&partial, &path))
            .with_context(|| format!("writing {}", path.display()))?;
        let written = data.len();
        if self.json {
            println!("{}", serde_json::json!({ "file": path, "bytes": written }));
        } else {
            println!("wrote {} ({written} bytes)", path.display());
        }
        Ok(())
    }
}

fn print_sessions(sessions: &[pb::SessionSummary]) {
    println!(
        "{:<36} {:<10} {:>9} {:>9} {:>7} {:>7} {:>9} {:>5} {:>8}",
        "", "session", "classes", "submitted", "present", "excused", "unexcused", "late", "absent"
    );
    for session in sessions {
        print_session_row("", session);
        if !session.missing.is_empty() {
            let names: Vec<&str> = session
                .missing
                .iter()
                .map(|class| class.name.as_str())
                .collect();
            println!("{:<36}   no roll call yet: {}", "", names.join(", "));
        }
    }
}

fn print_session_row(name: &str, session: &pb::SessionSummary) {
    let counts = session.counts.unwrap_or_default();
    println!(
        "{:<36} {:<10} {:>9} {:>9} {:>7} {:>7} {:>9} {:>5} {:>8}",
        name,
        dates::session_name(session.session),
        session.classes_total,
        session.classes_submitted,
        counts.present,
        counts.absent_excused,
        counts.absent_unexcused,
        counts.late,
        percent(session.absence_rate)
    );
}
