//! Models built on this machine from another catalogue model by a committed script.
//!
//! The scripts live in `models/build/` and are compiled into the binary, so `eiq` needs no
//! checkout. A recipe script takes `--weights-dir` (the `from` model's folder) and `--out` (the one
//! file it writes), then the manifest's `args`, and runs in a venv made from pinned requirements,
//! cached per requirements hash.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::fetch::run_client;

const RECIPE_FILES: &[(&str, &str)] = &[
    ("minilm_onnx_f32.py", include_str!("../build/minilm_onnx_f32.py")),
    ("requirements.txt", include_str!("../build/requirements.txt")),
    ("quantize_int8.py", include_str!("../build/quantize_int8.py")),
    ("requirements-quantize.txt", include_str!("../build/requirements-quantize.txt")),
];

pub(crate) fn recipe_file(name: &str) -> Result<&'static str, String> {
    RECIPE_FILES.iter().find(|(file, _)| *file == name).map(|(_, text)| *text).ok_or_else(|| {
        let known: Vec<&str> = RECIPE_FILES.iter().map(|(file, _)| *file).collect();
        format!("no recipe file `{name}` is built in (known: {})", known.join(", "))
    })
}

/// Runs `script` on `from_dir`, writing `output`.
/// What a recipe reads: the `from` model's folder, and the weights that replace some of its tensors.
pub(crate) struct Inputs<'a> {
    pub weights_dir: &'a Path,
    pub overlay: Option<&'a Path>,
    /// The manifest's extra arguments, passed as they are.
    pub args: &'a [String],
}

pub(crate) fn build(
    python: &str,
    cache_root: &Path,
    scratch: &Path,
    script: &str,
    requirements: &str,
    inputs: &Inputs,
    output: &Path,
) -> Result<(), String> {
    let venv_python = ensure_venv(python, cache_root, recipe_file(requirements)?)?;
    let script_path = scratch.join(script);
    std::fs::write(&script_path, recipe_file(script)?)
        .map_err(|e| format!("writing {}: {e}", script_path.display()))?;
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let mut command = Command::new(&venv_python);
    command.arg(&script_path).arg("--weights-dir").arg(inputs.weights_dir).arg("--out").arg(output);
    if let Some(overlay) = inputs.overlay {
        command.arg("--overlay").arg(overlay);
    }
    command.args(inputs.args);
    run_client(&mut command).map_err(|e| format!("running {script}: {e}"))
}

/// A venv with `requirements` installed, made once per distinct requirements text.
fn ensure_venv(python: &str, cache_root: &Path, requirements: &str) -> Result<PathBuf, String> {
    let digest = hex::encode(Sha256::digest(requirements.as_bytes()));
    let venvs = cache_root.join(".venvs");
    let venv = venvs.join(&digest[..16]);
    let venv_python = venv.join("bin").join("python");
    if venv_python.is_file() {
        return Ok(venv_python);
    }
    std::fs::create_dir_all(&venvs).map_err(|e| format!("creating {}: {e}", venvs.display()))?;
    let staging = tempfile::Builder::new().prefix(".venv-").tempdir_in(&venvs).map_err(|e| e.to_string())?;
    let staged = staging.path().join("venv");
    run_client(Command::new(python).args(["-m", "venv"]).arg(&staged))
        .map_err(|e| format!("`{python} -m venv`: {e}"))?;
    let requirements_path = staging.path().join("requirements.txt");
    std::fs::write(&requirements_path, requirements).map_err(|e| e.to_string())?;
    run_client(
        Command::new(staged.join("bin").join("python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "-r"])
            .arg(&requirements_path),
    )
    .map_err(|e| format!("installing the recipe's requirements: {e}"))?;
    // A concurrent build may have finished first; either copy is complete.
    if std::fs::rename(&staged, &venv).is_err() && !venv_python.is_file() {
        return Err(format!("could not move the venv into {}", venv.display()));
    }
    Ok(venv_python)
}
