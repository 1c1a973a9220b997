//! The `miniredis` binary: argument parsing and wiring only.

mod limits;
mod logging;
mod memory;
mod node;
mod platform;
mod signals;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "miniredis",
    version,
    about = "A Redis-compatible, multi-tenant in-memory data platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform on this host: the node manager with its tenant databases,
    /// each on its own port from a pool, and the front door where
    /// `AUTH <database> <password>` picks the database.
    Server(platform::ServerArgs),
    /// Run one standalone Redis-compatible server. Takes redis-server's options:
    /// `miniredis node [redis.conf] [--port 6379] [--requirepass x] [--config FILE] ...`
    #[command(disable_help_flag = false)]
    Node {
        /// Options as redis-server takes them (`--name value ...`), optionally preceded
        /// by a configuration file path.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() {
    commands::instance::set_memory_probe(memory::probe);
    commands::instance::set_allocated_probe(memory::allocated);
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Node { args } => node::main(&args),
        Command::Server(args) => platform::main(&args),
    };
    std::process::exit(code);
}
