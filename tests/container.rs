//! The compose file, read with a parser: PostgreSQL, two asnd replicas and a PROXY-protocol
//! HAProxy whose network is the one asnd trusts; the configuration they use is valid for asnd.
//! The image itself is built and run for real by deploy/smoke.sh (in CI), with
//! deploy/haproxy.cfg in front of two replicas: no test here reads the Dockerfile's text.

use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap()
}

fn compose() -> Yaml {
    YamlLoader::load_from_str(&read("deploy/docker-compose.yml"))
        .unwrap()
        .remove(0)
}

/// A mapping's value, following one level of YAML merge key (`<<`), which the parser leaves as is.
fn key(map: &Yaml, name: &str) -> Yaml {
    let direct = &map[name];
    if !direct.is_badvalue() {
        return direct.clone();
    }
    map["<<"][name].clone()
}

/// The environment compose gives a replica, with a password in place of the required variable.
fn replica_env(services: &Yaml, name: &str) -> Vec<(String, String)> {
    key(&services[name], "environment")
        .as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str()
                    .unwrap()
                    .replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}", "pw"),
            )
        })
        .collect()
}

/// The repository file compose mounts read-only at `target` in a replica, relative to the root.
fn mounted_file(services: &Yaml, name: &str, target: &str) -> String {
    let suffix = format!(":{target}:ro");
    let volumes = key(&services[name], "volumes");
    let source = volumes
        .as_vec()
        .unwrap()
        .iter()
        .find_map(|v| v.as_str().unwrap().strip_suffix(&suffix))
        .unwrap_or_else(|| panic!("{name} mounts {target} read-only"));
    // Compose resolves relative sources against the compose file's folder.
    let path = std::path::Path::new("deploy").join(source);
    std::fs::canonicalize(std::path::Path::new(ROOT).join(&path))
        .unwrap_or_else(|e| panic!("{name} mounts {}: {e}", path.display()))
        .strip_prefix(ROOT)
        .unwrap()
        .display()
        .to_string()
}

/// What asnd reads in a replica: the mounted configuration file under the replica's environment.
fn replica_config(services: &Yaml, name: &str) -> asnd::config::Config {
    let file = mounted_file(services, name, "/etc/asnd/asnd.toml");
    assert!(
        file.starts_with("config/"),
        "one of the ready files: {file}"
    );
    asnd::config::Config::from_toml_str(&read(&file), replica_env(services, name)).unwrap()
}

#[test]
fn compose_runs_two_replicas_behind_a_proxy_protocol_balancer() {
    let doc = compose();
    let services = &doc["services"];
    for name in ["postgres", "asnd-1", "asnd-2", "haproxy"] {
        assert!(!services[name].is_badvalue(), "service {name}");
    }
    // asnd-2 repeats asnd-1 through a YAML merge key (`<<: *asnd`).
    for name in ["asnd-1", "asnd-2"] {
        let env = &key(&services[name], "environment");
        assert!(
            env["ASND_DATABASE__URL"]
                .as_str()
                .unwrap()
                .starts_with("postgres://")
        );
        assert!(
            replica_config(services, name).server.proxy_protocol,
            "{name}"
        );
    }
    let trusted = services["asnd-1"]["environment"]["ASND_SOURCES__TRUSTED_PROXIES"]
        .as_str()
        .unwrap();
    let subnet = doc["networks"]["backend"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap();
    assert_eq!(
        trusted, subnet,
        "asnd trusts exactly the balancer's network"
    );
    let haproxy_ip: std::net::IpAddr = services["haproxy"]["networks"]["backend"]["ipv4_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        trusted
            .parse::<ipnet::IpNet>()
            .unwrap()
            .contains(&haproxy_ip)
    );
    // No secret in the file: the database password comes from the environment.
    assert!(read("deploy/docker-compose.yml").contains("${POSTGRES_PASSWORD:?"));

    let haproxy = read("deploy/haproxy.cfg");
    assert!(haproxy.contains("mode tcp"), "TLS passes through to asnd");
    assert!(haproxy.contains("send-proxy-v2"));
    assert!(haproxy.contains("GET /readyz"));
    assert!(
        haproxy.contains("option redispatch"),
        "a refused connection is retried on the other replica"
    );
    // The servers' addresses default to the compose services (deploy/smoke.sh moves them).
    assert!(
        haproxy.contains(r#"server asnd1 "${ASND_1-asnd-1}:8443""#)
            && haproxy.contains(r#"server asnd2 "${ASND_2-asnd-2}:8443""#)
    );
    // Debian's docker-compose (1.29) refuses a top-level `name:`.
    assert!(doc["name"].is_badvalue());
}

#[test]
fn the_deploy_configuration_is_valid_for_asnd() {
    let doc = compose();
    let config = replica_config(&doc["services"], "asnd-1");
    assert!(config.server.proxy_protocol);
    let subnet = doc["networks"]["backend"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap();
    assert_eq!(
        config.sources.trusted_proxies,
        vec![subnet.parse::<ipnet::IpNet>().unwrap()],
        "the environment's balancer network replaces the file's example"
    );
    assert!(
        config
            .database
            .url
            .expose()
            .starts_with("postgres://asnd:pw@postgres")
    );
    assert!(
        config.server.drain_delay >= std::time::Duration::from_secs(4),
        "outlasts HAProxy's 2 s × 2 checks"
    );
}
