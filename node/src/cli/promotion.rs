//! `artifacts` and `manifest`: pick artifacts by the confidence in force, and list what a
//! baseline is made of. Answers are read through the API's typed responses.

use anyhow::{Result, bail};
use clap::Args;
use fedci_client::types::promotion::{
    ArtifactList, ArtifactView, CompositionManifest, ConfidenceView, Manifest, ManifestElement,
};
use fedci_client::{Client, with_query};
use std::fmt::Write as _;

/// `fedci-node artifacts …`
#[derive(Debug, Args, Clone, Default)]
pub struct ArtifactsArgs {
    /// Only artifacts signed by this community.
    #[arg(long)]
    pub community: Option<String>,
    /// Only artifacts whose identity (purl) starts with this.
    #[arg(long, value_name = "PURL-PREFIX")]
    pub identity: Option<String>,
    /// Only artifacts of this branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// A confidence that must be in force, as NAME=VALUE (e.g. opnfvAcceptance=SUCCESS).
    /// Repeatable: all must hold.
    #[arg(long = "confidence", value_name = "NAME=VALUE")]
    pub confidences: Vec<String>,
    /// Count only confidences this community issued (their `issuer`, else their signer).
    #[arg(long, value_name = "COMMUNITY")]
    pub issuer: Option<String>,
    /// Print only the newest matching artifact.
    #[arg(long)]
    pub latest: bool,
    /// Most artifacts to print.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print the answer as JSON.
    #[arg(long, conflicts_with = "fields")]
    pub json: bool,
    /// Print only these fields, tab-separated, one line per artifact: id, identity, name,
    /// version, digest, branch, build_url, community, location (first download URI),
    /// confidence.NAME (id of the confidence in force of that name). Repeatable.
    #[arg(long = "field", value_name = "FIELD")]
    pub fields: Vec<String>,
}

impl ArtifactsArgs {
    /// The `GET /v1/artifacts` path.
    pub fn path(&self) -> String {
        let mut q: Vec<(&str, String)> = Vec::new();
        q.extend(self.community.clone().map(|v| ("community", v)));
        q.extend(self.identity.clone().map(|v| ("identity", v)));
        q.extend(self.branch.clone().map(|v| ("branch", v)));
        q.extend(self.confidences.iter().map(|c| ("confidence", c.clone())));
        q.extend(self.issuer.clone().map(|v| ("issuer", v)));
        let limit = if self.latest { 1 } else { self.limit.max(1) };
        q.push(("limit", limit.to_string()));
        with_query("/v1/artifacts", &q)
    }
}

pub async fn artifacts(client: &Client, args: &ArtifactsArgs) -> Result<()> {
    for f in &args.fields {
        field(&ArtifactView::default(), f)?;
    }
    let list: ArtifactList = client.get(&args.path()).await?;
    if list.artifacts.is_empty() {
        bail!("no artifact matches");
    }
    if args.json {
        say!("{}", serde_json::to_string_pretty(&list)?);
    } else if !args.fields.is_empty() {
        for a in &list.artifacts {
            let values = args
                .fields
                .iter()
                .map(|f| field(a, f))
                .collect::<Result<Vec<_>>>()?;
            say!("{}", values.join("\t"));
        }
    } else {
        for a in &list.artifacts {
            say!("{}", render_artifact(a, ""));
        }
    }
    if !list.complete {
        eprintln!("(more may match: the node stopped at its scan or size bound)");
    }
    Ok(())
}

pub async fn manifest(client: &Client, id: &str, json: bool) -> Result<()> {
    let path = format!("/v1/compositions/{id}/manifest");
    let m: Manifest = client.get(&path).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        say!("{}", render_manifest(&m).trim_end());
    }
    Ok(())
}

/// One `--field` of an artifact ("" when it has none).
pub fn field(a: &ArtifactView, name: &str) -> Result<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(match name {
        "id" => a.id.clone(),
        "identity" => a.identity.clone(),
        "name" => opt(&a.name),
        "version" => opt(&a.version),
        "digest" => opt(&a.digest),
        "branch" => opt(&a.branch),
        "build_url" => opt(&a.build_url),
        "community" => a.community.clone(),
        "location" => a
            .locations
            .first()
            .map(|l| l.uri.clone())
            .unwrap_or_default(),
        other => match other.strip_prefix("confidence.") {
            Some(conf) if !conf.is_empty() => a
                .confidences
                .iter()
                .find(|c| c.name == conf)
                .map(|c| c.id.clone())
                .unwrap_or_default(),
            _ => bail!(
                "unknown field {other:?}: id, identity, name, version, digest, branch, build_url, community, location, confidence.NAME"
            ),
        },
    })
}

fn render_confidence(out: &mut String, c: &ConfidenceView, indent: &str) {
    let issuer = c.issuer.as_deref().unwrap_or(&c.community);
    let _ = writeln!(
        out,
        "{indent}  confidence {}={}  issuer {issuer}  signed by {}  {}",
        c.name, c.value, c.community, c.id
    );
}

