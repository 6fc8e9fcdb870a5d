//! The contract of one task type: [`TaskHandler`] parses a record and applies a chunk of them
//! inside the chunk's transaction, reporting one [`Outcome`] per record and the profiles it
//! changed; the protocol around it (gate, ledger, outcomes, events, commit) is this crate's.

use crate::replica::Replica;
use serde::Serialize;
use std::future::Future;
use userhub_domain::events::ProfileChange;
use userhub_domain::values::Version;
use userhub_domain::{CoreProfileId, DomainId};
use userhub_domain::{FieldError, TaskAction, TaskId, TaskOptions};
use userhub_store::exports::ExportKind;
use userhub_store::{StoreError, Transaction};

/// Which chunk is being applied.
#[derive(Debug, Clone)]
pub struct ChunkContext {
    pub task_id: TaskId,
    pub domain_id: DomainId,
    pub domain: String,
    pub chunk_no: u32,
    /// The task's options (EXT), e.g. an upsert's `match_by`.
    pub options: TaskOptions,
    /// Export task types: a read replica that shows everything committed before the chunk
    /// began, to read from instead of the chunk's transaction (`None`: read the transaction).
    pub replica: Option<Replica>,
}

/// A record that passed the gateway's checks and parsed into its task type's input.
#[derive(Debug)]
pub struct Work<I> {
    /// 0-based position in the task.
    pub index: u32,
    /// 1-based line of a JSONL upload.
    pub line: Option<u32>,
    pub input: I,
}

/// The outcome of one record: its results-file entry (besides `index` and `line`, which the
/// runtime writes), or its errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Succeeded(T),
    Failed(Vec<FieldError>),
}

/// An app profile named by a profile change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppProfileRef {
    pub pid: String,
    pub app_id: String,
}

/// A profile that a chunk created, changed or deleted, as the handler reports it; the runtime
/// turns it into a profile event unless the task skips triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChangeNote {
    /// The core profile (the owner, for an app profile).
    pub core_profile_id: CoreProfileId,
    /// Set for an app profile's change.
    pub app: Option<AppProfileRef>,
    pub change: ProfileChange,
    /// The top-level fields that changed, sorted.
    pub changed_fields: Vec<&'static str>,
    /// The profile's external version after the change, if it has one.
    pub version: Option<Version>,
}

fn created_or_updated(created: bool) -> ProfileChange {
    if created {
        ProfileChange::Created
    } else {
        ProfileChange::Updated
    }
}

impl ProfileChangeNote {
    /// A core profile created or changed.
    pub fn core(
        core_profile_id: CoreProfileId,
        created: bool,
        changed_fields: Vec<&'static str>,
    ) -> Self {
        ProfileChangeNote {
            core_profile_id,
            app: None,
            change: created_or_updated(created),
            changed_fields,
            version: None,
        }
    }

    /// A profile (core, or app when `app` is set) that a revert deleted.
    pub fn deleted(core_profile_id: CoreProfileId, app: Option<AppProfileRef>) -> Self {
        ProfileChangeNote {
            core_profile_id,
            app,
            change: ProfileChange::Deleted,
            changed_fields: Vec::new(),
            version: None,
        }
    }

    /// The note with the profile's version after the change.
    pub fn with_version(self, version: Option<Version>) -> Self {
        ProfileChangeNote { version, ..self }
    }

    /// Whether this note is about a core profile the chunk created.
    pub fn created_core_profile(&self) -> bool {
        self.app.is_none() && self.change == ProfileChange::Created
    }

    /// An app profile (of core profile `core_profile_id`) created or changed.
    pub fn app(
        core_profile_id: CoreProfileId,
        app: AppProfileRef,
        created: bool,
        changed_fields: Vec<&'static str>,
    ) -> Self {
        ProfileChangeNote {
            core_profile_id,
            app: Some(app),
            change: created_or_updated(created),
            changed_fields,
            version: None,
        }
    }
}

/// What a handler did with a chunk's records.
#[derive(Debug)]
pub struct Handled<T> {
    /// One outcome per record, in the order given.
    pub outcomes: Vec<Outcome<T>>,
    /// One note per profile created or changed.
    pub changes: Vec<ProfileChangeNote>,
}

/// A stored profile: a core profile by id or an app profile by pid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileKey {
    Core(CoreProfileId),
    App(String),
}

/// What a succeeded record of a write task did, for a dry run's results line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// It created a profile.
    Create,
    /// It was applied to an existing profile and changed `fields` (none: nothing changed).
    Update {
        key: ProfileKey,
        fields: Vec<&'static str>,
    },
}

/// One task type's processing of a chunk, inside the chunk's transaction.
pub trait TaskHandler: Send + Sync + 'static {
    /// A record as the task type reads it, parsed once from the record's text.
    type Input: Send + Sync + 'static;
    /// A succeeded record's results-file entry: serialised as a JSON object whose members
    /// follow `index` and `line`.
    type Output: Serialize + Send + 'static;

    fn action(&self) -> TaskAction;

    /// Parses one record's JSON text; errors go to the errors file.
    fn parse(&self, chunk: &ChunkContext, record: &str) -> Result<Self::Input, Vec<FieldError>>;

    /// Applies `records` with set-based SQL and returns one outcome per record, in order.
    /// Must not commit: the runtime commits effects, outcomes and progress together.
    fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<Self::Input>],
    ) -> impl Future<Output = Result<Handled<Self::Output>, StoreError>> + Send + 'a;

    /// For a write task's dry run: what a succeeded record did. `None` (read tasks): the
    /// record's own results line is kept.
    fn preview(&self, output: &Self::Output) -> Option<Preview> {
        let _ = output;
        None
    }

    /// Whether the task's chunks must be applied one after another, in chunk order (records of
    /// one profile may sit in different chunks, e.g. upserts reaching a profile by two keys).
    fn applies_in_order(&self) -> bool {
        false
    }

    /// For export task types: what an export selector reads. `None`: selectors are not
    /// supported by this task type.
    fn export_kind(&self) -> Option<ExportKind> {
        None
    }
}
