//! Mistakes the node would accept silently, caught on the client side: a `--kind` pattern
//! no kind can ever match, a key argument that names a file without `@`, a `--field` path the
//! event does not have.

use fedci_proto::vocab::{KINDS, is_custom_kind};

/// True when some v1 kind or some well-formed custom kind `x-<org>.<name>` matches `pattern`.
pub fn kind_pattern_can_match(pattern: &str) -> bool {
    if pattern == "*" || is_custom_kind(pattern) {
        return true;
    }
    if let Some(family) = pattern.strip_suffix(".*") {
        return KINDS
            .iter()
            .any(|k| fedci_proto::filter::kind_matches(pattern, k.as_str()))
            || is_custom_kind(&format!("{family}.any"));
    }
    KINDS.iter().any(|k| k.as_str() == pattern)
}

/// One warning line per `--kind` that can never match anything.
pub fn kind_warnings(command: &str, kinds: &[String]) -> Vec<String> {
    let known: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
    kinds
        .iter()
        .filter(|p| !kind_pattern_can_match(p))
        .map(|p| {
            format!(
                "fedci-node {command}: warning: --kind {p:?} can never match: kinds are {}, x-<org>.<name>, FAMILY.* or *",
                known.join(", ")
            )
        })
        .collect()
}

/// The hint added to a key argument that is not a key: it names an existing file, or looks
/// like a file name, so `@` was probably forgotten.
pub fn key_file_hint(arg: &str) -> Option<String> {
    let looks_like_file =
        std::path::Path::new(arg).is_file() || arg.ends_with(".pub") || arg.contains('/');
    (!arg.starts_with('@') && looks_like_file)
        .then(|| format!("to read the key from the file, write @{arg}"))
}

/// True when the dot path names something in the event (a `null` value counts as present).
pub fn field_exists(event: &serde_json::Value, path: &str) -> bool {
    if let Some(rel) = path.strip_prefix("links.")
        && !rel.is_empty()
        && rel.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    {
        return true;
    }
    let mut v = event;
    for part in path.split('.') {
        let next = match (v, part.parse::<usize>()) {
            (serde_json::Value::Array(a), Ok(i)) => a.get(i),
            (serde_json::Value::Object(m), _) => m.get(part),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_patterns_that_can_match() {
        for ok in [
            "*",
            "artifact.*",
            "artifact.created",
            "trust.roster",
            "x-odl.nightly",
            "x-odl.*",
        ] {
            assert!(kind_pattern_can_match(ok), "{ok}");
        }
        for never in [
            "artifact.create",
            "artifacts.*",
            "Artifact.created",
            "x-odl",
            "x-.*",
            "artifact",
        ] {
            assert!(!kind_pattern_can_match(never), "{never}");
        }
        let w = kind_warnings("query", &["artifact.*".into(), "artifact.create".into()]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("\"artifact.create\"") && w[0].contains("artifact.created"));
    }

    #[test]
    fn key_hint_when_at_forgotten() {
        assert!(key_file_hint("opnfv-root.pub").is_some_and(|h| h.contains("@opnfv-root.pub")));
        assert!(key_file_hint("keys/root").is_some());
        assert!(key_file_hint("@opnfv-root.pub").is_none());
        assert!(key_file_hint(&"ab".repeat(32)).is_none());
    }

    #[test]
    fn field_paths() {
        let e = json!({"kind": "k", "data": {"branch": "b", "n": null, "l": [1]}, "links": []});
        assert!(field_exists(&e, "data.branch"));
        assert!(field_exists(&e, "data.n"));
        assert!(field_exists(&e, "data.l.0"));
        assert!(field_exists(&e, "links.ELEMENT"));
        assert!(!field_exists(&e, "data.nosuch"));
        assert!(!field_exists(&e, "data.l.1"));
        assert!(!field_exists(&e, "kind.x"));
    }
}
