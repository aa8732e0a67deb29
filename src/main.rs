//! kockpit's command line: parse it, load the configuration, start the chosen mode.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use kockpit::app::config::{self, Request};
use kockpit::app::record::Recorder;
use kockpit::app::runner::RunOptions;
use kockpit::app::{logging, runner, snapshot};
use kockpit::backend::Backend;
use kockpit::backend::replay::ReplayBackend;
use kockpit::backend::sim::{SimBackend, scenarios};
use kockpit::domain::limits;
use kockpit::domain::report::Report;
use kockpit::domain::time::parse_duration;

/// How long `kockpit snapshot` waits for the source's full state.
const SNAPSHOT_DEADLINE: Duration = Duration::from_secs(60);
/// `kockpit snapshot` exit codes (README): the deadline passed before the source's full
/// state arrived; or it arrived, and nothing could be read from the cluster.
const EXIT_PARTIAL: u8 = 2;
const EXIT_NOTHING_READ: u8 = 3;

/// `0.1.0 (commit 2350095e1c2f)`: what `kockpit --version` prints after the name.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("KOCKPIT_COMMIT"), ")");

/// The name kubectl's plugin discovery finds kockpit under (`kubectl kockpit …`).
const KUBECTL_PLUGIN: &str = "kubectl-kockpit";

/// A terminal cockpit for the on-call engineer of an Amazon EKS cluster.
#[derive(Debug, Parser)]
#[command(name = "kockpit", version = VERSION, about, long_about = None)]
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
    /// Replay a session recorded with --record, in the same panes (--speed X paces it).
    Replay {
        /// The recording, e.g. r.kock.
        file: std::path::PathBuf,
    },
    /// Fixes without the TUI: list them, print a plan or patch, apply one.
    Fix {
        #[command(subcommand)]
        command: FixCommand,
    },
    /// The simulator's own tools.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Check that everything kockpit reads is there, in a few seconds (exit 0 if so, else 1).
    ///
    /// One line each for the kubeconfig and context, the credential plugin (run and timed),
    /// the API server, every permission kockpit reads with (and with --allow-writes, those
    /// each fix needs), the optional APIs (Gateway API, Karpenter, VPA), Prometheus and its
    /// exporters, and CloudWatch. Takes the same source flags as the cockpit.
    Doctor {
        #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
        format: DoctorFormat,
    },
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from this command line.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DoctorFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Serve the simulated cluster over the Kubernetes API (and Prometheus text at /metrics)
    /// on loopback, for kubectl, kube-rs or kockpit's live mode. Runs until SIGINT/SIGTERM.
    #[command(after_long_help = SERVE_HELP)]
    Serve(ServeArgs),
}

const SERVE_HELP: &str = "\
Faults (--fault, repeatable; RESOURCE is a plural like pods or httproutes, plural.group, or *):
  403:RESOURCE              every request on RESOURCE is Forbidden (access reviews deny it too)
  500:RESOURCE[:FRACTION]   that share of requests (default 1) fails with 500 InternalError
  slow:[RESOURCE:]DURATION  responses wait DURATION first (e.g. 2s, 500ms)
  watch-drop:DURATION       watch streams are closed after DURATION
  410:watch                 every watch answers with a 410 Expired ERROR event
  reset:FRACTION            that share of requests have their connection reset, unanswered
Faults can be replaced at runtime: PUT /_kockpit/faults with one spec per line (bearer token
required); DELETE /_kockpit/faults clears them.

--objects PATH loads every *.yaml, *.yml and *.json under PATH (multi-document YAML and kind: List
included) and prints what each file gave. Without --scenario the server holds exactly the dump,
its clock frozen at the dump's newest timestamp, and /metrics is empty. With --scenario the dump
is mixed into the simulated cluster: a loaded object wins over a simulated one with the same
kind, namespace and name, and the simulator never changes or deletes loaded objects.";

