//! The `ferrokv` binary: command line -> Config, logging, bind, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ferrokv::config::Config;

#[global_allocator]
static GLOBAL: ferrokv::alloc::CountingAlloc = ferrokv::alloc::CountingAlloc;

/// A Redis-compatible in-memory data server.
///
/// Options are spelled like redis-server's, so `ferrokv --port 7000 --save ""
/// --appendonly no` works. A redis.conf-style file may be given first.
#[derive(Parser, Debug)]
// A repeated option takes its last value, as redis-server's does.
#[command(name = "ferrokv", version, about, args_override_self = true)]
struct Cli {
    /// A config file in redis.conf syntax, applied before the options.
    config_file: Option<PathBuf>,
    #[arg(long)]
    port: Option<String>,
    // `--bind` is read as any other config parameter (`split_options`):
    // given twice, the last one wins, as a later `bind` line does in
    // redis-server.
    #[arg(long)]
    databases: Option<String>,
    /// RDB save points, e.g. "3600 1 300 100"; "" disables. Repeated,
    /// they add up, and "" clears those before it, as `save` lines do in
    /// redis.conf.
    #[arg(long, allow_hyphen_values = true, action = clap::ArgAction::Append)]
    save: Vec<String>,
    #[arg(long)]
    appendonly: Option<String>,
    #[arg(long)]
    appendfsync: Option<String>,
    /// debug, verbose, notice, warning or nothing.
    #[arg(long)]
    loglevel: Option<String>,
    #[arg(long)]
    logfile: Option<String>,
    #[arg(long)]
    dir: Option<String>,
    #[arg(long)]
    dbfilename: Option<String>,
    #[arg(long)]
    requirepass: Option<String>,
    #[arg(long)]
    maxclients: Option<String>,
    #[arg(long)]
    maxmemory: Option<String>,
    #[arg(long = "maxmemory-policy")]
    maxmemory_policy: Option<String>,
    #[arg(long)]
    hz: Option<String>,
    #[arg(long)]
    timeout: Option<String>,
    #[arg(long = "tcp-keepalive")]
    tcp_keepalive: Option<String>,
    #[arg(long = "protected-mode")]
    protected_mode: Option<String>,
    #[arg(long)]
    daemonize: Option<String>,
    #[arg(long = "proto-max-bulk-len")]
    proto_max_bulk_len: Option<String>,
    #[arg(long = "io-threads")]
    io_threads: Option<String>,
    #[arg(long = "enable-debug-command")]
    enable_debug_command: Option<String>,
}

impl Cli {
    /// The options given, as (redis.conf name, value) pairs.
    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let save = (!self.save.is_empty()).then(|| {
            let mut points: Vec<&str> = Vec::new();
            for v in &self.save {
                match v.trim() {
                    "" => points.clear(),
                    v => points.push(v),
                }
            }
            points.join(" ")
        });
        let mut add = |name: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                out.push((name, v.clone()));
            }
        };
        add("port", &self.port);
        add("databases", &self.databases);
        add("save", &save);
        add("appendonly", &self.appendonly);
        add("appendfsync", &self.appendfsync);
        add("loglevel", &self.loglevel);
        add("logfile", &self.logfile);
        add("dir", &self.dir);
        add("dbfilename", &self.dbfilename);
        add("requirepass", &self.requirepass);
        add("maxclients", &self.maxclients);
        add("maxmemory", &self.maxmemory);
        add("maxmemory-policy", &self.maxmemory_policy);
        add("hz", &self.hz);
        add("timeout", &self.timeout);
        add("tcp-keepalive", &self.tcp_keepalive);
        add("protected-mode", &self.protected_mode);
        add("daemonize", &self.daemonize);
        add("proto-max-bulk-len", &self.proto_max_bulk_len);
        add("io-threads", &self.io_threads);
        add("enable-debug-command", &self.enable_debug_command);
        out
    }
}

/// Splits the command line in two, as redis-server reads any config
/// parameter as `--name value...`: the options `Cli` names (for clap),
/// and every other `--name` with the values that follow it, to set by
/// name (`--aof-use-rdb-preamble no`).
fn split_options(
    args: Vec<std::ffi::OsString>,
) -> (Vec<std::ffi::OsString>, Vec<(String, String)>) {
    use clap::CommandFactory;
    let command = Cli::command();
    let known: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .chain(["help".to_string(), "version".to_string()])
        .collect();
    let mut for_clap = Vec::new();
    let mut other: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_other = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_string_lossy().into_owned();
        if i > 0
            && let Some(name) = text.strip_prefix("--").filter(|n| !n.is_empty())
        {
            in_other = !known.iter().any(|k| k == name);
            if in_other {
                other.push((name.to_ascii_lowercase(), Vec::new()));
                continue;
            }
        }
        match other.last_mut() {
            Some((_, values)) if in_other => values.push(text),
            _ => for_clap.push(arg),
        }
    }
    let other = other
        .into_iter()
        .map(|(name, values)| (name, values.join(" ")))
        .collect();
    (for_clap, other)
}

