//! `portcullis run`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use super::ConfigArgs;
use crate::config;
use crate::server::Server;

/// Runs the proxy until SIGINT or SIGTERM.
pub fn run(args: &ConfigArgs, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let loaded = config::load(args.config.as_deref())?;
    let mut config = loaded.config;
    if let Some(listen) = listen {
        config.proxy.listen = listen;
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .context("log.level")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    certs::install_process_provider();
    crate::startup::check_files(&config)?;
    let data_dir = super::data_dir(args, &config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("portcullis")
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let server = Server::start(config, &data_dir).await?;
        let ca = match server.state.certs.minter().authority().source() {
            certs::AuthoritySource::Generated { cert } => format!("generated {}", cert.display()),
            certs::AuthoritySource::Loaded { cert } => cert.display().to_string(),
        };
        tracing::info!(
            proxy = %server.proxy_addr,
            admin = ?server.admin_addr,
            https_proxy = ?server.https_addr,
            transparent = ?server.transparent_addrs,
            quic = ?server.quic_addr,
            pac = ?server.pac_addr,
            ca = %ca,
            "portcullis listening"
        );
        wait_for_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
