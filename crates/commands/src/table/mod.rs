//! The command table as data: one [`CommandSpec`] per Redis 7.0 command and subcommand.

use crate::spec::CommandSpec;

/// Every command MiniRedis knows how to describe.
pub fn specs() -> Vec<CommandSpec> {
    Vec::new()
}
