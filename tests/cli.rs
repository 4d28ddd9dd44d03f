//! The command line (`src/bin/rbm-lab/`): round trips on small files, the same seed
//! giving the same model file, `--help` for every subcommand, and each kind of bad file
//! or argument getting its message and its documented exit code.
#![cfg(not(target_arch = "wasm32"))] // the command line is native only
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rbm-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rbm-lab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// CD-1 on 3 x 3 bars and stripes, learned well in 1,500 epochs (momentum and decay
/// spelled out: they are the library's defaults too, which one test relies on).
const BARS_CD: &[&str] = &[
    "--data",
    "bars:3",
    "--hidden",
    "8",
    "--algorithm",
    "cd",
    "--lr",
    "0.1",
    "--batch",
    "7",
    "--momentum",
    "0.5",
    "--weight-decay",
    "0.0001",
    "--epochs",
    "1500",
];

fn train_bars(out: &Path, seed: &str) -> Output {
    lab(&[
        &["train"],
        BARS_CD,
        &["--seed", seed, "--out", out.to_str().unwrap()],
    ]
    .concat())
}

#[test]
fn help_explains_every_subcommand_and_its_defaults() {
    let top = lab(&["--help"]);
    assert!(top.status.success());
    for word in [
        "train",
        "eval",
        "sample",
        "complete",
        "denoise",
        "data",
        "convert",
        "--threads",
        "Exit codes",
    ] {
        assert!(text(&top.stdout).contains(word), "{word}");
    }
    for (sub, words) in [
        (
            "train",
            &[
                "--data",
                "--hidden",
                "[default: 100]",
                "--centring",
                "--decay-epochs",
                "tempering",
                "--preset",
                "best20",
                "--dry-run",
                "--threads",
            ][..],
        ),
        ("complete", &["--hide", "[default: top]", "--image"][..]),
        ("denoise", &["--noise", "[default: 0.1]"][..]),
        ("data", &["mnist:test", "--out"][..]),
        ("eval", &["--ais-runs", "[default: 100]", "--json"][..]),
        ("sample", &["--chains", "[default: 64]", "--steps"][..]),
        ("convert", &["safetensors"][..]),
    ] {
        let help = lab(&[sub, "--help"]);
        assert!(help.status.success(), "{sub}");
        for word in words {
            assert!(
                text(&help.stdout).contains(word),
                "{sub} --help lacks {word}"
            );
        }
    }
}

