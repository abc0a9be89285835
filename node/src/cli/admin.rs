//! The owner's commands: trust and removing consumers (rosters are in `roster.rs`). They go
//! through the node's admin socket (mode 0600, only the node's owner can open it); `trust`
//! also works on a stopped node, straight on its store.

use super::ConsumerCommand;
use super::client::Client;
use super::commands::{admin_client, client, parse_key};
use anyhow::{Result, bail};
use fedci_node::config::Config;
use fedci_node::home::Home;
use fedci_node::metrics::Metrics;
use fedci_node::store::Store;
use hyper::Method;
use serde_json::json;
use std::sync::Arc;

pub async fn consumer(home: &Home, cmd: ConsumerCommand) -> Result<()> {
    match cmd {
        ConsumerCommand::List => {
            let v = client(home)?.get_json("/v1/consumers").await?;
            for (name, cursor) in v.as_object().into_iter().flatten() {
                say!("{name:<24} at arrival {cursor}");
            }
        }
        ConsumerCommand::Remove { name } => {
            let path = format!("/v1/consumers/{name}");
            // The owner goes through the admin socket (any consumer); others cannot open it
            // and use the CI socket, where the node lets them remove only their own.
            let resp = match admin_client(home)?
                .request(Method::DELETE, &path, None, None)
                .await
            {
                Err(super::ClientError::NotPermitted(_) | super::ClientError::Connect { .. }) => {
                    client(home)?
                        .request(Method::DELETE, &path, None, None)
                        .await?
                }
                other => other?,
            };
            let _ = resp;
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
    let changed = match client
        .post_json(
            "/v1/trust/pins",
            &json!({"community": community, "key": key.to_string()}),
        )
        .await
    {
        Ok(v) => v["changed"] == true,
        Err(super::ClientError::Connect { .. }) => {
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
    let v = match client.get_json("/v1/trust").await {
        Ok(v) => v,
        Err(super::ClientError::Connect { .. }) => {
            let (store, writer) = open_offline(home, &config)?;
            let pins = fedci_node::api::pins_json(&store.trust(), false);
            drop(store);
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
            json!({ "pins": pins })
        }
        Err(e) => return Err(e.into()),
    };
    let trust: super::render::Trust = serde_json::from_value(v)?;
    say!("{}", super::render::trust(&trust).trim_end());
    Ok(())
}

fn open_offline(home: &Home, _config: &Config) -> Result<(Store, fedci_node::store::WriterThread)> {
    match Store::open(&home.store_path(), None, Arc::new(Metrics::default())) {
        Ok(s) => Ok(s),
        Err(fedci_node::store::StoreError::AlreadyOpen) => {
            bail!("the node is running but its socket does not answer; try again")
        }
        Err(e) => Err(e.into()),
    }
}
