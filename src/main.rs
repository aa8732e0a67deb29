//! kockpit's command line: parse it, load the configuration, start the chosen mode.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use kockpit::app::config::{self, Request};
use kockpit::app::{logging, runner, snapshot};
use kockpit::backend::Backend;
use kockpit::backend::sim::{SimBackend, scenarios};
use kockpit::domain::report::Report;
use kockpit::domain::time::parse_duration;

/// A terminal cockpit for the on-call engineer of an Amazon EKS cluster.
#[derive(Debug, Parser)]
#[command(name = "kockpit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    look: LookArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the simulator's scenarios with a one-line description each.
    Scenarios,
    /// Print every pane's figures and the findings once, then exit.
    Snapshot {
        /// Advance the simulated clock by this much first (e.g. 10m, 1h30m).
        #[arg(long, value_name = "DURATION")]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Md,
}

/// Where the cluster's facts come from.
#[derive(Debug, Args)]
struct SourceArgs {
    /// Run on the built-in simulated EKS cluster.
    #[arg(long, global = true)]
    demo: bool,
    /// Simulator scenario: a built-in name (see `kockpit scenarios`) or a path to a .toml file.
    #[arg(long, global = true, default_value = "baseline", value_name = "NAME")]
    scenario: String,
    /// Simulator seed: the same seed gives the same cluster and the same incident.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Simulator speed in virtual seconds per real second.
    #[arg(long, global = true, default_value_t = 1.0, value_name = "X")]
    speed: f64,
}

/// How the cockpit looks and which keys it takes.
#[derive(Debug, Args)]
struct LookArgs {
    /// Theme: dark, light, high-contrast, mono, or a path to a theme file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    theme: Option<String>,
    /// Key map: default, vim, or a path to a key map file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    keymap: Option<String>,
    /// Configuration file (default: config.toml in the XDG config directory).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    // Exactly one TLS crypto provider for the whole process, before any client is built.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kockpit: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let _log = config::state_dir().and_then(|dir| logging::init(&dir));
    let settings = config::load(&Request {
        theme: cli.look.theme.clone(),
        keymap: cli.look.keymap.clone(),
        config_file: cli.look.config.clone(),
        no_color: config::no_color_requested(),
    });
    if !(cli.source.speed.is_finite() && cli.source.speed > 0.0) {
        anyhow::bail!(
            "--speed must be a positive number, got {}",
            cli.source.speed
        );
    }

    match cli.command {
        Some(Command::Scenarios) => {
            for scenario in scenarios::list() {
                println!("{:<20} {}", scenario.name, scenario.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Snapshot { at, format }) => {
            for notice in &settings.notices {
                eprintln!("kockpit: {notice}");
            }
            let start_offset = match at.as_deref() {
                Some(text) => parse_duration(text).context("--at")?,
                None => Duration::ZERO,
            };
            // A snapshot reads one instant: the simulator's clock must not move meanwhile.
            let backend = simulator(&cli.source, 0.0, start_offset)?;
            let runtime = tokio_runtime()?;
            let collected = runtime.block_on(snapshot::collect(
                backend,
                settings.analysis,
                Duration::from_secs(60),
            ));
            let report = Report::from_cockpit(&collected.cockpit);
            match format {
                Format::Json => println!("{}", report.to_json()),
                Format::Md => println!("{}", report.to_markdown()),
            }
            if !collected.complete {
                eprintln!(
                    "kockpit: the source did not deliver its full state in time; the report is partial"
                );
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let backend = simulator(&cli.source, cli.source.speed, Duration::ZERO)?;
            let runtime = tokio_runtime()?;
            runtime.block_on(runner::run(settings, backend, cli.source.speed))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn simulator(
    source: &SourceArgs,
    speed: f64,
    start_offset: Duration,
) -> anyhow::Result<Box<dyn Backend>> {
    let scenario = scenarios::load(&source.scenario)?;
    Ok(Box::new(SimBackend::new(
        scenario,
        source.seed,
        speed,
        start_offset,
    )))
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
