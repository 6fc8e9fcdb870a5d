//! Applying a chunk's core profile records in input order, in memory, to the profiles they
//! target — existing ones (locked and loaded), or new ones the chunk creates — with every rule
//! that needs the profile's state: identity ownership and claims, one uid, at most 30 identities
//! and 30 custom fields, and which fields really change. The result says, per record, what it
//! did, and per profile, what to write. Nothing here does I/O, so a run can be repeated with
//! fresher knowledge when the database disagrees (a concurrent chunk took an identity).

use std::collections::HashMap;
use userhub_domain::CoreProfileId;
use userhub_domain::limits::MAX_IDENTITIES;
use userhub_domain::profile::FieldSet;
use userhub_domain::profile::core::{
    CORE_PROFILE_ID_KEY, CoreField, CoreProfileFields, CoreProfileState,
};
use userhub_domain::record_error::identity_conflict;
use userhub_domain::values::version;
use userhub_domain::{ErrorCode, FieldError, Identity, IdentityKind, MatchBy};
use userhub_store::core_profiles::CustomFieldHolders;

/// At most this many profile ids are listed in an `AMBIGUOUS_MATCH` error.
pub const MAX_LISTED_MATCHES: usize = 10;

/// Which profile a record is meant for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A profile the record creates.
    New,
    /// An existing profile by id (an unknown id is `NOT_FOUND`).
    Id(CoreProfileId),
    /// An upsert's match key (see `CoreProfileUpsert::match_key`).
    Key(String),
}

/// One record to apply.
#[derive(Debug, Clone)]
pub struct Op<'a> {
    /// The record's index in its task (for `DUPLICATE_IN_PAYLOAD` details).
    pub index: u32,
    pub target: Target,
    pub identities: &'a [Identity],
    pub fields: &'a CoreProfileFields,
}

/// A loaded existing profile.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub state: CoreProfileState,
    pub identities: Vec<Identity>,
}

/// What the chunk knows about the database.
#[derive(Debug, Default)]
pub struct Knowledge {
    /// The locked existing profiles the records may target.
    pub loaded: HashMap<CoreProfileId, Existing>,
    /// Owners of identity keys (all of them after a conflict; before, at least the match keys).
    pub owners: HashMap<(IdentityKind, String), CoreProfileId>,
    pub match_by: Option<MatchBy>,
    /// For matching by a custom field: who holds each key.
    pub holders: HashMap<String, CustomFieldHolders>,
}

/// A profile the chunk touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Existing(CoreProfileId),
    /// The n-th profile the chunk creates.
    New(usize),
}

/// What one record did.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordResult {
    Created(Slot),
    /// Applied to a profile that existed (or that an earlier record of the chunk created).
    Updated(Slot, FieldSet<CoreField>),
    Failed(Vec<FieldError>),
}

/// What to write for one profile.
#[derive(Debug, Clone)]
pub struct ProfileWrite {
    pub slot: Slot,
    pub state: CoreProfileState,
    pub created: bool,
    /// For a profile that existed: the fields the chunk leaves different from what it found
    /// (records that undo each other change nothing). For a new one: the fields it set.
    pub changed: FieldSet<CoreField>,
    /// Identities to insert for it.
    pub new_identities: Vec<Identity>,
    /// Identities it already owned whose spelling or metadata the records changed.
    pub refreshed: Vec<Identity>,
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Simulation {
    pub results: Vec<RecordResult>,
    /// Every profile a record changed or created, in order of first touch.
    pub writes: Vec<ProfileWrite>,
    /// How many profiles the chunk creates.
    pub created: usize,
    /// Existing profiles some record needs that were not loaded: load them and run again.
    pub missing: Vec<CoreProfileId>,
}

struct Working {
    existing: bool,
    state: CoreProfileState,
    identities: Vec<Identity>,
    created: bool,
    changed: FieldSet<CoreField>,
    new_identities: Vec<Identity>,
    refreshed: Vec<Identity>,
}

struct Run<'k> {
    knowledge: &'k Knowledge,
    profiles: HashMap<Slot, Working>,
    order: Vec<Slot>,
    /// Identities added by earlier records of the chunk: to which profile, by which record.
    claims: HashMap<(IdentityKind, String), (Slot, u32)>,
    /// Profiles created by earlier records, by their match key.
    created_by_key: HashMap<String, Slot>,
    created: usize,
    missing: Vec<CoreProfileId>,
}

enum Resolved {
    Slot(Slot),
    Failed(FieldError),
    /// The profile exists but was not loaded.
    Missing(CoreProfileId),
}