/// Options of `kockpit sim serve` (the scenario, seed and speed are the global options).
#[derive(Debug, Args)]
struct ServeArgs {
    /// Loopback address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR:PORT")]
    listen: std::net::SocketAddr,
    /// Write a kubeconfig for this server (cluster and context `kockpit-sim`) to FILE.
    #[arg(long, value_name = "FILE")]
    kubeconfig_out: Option<std::path::PathBuf>,
    /// Grow the cluster by NODES nodes running PODS pods (benchmarks).
    #[arg(long, value_name = "NODES,PODS", value_parser = kockpit::backend::sim::serve::scale::parse)]
    scale: Option<(u32, u32)>,
    /// The shape of the flow metrics `/metrics` publishes, as the flow exporter of a real
    /// cluster would: network-costs, istio, linkerd, hubble, hubble-workload or none
    /// (default: the scenario's `[observability] flow_metrics`, else network-costs).
    #[arg(long, value_name = "SHAPE", value_parser = parse_flow_shape)]
    flow_metrics: Option<kockpit::domain::scenario::FlowShape>,
    /// The exporter versions `/metrics` speaks, as a cluster that runs them would, e.g.
    /// `coredns=1.10,karpenter=0.37,flows=hubble` (coredns 1.10|1.11|1.12, karpenter
    /// 0.37|1; default: the scenario's `[observability]`, else the newest).
    #[arg(long, value_name = "NAME=VERSION,...")]
    exporters: Option<String>,
    /// Do not serve this CRD API, as on a cluster where it is not installed: a group
    /// (karpenter.sh) or one resource as plural.group (httproutes.gateway.networking.k8s.io);
    /// repeatable.
    #[arg(long = "without-api", value_name = "GROUP|PLURAL.GROUP")]
    without_apis: Vec<String>,
    /// Inject a fault (see below); repeatable.
    #[arg(long = "fault", value_name = "SPEC", value_parser = kockpit::backend::sim::serve::Fault::parse)]
    faults: Vec<kockpit::backend::sim::serve::Fault>,
    /// The bearer token to require instead of a fresh one, so a restarted server accepts the
    /// kubeconfig it wrote before (from the environment only: the command line is public).
    #[arg(skip = std::env::var("KOCKPIT_SIM_TOKEN").ok().filter(|t| !t.is_empty()))]
    token: Option<String>,
}

