//! The command tree of the `portcullis` binary.

mod ca;
mod config_check;
mod dlp;
mod policy;
mod report;
mod run;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Portcullis: an inline CASB/SASE forward proxy.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by commands that read the configuration.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Without it the embedded defaults apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (generated CA, state). Overrides `data_dir` in the file.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Address of the explicit proxy listener (overrides `proxy.listen`).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Manage the interception CA.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Data-loss-prevention tools.
    Dlp {
        #[command(subcommand)]
        command: DlpCommand,
    },
    /// Classify URLs against the app catalogue.
    Classify {
        /// Catalogue file extending the built-in one.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// HTTP method of the requests.
        #[arg(long, default_value = "GET")]
        method: String,
        /// URLs to classify.
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

/// `portcullis ca …`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Print the CA certificate (PEM), generating the CA if there is none yet.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `portcullis config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration exactly as start-up does.
    Check {
        /// The file to check (or use --config).
        file: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `portcullis dlp …`
#[derive(Debug, Subcommand)]
pub enum DlpCommand {
    /// Scan files or standard input for sensitive data.
    Scan {
        /// Rule file replacing the built-in pack.
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Files to scan; `-` or nothing for standard input.
        paths: Vec<PathBuf>,
    },
    /// List the rules and check a rule file, its examples included.
    Rules {
        /// Rule file to check instead of the built-in pack.
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
}

/// `portcullis policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file.
    Check {
        /// Catalogue file extending the built-in one (apps the policy names).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// The policy file.
        file: PathBuf,
    },
    /// Run a policy's test cases.
    Test {
        /// Catalogue file extending the built-in one (apps the policy names).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// The test file.
        file: PathBuf,
    },
}

/// `portcullis report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Apps and unknown destinations in use, unsanctioned first.
    ShadowIt {
        /// Only what was seen this recently (e.g. `7d`, `12h`).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// `table`, `csv` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// Parses the command line and runs the command; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, listen } => run::run(&config, listen),
        Command::Ca {
            command: CaCommand::Export { config, out },
        } => ca::export(&config, out.as_deref()),
        Command::Config {
            command: ConfigCommand::Check { file, config },
        } => config_check::check(file.as_deref().or(config.config.as_deref())),
        Command::Dlp {
            command: DlpCommand::Scan { rules, paths },
        } => dlp::scan(rules.as_deref(), &paths),
        Command::Dlp {
            command: DlpCommand::Rules { rules },
        } => dlp::rules(rules.as_deref()),
        Command::Classify {
            catalog,
            method,
            urls,
        } => policy::classify(catalog.as_deref(), &method, &urls),
        Command::Policy {
            command: PolicyCommand::Check { catalog, file },
        } => policy::check(catalog.as_deref(), &file),
        Command::Policy {
            command: PolicyCommand::Test { catalog, file },
        } => policy::test(catalog.as_deref(), &file),
        Command::Report {
            command:
                ReportCommand::ShadowIt {
                    since,
                    format,
                    config,
                },
        } => report::shadow_it(&config, since.as_deref(), &format),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The data directory: `--data-dir`, else `data_dir` in the file, else `./portcullis-data`.
pub(crate) fn data_dir(args: &ConfigArgs, config: &crate::config::Config) -> PathBuf {
    args.data_dir
        .clone()
        .or_else(|| config.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("portcullis-data"))
}
