//! `peer list` and `peer remove`: the remembered and configured peers, on the admin socket.

use super::render;
use anyhow::Result;
use fedci_client::types::{PeerList, PeerRemoved};
use fedci_client::{Client, RawRequest};
use hyper::Method;

pub async fn list(client: &Client, json: bool) -> Result<()> {
    let peers: PeerList = client.get("/v1/peers").await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&peers)?);
    } else {
        say!("{}", render::peers(&peers).trim_end());
    }
    Ok(())
}

pub async fn remove(client: &Client, target: &str) -> Result<()> {
    // One path segment: a multiaddr's slashes are escaped.
    let escaped: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
    let req = RawRequest::new(Method::DELETE, format!("/v1/peers/{escaped}"));
    let answer: PeerRemoved = client.call(req).await?.parse()?;
    for addr in &answer.removed {
        say!("forgot {addr}");
    }
    for addr in &answer.still_configured {
        eprintln!(
            "fedci-node: {addr} is still in config.toml's `peers` and stays dialled; remove it there"
        );
    }
    Ok(())
}
