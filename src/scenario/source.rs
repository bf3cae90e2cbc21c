//! Where a scenario comes from (the embedded default, a file, TOML text, or data such
//! as a Python dict) and how its problems are reported: every problem one line, each
//! prefixed with the source's name. The command line and the Python package read
//! scenarios here, so both say the same things about the same input.

use std::path::{Path, PathBuf};

use crate::problems::ScenarioError;
use crate::scenario::{Overrides, Plan, Scenario};

/// A scenario before it is read.
#[derive(Debug, Clone)]
pub enum ScenarioSource {
    /// The embedded default scenario.
    Default,
    /// A scenario file; paths in it are relative to its folder.
    File(PathBuf),
    /// TOML text; paths in it are relative to the working directory.
    Toml(String),
    /// The scenario as JSON data (a Python dict, say): the same keys and values as
    /// the TOML file, read by the same reader.
    Json(String),
}

impl ScenarioSource {
    /// The name messages give the source.
    pub fn name(&self) -> String {
        match self {
            ScenarioSource::Default => "default scenario".to_string(),
            ScenarioSource::File(path) => path.display().to_string(),
            ScenarioSource::Toml(_) => "scenario text".to_string(),
            ScenarioSource::Json(_) => "scenario dict".to_string(),
        }
    }

    /// The scenario, its data paths made absolute; or every problem, one per entry,
    /// each prefixed with the source's name.
    pub fn load(&self) -> Result<Scenario, Vec<String>> {
        let source = self.name();
        let (mut scenario, base) = match self {
            ScenarioSource::Default => return Ok(Scenario::default_scenario()),
            ScenarioSource::File(path) => {
                let text = crate::files::read_text_limited(path, crate::files::MAX_TEXT_INPUT)
                    .map_err(|error| vec![format!("{source}: cannot read the scenario: {error}")])?;
                let scenario = Scenario::from_toml(&text).map_err(|error| scenario_problems(&source, &error))?;
                (scenario, path.parent().unwrap_or(Path::new(".")).to_path_buf())
            }
            ScenarioSource::Toml(text) => {
                (Scenario::from_toml(text).map_err(|error| scenario_problems(&source, &error))?, PathBuf::from("."))
            }
            ScenarioSource::Json(json) => (scenario_from_json(json, &source)?, PathBuf::from(".")),
        };
        scenario.resolve_paths(&base);
        Ok(scenario)
    }
}

impl ScenarioSource {
    /// The validated plan of the scenario with `overrides` applied, or every problem,
    /// each prefixed with the source's name.
    pub fn plan(&self, overrides: &Overrides) -> Result<Plan, Vec<String>> {
        let mut scenario = self.load()?;
        scenario.apply(overrides);
        scenario.validate().map_err(|error| scenario_problems(&self.name(), &error))
    }
}

/// Every problem of a scenario, one per entry, each prefixed with where it came from.
pub fn scenario_problems(source: &str, error: &ScenarioError) -> Vec<String> {
    error.problems().iter().map(|problem| format!("{source}: {problem}")).collect()
}

/// JSON data read as the TOML document it stands for, so that unknown keys, wrong
/// types and missing fields get the file's messages (without the line and column,
/// which would point into text the user never wrote).
fn scenario_from_json(json: &str, source: &str) -> Result<Scenario, Vec<String>> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|error| vec![format!("{source}: not scenario data: {error}")])?;
    if !value.is_object() {
        return Err(vec![format!("{source}: a scenario is a table of keys (a dict), not {}", json_kind(&value))]);
    }
    if let Some(key) = first_null(&value, "") {
        return Err(vec![format!("{source}: {key}: None is not a value; leave the key out for its default")]);
    }
    let text = toml::to_string(&value).map_err(|error| vec![format!("{source}: not scenario data: {error}")])?;
    Scenario::from_toml(&text).map_err(|error| {
        scenario_problems(source, &error).into_iter().map(|problem| without_location(&problem)).collect()
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "None",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a dict",
    }
}

/// The key path of the first null in `value` (TOML has no null).
fn first_null(value: &serde_json::Value, at: &str) -> Option<String> {
    let join = |key: &str| if at.is_empty() { key.to_string() } else { format!("{at}.{key}") };
    match value {
        serde_json::Value::Null => Some(at.to_string()),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| first_null(item, &format!("{at}[{index}]")))
        }
        serde_json::Value::Object(entries) => entries.iter().find_map(|(key, item)| first_null(item, &join(key))),
        _ => None,
    }
}

/// "key (line L, column C): reason" as "key: reason", and "line L, column C: reason"
/// as "reason".
fn without_location(problem: &str) -> String {
    if let Some(open) = problem.find(" (line ") {
        if let Some(close) = problem[open..].find("): ") {
            return format!("{}{}", &problem[..open], &problem[open + close + 1..]);
        }
    }
    if let Some(open) = problem.find(": line ") {
        if let Some(close) = problem[open + 2..].find(": ") {
            return format!("{}{}", &problem[..open], &problem[open + 2 + close..]);
        }
    }
    problem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dict_reads_as_its_toml_file_does() {
        let toml = ScenarioSource::Toml(crate::scenario::DEFAULT_SCENARIO.to_string()).load().unwrap();
        let json = serde_json::to_string(&toml).unwrap();
        assert_eq!(ScenarioSource::Json(json).load().unwrap(), toml);
    }

    #[test]
    fn a_bad_dict_names_every_bad_key_without_lines() {
        let json =
            r#"{"paths": 1.5, "market": {"n": 3, "sigmaa": 0.2}, "strategies": [{"name": "e", "weighting": "equal"}]}"#;
        let problems = ScenarioSource::Json(json.into()).load().unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("scenario dict: paths: "), "{problems:?}");
        assert!(problems[1].starts_with("scenario dict: market.sigmaa: "), "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("line ")), "{problems:?}");
        let null = ScenarioSource::Json(r#"{"market": {"n": 3, "mu": null}}"#.into()).load().unwrap_err();
        assert_eq!(null, vec!["scenario dict: market.mu: None is not a value; leave the key out for its default"]);
        let list = ScenarioSource::Json("[1, 2]".into()).load().unwrap_err();
        assert!(list[0].contains("not a list"), "{list:?}");
    }
}
