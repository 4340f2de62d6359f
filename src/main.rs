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
    /// Addresses to listen on (space separated or repeated).
    #[arg(long, num_args = 1..)]
    bind: Vec<String>,
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
        if !self.bind.is_empty() {
            out.push(("bind", self.bind.join(" ")));
        }
        out
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    if config.get("daemonize") == Some("yes") {
        eprintln!("ferrokv: daemonize is not supported; run it under a supervisor");
        return ExitCode::from(1);
    }
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(level_name(&config.loglevel)),
    )
    .format_timestamp_millis()
    .init();

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
    let mut server = match ferrokv::server::Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            log::error!("Could not start the server: {e}");
            return ExitCode::from(1);
        }
    };
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
