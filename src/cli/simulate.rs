//! `asnd simulate`: posts signed notifications to a receiver, one type, a scenario in order, or
//! `--count N` at once with latency figures; or writes the bodies to files with `--out`.
//!
//! Exit codes: 0 when every notification was answered 200–206 (what Apple counts as delivered)
//! or written; 1 when any was refused or got no answer; 2 when nothing could be sent (usage, the
//! CA, TLS setup).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::apple::TrustAnchor;
use crate::apple::devchain::DevChain;
use crate::cli::dev::{DEV_CA_DIR, DEV_DIR};
use crate::devca;
use crate::simulate::{
    self, CATALOG, ClientOptions, Credentials, Generator, Kind, Notice, Protocol, Scenario, Source,
    Target, V1_TYPES, payloads,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpVersion {
    /// HTTP/1.1, one request at a time per connection (`--concurrency` connections).
    Http1,
    /// HTTP/2, all requests multiplexed over one connection.
    Http2,
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The receiver's notification URL.
    #[arg(long)]
    pub url: Option<String>,
    /// Use ./asnd-dev/ from `asnd serve --dev`: sign with asnd-dev/ca, trust asnd-dev/tls.pem,
    /// post to https://localhost:8443/notifications unless --url says otherwise.
    #[arg(long)]
    pub dev: bool,
    /// The development CA that signs V2 notifications (a folder written by `asnd dev-ca`).
    #[arg(long, value_name = "DIR")]
    pub ca: Option<PathBuf>,
    /// Trust this certificate (PEM) for the receiver's TLS, instead of the system's CA bundle.
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// Accept any TLS certificate from the receiver.
    #[arg(long)]
    pub insecure: bool,
    /// A notification type (see --list).
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "scenario")]
    pub notification_type: Option<String>,
    /// The subtype of --type.
    #[arg(long, value_name = "SUBTYPE", requires = "notification_type")]
    pub subtype: Option<String>,
    /// An ordered story: lifecycle, billing, refund, family, all-types.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Load: send N unique notifications (of --type, default DID_RENEW; or of --scenario, repeated
    /// with new customers), --concurrency at a time, and report statuses, latency, throughput.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Requests in flight at once with --count.
    #[arg(long, value_name = "C", default_value_t = 32)]
    pub concurrency: usize,
    /// Write the request bodies into DIR instead of posting them.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Send V1 bodies (unsigned, authenticated by --v1-secret); --type takes V1 types.
    #[arg(long)]
    pub v1: bool,
    /// The app's shared secret, for V1 bodies' `password`.
    #[arg(
        long,
        env = "ASND_V1_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub v1_secret: Option<String>,
    /// The environment the notifications claim: Sandbox or Production (any case).
    #[arg(long, default_value = "Sandbox", value_parser = super::command::parse_environment)]
    pub environment: crate::appstore_api::ApiEnvironment,
    /// The app's bundle id (as configured in the receiver's [[apps]]).
    #[arg(long, default_value = "com.example.app")]
    pub bundle_id: String,
    /// The app's Apple ID (the receiver compares it for Production).
    #[arg(long, default_value_t = 1_234_567_890)]
    pub app_apple_id: i64,
    /// HTTP version.
    #[arg(long, value_enum, default_value = "http1")]
    pub http: HttpVersion,
    /// Open a new connection (and TLS handshake) for every request.
    #[arg(long)]
    pub no_keepalive: bool,
    /// How long one request may take (a duration: 30s, 500ms, 2min).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::command::parse_duration)]
    pub timeout: Duration,
    /// Print every type, subtype and scenario, and exit.
    #[arg(long)]
    pub list: bool,
    /// A mixed load for --duration at --rate, with the parts' weights: new, duplicate, v1,
    /// invalid, oversized, slow (e.g. new=70,duplicate=10,v1=8,invalid=8,oversized=2,slow=2).
    /// Prints a CSV line every --report-every.
    #[arg(
        long,
        value_name = "SPEC",
        conflicts_with_all = ["count", "scenario", "notification_type", "out", "v1"]
    )]
    pub mix: Option<simulate::mix::Mix>,
    /// How long --mix runs.
    #[arg(long, value_name = "DURATION", default_value = "1min", requires = "mix", value_parser = super::command::parse_duration)]
    pub duration: Duration,
    /// Requests --mix starts per second.
    #[arg(long, value_name = "N", default_value_t = 20.0, requires = "mix")]
    pub rate: f64,
    /// How often --mix prints a CSV line.
    #[arg(long, value_name = "DURATION", default_value = "5s", requires = "mix", value_parser = super::command::parse_duration)]
    pub report_every: Duration,
    /// With --mix: append a line per acknowledged notification to FILE (`v2 NOTIFICATION_UUID`
    /// or `v1 TRANSACTION_ID`), to check later that each one is in the database.
    #[arg(long, value_name = "FILE", requires = "mix")]
    pub acked: Option<PathBuf>,
}

