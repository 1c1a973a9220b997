//! Process limits: every client and every database's listener is a file descriptor,
//! and the default soft limit (often 1024) is far below what a server with
//! `maxclients 10000`, or a platform with a thousand databases, needs. As Redis does,
//! the soft limit is raised at start, as far as the hard limit allows.

/// Raises the soft open-files limit to the hard limit; returns the limit in force.
pub fn raise_open_files() -> Option<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own; lowering never happens here.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            return Some(want.rlim_cur);
        }
    }
    Some(lim.rlim_cur)
}

/// Raises the limit and logs what is in force (after logging is set up).
pub fn raise_and_log() {
    match raise_open_files() {
        Some(n) => tracing::info!("open files limit: {n}"),
        None => tracing::warn!("could not read the open files limit"),
    }
}