/// An artifact as text: a head line, then its confidences and locations indented.
pub fn render_artifact(a: &ArtifactView, indent: &str) -> String {
    let mut out = format!("{indent}{}  {}", a.id, a.identity);
    for (label, v) in [
        ("version", &a.version),
        ("branch", &a.branch),
        ("digest", &a.digest),
    ] {
        if let Some(v) = v {
            let _ = write!(out, "  {label} {v}");
        }
    }
    let _ = writeln!(out, "  ({})", a.community);
    for c in &a.confidences {
        render_confidence(&mut out, c, indent);
    }
    for l in &a.locations {
        let _ = writeln!(out, "{indent}  location {} {}", l.kind, l.uri);
    }
    out.trim_end().to_string()
}

/// A manifest as an indented tree, elements in the order the composition lists them.
pub fn render_manifest(m: &Manifest) -> String {
    let mut out = String::new();
    composition(&mut out, &m.composition, "");
    if !m.complete {
        out.push_str("(incomplete: the manifest reached its size or depth bound)\n");
    }
    out
}

fn composition(out: &mut String, c: &CompositionManifest, indent: &str) {
    let _ = write!(out, "{indent}composition {}", c.name);
    if let Some(v) = &c.version {
        let _ = write!(out, " {v}");
    }
    let _ = writeln!(out, "  ({})  {}", c.community, c.id);
    for conf in &c.confidences {
        render_confidence(out, conf, indent);
    }
    let inner = format!("{indent}    ");
    for e in &c.elements {
        match e {
            ManifestElement::Artifact(a) => {
                let _ = writeln!(out, "{}", render_artifact(a, &inner));
            }
            ManifestElement::Composition(c) => composition(out, c, &inner),
            ManifestElement::Repeated { id } => {
                let _ = writeln!(out, "{inner}{id}  (composition shown above)");
            }
            ManifestElement::Dangling { id } => {
                let _ = writeln!(out, "{inner}{id}  DANGLING: not held by this node");
            }
            ManifestElement::Untrusted { id } => {
                let _ = writeln!(
                    out,
                    "{inner}{id}  UNTRUSTED: its signer is no longer vouched for"
                );
            }
            ManifestElement::Other { id, kind } => {
                let _ = writeln!(out, "{inner}{id}  {kind} (not an artifact or composition)");
            }
            ManifestElement::Truncated { id } => {
                let _ = writeln!(out, "{inner}{id}  (left out: bound reached)");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;
    use fedci_client::types::promotion::LocationView;

    fn artifact() -> ArtifactView {
        ArtifactView {
            id: "a1".into(),
            identity: "pkg:maven/org.opendaylight/karaf@0.8.3".into(),
            community: "odl".into(),
            version: Some("0.8.3".into()),
            confidences: vec![ConfidenceView {
                name: "opnfvAcceptance".into(),
                value: "SUCCESS".into(),
                issuer: Some("opnfv".into()),
                community: "opnfv".into(),
                id: "c1".into(),
                time: 2,
            }],
            locations: vec![LocationView {
                kind: "nexus".into(),
                uri: "https://nexus/karaf.zip".into(),
                published: "p1".into(),
            }],
            ..ArtifactView::default()
        }
    }

    #[test]
    fn fields_are_typed() {
        let a = artifact();
        assert_eq!(field(&a, "id").unwrap(), "a1");
        assert_eq!(field(&a, "location").unwrap(), "https://nexus/karaf.zip");
        assert_eq!(field(&a, "confidence.opnfvAcceptance").unwrap(), "c1");
        assert_eq!(field(&a, "confidence.other").unwrap(), "");
        assert_eq!(field(&a, "branch").unwrap(), "");
        assert!(field(&a, "colour").is_err());
        assert!(field(&a, "confidence.").is_err());
    }

    #[test]
    fn renders_an_artifact() {
        let text = render_artifact(&artifact(), "");
        assert_eq!(
            text,
            "a1  pkg:maven/org.opendaylight/karaf@0.8.3  version 0.8.3  (odl)\n  \
             confidence opnfvAcceptance=SUCCESS  issuer opnfv  signed by opnfv  c1\n  \
             location nexus https://nexus/karaf.zip"
        );
    }

    #[test]
    fn builds_the_query() {
        let cli = crate::cli::Cli::try_parse_from([
            "fedci-node",
            "artifacts",
            "--community",
            "odl",
            "--confidence",
            "opnfvAcceptance=SUCCESS",
            "--latest",
        ])
        .unwrap();
        let crate::cli::Command::Artifacts(args) = cli.command else {
            panic!("not artifacts");
        };
        assert_eq!(
            args.path(),
            "/v1/artifacts?community=odl&confidence=opnfvAcceptance%3DSUCCESS&limit=1"
        );
    }
}
