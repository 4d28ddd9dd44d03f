//! The README states every setting's range; this keeps it true to `src/limits.rs`.
use rbm_lab::limits::SETTINGS;

#[test]
fn the_readme_ranges_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for setting in SETTINGS {
        let row = format!(
            "| `{}` | {} | {} |",
            setting.id,
            setting.engine.describe(),
            setting.page.describe()
        );
        assert!(readme.contains(&row), "README.md lacks the row {row}");
    }
    let rows = readme
        .lines()
        .skip_while(|l| !l.starts_with("| setting | engine allows | page allows |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(
        rows,
        SETTINGS.len(),
        "the README's ranges table has other rows than the code"
    );
}
