//! `fedci-node`: parses the command line, sets up logging, runs the command. Exit codes: 0 ok,
//! 1 failure (one line on stderr), 2 usage (clap).

use clap::Parser;
use fedci_node::cli;
use std::process::ExitCode;

/// Threads for blocking work (decoding and verifying, redb reads). Tokio's default of 512 lets
/// a burst of gossip start hundreds of threads, each with its own stack and, with glibc, a
/// malloc arena that keeps what it once held (issue 19). Two cores do not need more than this.
const MAX_BLOCKING_THREADS: usize = 16;

/// The allocator, chosen at build time: jemalloc by default. Side by side with glibc's (two
/// arenas) it used 4–9 % less CPU per event in a 3-node fanout and halved the latency at
/// 3,000 events/s, for 5–10 MB more RSS per node, level over 30 minutes under load
/// (BENCHMARKS.md, session 12; issues 16 and 19). Build with
/// `--no-default-features` for the system allocator,
/// `--no-default-features --features mimalloc` for mimalloc.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// With glibc's allocator, the daemon restarts itself once with `MALLOC_ARENA_MAX` set (the
/// same process, through exec): glibc reads it only at start-up, and with its default (8 per
/// core) a loaded node's RSS kept growing by several MB a minute in arenas holding freed
/// memory, while with 2 it levelled off (BENCHMARKS.md, issue 19). Safe code cannot call
/// `mallopt`.
#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    /// glibc's malloc arenas at most, unless the operator sets `MALLOC_ARENA_MAX` itself.
    const ARENA_MAX: &str = "2";
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", ARENA_MAX)
        .exec();
    // Only reached if exec failed: run on with glibc's default.
    eprintln!("fedci-node: cannot restart with MALLOC_ARENA_MAX={ARENA_MAX}: {err}");
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    #[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
    if matches!(args.command, cli::Command::Run(_)) {
        limit_malloc_arenas();
    }
    let log = match &args.command {
        cli::Command::Run(run) => run.log.clone(),
        _ => None,
    };
    let filter = log
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,libp2p=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fedci-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run_command(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fedci-node: {}", cli::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The reader of our stdout went away (`fedci-node query | head`): not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