/// Runs the subcommand and prints its own errors.
pub fn run(args: &SimulateArgs) -> ExitCode {
    match run_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("asnd simulate: {}", crate::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// What `--list` prints.
pub fn listing() -> String {
    let mut out = String::from(
        "V2 types (--type TYPE [--subtype SUBTYPE]; - is the type without a subtype):\n",
    );
    for (t, subtypes) in CATALOG {
        let subs: Vec<&str> = subtypes.iter().map(|s| s.unwrap_or("-")).collect();
        out.push_str(&format!("  {t:<28} {}\n", subs.join(" ")));
    }
    out.push_str("V1 types (--v1 --type TYPE):\n");
    for t in V1_TYPES {
        out.push_str(&format!("  {t}\n"));
    }
    out.push_str("Scenarios (--scenario NAME):\n");
    for s in Scenario::ALL {
        out.push_str(&format!("  {}\n", s.name()));
    }
    out
}

fn source(args: &SimulateArgs) -> anyhow::Result<Source> {
    if let Some(name) = &args.scenario {
        return Ok(Source::Scenario {
            scenario: Scenario::parse(name)?,
            v1: args.v1,
        });
    }
    let t = match (&args.notification_type, args.count) {
        (Some(t), _) => t.as_str(),
        (None, Some(_)) => "DID_RENEW",
        (None, None) => {
            bail!("say what to send: --type TYPE, --scenario NAME or --count N (see --list)")
        }
    };
    if args.v1 {
        if args.subtype.is_some() {
            bail!("V1 notifications have no subtype");
        }
        Ok(Source::V1(payloads::parse_v1_type(t)?))
    } else {
        Ok(Source::V2(Kind::parse(t, args.subtype.as_deref())?))
    }
}

fn dev_dir() -> anyhow::Result<&'static Path> {
    let dir = Path::new(DEV_DIR);
    if !dir.join(DEV_CA_DIR).join(devca::ROOT_FILE).exists() {
        bail!(
            "./{DEV_DIR}/{DEV_CA_DIR}/ not found: start `asnd serve --dev` in this folder first \
             (it creates ./{DEV_DIR}/ with the development CA)"
        );
    }
    Ok(dir)
}

fn signing_chain(args: &SimulateArgs) -> anyhow::Result<Option<(DevChain, PathBuf)>> {
    if args.v1 {
        return Ok(None);
    }
    let dir = match (&args.ca, args.dev) {
        (Some(dir), _) => dir.clone(),
        (None, true) => dev_dir()?.join(DEV_CA_DIR),
        (None, false) => bail!(
            "V2 notifications need a signing CA: --ca DIR (made by `asnd dev-ca --out DIR`) or --dev"
        ),
    };
    let chain = devca::load(&dir).with_context(|| format!("development CA {}", dir.display()))?;
    Ok(Some((chain, dir)))
}

/// The certificates to trust for the receiver's TLS: --cacert, the dev certificate, or the
/// system's CA bundle.
fn tls_roots(args: &SimulateArgs) -> anyhow::Result<Vec<Vec<u8>>> {
    let file = match (&args.cacert, args.dev) {
        (Some(p), _) => p.clone(),
        (None, true) => dev_dir()?.join("tls.pem"),
        (None, false) if args.insecure => return Ok(Vec::new()),
        (None, false) => match system_bundle() {
            Some(p) => p,
            None => bail!(
                "no CA bundle found to check the receiver's certificate: give --cacert PEM \
                 (or set SSL_CERT_FILE)"
            ),
        },
    };
    let pem = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut roots = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.with_context(|| format!("{}: bad PEM", file.display()))?;
        roots.push(cert.as_ref().to_vec());
    }
    if roots.is_empty() {
        bail!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            file.display()
        );
    }
    Ok(roots)
}

