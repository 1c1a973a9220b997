//! Commands: the command table (data), the dispatch pipeline that runs every generic
//! check once, the instance state (config, clients, statistics) and the handlers, one
//! module per family. Knows no sockets: the server crate feeds it decoded arguments
//! and sends what it writes.

pub mod acl;
pub mod blocking;
pub mod client;
pub mod config;
pub mod ctx;
pub mod diag;
pub mod directory;
pub mod dispatch;
pub mod errors;
pub mod families;
pub mod hll;
pub mod instance;
pub mod multi;
pub mod outbox;
pub mod pubsub;
pub mod registry;
pub mod scripts;
pub mod spec;
pub mod table;
pub mod tracking;

pub use client::{Client, ClientInfo};
pub use config::Config;
pub use ctx::Ctx;
pub use directory::{Directory, OpenError};
pub use instance::Instance;
