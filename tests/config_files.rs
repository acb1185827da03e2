//! The files in `config/` are what operators copy, so each is proven to load and validate, and to
//! be the way of running asnd its name says. `asnd.example.toml` is proven to be the built-in
//! defaults, key for key; `dev.toml` is what `serve --dev` writes. A new file there fails
//! `every_file_in_config_loads_validates_and_is_checked` until it has a check below.

use std::path::{Path, PathBuf};

use asnd::config::{ApiConfig, AppConfig, Config, ConfigError};
use ipnet::IpNet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const EXAMPLE: &str = "asnd.example.toml";

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join("config").join(name)).unwrap()
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

/// The files the configurations name, generated in a folder of their own.
struct Files {
    dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    api_key: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let tls = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("tls.pem");
        let key = dir.path().join("tls.key");
        std::fs::write(&cert, tls.cert.pem()).unwrap();
        std::fs::write(&key, tls.key_pair.serialize_pem()).unwrap();
        // App Store Connect's keys are EC P-256 in PKCS#8, rcgen's default.
        let api_key = dir.path().join("AuthKey.p8");
        std::fs::write(
            &api_key,
            rcgen::KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        Files {
            dir,
            cert,
            key,
            api_key,
        }
    }

    /// `text` with each path it names replaced by the generated file standing in for it.
    fn rewrite(&self, text: &str) -> String {
        let quoted = |p: &Path| format!("\"{}\"", p.display());
        let mut text = text.to_owned();
        for (path, file) in [
            ("/etc/asnd/certs/tls.pem", &self.cert),
            ("/etc/asnd/certs/tls.key", &self.key),
            ("/etc/asnd/tls.pem", &self.cert),
            ("/etc/asnd/tls.key", &self.key),
            ("/etc/asnd/AuthKey_2X9R4HXF34.p8", &self.api_key),
            ("/etc/asnd/backend-ca.pem", &self.cert),
            // Any certificate stands in for the system's CA bundle.
            ("/etc/ssl/certs/ca-certificates.crt", &self.cert),
        ] {
            text = text.replace(&format!("\"{path}\""), &quoted(file));
        }
        text
    }

    /// Writes `text` as a file and loads it as `asnd serve --config` does.
    fn load(&self, name: &str, text: &str) -> Config {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path)).unwrap_or_else(|e| panic!("config/{name} does not load: {e}"))
    }
}

/// The example with every commented-out key (`#key = ...`, `#[table]`) set to its example value.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Loads and validates `config/<name>`, its paths pointing at generated files.
fn valid(name: &str) -> Config {
    let files = Files::new();
    let config = files.load(name, &files.rewrite(&read(name)));
    if let Err(e) = config.validate() {
        panic!("config/{name} is not valid:\n{e}");
    }
    config
}

fn apple_only(config: &Config) {
    assert_eq!(config.sources.allow, nets(&["17.0.0.0/8"]));
    assert!(!config.apps.is_empty());
    assert_eq!(
        config.verify.roots,
        Vec::<PathBuf>::new(),
        "Apple's root alone"
    );
}

fn check_direct(config: &Config) {
    apple_only(config);
    assert!(config.server.tls, "asnd terminates TLS");
    assert!(!config.server.proxy_protocol);
    assert!(
        config.sources.trusted_proxies.is_empty(),
        "nobody speaks for the client"
    );
}

fn check_behind_l4_proxy(config: &Config) {
    apple_only(config);
    assert!(config.server.tls, "TLS end to end, through the balancer");
    assert!(config.server.proxy_protocol);
    assert!(!config.sources.trusted_proxies.is_empty());
}

fn check_behind_l7_proxy(config: &Config) {
    apple_only(config);
    assert!(!config.server.tls, "the balancer terminates TLS");
    assert!(!config.server.proxy_protocol);
    assert!(!config.sources.trusted_proxies.is_empty());
    assert_eq!(
        config.sources.forwarded_header,
        asnd::config::ForwardedHeader::XForwardedFor
    );
}

fn check_example(config: &Config) {
    assert_eq!(*config, Config::default());
}

/// What a file must be, beyond valid.
type Check = fn(&Config);

/// Every file in `config/` and what it must be. The dev file is checked by its own test, since
/// `serve --dev` writes its files.
const CHECKS: &[(&str, Check)] = &[
    (EXAMPLE, check_example),
    ("direct.toml", check_direct),
    ("behind-l4-proxy.toml", check_behind_l4_proxy),
    ("behind-l7-proxy.toml", check_behind_l7_proxy),
];

#[test]
fn every_file_in_config_loads_validates_and_is_checked() {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("config"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        if name == "dev.toml" {
            continue; // the_dev_file_is_what_serve_dev_writes_and_is_valid
        }
        let (_, check) = CHECKS
            .iter()
            .find(|(known, _)| *known == name)
            .unwrap_or_else(|| panic!("config/{name} has no check in tests/config_files.rs"));
        if name == EXAMPLE {
            // The defaults name no app, which asnd refuses; the example's own [[apps]] is tried in
            // every_commented_out_example_value_is_valid.
            let files = Files::new();
            let config = files.load(&name, &files.rewrite(&read(&name)));
            let problems = config.validate().unwrap_err();
            let problems = problems.problems();
            assert!(
                matches!(problems[..], [ConfigError::Invalid { key, .. }] if key == "apps"),
                "{problems:?}"
            );
            check(&files.load(&name, &read(&name)));
        } else {
            check(&valid(&name));
        }
    }
}

