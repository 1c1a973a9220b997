//! Finding the external programs some tests need (redis-server, redis-cli,
//! redis-check-rdb, python3).

use std::path::PathBuf;

/// The full path of `name` on `PATH`. Panics, naming the package to install, when it
/// is missing: `scripts/test.sh` installs every tool, so a missing one is a broken
/// setup and must fail the run rather than skip tests.
pub fn require_tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        let package = match name {
            "redis-server" => "redis-server",
            "redis-cli" | "redis-benchmark" | "redis-check-rdb" => "redis-tools",
            "python3" => "python3",
            "script" => "bsdutils",
            other => other,
        };
        panic!(
            "required tool `{name}` is not on PATH. Run scripts/test.sh, which installs it, \
             or `apt-get install -y {package}` yourself."
        )
    })
}

/// The full path of `name` on `PATH`, if it is there and executable.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
