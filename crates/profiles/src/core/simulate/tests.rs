//! The rules of in-order application, without a database.

use super::*;
use userhub_domain::CoreProfileId;
use userhub_domain::profile::core::{CoreProfilePatch, CoreProfileUpsert, NewCoreProfile};
use userhub_domain::record::{
    parse_core_profile_patch, parse_core_profile_upsert, parse_new_core_profile,
};

fn create(text: &str) -> NewCoreProfile {
    parse_new_core_profile(text).unwrap()
}

fn patch(text: &str) -> CoreProfilePatch {
    parse_core_profile_patch(text).unwrap()
}

fn upsert(text: &str, match_by: &MatchBy) -> CoreProfileUpsert {
    parse_core_profile_upsert(text, match_by).unwrap()
}

fn create_ops(records: &[NewCoreProfile]) -> Vec<Op<'_>> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| Op {
            index: index as u32,
            target: Target::New,
            identities: &record.identities,
            fields: &record.fields,
        })
        .collect()
}

fn patch_ops(records: &[CoreProfilePatch]) -> Vec<Op<'_>> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| Op {
            index: index as u32,
            target: Target::Id(record.id),
            identities: &record.identities,
            fields: &record.fields,
        })
        .collect()
}

fn upsert_ops<'a>(records: &'a [CoreProfileUpsert], match_by: &MatchBy) -> Vec<Op<'a>> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| Op {
            index: index as u32,
            target: Target::Key(record.match_key(match_by).unwrap()),
            identities: &record.identities,
            fields: &record.fields,
        })
        .collect()
}

fn identity(kind: IdentityKind, value: &str) -> Identity {
    Identity::stored(kind, value.to_owned(), Default::default())
}

fn codes(result: &RecordResult) -> Vec<(String, ErrorCode)> {
    match result {
        RecordResult::Failed(errors) => errors.iter().map(|e| (e.field.clone(), e.code)).collect(),
        _ => Vec::new(),
    }
}

/// A valid core profile id.
fn id(n: i64) -> CoreProfileId {
    CoreProfileId::new(n).expect("a valid id")
}

fn loaded(id: CoreProfileId, identities: Vec<Identity>, state: CoreProfileState) -> Knowledge {
    let mut knowledge = Knowledge::default();
    knowledge.loaded.insert(id, Existing { state, identities });
    for identity in &knowledge.loaded[&id].identities.clone() {
        knowledge.owners.insert(key_of(identity), id);
    }
    knowledge
}

