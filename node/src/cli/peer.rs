//! `peer list` and `peer remove`: the remembered and configured peers, on the admin socket.

use super::client::Client;
use super::render;
use anyhow::Result;
use hyper::Method;

pub async fn list(client: &Client, json: bool) -> Result<()> {
    let resp = client.request(Method::GET, "/v1/peers", None, None).await?;
    if json {
        let v: serde_json::Value = serde_json::from_slice(&resp.body)?;
        say!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let peers: render::PeerList = serde_json::from_slice(&resp.body)?;
    say!("{}", render::peers(&peers).trim_end());
    Ok(())
}

pub async fn remove(client: &Client, target: &str) -> Result<()> {
    // One path segment: a multiaddr's slashes are escaped.
    let escaped: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
    let resp = client
        .request(Method::DELETE, &format!("/v1/peers/{escaped}"), None, None)
        .await?;
    let answer: render::PeerRemoved = serde_json::from_slice(&resp.body)?;
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
