//! Vocabulary v1: the known kinds, what their `data` must hold and which links they may carry.
//!
//! Semantics come from Eiffel, names in the CDEvents style (DESIGN.md "Events"). Data maps may
//! carry extra fields beyond the ones listed (forward compatibility); listed fields are typed.
//! Link rules are checked in two steps: [`validate`] checks rels, multiplicity and required
//! links on the event alone; [`check_target`] checks a link's target kind once the target is
//! known (a link may dangle until its target arrives).

use crate::body::Body;
use crate::cbor::map_get;
use ciborium::Value;
use std::fmt;

/// Kinds whose meaning fedci defines. Anything else must be a custom `x-<org>.<name>` kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    ArtifactCreated,
    ArtifactPublished,
    CompositionDefined,
    ConfidenceModified,
    ActivityTriggered,
    ActivityStarted,
    ActivityFinished,
    TrustRoster,
}

/// All built-in kinds, in documentation order.
pub const KINDS: [Kind; 8] = [
    Kind::ArtifactCreated,
    Kind::ArtifactPublished,
    Kind::CompositionDefined,
    Kind::ConfidenceModified,
    Kind::ActivityTriggered,
    Kind::ActivityStarted,
    Kind::ActivityFinished,
    Kind::TrustRoster,
];

/// Values of `confidence.modified` `value`.
pub const CONFIDENCE_VALUES: [&str; 3] = ["SUCCESS", "FAILURE", "INCONCLUSIVE"];
/// Values of `activity.finished` `outcome`.
pub const OUTCOMES: [&str; 5] = ["SUCCESS", "FAILURE", "INCONCLUSIVE", "ABORTED", "TIMED_OUT"];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ArtifactCreated => "artifact.created",
            Kind::ArtifactPublished => "artifact.published",
            Kind::CompositionDefined => "composition.defined",
            Kind::ConfidenceModified => "confidence.modified",
            Kind::ActivityTriggered => "activity.triggered",
            Kind::ActivityStarted => "activity.started",
            Kind::ActivityFinished => "activity.finished",
            Kind::TrustRoster => "trust.roster",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event breaks the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabError {
    #[error("unknown kind {0:?}: use a v1 kind or a custom `x-<org>.<name>` kind")]
    UnknownKind(String),
    #[error("{kind}: data field `{field}` is required")]
    MissingData { kind: String, field: &'static str },
    #[error("{kind}: data field `{field}` must be {expected}")]
    BadData {
        kind: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error("{kind} may not carry a {rel} link")]
    RelNotAllowed { kind: String, rel: String },
    #[error("{kind} needs {need} {rel} link(s), has {has}")]
    LinkCount {
        kind: String,
        rel: &'static str,
        need: &'static str,
        has: usize,
    },
    #[error("{kind} {rel} link must point at {allowed}, not at {target}")]
    TargetKind {
        kind: String,
        rel: String,
        allowed: String,
        target: String,
    },
}

impl VocabError {
    /// A stable snake_case code for API errors and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            VocabError::UnknownKind(_) => "unknown_kind",
            VocabError::MissingData { .. } => "missing_data",
            VocabError::BadData { .. } => "bad_data",
            VocabError::RelNotAllowed { .. } => "bad_link_rel",
            VocabError::LinkCount { .. } => "bad_link_count",
            VocabError::TargetKind { .. } => "bad_link_target",
        }
    }
}

/// How many links of one rel a kind may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// `?`: zero or one.
    Optional,
    /// `1`: exactly one.
    One,
    /// `*`: any number.
    Any,
    /// `+`: one or more.
    AtLeastOne,
}

impl Count {
    fn allows(self, n: usize) -> bool {
        match self {
            Count::Optional => n <= 1,
            Count::One => n == 1,
            Count::Any => true,
            Count::AtLeastOne => n >= 1,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Count::Optional => "at most one",
            Count::One => "exactly one",
            Count::Any => "any number of",
            Count::AtLeastOne => "at least one",
        }
    }
}

/// One allowed rel of a kind: its multiplicity and the kinds it may point at (empty = any).
struct RelRule {
    rel: &'static str,
    count: Count,
    targets: &'static [Kind],
}

const fn rule(rel: &'static str, count: Count, targets: &'static [Kind]) -> RelRule {
    RelRule {
        rel,
        count,
        targets,
    }
}

use Kind::*;

