//! ES module resolution confined to the worktree, following the template's resolver
//! settings, plus the native modules a template enables.

use std::path::{Path, PathBuf};

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Module, Result};

use crate::paths;
use crate::template::Resolver as ResolverSettings;

/// Names under which entry modules and REPL snippets import (the worktree root).
pub(crate) const ROOT_BASES: [&str; 2] = ["<repl>", ""];

/// Resolves specifiers to worktree-relative paths (or native module names).
pub(crate) struct WorktreeResolver {
    pub worktree: PathBuf,
    pub settings: ResolverSettings,
    pub native: Vec<String>,
}

/// Loads worktree files as modules, and native modules through their hidden object.
pub(crate) struct WorktreeLoader {
    pub worktree: PathBuf,
    pub native: Vec<String>,
}

/// The directory (worktree-relative) a module's relative imports start from.
fn base_dir(base: &str) -> PathBuf {
    if ROOT_BASES.contains(&base) || base.starts_with('<') {
        return PathBuf::new();
    }
    Path::new(base)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

impl WorktreeResolver {
    fn refuse(base: &str, name: &str, why: String) -> Error {
        Error::new_resolving_message(base, name, why)
    }

    /// The first existing file among `rel` and `rel` + each extension.
    fn find(&self, rel: &str) -> std::result::Result<Option<String>, String> {
        let mut candidates = vec![rel.to_string()];
        candidates.extend(
            self.settings
                .extensions
                .iter()
                .map(|ext| format!("{rel}{ext}")),
        );
        for candidate in candidates {
            match paths::resolve_existing_file(&self.worktree, &candidate) {
                Ok(found) => {
                    return Ok(paths::relative_to(&self.worktree, &found));
                }
                Err(paths::PathError::Invalid(why)) => return Err(why),
                Err(paths::PathError::NotFound(_)) => {}
            }
        }
        Ok(None)
    }
}

impl Resolver for WorktreeResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        if self.native.iter().any(|n| n == name) {
            return Ok(name.to_string());
        }
        if is_catalog_module(name) {
            return Err(Self::refuse(
                base,
                name,
                crate::modules::missing_module_message(name),
            ));
        }
        let candidates: Vec<String> = if name.starts_with("./") || name.starts_with("../") {
            let joined = base_dir(base).join(name);
            let joined = joined.to_string_lossy().into_owned();
            vec![normalise(&joined).map_err(|why| Self::refuse(base, name, why))?]
        } else if let Some(abs) = name.strip_prefix('/') {
            if !self.settings.allow_absolute_repo_imports {
                return Err(Self::refuse(
                    base,
                    name,
                    "absolute imports are disabled; enable resolver.allow_absolute_repo_imports"
                        .into(),
                ));
            }
            let inside = Path::new(name).strip_prefix(&self.worktree).map_err(|_| {
                Self::refuse(
                    base,
                    name,
                    format!("absolute import /{abs} is outside the worktree"),
                )
            })?;
            vec![inside.to_string_lossy().into_owned()]
        } else {
            if self.settings.roots.is_empty() {
                return Err(Self::refuse(
                    base,
                    name,
                    format!(
                        "cannot find module '{name}': bare specifiers resolve through resolver.roots, which is empty"
                    ),
                ));
            }
            self.settings
                .roots
                .iter()
                .map(|root| format!("{}/{name}", root.trim_end_matches('/')))
                .collect()
        };
        for candidate in &candidates {
            match self.find(candidate) {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(why) => return Err(Self::refuse(base, name, why)),
            }
        }
        Err(Self::refuse(
            base,
            name,
            format!("cannot find module '{name}' in the worktree"),
        ))
    }
}

fn is_catalog_module(name: &str) -> bool {
    crate::modules::available().iter().any(|m| m.name == name)
}

/// Lexically normalises a worktree-relative path; climbing above the root is refused.
fn normalise(path: &str) -> std::result::Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("import of '{path}' leaves the worktree"));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl Loader for WorktreeLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        if self.native.iter().any(|n| n == name) {
            return native_module(ctx, name);
        }
        let file = paths::resolve_existing_file(&self.worktree, name)
            .map_err(|e| Error::new_loading_message(name, e.to_string()))?;
        let source = std::fs::read_to_string(&file)
            .map_err(|e| Error::new_loading_message(name, e.to_string()))?;
        // `import.meta.url` is the file's absolute `file://` URL, as in qjs, Node and Deno,
        // so `new URL('./data.json', import.meta.url)` resolves as elsewhere.
        super::source::declare_module(ctx, name, source, super::source::file_url(&file))
    }
}

/// A module whose default export is the native module's object, with its functions also
/// as named exports.
fn native_module<'js>(ctx: &Ctx<'js>, name: &str) -> Result<Module<'js, Declared>> {
    let value = crate::modules::module_value(ctx, name)?.ok_or_else(|| {
        Error::new_loading_message(name, crate::modules::missing_module_message(name))
    })?;
    let key = format!("vm-system:native:{name}");
    let symbol: rquickjs::Symbol = ctx.eval(format!("Symbol.for({key:?})"))?;
    ctx.globals().set(symbol, value)?;
    let functions = crate::modules::available()
        .into_iter()
        .find(|m| m.name == name)
        .map(|m| m.functions)
        .unwrap_or_default();
    let mut source = format!("const m = globalThis[Symbol.for({key:?})];\nexport default m;\n");
    for f in functions {
        source.push_str(&format!("export const {f} = (...a) => m.{f}(...a);\n"));
    }
    Module::declare(ctx.clone(), name, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses_climbing() {
        assert_eq!(normalise("a/./b/../c.js").unwrap(), "a/c.js");
        assert!(normalise("../x.js").is_err());
        assert!(normalise("a/../../x.js").is_err());
        assert_eq!(base_dir("lib/util.js"), PathBuf::from("lib"));
        assert_eq!(base_dir("main.js"), PathBuf::new());
        assert_eq!(base_dir("<repl>"), PathBuf::new());
    }
}
