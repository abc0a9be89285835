//! `fedci-node roster …`: shows or changes this community's roster. Changes are signed with
//! the root key and published through the node's admin socket like any raw event, so they reach every peer.

use super::RosterCommand;
use crate::home::Home;
use anyhow::{Result, bail};
use fedci_client::Client;
use fedci_keys::{EndKind, PublicKey, Roster, RosterEntry, SecretKey};
use fedci_proto::{Event, EventId};

/// The newest roster of this community, read from its signed event (so that every field,
/// retired and revoked keys included, carries over to the next one).
async fn current(client: &Client, community: &str) -> Result<Option<(Roster, EventId)>> {
    let trust = client.trust().await?;
    let id = trust
        .pins
        .into_iter()
        .find(|p| p.community == community)
        .and_then(|p| p.roster)
        .map(|r| r.id);
    let Some(id) = id else { return Ok(None) };
    let raw = client.event_cose(&id.to_string()).await?;
    let event = Event::decode(&raw)?;
    Ok(Some((Roster::from_event(&event)?, id)))
}

pub async fn roster(home: &Home, cmd: RosterCommand) -> Result<()> {
    let config = home.load_config()?;
    let client = Client::new(home.socket_path(&config));
    let (mut roster, previous) = match current(&client, &config.community).await? {
        Some((r, id)) => (r, Some(id)),
        None => (
            Roster {
                community: config.community.clone(),
                serial: 0,
                entries: vec![],
                ended: vec![],
            },
            None,
        ),
    };
    let ended = |r: &Roster, key: &PublicKey| r.ended.iter().any(|e| e.key == key.to_bytes());
    let now = crate::now_ms();
    let (root_key, change) = match cmd {
        RosterCommand::Show => {
            say!(
                "community {} roster serial {}",
                config.community,
                roster.serial
            );
            for e in &roster.entries {
                say!("  {}  kinds {}", e.key, e.kinds.join(","));
            }
            for e in &roster.ended {
                let (how, field) = match e.how {
                    EndKind::Retired => ("retired", "after"),
                    EndKind::Revoked => ("revoked", "since"),
                };
                say!("  {}  {how} {field} {}", hex::encode(e.key), e.at);
            }
            return Ok(());
        }
        RosterCommand::Add {
            key,
            kinds,
            root_key,
        } => {
            let key: PublicKey = key.parse()?;
            if ended(&roster, &key) {
                bail!("{key} was retired or revoked for good; authorise a new key instead");
            }
            roster.entries.retain(|e| e.key != key);
            let kinds = if kinds.is_empty() {
                vec!["*".to_string()]
            } else {
                kinds
            };
            roster.entries.push(RosterEntry {
                key,
                kinds,
                not_before: None,
                not_after: None,
            });
            (root_key, format!("added {key}"))
        }
        RosterCommand::Remove { key, root_key } => {
            let key: PublicKey = key.parse()?;
            let before = roster.entries.len();
            roster.entries.retain(|e| e.key != key);
            if roster.entries.len() == before {
                bail!("{key} is not in the roster");
            }
            (root_key, format!("retired {key} (left out from now on)"))
        }
        RosterCommand::Retire { key, at, root_key } => {
            let key: PublicKey = key.parse()?;
            if roster.entry(&key.to_bytes()).is_none() {
                bail!("{key} is not in the roster");
            }
            let at = at.unwrap_or(now);
            roster.end_key(&key, EndKind::Retired, at);
            (
                root_key,
                format!("retired {key}: its events after {at} are refused"),
            )
        }
        RosterCommand::Revoke {
            key,
            since,
            root_key,
        } => {
            let key: PublicKey = key.parse()?;
            roster.end_key(&key, EndKind::Revoked, since);
            (
                root_key,
                format!("revoked {key}: its events from {since} on are refused"),
            )
        }
    };
    let root = SecretKey::load(&root_key.unwrap_or_else(|| home.root_key_path()))?;
    roster.serial += 1;
    let serial = roster.serial;
    let event = roster.sign(&root, now, previous)?;
    // Reading the roster is anyone's; publishing a new one is the owner's (admin socket).
    super::commands::admin_client(home)?
        .publish_raw(event.raw().to_vec())
        .await?;
    say!("{change}: roster serial {serial} ({})", event.id());
    Ok(())
}