#[test]
fn the_first_of_two_creates_claiming_an_identity_gets_it_and_the_second_is_told_which() {
    let records = [
        create(r#"{"identities":[{"email":"A@x.io"}]}"#),
        create(r#"{"identities":[{"uid":"u"},{"email":"a@X.io"}]}"#),
    ];
    let run = simulate(&create_ops(&records), &Knowledge::default());
    assert_eq!(run.results[0], RecordResult::Created(Slot::New(0)));
    assert_eq!(
        codes(&run.results[1]),
        vec![(
            "identities[1].email".to_owned(),
            ErrorCode::DuplicateInPayload
        )]
    );
    assert_eq!(run.created, 1);
}

#[test]
fn a_failed_record_claims_nothing() {
    let records = [
        create(r#"{"identities":[{"email":"a@x.io"},{"uid":"taken"}]}"#),
        create(r#"{"identities":[{"email":"a@x.io"}]}"#),
    ];
    let mut knowledge = Knowledge::default();
    knowledge
        .owners
        .insert((IdentityKind::Uid, "taken".to_owned()), id(42));
    let run = simulate(&create_ops(&records), &knowledge);
    assert_eq!(
        codes(&run.results[0]),
        vec![("identities[1].uid".to_owned(), ErrorCode::IdentityConflict)]
    );
    assert_eq!(run.results[1], RecordResult::Created(Slot::New(0)));
}

#[test]
fn an_update_that_changes_nothing_reports_no_field() {
    let state = CoreProfileState {
        age: Some(30),
        ..CoreProfileState::default()
    };
    let knowledge = loaded(id(7), vec![identity(IdentityKind::Email, "a@x.io")], state);
    let records = [
        patch(r#"{"core-profile-id":7,"age":30,"identities":[{"email":"a@x.io"}]}"#),
        patch(r#"{"core-profile-id":7,"age":31}"#),
    ];
    let run = simulate(&patch_ops(&records), &knowledge);
    assert_eq!(
        run.results[0],
        RecordResult::Updated(Slot::Existing(id(7)), FieldSet::default())
    );
    let RecordResult::Updated(_, changed) = &run.results[1] else {
        panic!()
    };
    assert_eq!(changed.names(), vec!["age"]);
}

#[test]
fn the_identity_limit_holds_for_the_profile_not_only_the_record() {
    let knowledge = loaded(
        id(7),
        vec![identity(IdentityKind::Uid, "u")],
        CoreProfileState::default(),
    );
    let batch = |from: usize| {
        let identities: Vec<String> = (from..from + 29)
            .map(|i| format!(r#"{{"steam_id":"s{i}"}}"#))
            .collect();
        patch(&format!(
            r#"{{"core-profile-id":7,"identities":[{}]}}"#,
            identities.join(",")
        ))
    };
    let records = [batch(0), batch(100)];
    let run = simulate(&patch_ops(&records), &knowledge);
    assert!(matches!(run.results[0], RecordResult::Updated(..)));
    assert_eq!(
        codes(&run.results[1]),
        vec![("identities".to_owned(), ErrorCode::ExceededCountLimit)]
    );
}

#[test]
fn a_second_uid_is_refused_whoever_added_the_first() {
    let knowledge = loaded(id(7), vec![], CoreProfileState::default());
    let records = [
        patch(r#"{"core-profile-id":7,"identities":[{"uid":"one"}]}"#),
        patch(r#"{"core-profile-id":7,"identities":[{"uid":"two"}]}"#),
    ];
    let run = simulate(&patch_ops(&records), &knowledge);
    assert!(matches!(run.results[0], RecordResult::Updated(..)));
    assert_eq!(
        codes(&run.results[1]),
        vec![("identities[0].uid".to_owned(), ErrorCode::InvalidIdentity)]
    );
}

#[test]
fn unknown_ids_are_not_found() {
    let records = [patch(r#"{"core-profile-id":9,"age":3}"#)];
    let run = simulate(&patch_ops(&records), &Knowledge::default());
    assert_eq!(
        codes(&run.results[0]),
        vec![("core-profile-id".to_owned(), ErrorCode::NotFound)]
    );
}

#[test]
fn upserts_reach_a_profile_by_any_of_its_keys_in_input_order() {
    let by_email = MatchBy::Identity(IdentityKind::Email);
    let mut knowledge = loaded(
        id(7),
        vec![
            identity(IdentityKind::Email, "a@x"),
            identity(IdentityKind::Email, "b@x"),
        ],
        CoreProfileState::default(),
    );
    knowledge.match_by = Some(by_email.clone());
    let records = [
        upsert(
            r#"{"identities":[{"email":"a@x"}],"last_city":"v1"}"#,
            &by_email,
        ),
        upsert(
            r#"{"identities":[{"email":"a@x"}],"last_city":"v2"}"#,
            &by_email,
        ),
        upsert(
            r#"{"identities":[{"email":"b@x"}],"last_city":"v3"}"#,
            &by_email,
        ),
    ];
    let run = simulate(&upsert_ops(&records, &by_email), &knowledge);
    assert_eq!(run.writes.len(), 1);
    assert_eq!(run.writes[0].state.last_city.as_deref(), Some("v3"));
}

#[test]
fn a_second_identity_of_the_match_kind_is_added() {
    let by_email = MatchBy::Identity(IdentityKind::Email);
    let mut knowledge = loaded(
        id(7),
        vec![identity(IdentityKind::Email, "ann@x.com")],
        CoreProfileState::default(),
    );
    knowledge.match_by = Some(by_email.clone());
    let records = [upsert(
        r#"{"identities":[{"email":"ann@x.com","source":"crm"},{"email":"ann.work@x.com"},{"phone_number":"+100200"}]}"#,
        &by_email,
    )];
    let run = simulate(&upsert_ops(&records, &by_email), &knowledge);
    let RecordResult::Updated(Slot::Existing(target), changed) = &run.results[0] else {
        panic!("{:?}", run.results)
    };
    assert_eq!(*target, id(7));
    assert_eq!(changed.names(), vec!["identities"]);
    let added: Vec<&str> = run.writes[0]
        .new_identities
        .iter()
        .map(Identity::normalized)
        .collect();
    assert_eq!(added, vec!["ann.work@x.com", "+100200"]);
    assert_eq!(
        run.writes[0].refreshed.len(),
        1,
        "the match identity got metadata"
    );
}

#[test]
fn a_new_key_is_created_once_and_later_records_update_it() {
    let by_email = MatchBy::Identity(IdentityKind::Email);
    let knowledge = Knowledge {
        match_by: Some(by_email.clone()),
        ..Knowledge::default()
    };
    let records = [
        upsert(r#"{"identities":[{"email":"n@x"}],"age":20}"#, &by_email),
        upsert(r#"{"identities":[{"email":"n@x"}],"age":21}"#, &by_email),
        upsert(r#"{"identities":[{"email":"n@x"}],"age":21}"#, &by_email),
    ];
    let run = simulate(&upsert_ops(&records, &by_email), &knowledge);
    assert_eq!(run.results[0], RecordResult::Created(Slot::New(0)));
    let RecordResult::Updated(Slot::New(0), changed) = &run.results[1] else {
        panic!()
    };
    assert_eq!(changed.names(), vec!["age"]);
    assert_eq!(
        run.results[2],
        RecordResult::Updated(Slot::New(0), FieldSet::default())
    );
    assert_eq!(run.created, 1);
    assert!(run.writes[0].created);
}

#[test]
fn two_upserts_adding_one_new_identity_to_different_profiles_first_wins() {
    let by_uid = MatchBy::Identity(IdentityKind::Uid);
    let knowledge = Knowledge {
        match_by: Some(by_uid.clone()),
        ..Knowledge::default()
    };
    let records = [
        upsert(
            r#"{"identities":[{"uid":"a"},{"email":"shared@x"}]}"#,
            &by_uid,
        ),
        upsert(
            r#"{"identities":[{"uid":"b"},{"email":"shared@x"}]}"#,
            &by_uid,
        ),
    ];
    let run = simulate(&upsert_ops(&records, &by_uid), &knowledge);
    assert_eq!(run.results[0], RecordResult::Created(Slot::New(0)));
    assert_eq!(
        codes(&run.results[1]),
        vec![(
            "identities[1].email".to_owned(),
            ErrorCode::DuplicateInPayload
        )]
    );
}

#[test]
fn custom_field_keys_held_by_several_profiles_are_ambiguous_with_a_capped_list() {
    let by_crm = MatchBy::CustomField("crm".to_owned());
    let mut knowledge = Knowledge {
        match_by: Some(by_crm.clone()),
        ..Knowledge::default()
    };
    knowledge.holders.insert(
        "K".to_owned(),
        CustomFieldHolders {
            key: "K".to_owned(),
            ids: (1..=11).map(id).collect(),
            total: 7000,
        },
    );
    let records = [upsert(
        r#"{"identities":[{"uid":"u"}],"custom_fields":{"crm":"K"}}"#,
        &by_crm,
    )];
    let run = simulate(&upsert_ops(&records, &by_crm), &knowledge);
    let RecordResult::Failed(errors) = &run.results[0] else {
        panic!()
    };
    assert_eq!(errors[0].code, ErrorCode::AmbiguousMatch);
    let details = errors[0].details.as_ref().unwrap();
    assert_eq!(
        details["core-profile-ids"].as_array().unwrap().len(),
        MAX_LISTED_MATCHES
    );
    assert_eq!(details["total"], 7000);
}

#[test]
fn owners_that_were_not_loaded_are_asked_for() {
    let by_email = MatchBy::Identity(IdentityKind::Email);
    let mut knowledge = Knowledge {
        match_by: Some(by_email.clone()),
        ..Knowledge::default()
    };
    knowledge
        .owners
        .insert((IdentityKind::Email, "a@x".to_owned()), id(5));
    let records = [upsert(r#"{"identities":[{"email":"a@x"}]}"#, &by_email)];
    let run = simulate(&upsert_ops(&records, &by_email), &knowledge);
    assert_eq!(run.missing, vec![id(5)]);
}

#[test]
fn records_that_undo_each_other_leave_nothing_to_write() {
    let state = CoreProfileState {
        last_city: Some("Pune".into()),
        ..CoreProfileState::default()
    };
    let knowledge = loaded(id(7), vec![], state);
    let records = [
        patch(r#"{"core-profile-id":7,"last_city":"Rome"}"#),
        patch(r#"{"core-profile-id":7,"last_city":"Pune"}"#),
    ];
    let run = simulate(&patch_ops(&records), &knowledge);
    assert!(matches!(&run.results[0], RecordResult::Updated(_, changed) if !changed.is_empty()));
    assert!(
        run.writes[0].changed.is_empty(),
        "no net change: {:?}",
        run.writes[0].changed
    );
}
