//! Every setting's allowed range, defined once.
//!
//! Each row has two ranges: the engine's (what the core and a command line accept)
//! and the page's (what the lab page accepts: smaller, so that nothing a person can
//! type or put in the URL hash can make the page unresponsive). The engine's checks
//! ([`crate::train::TrainConfig::check`], the chains, β) use the engine column; the
//! page reads the whole table from the engine at start-up (`settingLimits()` in JS)
//! and builds its form, its hash reader and its messages from the page column.

use serde::Serialize;

use crate::error::{RbmError, Result};

/// A closed or half-open interval of allowed values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    /// The minimum itself is not allowed (`min < x`).
    pub min_open: bool,
    /// The maximum itself is not allowed (`x < max`).
    pub max_open: bool,
}

impl Range {
    const fn closed(min: f64, max: f64) -> Range {
        Range {
            min,
            max,
            min_open: false,
            max_open: false,
        }
    }

    const fn open_below(min: f64, max: f64) -> Range {
        Range {
            min_open: true,
            ..Range::closed(min, max)
        }
    }

    const fn open_above(min: f64, max: f64) -> Range {
        Range {
            max_open: true,
            ..Range::closed(min, max)
        }
    }

    pub fn contains(&self, x: f64) -> bool {
        let above = if self.min_open {
            x > self.min
        } else {
            x >= self.min
        };
        let below = if self.max_open {
            x < self.max
        } else {
            x <= self.max
        };
        above && below
    }

    /// The range in words, as error messages state it ("between 1 and 2000").
    pub fn describe(&self) -> String {
        let (lo, hi) = (number(self.min), number(self.max));
        match (self.min_open, self.max_open) {
            (false, false) => format!("between {lo} and {hi}"),
            (true, false) => format!("greater than {lo} and at most {hi}"),
            (false, true) => format!("at least {lo} and below {hi}"),
            (true, true) => format!("greater than {lo} and below {hi}"),
        }
    }
}

/// Shortest decimal form of a limit (1e-5 as 0.00001, 4294967295 in full).
fn number(x: f64) -> String {
    if x == u64::MAX as f64 {
        // The largest u64; its f64 is 2^64, one more.
        return u64::MAX.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e21 {
        format!("{}", x as i128)
    } else {
        format!("{x}")
    }
}

/// One setting: its name (as in the engine's settings and the page's table), whether
/// it takes whole numbers only, and its two ranges.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub id: &'static str,
    pub integer: bool,
    pub engine: Range,
    pub page: Range,
}

const fn int(id: &'static str, engine: Range, page: Range) -> Setting {
    Setting {
        id,
        integer: true,
        engine,
        page,
    }
}

const fn float(id: &'static str, engine: Range, page: Range) -> Setting {
    Setting {
        id,
        integer: false,
        engine,
        page,
    }
}

/// The largest layer the engine accepts (the page allows far fewer hidden units).
pub const MAX_UNITS: usize = 1 << 16;
/// Chains, minibatch rows and persistent chains at most.
pub const MAX_CHAINS: usize = 10_000;
/// Largest side for bars-and-stripes: 2^(side+1) - 2 patterns of side² pixels.
pub const MAX_BARS_AND_STRIPES_SIDE: usize = 12;

