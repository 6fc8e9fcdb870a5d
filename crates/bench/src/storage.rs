//! What an import writes to disk: the profile tables' bytes per profile, the rest of the
//! database (task bookkeeping, emptied by retention) and the WAL per record — the measured
//! inputs of the capacity model (the WAL counts every database of the server: run it alone).

use crate::stack::Stack;

/// Positions taken before an import.
#[derive(Debug, Clone, Copy)]
pub struct StorageProbe {
    wal: i64,
    profiles: i64,
    database: i64,
}

/// Bytes per imported record.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoragePerRecord {
    pub profiles: f64,
    pub bookkeeping: f64,
    pub wal: f64,
}

async fn number(stack: &Stack, sql: &str) -> anyhow::Result<i64> {
    let client = stack.pool.get().await?;
    Ok(client.query_one(sql, &[]).await?.get(0))
}

impl StorageProbe {
    pub async fn start(stack: &Stack) -> anyhow::Result<StorageProbe> {
        Ok(StorageProbe {
            wal: number(stack, include_str!("../queries/wal_position.sql")).await?,
            profiles: number(stack, include_str!("../queries/profile_bytes.sql")).await?,
            database: number(stack, include_str!("../queries/database_bytes.sql")).await?,
        })
    }

    /// What `records` imported records wrote since the probe started.
    pub async fn per_record(
        &self,
        stack: &Stack,
        records: u64,
    ) -> anyhow::Result<StoragePerRecord> {
        let now = StorageProbe::start(stack).await?;
        let per = |bytes: i64| bytes as f64 / records.max(1) as f64;
        let profiles = now.profiles - self.profiles;
        Ok(StoragePerRecord {
            profiles: per(profiles),
            bookkeeping: per(now.database - self.database - profiles),
            wal: per(now.wal - self.wal),
        })
    }
}
