//! A rebuild's end: caught up, swapped in by one replica, the old generation
//! dropped after the others have moved off it.

use super::schemas::ForgetGeneration;
use super::{Model, ReadModels, SWAP_GRACE};

impl ReadModels {
    /// Whether the rebuild's consumer has applied (and acknowledged) everything its
    /// stream holds.
    pub(super) async fn caught_up(&self, model: Model, generation: i64) -> bool {
        self.consumer_info(model, generation)
            .await
            .is_some_and(|info| info.num_pending == 0 && info.num_ack_pending == 0)
    }

    /// Makes `generation` the live one, unless another replica did first.
    pub(super) async fn swap(&self, model: Model, generation: i64) -> sqlx::Result<bool> {
        let swapped = sqlx::query(
            "UPDATE read_models SET generation = $2, rebuilding_generation = NULL, last_swapped_at = now() \
             WHERE name = $1 AND rebuilding_generation = $2",
        )
        .bind(model.name())
        .bind(generation)
        .execute(&self.main)
        .await?
        .rows_affected()
            == 1;
        if swapped {
            tracing::info!(
                read_model = model.name(),
                generation,
                "rebuild caught up; swapped"
            );
        }
        Ok(swapped)
    }

    /// Drops an old generation once the other replicas have moved off it.
    pub(super) fn forget_later(&self, model: Model, generation: i64) {
        let this = self.forgetter();
        tokio::spawn(async move {
            tokio::time::sleep(SWAP_GRACE).await;
            if let Err(error) = this.forget(model, generation).await {
                tracing::warn!(read_model = model.name(), generation, error = ?error, "dropping an old generation failed");
            }
        });
    }

    pub(super) async fn forget_generation(
        &self,
        model: Model,
        generation: i64,
    ) -> anyhow::Result<()> {
        self.forgetter().forget(model, generation).await
    }

    fn forgetter(&self) -> ForgetGeneration {
        ForgetGeneration {
            config: self.config.clone(),
            main: self.main.clone(),
            jetstream: self.jetstream.clone(),
        }
    }
}
