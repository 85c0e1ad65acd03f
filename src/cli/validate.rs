//! `failover-lab validate`: check files, print every problem, exit 0 or 2.

use std::path::PathBuf;

use super::exit;
use super::load::load_file;

pub fn validate(paths: &[PathBuf], strict_paths: bool) -> u8 {
    let mut code = exit::OK;
    for path in paths {
        match load_file(path, strict_paths) {
            Ok(l) => {
                for w in &l.warnings {
                    errln!("{w}");
                }
                println!(
                    "{}: ok ({} policies, {} routes, {} faults{})",
                    path.display(),
                    l.world.policies.len(),
                    l.world.routes.len(),
                    l.world.faults.len(),
                    match l.warnings.len() {
                        0 => String::new(),
                        1 => ", 1 warning".to_owned(),
                        n => format!(", {n} warnings"),
                    }
                )
            }
            Err(problems) => {
                for p in problems {
                    errln!("{p}");
                }
                code = exit::INVALID_INPUT;
            }
        }
    }
    code
}
