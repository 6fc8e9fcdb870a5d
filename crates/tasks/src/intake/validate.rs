//! What the gateway learns from records before publishing them, kept light: lines that are not
//! JSON, and which records must share a chunk. Records that name the same profile or claim the
//! same identity (or the same app of a profile) are grouped, so that one worker applies them
//! in input order and decides which of them wins; full validation happens once, in the worker.
//! A lone selector record turns a `get_*` task into an export of whole sets of profiles.

use crate::error::TaskError;
use serde_json::Value;
use std::collections::HashMap;
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::record::{
    ExportRequest, ExportTarget, RecordKeys, is_selector, parse_export_record, record_keys,
};
use userhub_domain::{FieldError, MatchBy, TaskAction};

/// What the gateway learnt about one record.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Problems found; empty when the record goes to a worker for processing.
    pub errors: Vec<FieldError>,
    /// Records with the same key must share a chunk.
    pub key: Option<i64>,
}

/// How a request's records are to be processed.
#[derive(Debug)]
pub enum Plan {
    /// Record by record, with the verdict of each.
    Records(Vec<Verdict>),
    /// An export of every profile the selector picks.
    Selector(Value),
}

/// The keys that tie a record to others of its task: the profile it names and the identities
/// (or app) it claims.
fn grouping_keys(action: TaskAction, match_by: Option<&MatchBy>, keys: &RecordKeys) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let identities = |out: &mut Vec<String>| {
        out.extend(
            keys.identities
                .iter()
                .map(|(kind, normalized)| format!("{}:{normalized}", kind.as_str())),
        );
    };
    let core_id = |out: &mut Vec<String>| {
        if let Some(id) = keys.core_profile_id {
            out.push(format!("id:{id}"));
        }
    };
    match action {
        TaskAction::CreateCoreProfiles => identities(&mut out),
        TaskAction::UpdateCoreProfiles => {
            core_id(&mut out);
            identities(&mut out);
        }
        TaskAction::UpsertCoreProfiles => {
            identities(&mut out);
            match match_by {
                Some(MatchBy::CoreProfileId) => core_id(&mut out),
                Some(MatchBy::CustomField(name)) => {
                    if let Some(key) = &keys.custom_match {
                        out.push(format!("custom:{name}:{key}"));
                    }
                }
                _ => {}
            }
        }
        TaskAction::CreateAppProfiles | TaskAction::GetCoreProfiles => core_id(&mut out),
        TaskAction::UpdateAppProfiles | TaskAction::GetAppProfiles => {
            if let Some(pid) = &keys.pid {
                out.push(format!("pid:{pid}"));
            }
        }
        // Each record names a different profile.
        TaskAction::RevertProfiles => {}
    }
    out
}

/// Disjoint sets of record positions (union by size, path halving), grown one record at a time.
#[derive(Debug, Default)]
struct Groups {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl Groups {
    fn add(&mut self) -> u32 {
        let at = self.parent.len() as u32;
        self.parent.push(at);
        self.size.push(1);
        at
    }

    fn find(&mut self, mut at: u32) -> u32 {
        while self.parent[at as usize] != at {
            let grandparent = self.parent[self.parent[at as usize] as usize];
            self.parent[at as usize] = grandparent;
            at = grandparent;
        }
        at
    }

