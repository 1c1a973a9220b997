//! The strings command family.

use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![]
}
