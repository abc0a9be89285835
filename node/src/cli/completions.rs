//! `completions SHELL` and `manpage`: generated from the same clap definitions as `--help`,
//! so they never disagree with the binary that prints them.

use super::Cli;
use anyhow::Result;
use clap::CommandFactory;

/// Writes the completion script of `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "fedci-node", &mut out);
    Ok(())
}

/// Writes the man page (roff, section 1) to stdout; its SUBCOMMANDS section lists every
/// command with its summary (`fedci-node help COMMAND` has the details).
pub fn manpage() -> Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(())
}