    fn join(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (big, small) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// Finds which records must share a chunk, fed one record at a time so that a file of any
/// length needs only its keys in memory: a 64-bit hash per grouping key (two keys that collide
/// only put their records in one chunk) and a few integers per record.
#[derive(Debug)]
pub struct KeyGrouper<'a> {
    action: TaskAction,
    match_by: Option<&'a MatchBy>,
    groups: Groups,
    first_with: HashMap<u64, u32>,
    keyed: Vec<bool>,
}

fn key_hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same key hashes alike in every chunk of one file.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl<'a> KeyGrouper<'a> {
    pub fn new(action: TaskAction, match_by: Option<&'a MatchBy>) -> KeyGrouper<'a> {
        KeyGrouper {
            action,
            match_by,
            groups: Groups::default(),
            first_with: HashMap::new(),
            keyed: Vec::new(),
        }
    }

    /// The hashes of `record`'s grouping keys (none for a line that is not JSON), for
    /// [`KeyGrouper::push_hashes`]. Reads nothing but the record, so that the records of a
    /// large file can be read on several threads ([`KeyGrouper::hashes_of`]).
    pub fn key_hashes(&self, record: &RawRecord) -> Vec<u64> {
        let RecordContent::Json(json) = &record.content else {
            return Vec::new();
        };
        let custom_field = match self.match_by {
            Some(MatchBy::CustomField(name)) => Some(name.as_str()),
            _ => None,
        };
        let keys = record_keys(json.get(), custom_field);
        grouping_keys(self.action, self.match_by, &keys)
            .iter()
            .map(|key| key_hash(key))
            .collect()
    }

    /// Each record's [`KeyGrouper::key_hashes`], in order, read on up to `threads` threads.
    pub fn hashes_of(&self, records: &[RawRecord], threads: usize) -> Vec<Vec<u64>> {
        /// Fewer records than this per thread are read on the caller's thread alone.
        const MIN_PER_THREAD: usize = 256;
        let threads = threads
            .clamp(1, 8)
            .min(records.len() / MIN_PER_THREAD)
            .max(1);
        let per_thread = records.len().div_ceil(threads);
        let read = |part: &[RawRecord]| -> Vec<Vec<u64>> {
            part.iter().map(|record| self.key_hashes(record)).collect()
        };
        if threads == 1 {
            return read(records);
        }
        let (first, rest) = records.split_at(per_thread);
        std::thread::scope(|scope| {
            let others: Vec<_> = rest
                .chunks(per_thread)
                .map(|part| scope.spawn(move || read(part)))
                .collect();
            let mut hashes = read(first);
            for other in others {
                match other.join() {
                    Ok(part) => hashes.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            hashes
        })
    }

    /// Takes the next record in input order.
    pub fn push(&mut self, record: &RawRecord) {
        let hashes = self.key_hashes(record);
        self.push_hashes(&hashes);
    }

    /// Takes the next record in input order, given its [`KeyGrouper::key_hashes`].
    pub fn push_hashes(&mut self, hashes: &[u64]) {
        let at = self.groups.add();
        self.keyed.push(!hashes.is_empty());
        for &hash in hashes {
            match self.first_with.entry(hash) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    let first = *first.get();
                    self.groups.join(first, at);
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
        }
    }

    /// Each record's group (records of one group share a chunk), or `None` for a record tied to
    /// no other.
    pub fn finish(mut self) -> Vec<Option<i64>> {
        (0..self.keyed.len())
            .map(|at| self.keyed[at].then(|| i64::from(self.groups.find(at as u32))))
            .collect()
    }
}

fn is_export(action: TaskAction) -> bool {
    matches!(
        action,
        TaskAction::GetCoreProfiles | TaskAction::GetAppProfiles
    )
}

/// A lone selector record's plan, if the task is an export by selector.
fn selector_plan(action: TaskAction, records: &[RawRecord]) -> Result<Option<Plan>, TaskError> {
    if !is_export(action) {
        return Ok(None);
    }
    let selectors = records
        .iter()
        .filter(|record| matches!(&record.content, RecordContent::Json(json) if is_selector(json.get())))
        .count();
    if selectors == 0 {
        return Ok(None);
    }
    if records.len() > 1 {
        return Err(TaskError::SelectorNotAlone);
    }
    let RecordContent::Json(json) = &records[0].content else {
        return Ok(None);
    };
    let target = if action == TaskAction::GetAppProfiles {
        ExportTarget::AppProfiles
    } else {
        ExportTarget::CoreProfiles
    };
    Ok(Some(match parse_export_record(json.get(), target) {
        Ok(ExportRequest::Selector(_)) => {
            Plan::Selector(serde_json::from_str(json.get()).unwrap_or(Value::Null))
        }
        Ok(_) => return Ok(None),
        Err(errors) => Plan::Records(vec![Verdict { errors, key: None }]),
    }))
}

/// Checks the records of a payload for `action`, in input order: lines that are not JSON,
/// which records share a chunk, and whether it is an export by selector.
pub fn validate_records(
    action: TaskAction,
    match_by: Option<&MatchBy>,
    records: &[RawRecord],
) -> Result<Plan, TaskError> {
    if let Some(plan) = selector_plan(action, records)? {
        return Ok(plan);
    }
    let mut grouper = KeyGrouper::new(action, match_by);
    for record in records {
        grouper.push(record);
    }
    let keys = grouper.finish();
    Ok(Plan::Records(
        records
            .iter()
            .zip(keys)
            .map(|(record, key)| match &record.content {
                RecordContent::Broken { error, .. } => Verdict {
                    errors: vec![error.clone()],
                    key: None,
                },
                RecordContent::Json(_) => Verdict {
                    errors: Vec::new(),
                    key,
                },
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::records;
    use userhub_domain::{ErrorCode, IdentityKind};

    fn keys(action: TaskAction, match_by: Option<&MatchBy>, text: &str) -> Vec<Option<i64>> {
        match validate_records(action, match_by, &records(text)).unwrap() {
            Plan::Records(verdicts) => verdicts.into_iter().map(|v| v.key).collect(),
            Plan::Selector(_) => panic!("not a selector"),
        }
    }

    #[test]
    fn hashes_read_on_several_threads_group_as_read_on_one() {
        // Records tied to others far away in the file, and lines that are not JSON.
        let lines: String = (0..3_000)
            .map(|n| match n % 7 {
                0 => "{not json\n".to_owned(),
                _ => format!(
                    "{{\"identities\":[{{\"uid\":\"u{n}\"}},{{\"email\":\"e{}@x.io\"}}]}}\n",
                    (n * 7919) % 500
                ),
            })
            .collect();
        let records = records(&lines);
        let grouper = KeyGrouper::new(TaskAction::CreateCoreProfiles, None);
        let one = grouper.hashes_of(&records, 1);
        assert_eq!(one.len(), records.len());
        assert!(one.iter().filter(|hashes| hashes.is_empty()).count() > 400);
        for threads in [2, 3, 8] {
            assert_eq!(
                grouper.hashes_of(&records, threads),
                one,
                "{threads} threads"
            );
        }
        let mut by_record = KeyGrouper::new(TaskAction::CreateCoreProfiles, None);
        let mut by_hashes = KeyGrouper::new(TaskAction::CreateCoreProfiles, None);
        for (record, hashes) in records.iter().zip(&grouper.hashes_of(&records, 2)) {
            by_record.push(record);
            by_hashes.push_hashes(hashes);
        }
        assert_eq!(by_record.finish(), by_hashes.finish());
    }

    #[test]
    fn creates_claiming_one_identity_share_a_chunk() {
        let input = "{\"identities\":[{\"email\":\"A@x.io\"}]}\n{\"identities\":[{\"uid\":\"u\"}]}\n{\"identities\":[{\"uid\":\"v\"},{\"email\":\"a@X.io\"}]}\n";
        let keys = keys(TaskAction::CreateCoreProfiles, None, input);
        assert_eq!(keys[0], keys[2]);
        assert_ne!(keys[0], keys[1]);
    }

    #[test]
    fn updates_group_by_profile_and_by_the_identities_they_add() {
        let input = "{\"core-profile-id\":5,\"age\":3}\n\
                     {\"core-profile-id\":6,\"identities\":[{\"uid\":\"u\"}]}\n\
                     {\"core-profile-id\":\"5\",\"identities\":[{\"uid\":\"u\"}]}\n\
                     {\"core-profile-id\":7}\n";
        let keys = keys(TaskAction::UpdateCoreProfiles, None, input);
        assert_eq!(keys[0], keys[1], "5 and 6 are tied by uid u");
        assert_eq!(keys[0], keys[2]);
        assert_ne!(keys[0], keys[3]);
    }

    #[test]
    fn upserts_group_by_match_key_and_identities() {
        let by_email = MatchBy::Identity(IdentityKind::Email);
        let input = "{\"identities\":[{\"email\":\"a@x\"}]}\n{\"identities\":[{\"email\":\"b@x\"}]}\n{\"identities\":[{\"email\":\"A@x\"},{\"uid\":\"z\"}]}\n";
        let keys = keys(TaskAction::UpsertCoreProfiles, Some(&by_email), input);
        assert_eq!(keys[0], keys[2]);
        assert_ne!(keys[0], keys[1]);
        let by_crm = MatchBy::CustomField("crm".into());
        let input = "{\"custom_fields\":{\"crm\":1E2}}\n{\"custom_fields\":{\"crm\":\"100\"}}\n";
        let keys = super::tests::keys(TaskAction::UpsertCoreProfiles, Some(&by_crm), input);
        assert_eq!(
            keys[0], keys[1],
            "numbers and strings of one value are one key"
        );
    }

    #[test]
    fn a_lone_selector_makes_an_export_plan_and_mixing_is_refused() {
        let plan = validate_records(
            TaskAction::GetCoreProfiles,
            None,
            &records("{\"all\":true}\n"),
        )
        .unwrap();
        assert!(matches!(plan, Plan::Selector(_)));
        let mixed = validate_records(
            TaskAction::GetCoreProfiles,
            None,
            &records("{\"all\":true}\n{\"core-profile-id\":1}\n"),
        );
        assert!(matches!(mixed, Err(TaskError::SelectorNotAlone)));
        let bad = validate_records(
            TaskAction::GetAppProfiles,
            None,
            &records("{\"all\":false}\n"),
        )
        .unwrap();
        assert!(
            matches!(bad, Plan::Records(ref verdicts) if verdicts[0].errors[0].code == ErrorCode::InvalidValue)
        );
    }

    #[test]
    fn broken_lines_are_errors_and_full_validation_is_left_to_the_worker() {
        let plan = validate_records(
            TaskAction::CreateCoreProfiles,
            None,
            &records("{\"identities\":[]}\nnot json\n"),
        )
        .unwrap();
        let Plan::Records(verdicts) = plan else {
            panic!()
        };
        assert!(
            verdicts[0].errors.is_empty(),
            "the worker reports EMPTY_DATA"
        );
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::InvalidJson);
    }
}
