//! Every statement on a per-domain task table names the domain (issue 16: the schema must work
//! unchanged when distributed by `domain_id`); only the listed background scans read across
//! domains.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// Tables whose rows belong to one domain and whose keys lead with `domain_id`.
const PER_DOMAIN_TABLES: &[&str] = &[
    "tasks",
    "task_chunks",
    "deferred_chunks",
    "chunk_bodies",
    "profile_event_outbox",
    "core_profiles",
    "identities",
    "app_profiles",
    "revert_created",
    "revert_marks",
    "core_profile_images",
    "identity_images",
    "app_profile_images",
    "webhook_endpoints",
    "webhook_deliveries",
];

/// Statements that read across domains on purpose, with why.
const CROSS_DOMAIN: &[(&str, &str)] = &[
    (
        "tasks/open_counts.sql",
        "the open-tasks gauge of the whole installation",
    ),
    (
        "tasks/domains_of.sql",
        "the operator names a task by its id alone",
    ),
    (
        "overview/throughput.sql",
        "the dashboard's records per second of all domains",
    ),
    (
        "profile_events/pending_count.sql",
        "the outbox gauge of the whole installation",
    ),
    (
        "statistics/outgrown.sql",
        "reads the catalog's page counts, not rows",
    ),
];

fn sql_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sql_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "sql") {
            found.push(path);
        }
    }
}

/// The statement without its `--` comments, lower-cased.
fn statement(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase()
}

fn names_table(sql: &str, table: &str) -> bool {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| word == table)
}

#[test]
fn every_statement_on_a_per_domain_table_names_the_domain() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut files = Vec::new();
    sql_files(&root, &mut files);
    assert!(files.len() > 100, "the queries are where they were");
    let mut missing = Vec::new();
    let mut checked = 0;
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let sql = statement(path);
        if !PER_DOMAIN_TABLES
            .iter()
            .any(|table| names_table(&sql, table))
        {
            continue;
        }
        checked += 1;
        let allowed = CROSS_DOMAIN.iter().any(|(file, _)| *file == name);
        if !names_table(&sql, "domain_id") && !allowed {
            missing.push(name);
        }
    }
    assert!(
        checked > 60,
        "only {checked} statements touch per-domain tables"
    );
    assert!(
        missing.is_empty(),
        "statements on per-domain tables that do not name domain_id: {missing:?}"
    );
}

#[test]
fn the_cross_domain_list_names_existing_statements() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    for (file, why) in CROSS_DOMAIN {
        assert!(root.join(file).is_file(), "{file} ({why}) is gone");
    }
}
