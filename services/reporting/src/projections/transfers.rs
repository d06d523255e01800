//! Sync's MonthTotalsPushed as the month's totals each class transferred to the
//! city database: sent, or refused (for an amended close, the latest push).

use kernel::consumer::{Projection, ReceivedEvent};
use lienlac_proto::sync::v1 as sync;
use school::enrolments::uuid;
use sqlx::PgConnection;

pub(crate) struct TransfersProjection {
    name: String,
}

impl TransfersProjection {
    pub(crate) fn new(name: String) -> Self {
        Self { name }
    }
}

impl Projection for TransfersProjection {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        if event.name() != "MonthTotalsPushed" {
            return Ok(());
        }
        let pushed: sync::MonthTotalsPushed = event.decode()?;
        sqlx::query(
            "INSERT INTO month_transfers (class_id, month, sent, sequence) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (class_id, month) DO UPDATE SET sent = excluded.sent, sequence = excluded.sequence \
             WHERE month_transfers.sequence < excluded.sequence",
        )
        .bind(uuid("class_id", &pushed.class_id)?)
        .bind(&pushed.month)
        .bind(pushed.outcome == "sent")
        .bind(event.sequence)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE month_transfers")
            .execute(conn)
            .await?;
        Ok(())
    }
}