fn key_of(identity: &Identity) -> (IdentityKind, String) {
    (identity.kind(), identity.normalized().to_owned())
}

impl<'k> Run<'k> {
    /// A run over `records` records, its maps sized for one profile and identity per record
    /// (growing them record by record rehashed each several times per chunk).
    fn new(knowledge: &'k Knowledge, records: usize) -> Run<'k> {
        Run {
            knowledge,
            profiles: HashMap::with_capacity(records),
            order: Vec::with_capacity(records),
            claims: HashMap::with_capacity(records),
            created_by_key: HashMap::new(),
            created: 0,
            missing: Vec::new(),
        }
    }

    fn knowledge(&self) -> &'k Knowledge {
        self.knowledge
    }

    fn existing(&self, id: CoreProfileId) -> Resolved {
        if self.knowledge().loaded.contains_key(&id) {
            Resolved::Slot(Slot::Existing(id))
        } else {
            Resolved::Missing(id)
        }
    }

    fn resolve(&self, target: &Target) -> Resolved {
        let knowledge = self.knowledge();
        match target {
            Target::New => Resolved::Slot(Slot::New(self.created)),
            Target::Id(id) => {
                if knowledge.loaded.contains_key(id) {
                    Resolved::Slot(Slot::Existing(*id))
                } else {
                    Resolved::Failed(FieldError::new(
                        CORE_PROFILE_ID_KEY,
                        ErrorCode::NotFound,
                        format!("core profile {id} does not exist"),
                    ))
                }
            }
            Target::Key(key) => match &knowledge.match_by {
                Some(MatchBy::Identity(kind)) => {
                    let identity = (*kind, key.clone());
                    if let Some((slot, _)) = self.claims.get(&identity) {
                        return Resolved::Slot(*slot);
                    }
                    match knowledge.owners.get(&identity) {
                        Some(owner) => self.existing(*owner),
                        None => Resolved::Slot(Slot::New(self.created)),
                    }
                }
                Some(MatchBy::CoreProfileId) => match key.parse::<CoreProfileId>().ok() {
                    Some(id) => self.resolve(&Target::Id(id)),
                    None => Resolved::Failed(FieldError::new(
                        CORE_PROFILE_ID_KEY,
                        ErrorCode::InvalidValue,
                        "not a profile id",
                    )),
                },
                Some(MatchBy::CustomField(name)) => {
                    if let Some(slot) = self.created_by_key.get(key) {
                        return Resolved::Slot(*slot);
                    }
                    match knowledge.holders.get(key) {
                        None => Resolved::Slot(Slot::New(self.created)),
                        Some(holders) if holders.total <= 0 => {
                            Resolved::Slot(Slot::New(self.created))
                        }
                        Some(holders) if holders.total == 1 => match holders.ids.first() {
                            Some(id) => self.existing(*id),
                            None => Resolved::Slot(Slot::New(self.created)),
                        },
                        Some(holders) => {
                            let listed: Vec<CoreProfileId> = holders
                                .ids
                                .iter()
                                .take(MAX_LISTED_MATCHES)
                                .copied()
                                .collect();
                            Resolved::Failed(
                                FieldError::new(
                                    format!("custom_fields.{name}"),
                                    ErrorCode::AmbiguousMatch,
                                    format!(
                                        "{} profiles hold `{key}` in custom field `{name}`; an \
                                         upsert needs exactly one",
                                        holders.total
                                    ),
                                )
                                .with_details(serde_json::json!({
                                    "core-profile-ids": listed,
                                    "total": holders.total,
                                })),
                            )
                        }
                    }
                }
                None => Resolved::Failed(FieldError::new(
                    "",
                    ErrorCode::ProcessingFailed,
                    "the task has no `match_by`",
                )),
            },
        }
    }

    /// The profile's state and identities as earlier records left them.
    fn view(&self, slot: Slot) -> (CoreProfileState, Vec<Identity>, bool) {
        if let Some(working) = self.profiles.get(&slot) {
            return (
                working.state.clone(),
                working.identities.clone(),
                working.existing || working.created,
            );
        }
        match slot {
            Slot::Existing(id) => {
                let existing = &self.knowledge().loaded[&id];
                (existing.state.clone(), existing.identities.clone(), true)
            }
            Slot::New(_) => (CoreProfileState::default(), Vec::new(), false),
        }
    }

