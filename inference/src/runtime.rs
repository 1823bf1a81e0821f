//! ONNX Runtime itself: the shared library (loaded once per process, from the path the
//! settings give — never downloaded), the environment, which execution providers this
//! machine offers, and building sessions for a model spec.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider as _};
use ort::session::Session;

use crate::error::StartupError;
use crate::provider::{self, ExecutionProvider};
use crate::registry::ModelSpec;

#[derive(Clone)]
pub struct OrtRuntime {
    env: Environment,
    available: Vec<ExecutionProvider>,
}

impl std::fmt::Debug for OrtRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtRuntime")
            .field("available", &self.available)
            .finish_non_exhaustive()
    }
}

impl OrtRuntime {
    /// Loads the library and creates the environment. A missing file is a clear error
    /// rather than ort's panic on first use. ONNX Runtime allows one environment per
    /// process, so later calls share the first one (and its library).
    pub fn load(library: &Path) -> Result<Self, StartupError> {
        if !library.is_file() {
            return Err(StartupError::LibraryMissing(library.to_owned()));
        }
        static LOADED: Mutex<Option<OrtRuntime>> = Mutex::new(None);
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(runtime) = loaded.as_ref() {
            return Ok(runtime.clone());
        }
        let runtime = Self::create(library)?;
        *loaded = Some(runtime.clone());
        Ok(runtime)
    }

    fn create(library: &Path) -> Result<Self, StartupError> {
        let failed = |reason: String| StartupError::Library {
            path: library.to_owned(),
            reason,
        };
        let env = ort::init_from(library)
            .map_err(|e| failed(e.to_string()))?
            .with_name("medrt")
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let mut available = vec![ExecutionProvider::Cpu];
        if ep::CUDA::is_available().unwrap_or(false) {
            available.push(ExecutionProvider::Cuda);
        }
        if ep::TensorRT::is_available().unwrap_or(false) {
            available.push(ExecutionProvider::Tensorrt);
        }
        Ok(Self { env, available })
    }

    pub fn available(&self) -> &[ExecutionProvider] {
        &self.available
    }

    /// The provider `spec` will run on here: its own, or the CPU when it allows the
    /// fallback; otherwise an error naming what the machine has.
    pub fn provider_for(&self, spec: &ModelSpec) -> Result<ExecutionProvider, StartupError> {
        provider::select(spec.provider, &self.available, spec.fallback_cpu).map_err(|source| {
            StartupError::Provider {
                model: spec.name.clone(),
                source,
            }
        })
    }

    /// A session for one worker (sessions are not shared: running one needs `&mut`).
    pub fn session(
        &self,
        spec: &ModelSpec,
        provider: ExecutionProvider,
    ) -> Result<Session, StartupError> {
        let failed = |reason: String| StartupError::Session {
            model: spec.name.clone(),
            reason,
        };
        let builder = Session::builder(&self.env)
            .map_err(|e| failed(e.to_string()))?
            .with_intra_threads(spec.intra_threads)
            .map_err(|e| failed(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| failed(e.to_string()))?
            .with_intra_op_spinning(spec.intra_op_spinning)
            .map_err(|e| failed(e.to_string()))?
            // Spin within a run, not between runs: idle spinning threads would take the
            // CPU from the callers preparing the next batch.
            .with_config_entry("session.force_spinning_stop", "1")
            .map_err(|e| failed(e.to_string()))?;
        let mut builder = match provider {
            ExecutionProvider::Cpu => builder,
            ExecutionProvider::Cuda => builder
                .with_execution_providers([ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| failed(e.to_string()))?,
            ExecutionProvider::Tensorrt => builder
                .with_execution_providers([
                    ep::TensorRT::default().build().error_on_failure(),
                    ep::CUDA::default().build().error_on_failure(),
                ])
                .map_err(|e| failed(e.to_string()))?,
        };
        builder
            .commit_from_file(&spec.file)
            .map_err(|e| failed(e.to_string()))
    }
}