/// The table. The README's settings tables state the same numbers; a test reads them.
pub const SETTINGS: &[Setting] = &[
    int(
        "n_hidden",
        Range::closed(1.0, MAX_UNITS as f64),
        Range::closed(1.0, 2000.0),
    ),
    int("k", Range::closed(1.0, 1000.0), Range::closed(1.0, 1000.0)),
    float(
        "learning_rate",
        Range::open_below(0.0, 10.0),
        Range::open_below(0.0, 10.0),
    ),
    float(
        "momentum",
        Range::open_above(0.0, 1.0),
        Range::open_above(0.0, 1.0),
    ),
    float(
        "weight_decay",
        Range::open_above(0.0, 1.0),
        Range::open_above(0.0, 1.0),
    ),
    int(
        "batch_size",
        Range::closed(1.0, MAX_CHAINS as f64),
        Range::closed(1.0, MAX_CHAINS as f64),
    ),
    int(
        "persistent_chains",
        Range::closed(0.0, MAX_CHAINS as f64),
        Range::closed(0.0, MAX_CHAINS as f64),
    ),
    // JS numbers hold whole numbers exactly only up to 2^53; the page keeps to 32 bits.
    int(
        "seed",
        Range::closed(0.0, u64::MAX as f64),
        Range::closed(0.0, u32::MAX as f64),
    ),
    int(
        "epochs",
        Range::closed(1.0, 1e9),
        Range::closed(1.0, 100_000.0),
    ),
    int(
        "chains",
        Range::closed(1.0, MAX_CHAINS as f64),
        Range::closed(1.0, 256.0),
    ),
    float("beta", Range::closed(0.0, 10.0), Range::closed(0.0, 5.0)),
    int(
        "steps_per_frame",
        Range::closed(1.0, 100_000.0),
        Range::closed(1.0, 200.0),
    ),
    // The learning rate's linear decay, and sparsity's target and cost (train.rs).
    int(
        "decay_epochs",
        Range::closed(0.0, 1e9),
        Range::closed(0.0, 100_000.0),
    ),
    float(
        "final_learning_rate",
        Range::open_below(0.0, 10.0),
        Range::open_below(0.0, 10.0),
    ),
    float(
        "sparsity_target",
        Range::open_below(0.0, 1.0),
        Range::open_below(0.0, 1.0),
    ),
    float(
        "sparsity_cost",
        Range::open_above(0.0, 1.0),
        Range::open_above(0.0, 1.0),
    ),
    // Parallel tempering's ladder (`tempering`): inverse temperatures 1 down to beta_min.
    int(
        "temperatures",
        Range::closed(1.0, 100.0),
        Range::closed(1.0, 20.0),
    ),
    float(
        "beta_min",
        Range::open_above(0.0, 1.0),
        Range::open_above(0.0, 1.0),
    ),
    // Annealed importance sampling's runs and intermediate temperatures (`ais`).
    int(
        "ais_runs",
        Range::closed(2.0, 100_000.0),
        Range::closed(2.0, 1000.0),
    ),
    int(
        "ais_temperatures",
        Range::closed(1.0, 1_000_000.0),
        Range::closed(10.0, 20_000.0),
    ),
    int(
        "side",
        Range::closed(1.0, MAX_BARS_AND_STRIPES_SIDE as f64),
        Range::closed(2.0, 8.0),
    ),
    // Rows or columns of the person's own images (CSV, PNG or drawn).
    int(
        "image_side",
        Range::closed(1.0, 4096.0),
        Range::closed(1.0, 64.0),
    ),
    int(
        "draw_side",
        Range::closed(1.0, 4096.0),
        Range::closed(2.0, 16.0),
    ),
    // The critic's trigram model: add-k smoothing, and the sampler's temperature.
    float(
        "smoothing_k",
        Range::open_below(0.0, 1e6),
        Range::closed(0.001, 100.0),
    ),
    float(
        "temperature",
        Range::open_below(0.0, 100.0),
        Range::closed(0.05, 20.0),
    ),
    // The "use the model" panel: chains and steps of a completion, the fraction of
    // pixels a noisy picture flips, the draw pad's brush.
    int(
        "completion_chains",
        Range::closed(1.0, MAX_CHAINS as f64),
        Range::closed(1.0, 64.0),
    ),
    int(
        "completion_steps",
        Range::closed(1.0, 1e6),
        Range::closed(1.0, 5000.0),
    ),
    // At a flip rate of one half a noisy picture says nothing about the clean one.
    float(
        "noise_level",
        Range::closed(0.0, 1.0),
        Range::closed(0.0, 0.4),
    ),
    int("brush", Range::closed(1.0, 64.0), Range::closed(1.0, 4.0)),
    // Workers (shards) one update of a chain algorithm is split over (`shard`).
    int(
        "workers",
        Range::closed(1.0, crate::shard::MAX_SHARDS as f64),
        Range::closed(1.0, crate::shard::MAX_SHARDS as f64),
    ),
];

/// The row for `id`. Every id the engine checks is in the table (a test asserts it).
pub fn setting(id: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.id == id)
}

/// Which column of the table a check uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Engine,
    Page,
}

