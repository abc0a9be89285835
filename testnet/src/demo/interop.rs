//! The demo's interop act: one event of the scenario (ODL's confidence stamp) as the CD
//! Foundation formats show it, CDEvents and Eiffel, straight from the node's CLI.

use crate::node::Node;
use anyhow::Result;
use serde_json::Value;

/// Prints `id` as a CDEvent and as an Eiffel event (the long signed bytes shortened); returns
/// whether both came out with the type they should.
pub fn show(node: &Node, id: &str) -> Result<bool> {
    let mut ok = true;
    for (format, type_path, want) in [
        (
            "cdevents",
            "/context/type",
            "dev.cdeventsx.fedci-confidence.modified.0.1.0",
        ),
        ("eiffel", "/meta/type", "EiffelConfidenceLevelModifiedEvent"),
    ] {
        println!(
            "  $ fedci-node get {} --format {format}",
            super::show::short(id)
        );
        let mut doc: Value = serde_json::from_str(&node.cli(&["get", id, "--format", format])?)?;
        ok &= doc.pointer(type_path).and_then(Value::as_str) == Some(want);
        shorten(&mut doc);
        for line in serde_json::to_string_pretty(&doc)?.lines() {
            println!("  {line}");
        }
    }
    Ok(ok)
}

/// Cuts the hex of the signed bytes: the demo shows where it is, not all of it.
fn shorten(v: &mut Value) {
    match v {
        Value::String(s) if s.len() > 80 => {
            let head: String = s.chars().take(24).collect();
            *s = format!("{head}… ({} hex chars)", s.len());
        }
        Value::Array(a) => a.iter_mut().for_each(shorten),
        Value::Object(m) => m.values_mut().for_each(shorten),
        _ => {}
    }
}