#[derive(Debug, Subcommand)]
enum FixCommand {
    /// The current findings that offer a fix, with their fix ids.
    List,
    /// Print the plan of a fix: the object, diff, risk, dry run; or a patch file or command.
    Show {
        /// A fix id from `kockpit fix list`.
        id: String,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Apply a fix (needs --allow-writes): plan, dry run, confirm, apply with its
    /// precondition, and append the audit line.
    Apply {
        id: String,
        /// Only ask the server for a dry run; nothing is written.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShowFormat {
    Text,
    Patch,
    Kubectl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Md,
}

/// Where the cluster's facts come from.
#[derive(Debug, Clone, Args)]
struct SourceArgs {
    /// Started as `kubectl kockpit`: the cluster of the kubeconfig, as kubectl would use it.
    #[arg(skip)]
    kubectl_plugin: bool,
    /// Run on the built-in simulated EKS cluster.
    #[arg(long, global = true)]
    demo: bool,
    /// Simulator scenario: a built-in name (see `kockpit scenarios`) or a path to a .toml file
    /// [default: baseline].
    #[arg(long, global = true, value_name = "NAME")]
    scenario: Option<String>,
    /// A cluster dump to show instead of a live cluster: `kubectl get -A -o yaml` (or `-o json`)
    /// output, or a directory of such files (a support bundle). Only what the dump holds is
    /// shown, as it stood at its newest timestamp. With `sim serve`, the dump is served alone
    /// unless a --scenario is named too, which mixes it into the simulated cluster.
    #[arg(long, global = true, value_name = "PATH")]
    objects: Option<std::path::PathBuf>,
    /// Simulator seed: the same seed gives the same cluster and the same incident.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Simulator speed in virtual seconds per real second (replay: recorded seconds per second).
    #[arg(long, global = true, default_value_t = 1.0, value_name = "X")]
    speed: f64,
    /// Let fixes be applied to the cluster (after preview, dry run and confirmation). Without
    /// it kockpit only reads: fixes can be previewed and exported, never applied.
    #[arg(long, global = true)]
    allow_writes: bool,
    /// Record everything the source delivers to FILE, for `kockpit replay FILE`.
    #[arg(long, global = true, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
    /// Live mode: the kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Live mode: the kubeconfig context (default: its current context). Repeated, kockpit
    /// watches each cluster and shows them side by side on the fleet screen (`kockpit
    /// snapshot` reports each).
    #[arg(long, global = true, value_name = "NAME")]
    context: Vec<String>,
    /// Live mode: watch every context of the kubeconfig, side by side.
    #[arg(long, global = true, conflicts_with = "context")]
    all_contexts: bool,
    /// Live mode: watch only this namespace (default: all namespaces).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    namespace: Option<String>,
    /// Live mode: Prometheus base URL for QPS, latency, flows and usage percentiles. Credentials
    /// come from the environment: KOCKPIT_PROMETHEUS_TOKEN (bearer), or
    /// KOCKPIT_PROMETHEUS_USERNAME and KOCKPIT_PROMETHEUS_PASSWORD (basic auth). With several
    /// clusters, `--prometheus CONTEXT=URL` (repeated) gives each its own.
    #[arg(long, global = true, value_name = "[CONTEXT=]URL")]
    prometheus: Vec<String>,
    /// Live mode: sign Prometheus queries with SigV4 (Amazon Managed Service for Prometheus,
    /// service `aps`) using the default AWS credential chain. The region is --region, else the
    /// workspace URL's, else the AWS configuration's.
    #[arg(long, global = true, requires = "prometheus")]
    prometheus_sigv4: bool,
    /// Live mode: the rate window of the "now" Prometheus queries (e.g. 1m on a Prometheus
    /// that scrapes every 15 s, to see a change sooner). Sparklines and 7-day figures keep
    /// their own windows.
    #[arg(
        long,
        global = true,
        default_value = "5m",
        value_name = "DURATION",
        requires = "prometheus"
    )]
    prometheus_window: String,
    /// Live mode: read load balancer metrics (Gateways), Container Insights (usage, when no
    /// Prometheus is given) and the estimated bill (Spend) from CloudWatch, with the default
    /// AWS credential chain (environment, SSO and shared profiles, instance roles).
    #[arg(long, global = true)]
    cloudwatch: bool,
    /// Live mode: read east-west bytes from the VPC's Flow Logs in this CloudWatch Logs log
    /// group (Logs Insights queries, one 10-minute window every 5 minutes; each query's scanned
    /// bytes are billed and shown in the Sources window). On the VPC CNI, pod IPs are VPC IPs,
    /// so the flows are joined to pods, Services and zones.
    #[arg(long, global = true, value_name = "LOG_GROUP")]
    flow_logs: Option<String>,
    /// The flow log's record format when it is not the default, as its LogFormat gives it
    /// (e.g. "${version} ${interface-id} ${srcaddr} ${dstaddr} ${bytes} ${flow-direction}").
    #[arg(long, global = true, value_name = "FORMAT", requires = "flow_logs")]
    flow_logs_format: Option<String>,
    /// How far behind now the flow-log window ends: records are aggregated for up to 10 minutes
    /// and delivered minutes later (lower it for a 1-minute aggregation interval).
    #[arg(
        long,
        global = true,
        default_value = "10m",
        value_name = "DURATION",
        requires = "flow_logs"
    )]
    flow_logs_lag: String,
    /// Live mode: how long the kubeconfig's exec credential plugin (e.g. `aws eks get-token`)
    /// may take before it is stopped and the panes say so (default 20s; `exec_timeout` in
    /// config.toml).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_exec_timeout)]
    exec_timeout: Option<Duration>,
    /// The AWS region for CloudWatch and Amazon Managed Prometheus (default: AWS_REGION or
    /// the profile's region).
    #[arg(long, global = true, value_name = "REGION")]
    region: Option<String>,
    /// Fetch current on-demand (AWS Price List API) and spot (EC2) prices for the cluster's
    /// region before starting, and cache them; later runs use the cache while it is fresh
    /// (`[prices] cache_max_age`, default 7d).
    #[arg(long, global = true)]
    refresh_prices: bool,
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
    let cli = parse_command_line();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kockpit: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Started as `kubectl-kockpit` (kubectl's plugin discovery): help and errors say
/// `kubectl kockpit`, and the kubeconfig's cluster is the default source, as with kubectl.
fn parse_command_line() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let plugin = std::env::args_os()
        .next()
        .and_then(|arg| {
            std::path::Path::new(&arg)
                .file_name()
                .map(|name| name == KUBECTL_PLUGIN)
        })
        .unwrap_or(false);
    let mut command = Cli::command();
    if plugin {
        command = command.bin_name("kubectl kockpit");
    }
    let matches = command.get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    cli.source.kubectl_plugin = plugin;
    cli
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let _log = config::state_dir().and_then(|dir| logging::init(&dir));
    kockpit::app::crash::install(config::state_dir());
    let mut settings = config::load(&Request {
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
    anyhow::ensure!(
        cli.source.speed <= limits::SPEED.max as f64,
        limits::SPEED.exceeded("--speed", cli.source.speed)
    );
    if matches!(
        cli.command,
        None | Some(Command::Snapshot { .. } | Command::Replay { .. } | Command::Fix { .. })
    ) {
        let interactive = matches!(cli.command, None | Some(Command::Replay { .. }));
        load_prices(&cli.source, &mut settings, interactive)?;
    }

    match cli.command {
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "kockpit", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Doctor { format }) => {
            use kockpit::backend::live::checks::{self, CheckOptions};
            anyhow::ensure!(
                !cli.source.demo && cli.source.objects.is_none(),
                "doctor checks a live cluster: drop --demo and --objects"
            );
            let exec_timeout = cli.source.exec_timeout.or(settings.exec_timeout);
            let options = CheckOptions {
                live: live_options(&cli.source, exec_timeout)?,
                allow_writes: cli.source.allow_writes || settings.allow_writes,
                plugin_timeout: exec_timeout,
                ask_access: true,
            };
            let report = tokio_runtime()?.block_on(checks::run(&options));
            match format {
                DoctorFormat::Text => print!("{}", report.to_text()),
                DoctorFormat::Json => println!("{}", report.to_json()),
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
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
                Some(text) => {
                    let at = parse_duration(text).context("--at")?;
                    anyhow::ensure!(
                        limits::SNAPSHOT_AT_SECONDS.allows(at.as_secs()),
                        limits::SNAPSHOT_AT_SECONDS.exceeded("--at", text)
                    );
                    at
                }
                None => Duration::ZERO,
            };
            // A snapshot reads one instant: the simulator's clock must not move meanwhile.
            let mut clusters = cockpit_clusters(&cli.source, &settings, 0.0, start_offset)?;
            if clusters.len() > 1 {
                return fleet_snapshot(clusters, settings, format);
            }
            let Some((_, backend)) = clusters.pop() else {
                anyhow::bail!("no cluster to read");
            };
            let runtime = tokio_runtime()?;
            let collected = runtime.block_on(snapshot::collect(
                backend,
                settings.analysis,
                SNAPSHOT_DEADLINE,
            ));
            let report = Report::from_cockpit(&collected.cockpit);
            match format {
                Format::Json => println!("{}", report.to_json()),
                Format::Md => println!("{}", report.to_markdown()),
            }
            if !collected.complete {
                eprintln!(
                    "kockpit: the source did not deliver its full state within {}s; the report is partial",
                    SNAPSHOT_DEADLINE.as_secs()
                );
                return Ok(ExitCode::from(EXIT_PARTIAL));
            }
            if let Some(cause) = collected.cockpit.nothing_read() {
                eprintln!("kockpit: nothing could be read from the cluster: {cause}");
                return Ok(ExitCode::from(EXIT_NOTHING_READ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Replay { file }) => {
            // A bad or newer file is refused here, before the terminal is taken over.
            let backend = ReplayBackend::open(&file, cli.source.speed)?;
            let clusters: Vec<(String, Box<dyn Backend>)> = backend
                .into_clusters()
                .into_iter()
                .map(|(context, backend)| (context, Box::new(backend) as Box<dyn Backend>))
                .collect();
            let options = RunOptions {
                record: recorder(&cli.source, &clusters)?,
                replay: true,
                ..RunOptions::default()
            };
            let runtime = tokio_runtime()?;
            runtime.block_on(runner::run_fleet(
                settings,
                clusters,
                cli.source.speed,
                options,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Fix { command }) => {
            for notice in &settings.notices {
                eprintln!("kockpit: {notice}");
            }
            // Plans are made on one instant: the simulator's clock stays still.
            let backend = source_backend(&cli.source, &settings, 0.0, Duration::ZERO)?;
            let runtime = tokio_runtime()?;
            runtime.block_on(fix_command(
                command,
                backend,
                settings.analysis,
                cli.source.allow_writes || settings.allow_writes,
            ))
        }
        Some(Command::Sim {
            command: SimCommand::Serve(args),
        }) => {
            use kockpit::backend::sim::serve::{ServeOptions, run};
            let mut scenario = scenarios::load(scenario_name(&cli.source))?;
            if let Some(exporters) = &args.exporters {
                scenario
                    .observability
                    .apply(exporters)
                    .map_err(|e| anyhow::anyhow!("--exporters: {e}"))?;
            }
            if let Some(shape) = args.flow_metrics {
                scenario.observability.flow_metrics = shape;
            }
            let mut options = ServeOptions::new(scenario);
            options.seed = cli.source.seed;
            options.speed = cli.source.speed;
            options.listen = args.listen;
            options.kubeconfig_out = args.kubeconfig_out;
            // A dump is served alone unless a scenario is named to mix it with.
            options.simulate = cli.source.objects.is_none() || cli.source.scenario.is_some();
            options.objects = cli.source.objects.clone();
            options.scale = args.scale;
            options.faults = args.faults;
            options.token = args.token;
            options.without_apis = args.without_apis;
            tokio_runtime()?.block_on(run(options))?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let clusters =
                cockpit_clusters(&cli.source, &settings, cli.source.speed, Duration::ZERO)?;
            let options = RunOptions {
                record: recorder(&cli.source, &clusters)?,
                replay: false,
                allow_writes: cli.source.allow_writes || settings.allow_writes,
                audit_log: None,
            };
            let runtime = tokio_runtime()?;
            runtime.block_on(runner::run_fleet(
                settings,
                clusters,
                cli.source.speed,
                options,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn fix_command(
    command: FixCommand,
    backend: Box<dyn Backend>,
    analysis: kockpit::domain::cockpit::AnalysisConfig,
    allow_writes: bool,
) -> anyhow::Result<ExitCode> {
    use kockpit::app::fix_cli::{self, ApplyOptions, FixCliError};
    let session = snapshot::open(backend, analysis, fix_cli::SYNC_DEADLINE).await;
    if !session.complete {
        eprintln!(
            "kockpit: the source did not deliver its full state in time; findings may be missing"
        );
    }
    let result: Result<(), FixCliError> = match command {
        FixCommand::List => {
            print!("{}", fix_cli::list(&session.cockpit));
            Ok(())
        }
        FixCommand::Show { id, format } => {
            fix_cli::prepare(&session, &id, false)
                .await
                .map(|prepared| {
                    let format = match format {
                        ShowFormat::Text => fix_cli::ShowFormat::Text,
                        ShowFormat::Patch => fix_cli::ShowFormat::Patch,
                        ShowFormat::Kubectl => fix_cli::ShowFormat::Kubectl,
                    };
                    print!("{}", fix_cli::show(&prepared, format));
                })
        }
        FixCommand::Apply { id, dry_run, yes } => {
            let options = ApplyOptions {
                dry_run,
                yes,
                writes_allowed: allow_writes,
                audit_log: kockpit::app::audit::default_path(),
            };
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let mut output = std::io::stdout();
            fix_cli::apply(&session, &id, &options, &mut input, &mut output).await
        }
    };
    session.handle.shutdown();
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("kockpit: {error}");
            Ok(ExitCode::from(error.exit_code()))
        }
    }
}

fn parse_flow_shape(text: &str) -> Result<kockpit::domain::scenario::FlowShape, String> {
    use kockpit::domain::scenario::FlowShape;
    FlowShape::parse(text).ok_or_else(|| format!("expected one of {}", FlowShape::NAMES))
}

/// `kockpit snapshot` of several clusters (contexts, or simulated scenarios): each read at
/// once through its own backend, within the same deadline, then printed side by side. A
/// cluster that cannot be read still has its row, and its own report says why.
fn fleet_snapshot(
    backends: Vec<(String, Box<dyn Backend>)>,
    settings: config::Settings,
    format: Format,
) -> anyhow::Result<ExitCode> {
    use kockpit::domain::fleet::FleetReport;
    let runtime = tokio_runtime()?;
    let collected = runtime.block_on(futures::future::join_all(backends.into_iter().map(
        |(context, backend)| {
            let analysis = settings.analysis.clone();
            async move {
                let collected = snapshot::collect(backend, analysis, SNAPSHOT_DEADLINE).await;
                (context, collected)
            }
        },
    )));
    let fleet = FleetReport::new(
        collected
            .iter()
            .map(|(context, collected)| (context.as_str(), &collected.cockpit)),
    );
    match format {
        Format::Json => println!("{}", fleet.to_json()),
        Format::Md => println!("{}", fleet.to_markdown()),
    }
    let mut exit = ExitCode::SUCCESS;
    for (context, collected) in &collected {
        if let Some(cause) = collected.cockpit.nothing_read() {
            eprintln!("kockpit: {context}: nothing could be read from the cluster: {cause}");
            exit = ExitCode::from(EXIT_NOTHING_READ);
        } else if !collected.complete {
            eprintln!(
                "kockpit: {context}: the source did not deliver its full state within {}s; its report is partial",
                SNAPSHOT_DEADLINE.as_secs()
            );
            if exit == ExitCode::SUCCESS {
                exit = ExitCode::from(EXIT_PARTIAL);
            }
        }
    }
    Ok(exit)
}

/// The clusters the cockpit watches: one per context (`--context` repeated, or every context
/// of the kubeconfig with `--all-contexts`), one per scenario with `--demo --scenario A,B`,
/// else the one source. Each is named by its context (or scenario); a single cluster by
/// nothing.
fn cockpit_clusters(
    source: &SourceArgs,
    settings: &config::Settings,
    speed: f64,
    start_offset: Duration,
) -> anyhow::Result<Vec<(String, Box<dyn Backend>)>> {
    let contexts = contexts(source, settings)?;
    check_prometheus_contexts(source, &contexts)?;
    // `[fleet.prometheus]` serves a context the command line gives no Prometheus for.
    let one_context = |context: &str| -> anyhow::Result<SourceArgs> {
        let mut one = SourceArgs {
            context: vec![context.to_string()],
            all_contexts: false,
            ..source.clone()
        };
        if prometheus_url(source, Some(context))?.is_none()
            && let Some(url) = settings.fleet.prometheus.get(context)
        {
            one.prometheus = vec![url.clone()];
        }
        Ok(one)
    };
    if contexts.len() > 1 {
        anyhow::ensure!(
            !source.demo && source.objects.is_none(),
            "several contexts are clusters of a kubeconfig; for several simulated clusters use \
             --demo --scenario A,B"
        );
        return contexts
            .iter()
            .map(|context| {
                let one = one_context(context)?;
                let backend = source_backend(&one, settings, speed, start_offset)
                    .with_context(|| format!("context {context}"))?;
                Ok((context.clone(), backend))
            })
            .collect();
    }
    if let Some(names) = source
        .scenario
        .as_deref()
        .filter(|names| names.contains(','))
        && source.objects.is_none()
        && !is_live(source)
    {
        let list = names;
        let names: Vec<&str> = list.split(',').map(str::trim).collect();
        anyhow::ensure!(
            limits::FLEET_CLUSTERS.allows(names.len() as u64),
            limits::FLEET_CLUSTERS.exceeded("--scenario names", names.len())
        );
        let mut clusters = Vec::new();
        for name in names {
            let scenario = scenarios::load(name).with_context(|| format!("--scenario {list}"))?;
            let backend =
                SimBackend::new(scenario, source.seed, speed, start_offset).with_context(name);
            clusters.push((name.to_string(), Box::new(backend) as Box<dyn Backend>));
        }
        return Ok(clusters);
    }
    let one = match contexts.first() {
        Some(context) => one_context(context)?,
        None => source.clone(),
    };
    Ok(vec![(
        String::new(),
        source_backend(&one, settings, speed, start_offset)?,
    )])
}

/// The contexts named with `--context`, or every context of the kubeconfig with
/// `--all-contexts`, or else `[fleet] contexts` from config.toml (unless the simulator or a
/// dump is asked for).
fn contexts(source: &SourceArgs, settings: &config::Settings) -> anyhow::Result<Vec<String>> {
    let contexts = if source.all_contexts {
        let kubeconfig = match &source.kubeconfig {
            Some(path) => kube::config::Kubeconfig::read_from(path),
            None => kube::config::Kubeconfig::read(),
        }
        .map_err(|error| anyhow::anyhow!("--all-contexts: cannot read the kubeconfig: {error}"))?;
        let names: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        anyhow::ensure!(
            !names.is_empty(),
            "--all-contexts: the kubeconfig has no contexts"
        );
        names
    } else if source.context.is_empty() && !source.demo && source.objects.is_none() {
        settings.fleet.contexts.clone()
    } else {
        source.context.clone()
    };
    anyhow::ensure!(
        limits::FLEET_CLUSTERS.allows(contexts.len() as u64),
        limits::FLEET_CLUSTERS.exceeded("contexts", contexts.len())
    );
    Ok(contexts)
}

/// `--prometheus URL` serves every cluster; `--prometheus CONTEXT=URL` serves the cluster of
/// that context and wins over a shared URL.
fn prometheus_url(source: &SourceArgs, context: Option<&str>) -> anyhow::Result<Option<String>> {
    let mut shared = None;
    let mut own = None;
    for value in &source.prometheus {
        match context_url(value) {
            Some((named, url)) => {
                if Some(named) == context {
                    own = Some(url.to_string());
                }
            }
            None => {
                anyhow::ensure!(
                    shared.is_none(),
                    "--prometheus is given twice without a context: write CONTEXT=URL for each \
                     cluster"
                );
                shared = Some(value.clone());
            }
        }
    }
    Ok(own.or(shared))
}

/// Every `--prometheus CONTEXT=URL` must name a cluster that is watched: a typo would
/// otherwise leave that cluster without metrics and say nothing.
fn check_prometheus_contexts(source: &SourceArgs, contexts: &[String]) -> anyhow::Result<()> {
    for (named, _) in source.prometheus.iter().filter_map(|v| context_url(v)) {
        anyhow::ensure!(
            contexts.iter().any(|context| context == named),
            "--prometheus {named}=…: {named} is not a context kockpit watches ({})",
            if contexts.is_empty() {
                "name it with --context".to_string()
            } else {
                contexts.join(", ")
            }
        );
    }
    Ok(())
}

/// `CONTEXT=URL`, split where the URL's scheme starts: contexts such as EKS ARNs hold `:`
/// and `/`, and a URL's query may hold `=`.
fn context_url(value: &str) -> Option<(&str, &str)> {
    let at = value.find("=http://").or_else(|| value.find("=https://"))?;
    (at > 0).then(|| (&value[..at], &value[at + 1..]))
}

/// The scenario the simulator runs: the one named, else the calm baseline.
fn scenario_name(source: &SourceArgs) -> &str {
    source.scenario.as_deref().unwrap_or("baseline")
}

/// A dump with --objects; live when a kubeconfig or context is named (or KUBECONFIG is set)
/// and --demo is not given; the simulator otherwise.
fn source_backend(
    source: &SourceArgs,
    settings: &config::Settings,
    speed: f64,
    start_offset: Duration,
) -> anyhow::Result<Box<dyn Backend>> {
    let exec_timeout = source.exec_timeout.or(settings.exec_timeout);
    if let Some(path) = &source.objects {
        anyhow::ensure!(
            !source.demo && source.scenario.is_none(),
            "--objects shows a dump alone; to mix it into a simulated cluster, serve both with \
             `kockpit sim serve --objects {} --scenario NAME` and point kockpit at that server",
            path.display()
        );
        let dump = kockpit::backend::dump::DumpBackend::open(path)?;
        for line in dump.report() {
            eprintln!("kockpit: {line}");
        }
        return Ok(Box::new(dump));
    }
    if is_live(source) {
        return Ok(Box::new(kockpit::backend::live::LiveBackend::new(
            live_options(source, exec_timeout)?,
        )));
    }
    simulator(source, speed, start_offset)
}

/// The live backend's options from the source flags, checked here so a typo fails at start.
fn live_options(
    source: &SourceArgs,
    exec_timeout: Option<Duration>,
) -> anyhow::Result<kockpit::backend::live::LiveOptions> {
    let context = match source.context.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        several => anyhow::bail!(
            "--context is given {} times ({}): `kockpit fix` and `kockpit doctor` work on one \
             cluster, so name one context",
            several.len(),
            several.join(", ")
        ),
    };
    Ok(kockpit::backend::live::LiveOptions {
        kubeconfig: source.kubeconfig.clone(),
        context,
        namespace: source.namespace.clone(),
        prometheus: match prometheus_url(source, source.context.first().map(String::as_str))? {
            Some(url) => {
                let mut options = kockpit::backend::live::prometheus::PrometheusOptions::new(
                    &url,
                    prometheus_auth(source)?,
                );
                options.schedule.rate_window = prometheus_window(&source.prometheus_window)?;
                Some(options)
            }
            None => None,
        },
        region: source.region.clone(),
        cloudwatch: source.cloudwatch,
        flow_logs: flow_logs(source)?,
        exec_timeout,
    })
}

/// `--flow-logs` and its format and lag, checked here so a typo fails at start.
fn flow_logs(
    source: &SourceArgs,
) -> anyhow::Result<Option<kockpit::backend::live::cloudwatch::flowlogs::FlowLogsOptions>> {
    use kockpit::backend::live::cloudwatch::flowlogs::FlowLogsOptions;
    use kockpit::domain::flow_logs::LogFormat;
    let Some(group) = &source.flow_logs else {
        return Ok(None);
    };
    let mut options = FlowLogsOptions::new(group);
    if let Some(format) = &source.flow_logs_format {
        options.format = LogFormat::parse(format).context("--flow-logs-format")?;
    }
    options.lag = parse_duration(&source.flow_logs_lag).context("--flow-logs-lag")?;
    options.region = source.region.clone();
    Ok(Some(options))
}

fn parse_exec_timeout(text: &str) -> Result<Duration, String> {
    config::check_exec_timeout(text)
}

/// A PromQL duration from `--prometheus-window`, checked here so a typo fails at start.
fn prometheus_window(text: &str) -> anyhow::Result<String> {
    let window = parse_duration(text).context("--prometheus-window")?;
    anyhow::ensure!(
        window >= Duration::from_secs(2),
        "--prometheus-window must be at least 2s (two scrapes), got {text}"
    );
    Ok(format!("{}s", window.as_secs()))
}

fn is_live(source: &SourceArgs) -> bool {
    let kubeconfig_env = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let live = source.kubeconfig.is_some()
        || !source.context.is_empty()
        || source.all_contexts
        || kubeconfig_env
        || source.kubectl_plugin;
    live && !source.demo && source.objects.is_none()
}

/// Prometheus credentials: SigV4 with `--prometheus-sigv4`, else a token or password from
/// the environment.
fn prometheus_auth(
    source: &SourceArgs,
) -> anyhow::Result<kockpit::backend::live::prometheus::Auth> {
    use kockpit::backend::live::prometheus::Auth;
    let env = |name: &str| std::env::var(name).ok();
    Ok(if source.prometheus_sigv4 {
        Auth::sigv4(source.region.clone(), env)?
    } else {
        Auth::from_env(env)?
    })
}

/// Prices for this run: the built-in table (with the configured discounts) under cached
/// regions within their age limit, under the cluster's region refreshed now with
/// `--refresh-prices`. Problems become notices (and, before the cockpit starts, lines on
/// stderr); kockpit carries on with what it has.
fn load_prices(
    source: &SourceArgs,
    settings: &mut config::Settings,
    interactive: bool,
) -> anyhow::Result<()> {
    use kockpit::backend::pricing::{self, PriceRequest, RefreshTarget};
    let runtime = tokio_runtime()?;
    let refresh = source.refresh_prices.then(|| {
        let (region, instance_types) = if is_live(source) {
            let facts = runtime.block_on(pricing::cluster_facts(
                &kockpit::backend::live::LiveOptions {
                    kubeconfig: source.kubeconfig.clone(),
                    context: source.context.first().cloned(),
                    ..Default::default()
                },
            ));
            (source.region.clone().or(facts.region), facts.instance_types)
        } else {
            let scenario = scenarios::load(scenario_name(source))
                .ok()
                .map(|s| s.region);
            (source.region.clone().or(scenario), Default::default())
        };
        RefreshTarget {
            region,
            instance_types,
            credentials: None,
        }
    });
    let prepared = runtime.block_on(pricing::prepare(
        PriceRequest {
            table: settings.analysis.prices.clone(),
            cache_dir: config::cache_dir(),
            max_age: settings.prices.cache_max_age,
            refresh,
        },
        chrono::Utc::now(),
        |name| std::env::var(name).ok(),
        &mut |line| eprintln!("kockpit: {line}"),
    ));
    settings.analysis.prices = prepared.table;
    for notice in prepared.notices {
        if interactive {
            eprintln!("kockpit: {notice}");
        }
        settings.notices.push(notice);
    }
    Ok(())
}

fn simulator(
    source: &SourceArgs,
    speed: f64,
    start_offset: Duration,
) -> anyhow::Result<Box<dyn Backend>> {
    let scenario = scenarios::load(scenario_name(source))?;
    Ok(Box::new(SimBackend::new(
        scenario,
        source.seed,
        speed,
        start_offset,
    )))
}

/// `--record FILE`: the file is created now, so a bad path fails before the TUI starts.
fn recorder(
    source: &SourceArgs,
    clusters: &[(String, Box<dyn Backend>)],
) -> anyhow::Result<Option<Recorder>> {
    let contexts: Vec<String> = clusters
        .iter()
        .map(|(context, _)| context.clone())
        .collect();
    source
        .record
        .as_deref()
        .map(|path| Recorder::create(path, &contexts))
        .transpose()
        .map_err(Into::into)
}

fn tokio_runtime() -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map(|runtime| Runtime(Some(runtime)))
        .context("cannot start the async runtime")
}

/// How long leaving waits for work still in flight (a request, a credential plugin, a
/// blocking read) before the process exits anyway: `q` means now.
const EXIT_GRACE: Duration = Duration::from_millis(300);

/// The async runtime, shut down on drop without waiting longer than `EXIT_GRACE` for
/// whatever is still running.
struct Runtime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for Runtime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &tokio::runtime::Runtime {
        // Only `drop` takes the runtime out.
        self.0.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_timeout(EXIT_GRACE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prometheus_url_names_its_context_where_the_scheme_starts() {
        assert_eq!(
            context_url("prod-euw1=https://aps.example/ws-1?x=y"),
            Some(("prod-euw1", "https://aps.example/ws-1?x=y"))
        );
        // An EKS context is an ARN, with `:` and `/` in it.
        let arn = "arn:aws:eks:eu-west-1:111122223333:cluster/prod";
        assert_eq!(
            context_url(&format!("{arn}=http://127.0.0.1:9090")),
            Some((arn, "http://127.0.0.1:9090"))
        );
        assert_eq!(context_url("http://prom:9090/?a=b"), None);
        assert_eq!(context_url("=http://prom:9090"), None);
    }

    #[test]
    fn each_cluster_gets_its_own_prometheus_else_the_shared_one() {
        let cli = Cli::parse_from([
            "kockpit",
            "--context",
            "a",
            "--context",
            "b",
            "--prometheus",
            "http://shared:9090",
            "--prometheus",
            "b=http://b:9090",
        ]);
        let source = &cli.source;
        let url = |context| prometheus_url(source, Some(context)).ok().flatten();
        assert_eq!(url("a").as_deref(), Some("http://shared:9090"));
        assert_eq!(url("b").as_deref(), Some("http://b:9090"));
        let contexts = ["a".to_string(), "b".to_string()];
        assert!(check_prometheus_contexts(source, &contexts).is_ok());
        let error = check_prometheus_contexts(source, &contexts[..1])
            .map(|()| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(
            error.contains("b is not a context kockpit watches (a)"),
            "{error}"
        );
    }
}
