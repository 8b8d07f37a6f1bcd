//! Command-line surface (clap derive only; behaviour lives in [`crate::commands`]).
//!
//! The product's commands are `run`, `validate`, `serve`, `token`, `report` and `compare`; each
//! is added here as a variant of [`Command`] with its own args struct once it works, so the
//! surface never shows a command that does nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::credentials::KeyArgs;
use crate::token::Permission;

/// roomstorm: load tester for real-time audio/video room servers.
#[derive(Debug, Parser)]
#[command(name = "roomstorm", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `roomstorm=debug`.
    #[arg(
        long,
        global = true,
        env = "ROOMSTORM_LOG",
        default_value = "roomstorm=info"
    )]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: load the target, measure, print a summary, write its reports folder.
    Run(RunArgs),
    /// Re-render a run's reports (JUnit, HdrHistogram logs, HTML) from its stored summary.json.
    Report(ReportArgs),
    /// Combine shard results (`run --shard I/N`) into one run folder, as a single run writes it.
    Merge(MergeArgs),
    /// Compare a run with a baseline run: percentiles, change, verdict; exit 1 on regression.
    Compare(CompareArgs),
    /// Run the reference room server (the embedded target) on its own.
    Serve(ServeArgs),
    /// Mint, verify or decode room tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check scenario files and list every problem with file:line:column (exit 2 if any).
    Validate(ValidateArgs),
    /// Print the JSON Schema of scenario files, for editor completion.
    Schema,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("expected a duration like 3s, 500ms or 1m: {e}"))
}

/// `roomstorm run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (YAML).
    pub scenario: PathBuf,
    /// Load this server (HTTP base URL, e.g. http://127.0.0.1:7788) instead of the scenario's
    /// target; the scenario must then carry credentials.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Worker threads running participants (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Participants of this process joining at once, at most: from the start of a join (token
    /// exchange, socket open, WebSocket handshake) to its answer or failure. The rest wait
    /// DISCONNECTED, first come first served, and the wait counts in their time_to_connected.
    /// Why: a burst of connects beyond the server's listen backlog makes the kernel drop SYNs,
    /// which the clients retry after 1 s, 3 s, …: the run would measure the kernel's
    /// retransmission timer, not the server. Split evenly over --workers (at least 1 each);
    /// with --shards N, each shard gets N-th of it (rounded up). Against a server on this
    /// machine, a bound above its listen backlog is refused before any load (exit 3).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_connecting: usize,
    /// Folder that receives the run folder `<scenario>-<time>/`.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub out: PathBuf,
    /// Print the compiled plan (rooms, participants, arrival timeline) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No live progress (the summary is still printed).
    #[arg(long)]
    pub quiet: bool,
    /// Compare the run with this baseline run folder afterwards (as `roomstorm compare` with its
    /// defaults); a regression fails the run (exit 1).
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Local source addresses for client sockets (repeatable, e.g. 127.0.0.2); each reaches each
    /// server port through its own range of ephemeral ports.
    #[arg(long = "source-addr", value_name = "IP")]
    pub source_addrs: Vec<std::net::IpAddr>,
    /// Split the run into N processes on this machine, each holding whole rooms (room r goes to
    /// shard r % N); one report with exactly merged histograms. Default: one process, or as
    /// many as the per-process open-file limit requires (said before the run starts).
    #[arg(long, value_name = "N", conflicts_with_all = ["shard", "dry_run"])]
    pub shards: Option<u32>,
    /// Run only shard I of N (rooms r with r % N == I) and write a shard result for
    /// `roomstorm merge`; needs a target every shard shares (--target or the scenario's).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::plan::Shard>,
    /// Start the run's clock at this instant (RFC 3339, or Unix milliseconds), waiting for it:
    /// shards given the same time line their arrivals up.
    #[arg(long, value_name = "TIME", value_parser = crate::shards::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Progress as one JSON line per second on stdout (what `--shards N` reads from its shards).
    #[arg(long, hide = true)]
    pub progress_json: bool,
}

/// `roomstorm merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard run folders (each holding the summary.json of one `run --shard I/N`), every shard
    /// of the run exactly once.
    #[arg(required = true, value_name = "DIR")]
    pub shards: Vec<PathBuf>,
    /// The scenario file (default: the file the shards recorded).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Folder that receives the merged run folder `<scenario>-<time>/`.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub out: PathBuf,
}