#[test]
fn train_eval_convert_and_sample_round_trip() {
    let model = scratch("bars.json");
    let run = train_bars(&model, "3");
    assert!(run.status.success(), "{}", text(&run.stderr));
    // The same seed (and thread count: one) gives the same bits.
    let again = scratch("bars-again.json");
    assert!(train_bars(&again, "3").status.success());
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&again).unwrap()
    );
    assert_ne!(std::fs::read(&model).unwrap(), {
        let other = scratch("bars-other.json");
        train_bars(&other, "4");
        std::fs::read(other).unwrap()
    });

    let eval = lab(&[
        "eval",
        model.to_str().unwrap(),
        "bars:3",
        "--json",
        "--ais-temperatures",
        "500",
    ]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let exact = report["log_likelihood_exact"].as_f64().unwrap();
    let ais = report["log_likelihood_ais"].as_f64().unwrap();
    let error = report["log_likelihood_ais_standard_error"]
        .as_f64()
        .unwrap();
    // Learning happened (uniform over 512 pictures is -6.24), and AIS agrees within 3σ.
    assert!(exact > -4.5, "{report}");
    assert!((ais - exact).abs() <= 3.0 * error + 1e-3, "{report}");
    assert!(report["pseudo_log_likelihood"].as_f64().unwrap() < 0.0);

    // JSON -> safetensors -> JSON, bit for bit.
    let tensors = scratch("bars.safetensors");
    let back = scratch("bars-back.json");
    assert!(lab(&[
        "convert",
        model.to_str().unwrap(),
        tensors.to_str().unwrap()
    ])
    .status
    .success());
    assert!(
        lab(&["convert", tensors.to_str().unwrap(), back.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&back).unwrap()
    );

    let picture = scratch("samples.png");
    let out = lab(&[
        "sample",
        tensors.to_str().unwrap(),
        "--out",
        picture.to_str().unwrap(),
        "--chains",
        "9",
        "--steps",
        "50",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = std::fs::read(&picture).unwrap();
    assert_eq!(&png[..8], &[137, 80, 78, 71, 13, 10, 26, 10]);
    // 3 x 3 chains of 3 x 3 pictures with a pixel of gap, each pixel 2 x 2: 26 x 26.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 26);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 26);
}

#[test]
fn bad_files_and_arguments_get_their_message_and_exit_code() {
    let check = |args: &[&str], code: i32, expect: &str| {
        let out = lab(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expect),
            "{args:?}: expected `{expect}` in {}",
            text(&out.stderr)
        );
    };
    let missing = scratch("missing.json");
    check(
        &["eval", missing.to_str().unwrap(), "bars:3"],
        3,
        "No such file",
    );
    let garbage = scratch("garbage.json");
    std::fs::write(&garbage, "{\"format\": \"x\"}").unwrap();
    check(&["eval", garbage.to_str().unwrap(), "bars:3"], 3, "format");
    let garbage_tensors = scratch("garbage.safetensors");
    std::fs::write(&garbage_tensors, b"not safetensors").unwrap();
    check(
        &[
            "convert",
            garbage_tensors.to_str().unwrap(),
            scratch("x.json").to_str().unwrap(),
        ],
        3,
        "cannot be read",
    );
    let model = scratch("for-errors.json");
    assert!(train_bars(&model, "1").status.success());
    check(
        &["eval", model.to_str().unwrap(), "bars:4"],
        3,
        "9 visible units but the data has 16 pixels",
    );
    check(
        &["eval", model.to_str().unwrap(), "some.csv"],
        2,
        "needs --rows and --cols",
    );
    let csv = scratch("bad.csv");
    std::fs::write(&csv, "0,1,0\n1,1\n").unwrap();
    check(
        &[
            "eval",
            model.to_str().unwrap(),
            csv.to_str().unwrap(),
            "--rows",
            "1",
            "--cols",
            "3",
        ],
        3,
        "line 2",
    );
    check(
        &[
            "train",
            "--data",
            "bars:3",
            "--out",
            scratch("y.json").to_str().unwrap(),
            "--hidden",
            "0",
        ],
        2,
        "n_hidden = 0",
    );
    check(
        &[
            "train",
            "--data",
            "bars:3",
            "--out",
            scratch("y.json").to_str().unwrap(),
            "--algorithm",
            "magic",
        ],
        2,
        "invalid value 'magic'",
    );
    check(
        &[
            "train",
            "--data",
            "bars:x",
            "--out",
            scratch("y.json").to_str().unwrap(),
        ],
        2,
        "bars:SIDE",
    );
    check(&["frobnicate"], 2, "unrecognized subcommand");
    check(
        &[
            "sample",
            model.to_str().unwrap(),
            "--out",
            "/nonexistent-dir/x.png",
            "--steps",
            "1",
        ],
        1,
        "nonexistent-dir",
    );
}

#[test]
fn complete_and_denoise_a_picture_and_write_the_strip() {
    let model = scratch("for-pictures.json");
    assert!(train_bars(&model, "2").status.success());
    let strip = scratch("complete.png");
    let out = lab(&[
        "complete",
        model.to_str().unwrap(),
        "--data",
        "bars:3",
        "--index",
        "5",
        "--hide",
        "left",
        "--out",
        strip.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let wrong: f64 = said
        .trim()
        .trim_end_matches(" %")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=100.0).contains(&wrong), "{said}");
    let png = std::fs::read(&strip).unwrap();
    // Three 3 x 3 pictures with a pixel of gap, 4 x 4 screen pixels a pixel: 52 x 20.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 52);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 20);
    let out = lab(&[
        "denoise",
        model.to_str().unwrap(),
        "--data",
        "bars:3",
        "--index",
        "5",
        "--noise",
        "0.2",
        "--out",
        scratch("denoise.png").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("pixels wrong: "),
        "{}",
        text(&out.stdout)
    );
    let not_png = scratch("not.png");
    std::fs::write(&not_png, b"plain text").unwrap();
    let out = lab(&[
        "complete",
        model.to_str().unwrap(),
        "--image",
        not_png.to_str().unwrap(),
        "--out",
        strip.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = lab(&[
        "denoise",
        model.to_str().unwrap(),
        "--data",
        "bars:3",
        "--index",
        "99",
        "--out",
        strip.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--index 99 is past the 14 pictures"));
}

/// Writes an RGBA PNG of `rows` x `cols` pixels, `colour(i)` giving pixel i.
fn write_rgba_png(path: &Path, rows: usize, cols: usize, colour: impl Fn(usize) -> [u8; 4]) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut encoder = png::Encoder::new(file, cols as u32, rows as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let bytes: Vec<u8> = (0..rows * cols).flat_map(&colour).collect();
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&bytes)
        .unwrap();
}

#[test]
fn a_folder_of_pngs_is_thresholded_as_the_page_does_and_trains_like_the_same_csv() {
    let bars = rbm_lab::data::bars_and_stripes(3).unwrap();
    let folder = scratch("bars-pngs");
    std::fs::create_dir_all(&folder).unwrap();
    // Pure blue is dark (luma 29 of 255): on. Pure green is light (luma 150): off, though
    // the plain mean of its channels (85) is dark. A transparent black pixel is off.
    for r in 0..bars.len() {
        let row = bars.images.row(r);
        write_rgba_png(&folder.join(format!("{r:02}.png")), 3, 3, |i| {
            if row[i] == 1.0 {
                [0, 0, 255, 255]
            } else if i == 4 {
                [0, 0, 0, 0]
            } else {
                [0, 255, 0, 255]
            }
        });
    }
    std::fs::write(folder.join("notes.txt"), "skipped: not a PNG").unwrap();
    let from_folder = scratch("from-folder.json");
    let from_builtin = scratch("from-builtin.json");
    let train = |data: &str, out: &Path| {
        let run = lab(&[
            "train",
            "--data",
            data,
            "--hidden",
            "8",
            "--algorithm",
            "cd",
            "--lr",
            "0.1",
            "--batch",
            "7",
            "--epochs",
            "50",
            "--seed",
            "5",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
    };
    train(folder.to_str().unwrap(), &from_folder);
    train("bars:3", &from_builtin);
    // Same pixels in the same order (files by name) give the same model, bit for bit.
    assert_eq!(
        std::fs::read(&from_folder).unwrap(),
        std::fs::read(&from_builtin).unwrap()
    );

    // A picture of another size is named, with the size it should have.
    write_rgba_png(&folder.join("99.png"), 4, 3, |_| [0, 0, 0, 255]);
    let out = lab(&[
        "train",
        "--data",
        folder.to_str().unwrap(),
        "--out",
        from_folder.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("99.png is 4 rows x 3 columns but")
            && text(&out.stderr).contains("00.png is 3 x 3"),
        "{}",
        text(&out.stderr)
    );
    let empty = scratch("no-pngs");
    std::fs::create_dir_all(&empty).unwrap();
    let out = lab(&[
        "eval",
        from_builtin.to_str().unwrap(),
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no .png files"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_same_seed_gives_the_same_model_file_for_any_thread_count() {
    if !Path::new("www/data/mnist.bin").exists() {
        panic!("www/data/mnist.bin is missing: ./lab test builds it");
    }
    // MNIST at 100 hidden units: each product is large enough to be split over threads.
    let train = |threads: &str| {
        let out = scratch(&format!("threads-{threads}.safetensors"));
        let run = lab(&[
            "train",
            "--data",
            "mnist",
            "--hidden",
            "100",
            "--epochs",
            "1",
            "--centring",
            "--threads",
            threads,
            "--seed",
            "8",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        std::fs::read(out).unwrap()
    };
    let one = train("1");
    assert_eq!(one, train("1"));
    assert_eq!(one, train("2"));
    assert_eq!(one, train("3"));
    let out = lab(&[
        "train",
        "--data",
        "bars:3",
        "--threads",
        "0",
        "--out",
        "x.json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn presets_are_the_pages_presets_and_options_given_win() {
    // The page's presets, resolved as the page does (each over its data set's defaults).
    let script = r#"
        const s = await import(new URL('www/settings.js', 'file://' + process.cwd() + '/'));
        console.log(JSON.stringify(s.PRESETS.map(p => s.withDefaults({ ...s.DEFAULTS[p.values.data], ...p.values }))));
    "#;
    let node = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .output()
        .expect("node (./lab test installs it)");
    assert!(node.status.success(), "{}", text(&node.stderr));
    let page: Vec<serde_json::Value> = serde_json::from_slice(&node.stdout).unwrap();
    let names = [
        "quick-digits",
        "theano-tutorial",
        "sklearn-defaults",
        "hinton",
        "best20",
        "bars-and-stripes",
    ];
    assert_eq!(
        page.len(),
        names.len(),
        "a preset was added to one side only"
    );
    for (name, want) in names.iter().zip(&page) {
        let run = lab(&["train", "--preset", name, "--dry-run"]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let plan: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let data = match want["data"].as_str().unwrap() {
            "bars" => format!("bars:{}", want["side"]),
            other => other.to_string(),
        };
        assert_eq!(plan["data"], data.as_str(), "{name}");
        assert_eq!(plan["epochs"], want["epochs"], "{name}");
        let config = &plan["config"];
        for field in [
            "n_hidden",
            "algorithm",
            "k",
            "learning_rate",
            "momentum",
            "weight_decay",
            "batch_size",
            "persistent_chains",
            "temperatures",
            "beta_min",
            "decay_epochs",
            "final_learning_rate",
            "sparsity_cost",
            "sparsity_target",
        ] {
            // Numbers compare as numbers (the engine writes 0.0 where JavaScript has 0).
            match (config[field].as_f64(), want[field].as_f64()) {
                (Some(ours), Some(page)) => assert_eq!(ours, page, "{name}: {field}"),
                _ => assert_eq!(config[field], want[field], "{name}: {field}"),
            }
        }
        assert_eq!(
            config["centring"],
            want["centring"] == "on",
            "{name}: centring"
        );
    }
    // An option given on the command line beats the preset's value.
    let run = lab(&["train", "--preset", "best20", "--hidden", "30", "--dry-run"]);
    let plan: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(plan["config"]["n_hidden"], 30);
    assert_eq!(plan["config"]["centring"], true);
    let run = lab(&["train", "--out", "x.json"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("--data"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn a_data_set_is_written_as_csv_and_reads_back_the_same() {
    let csv = scratch("bars4.csv");
    let out = lab(&["data", "bars:4", "--out", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&csv).unwrap();
    let read = rbm_lab::data::parse_csv(&written, 4, 4).unwrap();
    assert_eq!(
        read.images,
        rbm_lab::data::bars_and_stripes(4).unwrap().images
    );
    assert!(written.starts_with("# 30 images of 4 x 4 pixels"));
}

/// Trains with `args` (plus `--portable` when asked) into a scratch file and reads the model.
fn trained(name: &str, args: &[&str], portable: bool) -> rbm_lab::Rbm {
    let out = scratch(name);
    let mut all = vec!["train"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    if portable {
        all.push("--portable");
    }
    let run = lab(&all);
    assert!(run.status.success(), "{}", text(&run.stderr));
    rbm_lab::modelfile::from_json(&std::fs::read_to_string(out).unwrap())
        .unwrap()
        .model
}

#[test]
fn portable_gives_the_engines_own_bits_and_fast_maths_stays_within_rounding() {
    // The library trains with the portable kernel, whose bits tests/determinism.rs pins
    // and the browser shares; `--portable` must give exactly those.
    let set = rbm_lab::data::bars_and_stripes(3).unwrap();
    let config = rbm_lab::TrainConfig {
        n_hidden: 8,
        algorithm: rbm_lab::Algorithm::Cd,
        learning_rate: 0.1,
        batch_size: 7,
        momentum: 0.5,
        weight_decay: 1e-4,
        seed: 6,
        ..rbm_lab::TrainConfig::default()
    };
    let mut trainer = rbm_lab::Trainer::new(config, &set.images).unwrap();
    for _ in 0..1500 * trainer.steps_per_epoch() {
        trainer.step(&|| 0.0).unwrap();
    }
    let train = |portable: bool| {
        trained(
            &format!("portable-{portable}.json"),
            &[BARS_CD, &["--chains", "0", "--seed", "6"]].concat(),
            portable,
        )
    };
    assert_eq!(&train(true), trainer.model());
    // The fast kernels round differently. A sample drawn as u < p flips when u falls
    // between the two roundings of p, after which the runs part ways, so the check is
    // on what was learned: exact log-likelihoods on the 14 pictures within 1 nat (the
    // uniform model scores -6.24, the best possible -2.64).
    let fast = train(false);
    let ll = |model| rbm_lab::exact::mean_log_likelihood(model, &set.images).unwrap();
    let (fast_ll, portable_ll) = (ll(&fast), ll(trainer.model()));
    eprintln!("exact log-likelihood: fast {fast_ll:.3}, portable {portable_ll:.3}");
    assert!(
        (fast_ll - portable_ll).abs() < 1.0,
        "{fast_ll} vs {portable_ll}"
    );
    assert!(fast_ll > -4.5, "{fast_ll}");
}

#[test]
fn the_exact_gradient_with_fast_maths_follows_the_portable_run() {
    // The exact gradient draws no samples, so the fast kernels' run stays within
    // rounding of the portable one (sampled runs part ways; see the test above).
    let train = |portable: bool| {
        trained(
            &format!("exact-{portable}.json"),
            &[
                "--data",
                "bars:3",
                "--hidden",
                "6",
                "--algorithm",
                "exact",
                "--lr",
                "0.1",
                "--batch",
                "14",
                "--epochs",
                "1500",
                "--seed",
                "2",
            ],
            portable,
        )
    };
    let (fast, portable) = (train(false), train(true));
    let largest = fast
        .weights()
        .iter()
        .zip(portable.weights())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // 1,500 deterministic updates leave weights of size up to about 6 (log-likelihood
    // -3.66 of a best -2.64): rounding differences stay far below 1e-2.
    assert!(largest < 1e-2, "weights differ by {largest}");
    assert!(
        portable.weights().iter().any(|w| w.abs() > 3.0),
        "nothing was learned"
    );
}
