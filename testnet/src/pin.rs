//! CPU pinning for benchmarks (`--node-cpus`): every process a benchmark starts for the
//! systems under test (fedci nodes, plain gossipsub peers, the RabbitMQ server) runs under
//! `taskset -c LIST`, so a figure can be the node's alone and not the load generator's. The
//! generator itself is pinned by starting it under taskset:
//! `taskset -c 1 fedci-testnet bench ingest --node-cpus 0`.

use std::ffi::OsStr;
use std::process::Command;
use std::sync::OnceLock;

static NODE_CPUS: OnceLock<String> = OnceLock::new();

/// From now on, processes started through [`command`] run on the CPUs of `list` (a Linux CPU
/// list as `taskset -c` takes it). The first call wins.
pub fn pin_processes(list: &str) {
    let _ = NODE_CPUS.set(list.to_string());
}

/// The CPU list processes are pinned to, if any.
pub fn node_cpus() -> Option<&'static str> {
    NODE_CPUS.get().map(String::as_str)
}

/// `program`, run under `taskset -c LIST` when pinning is on.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    match node_cpus() {
        Some(list) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(list).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// Checks a CPU list (`0`, `0-1`, `0,2-3`) against the CPUs this machine has, for clap.
pub fn parse_cpu_list(s: &str) -> Result<String, String> {
    let have = std::thread::available_parallelism().map_or(1, usize::from);
    let bad = |why: String| format!("{s:?}: {why} (e.g. 0, 0-1 or 0,2)");
    if s.is_empty() {
        return Err(bad("empty CPU list".into()));
    }
    for part in s.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let num = |x: &str| {
            x.parse::<usize>()
                .map_err(|_| bad(format!("{x:?} is not a CPU number")))
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        if lo > hi {
            return Err(bad(format!("range {lo}-{hi} runs backwards")));
        }
        if hi >= have {
            return Err(bad(format!("this machine has CPUs 0-{}", have - 1)));
        }
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_checked() {
        assert_eq!(parse_cpu_list("0").as_deref(), Ok("0"));
        for bad in ["", "a", "1-0", "0,", "-1", "0-999999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?} accepted");
        }
    }
}
