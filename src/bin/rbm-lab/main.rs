//! `rbm-lab`: the lab's engine on the command line (native only).
//!
//! Exit codes: 0 done; 2 a bad argument (from clap: an unknown option, a value out of
//! its range); 3 a file that cannot be read or used (a model, a data set); 4 training
//! diverged (the last good model is still written); 1 anything else (a file that cannot
//! be written).

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod presets;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use clap::parser::ValueSource;
    use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

    use crate::presets::{preset, PresetArg};
    use indicatif::{ProgressBar, ProgressStyle};
    use rbm_lab::ais::{self, AisConfig};
    use rbm_lab::modelfile::{self, ModelFile, TrainingInfo};
    use rbm_lab::{
        data, exact, monitor, rng, tensorfile, Algorithm, GibbsChains, Matrix, RbmError,
        TrainConfig, Trainer,
    };

    /// A failure and the exit code it gets.
    struct Failure(u8, String);

    fn usage(message: impl Into<String>) -> Failure {
        Failure(2, message.into())
    }
    fn bad_file(message: impl Into<String>) -> Failure {
        Failure(3, message.into())
    }

    #[derive(Parser)]
    #[command(
        name = "rbm-lab",
        version,
        about = "Train, evaluate, sample and convert Restricted Boltzmann Machines with the RBM Lab engine.",
        after_help = "Exit codes: 0 done; 2 a bad argument; 3 a file that cannot be read or used; 4 training diverged; 1 anything else."
    )]
    struct Cli {
        /// Threads for the matrix products (default: every core). The results are the
        /// same to the bit for any count.
        #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
        /// The browser's arithmetic: the portable kernel, whose bits are the same on every
        /// machine and in the page. Without it, dense products (greyscale data,
        /// probabilities) use AVX2/AVX-512 fused multiply-add kernels picked at run time,
        /// equal to rounding (results then depend on the CPU, not on the thread count).
        /// Products with 0/1 states are summed by rows either way, with the page's bits.
        #[arg(long, global = true)]
        portable: bool,
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Train a model on a data set and write it (JSON, or safetensors for a .safetensors name).
        Train(TrainArgs),
        /// Evaluate a model on a data set: exact log-likelihood when affordable, AIS, pseudo-log-likelihood.
        Eval(EvalArgs),
        /// Draw samples from a model's Gibbs chains as a PNG grid.
        Sample(SampleArgs),
        /// Fill in the hidden half of a picture (clamped Gibbs chains or mean-field) and write a PNG.
        Complete(CompleteArgs),
        /// Flip a fraction of a picture's pixels, clean it with the model, and write a PNG.
        Denoise(DenoiseArgs),
        /// Write a data set as CSV, one 0/1 image per line (for other tools: MNIST's fixed split, say).
        Data {
            /// The data: `mnist` (the 9,000 training digits), `mnist:test` (the 1,000 held out), `bars:SIDE`, a folder of PNG images, or a CSV file.
            data: String,
            #[command(flatten)]
            source: DataArgs,
            /// Where to write the CSV (its first line, a comment, gives the image shape).
            #[arg(long)]
            out: PathBuf,
        },
        /// Convert a model between the JSON model file and safetensors (by the files' extensions).
        Convert {
            /// The model to read (.json or .safetensors).
            input: PathBuf,
            /// The model to write (.json or .safetensors).
            output: PathBuf,
        },
    }

    #[derive(clap::Args)]
    struct DataArgs {
        /// Image rows of a CSV data set (one 0/1 image per line).
        #[arg(long)]
        rows: Option<u64>,
        /// Image columns of a CSV data set.
        #[arg(long)]
        cols: Option<u64>,
        /// The packed MNIST asset (built by ./lab serve or ./lab test).
        #[arg(long, default_value = "www/data/mnist.bin")]
        mnist: PathBuf,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum AlgorithmArg {
        Cd,
        Pcd,
        Gibbs,
        Exact,
        Tempering,
    }

    #[derive(clap::Args)]
    struct TrainArgs {
        /// Start from one of the page's presets: its data, epochs and settings (options
        /// given here still win; the seed is not part of a preset).
        #[arg(long, value_enum)]
        preset: Option<PresetArg>,
        /// The data: `mnist` (its 9,000 training digits), `bars:SIDE` (bars and stripes), a folder of PNG images (dark pixels are on), or a CSV file (with --rows and --cols). Needed unless --preset names it.
        #[arg(long)]
        data: Option<String>,
        #[command(flatten)]
        source: DataArgs,
        /// Where to write the model (.json or .safetensors).
        #[arg(long, required_unless_present = "dry_run")]
        out: Option<PathBuf>,
        /// Print the data, epochs and settings that would be used, as JSON, and stop.
        #[arg(long)]
        dry_run: bool,
        /// Split each update as the page's Workers setting does (same seed, settings
        /// and workers: the page's bits, with --portable); 1 keeps the unsplit update.
        /// Only as many as the update's work pays for are used.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        workers: u16,
        /// Hidden units.
        #[arg(long, default_value_t = 100)]
        hidden: usize,
        /// How the gradient's model term is estimated.
        #[arg(long, value_enum, default_value = "pcd")]
        algorithm: AlgorithmArg,
        /// Gibbs steps (or tempering sweeps) per update.
        #[arg(long, default_value_t = 1)]
        k: usize,
        /// Learning rate.
        #[arg(long, default_value_t = 0.01)]
        lr: f32,
        /// Momentum.
        #[arg(long, default_value_t = 0.5)]
        momentum: f32,
        /// Weight decay.
        #[arg(long, default_value_t = 1e-4)]
        weight_decay: f32,
        /// Examples per update.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Persistent chains for pcd and tempering (0: one per batch row).
        #[arg(long, default_value_t = 100)]
        chains: usize,
        /// Tempering: inverse temperatures from 1 down to --beta-min.
        #[arg(long, default_value_t = 4)]
        temperatures: usize,
        /// Tempering: the hottest chains' inverse temperature.
        #[arg(long, default_value_t = 0.5)]
        beta_min: f32,
        /// Epochs over which the rate falls linearly to --final-lr (0: constant).
        #[arg(long, default_value_t = 0)]
        decay_epochs: usize,
        /// Where the decaying rate ends.
        #[arg(long, default_value_t = 0.001)]
        final_lr: f32,
        /// Centred gradients (Melchior et al., 2016).
        #[arg(long)]
        centring: bool,
        /// Sparsity cost (0: off) and target.
        #[arg(long, default_value_t = 0.0)]
        sparsity_cost: f32,
        #[arg(long, default_value_t = 0.1)]
        sparsity_target: f32,
        /// Passes through the training set.
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        /// Seeds the initial weights, the minibatch order and every sample.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    }

    #[derive(clap::Args)]
    struct EvalArgs {
        /// The model (.json or .safetensors).
        model: PathBuf,
        /// The data: `mnist` (the 1,000 held-out digits), `mnist:train`, `bars:SIDE`, a folder of PNG images, or a CSV file.
        data: String,
        #[command(flatten)]
        source: DataArgs,
        /// AIS runs (when the exact log-likelihood is out of reach).
        #[arg(long, default_value_t = 100)]
        ais_runs: usize,
        /// AIS intermediate distributions.
        #[arg(long, default_value_t = 2000)]
        ais_temperatures: usize,
        /// Seeds AIS and the stochastic pseudo-log-likelihood.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    }

    #[derive(clap::Args)]
    struct PictureArgs {
        /// The model (.json or .safetensors).
        model: PathBuf,
        /// A PNG picture of the model's size (dark opaque pixels are on) ...
        #[arg(long, conflicts_with = "data")]
        image: Option<PathBuf>,
        /// ... or a picture of a data set (`mnist` means the held-out digits, `bars:SIDE`, a folder of PNGs, or a CSV with --rows/--cols) ...
        #[arg(long)]
        data: Option<String>,
        /// ... at this index.
        #[arg(long, default_value_t = 0)]
        index: usize,
        #[command(flatten)]
        source: DataArgs,
        /// Where to write the PNG: the input, the result and the original side by side.
        #[arg(long)]
        out: PathBuf,
        /// Seeds the chains (and the noise).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum HalfArg {
        Top,
        Bottom,
        Left,
        Right,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum CompleteMethod {
        Gibbs,
        Meanfield,
    }

    #[derive(clap::Args)]
    struct CompleteArgs {
        #[command(flatten)]
        picture: PictureArgs,
        /// The half the model must fill in.
        #[arg(long, value_enum, default_value = "top")]
        hide: HalfArg,
        /// Clamped Gibbs chains (averaged) or mean-field updates.
        #[arg(long, value_enum, default_value = "gibbs")]
        method: CompleteMethod,
        /// Chains for gibbs.
        #[arg(long, default_value_t = 10)]
        chains: usize,
        /// Gibbs steps (or mean-field updates).
        #[arg(long, default_value_t = 200)]
        steps: usize,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum CleanMethod {
        Meanfield,
        Anneal,
    }

    #[derive(clap::Args)]
    struct DenoiseArgs {
        #[command(flatten)]
        picture: PictureArgs,
        /// The fraction of pixels flipped before cleaning (the cleaner knows it).
        #[arg(long, default_value_t = 0.1)]
        noise: f64,
        /// Mean-field updates, or annealed Gibbs chains.
        #[arg(long, value_enum, default_value = "meanfield")]
        method: CleanMethod,
    }

    #[derive(clap::Args)]
    struct SampleArgs {
        /// The model (.json or .safetensors).
        model: PathBuf,
        /// Where to write the PNG grid.
        #[arg(long)]
        out: PathBuf,
        /// Chains (pictures in the grid).
        #[arg(long, default_value_t = 64)]
        chains: usize,
        /// Gibbs steps from uniform noise.
        #[arg(long, default_value_t = 1000)]
        steps: usize,
        /// Inverse temperature of the chains.
        #[arg(long, default_value_t = 1.0)]
        beta: f32,
        /// Seeds the chains.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    }

    fn engine_error(error: RbmError) -> Failure {
        match error {
            RbmError::InvalidSetting { .. } => usage(error.to_string()),
            RbmError::Diverged { .. } => Failure(4, error.to_string()),
            _ => bad_file(error.to_string()),
        }
    }

    fn is_safetensors(path: &Path) -> bool {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
    }

    fn read_model(path: &Path) -> Result<ModelFile, Failure> {
        let bytes =
            std::fs::read(path).map_err(|e| bad_file(format!("{}: {e}", path.display())))?;
        let file = if is_safetensors(path) {
            tensorfile::from_safetensors(&bytes)
        } else {
            let text = String::from_utf8(bytes).map_err(|_| {
                bad_file(format!(
                    "{}: not UTF-8 text (a JSON model file)",
                    path.display()
                ))
            })?;
            modelfile::from_json(&text)
        };
        file.map_err(|e| bad_file(format!("{}: {e}", path.display())))
    }

    fn write_model(path: &Path, file: &ModelFile) -> Result<(), Failure> {
        let bytes = if is_safetensors(path) {
            tensorfile::to_safetensors(file).map_err(engine_error)?
        } else {
            modelfile::to_json(file).map_err(engine_error)?.into_bytes()
        };
        std::fs::write(path, bytes).map_err(|e| Failure(1, format!("{}: {e}", path.display())))
    }

    /// A data set named on the command line; `held_out` picks MNIST's held-out digits.
    fn read_data(spec: &str, source: &DataArgs, held_out: bool) -> Result<data::Dataset, Failure> {
        if let Some(side) = spec.strip_prefix("bars:") {
            let side: usize = side
                .parse()
                .map_err(|_| usage(format!("bars:SIDE needs a whole number, not `{side}`")))?;
            return data::bars_and_stripes(side).map_err(engine_error);
        }
        if spec == "mnist" || spec == "mnist:train" || spec == "mnist:test" {
            let bytes = std::fs::read(&source.mnist).map_err(|e| {
                bad_file(format!(
                    "{}: {e} (./lab serve or ./lab test builds it)",
                    source.mnist.display()
                ))
            })?;
            let (train, test) = data::mnist_split(&bytes).map_err(engine_error)?;
            let test_part = spec == "mnist:test" || (spec == "mnist" && held_out);
            return Ok(if test_part { test } else { train });
        }
        if Path::new(spec).is_dir() {
            return read_png_folder(Path::new(spec));
        }
        let (Some(rows), Some(cols)) = (source.rows, source.cols) else {
            return Err(usage(format!("`{spec}` is read as a CSV file, which needs --rows and --cols (or use mnist or bars:SIDE)")));
        };
        let text = std::fs::read_to_string(spec).map_err(|e| bad_file(format!("{spec}: {e}")))?;
        data::parse_csv(&text, rows, cols).map_err(|e| bad_file(format!("{spec}: {e}")))
    }

    fn train(mut args: TrainArgs, matches: &ArgMatches) -> Result<(), Failure> {
        let algorithm = match args.algorithm {
            AlgorithmArg::Cd => Algorithm::Cd,
            AlgorithmArg::Pcd => Algorithm::Pcd,
            AlgorithmArg::Gibbs => Algorithm::Gibbs,
            AlgorithmArg::Exact => Algorithm::Exact,
            AlgorithmArg::Tempering => Algorithm::Tempering,
        };
        let mut config = TrainConfig {
            n_hidden: args.hidden,
            algorithm,
            k: args.k,
            learning_rate: args.lr,
            momentum: args.momentum,
            weight_decay: args.weight_decay,
            batch_size: args.batch,
            persistent_chains: args.chains,
            temperatures: args.temperatures,
            beta_min: args.beta_min,
            decay_epochs: args.decay_epochs,
            final_learning_rate: args.final_lr,
            sparsity_target: args.sparsity_target,
            sparsity_cost: args.sparsity_cost,
            centring: args.centring,
            seed: args.seed,
        };
        if let Some(which) = args.preset {
            let chosen = preset(which);
            // Each option not given on the command line takes the preset's value.
            let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
            let p = &chosen.config;
            macro_rules! take {
                ($($id:literal => $field:ident),* $(,)?) => {
                    $(if !given($id) { config.$field = p.$field.clone(); })*
                };
            }
            take!(
                "hidden" => n_hidden, "algorithm" => algorithm, "k" => k, "lr" => learning_rate,
                "momentum" => momentum, "weight_decay" => weight_decay, "batch" => batch_size,
                "chains" => persistent_chains, "temperatures" => temperatures,
                "beta_min" => beta_min, "decay_epochs" => decay_epochs,
                "final_lr" => final_learning_rate, "sparsity_cost" => sparsity_cost,
                "sparsity_target" => sparsity_target, "centring" => centring,
            );
            if !given("epochs") {
                args.epochs = chosen.epochs;
            }
            if args.data.is_none() {
                args.data = Some(chosen.data.to_string());
            }
            eprintln!(
                "preset {}: data {}, {} epochs",
                chosen.name,
                args.data.as_deref().unwrap_or_default(),
                args.epochs
            );
        }
        let Some(spec) = args.data.as_deref() else {
            return Err(usage("give the data with --data (or a --preset)"));
        };
        if args.dry_run {
            // Serialised straight from the config, so f32 values print as they are written.
            println!(
                "{{\"data\":{},\"epochs\":{},\"config\":{}}}",
                serde_json::to_string(spec).expect("a string"),
                args.epochs,
                serde_json::to_string(&config).expect("a config")
            );
            return Ok(());
        }
        let out = args
            .out
            .as_deref()
            .expect("clap requires --out without --dry-run");
        let set = read_data(spec, &args.source, false)?;
        config.batch_size = config.batch_size.min(set.len());
        let mut trainer = Trainer::new(config.clone(), &set.images).map_err(engine_error)?;
        trainer
            .set_workers(usize::from(args.workers), false)
            .map_err(engine_error)?;
        let updates = (args.epochs as u64).saturating_mul(trainer.steps_per_epoch() as u64);
        let bar = ProgressBar::new(updates);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} updates, {elapsed} ({eta} left) {msg}",
            )
            .expect("a valid template"),
        );
        let mut failure = None;
        for _ in 0..updates {
            match trainer.step(&|| 0.0) {
                Ok(stats) => {
                    if stats.step % 50 == 0 {
                        bar.set_message(format!(
                            "reconstruction error {:.4}",
                            stats.reconstruction_error
                        ));
                    }
                    bar.inc(1);
                }
                Err(error) => {
                    failure = Some(engine_error(error));
                    break;
                }
            }
        }
        bar.finish_and_clear();
        let file = ModelFile {
            model: trainer.model().clone(),
            image_shape: Some(set.image_shape),
            training: Some(TrainingInfo {
                config: Some(config),
                steps_done: trainer.steps_done(),
            }),
        };
        write_model(out, &file)?;
        eprintln!(
            "wrote {} after {} updates",
            out.display(),
            trainer.steps_done()
        );
        failure.map_or(Ok(()), Err)
    }

    fn export_data(spec: &str, source: &DataArgs, out: &Path) -> Result<(), Failure> {
        use std::io::Write;
        let set = read_data(spec, source, false)?;
        let (rows, cols) = set.image_shape;
        let failed = |e: std::io::Error| Failure(1, format!("{}: {e}", out.display()));
        let mut file = std::io::BufWriter::new(std::fs::File::create(out).map_err(failed)?);
        writeln!(
            file,
            "# {} images of {rows} x {cols} pixels from {spec}",
            set.len()
        )
        .map_err(failed)?;
        let mut line = String::new();
        for r in 0..set.len() {
            line.clear();
            for (i, &v) in set.images.row(r).iter().enumerate() {
                line.push_str(if i == 0 { "" } else { "," });
                line.push(if v > 0.5 { '1' } else { '0' });
            }
            writeln!(file, "{line}").map_err(failed)?;
        }
        file.flush().map_err(failed)?;
        eprintln!(
            "wrote {} images of {rows} x {cols} pixels to {}",
            set.len(),
            out.display()
        );
        Ok(())
    }

    fn eval(args: EvalArgs) -> Result<(), Failure> {
        let file = read_model(&args.model)?;
        let model = &file.model;
        let set = read_data(&args.data, &args.source, true)?;
        if set.images.cols() != model.n_visible() {
            return Err(bad_file(format!(
                "the model has {} visible units but the data has {} pixels",
                model.n_visible(),
                set.images.cols()
            )));
        }
        let exact_log_z = (monitor::enumeration_cost(model) <= monitor::EXACT_BUDGET * 64.0
            && model.n_visible().min(model.n_hidden()) <= exact::MAX_ENUMERATED_UNITS)
            .then(|| exact::log_partition(model, 1.0))
            .transpose()
            .map_err(engine_error)?;
        let mean_free_energy = model
            .mean_free_energy(&set.images, 1.0)
            .map_err(engine_error)?;
        let exact_ll = exact_log_z.map(|log_z| -mean_free_energy - log_z);
        // AIS starts from the base rate of the data it is given.
        let estimate = ais::estimate_log_partition(
            model,
            &set.images,
            AisConfig {
                runs: args.ais_runs,
                temperatures: args.ais_temperatures,
                seed: args.seed,
            },
        )
        .map_err(engine_error)?;
        // The same free energies as the exact figure, with AIS's log Z.
        let (ais_ll, ais_error) = (
            -mean_free_energy - estimate.log_partition,
            estimate.standard_error,
        );
        let pseudo =
            monitor::pseudo_log_likelihood_exact(model, &set.images).map_err(engine_error)?;
        let mut generator = rng::seeded(args.seed);
        let pseudo_stochastic = monitor::pseudo_log_likelihood(model, &set.images, &mut generator)
            .map_err(engine_error)?;
        if args.json {
            let report = serde_json::json!({
                "images": set.len(),
                "log_likelihood_exact": exact_ll,
                "log_likelihood_ais": ais_ll,
                "log_likelihood_ais_standard_error": ais_error,
                "log_partition_ais": estimate.log_partition,
                "log_partition_exact": exact_log_z,
                "mean_free_energy": mean_free_energy,
                "ais_runs": estimate.runs,
                "ais_temperatures": estimate.temperatures,
                "pseudo_log_likelihood": pseudo,
                "pseudo_log_likelihood_stochastic": pseudo_stochastic,
            });
            println!("{report}");
        } else {
            println!(
                "{} images, {} x {} model",
                set.len(),
                model.n_visible(),
                model.n_hidden()
            );
            match exact_ll {
                Some(ll) => println!("exact log-likelihood      {ll:.4} nats per image"),
                None => println!("exact log-likelihood      out of reach (the smaller layer is too large to enumerate)"),
            }
            println!(
                "AIS log-likelihood        {ais_ll:.4} ± {ais_error:.4} ({} runs, {} temperatures)",
                estimate.runs, estimate.temperatures
            );
            println!("pseudo-log-likelihood     {pseudo:.4} (every unit), {pseudo_stochastic:.4} (one random unit per image)");
        }
        Ok(())
    }

    fn sample(args: SampleArgs) -> Result<(), Failure> {
        rbm_lab::limits::check_engine("chains", args.chains as f64).map_err(engine_error)?;
        rbm_lab::limits::check_engine("beta", f64::from(args.beta)).map_err(engine_error)?;
        let file = read_model(&args.model)?;
        let model = &file.model;
        let (rows, cols) = shape_of(&file);
        let mut generator = rng::seeded(args.seed);
        let mut chains = GibbsChains::random(model, args.chains, &mut generator);
        let bar = ProgressBar::new(args.steps as u64);
        for _ in 0..args.steps {
            chains.run(model, 1, args.beta, &mut generator);
            bar.inc(1);
        }
        bar.finish_and_clear();
        // A grid of p(v | h) pictures, a pixel of gap between them, 2 x 2 pixels a unit.
        let across = (args.chains as f64).sqrt().ceil() as usize;
        let down = args.chains.div_ceil(across);
        let scale = 2;
        let (width, height) = (
            (across * (cols + 1) + 1) * scale,
            (down * (rows + 1) + 1) * scale,
        );
        let mut pixels = vec![64u8; width * height];
        let picture: &Matrix = &chains.visible_prob;
        for c in 0..args.chains {
            let (gx, gy) = ((c % across) * (cols + 1) + 1, (c / across) * (rows + 1) + 1);
            for (i, &p) in picture.row(c).iter().enumerate() {
                let (x, y) = (gx + i % cols, gy + i / cols);
                for dy in 0..scale {
                    for dx in 0..scale {
                        pixels[(y * scale + dy) * width + x * scale + dx] =
                            (p.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                }
            }
        }
        write_grey_png(&args.out, &pixels, width, height)?;
        eprintln!(
            "wrote {} ({} chains after {} steps, {width} x {height} pixels)",
            args.out.display(),
            args.chains,
            args.steps
        );
        Ok(())
    }

    /// A model, one picture for it (0/1 pixels) and the picture's rows and columns.
    type Picture = (ModelFile, Vec<f32>, (usize, usize));

    /// The picture to work on, with the model and its image shape.
    fn picture(args: &PictureArgs) -> Result<Picture, Failure> {
        let file = read_model(&args.model)?;
        let m = file.model.n_visible();
        let pixels = match (&args.image, &args.data) {
            (Some(path), _) => read_png(path)?.0,
            (None, Some(spec)) => {
                let set = read_data(spec, &args.source, true)?;
                if args.index >= set.len() {
                    return Err(usage(format!(
                        "--index {} is past the {} pictures of {spec}",
                        args.index,
                        set.len()
                    )));
                }
                set.images.row(args.index).to_vec()
            }
            (None, None) => {
                return Err(usage(
                    "give the picture with --image FILE.png or --data DATA --index N",
                ))
            }
        };
        if pixels.len() != m {
            return Err(bad_file(format!(
                "the picture has {} pixels but the model has {m} visible units",
                pixels.len()
            )));
        }
        let shape = shape_of(&file);
        Ok((file, pixels, shape))
    }

    /// The model's image shape, else a square when the pixel count is one, else a row.
    fn shape_of(file: &ModelFile) -> (usize, usize) {
        let m = file.model.n_visible();
        file.image_shape.unwrap_or_else(|| {
            let side = (m as f64).sqrt() as usize;
            if side * side == m {
                (side, side)
            } else {
                (1, m)
            }
        })
    }

    /// A PNG's pixels as 0/1, and its rows and columns. As on the page, a pixel is on
    /// when it is darker than mid-grey (luma 0.299 R + 0.587 G + 0.114 B below ½) and
    /// not transparent (alpha at least ½).
    fn read_png(path: &Path) -> Result<(Vec<f32>, usize, usize), Failure> {
        let failed = |e: String| bad_file(format!("{}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| failed(e.to_string()))?;
        let info = reader.info();
        if info.width > 4096 || info.height > 4096 {
            return Err(failed(format!(
                "{} x {} pixels is larger than 4096 x 4096",
                info.width, info.height
            )));
        }
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| failed("too large".into()))?;
        let mut buffer = vec![0u8; size];
        let frame = reader
            .next_frame(&mut buffer)
            .map_err(|e| failed(e.to_string()))?;
        let channels = frame.color_type.samples();
        // Luma in thousandths of a level: 1000 x (0.299 R + 0.587 G + 0.114 B).
        let luma = |p: &[u8]| 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
        let pixels = buffer[..frame.buffer_size()]
            .chunks_exact(channels)
            .map(|px| {
                let (luma, alpha) = match channels {
                    1 => (1000 * u32::from(px[0]), 255),
                    2 => (1000 * u32::from(px[0]), px[1]),
                    3 => (luma(px), 255),
                    _ => (luma(px), px[3]),
                };
                // Below half of 255 levels, as the page's (luma / 255) < 0.5.
                f32::from(2 * luma < 255_000 && alpha >= 128)
            })
            .collect();
        Ok((pixels, frame.height as usize, frame.width as usize))
    }

    /// Most PNG images read from a folder (as on the page).
    const MAX_PNG_FILES: usize = 10_000;

    /// Every `.png` in a folder, by file name, thresholded as [`read_png`] does; they must
    /// share one size. Other files are skipped.
    fn read_png_folder(dir: &Path) -> Result<data::Dataset, Failure> {
        let failed = |e: String| bad_file(format!("{}: {e}", dir.display()));
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| failed(e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
            .collect();
        if paths.is_empty() {
            return Err(failed("no .png files in this folder".into()));
        }
        if paths.len() > MAX_PNG_FILES {
            return Err(failed(format!(
                "{} PNG files are more than {MAX_PNG_FILES}",
                paths.len()
            )));
        }
        paths.sort();
        let mut values = Vec::new();
        let mut shape = None;
        for path in &paths {
            let (pixels, rows, cols) = read_png(path)?;
            match shape {
                None => {
                    if pixels.len() > rbm_lab::limits::MAX_UNITS {
                        return Err(bad_file(format!(
                            "{}: {rows} x {cols} pixels are more than the {} visible units a model may have",
                            path.display(),
                            rbm_lab::limits::MAX_UNITS
                        )));
                    }
                    shape = Some((rows, cols, path));
                }
                Some((r, c, first)) if (r, c) != (rows, cols) => {
                    return Err(bad_file(format!(
                        "{} is {rows} rows x {cols} columns but {} is {r} x {c}; all images must share one size",
                        path.display(),
                        first.display()
                    )));
                }
                Some(_) => {}
            }
            if values.len() + pixels.len() > data::MAX_DATASET_VALUES {
                return Err(failed(format!(
                    "more than {} pixel values; use fewer or smaller images",
                    data::MAX_DATASET_VALUES
                )));
            }
            values.extend(pixels);
        }
        let (rows, cols, _) = shape.expect("at least one image");
        let count = paths.len();
        Ok(data::Dataset {
            images: Matrix::from_vec(count, rows * cols, values).expect("whole images"),
            labels: None,
            image_shape: (rows, cols),
        })
    }

    /// Pictures side by side (values 0 to 1, NaN drawn mid-grey), 4 x 4 screen pixels a pixel.
    fn write_strip(
        path: &Path,
        pictures: &[Vec<f32>],
        (rows, cols): (usize, usize),
    ) -> Result<(), Failure> {
        let scale = 4;
        let width = (pictures.len() * (cols + 1) + 1) * scale;
        let height = (rows + 2) * scale;
        let mut pixels = vec![64u8; width * height];
        for (k, picture) in pictures.iter().enumerate() {
            for (i, &p) in picture.iter().enumerate() {
                let shade = if p.is_nan() {
                    128
                } else {
                    (p.clamp(0.0, 1.0) * 255.0).round() as u8
                };
                let (x, y) = (k * (cols + 1) + 1 + i % cols, 1 + i / cols);
                for dy in 0..scale {
                    for dx in 0..scale {
                        pixels[(y * scale + dy) * width + x * scale + dx] = shade;
                    }
                }
            }
        }
        write_grey_png(path, &pixels, width, height)
    }

    fn write_grey_png(
        path: &Path,
        pixels: &[u8],
        width: usize,
        height: usize,
    ) -> Result<(), Failure> {
        let write = |e: String| Failure(1, format!("{}: {e}", path.display()));
        let out = std::fs::File::create(path).map_err(|e| write(e.to_string()))?;
        let mut encoder =
            png::Encoder::new(std::io::BufWriter::new(out), width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .map_err(|e| write(e.to_string()))?
            .write_image_data(pixels)
            .map_err(|e| write(e.to_string()))
    }

    fn complete(args: CompleteArgs) -> Result<(), Failure> {
        use rbm_lab::inference::{self, Completion, Half};
        let (file, original, (rows, cols)) = picture(&args.picture)?;
        let half = match args.hide {
            HalfArg::Top => Half::Top,
            HalfArg::Bottom => Half::Bottom,
            HalfArg::Left => Half::Left,
            HalfArg::Right => Half::Right,
        };
        let known = inference::half_mask(rows, cols, half);
        let estimate = match args.method {
            CompleteMethod::Meanfield => {
                inference::mean_field(&file.model, &original, &known, args.steps)
                    .map_err(engine_error)?
            }
            CompleteMethod::Gibbs => {
                let mut generator = rng::seeded(args.picture.seed);
                let image = Matrix::from_vec(1, original.len(), original.clone()).expect("one row");
                let mut completion = Completion::new(
                    &file.model,
                    &image,
                    &known,
                    args.chains,
                    args.steps / 4,
                    &mut generator,
                )
                .map_err(engine_error)?;
                completion
                    .run(&file.model, args.steps, 1.0, &mut generator)
                    .map_err(engine_error)?;
                completion.mean().row(0).to_vec()
            }
        };
        let hidden: Vec<bool> = known.iter().map(|k| !k).collect();
        let error = inference::pixel_error(&estimate, &original, Some(&hidden));
        let shown: Vec<f32> = original
            .iter()
            .zip(&known)
            .map(|(&v, &k)| if k { v } else { f32::NAN })
            .collect();
        write_strip(
            &args.picture.out,
            &[shown, estimate, original],
            (rows, cols),
        )?;
        println!(
            "hidden pixels wrong after thresholding at 1/2: {:.1} %",
            100.0 * error
        );
        Ok(())
    }

    fn denoise(args: DenoiseArgs) -> Result<(), Failure> {
        use rbm_lab::inference::{self, Denoise};
        let (file, original, shape) = picture(&args.picture)?;
        let mut generator = rng::seeded(args.picture.seed);
        let noisy =
            inference::flip_pixels(&original, args.noise, &mut generator).map_err(engine_error)?;
        let method = match args.method {
            CleanMethod::Meanfield => Denoise::MeanField { iterations: 50 },
            CleanMethod::Anneal => Denoise::Annealed {
                chains: 10,
                steps: 200,
                final_beta: 3.0,
            },
        };
        let cleaned = inference::denoise(&file.model, &noisy, args.noise, method, &mut generator)
            .map_err(engine_error)?;
        let before = inference::pixel_error(&noisy, &original, None);
        let after = inference::pixel_error(&cleaned, &original, None);
        write_strip(&args.picture.out, &[noisy, cleaned, original], shape)?;
        println!(
            "pixels wrong: {:.1} % noisy, {:.1} % cleaned",
            100.0 * before,
            100.0 * after
        );
        Ok(())
    }

    pub fn main() -> ExitCode {
        let matches = Cli::command().get_matches();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rbm_lab::linalg::set_threads(cli.threads.map_or(cores, usize::from));
        rbm_lab::linalg::set_fast_maths(!cli.portable);
        let result = match cli.command {
            Command::Train(args) => train(
                args,
                matches
                    .subcommand_matches("train")
                    .expect("the train subcommand"),
            ),
            Command::Data { data, source, out } => export_data(&data, &source, &out),
            Command::Eval(args) => eval(args),
            Command::Sample(args) => sample(args),
            Command::Complete(args) => complete(args),
            Command::Denoise(args) => denoise(args),
            Command::Convert { input, output } => {
                read_model(&input).and_then(|file| write_model(&output, &file))
            }
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure(code, message)) => {
                eprintln!("rbm-lab: {message}");
                ExitCode::from(code)
            }
        }
    }
}
