//! `fedci-node export` (a trace's evidence bundle from the node) and `fedci-node verify`
//! (checks a bundle offline: no home, no store, no network; the library does the checking).

use anyhow::{Context, Result, anyhow, bail};
use fedci_client::Client;
use fedci_keys::PublicKey;
use fedci_keys::bundle::{MAX_BUNDLE_BYTES, split};
use fedci_keys::verify::verify_bundle;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

pub async fn export(
    client: &Client,
    id: &str,
    up: bool,
    down: bool,
    depth: u32,
    out: &Path,
) -> Result<()> {
    let dir = super::commands::direction(up, down);
    let body = client.trace_as(id, dir, depth, "bundle").await?;
    let items = split(&body).context("the node sent a malformed bundle")?;
    std::fs::write(out, &body).with_context(|| format!("cannot write {}", out.display()))?;
    say!(
        "wrote {} ({} events and rosters, {} bytes)",
        out.display(),
        items.len(),
        body.len()
    );
    Ok(())
}

/// `COMMUNITY=@FILE` or `COMMUNITY=HEX`.
fn parse_root(arg: &str) -> Result<(String, PublicKey)> {
    let (community, key) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("--root {arg:?}: expected COMMUNITY=@root.pub or COMMUNITY=HEX"))?;
    fedci_proto::body::check_community(community).with_context(|| format!("--root {arg:?}"))?;
    let key = match key.strip_prefix('@') {
        Some(path) => PublicKey::from_file(Path::new(path))?,
        None => key.parse().with_context(|| format!("--root {arg:?}"))?,
    };
    Ok((community.to_string(), key))
}

fn read_bundle(file: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = MAX_BUNDLE_BYTES as u64 + 1;
    if file == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(file)
            .with_context(|| format!("cannot open {}", file.display()))?
            .take(limit)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(bytes)
}

pub fn verify(file: &Path, roots: &[String], json: bool) -> Result<()> {
    let mut pins = BTreeMap::new();
    for r in roots {
        let (c, k) = parse_root(r)?;
        if pins.insert(c.clone(), k).is_some_and(|old| old != k) {
            bail!("--root given twice for {c} with different keys");
        }
    }
    let bytes = read_bundle(file)?;
    let verdict = verify_bundle(&bytes, &pins);
    if json {
        say!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        use std::io::Write as _;
        std::io::stdout().write_all(verdict.render().as_bytes())?;
    }
    if !verdict.ok {
        bail!(
            "bundle refused: {} item(s) did not verify",
            verdict.refused.len().max(1)
        );
    }
    Ok(())
}
