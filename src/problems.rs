//! Bad input as a value: a problem names its field and the reason, and a collector
//! gathers every problem one pass over an input finds, so that the user sees all of
//! them at once. The leaf every validating module depends on.

/// A bad input: the field (a dotted path such as `market.vol[3]`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// TOML syntax errors, unknown fields and wrong types, with their line and column.
    #[error("{0}")]
    Parse(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// Every problem one pass found, in the order found, one per line.
    #[error("{}", lines(.0))]
    Several(Vec<ScenarioError>),
}

fn lines(problems: &[ScenarioError]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl ScenarioError {
    /// The single problems, flattened (one for a single error).
    pub fn problems(&self) -> Vec<&ScenarioError> {
        match self {
            ScenarioError::Several(list) => list.iter().flat_map(ScenarioError::problems).collect(),
            single => vec![single],
        }
    }
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { field: field.into(), reason: reason.into() }
}

/// Collects problems so that one pass over an input reports all of them: each check
/// that does not block the others records its error and the pass goes on.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ScenarioError>);

impl Problems {
    pub fn push(&mut self, error: ScenarioError) {
        match error {
            ScenarioError::Several(list) => list.into_iter().for_each(|e| self.push(e)),
            single => self.0.push(single),
        }
    }

    /// The value of a check that passed; records the error of one that failed.
    pub fn check<T>(&mut self, result: Result<T, ScenarioError>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems found, for a caller that knows some check failed.
    pub fn into_error(self) -> ScenarioError {
        self.into_result(|| ()).err().unwrap_or_else(|| invalid("input", "failed a check that recorded no reason"))
    }

    /// `value` when nothing was found; else the one problem, or all of them.
    pub fn into_result<T>(mut self, value: impl FnOnce() -> T) -> Result<T, ScenarioError> {
        match self.0.len() {
            0 => Ok(value()),
            1 => Err(self.0.remove(0)),
            _ => Err(ScenarioError::Several(self.0)),
        }
    }
}
