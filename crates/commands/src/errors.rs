//! Every error string MiniRedis replies with, in one place, worded as Redis words them.

pub const SYNTAX: &str = "ERR syntax error";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const INCR_NAN_INF: &str = "ERR increment would produce NaN or Infinity";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const OUT_OF_RANGE: &str = "ERR index out of range";
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const INVALID_EXPIRE_SET: &str = "ERR invalid expire time in 'set' command";
pub const INVALID_EXPIRE_GETEX: &str = "ERR invalid expire time in 'getex' command";
pub const INVALID_EXPIRE_SETEX: &str = "ERR invalid expire time in 'setex' command";
pub const INVALID_EXPIRE_PSETEX: &str = "ERR invalid expire time in 'psetex' command";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// CONFIG SET of a parameter a tenant does not own (the reason part of
/// [`config_set_invalid`], as Redis words its protected configs).
pub const PROTECTED_CONFIG: &str = "can't set protected config";
/// Process-wide commands on a tenant database.
pub const TENANT_SHUTDOWN: &str =
    "ERR SHUTDOWN is not allowed on a tenant database: stop it through the control plane";
pub const TENANT_DEBUG: &str = "ERR DEBUG is not allowed on a tenant database";
/// `AUTH <password>` alone on the front door, where a database must be named.
pub const FRONT_DOOR_NEEDS_DATABASE: &str =
    "ERR this port serves many databases: use AUTH <database> <password>";
