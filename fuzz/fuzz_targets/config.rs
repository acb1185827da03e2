//! The configuration: a TOML file and `ASND_*` overrides over it. The input is the file, then
//! optionally a line `#env` followed by `NAME=VALUE` lines. A configuration that loads prints
//! (`asnd check-config`) as TOML that loads again and prints the same; a refusal is a typed
//! error, and one about a variable names a variable that was given.
#![no_main]

use asnd::config::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env) = match text.split_once("\n#env\n") {
        Some((file, env)) => (file, env),
        None => (text, ""),
    };
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();

    match Config::from_toml_str(file, vars.clone()) {
        Ok(config) => {
            let printed = config
                .to_redacted_toml()
                .expect("a configuration that loads can be printed");
            let reloaded = Config::from_toml_str(&printed, Vec::new()).unwrap_or_else(|e| {
                panic!("the printed configuration does not load: {e}\n{printed}")
            });
            let reprinted = reloaded
                .to_redacted_toml()
                .expect("a configuration that loads can be printed");
            assert_eq!(printed, reprinted, "printing is not stable");
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            for problem in error.problems() {
                if let ConfigError::Env { var, .. } = problem {
                    assert!(vars.iter().any(|(name, _)| name == var), "{problem}");
                }
            }
        }
    }
});
