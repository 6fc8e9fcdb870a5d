//! A task type for the protocol's tests: record `{"key": "k"}` writes a row of `probe_notes`
//! (task, index, key, order of writing); `{"refuse": "CODE"}` fails the record with that code
//! at parsing; `{"explode": true}` makes the whole chunk fail with a database error.

use serde::{Deserialize, Serialize};
use userhub_domain::{ErrorCode, FieldError, TaskAction};
use userhub_store::{StoreError, Transaction};
use userhub_tasks::testing::Protocol;
use userhub_tasks::{ChunkContext, Handled, Outcome, Preview, TaskHandler, Work};

/// The probe claims the create task type's queue (whose intake checks are the lightest).
pub const ACTION: TaskAction = TaskAction::CreateCoreProfiles;

#[derive(Debug, Default, Clone, Copy)]
pub struct Probe {
    pub in_order: bool,
}

#[derive(Debug, Deserialize)]
pub struct Note {
    #[serde(default)]
    key: String,
    #[serde(default)]
    refuse: Option<ErrorCode>,
    #[serde(default)]
    explode: bool,
}

#[derive(Debug, Serialize)]
pub struct Written {
    key: String,
}

/// Creates the probe's table in the protocol's database.
pub async fn install(protocol: &Protocol) {
    let client = protocol.pool().get().await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE probe_notes (task_id bigint NOT NULL, idx int NOT NULL, \
             key text NOT NULL, seq bigserial)",
        )
        .await
        .unwrap();
}

impl TaskHandler for Probe {
    type Input = Note;
    type Output = Written;

    fn action(&self) -> TaskAction {
        ACTION
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<Note, Vec<FieldError>> {
        let note: Note = serde_json::from_str(record).map_err(|error| {
            vec![FieldError::new(
                "",
                ErrorCode::InvalidValue,
                error.to_string(),
            )]
        })?;
        match note.refuse {
            Some(code) => Err(vec![FieldError::new("key", code, "refused by the probe")]),
            None => Ok(note),
        }
    }

    fn preview(&self, _: &Written) -> Option<Preview> {
        Some(Preview::Create)
    }

    fn applies_in_order(&self) -> bool {
        self.in_order
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<Note>],
    ) -> Result<Handled<Written>, StoreError> {
        let mut outcomes = Vec::with_capacity(records.len());
        for work in records {
            if work.input.explode {
                transaction.batch_execute("SELECT 1 / 0").await?;
            }
            transaction
                .execute(
                    "INSERT INTO probe_notes (task_id, idx, key) VALUES ($1, $2, $3)",
                    &[
                        &chunk.task_id.as_i64(),
                        &(work.index as i32),
                        &work.input.key,
                    ],
                )
                .await?;
            outcomes.push(Outcome::Succeeded(Written {
                key: work.input.key.clone(),
            }));
        }
        Ok(Handled {
            outcomes,
            changes: Vec::new(),
        })
    }
}

/// The keys the probe wrote for `task_id`, in the order it wrote them.
pub async fn written(protocol: &Protocol, task_id: userhub_domain::TaskId) -> Vec<(i32, String)> {
    let client = protocol.pool().get().await.unwrap();
    client
        .query(
            "SELECT idx, key FROM probe_notes WHERE task_id = $1 ORDER BY seq",
            &[&task_id.as_i64()],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}
