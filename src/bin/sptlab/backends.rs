//! The backend a run's options ask for (the choosing is `sptlab::engine::choice`, shared
//! with the Python package): notes on stderr unless --quiet, bad input sorted from
//! other failures.

use sptlab::engine::choice::{BackendOptions, ChoiceError};
use sptlab::engine::Backend;

use crate::config::RunConfig;
use crate::failure::{note, Failure};

/// A note on stderr, unless the run is quiet.
pub fn notes(config: &RunConfig) -> impl FnMut(String) + '_ {
    move |line: String| {
        if !config.quiet {
            note!("{line}");
        }
    }
}

/// The backend of `config` (see `BackendOptions::choose`).
pub fn choose_backend(config: &RunConfig) -> Result<Box<dyn Backend>, Failure> {
    config.backend_options().choose(&mut notes(config)).map_err(|error| match error {
        ChoiceError::F64OnGpu(error) => Failure::BadInput(error.to_string()),
        error @ ChoiceError::NoGpu(_) => Failure::Other(error.into()),
    })
}

impl RunConfig {
    pub fn backend_options(&self) -> BackendOptions {
        BackendOptions {
            request: self.backend,
            precision: self.precision,
            threads: self.threads,
            batch_paths: self.batch_paths,
            cancel: None,
        }
    }
}