/// Checks `value` of setting `id` against one column: finite, whole where the setting
/// is an integer, and in range. The error names the setting and the allowed range.
pub fn check(id: &'static str, value: f64, column: Column) -> Result<()> {
    check_shown(id, value, &value, column)
}

/// As [`check`], with the value shown in messages as `shown` (an f32 as typed, say,
/// rather than its f64 widening).
pub fn check_shown(
    id: &'static str,
    value: f64,
    shown: &dyn core::fmt::Display,
    column: Column,
) -> Result<()> {
    let Some(row) = setting(id) else {
        return Err(RbmError::setting(id, shown, "a setting this engine knows"));
    };
    let range = match column {
        Column::Engine => row.engine,
        Column::Page => row.page,
    };
    if !value.is_finite() {
        return Err(RbmError::setting(
            id,
            shown,
            format!("a finite number {}", range.describe()),
        ));
    }
    if row.integer && value.fract() != 0.0 {
        return Err(RbmError::setting(
            id,
            shown,
            format!("a whole number {}", range.describe()),
        ));
    }
    if range.contains(value) {
        Ok(())
    } else {
        Err(RbmError::setting(id, shown, range.describe()))
    }
}

/// [`check`] against the engine's column.
pub fn check_engine(id: &'static str, value: f64) -> Result<()> {
    check(id, value, Column::Engine)
}

/// A whole-number setting that arrived as a JavaScript number, checked against the
/// engine's column and returned as a `usize` (1.7, NaN or -1 are refused, not truncated).
pub fn engine_count(id: &'static str, value: f64) -> Result<usize> {
    check_engine(id, value)?;
    crate::size::from_js_number(value)
        .ok_or_else(|| RbmError::setting(id, value, "a whole number that fits in 32 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_range_lies_inside_the_engine_range() {
        for s in SETTINGS {
            assert!(
                s.page.min >= s.engine.min && s.page.max <= s.engine.max,
                "{}: page {:?} engine {:?}",
                s.id,
                s.page,
                s.engine
            );
            assert!(s.engine.contains(s.page.min) || s.page.min_open, "{}", s.id);
        }
        let mut ids: Vec<&str> = SETTINGS.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SETTINGS.len(), "an id appears twice");
    }

    #[test]
    fn messages_state_the_range() {
        let message = |id, v, c| check(id, v, c).unwrap_err().to_string();
        assert_eq!(
            message("n_hidden", 20_000.0, Column::Page),
            "n_hidden = 20000 is not allowed: between 1 and 2000"
        );
        assert!(check("n_hidden", 20_000.0, Column::Engine).is_ok());
        assert_eq!(
            message("learning_rate", 0.0, Column::Engine),
            "learning_rate = 0 is not allowed: greater than 0 and at most 10"
        );
        assert_eq!(
            message("momentum", 1.0, Column::Engine),
            "momentum = 1 is not allowed: at least 0 and below 1"
        );
        assert!(message("learning_rate", f64::INFINITY, Column::Page).contains("a finite number"));
        assert!(message("beta", f64::NAN, Column::Engine).contains("a finite number"));
        assert!(message("chains", 1.7, Column::Engine).contains("a whole number between 1 and"));
        assert_eq!(
            message("seed", 4_294_967_296.0, Column::Page),
            "seed = 4294967296 is not allowed: between 0 and 4294967295"
        );
        assert!(check("beta", 10.0, Column::Engine).is_ok());
        assert!(check("beta", 5.5, Column::Page).is_err());
        assert!(check("beta", -1.0, Column::Engine).is_err());
        assert!(check("steps_per_frame", 1e8, Column::Page).is_err());
        assert!(check("epochs", 0.0, Column::Page).is_err());
        assert!(check("nonsense", 1.0, Column::Engine).is_err());
    }

    #[test]
    fn counts_from_js_are_whole() {
        assert_eq!(engine_count("chains", 64.0).unwrap(), 64);
        assert!(engine_count("chains", 1.7).is_err());
        assert!(engine_count("chains", f64::NAN).is_err());
        assert!(engine_count("chains", 0.0).is_err());
        assert!(engine_count("chains", 10_001.0).is_err());
    }
}
