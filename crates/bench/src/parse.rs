//! The record readers alone, on one thread and without services: the CPU time per record of
//! reading generated records as a worker does (`create_core_profiles`, `update_core_profiles`)
//! and as the gateway does to group them into chunks (their keys). The best of three rounds, so
//! that a change to the readers can be measured apart from the noise of a whole import.

use std::time::Instant;
use userhub_datagen::Generator;
use userhub_domain::record::{parse_core_profile_patch, parse_new_core_profile, record_keys};

/// Rounds per reader; the fastest is reported.
const ROUNDS: usize = 3;

/// Microseconds per record of the fastest of [`ROUNDS`] passes of `read` over `lines`, which
/// must accept every line (a reader that refused them would be measuring its error path).
fn per_record(lines: &[String], read: impl Fn(&str) -> bool) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let accepted = lines.iter().filter(|line| read(line)).count();
        best = best.min(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            accepted == lines.len(),
            "the reader refused {} of {} generated records",
            lines.len() - accepted,
            lines.len()
        );
    }
    Ok(best * 1e6 / lines.len().max(1) as f64)
}

/// Prints the CPU time per record of each reader over `records` generated records.
pub fn print_parse_cost(records: u64) -> anyhow::Result<()> {
    let generator = Generator::new(1);
    let creates: Vec<String> = (0..records)
        .map(|n| generator.create_record(n).to_string())
        .collect();
    let updates: Vec<String> = (0..records)
        .map(|n| generator.update_record(n, n as i64 + 1).to_string())
        .collect();
    let create = per_record(&creates, |line| parse_new_core_profile(line).is_ok())?;
    let update = per_record(&updates, |line| parse_core_profile_patch(line).is_ok())?;
    let keys = per_record(&creates, |line| {
        !record_keys(line, None).identities.is_empty()
    })?;
    println!("reading {records} records, best of {ROUNDS} rounds, one thread:");
    println!("  create_core_profiles record: {create:.2} µs");
    println!("  update_core_profiles record: {update:.2} µs");
    println!("  the gateway's keys of a create record: {keys:.2} µs");
    Ok(())
}