fn system_bundle() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SSL_CERT_FILE") {
        return Some(PathBuf::from(p));
    }
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
        "/etc/ssl/ca-bundle.pem",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn run_inner(args: &SimulateArgs) -> anyhow::Result<bool> {
    if args.list {
        print!("{}", listing());
        return Ok(true);
    }
    if let Some(mix) = &args.mix {
        return run_mix(args, mix);
    }
    let source = source(args)?;
    if args.count == Some(0) {
        bail!("--count must be at least 1");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let target = target(args)?;
    if args.v1 && args.v1_secret.as_deref().is_none_or(str::is_empty) {
        bail!("V1 bodies need the app's shared secret: --v1-secret SECRET (or ASND_V1_SECRET)");
    }
    let chain = signing_chain(args)?;
    let credentials = Credentials {
        chain: chain.as_ref().map(|(c, _)| c),
        v1_password: args.v1_secret.as_deref(),
    };
    let signer = chain.as_ref().map(|(c, dir)| {
        let label = TrustAnchor::from_der(&c.root_der)
            .map(|a| a.label())
            .unwrap_or_default();
        format!(
            "signed by the development CA {} (verified_by {label})",
            dir.display()
        )
    });

    if let Some(out) = &args.out {
        return write_bodies(out, &target, source, args.count, credentials);
    }

    let url = receiver_url(args, "(or --dev, or --out DIR)")?;
    if args.insecure {
        eprintln!("asnd simulate: --insecure: the receiver's certificate is not checked");
    }
    let options = client_options(args)?;
    let client = simulate::client(&options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.count {
        Some(count) => {
            eprintln!("preparing {count} notifications...");
            let bodies = simulate::prepare_bodies(&target, source, count, credentials)?;
            let bodies: Vec<Bytes> = bodies.into_iter().map(|(_, b)| b).collect();
            if let Some(s) = &signer {
                eprintln!("{s}");
            }
            let progress = progress_bar(count as u64);
            let tick = progress.clone();
            let report = runtime.block_on(simulate::load(
                &client,
                &url,
                bodies,
                args.concurrency,
                move || tick.inc(1),
            ));
            progress.finish_and_clear();
            if let Some(e) = &report.first_error {
                eprintln!("first failure: {e}");
            }
            print!("{}", report.render(options.protocol, options.keep_alive));
            Ok(report.all_delivered())
        }
        None => {
            let mut generator = Generator::new(target.clone());
            let events = simulate::events(&mut generator, source, crate::time::now_ms());
            let mut bodies = Vec::with_capacity(events.len());
            for event in &events {
                bodies.push(event.body(&target, credentials.chain, credentials.v1_password)?);
            }
            if let Some(s) = &signer {
                println!("{s}");
            }
            println!(
                "posting {} notification{} to {url} ({}, {})",
                events.len(),
                if events.len() == 1 { "" } else { "s" },
                target.environment,
                target.bundle_id
            );
            runtime.block_on(send_in_order(&client, &url, &events, bodies, args.dev))
        }
    }
}

/// `--mix`: the CSV lines on stdout, the totals by part on stderr; success when every answer
/// was the one expected for its part.
fn run_mix(args: &SimulateArgs, mix: &simulate::mix::Mix) -> anyhow::Result<bool> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a number of requests per second above 0");
    }
    if args.report_every.is_zero() {
        bail!("--report-every must be above 0");
    }
    let v1_password = args.v1_secret.clone().filter(|s| !s.is_empty());
    if mix.has(simulate::mix::Part::V1) && v1_password.is_none() {
        bail!(
            "the mix has v1 bodies: give the app's shared secret with --v1-secret SECRET (or ASND_V1_SECRET), or set v1=0"
        );
    }
    let target = target(args)?;
    let chain = signing_chain(args)?.map(|(c, _)| std::sync::Arc::new(c));
    let url = receiver_url(args, "(or --dev)")?;
    let options = client_options(args)?;
    let client = simulate::client(&options)?;
    let acked: Option<Box<dyn std::io::Write + Send>> = match &args.acked {
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?,
        ))),
        None => None,
    };
    let mix_options = simulate::mix::MixOptions {
        mix: mix.clone(),
        rate: args.rate,
        duration: args.duration,
        concurrency: args.concurrency,
        report_every: args.report_every,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let receiver = simulate::mix::Receiver {
        client,
        url,
        target,
        chain,
        v1_password,
    };
    let report = runtime.block_on(simulate::mix::run(
        receiver,
        &mix_options,
        acked,
        std::io::stdout(),
    ))?;
    eprint!("{}", report.render());
    Ok(report.all_as_expected())
}

