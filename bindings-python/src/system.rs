//! The native `VmSystem`: one method per core operation, each converting its arguments,
//! calling the core without the GIL and converting the result.

use std::path::PathBuf;
use std::sync::RwLock;

use pyo3::prelude::*;
use vm_system::{OpenOptions, SessionStatus};

use crate::{blocking, convert, error, event};

/// A handle on a core `VmSystem`; `None` once closed.
#[pyclass(frozen, module = "vm_system._native")]
pub(crate) struct VmSystem {
    inner: RwLock<Option<vm_system::VmSystem>>,
}

impl VmSystem {
    /// The core handle, or a `ValidationError` once closed or in a `fork()` child.
    fn vm(&self, py: Python<'_>) -> PyResult<vm_system::VmSystem> {
        let vm = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                vm_system::Error::Validation("this VmSystem is closed; open a new one".into())
            });
        error::map(py, vm.and_then(|vm| vm.check_process().map(|()| vm)))
    }

    /// Runs a core call that does not execute JavaScript (storage only) without the GIL.
    fn call<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(&vm_system::VmSystem) -> vm_system::Result<T> + Send,
    {
        let vm = self.vm(py)?;
        let result = py.detach(|| f(&vm));
        error::map(py, result)
    }
}

#[pymethods]
impl VmSystem {
    #[new]
    #[pyo3(signature = (path=None, library_cache=None))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        library_cache: Option<PathBuf>,
    ) -> PyResult<Self> {
        let options = OpenOptions {
            library_cache,
            ..OpenOptions::default()
        };
        let result = py.detach(|| match path {
            Some(path) => vm_system::VmSystem::open_with(path, options),
            None => vm_system::VmSystem::open_in_memory_with(options),
        });
        Ok(VmSystem {
            inner: RwLock::new(Some(error::map(py, result)?)),
        })
    }

    fn close(&self, py: Python<'_>) {
        let vm = self.inner.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(vm) = vm {
            py.detach(move || {
                vm.close();
                drop(vm);
            });
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    fn library_cache(&self, py: Python<'_>) -> PyResult<PathBuf> {
        Ok(self.vm(py)?.library_cache().to_path_buf())
    }

    // ---- templates ----

    fn create_template<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        engine: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.call(py, |vm| vm.create_template(name, engine))?;
        convert::record(py, &t)
    }

    fn get_template<'py>(&self, py: Python<'py>, template_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let t = self.call(py, |vm| vm.get_template(template_id))?;
        convert::record(py, &t)
    }

    fn list_templates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.call(py, |vm| vm.list_templates())?;
        convert::record(py, &t)
    }

    fn delete_template(&self, py: Python<'_>, template_id: &str) -> PyResult<()> {
        self.call(py, |vm| vm.delete_template(template_id))
    }

    #[pyo3(signature = (template_id, patch_json))]
    fn update_settings<'py>(
        &self,
        py: Python<'py>,
        template_id: &str,
        patch_json: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.call(py, |vm| {
            vm.update_settings(template_id, &convert::parse_json(Some(patch_json))?)
        })?;
        convert::record(py, &s)
    }

    fn add_startup_file<'py>(
        &self,
        py: Python<'py>,
        template_id: &str,
        path: &str,
        order_index: i64,
        mode: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let f = self.call(py, |vm| {
            vm.add_startup_file(template_id, path, order_index, mode)
        })?;
        convert::record(py, &f)
    }

    fn list_startup_files<'py>(
        &self,
        py: Python<'py>,
        template_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let f = self.call(py, |vm| vm.list_startup_files(template_id))?;
        convert::record(py, &f)
    }

    fn remove_startup_file(&self, py: Python<'_>, template_id: &str, path: &str) -> PyResult<()> {
        self.call(py, |vm| vm.remove_startup_file(template_id, path))
    }

    #[pyo3(signature = (template_id, kind, name, enabled, config_json=None))]
    fn add_capability<'py>(
        &self,
        py: Python<'py>,
        template_id: &str,
        kind: &str,
        name: &str,
        enabled: bool,
        config_json: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.call(py, |vm| {
            let config = match convert::parse_json(config_json)? {
                serde_json::Value::Null => serde_json::json!({}),
                config => config,
            };
            vm.add_capability(template_id, kind, name, enabled, &config)
        })?;
        convert::record(py, &c)
    }

    fn list_capabilities<'py>(
        &self,
        py: Python<'py>,
        template_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.call(py, |vm| vm.list_capabilities(template_id))?;
        convert::record(py, &c)
    }

    fn add_module(&self, py: Python<'_>, template_id: &str, name: &str) -> PyResult<()> {
        self.call(py, |vm| vm.add_module(template_id, name))
    }

    fn remove_module(&self, py: Python<'_>, template_id: &str, name: &str) -> PyResult<()> {
        self.call(py, |vm| vm.remove_module(template_id, name))
    }

    fn list_modules(&self, py: Python<'_>, template_id: &str) -> PyResult<Vec<String>> {
        self.call(py, |vm| vm.list_modules(template_id))
    }

    fn available_modules<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = self.vm(py)?.available_modules();
        convert::record(py, &m)
    }

    fn add_library(&self, py: Python<'_>, template_id: &str, name: &str) -> PyResult<()> {
        self.call(py, |vm| vm.add_library(template_id, name))
    }

    fn remove_library(&self, py: Python<'_>, template_id: &str, name: &str) -> PyResult<()> {
        self.call(py, |vm| vm.remove_library(template_id, name))
    }

    fn list_libraries(&self, py: Python<'_>, template_id: &str) -> PyResult<Vec<String>> {
        self.call(py, |vm| vm.list_libraries(template_id))
    }

    fn available_libraries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let l = self.vm(py)?.available_libraries();
        convert::record(py, &l)
    }

    #[pyo3(signature = (name, from_file=None))]
    fn install_library<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        from_file: Option<PathBuf>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let l = self.call(py, |vm| vm.install_library(name, from_file.as_deref()))?;
        convert::record(py, &l)
    }

    fn installed_libraries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let l = self.call(py, |vm| vm.installed_libraries())?;
        convert::record(py, &l)
    }

    // ---- sessions ----

    #[pyo3(signature = (template_id, workspace_id, base_commit_oid, worktree_path, on_event=None))]
    fn create_session<'py>(
        &self,
        py: Python<'py>,
        template_id: String,
        workspace_id: String,
        base_commit_oid: String,
        worktree_path: String,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let vm = self.vm(py)?;
        let watcher = event::watcher(on_event);
        let s = blocking::run(py, &vm, move |vm| {
            vm.create_session_watched(
                &template_id,
                &workspace_id,
                &base_commit_oid,
                &worktree_path,
                watcher,
            )
        })?;
        convert::record(py, &s)
    }

    fn get_session<'py>(&self, py: Python<'py>, session_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let s = self.call(py, |vm| vm.get_session(session_id))?;
        convert::record(py, &s)
    }

    #[pyo3(signature = (status=None))]
    fn list_sessions<'py>(
        &self,
        py: Python<'py>,
        status: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.call(py, |vm| {
            vm.list_sessions(status.map(SessionStatus::parse).transpose()?)
        })?;
        convert::record(py, &s)
    }

    fn close_session<'py>(&self, py: Python<'py>, session_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let s = self.call(py, |vm| vm.close_session(session_id))?;
        convert::record(py, &s)
    }

    fn runtime_summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let vm = self.vm(py)?;
        let r = py.detach(|| vm.runtime_summary());
        convert::record(py, &r)
    }

    // ---- executions ----

    #[pyo3(signature = (session_id, input, on_event=None))]
    fn repl<'py>(
        &self,
        py: Python<'py>,
        session_id: String,
        input: String,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let vm = self.vm(py)?;
        let watcher = event::watcher(on_event);
        let e = blocking::run(py, &vm, move |vm| {
            vm.repl_watched(&session_id, &input, watcher)
        })?;
        convert::execution(py, &e)
    }

    #[pyo3(signature = (session_id, path, args_json=None, env_json=None, on_event=None))]
    fn run_file<'py>(
        &self,
        py: Python<'py>,
        session_id: String,
        path: String,
        args_json: Option<String>,
        env_json: Option<String>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let vm = self.vm(py)?;
        let watcher = event::watcher(on_event);
        let e = blocking::run(py, &vm, move |vm| {
            let args = convert::parse_json(args_json.as_deref())?;
            let env = convert::parse_json(env_json.as_deref())?;
            vm.run_file_watched(&session_id, &path, &args, &env, watcher)
        })?;
        convert::execution(py, &e)
    }

    fn running_execution(&self, py: Python<'_>, session_id: &str) -> PyResult<Option<String>> {
        let vm = self.vm(py)?;
        Ok(py.detach(|| vm.running_execution(session_id)))
    }

    fn get_execution<'py>(
        &self,
        py: Python<'py>,
        execution_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let e = self.call(py, |vm| vm.get_execution(execution_id))?;
        convert::execution(py, &e)
    }

    #[pyo3(signature = (session_id, limit=50))]
    fn list_executions<'py>(
        &self,
        py: Python<'py>,
        session_id: &str,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Out-of-range values reach the core as 0 or u32::MAX so that it reports them.
        let limit = limit.clamp(0, u32::MAX as i64) as u32;
        let e = self.call(py, |vm| vm.list_executions(session_id, limit))?;
        convert::executions(py, &e)
    }

    #[pyo3(signature = (execution_id, after_seq=0))]
    fn events<'py>(
        &self,
        py: Python<'py>,
        execution_id: &str,
        after_seq: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let after_seq = after_seq.max(0) as u64;
        let e = self.call(py, |vm| vm.events(execution_id, after_seq))?;
        convert::events(py, &e)
    }

    fn cancel_execution(&self, py: Python<'_>, execution_id: &str) -> PyResult<()> {
        self.call(py, |vm| vm.cancel_execution(execution_id))
    }
}
