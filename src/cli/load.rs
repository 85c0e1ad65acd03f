//! Loading a scenario for the CLI: read, parse, validate, and on failure print every problem as
//! `path:line:col: message`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use failover_lab::experiment::estimate::Work;
use failover_lab::experiment::gate::{GateChecks, world_hash};
use failover_lab::experiment::sweep::SweepDefaults;
use failover_lab::experiment::text_hash;
use failover_lab::report::terminal::printable;
use failover_lab::scenario::{
    CompiledScenario, FileRules, MAX_SHOWN_PROBLEMS, Scenario, ScenarioError, diagnose, entity_key,
    more_problems, read_scenario_file,
};

pub struct Loaded {
    pub path: PathBuf,
    pub text: String,
    pub scenario: Scenario,
    pub world: Arc<CompiledScenario>,
    /// `[[expect]]` and `[experiment] tolerance`, resolved.
    pub checks: GateChecks,
    /// `[sweep]`, resolved (empty without one).
    pub sweep: SweepDefaults,
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
    let fail = |e: ScenarioError| -> Vec<String> { printed(path, &text, e) };
    // The gate's checks are resolved by the experiment layer (they name metrics, which the
    // scenario layer does not know); their problems join the scenario's so that an author
    // sees every problem of the file at once.
    let mut scenario = Scenario::parse(&text).map_err(fail)?;
    let compiled = scenario
        .policies
        .load_files(files)
        .into_result()
        .map_err(ScenarioError::from)
        .and_then(|()| scenario.compile_with(files));
    let world = match compiled {
        Ok(world) => world,
        Err(ScenarioError::Invalid(mut problems)) => {
            problems.0.extend(
                GateChecks::from_scenario(&scenario)
                    .err()
                    .unwrap_or_default()
                    .0,
            );
            problems.0.extend(
                SweepDefaults::from_scenario(&scenario)
                    .err()
                    .unwrap_or_default()
                    .0,
            );
            return Err(fail(ScenarioError::Invalid(problems)));
        }
        Err(e) => return Err(fail(e)),
    };
    let (checks, sweep) = match (
        GateChecks::from_scenario(&scenario),
        SweepDefaults::from_scenario(&scenario),
    ) {
        (Ok(c), Ok(s)) => (c, s),
        (c, s) => {
            let mut problems = c.err().unwrap_or_default();
            problems.0.extend(s.err().unwrap_or_default().0);
            return Err(fail(ScenarioError::Invalid(problems)));
        }
    };
    let warnings = if world.warnings.is_empty() {
        Vec::new()
    } else {
        printed(path, &text, ScenarioError::Invalid(world.warnings.clone()))
            .into_iter()
            .map(|d| format!("warning: {d}"))
            .collect()
    };
    let mut world = world;
    world.fingerprint = entity_key(&format!(
        "{}|{}",
        text_hash(&text),
        world_hash(&scenario, base)
    ));
    Ok(Loaded {
        path: path.to_owned(),
        text,
        scenario,
        world: Arc::new(world),
        checks,
        sweep,
        base: base.to_owned(),
        warnings,
    })
}

/// The lines that report `err` (from loading `text`, the contents of `path`): at most
/// [`MAX_SHOWN_PROBLEMS`] located diagnostics, then how many more there are. Only those printed
/// are located, and each is made printable (names from the file may hold escape sequences).
fn printed(path: &Path, text: &str, err: ScenarioError) -> Vec<String> {
    let (err, hidden) = match err {
        ScenarioError::Invalid(mut problems) if problems.len() > MAX_SHOWN_PROBLEMS => {
            let hidden = problems.len() - MAX_SHOWN_PROBLEMS;
            problems.0.truncate(MAX_SHOWN_PROBLEMS);
            (ScenarioError::Invalid(problems), hidden)
        }
        err => (err, 0),
    };
    let mut lines: Vec<String> = diagnose(path, text, &err)
        .into_iter()
        .map(|d| printable(&d.to_string()).into_owned())
        .collect();
    if hidden > 0 {
        lines.push(more_problems(hidden));
    }
    lines
}

/// Loads a scenario file; with `strict_paths` (`--strict-paths`) the files it references must
/// be inside its directory.
pub fn load_file(path: &Path, strict_paths: bool) -> Result<Loaded, Vec<String>> {
    // Read as referenced files are: a FIFO or a device given as the scenario is refused, not
    // waited on, and text that is not UTF-8 is located.
    let text = read_scenario_file(path).map_err(|e| vec![printable(&e).into_owned()])?;
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