fn main() -> ExitCode {
    let (for_clap, other_options) = split_options(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(for_clap) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else exits 1,
            // as redis-server does for a bad option.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut config = Config::default();
    if let Some(path) = &cli.config_file
        && let Err(e) = config.load_file(path)
    {
        eprintln!("ferrokv: bad config file {}: {e}", path.display());
        return ExitCode::from(1);
    }
    for (name, value) in cli.settings() {
        if let Err(e) = config.set(name, &value, true) {
            eprintln!("ferrokv: bad option --{name}: {e}");
            return ExitCode::from(1);
        }
    }
    for (name, value) in &other_options {
        if let Err(e) = config.set(name, value, true) {
            eprintln!("ferrokv: bad option --{name}: {e}");
            return ExitCode::from(1);
        }
    }
    let daemonized = config.get("daemonize") == Some("yes");
    if daemonized {
        if let Err(e) = daemonize() {
            eprintln!("ferrokv: can't daemonize: {e}");
            return ExitCode::from(1);
        }
        // As redis-server: a daemon without a log file logs nowhere.
        if config.get("logfile").is_none_or(|f| f.is_empty())
            && let Err(e) = config.set("logfile", "/dev/null", true)
        {
            eprintln!("ferrokv: {e}");
        }
    }
    if let Err(e) = init_log(&config) {
        eprintln!("ferrokv: can't open the log file: {e}");
        return ExitCode::from(1);
    }

    // Like redis-server, work in `dir`: the RDB file is relative to it.
    if let Some(dir) = config.get("dir").filter(|d| !d.is_empty())
        && let Err(e) = std::env::set_current_dir(dir)
    {
        log::error!("Can't chdir to '{dir}': {e}");
        return ExitCode::from(1);
    }
    raise_fd_limit(config.maxclients);
    if config.get("disable-thp") != Some("no") {
        disable_transparent_huge_pages();
    }
    let show_logo = config.get("always-show-logo") == Some("yes");
    // A daemon writes its pid file by default, as redis-server does.
    let pidfile = match config.get("pidfile").filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None if daemonized => Some(PathBuf::from("/var/run/redis.pid")),
        None => None,
    };
    let mut server = match ferrokv::server::Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            log::error!("Could not start the server: {e}");
            return ExitCode::from(1);
        }
    };
    if show_logo {
        log::info!(
            "ferrokv {} (Redis {} compatible), standalone mode, port {}, PID: {}",
            ferrokv::FERROKV_VERSION,
            ferrokv::REDIS_VERSION,
            server.port(),
            std::process::id()
        );
    }
    if let Some(path) = &pidfile
        && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
    {
        log::warn!("Failed to write PID file {}: {e}", path.display());
    }
    let code = serve(&mut server);
    if let Some(path) = &pidfile {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// Loads the dataset and runs the loop until SHUTDOWN or a signal.
fn serve(server: &mut ferrokv::server::Server) -> ExitCode {
    log::info!(
        "ferrokv {} (Redis {} compatible) started, pid={}, port={}",
        ferrokv::FERROKV_VERSION,
        ferrokv::REDIS_VERSION,
        std::process::id(),
        server.port()
    );
    // With a file to load, the loop loads it and says it is ready after.
    match server.begin_load() {
        Ok(true) => {}
        Ok(false) => log::info!("Ready to accept connections tcp"),
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(1);
        }
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Detaches from the terminal as redis-server's `daemonize yes` does: the
/// parent exits, the child starts a session of its own with stdin, stdout
/// and stderr on /dev/null. Called before any thread exists, so the fork
/// copies a single-threaded process.
fn daemonize() -> std::io::Result<()> {
    // SAFETY: no other thread runs yet (the loop, the lazyfree and the
    // snapshot threads all start later), so fork() leaves the child in a
    // consistent state; setsid, open and dup2 are async-signal-safe.
    unsafe {
        match libc::fork() {
            -1 => return Err(std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::setsid() == -1 {
            return Err(std::io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null != -1 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// Logs as redis-server does: `pid:M dd Mon yyyy hh:mm:ss.mmm * message`,
/// the level as `.` (debug), `-` (verbose), `*` (notice) or `#` (warning),
/// to stdout or to `logfile` (appended to).
fn init_log(config: &ferrokv::config::Config) -> std::io::Result<()> {
    use std::io::Write;
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(level_name(&config.loglevel)),
    );
    builder.format(|buf, record| {
        let mark = match record.level() {
            log::Level::Error | log::Level::Warn => '#',
            log::Level::Info => '*',
            log::Level::Debug => '-',
            log::Level::Trace => '.',
        };
        writeln!(
            buf,
            "{}:M {} {mark} {}",
            std::process::id(),
            redis_time(std::time::SystemTime::now()),
            record.args()
        )
    });
    if let Some(path) = config.get("logfile").filter(|p| !p.is_empty()) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    builder.init();
    Ok(())
}

/// `dd Mon yyyy hh:mm:ss.mmm` in UTC, as Redis's log lines show the time.
fn redis_time(t: std::time::SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02} {} {year} {:02}:{:02}:{:02}.{:03}",
        MONTHS[(month - 1) as usize],
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

fn level_name(level: &str) -> &'static str {
    match ferrokv::config::level_filter(level) {
        log::LevelFilter::Off => "off",
        log::LevelFilter::Error => "error",
        log::LevelFilter::Warn => "warn",
        log::LevelFilter::Info => "info",
        log::LevelFilter::Debug => "debug",
        log::LevelFilter::Trace => "trace",
    }
}

/// Raises the open-file limit so `maxclients` connections fit, as
/// redis-server does (32 descriptors are reserved for the server itself).
fn raise_fd_limit(maxclients: usize) {
    let wanted = maxclients as u64 + 32;
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= wanted {
            return;
        }
        let target = wanted.min(lim.rlim_max);
        lim.rlim_cur = target;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 || target < wanted {
            log::warn!(
                "Could not raise the open-file limit to {wanted}; at most {} clients fit",
                target.saturating_sub(32)
            );
        }
    }
}

/// Opts this process out of transparent huge pages, as redis-server does
/// (`disable-thp yes`). With THP, the first touch of memory can fault in a
/// whole 2 MB page and zero it on the spot; while the keyspace grows those
/// faults land on the loop in bursts (measured: 150 ms stalls while loading
/// 8M keys). With 4 KB pages the same zeroing is spread thin.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and only
    // changes this process's memory policy.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        log::warn!(
            "Could not disable transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}
