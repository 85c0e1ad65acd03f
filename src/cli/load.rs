//! Loading a scenario for the CLI: read, parse, validate, and on failure print every problem as
//! `path:line:col: message`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use failover_lab::experiment::estimate::Work;
use failover_lab::experiment::gate::GateChecks;
use failover_lab::scenario::{
    CompiledScenario, FileRules, Problems, Scenario, ScenarioError, diagnose,
};

pub struct Loaded {
    pub path: PathBuf,
    pub text: String,
    pub scenario: Scenario,
    pub world: Arc<CompiledScenario>,
    /// `[[expect]]` and `[experiment] tolerance`, resolved.
    pub checks: GateChecks,
    /// The directory relative references resolve against.
    pub base: PathBuf,
    /// Policy warnings, located like errors (`warning: file:line:col: field: message`).
    pub warnings: Vec<String>,
}

/// Loads `text` as if read from `path` (relative references resolve against `base`; with
/// `strict_paths` they must stay inside it).
pub fn load_text(
    path: &Path,
    text: String,
    base: &Path,
    strict_paths: bool,
) -> Result<Loaded, Vec<String>> {
    let files = FileRules {
        base_dir: base,
        strict_paths,
    };
    let fail = |e: ScenarioError| -> Vec<String> {
        diagnose(path, &text, &e)
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    };
    // The gate's checks are resolved by the experiment layer (they name metrics, which the
    // scenario layer does not know); their problems join the scenario's so that an author
    // sees every problem of the file at once.
    let checks_of = |s: &Scenario| GateChecks::from_scenario(s).err().unwrap_or_default();
    let scenario = match Scenario::from_toml_str_with(&text, files) {
        Ok(s) => s,
        Err(ScenarioError::Invalid(mut problems)) => {
            if let Ok(raw) = toml::from_str::<Scenario>(&text) {
                problems.0.extend(checks_of(&raw).0);
            }
            return Err(fail(ScenarioError::Invalid(problems)));
        }
        Err(e) => return Err(fail(e)),
    };
    let checks = GateChecks::from_scenario(&scenario)
        .map_err(|p: Problems| fail(ScenarioError::Invalid(p)))?;
    let world = scenario.compile_with(files).map_err(fail)?;
    let warnings = if world.warnings.is_empty() {
        Vec::new()
    } else {
        diagnose(path, &text, &ScenarioError::Invalid(world.warnings.clone()))
            .into_iter()
            .map(|d| format!("warning: {d}"))
            .collect()
    };
    Ok(Loaded {
        path: path.to_owned(),
        text,
        scenario,
        world: Arc::new(world),
        checks,
        base: base.to_owned(),
        warnings,
    })
}

/// Loads a scenario file; with `strict_paths` (`--strict-paths`) the files it references must
/// be inside its directory.
pub fn load_file(path: &Path, strict_paths: bool) -> Result<Loaded, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
    let base = path.parent().unwrap_or(Path::new("."));
    load_text(path, text, base, strict_paths)
}

/// Refuses a scenario whose estimated work is above the documented limits (README, "Limits"),
/// unless `--allow-large`: one line per reason, naming the file. `runs` is how many runs the
/// command will make.
pub fn check_work(loaded: &Loaded, runs: usize, allow_large: bool) -> Result<(), Vec<String>> {
    if allow_large {
        return Ok(());
    }
    let over = Work::of(&loaded.world).over_limits(runs);
    if over.is_empty() {
        return Ok(());
    }
    Err(over
        .into_iter()
        .map(|why| {
            format!(
                "{}: refused: {why}; pass --allow-large to run it anyway",
                loaded.path.display()
            )
        })
        .collect())
}