    fn apply(&mut self, op: &Op<'_>) -> RecordResult {
        let slot = match self.resolve(&op.target) {
            Resolved::Slot(slot) => slot,
            Resolved::Failed(error) => return RecordResult::Failed(vec![error]),
            Resolved::Missing(id) => {
                self.missing.push(id);
                return RecordResult::Failed(Vec::new());
            }
        };
        let (mut state, identities, exists) = self.view(slot);
        // A stale record is refused before anything else is judged: it changes nothing.
        if let Err(stale) = version::guard(op.fields.version, state.version) {
            return RecordResult::Failed(vec![stale]);
        }
        let mut plan = self.plan_identities(slot, op, &identities, exists);
        let mut changed = match state.apply(op.fields) {
            Ok(changed) => changed,
            Err(error) => {
                plan.errors.push(error);
                FieldSet::default()
            }
        };
        if !plan.errors.is_empty() {
            return RecordResult::Failed(plan.errors);
        }
        if !plan.added.is_empty() || !plan.refreshed.is_empty() {
            changed.insert(CoreField::Identities);
        }
        let kept = Kept {
            state,
            identities,
            added: plan.added,
            refreshed: plan.refreshed,
            changed,
            creates: !exists,
        };
        self.keep(slot, op, kept);
        if exists {
            RecordResult::Updated(slot, changed)
        } else {
            RecordResult::Created(slot)
        }
    }

    /// Which of the record's identities the profile in `slot` (holding `identities`) gains,
    /// which it already has with new metadata, and why any may not be added.
    fn plan_identities<'o>(
        &self,
        slot: Slot,
        op: &Op<'o>,
        identities: &[Identity],
        exists: bool,
    ) -> IdentityPlan<'o> {
        let mut plan = IdentityPlan {
            added: Vec::new(),
            refreshed: Vec::new(),
            errors: Vec::new(),
        };
        if !exists && op.identities.is_empty() {
            plan.errors.push(FieldError::new(
                "identities",
                ErrorCode::MissingRequiredField,
                "a record that creates a profile needs at least one identity",
            ));
        }
        for identity in op.identities {
            let key = key_of(identity);
            if let Some(own) = identities
                .iter()
                .find(|own| own.kind() == key.0 && own.normalized() == key.1)
            {
                // The first spelling stays; metadata sent with a known identity replaces its own.
                if !identity.metadata().is_empty() && identity.metadata() != own.metadata() {
                    plan.refreshed.push(identity);
                }
                continue;
            }
            match self.refusal(slot, identity, identities, &plan.added) {
                Some(error) => plan.errors.push(error),
                None => plan.added.push(identity),
            }
        }
        let count = identities.len() + plan.added.len();
        if plan.errors.is_empty() && count > MAX_IDENTITIES {
            plan.errors.push(FieldError::new(
                "identities",
                ErrorCode::ExceededCountLimit,
                format!(
                    "a profile has at most {MAX_IDENTITIES} identities; this record would leave \
                     it with {count}"
                ),
            ));
        }
        plan
    }

    /// Why `identity` (new to the profile in `slot`) may not be added to it, if it may not: an
    /// earlier record adds it to another profile, another profile owns it, or it is a second
    /// uid.
    fn refusal(
        &self,
        slot: Slot,
        identity: &Identity,
        identities: &[Identity],
        added: &[&Identity],
    ) -> Option<FieldError> {
        let key = key_of(identity);
        if let Some((other, index)) = self.claims.get(&key)
            && *other != slot
        {
            return Some(
                FieldError::new(
                    identity.path(),
                    ErrorCode::DuplicateInPayload,
                    format!("record {index} of this payload already adds this identity"),
                )
                .with_details(serde_json::json!({ "index": index })),
            );
        }
        if let Some(owner) = self.knowledge().owners.get(&key)
            && Slot::Existing(*owner) != slot
        {
            return Some(identity_conflict(
                identity.path(),
                identity.kind().as_str(),
                Some(*owner),
            ));
        }
        if identity.kind() == IdentityKind::Uid {
            let other_uid = identities
                .iter()
                .chain(added.iter().copied())
                .find(|own| own.kind() == IdentityKind::Uid);
            if other_uid.is_some() {
                let who = match slot {
                    Slot::Existing(id) => format!("core profile {id}"),
                    Slot::New(_) => "the profile".to_owned(),
                };
                return Some(FieldError::new(
                    identity.path(),
                    ErrorCode::InvalidIdentity,
                    format!("{who} already has a different uid; a profile has at most one"),
                ));
            }
        }
        None
    }

    /// Records what an applied record left in `slot`, for the records after it and the
    /// chunk's writes.
    fn keep(&mut self, slot: Slot, op: &Op<'_>, kept: Kept<'_>) {
        let Kept {
            state,
            mut identities,
            added,
            refreshed,
            changed,
            creates,
        } = kept;
        for identity in &added {
            self.claims.insert(key_of(identity), (slot, op.index));
            identities.push((*identity).clone());
        }
        for identity in &refreshed {
            if let Some(own) = identities.iter_mut().find(|own| {
                own.kind() == identity.kind() && own.normalized() == identity.normalized()
            }) {
                *own = Identity::stored(
                    own.kind(),
                    own.value().to_owned(),
                    identity.metadata().clone(),
                );
            }
        }
        if creates {
            self.created += 1;
            if let Target::Key(key) = &op.target {
                self.created_by_key.insert(key.clone(), slot);
            }
        }
        if !self.profiles.contains_key(&slot) {
            self.order.push(slot);
        }
        let working = self.profiles.entry(slot).or_insert_with(|| Working {
            existing: matches!(slot, Slot::Existing(_)),
            state: CoreProfileState::default(),
            identities: Vec::new(),
            created: false,
            changed: FieldSet::default(),
            new_identities: Vec::new(),
            refreshed: Vec::new(),
        });
        working.state = state;
        working.changed = working.changed.union(changed);
        working.created |= creates;
        working
            .new_identities
            .extend(added.iter().map(|identity| (*identity).clone()));
        for identity in &refreshed {
            let stored = identities
                .iter()
                .find(|own| {
                    own.kind() == identity.kind() && own.normalized() == identity.normalized()
                })
                .cloned();
            if let Some(stored) = stored {
                working.keep_refreshed(stored);
            }
        }
        working.identities = identities;
    }
}

