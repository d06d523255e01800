//! A generation's schema and consumer names, its tables created and dropped, and
//! the pool that reads the live generations.

use std::collections::HashMap;

use anyhow::Context as _;
use async_nats::jetstream;
use kernel::config::{KernelConfig, stream_name_in};
use sqlx::PgPool;

use super::Model;

/// When a new generation's secondary indexes are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexes {
    Now,
    AfterReplay,
}

pub(crate) fn schema_name(base: &str, model: Model, generation: i64) -> String {
    format!("{base}_{}_g{generation}", model.name())
}

pub(crate) fn consumer_name(model: Model, generation: i64) -> String {
    format!("reporting-{}-g{generation}", model.name())
}

pub(super) async fn create_schema_unless_exists(
    conn: &mut sqlx::PgConnection,
    model: Model,
    schema: &str,
    indexes: Indexes,
) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await?;
    if exists {
        return Ok(());
    }
    kernel::db::ensure_schema(conn, schema).await?;
    let search_path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut *conn)
        .await?;
    let ddl = match indexes {
        Indexes::Now => format!(
            "SET LOCAL search_path TO {schema}; {} {}",
            model.tables(),
            model.indexes()
        ),
        Indexes::AfterReplay => format!("SET LOCAL search_path TO {schema}; {}", model.tables()),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("creating the tables of {schema}"))?;
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(search_path)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What dropping a generation needs, apart from the supervisor.
pub(super) struct ForgetGeneration {
    pub(super) config: KernelConfig,
    pub(super) main: PgPool,
    pub(super) jetstream: jetstream::Context,
}

impl ForgetGeneration {
    /// Deletes the generation's durable consumer, its consumer bookkeeping and its
    /// schema.
    pub(super) async fn forget(&self, model: Model, generation: i64) -> anyhow::Result<()> {
        let name = consumer_name(model, generation);
        let stream = stream_name_in(&self.config.namespace, model.publisher());
        let mut tx = self.main.begin().await?;
        kernel::consumer::forget_consumer(&mut tx, &self.jetstream, &stream, &name).await?;
        kernel::db::drop_schema(
            &mut tx,
            &schema_name(&self.config.schema, model, generation),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(read_model = model.name(), generation, "generation dropped");
        Ok(())
    }
}

/// A pool that reads the given generation of each read model.
pub(super) async fn query_pool(
    config: &KernelConfig,
    live: &HashMap<Model, i64>,
) -> anyhow::Result<PgPool> {
    let mut schemas: Vec<String> = live
        .iter()
        .map(|(model, generation)| schema_name(&config.schema, *model, *generation))
        .collect();
    schemas.sort();
    schemas.push(config.schema.clone());
    let schemas: Vec<&str> = schemas.iter().map(String::as_str).collect();
    kernel::db::connect_with_search_path(config, &schemas, config.db_max_connections).await
}
