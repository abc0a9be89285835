//! Real links between nodes: one network namespace per node, joined to a bridge in the root
//! namespace by a veth pair, optional netem delay/loss, and partitions as blackhole routes.
//! Everything is done with iproute2 (`ip`, `tc`), so it needs root.
//!
//! Names are short (Linux caps interface names at 15 characters) and carry a per-run id:
//! bridge `fcb<run>`, namespace `fci<run><i>`, root-side veth `fcv<run><i>`; inside each
//! namespace the node's interface is `eth0` with 10.77.<subnet>.<i+1>/24.

use std::process::Command;

/// An iproute2 step failed, or the host cannot run namespaces.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("--netns needs root (running as uid {0})")]
    NotRoot(String),
    #[error("--netns needs `ip` from iproute2: {0}")]
    NoIp(String),
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
}

/// Inside each namespace, the node's side of its veth.
const DEV: &str = "eth0";

/// Checks the process is root and `ip` runs.
pub fn preflight() -> Result<(), NetnsError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // "Uid: real effective saved fs"
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .unwrap_or("unknown")
        .to_string();
    if euid != "0" {
        return Err(NetnsError::NotRoot(euid));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(NetnsError::NoIp(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
        Err(e) => Err(NetnsError::NoIp(e.to_string())),
    }
}

/// A run id no existing bridge uses: 4 hex digits from the pid and the clock.
pub fn new_run_id() -> Result<String, NetnsError> {
    let links = ip(&["-o", "link", "show"])?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mut x = std::process::id() ^ nanos;
    loop {
        let id = format!("{:04x}", x & 0xffff);
        if !links.contains(&format!("fcb{id}")) {
            return Ok(id);
        }
        x = x.wrapping_mul(2_654_435_761).wrapping_add(1);
    }
}

pub fn bridge_name(run_id: &str) -> String {
    format!("fcb{run_id}")
}

/// (namespace, root-side veth) of node `i`.
pub fn node_names(run_id: &str, i: usize) -> (String, String) {
    (format!("fci{run_id}{i}"), format!("fcv{run_id}{i}"))
}

/// Node `i`'s address: a /24 per run, inside 10.77.0.0/16.
pub fn node_addr(run_id: &str, i: usize) -> String {
    let subnet = u8::from_str_radix(
        run_id.get(run_id.len().saturating_sub(2)..).unwrap_or("0"),
        16,
    )
    .unwrap_or(0);
    format!("10.77.{subnet}.{}", i + 1)
}

pub fn create_bridge(bridge: &str) -> Result<(), NetnsError> {
    ip(&["link", "add", bridge, "type", "bridge"])?;
    ip(&["link", "set", bridge, "up"])?;
    Ok(())
}

/// Creates the namespace, its veth on the bridge, the address, and the netem qdisc if asked.
pub fn add_node(
    bridge: &str,
    ns: &str,
    veth: &str,
    addr: &str,
    latency: Option<&str>,
    loss: Option<&str>,
) -> Result<(), NetnsError> {
    ip(&["netns", "add", ns])?;
    ip(&[
        "link", "add", veth, "type", "veth", "peer", "name", DEV, "netns", ns,
    ])?;
    ip(&["link", "set", veth, "master", bridge, "up"])?;
    ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", DEV])?;
    ip(&["-n", ns, "link", "set", DEV, "up"])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    if latency.is_some() || loss.is_some() {
        let mut args = vec![
            "netns", "exec", ns, "tc", "qdisc", "add", "dev", DEV, "root",
        ];
        args.push("netem");
        if let Some(l) = latency {
            args.extend(["delay", l]);
        }
        if let Some(l) = loss {
            args.extend(["loss", l]);
        }
        ip(&args).map_err(|e| match e {
            NetnsError::Command { command, stderr } => NetnsError::Command {
                command,
                stderr: format!("{stderr} (netem needs the kernel's sch_netem)"),
            },
            other => other,
        })?;
    }
    Ok(())
}

/// Removes the nodes' veths and namespaces and the bridge, whatever exists of them. Returns
/// what could not be removed.
pub fn teardown(bridge: &str, nodes: &[(String, String)]) -> Vec<String> {
    let links = ip(&["-o", "link", "show"]).unwrap_or_default();
    let spaces = list_namespaces();
    let mut left = Vec::new();
    let mut del = |present: bool, args: &[&str]| {
        if present && let Err(e) = ip(args) {
            left.push(e.to_string());
        }
    };
    for (ns, veth) in nodes {
        // Deleting one end of a veth pair deletes both.
        del(links.contains(&format!(" {veth}@")), &["link", "del", veth]);
        del(spaces.contains(ns), &["netns", "del", ns]);
    }
    del(
        links.contains(&format!(" {bridge}:")),
        &["link", "del", bridge],
    );
    left
}

/// Named network namespaces (`ip netns list`).
pub fn list_namespaces() -> Vec<String> {
    ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// Drops everything `ns` sends to `addr`.
pub fn cut(ns: &str, addr: &str) -> Result<(), NetnsError> {
    ip(&["-n", ns, "route", "add", "blackhole", &format!("{addr}/32")]).map(drop)
}

/// Undoes [`cut`].
pub fn mend(ns: &str, addr: &str) -> Result<(), NetnsError> {
    ip(&["-n", ns, "route", "del", "blackhole", &format!("{addr}/32")]).map(drop)
}

/// Runs `ip ARGS…`; stdout on success.
fn ip(args: &[&str]) -> Result<String, NetnsError> {
    let failed = |stderr: String| NetnsError::Command {
        command: format!("ip {}", args.join(" ")),
        stderr,
    };
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', " "),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_addresses_are_private() {
        for i in [0, 9, 49, 98] {
            let (ns, veth) = node_names("ffff", i);
            assert!(ns.len() <= 15 && veth.len() <= 15, "{ns} {veth}");
        }
        assert_eq!(bridge_name("0a1f"), "fcb0a1f");
        assert_eq!(node_addr("0a1f", 0), "10.77.31.1");
        assert_eq!(node_addr("0a1f", 98), "10.77.31.99");
    }
}
