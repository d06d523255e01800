//! A run's plan as a file for the school's IT officer: every change and every
//! row error, as CSV (one table, a `section` column telling them apart) or JSON.

use kernel::error::{AppError, AppResult};
use lienlac_proto::sync::v1 as pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Json,
}

pub(crate) fn file(run: &pb::SyncRun, format: Format) -> AppResult<pb::SyncRunExport> {
    let stem = format!("sync-run-{}", run.id);
    Ok(match format {
        Format::Json => pb::SyncRunExport {
            content_type: "application/json".to_owned(),
            file_name: format!("{stem}.json"),
            content: serde_json::to_vec_pretty(run).map_err(|e| AppError::Unexpected(e.into()))?,
        },
        Format::Csv => pb::SyncRunExport {
            content_type: "text/csv; charset=utf-8".to_owned(),
            file_name: format!("{stem}.csv"),
            content: csv(run).map_err(AppError::Unexpected)?,
        },
    })
}

fn csv(run: &pb::SyncRun) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "section",
        "kind",
        "external_ref",
        "school_ref",
        "class_ref",
        "detail",
        "status",
        "reason",
        "source",
        "line",
        "column",
    ])?;
    for change in &run.changes {
        writer.write_record([
            "change",
            &change.kind,
            &change.external_ref,
            &change.school_ref,
            &change.class_ref,
            &change.detail,
            &change.status,
            &change.refusal,
            "",
            "",
            "",
        ])?;
    }
    for error in &run.row_errors {
        writer.write_record([
            "row_error",
            "",
            &error.external_ref,
            "",
            "",
            "",
            "",
            &error.message,
            &error.source,
            &error.line.to_string(),
            &error.column,
        ])?;
    }
    Ok(writer.into_inner()?)
}
