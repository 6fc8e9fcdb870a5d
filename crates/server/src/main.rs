//! `userhub-server`: runs the services and the operator commands.

use clap::Parser;
use userhub_server::Settings;
use userhub_server::cli::Cli;

/// mimalloc: the services allocate many small, short-lived values per record; glibc's malloc
/// spent a fifth of the import's CPU and kept freed memory resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("userhub-server: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let telemetry = match userhub_telemetry::init(
        &settings.log,
        &cli.command.service_name(),
        settings.telemetry.otlp_endpoint.as_deref(),
    ) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("userhub-server: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = userhub_server::commands::run(cli, settings).await;
    telemetry.flush();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("userhub-server: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
