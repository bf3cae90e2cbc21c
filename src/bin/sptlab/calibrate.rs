//! `sptlab calibrate`: a scenario fitted to daily data, printed or written to --out.

use anyhow::Context;

use sptlab::calibrate::{CalibrationModel, CalibrationOptions};

use crate::args::{CalibrateArgs, CalibrationModelChoice};
use crate::checks::output_file_problem;
use crate::failure::{note, out, Failure};

pub fn calibrate(args: CalibrateArgs) -> Result<(), Failure> {
    let options = CalibrationOptions {
        model: match args.model {
            CalibrationModelChoice::Gbm => CalibrationModel::Gbm,
            CalibrationModelChoice::FirstOrder => CalibrationModel::FirstOrder,
        },
        window_years: args.window,
        shrinkage: args.shrinkage,
    };
    if let Some(problem) = args.out.as_deref().and_then(|out| output_file_problem("--out", out)) {
        return Err(Failure::BadInput(problem));
    }
    let calibration =
        sptlab::calibrate::calibrate(&args.data, &options).map_err(|error| Failure::BadInput(error.to_string()))?;
    match &args.out {
        Some(out) => {
            sptlab::files::write_atomically(out, calibration.scenario_text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            note!("{}", calibration.summary);
            note!("wrote {}", out.display());
        }
        None => {
            out!("{}", calibration.scenario_text);
            note!("{}", calibration.summary);
        }
    }
    Ok(())
}
