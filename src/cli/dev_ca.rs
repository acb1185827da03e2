//! `asnd dev-ca --out DIR`: writes a development signing chain shaped like Apple's, for
//! `asnd simulate --ca DIR` and for a receiver that lists `DIR/root.pem` in `verify.roots`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::apple::TrustAnchor;
use crate::devca;

#[derive(Debug, clap::Args)]
pub struct DevCaArgs {
    /// The folder to write (created when missing; must not hold a CA already).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: &DevCaArgs) -> ExitCode {
    match devca::generate(&args.out) {
        Ok(chain) => {
            let label = TrustAnchor::from_der(&chain.root_der)
                .map(|a| a.label())
                .unwrap_or_default();
            let dir = args.out.display();
            println!(
                "development CA written to {dir}/ (not Apple's; see {dir}/{readme})\n\
                 \x20 {dir}/{root}  {dir}/{inter}  {dir}/{leaf}  {dir}/{key} (0600)\n\
                 \x20 verified_by: {label}\n\n\
                 Trust it in a receiver beside Apple's root:\n\
                 \x20 [verify]\n\
                 \x20 roots = [\"builtin:apple-root-ca-g3\", \"{dir}/{root}\"]\n\
                 Sign with it:\n\
                 \x20 asnd simulate --ca {dir} --url https://HOST/notifications --scenario lifecycle",
                readme = devca::README_FILE,
                root = devca::ROOT_FILE,
                inter = devca::INTERMEDIATE_FILE,
                leaf = devca::LEAF_FILE,
                key = devca::KEY_FILE,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("asnd dev-ca: {e}");
            ExitCode::FAILURE
        }
    }
}