fn rel_rules(kind: Kind) -> &'static [RelRule] {
    const ARTIFACT_CREATED: &[RelRule] = &[
        rule("CAUSE", Count::Any, &[]),
        rule("PREVIOUS_VERSION", Count::Any, &[ArtifactCreated]),
        rule("COMPOSITION", Count::Optional, &[CompositionDefined]),
    ];
    const ARTIFACT_PUBLISHED: &[RelRule] = &[rule("ARTIFACT", Count::One, &[ArtifactCreated])];
    const COMPOSITION_DEFINED: &[RelRule] = &[
        rule(
            "ELEMENT",
            Count::Any,
            &[ArtifactCreated, CompositionDefined],
        ),
        rule("PREVIOUS_VERSION", Count::Any, &[CompositionDefined]),
        rule("CAUSE", Count::Any, &[]),
    ];
    const CONFIDENCE_MODIFIED: &[RelRule] = &[
        rule(
            "SUBJECT",
            Count::AtLeastOne,
            &[ArtifactCreated, CompositionDefined],
        ),
        rule(
            "CONFIDENCE_BASIS",
            Count::Any,
            &[ConfidenceModified, ActivityFinished],
        ),
        rule("CAUSE", Count::Any, &[]),
    ];
    const ACTIVITY_TRIGGERED: &[RelRule] = &[rule("CAUSE", Count::Any, &[])];
    const ACTIVITY_RUN: &[RelRule] = &[
        rule("ACTIVITY_EXECUTION", Count::One, &[ActivityTriggered]),
        rule("CAUSE", Count::Any, &[]),
    ];
    const TRUST_ROSTER: &[RelRule] = &[rule("PREVIOUS_VERSION", Count::Optional, &[TrustRoster])];
    match kind {
        ArtifactCreated => ARTIFACT_CREATED,
        ArtifactPublished => ARTIFACT_PUBLISHED,
        CompositionDefined => COMPOSITION_DEFINED,
        ConfidenceModified => CONFIDENCE_MODIFIED,
        ActivityTriggered => ACTIVITY_TRIGGERED,
        ActivityStarted | ActivityFinished => ACTIVITY_RUN,
        TrustRoster => TRUST_ROSTER,
    }
}

/// The type a known data field must have.
#[derive(Clone, Copy)]
enum Ty {
    Text,
    /// One of these values; the text is what the error says is expected.
    OneOf(&'static [&'static str], &'static str),
    Locations,
    Uint,
    RosterKeys,
    /// `[{key: 32 bytes, <field>: uint}]`: a roster's retired or revoked keys.
    KeyTimes(&'static str),
}

struct Field {
    name: &'static str,
    required: bool,
    ty: Ty,
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        required: true,
        ty,
    }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        required: false,
        ty,
    }
}

fn data_fields(kind: Kind) -> &'static [Field] {
    use Ty::*;
    const ARTIFACT_CREATED: &[Field] = &[
        req("identity", Text),
        opt("version", Text),
        opt("name", Text),
        opt("digest", Text),
        opt("branch", Text),
        opt("build_url", Text),
    ];
    const ARTIFACT_PUBLISHED: &[Field] = &[req("locations", Locations)];
    const COMPOSITION_DEFINED: &[Field] = &[
        req("name", Text),
        opt("version", Text),
        opt("metadata_url", Text),
        opt("scenario", Text),
    ];
    const CONFIDENCE_MODIFIED: &[Field] = &[
        req("name", Text),
        req(
            "value",
            OneOf(&CONFIDENCE_VALUES, "one of SUCCESS, FAILURE, INCONCLUSIVE"),
        ),
        opt("issuer", Text),
    ];
    const ACTIVITY: &[Field] = &[req("name", Text)];
    const ACTIVITY_FINISHED: &[Field] = &[
        req("name", Text),
        req(
            "outcome",
            OneOf(
                &OUTCOMES,
                "one of SUCCESS, FAILURE, INCONCLUSIVE, ABORTED, TIMED_OUT",
            ),
        ),
    ];
    const TRUST_ROSTER: &[Field] = &[
        req("serial", Uint),
        req("keys", RosterKeys),
        opt("retired", KeyTimes("at")),
        opt("revoked", KeyTimes("since")),
    ];
    match kind {
        Kind::ArtifactCreated => ARTIFACT_CREATED,
        Kind::ArtifactPublished => ARTIFACT_PUBLISHED,
        Kind::CompositionDefined => COMPOSITION_DEFINED,
        Kind::ConfidenceModified => CONFIDENCE_MODIFIED,
        Kind::ActivityTriggered | Kind::ActivityStarted => ACTIVITY,
        Kind::ActivityFinished => ACTIVITY_FINISHED,
        Kind::TrustRoster => TRUST_ROSTER,
    }
}

