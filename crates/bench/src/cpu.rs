//! Where a scenario's CPU goes: the CPU time of the stack's processes, PostgreSQL, RabbitMQ and
//! the benchmark client, read from `/proc/<pid>/stat` before and after (PostgreSQL's exited
//! backends count through the postmaster, which reaps them).

use crate::stack::Stack;
use std::collections::BTreeMap;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux for every architecture
/// userhub builds for).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds by component.
#[derive(Debug, Clone, Default)]
pub struct CpuTimes(BTreeMap<String, f64>);

/// `(command name, parent pid, own ticks, reaped children's ticks)` of a process.
fn stat_of(pid: u32) -> Option<(String, u32, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let number = |at: usize| fields.get(at).and_then(|field| field.parse::<u64>().ok());
    // After the name: state, ppid, ... utime (12th), stime, cutime, cstime.
    let parent = u32::try_from(number(1)?).ok()?;
    let own = number(11)? + number(12)?;
    let children = number(13)? + number(14)?;
    Some((name, parent, own, children))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The component a process belongs to, if it is one that is measured.
fn component_of(stack: &Stack, pid: u32, name: &str) -> Option<String> {
    if let Some(service) = stack.services.iter().find(|service| service.pid() == pid) {
        let role = service.role.split(" #").next().unwrap_or(&service.role);
        return Some(match role {
            "api" => "gateway and status (api)".to_owned(),
            "all" => "userhub-server all".to_owned(),
            worker => worker.to_owned(),
        });
    }
    if pid == std::process::id() {
        return Some("benchmark client".to_owned());
    }
    match name {
        "postgres" => Some("PostgreSQL".to_owned()),
        "beam.smp" | "erl_child_setup" | "epmd" => Some("RabbitMQ".to_owned()),
        _ => None,
    }
}

impl CpuTimes {
    /// The CPU seconds used so far by every measured process.
    pub fn now(stack: &Stack) -> CpuTimes {
        let mut times = BTreeMap::new();
        for pid in all_pids() {
            let Some((name, parent, own, children)) = stat_of(pid) else {
                continue;
            };
            let Some(component) = component_of(stack, pid, &name) else {
                continue;
            };
            // The postmaster (a postgres process whose parent is not postgres) also carries the
            // time of the backends it reaped.
            let reaped = name == "postgres"
                && stat_of(parent).is_none_or(|(parent_name, ..)| parent_name != "postgres");
            let ticks = own + if reaped { children } else { 0 };
            *times.entry(component).or_insert(0.0) += ticks as f64 / TICKS_PER_SECOND;
        }
        CpuTimes(times)
    }

    /// The CPU seconds used between `earlier` and `self`, by component.
    pub fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes(
            self.0
                .iter()
                .map(|(component, seconds)| {
                    let before = earlier.0.get(component).copied().unwrap_or(0.0);
                    (component.clone(), (seconds - before).max(0.0))
                })
                .collect(),
        )
    }

    /// Microseconds of CPU per record, by component, largest first.
    pub fn per_record(&self, records: u64) -> Vec<(String, f64)> {
        let mut shares: Vec<(String, f64)> = self
            .0
            .iter()
            .map(|(component, seconds)| (component.clone(), seconds * 1e6 / records.max(1) as f64))
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        shares
    }
}
