//! The owner's commands: trust and removing consumers (rosters are in `roster.rs`). They go
//! through the node's admin socket (mode 0600, only the node's owner can open it); `trust`
//! also works on a stopped node, straight on its store.

use super::ConsumerCommand;
use super::commands::{admin_client, client, parse_key};
use crate::config::Config;
use crate::home::Home;
use crate::metrics::Metrics;
use crate::store::Store;
use anyhow::{Result, bail};
use fedci_client::types::Trust;
use fedci_client::{Client, ClientError};
use std::sync::Arc;

pub async fn consumer(home: &Home, cmd: ConsumerCommand) -> Result<()> {
    match cmd {
        ConsumerCommand::List => {
            for (name, cursor) in client(home)?.consumers().await? {
                say!("{name:<24} at arrival {cursor}");
            }
        }
        ConsumerCommand::Remove { name } => {
            // The owner goes through the admin socket (any consumer); others cannot open it
            // and use the CI socket, where the node lets them remove only their own.
            match admin_client(home)?.remove_consumer(&name).await {
                Err(ClientError::NotPermitted(_) | ClientError::Connect { .. }) => {
                    client(home)?.remove_consumer(&name).await?;
                }
                other => {
                    other?;
                }
            }
            say!("removed consumer {name}");
        }
    }
    Ok(())
}

/// Pins through the running node, or straight into the store when the node is stopped.
pub async fn trust_add(home: &Home, community: &str, key: &str) -> Result<()> {
    let key = parse_key(key)?;
    fedci_proto::body::check_community(community)?;
    let config = home.load_config()?;
    let client = Client::new(home.admin_socket_path(&config));
    let changed = match client.pin(community, &key.to_string()).await {
        Ok(answer) => answer.changed,
        Err(ClientError::Connect { .. }) => {
            let (store, writer) = open_offline(home, &config)?;
            let changed = store
                .pin(community.to_string(), key, &config.community)
                .await;
            drop(store);
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
            changed?
        }
        Err(e) => return Err(e.into()),
    };
    say!(
        "{} {community} root {key}",
        if changed { "pinned" } else { "already pinned:" }
    );
    Ok(())
}

pub async fn trust_list(home: &Home) -> Result<()> {
    let config = home.load_config()?;
    let client = Client::new(home.socket_path(&config));
    let pins = match client.trust().await {
        Ok(t) => t.pins,
        Err(ClientError::Connect { .. }) => {
            let (store, writer) = open_offline(home, &config)?;
            let pins = crate::api::pins(&store.trust(), false);
            drop(store);
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
            pins
        }
        Err(e) => return Err(e.into()),
    };
    say!("{}", super::render::trust(&Trust { pins }).trim_end());
    Ok(())
}

fn open_offline(home: &Home, _config: &Config) -> Result<(Store, crate::store::WriterThread)> {
    match Store::open(&home.store_path(), None, Arc::new(Metrics::default())) {
        Ok(s) => Ok(s),
        Err(crate::store::StoreError::AlreadyOpen) => {
            bail!("the node is running but its socket does not answer; try again")
        }
        Err(e) => Err(e.into()),
    }
}
