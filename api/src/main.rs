//! The `eiq` binary: parses flags and hands off to the library; errors stop here, as `anyhow`.

use anyhow::Context;
use clap::Parser;
use eiq::config::{BatchCommand, Cli, Command, ModelsCommand};
use eiq::{cli, server, telemetry};

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    telemetry::init_logging();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Cli) -> anyhow::Result<()> {
    match args.command {
        Command::Serve(serve) => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(server::run(*serve))?;
        }
        Command::Models(command) => {
            let report = match command {
                ModelsCommand::List(args) => cli::models::list(&args)?,
                ModelsCommand::Fetch(args) => cli::models::fetch(&args)?,
                ModelsCommand::Verify(args) => cli::models::verify(&args)?,
            };
            print!("{report}");
        }
        Command::Train(args) => print!("{}", cli::train::run(&args)?),
        Command::Tenants(command) => print!("{}", cli::tenants::tenants(command)?),
        Command::Keys(command) => print!("{}", cli::tenants::keys(command)?),
        Command::Audit(command) => print!("{}", cli::audit::audit(command)?),
        Command::Usage(command) => print!("{}", cli::usage::usage(command)?),
        Command::Posts(command) => print!("{}", cli::posts::posts(command)?),
        Command::Batch(command) => {
            let report = match command {
                BatchCommand::Import(args) => cli::batch::import(&args)?,
                BatchCommand::Features(args) => cli::batch::features(&args)?,
                BatchCommand::Train(args) => cli::batch::train(&args)?,
                BatchCommand::Forecast(args) => cli::batch::forecast(&args)?,
                BatchCommand::BestTimes(args) => cli::batch::best_times(&args)?,
                BatchCommand::Report(args) => cli::batch::report(&args)?,
                BatchCommand::Analyze(args) => cli::batch::analyze(&args)?,
                BatchCommand::Index(args) => cli::batch::index(&args)?,
            };
            print!("{report}");
        }
    }
    Ok(())
}
