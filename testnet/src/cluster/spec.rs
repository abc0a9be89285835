//! What the user asks for, parsed and checked: topology strings, who dials whom, partition
//! groups and the links a partition cuts.

use super::ClusterError;
use crate::net::Topology;
use std::collections::BTreeSet;

/// `full`, `ring` or `random:D` (D ≥ 1).
pub fn parse_topology(s: &str) -> Result<Topology, ClusterError> {
    let bad = || {
        ClusterError::Usage(format!(
            "unknown topology `{s}`: use full, ring or random:D (D ≥ 1)"
        ))
    };
    match s.trim() {
        "full" => Ok(Topology::Full),
        "ring" => Ok(Topology::Ring),
        other => {
            let d = other.strip_prefix("random:").ok_or_else(bad)?;
            match d.parse::<usize>() {
                Ok(d) if d >= 1 => Ok(Topology::Random(d)),
                _ => Err(bad()),
            }
        }
    }
}

/// For each of `n` nodes, the nodes it dials (`--peer`). The ring is closed by the last node
/// dialling the first.
pub fn dial_plan(topology: Topology, n: usize) -> Vec<Vec<usize>> {
    let mut plan: Vec<Vec<usize>> = (0..n).map(|i| topology.targets(i)).collect();
    if topology == Topology::Ring
        && n > 2
        && let Some(last) = plan.last_mut()
    {
        last.push(0);
    }
    plan
}

/// Parses `a,b / c,d` given as shell words (joined with spaces, split on `/`, then on `,` and
/// spaces). At least two groups, none empty, no node in two groups.
pub fn parse_groups(words: &[String]) -> Result<Vec<Vec<String>>, ClusterError> {
    let text = words.join(" ");
    let groups: Vec<Vec<String>> = text
        .split('/')
        .map(|g| {
            g.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .collect();
    if groups.len() < 2 {
        return Err(ClusterError::Usage(format!(
            "`{text}` has one group: separate groups with `/`, e.g. `odl,opnfv / openstack`"
        )));
    }
    if groups.iter().any(Vec::is_empty) {
        return Err(ClusterError::Usage(format!(
            "`{text}` has an empty group: every `/` must separate node names"
        )));
    }
    let mut seen = BTreeSet::new();
    for name in groups.iter().flatten() {
        if !seen.insert(name.as_str()) {
            return Err(ClusterError::Usage(format!(
                "`{name}` is named more than once in `{text}`"
            )));
        }
    }
    Ok(groups)
}

/// Every pair of nodes in different groups: the links a partition cuts (each pair once).
pub fn cross_pairs(groups: &[Vec<String>]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (i, gi) in groups.iter().enumerate() {
        for gj in &groups[i + 1..] {
            for x in gi {
                for y in gj {
                    pairs.push((x.clone(), y.clone()));
                }
            }
        }
    }
    pairs
}

/// How groups print: `odl,opnfv / openstack,fdio`.
pub fn show_groups(groups: &[Vec<String>]) -> String {
    groups
        .iter()
        .map(|g| g.join(","))
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn topologies_parse() {
        assert_eq!(parse_topology("full").unwrap(), Topology::Full);
        assert_eq!(parse_topology("ring").unwrap(), Topology::Ring);
        assert_eq!(parse_topology("random:3").unwrap(), Topology::Random(3));
        for bad in [
            "star", "random", "random:", "random:0", "random:x", "Ring", "",
        ] {
            let e = parse_topology(bad).unwrap_err().to_string();
            assert!(e.contains("use full, ring or random:D"), "{bad}: {e}");
        }
    }

    #[test]
    fn ring_closes_and_everyone_dials_or_is_dialled() {
        assert_eq!(
            dial_plan(Topology::Ring, 4),
            vec![vec![], vec![0], vec![1], vec![2, 0]]
        );
        assert_eq!(dial_plan(Topology::Ring, 2), vec![vec![], vec![0]]);
        assert_eq!(
            dial_plan(Topology::Full, 3),
            vec![vec![], vec![0], vec![0, 1]]
        );
        for (i, targets) in dial_plan(Topology::Random(3), 50).iter().enumerate() {
            assert_eq!(targets.len(), 3.min(i), "node {i}");
            assert!(targets.iter().all(|&j| j < i));
        }
    }

    #[test]
    fn groups_split_on_slash_and_comma_whatever_the_spacing() {
        let want = vec![
            vec!["odl".to_string(), "opnfv".to_string()],
            vec!["openstack".to_string(), "fdio".to_string()],
        ];
        assert_eq!(
            parse_groups(&words(&["odl,opnfv", "/", "openstack,fdio"])).unwrap(),
            want
        );
        assert_eq!(
            parse_groups(&words(&["odl,opnfv/openstack,", "fdio"])).unwrap(),
            want
        );
        assert_eq!(
            parse_groups(&words(&["odl, opnfv /openstack fdio"])).unwrap(),
            want
        );
        assert_eq!(
            parse_groups(&words(&["a/b/c"])).unwrap(),
            vec![vec!["a"], vec!["b"], vec!["c"]]
        );
    }

    #[test]
    fn bad_groups_are_refused() {
        for (input, msg) in [
            (vec!["odl,opnfv"], "one group"),
            (vec!["odl", "/"], "empty group"),
            (vec!["/", "odl"], "empty group"),
            (vec!["odl / , / opnfv"], "empty group"),
            (vec!["odl,opnfv / odl"], "more than once"),
        ] {
            let e = parse_groups(&words(&input)).unwrap_err().to_string();
            assert!(e.contains(msg), "{input:?}: {e}");
        }
    }

    #[test]
    fn cross_pairs_cover_every_cut_link_once() {
        let groups = parse_groups(&words(&["a,b / c / d"])).unwrap();
        let pairs = cross_pairs(&groups);
        let want: Vec<(String, String)> = [("a", "c"), ("b", "c"), ("a", "d"), ("b", "d")]
            .iter()
            .chain(&[("c", "d")])
            .map(|(x, y)| (x.to_string(), y.to_string()))
            .collect();
        let mut got = pairs.clone();
        got.sort();
        let mut want_sorted = want;
        want_sorted.sort();
        assert_eq!(got, want_sorted);
        assert_eq!(show_groups(&groups), "a,b / c / d");
    }
}