/// The front door found the database and the password was right, but the database
/// is not serving.
pub fn database_not_running(name: &str, status: &str) -> String {
    format!("ERR database '{name}' is not running (status: {status})")
}
/// Write commands while snapshots are failing (stop-writes-on-bgsave-error), as Redis.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// A command that may add data, refused because the keyspace holds `maxkeys` keys
/// (a MiniRedis limit; worded after the OOM error).
pub fn maxkeys_reached(max: u64) -> String {
    format!("ERR command not allowed when the number of keys >= 'maxkeys' ({max})")
}
pub const NX_XX: &str = "ERR XX and NX options at the same time are not compatible";
pub const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const TIMEOUT_NEG: &str = "ERR timeout is negative";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
pub const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const CLIENT_NAME_SPACES: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const SHUTDOWN_ERRORS: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// Bytes of `b` as C's `%.<max>s` prints them: at most `max` bytes, cut at a NUL.
fn c_str(b: &[u8], max: usize) -> &[u8] {
    let b = &b[..b.len().min(max)];
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// `ERR unknown command '<name>', with args beginning with: '<a1>' '<a2>' ...`, with the
/// client's bytes echoed as Redis 7.0 echoes them (each cut at 128 bytes or a NUL).
pub fn unknown_command(argv: &[&[u8]]) -> Vec<u8> {
    let mut args: Vec<u8> = Vec::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(c_str(a, room));
        args.extend_from_slice(b"' ");
    }
    let mut s = b"ERR unknown command '".to_vec();
    s.extend_from_slice(c_str(argv.first().copied().unwrap_or_default(), 128));
    s.extend_from_slice(b"', with args beginning with: ");
    s.extend_from_slice(&args);
    s
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.` (the command as the client typed
/// it, upper-cased).
pub fn unknown_subcommand(cmd: &[u8], sub: &[u8]) -> Vec<u8> {
    let mut s = b"ERR unknown subcommand '".to_vec();
    s.extend_from_slice(c_str(sub, 128));
    s.extend_from_slice(b"'. Try ");
    s.extend_from_slice(&c_str(cmd, usize::MAX).to_ascii_uppercase());
    s.extend_from_slice(b" HELP.");
    s
}

/// `ERR wrong number of arguments for '<name>' command`; for subcommands Redis names
/// them as `container|sub`.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR Unknown option or number of arguments for CONFIG SET - '<name>'`
pub fn config_set_unknown(name: &[u8]) -> String {
    format!(
        "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
        printable(name, 128)
    )
}

pub fn config_set_invalid(name: &str, reason: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

pub fn protocol(detail: &str) -> String {
    format!("ERR Protocol error: {detail}")
}

/// Client input echoed inside an error message, as C's `%.<max>s` would print it (cut
/// at `max` bytes or a NUL). Invalid UTF-8 is replaced; CR/LF become spaces when written.
pub fn printable(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(c_str(b, max)).into_owned()
}

/// The error code (`ERR`, `WRONGTYPE`, ...) of a full error message, for errorstats.
pub fn code_of(msg: &str) -> &str {
    msg.split(' ').next().unwrap_or("ERR")
}

// String and generic key families.

pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
pub const INT_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const INVALID_FIRST_DB: &str = "ERR invalid first DB index";
pub const INVALID_SECOND_DB: &str = "ERR invalid second DB index";
pub const EXPIRE_NX_AND_OTHERS: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_AND_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const INVALID_EXPIRE_EXPIRE: &str = "ERR invalid expire time in 'expire' command";
pub const INVALID_EXPIRE_PEXPIRE: &str = "ERR invalid expire time in 'pexpire' command";
pub const INVALID_EXPIRE_EXPIREAT: &str = "ERR invalid expire time in 'expireat' command";
pub const INVALID_EXPIRE_PEXPIREAT: &str = "ERR invalid expire time in 'pexpireat' command";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const LCS_IDX_AND_LEN: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
pub const LCS_TOO_BIG: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";

/// `ERR Unsupported option <opt>` (EXPIRE family). Redis prints the option as a C
/// string, so it ends at the first NUL byte.
pub fn unsupported_option(opt: &[u8]) -> String {
    let end = opt.iter().position(|&c| c == 0).unwrap_or(opt.len());
    format!(
        "ERR Unsupported option {}",
        String::from_utf8_lossy(&opt[..end])
    )
}
pub const LCS_ALLOC_FAILED: &str =
    "ERR Insufficient memory, failed allocating transient memory for LCS";

// COMMAND GETKEYS / GETKEYSANDFLAGS.
pub const GETKEYS_INVALID_COMMAND: &str = "ERR Invalid command specified";
pub const GETKEYS_NO_KEYS: &str = "ERR The command has no key arguments";
pub const GETKEYS_BAD_ARITY: &str = "ERR Invalid number of arguments specified for command";
pub const GETKEYS_INVALID_ARGS: &str = "ERR Invalid arguments specified for command";

// ---- zset ----
pub const ZADD_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
pub const ZSET_NAN: &str = "ERR resulting score is not a number (NaN)";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_LEX: &str = "ERR min or max not valid string range item";
pub const ZRANGE_LIMIT_RANK: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
pub const ZRANGE_WITHSCORES_LEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
/// `ERR at least 1 input key is needed for '<cmd>' command` (ZUNION and friends).
pub fn at_least_one_key(cmd: &str) -> String {
    format!("ERR at least 1 input key is needed for '{cmd}' command")
}

// ---- geo ----
pub const GEO_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
pub const GEO_NEED_RADIUS: &str = "ERR need numeric radius";
pub const GEO_NEGATIVE_RADIUS: &str = "ERR radius cannot be negative";
pub const GEO_NEED_WIDTH: &str = "ERR need numeric width";
pub const GEO_NEED_HEIGHT: &str = "ERR need numeric height";
pub const GEO_NEGATIVE_BOX: &str = "ERR height or width cannot be negative";
pub const GEO_MEMBER_DECODE: &str = "ERR could not decode requested zset member";
pub const GEO_COUNT: &str = "ERR COUNT must be > 0";
pub const GEO_ANY_NEEDS_COUNT: &str = "ERR the ANY argument requires COUNT argument";
pub const GEORADIUS_STORE_WITH: &str =
    "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options";
pub const GEOSEARCHSTORE_WITH: &str =
    "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options";
/// `ERR invalid longitude,latitude pair <lon>,<lat>` (C's `%f`).
pub fn geo_invalid_lonlat(lon: f64, lat: f64) -> String {
    format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")
}
/// GEOSEARCH without FROMMEMBER/FROMLONLAT (the command as the client typed it).
pub fn geo_need_from(cmd: &str) -> String {
    format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {cmd}")
}
/// GEOSEARCH without BYRADIUS/BYBOX (the command as the client typed it).
pub fn geo_need_by(cmd: &str) -> String {
    format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {cmd}")
}

// ---- streams ----

pub const STREAM_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
pub const STREAM_INVALID_START: &str = "ERR invalid start ID for the interval";
pub const STREAM_INVALID_END: &str = "ERR invalid end ID for the interval";
pub const STREAM_MAXLEN_AND_MINID: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
pub const STREAM_MAXLEN_NEGATIVE: &str = "ERR The MAXLEN argument must be >= 0.";
pub const STREAM_LIMIT_NEGATIVE: &str = "ERR The LIMIT argument must be >= 0.";
pub const STREAM_LIMIT_NO_STRATEGY: &str =
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
pub const STREAM_XTRIM_NO_STRATEGY: &str =
    "ERR syntax error, XTRIM must be called with a trimming strategy";
pub const STREAM_LIMIT_NEEDS_APPROX: &str =
    "ERR syntax error, LIMIT cannot be used without the special ~ option";
pub const STREAM_EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
pub const STREAM_ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
pub const STREAM_XADD_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
pub const STREAM_ENTRIES_ADDED_NEGATIVE: &str = "ERR entries_added must be positive";
pub const STREAM_SETID_BELOW_GIVEN_MAXDEL: &str =
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
pub const STREAM_SETID_TOO_SMALL: &str =
    "ERR The ID specified in XSETID is smaller than the target stream top item";
pub const STREAM_SETID_ENTRIES_ADDED_SMALL: &str =
    "ERR The entries_added specified in XSETID is smaller than the target stream length";
pub const STREAM_UNBALANCED: &str =
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
pub const STREAM_GROUP_ONLY_XREADGROUP: &str =
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
pub const STREAM_NOACK_ONLY_XREADGROUP: &str =
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
pub const STREAM_MISSING_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
pub const STREAM_DOLLAR_IN_XREADGROUP: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
pub const STREAM_GT_IN_XREAD: &str = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
pub const STREAM_ENTRIES_READ_NEGATIVE: &str = "ERR value for ENTRIESREAD must be positive or -1";
pub const STREAM_XGROUP_NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
pub const STREAM_BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
pub const XCLAIM_BAD_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XCLAIM";
pub const XCLAIM_BAD_IDLE: &str = "ERR Invalid IDLE option argument for XCLAIM";
pub const XCLAIM_BAD_TIME: &str = "ERR Invalid TIME option argument for XCLAIM";
pub const XCLAIM_BAD_RETRYCOUNT: &str = "ERR Invalid RETRYCOUNT option argument for XCLAIM";
pub const XAUTOCLAIM_BAD_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XAUTOCLAIM";
pub const XAUTOCLAIM_COUNT: &str = "ERR COUNT must be > 0";
pub const STREAM_BLOCKED_KEY_GONE: &str = "UNBLOCKED the stream key no longer exists";
pub const STREAM_BLOCKED_GROUP_GONE: &str =
    "NOGROUP the consumer group this client was blocked on no longer exists";

/// `NOGROUP No such key '<key>' or consumer group '<group>'` (XPENDING, XCLAIM, ...).
pub fn stream_nogroup_key(key: &str, group: &str) -> String {
    format!("NOGROUP No such key '{key}' or consumer group '{group}'")
}

/// XREADGROUP on a missing key or group.
pub fn stream_nogroup_read(key: &str, group: &str) -> String {
    format!(
        "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
    )
}

/// XGROUP and XINFO CONSUMERS on a missing group.
pub fn stream_nogroup_for_key(group: &str, key: &str) -> String {
    format!("NOGROUP No such consumer group '{group}' for key name '{key}'")
}

/// `ERR Unrecognized XCLAIM option '<opt>'`
pub fn xclaim_unrecognized(opt: &str) -> String {
    format!("ERR Unrecognized XCLAIM option '{opt}'")
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand_or_arity(cmd: &[u8], sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        printable(sub, 128),
        printable(cmd, usize::MAX).to_ascii_uppercase()
    )
}

// ---- bitmaps ----
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO_GET_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";

// ---- hyperloglog ----
pub const HLL_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
pub const HLL_WRONGTYPE: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
pub const PFDEBUG_NO_KEY: &str = "ERR The specified key does not exist";
pub const PFDEBUG_NOT_SPARSE: &str = "ERR HLL encoding is not sparse";

/// `ERR Unknown PFDEBUG subcommand '<sub>'` (the subcommand as a C string).
pub fn pfdebug_unknown(sub: &[u8]) -> String {
    format!(
        "ERR Unknown PFDEBUG subcommand '{}'",
        printable(sub, usize::MAX)
    )
}

/// A PFSELFTEST failure (`what` starts with `TESTFAILED`).
pub fn pfselftest_failed(what: &str) -> String {
    format!("ERR {what}")
}

// ---- lists ----
/// LPOP/RPOP count (Redis's getPositiveLongFromObjectOrReply without a message of its
/// own: a non-integer gets it too).
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const LPOS_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
pub const LPOS_MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
/// LMPOP/BLMPOP (and ZMPOP/BZMPOP) numkeys and COUNT.
pub const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const COUNT_POSITIVE: &str = "ERR count should be greater than 0";

// ---- hashes and sets ----

pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
/// A count that must fit -LONG_MAX..=LONG_MAX (HRANDFIELD, SRANDMEMBER).
pub const LONG_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
pub const VALUE_OUT_OF_RANGE: &str = "ERR value is out of range";
pub const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
// ---- transactions ----
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
/// A `no-multi` command (SAVE, SHUTDOWN, ...) sent inside MULTI.
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// EXEC refused as a whole (memory, MISCONF): the reason is the error the queued
/// commands would have had.
pub fn exec_discarded_because(reason: &str) -> String {
    format!("EXECABORT Transaction discarded because of: {reason}")
}

// ---- diagnostics ----
pub const SLOWLOG_COUNT: &str = "ERR count should be greater than or equal to -1";

/// LATENCY GRAPH of an event with no samples.
pub fn latency_no_samples(event: &str) -> String {
    format!("ERR No samples available for event '{event}'")
}

// ---- acl ----
pub const NOPERM_KEY: &str =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
pub const NOPERM_CHANNEL: &str =
    "NOPERM this user has no permissions to access one of the channels used as arguments";

/// A command the user may not run (its full name, `config|get` for subcommands).
pub fn noperm_command(name: &str) -> String {
    format!("NOPERM this user has no permissions to run the '{name}' command")
}

/// ACL SETUSER rule errors (the reason part).
pub const ACL_SYNTAX: &str = "Syntax error";
pub const ACL_UNKNOWN_NAME: &str = "Unknown command or category name in ACL";
pub const ACL_BAD_HASH: &str =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
pub const ACL_NO_SUCH_PASSWORD: &str =
    "The password you are trying to remove from the user does not exist";
pub const ACL_KEYS_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
pub const ACL_CHANNELS_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
/// A tenant may not change its default user's credentials: they are the database's
/// password, which the operator manages.
pub const ACL_TENANT_DEFAULT_CREDENTIALS: &str = "default user's credentials are managed by the platform for this database; change the database password through the node manager";

/// `ERR Error in ACL SETUSER modifier '<rule>': <reason>`
pub fn acl_setuser(rule: &[u8], reason: &str) -> String {
    format!(
        "ERR Error in ACL SETUSER modifier '{}': {reason}",
        printable(rule, usize::MAX)
    )
}

pub const ACL_DEFAULT_NOT_REMOVABLE: &str = "ERR The 'default' user cannot be removed";
pub const ACL_GENPASS_BITS: &str = "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096";
pub const ACL_NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

pub fn acl_unknown_category(name: &[u8]) -> String {
    format!("ERR Unknown category '{}'", printable(name, usize::MAX))
}

pub fn acl_no_user(name: &[u8]) -> String {
    format!("ERR User '{}' not found", printable(name, usize::MAX))
}

pub fn acl_no_command(name: &[u8]) -> String {
    format!("ERR Command '{}' not found", printable(name, usize::MAX))
}

/// A queued command the user lost the right to run before EXEC.
pub fn noperm_changed_at_exec(reason: &str) -> String {
    format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
}

// ---- scripting ----
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const NUMKEYS_NEGATIVE: &str = "ERR Number of keys can't be negative";
pub const SCRIPT_UNKNOWN_COMMAND: &str = "ERR Unknown Redis command called from script";
pub const SCRIPT_WRONG_ARITY: &str = "ERR Wrong number of args calling Redis command from script";
pub const SCRIPT_NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";
pub const SCRIPT_WRITE_IN_READ_ONLY: &str =
    "ERR Write commands are not allowed from read-only scripts.";
pub const SCRIPT_WRITE_FLAG_RO: &str =
    "ERR Can not execute a script with write flag using *_ro command.";
pub const SCRIPT_FLUSH_OPTION: &str = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
pub const FUNCTION_FLUSH_OPTION: &str = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option";
pub const FCALL_BAD_NUMKEYS: &str = "ERR Bad number of keys provided";
pub const FUNCTION_NOT_FOUND: &str = "ERR Function not found";
pub const LIBRARY_NOT_FOUND: &str = "ERR Library not found";
pub const LIBRARY_NAME_MISSING: &str = "ERR library name argument was not given";
pub const FUNCTION_RESTORE_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const FUNCTION_RESTORE_POLICY: &str =
    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.";

/// FUNCTION LOAD of a library that exists, without REPLACE.
pub fn library_exists(name: &str) -> String {
    format!("ERR Library '{name}' already exists")
}

/// FUNCTION LOAD of a function another library has.
pub fn function_exists(name: &str) -> String {
    format!("ERR Function {name} already exists")
}

/// FUNCTION LIST / LOAD option not known.
pub fn unknown_argument(arg: &[u8]) -> String {
    format!("ERR Unknown argument {}", String::from_utf8_lossy(arg))
}

pub fn unknown_option(arg: &[u8]) -> String {
    format!("ERR Unknown option given: {}", String::from_utf8_lossy(arg))
}

// ---- pubsub ----

/// A RESP2 client in subscribed mode ran another command (`name` is the command's
/// full name, `client|list` for a subcommand).
pub fn pubsub_context(name: &str) -> String {
    format!("ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
}
pub const OBUF_LIMIT_ARGS: &str = "Wrong number of arguments in buffer limit configuration.";
pub const OBUF_LIMIT_CLASS: &str = "Invalid client class specified in buffer limit configuration.";
pub const OBUF_LIMIT_VALUES: &str =
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

// ---- tracking ----

pub const TRACKING_ONE_REDIRECT: &str = "ERR A client can only redirect to a single other client";
pub const TRACKING_NO_SUCH_REDIRECT: &str = "ERR The client ID you want redirect to does not exist";
pub const TRACKING_PREFIX_NEEDS_BCAST: &str = "ERR PREFIX option requires BCAST mode to be enabled";
pub const TRACKING_BCAST_SWITCH: &str = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
pub const TRACKING_OPT_WITH_BCAST: &str = "ERR OPTIN and OPTOUT are not compatible with BCAST";
pub const TRACKING_OPTIN_AND_OPTOUT: &str = "ERR You can't specify both OPTIN mode and OPTOUT mode";
pub const TRACKING_OPT_SWITCH: &str = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
pub const CACHING_NOT_TRACKING: &str = "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
pub const CACHING_YES_NOT_OPTIN: &str =
    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
pub const CACHING_NO_NOT_OPTOUT: &str =
    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";

/// CLIENT TRACKING ON BCAST PREFIX p, where p overlaps a prefix the client has.
pub fn tracking_prefix_overlaps_existing(new: &[u8], old: &[u8]) -> String {
    format!(
        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(new),
        String::from_utf8_lossy(old)
    )
}

/// CLIENT TRACKING ON BCAST PREFIX a PREFIX b, where a and b overlap.
pub fn tracking_prefix_overlaps_provided(a: &[u8], b: &[u8]) -> String {
    format!(
        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(a),
        String::from_utf8_lossy(b)
    )
}