/// Posts each body after the previous one was answered (a scenario's order matters) and prints
/// one line per notification.
async fn send_in_order(
    client: &reqwest::Client,
    url: &str,
    events: &[simulate::Event],
    bodies: Vec<String>,
    dev: bool,
) -> anyhow::Result<bool> {
    let width = events
        .iter()
        .map(|e| e.notice.label().len())
        .max()
        .unwrap_or(0);
    let mut delivered = 0;
    let mut refused_chain = false;
    for (i, (event, body)) in events.iter().zip(bodies).enumerate() {
        let ids = event
            .original_transaction_id
            .as_deref()
            .map(|o| format!("  originalTransactionId {o}"))
            .unwrap_or_default();
        match simulate::post(client, url, Bytes::from(body)).await {
            Ok(answer) => {
                let word = answer.body["status"].as_str().unwrap_or("").to_string();
                let ok = (200..=206).contains(&answer.status);
                delivered += usize::from(ok);
                let line = format!(
                    "{:>3}  {:<width$}  {} {:<9}{}",
                    i + 1,
                    event.notice.label(),
                    answer.status,
                    word,
                    if ok { ids } else { String::new() },
                );
                println!("{}", line.trim_end());
                if !ok {
                    let reason = answer.body["reason"].as_str().unwrap_or("");
                    println!("       {reason}");
                    refused_chain |=
                        reason.contains("chain") || reason.contains("INVALID_CERTIFICATE");
                }
            }
            Err(e) if simulate::send_error::stops_a_run(&e) => {
                // Every later request would fail the same way: say it once, and stop.
                println!("{:>3}  {:<width$}  no answer", i + 1, event.notice.label());
                eprintln!("asnd simulate: {}", simulate::send_error::describe(&e));
                if i + 1 < events.len() {
                    eprintln!("  stopped: the other {} not sent", events.len() - i - 1);
                }
                break;
            }
            Err(e) => {
                println!(
                    "{:>3}  {:<width$}  no answer: {}",
                    i + 1,
                    event.notice.label(),
                    simulate::send_error::describe(&e)
                );
            }
        }
    }
    println!(
        "{delivered} of {} delivered (answered 200-206)",
        events.len()
    );
    if refused_chain && dev {
        println!(
            "hint: the receiver does not trust {DEV_DIR}/{DEV_CA_DIR}/root.pem; list it in \
             {DEV_DIR}/asnd.toml: [verify] roots = [\"builtin:apple-root-ca-g3\", \"{DEV_DIR}/{DEV_CA_DIR}/root.pem\"]"
        );
    }
    Ok(delivered == events.len())
}

fn write_bodies(
    out: &Path,
    target: &Target,
    source: Source,
    count: Option<usize>,
    credentials: Credentials<'_>,
) -> anyhow::Result<bool> {
    let bodies: Vec<(Notice, Bytes)> = match count {
        Some(n) => simulate::prepare_bodies(target, source, n, credentials)?,
        None => {
            let mut generator = Generator::new(target.clone());
            let mut bodies = Vec::new();
            for event in simulate::events(&mut generator, source, crate::time::now_ms()) {
                let body = event.body(target, credentials.chain, credentials.v1_password)?;
                bodies.push((event.notice, Bytes::from(body)));
            }
            bodies
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let digits = bodies.len().to_string().len().max(3);
    for (i, (notice, body)) in bodies.iter().enumerate() {
        let name = format!(
            "{:0digits$}-{}.json",
            i + 1,
            notice.label().replace(['/', ' '], "-")
        );
        let path = out.join(name);
        std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("wrote {} bodies to {}", bodies.len(), out.display());
    Ok(true)
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} notifications  {per_sec}  eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The app the notifications are for, from `--environment`, `--bundle-id` and `--app-apple-id`,
/// checked.
fn target(args: &SimulateArgs) -> anyhow::Result<Target> {
    let target = Target {
        environment: args.environment.as_str().to_owned(),
        bundle_id: args.bundle_id.clone(),
        app_apple_id: args.app_apple_id,
        ..Target::default()
    };
    target.check()?;
    Ok(target)
}

/// The notification URL: `--url`, or `serve --dev`'s with `--dev`; `alternatives` completes the
/// error that asks for one.
fn receiver_url(args: &SimulateArgs, alternatives: &str) -> anyhow::Result<String> {
    match (&args.url, args.dev) {
        (Some(u), _) => Ok(u.clone()),
        (None, true) => Ok("https://localhost:8443/notifications".to_string()),
        (None, false) => bail!("give --url https://HOST/PATH {alternatives}"),
    }
}

/// How the client connects, from the TLS and HTTP options.
fn client_options(args: &SimulateArgs) -> anyhow::Result<ClientOptions> {
    Ok(ClientOptions {
        roots: tls_roots(args)?,
        insecure: args.insecure,
        protocol: match args.http {
            HttpVersion::Http1 => Protocol::Http1,
            HttpVersion::Http2 => Protocol::Http2,
        },
        keep_alive: !args.no_keepalive,
        timeout: args.timeout.max(Duration::from_millis(1)),
    })
}