#[test]
fn the_example_is_the_built_in_defaults() {
    let example = Config::from_toml_str(&read(EXAMPLE), []).unwrap();
    assert_eq!(example, Config::default());
    assert_eq!(example, Config::from_toml_str("", []).unwrap());
}

/// The keys asnd knows in the table at `section`, from its own unknown-key message.
fn known_keys(section: &str) -> Vec<String> {
    let header = match section {
        "" => String::new(),
        "apps" => "[[apps]]\n".to_owned(),
        "destinations" => "[[destinations]]\n".to_owned(),
        "apps.api" => "[[apps]]\n[apps.api]\n".to_owned(),
        table => format!("[{table}]\n"),
    };
    match Config::from_toml_str(&format!("{header}not_a_key = 1\n"), []) {
        Err(ConfigError::UnknownKey { expected, .. }) => {
            let mut keys: Vec<String> = expected.split(", ").map(str::to_owned).collect();
            keys.sort();
            keys
        }
        other => panic!("[{section}] not_a_key: {other:?}"),
    }
}

#[test]
fn the_example_shows_every_key() {
    let example: toml::Table = toml::from_str(&uncommented(&read(EXAMPLE))).unwrap();
    let keys = |table: &toml::Table| {
        let mut keys: Vec<String> = table.keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&example), known_keys(""));
    for (name, value) in &example {
        let table = match value {
            toml::Value::Table(table) => table,
            toml::Value::Array(apps) => apps[0].as_table().unwrap(),
            other => panic!("{name} = {other}"),
        };
        assert_eq!(keys(table), known_keys(name), "[{name}]");
        if name == "apps" {
            let api = table["api"].as_table().unwrap();
            let mut shown = keys(api);
            shown.extend(alternative_keys(&read(EXAMPLE), "apps.api"));
            shown.sort();
            assert_eq!(shown, known_keys("apps.api"), "[apps.api]");
        }
    }
}

/// The keys the example shows as an alternative to the one above (`##key = ...`) in `section`.
fn alternative_keys(text: &str, section: &str) -> Vec<String> {
    let mut current = String::new();
    let mut keys = Vec::new();
    for line in text.lines() {
        let bare = line.trim_start_matches('#');
        if bare.starts_with('[') {
            current = bare.trim_matches(['[', ']']).to_owned();
        } else if let Some(rest) = line.strip_prefix("##")
            && current == section
        {
            keys.push(rest.split(" = ").next().unwrap().to_owned());
        }
    }
    assert!(
        keys.iter()
            .all(|k| k.starts_with(|c: char| c.is_ascii_lowercase())),
        "{keys:?}"
    );
    keys
}

#[test]
fn every_commented_out_example_value_is_valid() {
    let text = uncommented(&read(EXAMPLE));
    let files = Files::new();
    let config = files.load(EXAMPLE, &files.rewrite(&text));
    if let Err(e) = config.validate() {
        panic!("the commented-out values of config/{EXAMPLE} are not valid:\n{e}");
    }
    // Keys shown inside an unset section are at their defaults too, apart from the examples.
    let config = Config::from_toml_str(&text, []).unwrap();
    let app = &config.apps[0];
    let api = app.api.clone().unwrap();
    assert_eq!(
        api,
        ApiConfig {
            key_id: api.key_id.clone(),
            issuer_id: api.issuer_id.clone(),
            private_key_path: api.private_key_path.clone(),
            ..ApiConfig::default()
        }
    );
    assert_eq!(
        *app,
        AppConfig {
            bundle_id: app.bundle_id.clone(),
            app_apple_id: app.app_apple_id,
            v1_shared_secrets: app.v1_shared_secrets.clone(),
            api: app.api.clone(),
            ..AppConfig::default()
        }
    );
}

#[test]
fn the_dev_file_is_what_serve_dev_writes_and_is_valid() {
    let files = Files::new();
    let dev = files.dir.path().join(asnd::cli::dev::DEV_DIR);
    let written = asnd::cli::dev::prepare(&dev).unwrap();
    let text = std::fs::read_to_string(&written).unwrap();
    assert_eq!(text, read("dev.toml"));
    // Its paths are relative to where `serve --dev` runs, the dev folder's parent.
    let prefix = format!("{}/", asnd::cli::dev::DEV_DIR);
    let text = text.replace(
        &format!("\"{prefix}"),
        &format!("\"{}/{prefix}", files.dir.path().display()),
    );
    let config = files.load("dev.toml", &text);
    if let Err(e) = config.validate() {
        panic!("config/dev.toml is not valid:\n{e}");
    }
    assert!(config.server.listen.ip().is_loopback());
    assert_eq!(config.sources.allow, nets(&["127.0.0.0/8", "::1/128"]));
    assert_eq!(config.verify.roots.len(), 2, "Apple's and the dev CA");
}
