//! Helper for `scripts/check_safetensors.py`, which checks the lab's safetensors files
//! against the real Python `safetensors` package:
//!   safetensors_check write DIR   writes DIR/lab.safetensors and DIR/lab.json (its exact log Z)
//!   safetensors_check read FILE   prints the model's sizes and exact log Z as JSON
use std::process::ExitCode;

use rbm_lab::modelfile::{ModelFile, TrainingInfo};
use rbm_lab::tensorfile::{from_safetensors, to_safetensors};
use rbm_lab::{exact, rng, Rbm, TrainConfig};

fn model() -> Rbm {
    let (m, n) = (6, 4);
    let mut generator = rng::seeded(5);
    let mut draw = |count: usize| {
        (0..count)
            .map(|_| rng::standard_normal(&mut generator) as f32)
            .collect::<Vec<f32>>()
    };
    Rbm::from_parts(m, n, draw(m * n), draw(m), draw(n)).unwrap()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1..).unwrap_or_default() {
        [command, dir] if command == "write" => {
            let file = ModelFile {
                model: model(),
                image_shape: Some((2, 3)),
                training: Some(TrainingInfo {
                    config: Some(TrainConfig {
                        n_hidden: 4,
                        ..TrainConfig::default()
                    }),
                    steps_done: 77,
                }),
            };
            std::fs::write(
                format!("{dir}/lab.safetensors"),
                to_safetensors(&file).unwrap(),
            )
            .unwrap();
            let log_z = exact::log_partition(&file.model, 1.0).unwrap();
            std::fs::write(
                format!("{dir}/lab.json"),
                format!("{{\"log_partition\": {log_z}}}"),
            )
            .unwrap();
            ExitCode::SUCCESS
        }
        [command, path] if command == "read" => {
            match from_safetensors(&std::fs::read(path).unwrap()) {
                Ok(file) => {
                    let log_z = exact::log_partition(&file.model, 1.0).unwrap();
                    println!(
                    "{{\"n_visible\": {}, \"n_hidden\": {}, \"log_partition\": {log_z}, \"image_shape\": {:?}}}",
                    file.model.n_visible(),
                    file.model.n_hidden(),
                    file.image_shape.map(|(r, c)| format!("{r}x{c}")).unwrap_or_default()
                );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("{error}");
                    ExitCode::from(3)
                }
            }
        }
        _ => {
            eprintln!("usage: safetensors_check write DIR | read FILE");
            ExitCode::from(2)
        }
    }
}
