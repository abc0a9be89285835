//! Background nets for experiments: `up` starts N nodes that outlive the command, `down`,
//! `status`, and fault injection (`kill`, `restart`, `partition`, `heal`). Every command is a
//! separate process; they share the net through its state file, `DIR/testnet.json`.

mod faults;
mod homes;
mod netns;
mod peer_id;
mod process;
mod show;
mod spec;
mod state;
mod up;

use clap::Args;
use std::path::PathBuf;

pub use faults::{heal, kill, partition, restart};
pub use show::status;
pub use up::{down, up};

#[derive(Debug, Args)]
pub struct DirArgs {
    /// The net's directory (homes, state file, logs).
    #[arg(long, default_value = "/tmp/fedci-testnet")]
    pub dir: PathBuf,
}

/// `up`: the nodes get fixed listen ports and dial each other by those addresses, so a node
/// that is killed and restarted is found again.
#[derive(Debug, Args)]
#[command(
    after_help = "Communities are named odl, opnfv, openstack, fdio, onap, anuket, \
tungsten, kubevirt, then c08, c09, …; every node pins every other's root key. The command \
returns once every node is up with at least one peer; node logs are DIR/<name>/node.log."
)]
pub struct UpArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Number of nodes, 2 to 99 (up to about 50 on a 2-core machine).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// full, ring, or random:D (each node dials D others).
    #[arg(long, default_value = "full")]
    pub topology: String,
    /// Put each node in its own network namespace on a shared bridge (needs root and `ip`).
    #[arg(long)]
    pub netns: bool,
    /// With --netns: added delay on every link, e.g. 20ms.
    #[arg(long, requires = "netns")]
    pub latency: Option<String>,
    /// With --netns: packet loss on every link, e.g. 1%.
    #[arg(long, requires = "netns")]
    pub loss: Option<String>,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Node name as `status` shows it.
    pub node: String,
}

/// `partition`: enforced by the nodes or, with --netns, by the kernel.
#[derive(Debug, Args)]
#[command(
    after_help = "Without --netns each node blocks the peers across the cut (it \
disconnects and refuses them); with --netns blackhole routes drop the packets, as a real split \
would. A new partition replaces the one in force; nodes named in no group stay connected to \
everyone. `heal` undoes it."
)]
pub struct PartitionArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Groups separated by `/`, nodes within a group by `,`: `odl,opnfv / openstack`.
    #[arg(num_args = 1.., required = true)]
    pub groups: Vec<String>,
}

/// Why a cluster command failed; each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Usage(String),
    #[error("nothing running in {0} (no testnet.json)")]
    NotUp(PathBuf),
    #[error("a net is already up in {0}: run `fedci-testnet down --dir {0}` first")]
    AlreadyUp(PathBuf),
    #[error("{0} exists and is not a testnet directory (no testnet.json); not touching it")]
    Foreign(PathBuf),
    #[error("no node `{name}` in this net (nodes: {known})")]
    UnknownNode { name: String, known: String },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error("{0}")]
    Node(String),
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("{0}")]
    NotReady(String),
}

impl ClusterError {
    fn io(what: impl Into<String>, e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Io {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

impl From<crate::node::NodeError> for ClusterError {
    fn from(e: crate::node::NodeError) -> ClusterError {
        // Flattened to one line: the binary prints errors as a single line.
        ClusterError::Node(e.to_string().replace('\n', " | "))
    }
}

impl From<crate::binary::BinaryError> for ClusterError {
    fn from(e: crate::binary::BinaryError) -> ClusterError {
        ClusterError::Node(e.to_string())
    }
}