/// True for a custom kind `x-<org>.<name>`: org and name of a-z, 0-9, '-'.
pub fn is_custom_kind(kind: &str) -> bool {
    let Some(rest) = kind.strip_prefix("x-") else {
        return false;
    };
    let Some((org, name)) = rest.split_once('.') else {
        return false;
    };
    let part = |s: &str| {
        (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    part(org) && part(name)
}

/// Checks a kind name: a v1 kind or a well-formed custom one.
pub fn check_kind(kind: &str) -> Result<Option<Kind>, VocabError> {
    match Kind::parse(kind) {
        Some(k) => Ok(Some(k)),
        None if is_custom_kind(kind) => Ok(None),
        None => Err(VocabError::UnknownKind(kind.chars().take(64).collect())),
    }
}

/// Checks a body against the vocabulary: known kind, data schema, rels and multiplicity.
pub fn validate(body: &Body) -> Result<(), VocabError> {
    let Some(kind) = check_kind(&body.kind)? else {
        return Ok(()); // custom kinds: any data map, any links
    };
    let data = body.data_map();
    for field in data_fields(kind) {
        match map_get(data, field.name) {
            None if field.required => {
                return Err(VocabError::MissingData {
                    kind: body.kind.clone(),
                    field: field.name,
                });
            }
            None => {}
            Some(v) => check_type(v, field.ty).map_err(|expected| VocabError::BadData {
                kind: body.kind.clone(),
                field: field.name,
                expected,
            })?,
        }
    }
    let rules = rel_rules(kind);
    for link in &body.links {
        if !rules.iter().any(|r| r.rel == link.rel) {
            return Err(VocabError::RelNotAllowed {
                kind: body.kind.clone(),
                rel: link.rel.clone(),
            });
        }
    }
    for r in rules {
        let has = body.links.iter().filter(|l| l.rel == r.rel).count();
        if !r.count.allows(has) {
            return Err(VocabError::LinkCount {
                kind: body.kind.clone(),
                rel: r.rel,
                need: r.count.describe(),
                has,
            });
        }
    }
    Ok(())
}

/// Checks a link's target kind once the target is known. Custom kinds and rels without a
/// target restriction accept any target.
pub fn check_target(kind: &str, rel: &str, target_kind: &str) -> Result<(), VocabError> {
    let Some(k) = Kind::parse(kind) else {
        return Ok(());
    };
    let Some(r) = rel_rules(k).iter().find(|r| r.rel == rel) else {
        return Ok(()); // validate() already refused unknown rels
    };
    if r.targets.is_empty() || r.targets.iter().any(|t| t.as_str() == target_kind) {
        return Ok(());
    }
    Err(VocabError::TargetKind {
        kind: kind.to_string(),
        rel: rel.to_string(),
        allowed: r
            .targets
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
        target: target_kind.chars().take(64).collect(),
    })
}

fn check_type(v: &Value, ty: Ty) -> Result<(), &'static str> {
    match ty {
        Ty::Text => v.as_text().map(|_| ()).ok_or("a text string"),
        Ty::OneOf(values, expected) => v
            .as_text()
            .filter(|s| values.contains(s))
            .map(|_| ())
            .ok_or(expected),
        Ty::Uint => v
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .map(|_| ())
            .ok_or("an unsigned integer"),
        Ty::Locations => {
            let items = v.as_array().filter(|a| !a.is_empty());
            let ok = items.is_some_and(|a| {
                a.iter().all(|loc| {
                    loc.as_map().is_some_and(|m| {
                        map_get(m, "type").is_some_and(Value::is_text)
                            && map_get(m, "uri").is_some_and(Value::is_text)
                    })
                })
            });
            ok.then_some(())
                .ok_or("a non-empty array of {type, uri} text maps")
        }
        Ty::RosterKeys => {
            // Every field is checked, optional ones too: a validity bound that silently
            // failed to parse would leave a key its root meant to retire in force.
            let uint_or_absent = |m: &[(Value, Value)], k: &str| {
                map_get(m, k)
                    .is_none_or(|v| v.as_integer().is_some_and(|i| u64::try_from(i).is_ok()))
            };
            let ok = v.as_array().is_some_and(|a| {
                a.iter().all(|e| {
                    e.as_map().is_some_and(|m| {
                        map_get(m, "key")
                            .and_then(Value::as_bytes)
                            .is_some_and(|b| b.len() == 32)
                            && map_get(m, "kinds")
                                .and_then(Value::as_array)
                                .is_some_and(|k| k.iter().all(Value::is_text))
                            && uint_or_absent(m, "not_before")
                            && uint_or_absent(m, "not_after")
                    })
                })
            });
            ok.then_some(()).ok_or(
                "an array of {key: 32 bytes, kinds: [text], not_before?: uint, not_after?: uint}",
            )
        }
        Ty::KeyTimes(field) => {
            // Checked strictly for the same reason: an end the root wrote must take effect.
            let ok = v.as_array().is_some_and(|a| {
                a.iter().all(|e| {
                    e.as_map().is_some_and(|m| {
                        map_get(m, "key")
                            .and_then(Value::as_bytes)
                            .is_some_and(|b| b.len() == 32)
                            && map_get(m, field)
                                .and_then(Value::as_integer)
                                .is_some_and(|i| u64::try_from(i).is_ok())
                    })
                })
            });
            ok.then_some(()).ok_or(match field {
                "at" => "an array of {key: 32 bytes, at: uint}",
                _ => "an array of {key: 32 bytes, since: uint}",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, Link};

    fn body(kind: &str, data: Vec<(&str, Value)>, links: Vec<Link>) -> Body {
        Body {
            v: 1,
            kind: kind.into(),
            community: "odl".into(),
            author: [1; 32],
            time: 1,
            seq: 0,
            links,
            data: Value::Map(
                data.into_iter()
                    .map(|(k, v)| (Value::Text(k.into()), v))
                    .collect(),
            ),
        }
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    const ID: EventId = EventId([5; 32]);

    #[test]
    fn known_kinds_check_data() {
        assert!(
            validate(&body(
                "artifact.created",
                vec![("identity", t("pkg:x"))],
                vec![]
            ))
            .is_ok()
        );
        assert_eq!(
            validate(&body("artifact.created", vec![], vec![])),
            Err(VocabError::MissingData {
                kind: "artifact.created".into(),
                field: "identity"
            })
        );
        assert!(matches!(
            validate(&body(
                "artifact.created",
                vec![("identity", Value::Integer(1.into()))],
                vec![]
            )),
            Err(VocabError::BadData {
                field: "identity",
                ..
            })
        ));
        let conf = |v: &str| {
            body(
                "confidence.modified",
                vec![("name", t("opnfvAcceptance")), ("value", t(v))],
                vec![Link::new("SUBJECT", ID)],
            )
        };
        assert!(validate(&conf("SUCCESS")).is_ok());
        assert!(matches!(
            validate(&conf("GREAT")),
            Err(VocabError::BadData { field: "value", .. })
        ));
    }

    #[test]
    fn link_rules() {
        let published = |links| {
            let loc = Value::Array(vec![Value::Map(vec![
                (t("type"), t("nexus")),
                (t("uri"), t("https://x")),
            ])]);
            body("artifact.published", vec![("locations", loc)], links)
        };
        assert!(validate(&published(vec![Link::new("ARTIFACT", ID)])).is_ok());
        assert!(matches!(
            validate(&published(vec![])),
            Err(VocabError::LinkCount { .. })
        ));
        assert!(matches!(
            validate(&published(vec![
                Link::new("ARTIFACT", ID),
                Link::new("ARTIFACT", ID)
            ])),
            Err(VocabError::LinkCount { .. })
        ));
        assert!(matches!(
            validate(&published(vec![
                Link::new("ARTIFACT", ID),
                Link::new("ELEMENT", ID)
            ])),
            Err(VocabError::RelNotAllowed { .. })
        ));
        assert!(check_target("artifact.published", "ARTIFACT", "artifact.created").is_ok());
        assert!(check_target("artifact.published", "ARTIFACT", "composition.defined").is_err());
        assert!(check_target("artifact.created", "CAUSE", "anything").is_ok());
    }

    #[test]
    fn custom_kinds() {
        assert!(
            validate(&body(
                "x-odl.nightly",
                vec![("anything", t("x"))],
                vec![Link::new("WHATEVER", ID)]
            ))
            .is_ok()
        );
        for bad in [
            "x-.a",
            "x-odl.",
            "x-odl",
            "artifact.deleted",
            "X-odl.a",
            "x-o_d.a",
        ] {
            assert!(
                matches!(
                    validate(&body(bad, vec![], vec![])),
                    Err(VocabError::UnknownKind(_))
                ),
                "{bad}"
            );
        }
    }
}
