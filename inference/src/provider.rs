//! Execution providers. A GPU provider that is configured but unavailable is an error,
//! never a silent switch to the CPU, unless the model allows it (`fallback_cpu`).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "execution provider {wanted} is not available on this machine (available: {available}); set fallback_cpu = true to run on the CPU instead"
    )]
    Unavailable {
        wanted: ExecutionProvider,
        available: String,
    },
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::Tensorrt => "tensorrt",
        })
    }
}

/// The provider a model will run on, given what the machine offers. The CPU is always
/// available.
pub fn select(
    wanted: ExecutionProvider,
    available: &[ExecutionProvider],
    fallback_cpu: bool,
) -> Result<ExecutionProvider, ProviderError> {
    if wanted == ExecutionProvider::Cpu || available.contains(&wanted) {
        return Ok(wanted);
    }
    if fallback_cpu {
        return Ok(ExecutionProvider::Cpu);
    }
    let mut names: Vec<String> = available.iter().map(ToString::to_string).collect();
    if !available.contains(&ExecutionProvider::Cpu) {
        names.insert(0, "cpu".into());
    }
    Err(ProviderError::Unavailable {
        wanted,
        available: names.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutionProvider::*;

    #[test]
    fn cpu_is_always_there() {
        assert_eq!(select(Cpu, &[], false), Ok(Cpu));
    }

    #[test]
    fn a_missing_gpu_is_an_error_unless_fallback_is_allowed() {
        let err = select(Cuda, &[Cpu], false).unwrap_err();
        assert!(err.to_string().contains("fallback_cpu"), "{err}");
        assert_eq!(select(Cuda, &[Cpu], true), Ok(Cpu));
        assert_eq!(
            select(Tensorrt, &[Cpu, Cuda, Tensorrt], false),
            Ok(Tensorrt)
        );
    }
}