/// `roomstorm report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run folder (holding summary.json), e.g. reports/mass-join-20261127T045000Z.
    pub run: PathBuf,
}

/// `roomstorm compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline run folder (or its summary.json).
    pub baseline: PathBuf,
    /// The run to judge (folder or summary.json).
    pub run: PathBuf,
    /// Relative worsening allowed before a percentile counts as a regression, e.g. 10%.
    #[arg(long, default_value = "10%", value_parser = parse_percent)]
    pub tolerance: f64,
    /// Absolute worsening allowed as well (differences below it are noise), e.g. 1ms.
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub min_change: Duration,
    /// Compare only these metrics (repeatable), e.g. --metric join.
    #[arg(long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1000.0).contains(p))
        .map(|p| p / 100.0)
        .ok_or_else(|| format!("expected a percentage such as 10%, found `{s}`"))
}

/// `roomstorm serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; use port 0 for any free port).
    #[arg(long, default_value = "127.0.0.1:7788")]
    pub listen: SocketAddr,
    /// YAML file with apps, timings and limits (keys never go in it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// App ids to create at start (repeatable); ignored when --config lists apps.
    #[arg(long = "app", value_name = "APP_ID", default_value = "app1")]
    pub apps: Vec<String>,
    /// Room capacity of the apps given with --app (10011 beyond it).
    #[arg(long, default_value_t = 100)]
    pub max_users: u32,
    /// Refuse a second login of the same user (10022 to the newcomer) instead of evicting the first.
    #[arg(long)]
    pub no_auto_kick_user: bool,
    /// Interval between the server's pings on each socket.
    #[arg(long, value_parser = parse_duration)]
    pub ping_interval: Option<Duration>,
    /// How long a member whose socket dropped may come back.
    #[arg(long, value_parser = parse_duration)]
    pub reconnect_window: Option<Duration>,
    /// A member silent this long (no pong) is removed.
    #[arg(long, value_parser = parse_duration)]
    pub silent_timeout: Option<Duration>,
    /// An empty room is destroyed after this long.
    #[arg(long, value_parser = parse_duration)]
    pub empty_room_close: Option<Duration>,
    /// Injected latency before every `auth` answer (for checking that a regression is caught).
    #[arg(long, value_parser = parse_duration)]
    pub auth_delay: Option<Duration>,
    /// Connection cap (default: what the open-file limit allows, less a reserve).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long)]
    pub max_frame_bytes: Option<usize>,
    /// Worker threads (default: one per core; 1 runs everything on one thread, the cheapest per
    /// join when a load generator shares the machine).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Base URL clients reach this server at, when not the listen address (e.g. behind a proxy).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Spread rooms over this many server processes (each has its own open-file limit); this
    /// process becomes the front door: token exchange, management API and /metrics for all rooms.
    #[arg(long, value_name = "N")]
    pub processes: Option<usize>,
    /// Internal: run as one of the processes of `serve --processes` (listens on a loopback port,
    /// reports it on stdout, exits when stdin closes).
    #[arg(long, hide = true)]
    pub child: bool,
    /// Key pair that signs room tokens and management requests.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `roomstorm token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new room token.
    Mint(MintArgs),
    /// Check a token's signature, names and expiry (exit 0 valid, 1 refused, 2 malformed).
    Verify(VerifyArgs),
    /// Show a token's fields, and whether its signature is valid when keys are given.
    Decode(DecodeArgs),
}

/// `roomstorm token mint`.
#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// App id.
    #[arg(long)]
    pub app: String,
    /// Room name.
    #[arg(long)]
    pub room: String,
    /// User id.
    #[arg(long)]
    pub user: String,
    /// Lifetime from now (ignored with --expire-at).
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub ttl: Duration,
    /// Absolute expiry, Unix seconds (may be in the past, for negative tests).
    #[arg(long)]
    pub expire_at: Option<u64>,
    /// `user` or `admin` (admins may kick).
    #[arg(long, value_enum, default_value_t = Permission::User)]
    pub permission: Permission,
    /// Signing keys.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `roomstorm token verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The token, or `-` to read it from stdin.
    pub token: String,
    /// Judge expiry at this Unix time instead of now.
    #[arg(long)]
    pub at: Option<u64>,
    /// Verification keys.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `roomstorm token decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// The token, or `-` to read it from stdin.
    pub token: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keys to check the signature with (optional).
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `roomstorm validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}
