//! The README's quick starts are the ones each binding's own tests run: keep them identical.

use std::path::Path;

fn first_block(markdown: &str, lang: &str) -> String {
    let fence = format!("```{lang}\n");
    let start = markdown
        .find(&fence)
        .unwrap_or_else(|| panic!("no {lang} block"))
        + fence.len();
    let len = markdown[start..].find("```").unwrap();
    markdown[start..start + len].to_string()
}

#[test]
fn language_quick_starts_match_the_tested_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (lang, binding) in [
        ("python", "bindings-python/README.md"),
        ("js", "bindings-node/README.md"),
        ("c", "bindings-c/README.md"),
    ] {
        let tested = std::fs::read_to_string(root.join(binding)).unwrap();
        assert_eq!(
            first_block(&readme, lang),
            first_block(&tested, lang),
            "README.md's {lang} quick start differs from {binding}'s, which its tests run"
        );
    }
}