impl Working {
    /// Keeps the final form of an identity whose metadata a record refreshed: an identity this
    /// chunk added is written once, in its final form; a stored one is updated once.
    fn keep_refreshed(&mut self, stored: Identity) {
        let key = key_of(&stored);
        if self.new_identities.iter().any(|new| key_of(new) == key) {
            for new in self.new_identities.iter_mut() {
                if key_of(new) == key {
                    *new = stored.clone();
                }
            }
        } else {
            self.refreshed.retain(|old| key_of(old) != key);
            self.refreshed.push(stored);
        }
    }
}

/// The identities a record adds and refreshes, and its refusals.
struct IdentityPlan<'o> {
    added: Vec<&'o Identity>,
    refreshed: Vec<&'o Identity>,
    errors: Vec<FieldError>,
}

/// What an applied record leaves of its profile.
struct Kept<'o> {
    state: CoreProfileState,
    identities: Vec<Identity>,
    added: Vec<&'o Identity>,
    refreshed: Vec<&'o Identity>,
    changed: FieldSet<CoreField>,
    creates: bool,
}

/// Applies `ops` in order with what `knowledge` says about the database.
pub fn simulate(ops: &[Op<'_>], knowledge: &Knowledge) -> Simulation {
    let mut run = Run::new(knowledge, ops.len());
    let results = ops.iter().map(|op| run.apply(op)).collect();
    let writes = run
        .order
        .iter()
        .filter_map(|slot| {
            let working = run.profiles.remove(slot)?;
            let (changed, refreshed) = match slot {
                // What the chunk leaves different from what it found: records that undo each
                // other's changes change nothing (no write, no event).
                Slot::Existing(id) if !working.created => {
                    let loaded = &knowledge.loaded[id];
                    let refreshed: Vec<Identity> = working
                        .refreshed
                        .into_iter()
                        .filter(|identity| {
                            !loaded.identities.iter().any(|own| {
                                key_of(own) == key_of(identity)
                                    && own.metadata() == identity.metadata()
                            })
                        })
                        .collect();
                    let mut changed = loaded.state.differences(&working.state);
                    if !working.new_identities.is_empty() || !refreshed.is_empty() {
                        changed.insert(CoreField::Identities);
                    }
                    (changed, refreshed)
                }
                _ => (working.changed, working.refreshed),
            };
            Some(ProfileWrite {
                slot: *slot,
                state: working.state,
                created: working.created,
                changed,
                new_identities: working.new_identities,
                refreshed,
            })
        })
        .collect();
    let mut missing = run.missing;
    missing.sort_unstable();
    missing.dedup();
    Simulation {
        results,
        writes,
        created: run.created,
        missing,
    }
}

#[cfg(test)]
mod tests;
